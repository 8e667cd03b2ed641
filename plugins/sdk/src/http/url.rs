//! Just enough URL handling for the HTTP client: parse an absolute
//! `http`/`https` URL into the parts wasi:http wants, and resolve a
//! redirect's `Location` against it (RFC 3986, section 5).
//!
//! No `url` crate: its IDNA tables would weigh more than the rest of a
//! plugin. Host names must therefore be ASCII (punycode for others).

use std::fmt;

/// An absolute `http` or `https` URL, without fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) https: bool,
    /// Lowercase; an IPv6 address keeps its brackets.
    pub(crate) host: String,
    /// Only when it is not the scheme's default.
    pub(crate) port: Option<u16>,
    /// Starts with `/`; percent-encoded where HTTP requires it.
    pub(crate) path_and_query: String,
}

impl Url {
    /// Parse `text`, or say what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<Url, String> {
        let text = text.trim();
        let Some((scheme, rest)) = split_scheme(text) else {
            return Err("it is not an absolute URL: write it with http:// or https://".into());
        };
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            other => {
                return Err(format!(
                    "only http and https URLs are supported, not {other}:"
                ));
            }
        };
        let Some(rest) = rest.strip_prefix("//") else {
            return Err(format!("it has no host: write it as {scheme}://host/path"));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let (host, port) = parse_authority(authority, https)?;
        Ok(Url {
            https,
            host,
            port,
            path_and_query: normalize_path(path),
        })
    }

    /// Resolve `reference` (a redirect's `Location`: absolute, `//host/...`,
    /// `/path`, `?query` or a relative path) against this URL.
    pub(crate) fn join(&self, reference: &str) -> Result<Url, String> {
        let reference = reference.trim();
        let reference = reference.split('#').next().unwrap_or("");
        if split_scheme(reference).is_some() {
            return Url::parse(reference);
        }
        if reference.starts_with("//") {
            return Url::parse(&format!("{}:{reference}", self.scheme()));
        }
        let (base_path, base_query) = split_query(&self.path_and_query);
        let (path, query) = if reference.is_empty() {
            (base_path.to_string(), base_query)
        } else if let Some(query) = reference.strip_prefix('?') {
            (base_path.to_string(), Some(query))
        } else {
            let (path, query) = split_query(reference);
            let path = if path.starts_with('/') {
                path.to_string()
            } else {
                // Relative to the base's folder: drop its last segment.
                let folder = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
                format!("{folder}{path}")
            };
            (path, query)
        };
        let mut path_and_query = remove_dot_segments(&path);
        if let Some(query) = query {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        Ok(Url {
            path_and_query: normalize_path(&path_and_query),
            ..self.clone()
        })
    }

    pub(crate) fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// `host` or `host:port`, as the `Host` header has it.
    pub(crate) fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// `scheme://authority`, with no path.
    pub(crate) fn origin(&self) -> String {
        format!("{}://{}", self.scheme(), self.authority())
    }

    /// `scheme://host:port`, the port written even when it is the default,
    /// as the host's own messages write a grant's URL.
    pub(crate) fn origin_with_port(&self) -> String {
        let port = self.port.unwrap_or(if self.https { 443 } else { 80 });
        format!("{}://{}:{port}", self.scheme(), self.host)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.path_and_query)
    }
}

/// `scheme` and what follows its `:`, if `text` starts with a scheme.
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

fn split_query(path_and_query: &str) -> (&str, Option<&str>) {
    match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    }
}

