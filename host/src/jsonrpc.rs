//! Answers for client messages that do not parse.
//!
//! JSON-RPC wants every request answered, bad ones included: `-32700` for
//! text that is not JSON, `-32600` for JSON that is not a valid request.
//! rmcp drops unparsable lines on stdio and answers HTTP with a text/plain
//! 415, and neither says which request failed, so a client waits forever.
//! Both transports pass what they receive through [`parse`] first; it finds
//! the request's `id` even in a message too deep for serde (a scan of the
//! top level), so the answer reaches the request that caused it.

use rmcp::model::{
    ClientJsonRpcMessage, ErrorCode, ErrorData, JsonRpcError, JsonRpcVersion2_0, NumberOrString,
    RequestId, ServerJsonRpcMessage,
};

/// A message that could not be parsed, and how to answer it.
pub struct Rejected {
    /// The request's id, when one could be read.
    pub id: Option<RequestId>,
    pub error: ErrorData,
}

impl Rejected {
    /// The JSON-RPC error response.
    pub fn into_message(self) -> ServerJsonRpcMessage {
        ServerJsonRpcMessage::Error(JsonRpcError {
            jsonrpc: JsonRpcVersion2_0,
            id: self.id,
            error: self.error,
        })
    }
}

/// Whether `bytes` is a JSON-RPC batch: its first value opens an array.
pub fn is_batch(bytes: &[u8]) -> bool {
    first_byte(bytes) == Some(b'[')
}

/// The answer to a batch. JSON-RPC would answer each member, but MCP
/// removed batches (2025-06-18): one error, id null, for the whole array.
pub fn batch_rejected() -> Rejected {
    Rejected {
        id: None,
        error: ErrorData::new(
            ErrorCode::INVALID_REQUEST,
            "Invalid Request: JSON-RPC batches (arrays) are not supported: MCP removed them in \
             2025-06-18; send each request as its own message",
            None,
        ),
    }
}

/// The first byte of the message, past a byte order mark and whitespace.
fn first_byte(bytes: &[u8]) -> Option<u8> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.trim_ascii_start().first().copied()
}

/// The client's message, or, for one that does not parse, the error to
/// answer (`None`: an object without an id, a notification, which is never
/// answered). A batch, or JSON that is not an object, is always answered.
pub fn parse(bytes: &[u8]) -> Result<ClientJsonRpcMessage, Option<Rejected>> {
    if is_batch(bytes) {
        return Err(Some(batch_rejected()));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let error = match serde_json::from_slice(bytes) {
        Ok(message) => return Ok(message),
        Err(error) => error,
    };
    let id = top_level_id(bytes);
    let is_object = first_byte(bytes) == Some(b'{');
    let (code, message) = match error.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            if error.to_string().contains("recursion limit") {
                (
                    ErrorCode::INVALID_REQUEST,
                    "Invalid Request: the message is nested more than 128 levels deep".to_string(),
                )
            } else {
                (ErrorCode::PARSE_ERROR, format!("Parse error: {error}"))
            }
        }
        _ if id.is_none() && is_object => return Err(None),
        _ => (
            ErrorCode::INVALID_REQUEST,
            format!(
                "Invalid Request: not a JSON-RPC 2.0 request, response or notification ({error})"
            ),
        ),
    };
    Err(Some(Rejected {
        id,
        error: ErrorData::new(code, message, None),
    }))
}

/// The `id` member of the top-level object, read without parsing nested
/// values (which may be deeper than any parser allows).
fn top_level_id(bytes: &[u8]) -> Option<RequestId> {
    let mut depth = 0usize;
    let mut at = 0;
    // Whether the next string at depth 1 is a member name.
    let mut expect_key = false;
    while at < bytes.len() {
        match bytes[at] {
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1 && bytes[at] == b'{';
            }
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b',' if depth == 1 => expect_key = true,
            b'"' => {
                let end = string_end(bytes, at)?;
                if depth == 1 && expect_key && &bytes[at..=end] == b"\"id\"" {
                    return id_value(&bytes[end + 1..]);
                }
                expect_key = false;
                at = end;
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// The index of the quote closing the string that opens at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return Some(at),
            _ => at += 1,
        }
    }
    None
}

