//! RFC 6570 URI templates as resource templates use them: `{name}` matches
//! one path segment (no `/`, `?` or `#`), `{+name}` any text. A value is at
//! least one character, and a URI whose values hold a malformed %-escape is
//! no instance. Enough to tell which plugin's template a `resources/read`
//! URI belongs to; the plugin parses the values itself, and the SDKs agree
//! with this matcher on every case of `tests/cases/uri_templates.json`.
//!
//! Each template is compiled once, when its plugin loads, to a
//! [`regex::Regex`]: matching takes time linear in the URI's length (the
//! regex crate never backtracks), and URIs over [`MAX_URI_BYTES`] match
//! nothing, so no URI can stall the runtime thread.

use regex::Regex;

/// The longest URI matched against templates, in bytes; a longer one is an
/// instance of no template (so `resources/read` answers "not found").
pub const MAX_URI_BYTES: usize = 8192;

/// A parsed template, compiled to a linear-time matcher.
#[derive(Clone, Debug)]
pub struct UriTemplate {
    regex: Regex,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Literal(String),
    /// A variable; `reserved` (`{+name}`) may span `/`.
    Variable {
        reserved: bool,
    },
}

impl UriTemplate {
    /// Parse `template`, or say why it is not one this host can match.
    pub fn parse(template: &str) -> Result<UriTemplate, String> {
        let parts = parts(template)?;
        let regex = Regex::new(&pattern(&parts)).map_err(|e| {
            format!("it is too large to match ({e}): use fewer variables or shorter text")
        })?;
        Ok(UriTemplate { regex })
    }

    /// Whether `uri` is an instance of this template.
    pub fn matches(&self, uri: &str) -> bool {
        self.values(uri).is_some()
    }

    /// The variables' percent-decoded values in `uri`, in template order, or
    /// `None` if it is no instance (or longer than [`MAX_URI_BYTES`]).
    fn values(&self, uri: &str) -> Option<Vec<String>> {
        if uri.len() > MAX_URI_BYTES {
            return None;
        }
        self.captured(uri)
    }

    /// [`Self::values`] at any length: linear time, whatever `uri` holds.
    /// When `uri` splits more than one way, earlier variables take as much
    /// as they can (the regex crate's leftmost-first captures, as a
    /// backtracking regex would choose), as the SDKs do.
    fn captured(&self, uri: &str) -> Option<Vec<String>> {
        let captures = self.regex.captures(uri)?;
        captures
            .iter()
            .skip(1)
            .map(|group| decode(group?.as_str()))
            .collect()
    }
}

/// Split `template` into literal text and variables, or say why this host
/// cannot match it.
fn parts(template: &str) -> Result<Vec<Part>, String> {
    if template.is_empty() || template.len() > 2048 {
        return Err("a URI template has 1 to 2048 bytes".into());
    }
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Literal(rest[..open].to_string()));
        }
        let Some(close) = rest[open..].find('}') else {
            return Err("a `{` has no matching `}`".into());
        };
        let expression = &rest[open + 1..open + close];
        let (reserved, name) = match expression.strip_prefix('+') {
            Some(name) => (true, name),
            None => (false, expression),
        };
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'));
        if !valid {
            return Err(format!(
                "`{{{expression}}}` is not supported: use `{{name}}` or `{{+name}}`"
            ));
        }
        if matches!(parts.last(), Some(Part::Variable { .. })) {
            return Err("two variables in a row cannot be told apart".into());
        }
        parts.push(Part::Variable { reserved });
        rest = &rest[open + close + 1..];
    }
    if rest.contains('}') {
        return Err("a `}` has no matching `{`".into());
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest.to_string()));
    }
    if !parts.iter().any(|p| matches!(p, Part::Variable { .. })) {
        return Err("a template needs at least one `{variable}`".into());
    }
    Ok(parts)
}

/// The regex for `parts`, anchored at both ends: literal text as itself, a
/// `{name}` as one or more characters other than `/`, `?` and `#`, a
/// `{+name}` as one or more of any (newlines included), each captured.
fn pattern(parts: &[Part]) -> String {
    let mut pattern = String::from(r"\A");
    for part in parts {
        match part {
            Part::Literal(text) => pattern.push_str(&regex::escape(text)),
            Part::Variable { reserved: true } => pattern.push_str("((?s:.)+)"),
            Part::Variable { reserved: false } => pattern.push_str("([^/?#]+)"),
        }
    }
    pattern.push_str(r"\z");
    pattern
}

