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
        if has_dot_segments(&path) {
            bail!("the path has `.` or `..` segments");
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
    /// place once a server decodes it (`..`, `%2e%2e`, `%2f`) never matches
    /// a narrower grant.
    fn path_matches(&self, path: &str) -> bool {
        if self.path == "/" {
            return true;
        }
        let path = if path.is_empty() { "/" } else { path };
        if has_dot_segments(path) || contains_encoded_separator(path) {
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

fn has_dot_segments(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

fn contains_encoded_separator(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.contains("%2f") || lower.contains("%5c") || path.contains('\\')
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
        ] {
            assert!(!allowed(&p, Method::GET, url), "{url}");
        }
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
}
