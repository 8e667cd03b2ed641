//! SEP-2243 parameter headers: a tool may mirror an argument into an HTTP
//! header (`"x-mcp-header": "Region"` on a property makes clients send
//! `Mcp-Param-Region`), so proxies and gateways can route on it without
//! reading the body. rmcp's streamable HTTP server checks each request's
//! headers against the tool's schema (a missing, malformed or different
//! header is `-32020`, HTTP 400, before the tool runs); this module checks
//! a plugin's declarations when it loads, so a bad one is refused with the
//! tool's name rather than breaking its calls.

use rmcp::model::JsonObject;
use serde_json::Value;

/// The `(property, header name)` pairs a tool's input schema declares.
pub fn declared(schema: &JsonObject) -> Vec<(&str, &str)> {
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return Vec::new();
    };
    properties
        .iter()
        .filter_map(|(name, property)| {
            let header = property.get("x-mcp-header")?.as_str()?;
            Some((name.as_str(), header))
        })
        .collect()
}

/// Check a tool's declarations at load: header names are HTTP tokens
/// (ASCII letters, digits, `-`, `_`), unique ignoring case, on properties of
/// a primitive type.
pub fn check_declarations(tool: &str, schema: &JsonObject) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    let properties = schema.get("properties").and_then(Value::as_object);
    for (property, header) in declared(schema) {
        let valid = !header.is_empty()
            && header.len() <= 64
            && header
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !valid {
            return Err(format!(
                "tool `{tool}`: property `{property}` has `x-mcp-header` {header:?}; use 1 to 64 ASCII letters, digits, `-` or `_`"
            ));
        }
        if !seen.insert(header.to_ascii_lowercase()) {
            return Err(format!(
                "tool `{tool}`: `x-mcp-header` {header:?} is used twice (header names ignore case)"
            ));
        }
        let kind = properties
            .and_then(|p| p.get(property))
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str);
        if !matches!(kind, Some("string" | "number" | "integer" | "boolean")) {
            return Err(format!(
                "tool `{tool}`: property `{property}` has `x-mcp-header` but is not a string, number, integer or boolean"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> JsonObject {
        json!({"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}, "n": {"type": "integer", "x-mcp-header": "N"}}})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn declarations_are_checked_at_load() {
        assert!(check_declarations("t", &schema()).is_ok());
        for bad in [
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "has space"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}),
            json!({"properties": {"a": {"type": "object", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "A"}, "b": {"type": "string", "x-mcp-header": "a"}}}),
        ] {
            assert!(
                check_declarations("t", bad.as_object().unwrap()).is_err(),
                "{bad}"
            );
        }
    }
}