/// `value` with its %-escapes decoded, or `None` when one is malformed (a
/// `%` without two hex digits) or the bytes are not UTF-8.
fn decode(value: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        if byte == b'%' {
            let (high, low) = (after.first()?, after.get(1)?);
            bytes.push(hex_digit(*high)? * 16 + hex_digit(*low)?);
            rest = &after[2..];
        } else {
            bytes.push(byte);
            rest = after;
        }
    }
    String::from_utf8(bytes).ok()
}

/// The value of one hex digit.
fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

/// The Rust SDK's matcher (`std` only), compiled here so that the host's
/// tests hold it to the same table and properties as the host's own.
#[cfg(test)]
#[path = "../../../plugins/sdk/src/offers/template.rs"]
mod sdk;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// The matcher this module had before it compiled templates to a regex:
    /// every length of every value, tried in turn (exponential in the
    /// number of variables, so only for short inputs). The property tests'
    /// oracle for which URIs are instances, before decoding.
    fn oracle(parts: &[Part], uri: &str) -> bool {
        match parts.split_first() {
            None => uri.is_empty(),
            Some((Part::Literal(literal), rest)) => uri
                .strip_prefix(literal.as_str())
                .is_some_and(|after| oracle(rest, after)),
            Some((Part::Variable { reserved }, rest)) => {
                let allowed = |c: char| *reserved || !matches!(c, '/' | '?' | '#');
                for (index, c) in uri.char_indices() {
                    if !allowed(c) {
                        break;
                    }
                    if oracle(rest, &uri[index + c.len_utf8()..]) {
                        return true;
                    }
                }
                false
            }
        }
    }

    /// One row of `tests/cases/uri_templates.json`, which the host and the
    /// three SDKs all run.
    #[derive(serde::Deserialize)]
    struct Case {
        why: String,
        template: String,
        uri: String,
        expect: Option<BTreeMap<String, String>>,
    }

    fn cases() -> Vec<Case> {
        let cases: Vec<Case> =
            serde_json::from_str(include_str!("../../../tests/cases/uri_templates.json"))
                .expect("tests/cases/uri_templates.json is an array of cases");
        assert!(cases.len() > 40, "the shared table lost its cases");
        cases
    }

    /// The variable names of `template`, in order.
    fn names(template: &str) -> Vec<String> {
        template
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}'))
            .map(|(name, _)| name.trim_start_matches('+').to_string())
            .collect()
    }

    #[test]
    fn variables_match_a_segment_and_reserved_ones_the_rest() {
        let t = UriTemplate::parse("test://template/{id}/data").unwrap();
        assert!(t.matches("test://template/123/data"));
        assert!(!t.matches("test://template//data"), "a value is not empty");
        assert!(!t.matches("test://template/1/2/data"), "one segment only");
        assert!(!t.matches("test://template/123/datum"));
        let rest = UriTemplate::parse("file:///{+path}").unwrap();
        assert!(rest.matches("file:///a/b/c.txt"));
        assert!(!rest.matches("http:///a"));
    }

    #[test]
    fn unsupported_templates_are_refused() {
        for bad in ["", "no-variables", "a{b", "a}b", "{a}{b}", "x/{?q}", "x/{}"] {
            assert!(UriTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_host_matches_as_the_shared_table_says() {
        for case in cases() {
            let template = UriTemplate::parse(&case.template)
                .unwrap_or_else(|e| panic!("{}: {:?}: {e}", case.why, case.template));
            let got = template.values(&case.uri).map(|values| {
                let named = names(&case.template).into_iter().zip(values);
                named.collect::<BTreeMap<_, _>>()
            });
            assert_eq!(got, case.expect, "{}: {:?}", case.why, case.template);
            assert_eq!(
                template.matches(&case.uri),
                case.expect.is_some(),
                "{}",
                case.why
            );
        }
    }

    #[test]
    fn the_rust_sdk_matches_as_the_shared_table_says() {
        for case in cases() {
            let got = sdk::match_template(&case.template, &case.uri)
                .map(|values| values.into_iter().collect::<BTreeMap<_, _>>());
            assert_eq!(got, case.expect, "{}: {:?}", case.why, case.template);
        }
    }

    #[test]
    fn a_megabyte_of_slashes_is_answered_at_once() {
        // Before templates were compiled, this tried every split: O(n²)
        // steps on the runtime thread, long enough to stop the replica.
        let template = UriTemplate::parse("repo://{+dir}/{file}").unwrap();
        let slashes = format!("repo://{}", "/".repeat(1 << 20));
        assert!(!template.matches(&slashes), "over the length limit");
        assert_eq!(template.captured(&slashes), None, "no last segment");
        let with_file = format!("{slashes}x");
        let values = template.captured(&with_file).expect("a last segment");
        assert_eq!(values[1], "x");
        assert_eq!(values[0].len(), (1 << 20) - 1);
        let three = UriTemplate::parse("repo://{+a}/{+b}/{c}").unwrap();
        assert_eq!(three.captured(&slashes), None);
        assert_eq!(sdk::match_template("repo://{+a}/{+b}/{c}", &slashes), None);
    }

    /// Literal text over a small alphabet, `min` to 2 characters long.
    fn literal(min: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!['a', 'x', '/', '.']), min..3)
            .prop_map(|chars| chars.into_iter().collect::<String>())
    }

    /// A would-be value: characters a value may or may not hold, escapes
    /// (whole and broken), a two-byte character and a newline.
    fn value() -> impl Strategy<Value = String> {
        let pieces = vec![
            "a", "x", "/", ".", "?", "#", "%", "4", "1", "%41", "%C3%A9", "é", "\n",
        ];
        prop::collection::vec(prop::sample::select(pieces), 0..4).prop_map(|p| p.concat())
    }

    /// A template: leading text, 1 to 3 variables (simple or reserved) with
    /// text between them, and trailing text.
    fn template_text(lead: &str, variables: &[(bool, String)], tail: &str) -> String {
        let mut template = lead.to_string();
        for (index, (reserved, after)) in variables.iter().enumerate() {
            let plus = if *reserved { "+" } else { "" };
            template.push_str(&format!("{{{plus}v{index}}}"));
            template.push_str(if index + 1 == variables.len() {
                tail
            } else {
                after
            });
        }
        template
    }

    /// A URI shaped like the template: its text with `values` in place of
    /// the variables.
    fn instance(lead: &str, variables: &[(bool, String)], tail: &str, values: &[String]) -> String {
        let mut uri = lead.to_string();
        for (index, (_, after)) in variables.iter().enumerate() {
            uri.push_str(&values[index]);
            uri.push_str(if index + 1 == variables.len() {
                tail
            } else {
                after
            });
        }
        uri
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Invariant: the compiled matcher accepts exactly the URIs the old
        /// try-every-length matcher accepted (before decoding); with no `%`
        /// in the URI, `matches` is exactly the old answer; and the Rust
        /// SDK's linear matcher finds the same values as the host's regex.
        #[test]
        fn the_compiled_matcher_agrees_with_the_old_one_and_the_sdk(
            lead in literal(0),
            variables in prop::collection::vec((any::<bool>(), literal(1)), 1..4),
            tail in literal(0),
            values in prop::collection::vec(value(), 3),
            scrambled in any::<bool>(),
        ) {
            let text = template_text(&lead, &variables, &tail);
            let compiled = UriTemplate::parse(&text).unwrap();
            let uri = if scrambled {
                format!("{lead}{}{tail}", values.concat())
            } else {
                instance(&lead, &variables, &tail, &values)
            };
            let old = oracle(&parts(&text).unwrap(), &uri);
            prop_assert_eq!(compiled.regex.is_match(&uri), old, "{:?} {:?}", text, uri);
            if !uri.contains('%') {
                prop_assert_eq!(compiled.matches(&uri), old, "{:?} {:?}", text, uri);
            }
            let from_sdk = sdk::match_template(&text, &uri)
                .map(|values| values.into_iter().map(|(_, value)| value).collect::<Vec<_>>());
            prop_assert_eq!(compiled.values(&uri), from_sdk, "{:?} {:?}", text, uri);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// Invariant: on a 1 MB URI made of a template's own text (the
        /// worst case for trying splits), the host's matcher returns (its
        /// time is linear; no timing is asserted) and `matches` refuses it
        /// for its length; cut to the 8 KiB limit, the host and the Rust
        /// SDK still agree.
        #[test]
        fn a_long_hostile_uri_is_answered(
            lead in literal(0),
            variables in prop::collection::vec((any::<bool>(), literal(1)), 1..4),
            tail in literal(0),
            filler in literal(1),
        ) {
            let text = template_text(&lead, &variables, &tail);
            let compiled = UriTemplate::parse(&text).unwrap();
            let long = format!("{lead}{}", filler.repeat((1 << 20) / filler.len()));
            let _ = compiled.captured(&long);
            prop_assert!(!compiled.matches(&long));
            let limit = &long[..MAX_URI_BYTES];
            let from_sdk = sdk::match_template(&text, limit)
                .map(|values| values.into_iter().map(|(_, value)| value).collect::<Vec<_>>());
            prop_assert_eq!(compiled.values(limit), from_sdk);
        }
    }
}