fn parse_authority(authority: &str, https: bool) -> Result<(String, Option<u16>), String> {
    if authority.contains('@') {
        return Err(
            "user names and passwords in URLs are not supported: send an `Authorization` header instead"
                .into(),
        );
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let Some((address, after)) = inner.split_once(']') else {
            return Err("its IPv6 address has no closing `]`".into());
        };
        if address.is_empty()
            || !address
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(format!("`[{address}]` is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(format!("unexpected `{after}` after the IPv6 address")),
            },
        };
        (format!("[{}]", address.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty() {
            return Err("it has no host".into());
        }
        if !host.is_ascii() {
            return Err(format!(
                "host `{host}` is not ASCII: write it in its punycode form (xn--...)"
            ));
        }
        if let Some(bad) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
        {
            return Err(format!(
                "host `{host}` has a character host names cannot have: `{bad}`"
            ));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None | Some("") => None,
        Some(digits) => match digits.parse::<u16>() {
            Ok(port) if digits.bytes().all(|b| b.is_ascii_digit()) => Some(port),
            _ => return Err(format!("`{digits}` is not a port number")),
        },
    };
    let default = if https { 443 } else { 80 };
    Ok((host, port.filter(|&p| p != default)))
}

/// Drop the fragment, start with `/`, and percent-encode the bytes HTTP
/// does not allow in a request target (spaces, quotes, non-ASCII...), as
/// browsers do. An existing `%XX` is kept as it is.
fn normalize_path(path: &str) -> String {
    let path = path.split('#').next().unwrap_or("");
    let mut out = String::with_capacity(path.len() + 1);
    if !path.starts_with('/') {
        out.push('/');
    }
    for byte in path.bytes() {
        if byte <= b' ' || byte >= 0x7f || b"\"<>\\^`{|}".contains(&byte) {
            out.push_str(&format!("%{byte:02X}"));
        } else {
            out.push(byte as char);
        }
    }
    out
}

/// Resolve `.` and `..` segments of an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {}
            ".." => {
                out.pop();
            }
            other => {
                out.push(other);
                continue;
            }
        }
        // `/a/b/..` is the folder `/a/`: keep the trailing slash.
        if last {
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::Url;

    fn url(text: &str) -> String {
        Url::parse(text).unwrap().to_string()
    }

    #[test]
    fn parses() {
        assert_eq!(url("http://Example.COM"), "http://example.com/");
        assert_eq!(
            url("https://example.com:443/a?b#c"),
            "https://example.com/a?b"
        );
        assert_eq!(
            url("http://127.0.0.1:8080?x=1"),
            "http://127.0.0.1:8080/?x=1"
        );
        assert_eq!(url("http://[::1]:3000/p"), "http://[::1]:3000/p");
        assert_eq!(url("HTTP://h/a b\"é"), "http://h/a%20b%22%C3%A9");
        assert_eq!(Url::parse("http://h:99/").unwrap().authority(), "h:99");
        assert_eq!(
            Url::parse("https://h/").unwrap().origin_with_port(),
            "https://h:443"
        );
        for bad in [
            "example.com/x",
            "ftp://h/",
            "http:/h",
            "http://",
            "http://u:p@h/",
            "http://h:99999/",
            "http://h:x/",
            "http://bücher.de/",
            "http://a b/",
            "http://[::1/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn joins() {
        let base = Url::parse("http://h:81/a/b/c?q=1").unwrap();
        let join = |r: &str| base.join(r).unwrap().to_string();
        assert_eq!(join("https://o/x"), "https://o/x");
        assert_eq!(join("//o/x"), "http://o/x");
        assert_eq!(join("/x?y"), "http://h:81/x?y");
        assert_eq!(join("?z"), "http://h:81/a/b/c?z");
        assert_eq!(join("d"), "http://h:81/a/b/d");
        assert_eq!(join("../d"), "http://h:81/a/d");
        assert_eq!(join("./"), "http://h:81/a/b/");
        assert_eq!(join(".."), "http://h:81/a/");
        assert_eq!(join("../../../../d"), "http://h:81/d");
        assert_eq!(join(""), "http://h:81/a/b/c?q=1");
        assert_eq!(join("#f"), "http://h:81/a/b/c?q=1");
        assert_eq!(join("/x/./y/../z"), "http://h:81/x/z");
    }
}
