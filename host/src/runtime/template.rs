//! RFC 6570 URI templates as resource templates use them: `{name}` matches
//! one path segment (no `/`, `?` or `#`), `{+name}` matches the rest of a
//! URI. Enough to tell which plugin's template a `resources/read` URI
//! belongs to; the plugin parses the values itself.

/// A parsed template.
#[derive(Clone, Debug)]
pub struct UriTemplate {
    parts: Vec<Part>,
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
        Ok(UriTemplate { parts })
    }

    /// Whether `uri` is an instance of this template.
    pub fn matches(&self, uri: &str) -> bool {
        matches_from(&self.parts, uri)
    }
}

fn matches_from(parts: &[Part], uri: &str) -> bool {
    match parts.split_first() {
        None => uri.is_empty(),
        Some((Part::Literal(literal), rest)) => uri
            .strip_prefix(literal.as_str())
            .is_some_and(|after| matches_from(rest, after)),
        Some((Part::Variable { reserved }, rest)) => {
            // A value is at least one character; try each length.
            let allowed = |c: char| *reserved || !matches!(c, '/' | '?' | '#');
            let mut end = 0;
            for (index, c) in uri.char_indices() {
                if !allowed(c) {
                    break;
                }
                end = index + c.len_utf8();
                if matches_from(rest, &uri[end..]) {
                    return true;
                }
            }
            let _ = end;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
