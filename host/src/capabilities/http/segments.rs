//! How a web server may read the segments of a request's path. Servers do
//! not all read a path the way it is written: most decode `%XX` (some
//! twice), and Tomcat, Jetty and Spring drop `;parameters` before they
//! resolve `.` and `..`, so `/v1/..;/admin` reaches `/admin` there. A path
//! prefix grant is only as good as the reading the least careful server
//! makes, so [`super::policy`] judges each path by every such reading.

/// What one segment (the text between two `/`, as written) may mean to
/// some server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// An ordinary name, whatever the server.
    Plain,
    /// `.` or `..` once `%XX` is decoded (once or twice) and `;...` (or a
    /// NUL) and what follows it is dropped: the path may climb out of the
    /// place it seems to be.
    Dot,
    /// May be read as several segments (a `\`, or an encoded `/` or `\`),
    /// or decodes to bytes that are not UTF-8 (overlong forms of `.` or
    /// `/`): where it points depends on the server.
    Ambiguous,
}

/// The first segment of `path` that some server reads as `.` or `..`, as
/// written, so the refusal can show it.
pub fn dot_segment(path: &str) -> Option<&str> {
    path.split('/')
        .find(|segment| read(segment) == Reading::Dot)
}

/// Whether some segment of `path` could be read as more than one segment
/// (or as something other than text), so `path` may only match a grant of
/// its whole origin.
pub fn is_ambiguous(path: &str) -> bool {
    path.split('/')
        .any(|segment| read(segment) == Reading::Ambiguous)
}

/// How servers may read `segment`: decoded once and twice (a server behind
/// a proxy may decode again), each reading judged.
pub fn read(segment: &str) -> Reading {
    let once = percent_decode(segment.as_bytes());
    let twice = percent_decode(&once);
    let readings = [once.as_slice(), twice.as_slice()];
    if readings.into_iter().any(is_dot) {
        return Reading::Dot;
    }
    if readings.into_iter().any(splits_or_is_not_text) {
        return Reading::Ambiguous;
    }
    Reading::Plain
}

/// `.` or `..` once `;parameters` (and anything after a NUL) are dropped.
fn is_dot(reading: &[u8]) -> bool {
    let head = strip_parameters(reading);
    head == b"." || head == b".."
}

/// `reading` up to its first `;` or NUL: what Tomcat, Jetty and Spring
/// keep of a segment.
pub fn strip_parameters(reading: &[u8]) -> &[u8] {
    let end = reading
        .iter()
        .position(|&byte| byte == b';' || byte == 0)
        .unwrap_or(reading.len());
    &reading[..end]
}

/// A `/` or `\` inside one segment, or bytes that are not UTF-8.
fn splits_or_is_not_text(reading: &[u8]) -> bool {
    reading.contains(&b'/') || reading.contains(&b'\\') || std::str::from_utf8(reading).is_err()
}

/// `bytes` with each `%XX` replaced by the byte it stands for; a `%` not
/// followed by two hex digits is kept as it is, as servers keep it.
pub fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes[i] {
            b'%' => hex_digit(bytes.get(i + 1)).zip(hex_digit(bytes.get(i + 2))),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                decoded.push((high << 4) | low);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    decoded
}

/// The value of one hex digit, if `byte` is one.
fn hex_digit(byte: Option<&u8>) -> Option<u8> {
    let digit = char::from(*byte?).to_digit(16)?;
    u8::try_from(digit).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_encodings_do_not_hide_dot_segments() {
        for segment in [
            ".",
            "..",
            "..;",
            "..;x=1",
            ".;",
            "%2e%2e",
            "%2E%2e;",
            "%2e%2e;x",
            ".%2e;a=b",
            "..%3b",
            "..%00x",
            "%252e%252e",
            "%252E.",
            "..%253bx",
        ] {
            assert_eq!(read(segment), Reading::Dot, "{segment}");
        }
    }

    #[test]
    fn separators_and_overlong_bytes_are_ambiguous() {
        for segment in [
            "a%2fb",
            "a%2F..",
            "a\\b",
            "..\\",
            "%5c",
            "a%255cb",
            "%252f",
            "%c0%ae%c0%ae",
            "%ff",
        ] {
            assert_eq!(read(segment), Reading::Ambiguous, "{segment}");
        }
    }

    #[test]
    fn ordinary_segments_are_plain() {
        for segment in [
            "",
            "v1",
            "...",
            "..a",
            "a..",
            ".well-known",
            "a;b",
            ";",
            ";..",
            "%20",
            "caf%C3%A9",
            "100%",
            "%zz",
            "%2",
            "x%25y",
        ] {
            assert_eq!(read(segment), Reading::Plain, "{segment}");
        }
    }

    #[test]
    fn the_first_dot_segment_is_shown_as_written() {
        assert_eq!(dot_segment("/v1/..;/admin/echo"), Some("..;"));
        assert_eq!(dot_segment("/v1/%2e%2e;/admin/echo"), Some("%2e%2e;"));
        assert_eq!(dot_segment("/v1/a;b/echo"), None);
        assert!(is_ambiguous("/v1/a%2f..%2fadmin"));
        assert!(!is_ambiguous("/v1/..;/admin"));
    }
}
