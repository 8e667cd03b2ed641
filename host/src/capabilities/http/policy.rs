//! `[plugin.http]`: the URLs a plugin may request (scheme, host, port, path
//! prefix), with which methods and which secret headers, and the limits on
//! its requests. Parsed once at load; [`HttpPolicy::check`] judges each
//! request the plugin sends.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use http::{HeaderName, HeaderValue, Method, Uri};
use serde::Deserialize;

use super::segments;

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    #[serde(default)]
    allow: Vec<RawGrant>,
    max_requests: Option<u32>,
    request_bytes: Option<u64>,
    response_bytes: Option<u64>,
    connect_timeout_s: Option<u64>,
    timeout_s: Option<u64>,
}

/// A grant: a bare URL (`"https://example.com/"`), or a table with a `url`.
#[derive(Debug)]
struct RawGrant(RawGrantTable);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrantTable {
    url: String,
    methods: Option<Vec<String>>,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

impl<'de> Deserialize<'de> for RawGrant {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawGrant;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a URL string or a table with `url`")
            }
            fn visit_str<E: serde::de::Error>(self, url: &str) -> Result<RawGrant, E> {
                Ok(RawGrant(RawGrantTable {
                    url: url.to_string(),
                    methods: None,
                    private: false,
                    headers: BTreeMap::new(),
                }))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawGrant, A::Error> {
                RawGrantTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawGrant)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Per-call limits on a plugin's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Requests one call may send (each redirect followed is one).
    pub max_requests: u32,
    /// Bytes of one request's body.
    pub request_bytes: u64,
    /// Bytes of one response's body.
    pub response_bytes: u64,
    /// To resolve the name and connect (TLS included).
    pub connect_timeout: Duration,
    /// For the whole request, from connecting to the body's last byte.
    pub timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_requests: 20,
            request_bytes: 1024 * 1024,
            response_bytes: 10 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A plugin's whole HTTP policy. Without grants it can reach nothing.
#[derive(Debug, Default)]
pub struct HttpPolicy {
    pub grants: Vec<HttpGrant>,
    pub limits: HttpLimits,
}

/// One `[[plugin.http.allow]]`.
pub struct HttpGrant {
    /// As written in the config, for messages.
    pub url: String,
    pub https: bool,
    /// Lowercase; an IPv6 literal without brackets; `*.` for any subdomain.
    pub host: String,
    pub port: u16,
    /// A path prefix ending in `/`, or a whole path (`/` grants every path).
    pub path: String,
    pub methods: Vec<Method>,
    /// May the name resolve to a private, loopback or link-local address?
    pub private: bool,
    /// Headers the host adds to matching requests, values never shown.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Shows header names only: their values are secrets.
impl fmt::Debug for HttpGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpGrant")
            .field("url", &self.url)
            .field("methods", &self.methods)
            .field("private", &self.private)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Why a request was refused: the host logs it, and the plugin gets
/// `HTTP-request-denied`.
#[derive(Debug, PartialEq, Eq)]
pub struct Denial(pub String);

impl HttpPolicy {
    /// Parse and check the section; `plugin` names it in messages, `base`
    /// is the config's folder (for `${file:...}` header values).
    pub fn from_raw(raw: RawHttp, base: &Path) -> Result<HttpPolicy> {
        let defaults = HttpLimits::default();
        let mut limits = defaults;
        if let Some(n) = raw.max_requests {
            check_range("http.max_requests", n.into(), 1, 10_000)?;
            limits.max_requests = n;
        }
        if let Some(n) = raw.request_bytes {
            check_range("http.request_bytes", n, 0, 1 << 30)?;
            limits.request_bytes = n;
        }
        if let Some(n) = raw.response_bytes {
            check_range("http.response_bytes", n, 0, 1 << 30)?;
            limits.response_bytes = n;
        }
        if let Some(s) = raw.connect_timeout_s {
            check_range("http.connect_timeout_s", s, 1, 3600)?;
            limits.connect_timeout = Duration::from_secs(s);
        }
        if let Some(s) = raw.timeout_s {
            check_range("http.timeout_s", s, 1, 24 * 3600)?;
            limits.timeout = Duration::from_secs(s);
        }
        let grants = raw
            .allow
            .into_iter()
            .map(|RawGrant(table)| {
                let url = table.url.clone();
                HttpGrant::parse(table, base).with_context(|| format!("http grant url = {url:?}"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(HttpPolicy { grants, limits })
    }

    /// The grant that covers `method` on `uri`, or why none does.
    pub fn check(&self, method: &Method, uri: &Uri) -> Result<&HttpGrant, Denial> {
        let target = Target::of(uri).map_err(Denial)?;
        refuse_dot_segments(method, uri)?;
        let shown = target.origin();
        let mut same_origin = None;
        for grant in &self.grants {
            if grant.https != target.https
                || grant.port != target.port
                || !grant.host_matches(&target.host)
            {
                continue;
            }
            if !grant.path_matches(uri.path()) {
                continue;
            }
            if grant.methods.contains(method) {
                return Ok(grant);
            }
            same_origin.get_or_insert(grant);
        }
        Err(Denial(match same_origin {
            Some(grant) => format!(
                "{method} {uri} is not granted: the grant url = {:?} allows {}; add \"{method}\" to its `methods`",
                grant.url,
                grant
                    .methods
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!(
                "{method} {uri} is not granted: no [[plugin.http.allow]] covers it; to allow it, add url = \"{shown}/\" (methods = [\"{method}\"])"
            ),
        }))
    }
}

/// Refuse a path with a segment some server reads as `.` or `..` (`..;`,
/// `%2e%2e`, `.%2e;x=1`...): whatever grant it seems to fall under, the
/// server may serve a path above it, with that grant's secret headers.
fn refuse_dot_segments(method: &Method, uri: &Uri) -> Result<(), Denial> {
    match segments::dot_segment(uri.path()) {
        None => Ok(()),
        Some(segment) => Err(Denial(format!(
            "{method} {uri} is refused: its path segment {segment:?} reads as `.` or `..` to servers that decode `%2e` and drop `;parameters` (Tomcat, Jetty, Spring), so it could reach a path outside every grant; resolve the dot segments in the URL before sending it"
        ))),
    }
}

fn check_range(key: &str, value: u64, min: u64, max: u64) -> Result<()> {
    if !(min..=max).contains(&value) {
        bail!("`{key}` is {value}; it must be {min} to {max}");
    }
    Ok(())
}

/// What a request (or a grant) addresses.
struct Target {
    https: bool,
    host: String,
    port: u16,
}

impl Target {
    fn of(uri: &Uri) -> Result<Target, String> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(format!(
                    "{uri}: only http and https are granted, not {}",
                    other.unwrap_or("a URL without a scheme")
                ));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{uri}: the URL has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("{uri}: URLs with user information are refused"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(format!("{uri}: the URL has no host"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Target { https, host, port })
    }

    fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}", self.port)
    }
}

impl HttpGrant {
    fn parse(table: RawGrantTable, base: &Path) -> Result<HttpGrant> {
        let RawGrantTable {
            url,
            methods,
            private,
            headers,
        } = table;
        let uri: Uri = url.parse().with_context(|| {
            "not a URL: write it like \"https://api.example.com/v1/\"".to_string()
        })?;
        if uri.query().is_some() {
            bail!("a grant cannot have a query (`?...`): grant the path");
        }
        if url.contains('#') {
            bail!("a grant cannot have a fragment (`#...`)");
        }
        let target = Target::of(&uri).map_err(anyhow::Error::msg)?;
        if let Some(rest) = target.host.strip_prefix("*.") {
            if rest.is_empty() || rest.contains('*') {
                bail!("`*.` must be followed by a domain, as in \"https://*.example.com/\"");
            }
        } else if target.host.contains('*') {
            bail!("a wildcard may only be the first label: \"https://*.example.com/\"");
        }
        let path = if uri.path().is_empty() {
            "/"
        } else {
            uri.path()
        }
        .to_string();
        if let Some(segment) = segments::dot_segment(&path) {
            bail!(
                "the path's segment {segment:?} reads as `.` or `..` on some servers: write the path without dot segments"
            );
        }
        let methods = match methods {
            None => vec![Method::GET, Method::HEAD],
            Some(list) if list.is_empty() => {
                bail!("`methods` is empty: leave it out for GET and HEAD, or name some")
            }
            Some(list) => list
                .iter()
                .map(|m| {
                    let upper = m.to_ascii_uppercase();
                    if upper == "CONNECT" || upper == "TRACE" {
                        bail!("method {m:?} is never granted");
                    }
                    Method::from_bytes(upper.as_bytes())
                        .with_context(|| format!("{m:?} is not an HTTP method"))
                })
                .collect::<Result<Vec<_>>>()?,
        };
        let headers = headers
            .into_iter()
            .map(|(name, value)| {
                let header = HeaderName::from_bytes(name.as_bytes())
                    .with_context(|| format!("{name:?} is not a header name"))?;
                if matches!(header.as_str(), "host" | "connection" | "transfer-encoding" | "content-length" | "upgrade" | "te" | "keep-alive") {
                    bail!("header {name:?} is set by the host and cannot be granted");
                }
                let resolved = crate::interpolate::resolve(&value, base)
                    .with_context(|| format!("header {name:?}"))?;
                let mut value = HeaderValue::from_str(&resolved).map_err(|_| {
                    anyhow::anyhow!("header {name:?}: its value holds characters a header cannot carry (a line break?)")
                })?;
                value.set_sensitive(true);
                Ok((header, value))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(HttpGrant {
            url,
            https: target.https,
            host: target.host,
            port: target.port,
            path,
            methods,
            private,
            headers,
        })
    }

    fn host_matches(&self, host: &str) -> bool {
        match self.host.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => self.host == host,
        }
    }

    /// `/` grants everything; `/v1/` everything below it; `/v1` that path
    /// and everything below it. A request whose path could mean another
    /// place once a server decodes it (`..;`, `%2e%2e`, `%2f`, `\`, see
    /// [`segments`]) never matches a narrower grant.
    fn path_matches(&self, path: &str) -> bool {
        if self.path == "/" {
            return true;
        }
        let path = if path.is_empty() { "/" } else { path };
        if segments::dot_segment(path).is_some() || segments::is_ambiguous(path) {
            return false;
        }
        if self.path.ends_with('/') {
            return path.starts_with(&self.path);
        }
        path == self.path
            || path
                .strip_prefix(&self.path)
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// The grant names this address itself (an IP literal), which allows
    /// it even when it is private.
    pub fn names_address(&self, ip: IpAddr) -> bool {
        self.host.parse::<IpAddr>().is_ok_and(|own| own == ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml_text: &str) -> Result<HttpPolicy> {
        let raw: RawHttp = toml::from_str(toml_text)?;
        HttpPolicy::from_raw(raw, Path::new("."))
    }

    fn allowed(policy: &HttpPolicy, method: Method, url: &str) -> bool {
        policy.check(&method, &url.parse().unwrap()).is_ok()
    }

    #[test]
    fn scheme_host_port_path_and_method_must_all_match() {
        let p = policy(
            r#"allow = ["https://api.example.com/v1/", { url = "http://127.0.0.1:8080/hooks", methods = ["POST"] }]"#,
        )
        .unwrap();
        assert!(allowed(&p, Method::GET, "https://api.example.com/v1/users"));
        assert!(allowed(&p, Method::GET, "https://API.example.com:443/v1/"));
        assert!(!allowed(&p, Method::GET, "http://api.example.com/v1/users"));
        assert!(!allowed(
            &p,
            Method::GET,
            "https://api.example.com:8443/v1/users"
        ));
        assert!(!allowed(
            &p,
            Method::GET,
            "https://api.example.com/v2/users"
        ));
        assert!(!allowed(&p, Method::GET, "https://api.example.com/v1"));
        assert!(!allowed(
            &p,
            Method::POST,
            "https://api.example.com/v1/users"
        ));
        assert!(!allowed(
            &p,
            Method::GET,
            "https://evil.api.example.com/v1/"
        ));
        assert!(!allowed(
            &p,
            Method::GET,
            "https://api.example.com.evil/v1/"
        ));
        assert!(allowed(&p, Method::POST, "http://127.0.0.1:8080/hooks"));
        assert!(allowed(
            &p,
            Method::POST,
            "http://127.0.0.1:8080/hooks/a?x=1"
        ));
        assert!(!allowed(&p, Method::POST, "http://127.0.0.1:8080/hooksX"));
        assert!(!allowed(&p, Method::GET, "http://127.0.0.1:8080/hooks"));
    }

    #[test]
    fn paths_that_could_escape_a_prefix_never_match() {
        let p = policy(r#"allow = ["https://h.example/v1/"]"#).unwrap();
        for url in [
            "https://h.example/v1/../admin",
            "https://h.example/v1/%2e%2e/admin",
            "https://h.example/v1/%2E./admin",
            "https://h.example/v1/a%2f..%2f..%2fadmin",
            "https://user@h.example/v1/x",
            "https://h.example/v1/a%5c..%5cadmin",
            "https://h.example/v1/a\\..\\admin",
            "https://h.example/v1/a%252f..%252fadmin",
            "https://h.example/v1/%c0%ae%c0%ae/admin",
        ] {
            assert!(!allowed(&p, Method::GET, url), "{url}");
        }
    }

    /// The issue's examples: a grant of `/v1/` with a secret header must
    /// not cover `/v1/..;/admin`, which Tomcat, Jetty and Spring serve as
    /// `/admin`. Such a path is refused whatever the grant, with the reason.
    #[test]
    fn parameters_do_not_hide_dot_segments() {
        let p = policy(
            r#"allow = [{ url = "http://h.example/v1/", headers = { Authorization = "Bearer s" } }, "http://root.example/"]"#,
        )
        .unwrap();
        for url in [
            "http://h.example/v1/..;/admin/echo",
            "http://h.example/v1/..;x=1/admin/echo",
            "http://h.example/v1/%2e%2e;/admin/echo",
            "http://h.example/v1/.%2E;jsessionid=1/admin",
            "http://h.example/v1/..%3b/admin",
            "http://h.example/v1/%252e%252e/admin",
            "http://h.example/v1/x/.;/..;/..;/admin",
            "http://root.example/a/..;/b",
        ] {
            let Denial(why) = p.check(&Method::GET, &url.parse().unwrap()).unwrap_err();
            assert!(why.contains("reads as `.` or `..`"), "{url}: {why}");
            assert!(why.contains("resolve the dot segments"), "{url}: {why}");
        }
        // Parameters on an ordinary segment are no reason to refuse.
        assert!(allowed(&p, Method::GET, "http://h.example/v1/a;v=2/echo"));
        assert!(allowed(
            &p,
            Method::GET,
            "http://h.example/v1/.well-known/x"
        ));
    }

    #[test]
    fn wildcards_cover_subdomains_only() {
        let p = policy(r#"allow = ["https://*.example.com/"]"#).unwrap();
        assert!(allowed(&p, Method::GET, "https://a.example.com/x"));
        assert!(allowed(&p, Method::GET, "https://a.b.example.com/x"));
        assert!(!allowed(&p, Method::GET, "https://example.com/x"));
        assert!(!allowed(&p, Method::GET, "https://badexample.com/x"));
    }

    #[test]
    fn denials_say_what_to_add() {
        let p = policy(r#"allow = ["https://api.example.com/"]"#).unwrap();
        let Denial(why) = p
            .check(&Method::POST, &"https://api.example.com/x".parse().unwrap())
            .unwrap_err();
        assert!(why.contains("add \"POST\" to its `methods`"), "{why}");
        let Denial(why) = p
            .check(&Method::GET, &"http://other.example:81/x".parse().unwrap())
            .unwrap_err();
        assert!(why.contains("url = \"http://other.example:81/\""), "{why}");
    }

    #[test]
    fn bad_grants_are_refused_with_the_reason() {
        for (text, expected) in [
            (r#"allow = ["ftp://x/"]"#, "only http and https"),
            (r#"allow = ["https://x/?a=1"]"#, "query"),
            (r#"allow = ["https://a.*.x/"]"#, "wildcard"),
            (r#"allow = [{ url = "https://x/", methods = [] }]"#, "empty"),
            (
                r#"allow = [{ url = "https://x/", methods = ["CONNECT"] }]"#,
                "never granted",
            ),
            (
                r#"allow = [{ url = "https://x/", headers = { Host = "y" } }]"#,
                "set by the host",
            ),
            (
                r#"allow = [{ url = "https://x/", headers = { A = "${env:WASM_MCP_SURELY_UNSET}" } }]"#,
                "WASM_MCP_SURELY_UNSET",
            ),
            (
                r#"allow = [{ url = "https://x/", colour = "red" }]"#,
                "colour",
            ),
            ("max_requests = 0", "max_requests"),
            (r#"allow = ["https://x/v1/..;/"]"#, "reads as `.` or `..`"),
        ] {
            let error = format!("{:#}", policy(text).unwrap_err());
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn secret_header_values_are_never_shown() {
        let p = policy(
            r#"allow = [{ url = "https://x/", headers = { Authorization = "Bearer $${not-a-ref} hunter2" } }]"#,
        )
        .unwrap();
        let shown = format!("{p:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("authorization"), "{shown}");
    }

    /// Property tests of grant matching, each with its invariant.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Segments that try to climb out of a prefix or to split, and
        /// ordinary ones.
        const PIECES: &[&str] = &[
            ".",
            "..",
            "..;",
            "..;x=1",
            "%2e%2e",
            "%2E%2e;",
            ".%2e",
            "%252e%252e",
            "..%3b",
            "..%00",
            ";",
            ";x",
            "%2f",
            "%2F..",
            "%5c",
            "\\",
            "%255c",
            "%c0%ae",
            "%25",
            "%",
            "v1",
            "a",
            "admin",
            "",
        ];

        /// One path segment: a piece, two pieces run together, or random text.
        fn segment() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(PIECES).prop_map(String::from),
                (prop::sample::select(PIECES), prop::sample::select(PIECES))
                    .prop_map(|(a, b)| format!("{a}{b}")),
                "[a-zA-Z0-9._~;=%-]{0,6}",
            ]
        }

        /// `%XX` decoded (a `%` without two hex digits kept), written apart
        /// from the code under test so the model does not share its bugs.
        fn decode(bytes: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut rest = bytes;
            while let Some((&first, tail)) = rest.split_first() {
                let escape = tail
                    .get(..2)
                    .filter(|digits| first == b'%' && digits.iter().all(u8::is_ascii_hexdigit));
                match escape.and_then(|digits| std::str::from_utf8(digits).ok()) {
                    Some(digits) => {
                        out.push(u8::from_str_radix(digits, 16).unwrap_or_default());
                        rest = &tail[2..];
                    }
                    None => {
                        out.push(first);
                        rest = tail;
                    }
                }
            }
            out
        }

        /// The path as the most lenient server reads it: each segment
        /// decoded twice, split again at a decoded `/` or `\`, cut at `;`
        /// or NUL, then `.` and `..` resolved.
        fn lenient_reading(path: &str) -> Vec<Vec<u8>> {
            let mut resolved: Vec<Vec<u8>> = Vec::new();
            for raw in path.split('/').skip(1) {
                let decoded = decode(&decode(raw.as_bytes()));
                for piece in decoded.split(|&b| b == b'/' || b == b'\\') {
                    let end = piece
                        .iter()
                        .position(|&b| b == b';' || b == 0)
                        .unwrap_or(piece.len());
                    match &piece[..end] {
                        b"." => {}
                        b".." => {
                            resolved.pop();
                        }
                        name => resolved.push(name.to_vec()),
                    }
                }
            }
            resolved
        }

        /// Letters of `text` upper-cased where the bits of `mask` say.
        fn recase(text: &str, mask: u64) -> String {
            text.chars()
                .enumerate()
                .map(|(i, c)| {
                    if (mask >> (i % 64)) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Invariant: when a grant with a path prefix P (narrower than
            /// `/`) covers a request, the most lenient server's reading of
            /// its path (decoded twice, `;parameters` and NUL cut, `\` and a
            /// decoded `/` taken as separators, dot segments resolved) still
            /// starts with P's segments: no spelling escapes its grant.
            #[test]
            fn a_covered_path_stays_under_its_grant_however_a_server_reads_it(
                head in prop::collection::vec(prop::sample::select(vec!["v1", "a", "V1", "v1;x"]), 0..3),
                tail in prop::collection::vec(segment(), 0..6),
            ) {
                let p = policy(r#"allow = ["http://h.example/v1/", "http://h.example/v1/a"]"#)
                    .map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
                let parts: Vec<String> = head.iter().map(|s| s.to_string()).chain(tail).collect();
                let path = format!("/{}", parts.join("/"));
                let Ok(uri) = format!("http://h.example{path}").parse::<Uri>() else {
                    return Ok(());
                };
                if let Ok(grant) = p.check(&Method::GET, &uri) {
                    let prefix: Vec<&[u8]> = grant
                        .path
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(str::as_bytes)
                        .collect();
                    let read = lenient_reading(uri.path());
                    prop_assert!(
                        read.len() >= prefix.len()
                            && read.iter().zip(&prefix).all(|(got, want)| got.as_slice() == *want),
                        "{} is read as {:?}, outside the grant {}",
                        path,
                        read.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect::<Vec<_>>(),
                        grant.url
                    );
                }
            }

            /// Invariant: a request whose path holds a segment that reads
            /// as `.` or `..` once `;parameters` are dropped is refused,
            /// even under a grant of the whole origin.
            #[test]
            fn dot_segments_with_parameters_are_always_refused(
                before in prop::collection::vec("[a-z0-9]{1,5}", 0..3),
                dots in prop::sample::select(vec![".", "..", "%2e", "%2E%2e", ".%2e"]),
                parameters in "(;[a-z0-9=]{0,6})?",
            ) {
                let p = policy(r#"allow = ["http://h.example/"]"#)
                    .map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
                let path = format!("/{}/{dots}{parameters}/admin", before.join("/"));
                let uri: Uri = format!("http://h.example{path}")
                    .parse()
                    .map_err(|e| TestCaseError::fail(format!("{path}: {e}")))?;
                prop_assert!(p.check(&Method::GET, &uri).is_err(), "{} was allowed", path);
            }

            /// Invariant: a grant of a host covers exactly that host in any
            /// letter case (and a `*.` grant exactly its subdomains); a name
            /// that only starts or ends alike, has a trailing dot, or hides
            /// behind user information never matches.
            #[test]
            fn hosts_match_exactly_up_to_letter_case(
                labels in prop::collection::vec("[a-z][a-z0-9-]{0,6}", 1..4),
                mask in any::<u64>(),
                mutation in 0usize..7,
            ) {
                let granted = labels.join(".");
                let p = policy(&format!(r#"allow = ["http://{granted}/", "http://*.{granted}/"]"#))
                    .map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
                let host = recase(&granted, mask);
                let (authority, expected) = match mutation {
                    0 => (host, true),
                    1 => (format!("sub.{host}"), true),
                    // Longer than any generated label, so never a subdomain of it.
                    2 => (format!("{host}.evil-attacker"), false),
                    3 => (format!("evil{host}"), false),
                    4 => (format!("{host}."), false),
                    5 => (format!("user@{host}"), false),
                    _ => (format!("{host}@attacker.example"), false),
                };
                let url = format!("http://{authority}/x");
                let uri: Uri = url
                    .parse()
                    .map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
                prop_assert_eq!(p.check(&Method::GET, &uri).is_ok(), expected, "{}", url);
            }
        }
    }
}