/// A number or string id after the `:` that follows the `"id"` name.
fn id_value(rest: &[u8]) -> Option<RequestId> {
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    let end = match rest.first()? {
        b'"' => string_end(rest, 0)? + 1,
        b'-' | b'0'..=b'9' => rest
            .iter()
            .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
            .unwrap_or(rest.len()),
        _ => return None,
    };
    match serde_json::from_slice(&rest[..end]).ok()? {
        serde_json::Value::String(text) => Some(NumberOrString::String(text.into())),
        serde_json::Value::Number(number) => number.as_i64().map(NumberOrString::Number),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rejected(text: &str) -> Rejected {
        match parse(text.as_bytes()) {
            Err(Some(rejected)) => rejected,
            Err(None) => panic!("{text}: ignored"),
            Ok(_) => panic!("{text}: parsed"),
        }
    }

    #[test]
    fn every_request_with_an_id_gets_an_answer() {
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"x":{}1{}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let answer = rejected(&deep);
        assert_eq!(answer.id, Some(NumberOrString::Number(7)));
        assert_eq!(answer.error.code, ErrorCode::INVALID_REQUEST);

        let answer = rejected(r#"{"jsonrpc": "2.0", "id": "x", "method": 42}"#);
        assert_eq!(answer.id, Some(NumberOrString::String("x".into())));
        assert_eq!(answer.error.code, ErrorCode::INVALID_REQUEST);

        let answer = rejected("this is not json");
        assert_eq!(answer.id, None);
        assert_eq!(answer.error.code, ErrorCode::PARSE_ERROR);

        // An `id` inside params or inside a string is not the request's.
        let answer =
            rejected(r#"{"params": {"id": 1}, "note": "\"id\": 2", "id": 3, "method": 4}"#);
        assert_eq!(answer.id, Some(NumberOrString::Number(3)));
    }

    #[test]
    fn bad_notifications_are_not_answered_and_good_messages_parse() {
        assert!(matches!(
            parse(br#"{"jsonrpc": "2.0", "method": 42}"#),
            Err(None)
        ));
        assert!(parse(br#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#).is_ok());
    }

    #[test]
    fn batches_and_json_that_is_no_object_are_always_answered() {
        for batch in [
            "[]",
            r#"[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]"#,
            r#"[{"jsonrpc": "2.0", "method": "notifications/initialized"}]"#,
            "\u{feff} \t[1,",
        ] {
            assert!(is_batch(batch.as_bytes()), "{batch}");
            let answer = rejected(batch);
            assert_eq!(answer.id, None, "{batch}");
            assert_eq!(answer.error.code, ErrorCode::INVALID_REQUEST, "{batch}");
            assert!(
                answer.error.message.contains("batches")
                    && answer.error.message.contains("2025-06-18"),
                "{}",
                answer.error.message
            );
        }
        for not_an_object in ["42", r#""ping""#, "true", "null"] {
            assert!(!is_batch(not_an_object.as_bytes()));
            assert_eq!(rejected(not_an_object).id, None, "{not_an_object}");
        }
    }

    /// A line of stdio input: bytes of any kind (no newline), requests,
    /// notifications, responses, batches, and lines at and over the limit.
    fn stdio_line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(
                any::<u8>().prop_map(|b| if b == b'\n' { b' ' } else { b }),
                0..40
            ),
            "[ -~]{0,30}".prop_map(String::into_bytes),
            Just(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec()),
            Just(br#"{"jsonrpc":"2.0","id":"a","method":7}"#.to_vec()),
            Just(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec()),
            Just(br#"{"jsonrpc":"2.0","method":42}"#.to_vec()),
            Just(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#.to_vec()),
            Just(br#"[{"jsonrpc":"2.0","id":2,"method":"ping"}]"#.to_vec()),
            (0usize..3).prop_map(|over| vec![b'x'; MAX_LINE + over]),
        ]
    }

    /// A line limit small enough for generated input to cross it.
    const MAX_LINE: usize = 64;

    /// The lines `input` holds: what is between newlines, and a last line
    /// without one (none when the input ends with a newline).
    fn lines_of(input: &[u8]) -> Vec<&[u8]> {
        let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        if lines.last().is_some_and(|last| last.is_empty()) {
            lines.pop();
        }
        lines
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Invariant (stdio framing): however the input is buffered, each
        /// line yields exactly one outcome, in order, with no panic: a line
        /// over the limit is rejected whole (an Invalid Request answer) and
        /// the next line is still read; any other line comes back intact,
        /// and, unless blank, parses to a message, or to an answer, or to
        /// silence only when it is an object with no id (a notification or
        /// response, which JSON-RPC never answers) and never for a batch.
        #[test]
        fn every_stdio_line_is_delivered_or_answered_exactly_once(
            lines in proptest::collection::vec(stdio_line(), 0..12),
            final_newline in any::<bool>(),
            capacity in 1usize..80,
        ) {
            let mut input = lines.join(&b'\n');
            if final_newline && !lines.is_empty() {
                input.push(b'\n');
            }
            let expected = lines_of(&input);
            let outcomes = futures::executor::block_on(async {
                let mut reader = tokio::io::BufReader::with_capacity(capacity, &input[..]);
                let mut outcomes = Vec::new();
                // Bounded: one more than expected shows an extra outcome.
                while outcomes.len() <= expected.len() {
                    match crate::transport::read_line(&mut reader, MAX_LINE).await {
                        Some(outcome) => outcomes.push(outcome),
                        None => break,
                    }
                }
                outcomes
            });
            prop_assert_eq!(outcomes.len(), expected.len());
            for (outcome, line) in outcomes.into_iter().zip(expected) {
                match outcome {
                    Err(answer) => {
                        prop_assert!(line.len() > MAX_LINE, "a short line was rejected");
                        prop_assert_eq!(answer.error.code, ErrorCode::INVALID_REQUEST);
                    }
                    Ok(read) => {
                        prop_assert!(line.len() <= MAX_LINE, "a long line was delivered");
                        prop_assert_eq!(&read[..], line);
                        if !read.trim_ascii().is_empty()
                            && let Err(None) = parse(&read)
                        {
                            prop_assert!(!is_batch(&read), "a batch went unanswered");
                            prop_assert_eq!(first_byte(&read), Some(b'{'), "{:?}", read);
                            prop_assert!(
                                top_level_id(&read).is_none(),
                                "a request went unanswered"
                            );
                        }
                    }
                }
            }
        }
    }
}
