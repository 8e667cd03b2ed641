//! URI templates as resource templates use them: `{name}` takes one path
//! segment (no `/`, `?` or `#`), `{+name}` any text. Each value is at least
//! one character and is percent-decoded; a malformed %-escape is no match.
//! When a URI splits more than one way, earlier variables take as much as
//! they can (as a backtracking regex would), so the host, this SDK and the
//! Python and TypeScript SDKs agree on every value.
//!
//! Matching never backtracks: time is linear in the URI's length (per
//! literal byte of the template), and URIs over [`MAX_URI_BYTES`] match
//! nothing, so no URI can stall a plugin.
//!
//! This file uses only `std`: the host's tests compile it too and hold it
//! to the shared table in `tests/cases/uri_templates.json`.

/// The longest URI a template matches, in bytes (the host's limit too).
pub(crate) const MAX_URI_BYTES: usize = 8192;

/// A template split at its variables.
struct Parsed<'t> {
    /// `literals[i]` comes before variable `i`; the last one ends the template.
    literals: Vec<&'t str>,
    /// Each variable's name, and whether it is reserved (`{+name}`).
    variables: Vec<(&'t str, bool)>,
}

/// The values `uri` gives `template`'s variables, by name and in template
/// order, or `None` when `uri` is no instance of it (or `template` is not
/// one the host accepts: other `{...}` forms, or two variables in a row).
pub(crate) fn match_template(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
    if uri.len() > MAX_URI_BYTES {
        return None;
    }
    let parsed = parse(template)?;
    let ends = variable_ends(&parsed, uri)?;
    let mut start = parsed.literals[0].len();
    let mut values = Vec::with_capacity(ends.len());
    for (index, &(name, _)) in parsed.variables.iter().enumerate() {
        let end = ends[index];
        values.push((name.to_string(), decode(uri.get(start..end)?)?));
        start = end + parsed.literals[index + 1].len();
    }
    Some(values)
}

/// Split `template` at its variables, or `None` if it is not one the host
/// accepts.
fn parse(template: &str) -> Option<Parsed<'_>> {
    let mut literals = Vec::new();
    let mut variables = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}')?;
        let literal = &rest[..open];
        let expression = &rest[open + 1..close];
        let (name, reserved) = match expression.strip_prefix('+') {
            Some(name) => (name, true),
            None => (expression, false),
        };
        let named = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        let apart = !literal.is_empty() || variables.is_empty();
        if !named || !apart || literal.contains('}') {
            return None;
        }
        literals.push(literal);
        variables.push((name, reserved));
        rest = &rest[close + 1..];
    }
    if variables.is_empty() || rest.contains('}') {
        return None;
    }
    literals.push(rest);
    Some(Parsed {
        literals,
        variables,
    })
}

/// Where each variable's value ends (a byte offset in `uri`), earlier
/// variables taking as much as they can, or `None` when `uri` is no
/// instance. A pass from the right notes, for each variable and offset, the
/// last end at or before it from which the rest still matches; a pass from
/// the left then picks each end.
fn variable_ends(parsed: &Parsed, uri: &str) -> Option<Vec<usize>> {
    let bytes = uri.as_bytes();
    if !bytes.starts_with(parsed.literals[0].as_bytes()) {
        return None;
    }
    let stops = segment_stops(bytes);
    let count = parsed.variables.len();
    let mut latest: Vec<Vec<Option<usize>>> = vec![Vec::new(); count];
    for variable in (0..count).rev() {
        let literal = parsed.literals[variable + 1].as_bytes();
        let mut best = None;
        let mut row = Vec::with_capacity(bytes.len() + 1);
        for end in 0..=bytes.len() {
            let fits = bytes[end..].starts_with(literal)
                && match latest.get(variable + 1) {
                    None => end + literal.len() == bytes.len(),
                    Some(next) => {
                        let reserved = parsed.variables[variable + 1].1;
                        choose(next, reserved, &stops, end + literal.len()).is_some()
                    }
                };
            if fits {
                best = Some(end);
            }
            row.push(best);
        }
        latest[variable] = row;
    }
    let mut start = parsed.literals[0].len();
    let mut ends = Vec::with_capacity(count);
    for (variable, &(_, reserved)) in parsed.variables.iter().enumerate() {
        let end = choose(&latest[variable], reserved, &stops, start)?;
        ends.push(end);
        start = end + parsed.literals[variable + 1].len();
    }
    Some(ends)
}

/// The end a variable starting at `start` takes: the last one in `latest`
/// (the ends from which the rest matches) that leaves a value of at least
/// one byte, and for a simple variable no `/`, `?` or `#`.
fn choose(
    latest: &[Option<usize>],
    reserved: bool,
    stops: &[usize],
    start: usize,
) -> Option<usize> {
    let limit = if reserved {
        latest.len() - 1
    } else {
        stops[start]
    };
    latest[limit].filter(|&end| end > start)
}

/// For each offset, the first `/`, `?` or `#` at or after it (or the end).
fn segment_stops(bytes: &[u8]) -> Vec<usize> {
    let mut stops = vec![bytes.len(); bytes.len() + 1];
    for (index, byte) in bytes.iter().enumerate().rev() {
        stops[index] = if matches!(byte, b'/' | b'?' | b'#') {
            index
        } else {
            stops[index + 1]
        };
    }
    stops
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
