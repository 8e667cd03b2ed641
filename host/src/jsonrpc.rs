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

/// The client's message, or, for one that does not parse, the error to
/// answer (`None`: a notification, which is never answered).
pub fn parse(bytes: &[u8]) -> Result<ClientJsonRpcMessage, Option<Rejected>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let error = match serde_json::from_slice(bytes) {
        Ok(message) => return Ok(message),
        Err(error) => error,
    };
    let id = top_level_id(bytes);
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
        _ if id.is_none() => return Err(None),
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
}
