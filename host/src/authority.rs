//! Strict `Host` and `Origin` checks for the HTTP endpoint (DNS rebinding).
//!
//! rmcp checks these headers too, but leniently: it drops what follows a
//! `]` or a port that is not a number, so `Origin: http://[::1].evil.test`
//! and `Host: [::1]evil.test:8080` passed as loopback. Here the whole value
//! must be one authority, `host[:port]` (a registered name, an IPv4 address
//! or a bracketed IPv6 address; the port all digits, 0 to 65535), written
//! the one way it is written when serialised; an `Origin` is `http://` or
//! `https://` and such an authority, nothing after. Anything else is
//! refused: no browser sends it.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::{Result, bail};
use axum::http::{HeaderMap, StatusCode, Uri, header};

/// The host part of an authority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostName {
    /// A registered name, in lower case (names compare case-insensitively).
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostName::Name(name) => f.write_str(name),
            HostName::V4(ip) => write!(f, "{ip}"),
            HostName::V6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// A parsed `host[:port]`, as in a `Host` header or an origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authority {
    pub host: HostName,
    pub port: Option<u16>,
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// The schemes a browser origin of an MCP client can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// The port an origin without one means (RFC 6454 §4).
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        })
    }
}

/// A parsed browser origin, `scheme://host[:port]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub scheme: Scheme,
    pub authority: Authority,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

/// The whole of `value` as `host[:port]`, or `None` when any of it is not.
/// Any spelling of an IPv6 address is read; [`parse_host_header`] also
/// wants the canonical one.
pub fn parse_authority(value: &str) -> Option<Authority> {
    let (host, rest) = match value.strip_prefix('[') {
        Some(bracketed) => {
            let (inside, rest) = bracketed.split_once(']')?;
            (HostName::V6(inside.parse().ok()?), rest)
        }
        None => {
            let end = value.find(':').unwrap_or(value.len());
            (name_or_ipv4(&value[..end])?, &value[end..])
        }
    };
    let port = match rest {
        "" => None,
        _ => Some(parse_port(rest.strip_prefix(':')?)?),
    };
    Some(Authority { host, port })
}

/// A registered name (letters, digits, `-`, `.`, `_`) or a dotted IPv4
/// address; nothing else may appear in a host name.
fn name_or_ipv4(text: &str) -> Option<HostName> {
    let name_byte = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    if text.is_empty() || !text.as_bytes().iter().all(name_byte) {
        return None;
    }
    Some(match text.parse::<Ipv4Addr>() {
        Ok(ip) => HostName::V4(ip),
        Err(_) => HostName::Name(text.to_ascii_lowercase()),
    })
}

/// One to five digits naming a port in 0..=65535.
fn parse_port(digits: &str) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A request's `Host` value: the whole of it an authority, written as it
/// serialises (modulo ASCII case), so no spelling slips past the list.
pub fn parse_host_header(value: &str) -> Option<Authority> {
    let authority = parse_authority(value)?;
    authority
        .to_string()
        .eq_ignore_ascii_case(value)
        .then_some(authority)
}

/// A request's `Origin` value: `http` or `https`, `://`, and an authority
/// as [`parse_host_header`] reads it, with no path. `null` (sandboxed
/// frames, `file:` pages, which any site can make) is not an origin here.
pub fn parse_origin_header(value: &str) -> Option<Origin> {
    let (scheme, rest) = value.split_once("://")?;
    let scheme = parse_scheme(scheme)?;
    Some(Origin {
        scheme,
        authority: parse_host_header(rest)?,
    })
}

/// `http` or `https`, in any case.
fn parse_scheme(text: &str) -> Option<Scheme> {
    if text.eq_ignore_ascii_case("http") {
        Some(Scheme::Http)
    } else if text.eq_ignore_ascii_case("https") {
        Some(Scheme::Https)
    } else {
        None
    }
}

/// An accepted `Host`: this host, on this port or (`None`) any port.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AllowedHost {
    host: HostName,
    port: Option<u16>,
}

/// Which ports of an allowed origin are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortRule {
    /// `:*`
    Any,
    /// An explicit port, or the scheme's default when the entry has none.
    Exact(u16),
}

/// An accepted browser origin.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AllowedOrigin {
    scheme: Scheme,
    host: HostName,
    port: PortRule,
}

/// Why a request was refused: its status and a message saying what to fix.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

impl Refusal {
    /// 400: the request has no usable `Host`.
    fn bad_request(message: String) -> Self {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            message,
        }
    }

    /// 403: a `Host` or `Origin` that is well formed but not accepted.
    fn forbidden(message: String) -> Self {
        Refusal {
            status: StatusCode::FORBIDDEN,
            message,
        }
    }
}

/// The `Host` and `Origin` values the HTTP endpoint accepts.
#[derive(Clone, Debug)]
pub struct AllowList {
    hosts: Vec<AllowedHost>,
    origins: Vec<AllowedOrigin>,
}

impl AllowList {
    /// From the host entries (`name`, `name:port`, an IPv4 or IPv6 address,
    /// bracketed or not) and origin entries (`scheme://host[:port]`, `:*`
    /// for any port; no port means the scheme's default). An entry that is
    /// none of these is an error, not silently never matched.
    pub fn new(hosts: &[String], origins: &[String]) -> Result<Self> {
        Ok(AllowList {
            hosts: hosts
                .iter()
                .map(|entry| allowed_host(entry.as_str()))
                .collect::<Result<_>>()?,
            origins: origins
                .iter()
                .map(|entry| allowed_origin(entry.as_str()))
                .collect::<Result<_>>()?,
        })
    }

    /// Whether a request with these headers may go on. `uri` stands in for
    /// a missing `Host` when it carries an authority (HTTP/2).
    pub fn check(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), Refusal> {
        self.check_host(headers, uri)?;
        self.check_origin(headers)
    }

    /// The request's `Host`, parsed and accepted.
    fn check_host(&self, headers: &HeaderMap, uri: &Uri) -> Result<Authority, Refusal> {
        let mut values = headers.get_all(header::HOST).iter();
        let value = match (values.next(), values.next()) {
            (Some(_), Some(_)) => {
                return Err(Refusal::bad_request(
                    "Bad Request: more than one Host header; send exactly one".into(),
                ));
            }
            (Some(value), None) => value.to_str().map_err(|_| {
                Refusal::bad_request("Bad Request: the Host header is not ASCII text".into())
            })?,
            (None, _) => match uri.authority() {
                Some(authority) => authority.as_str(),
                None => {
                    return Err(Refusal::bad_request(
                        "Bad Request: the request has no Host header; send `Host: <host>:<port>`"
                            .into(),
                    ));
                }
            },
        };
        let Some(authority) = parse_host_header(value) else {
            tracing::warn!(
                host = value,
                "refused a request with a malformed Host header"
            );
            return Err(Refusal::bad_request(format!(
                "Bad Request: the Host header {value:?} is not `host[:port]` (a name, an IPv4 address or a bracketed IPv6 address, and a port of digits)"
            )));
        };
        if !self.host_allowed(&authority) {
            tracing::warn!(
                host = value,
                "refused a request for a Host that is not allowed (possible DNS rebinding)"
            );
            return Err(Refusal::forbidden(format!(
                "Forbidden: Host {value:?} is not allowed (DNS rebinding protection); start the server with `--allowed-host {}` to accept it",
                authority.host
            )));
        }
        Ok(authority)
    }

    /// Requests without `Origin` are not from browsers and pass; a present
    /// one must parse and be allowed.
    fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let mut values = headers.get_all(header::ORIGIN).iter();
        let value = match (values.next(), values.next()) {
            (None, _) => return Ok(()),
            (Some(_), Some(_)) => {
                return Err(Refusal::forbidden(
                    "Forbidden: more than one Origin header".into(),
                ));
            }
            (Some(value), None) => value.to_str().map_err(|_| {
                Refusal::forbidden("Forbidden: the Origin header is not ASCII text".into())
            })?,
        };
        if value.eq_ignore_ascii_case("null") {
            tracing::warn!("refused a request with `Origin: null`");
            return Err(Refusal::forbidden(
                "Forbidden: `Origin: null` (a sandboxed frame or a file: page, which any site can create) is never accepted; serve the client page from an allowed origin".into(),
            ));
        }
        let Some(origin) = parse_origin_header(value) else {
            tracing::warn!(
                origin = value,
                "refused a request with a malformed Origin header"
            );
            return Err(Refusal::forbidden(format!(
                "Forbidden: the Origin header {value:?} is not `http://host[:port]` or `https://host[:port]`"
            )));
        };
        if !self.origin_allowed(&origin) {
            tracing::warn!(
                origin = value,
                "refused a request from an Origin that is not allowed (possible cross-site request)"
            );
            return Err(Refusal::forbidden(format!(
                "Forbidden: Origin {value:?} is not allowed; start the server with `--allowed-origin {origin}` to accept it"
            )));
        }
        Ok(())
    }

    /// The same host, and the entry's port if it names one.
    fn host_allowed(&self, authority: &Authority) -> bool {
        self.hosts.iter().any(|allowed| {
            allowed.host == authority.host
                && allowed.port.is_none_or(|port| authority.port == Some(port))
        })
    }

    /// The same scheme and host, and a port the entry accepts; an origin
    /// without a port is on its scheme's default.
    fn origin_allowed(&self, origin: &Origin) -> bool {
        let port = origin
            .authority
            .port
            .unwrap_or_else(|| origin.scheme.default_port());
        self.origins.iter().any(|allowed| {
            allowed.scheme == origin.scheme
                && allowed.host == origin.authority.host
                && match allowed.port {
                    PortRule::Any => true,
                    PortRule::Exact(exact) => exact == port,
                }
        })
    }
}

/// One `--allowed-host` entry (or a built-in one).
fn allowed_host(entry: &str) -> Result<AllowedHost> {
    let text = entry.trim();
    if let Ok(ip) = text.parse::<Ipv6Addr>() {
        return Ok(AllowedHost {
            host: HostName::V6(ip),
            port: None,
        });
    }
    match parse_authority(text) {
        Some(Authority { host, port }) => Ok(AllowedHost { host, port }),
        None => bail!(
            "--allowed-host {entry:?} is not a host name, an IP address or `host:port`; \
             write it as a Host header carries it, e.g. `mcp.example.com` or `mcp.example.com:8443`"
        ),
    }
}

/// One `--allowed-origin` entry (or a built-in one).
fn allowed_origin(entry: &str) -> Result<AllowedOrigin> {
    let text = entry.trim();
    if text.eq_ignore_ascii_case("null") {
        bail!(
            "--allowed-origin null would let any site in (sandboxed frames and file: pages \
             send it); allow the client page's real origin instead"
        );
    }
    let (base, any_port) = match text.strip_suffix(":*") {
        Some(base) => (base, true),
        None => (text, false),
    };
    let parsed = base
        .split_once("://")
        .and_then(|(scheme, rest)| Some((parse_scheme(scheme)?, parse_authority(rest)?)))
        .filter(|(_, authority)| !(any_port && authority.port.is_some()));
    let Some((scheme, authority)) = parsed else {
        bail!(
            "--allowed-origin {entry:?} is not an origin; write `http://host[:port]` or \
             `https://host[:port]` (`:*` for any port), e.g. `https://app.example.com:443`"
        );
    };
    let port = match (any_port, authority.port) {
        (true, _) => PortRule::Any,
        (false, Some(port)) => PortRule::Exact(port),
        (false, None) => PortRule::Exact(scheme.default_port()),
    };
    Ok(AllowedOrigin {
        scheme,
        host: authority.host,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    /// The lists `serve_http` builds for a server on loopback with one
    /// extra host and origin.
    fn list() -> AllowList {
        let hosts = ["localhost", "127.0.0.1", "::1", "mcp.example.com"].map(String::from);
        let origins = [
            "http://localhost:*",
            "http://127.0.0.1:*",
            "http://[::1]:*",
            "https://app.example.com",
        ]
        .map(String::from);
        AllowList::new(&hosts, &origins).expect("the built-in entries parse")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    /// The headers, or `None` when a value cannot be a header value at all
    /// (no request could carry it).
    fn headers_if_valid(pairs: &[(&str, &str)]) -> Option<HeaderMap> {
        pairs
            .iter()
            .all(|(_, value)| HeaderValue::from_str(value).is_ok())
            .then(|| headers(pairs))
    }

    /// The status a request with these headers gets (200 when it passes).
    fn status(pairs: &[(&str, &str)]) -> u16 {
        match list().check(&headers(pairs), &Uri::from_static("/mcp")) {
            Ok(()) => 200,
            Err(refusal) => refusal.status.as_u16(),
        }
    }

    #[test]
    fn loopback_looking_hosts_from_the_issue_are_refused() {
        for evil in [
            "[::1]evil.test:8080",
            "[::1]evil.test",
            "[::1].evil.test",
            "[::1]:8080evil.test",
            "localhost:80.evil.test",
            "localhost:8080x",
            "localhost:",
            "localhost:65536",
            "localhost:-1",
            "localhost:+80",
            "localhost:0080",
            "127.0.0.1:80:80",
            "user@localhost",
            "localhost/path",
            "localhost ",
            " localhost",
            "localhost%2e",
            "[0:0:0:0:0:0:0:1]",
            "[::1%lo]",
            "",
        ] {
            assert_eq!(status(&[("host", evil)]), 400, "Host {evil:?}");
        }
        for foreign in [
            "evil.test",
            "evil.test:8080",
            "localhost.",
            "localhost.evil.test",
            "127.0.0.1.evil.test",
            "127.1",
            "[::2]:8080",
            "mcp.example.com.evil.test",
        ] {
            assert_eq!(status(&[("host", foreign)]), 403, "Host {foreign:?}");
        }
        assert_eq!(status(&[]), 400, "no Host at all");
        assert_eq!(
            status(&[("host", "localhost"), ("host", "evil.test")]),
            400,
            "two Host headers"
        );
    }

    #[test]
    fn loopback_looking_origins_from_the_issue_are_refused() {
        for evil in [
            "http://[::1].evil.test",
            "http://[::1].evil.test:8080",
            "http://[::1]evil.test",
            "http://localhost:80.evil.test",
            "http://localhost.evil.test",
            "http://127.0.0.1.evil.test",
            "http://localhost:3000/",
            "http://localhost:3000/path",
            "http://user@localhost",
            "http://localhost:",
            "ftp://localhost",
            "localhost:3000",
            "//localhost",
            "null",
            "NULL",
            "https://localhost:3000",
            "https://evil.example",
            "https://app.example.com:8443",
            "http://app.example.com",
        ] {
            assert_eq!(
                status(&[("host", "localhost:8080"), ("origin", evil)]),
                403,
                "Origin {evil:?}"
            );
        }
        assert_eq!(
            status(&[
                ("host", "localhost:8080"),
                ("origin", "http://localhost:1"),
                ("origin", "https://evil.example")
            ]),
            403,
            "two Origin headers"
        );
    }

    #[test]
    fn loopback_and_listed_hosts_and_origins_are_accepted() {
        for host in [
            "localhost",
            "localhost:8080",
            "LocalHost:8080",
            "127.0.0.1:0",
            "127.0.0.1:65535",
            "[::1]",
            "[::1]:8080",
            "mcp.example.com",
            "MCP.Example.COM:443",
        ] {
            assert_eq!(status(&[("host", host)]), 200, "Host {host:?}");
        }
        for origin in [
            "http://localhost",
            "http://localhost:5173",
            "HTTP://LOCALHOST:5173",
            "http://127.0.0.1:3000",
            "http://[::1]:3000",
            "https://app.example.com",
            "https://app.example.com:443",
        ] {
            assert_eq!(
                status(&[("host", "127.0.0.1:8080"), ("origin", origin)]),
                200,
                "Origin {origin:?}"
            );
        }
        let http2 = list().check(
            &HeaderMap::new(),
            &Uri::from_static("http://localhost:8080/mcp"),
        );
        assert_eq!(http2, Ok(()), "HTTP/2 carries the host in the URI");
    }

    #[test]
    fn an_allowed_host_with_a_port_accepts_only_that_port() {
        let list = AllowList::new(&["mcp.example.com:8443".into()], &[]).unwrap();
        let check = |host: &str| list.check(&headers(&[("host", host)]), &Uri::default());
        assert!(check("mcp.example.com:8443").is_ok());
        assert_eq!(
            check("mcp.example.com:8444").unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            check("mcp.example.com").unwrap_err().status,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn entries_that_are_not_hosts_or_origins_are_refused_at_start() {
        for host in ["", "a b", "[::1]x", "host:port", "http://x"] {
            let error = AllowList::new(&[host.into()], &[]).unwrap_err();
            assert!(error.to_string().contains("--allowed-host"), "{error}");
        }
        for origin in [
            "null",
            "app.example.com",
            "ftp://x",
            "https://x:1:*",
            "https://x/",
        ] {
            let error = AllowList::new(&[], &[origin.into()]).unwrap_err();
            assert!(error.to_string().contains("--allowed-origin"), "{error}");
        }
        assert!(AllowList::new(&["fe80::1".into(), "[fe80::1]:8080".into()], &[]).is_ok());
    }

    /// Strings near the accepted ones: a loopback or listed host, maybe a
    /// port, then a few characters that parsers have been known to drop.
    fn near_miss() -> impl Strategy<Value = String> {
        let host = prop_oneof![
            Just("localhost"),
            Just("LOCALHOST"),
            Just("127.0.0.1"),
            Just("[::1]"),
            Just("::1"),
            Just("[0::1]"),
            Just("mcp.example.com"),
            Just("app.example.com"),
            Just("evil.test"),
        ];
        let port = prop_oneof![
            Just(String::new()),
            (0u32..70_000).prop_map(|p| format!(":{p}")),
            "0[0-9]{1,3}".prop_map(|p| format!(":{p}")),
        ];
        let tail = "[\\]\\[.:@/%a-z0-9 ]{0,4}";
        (host, port, tail).prop_map(|(host, port, tail)| format!("{host}{port}{tail}"))
    }

    /// The oracle, written apart from the parser: `value` is, modulo ASCII
    /// case, one of `hosts` spelt exactly, then maybe `:` and a port as a
    /// u16 prints.
    fn is_exactly(value: &str, hosts: &[&str]) -> bool {
        let value = value.to_ascii_lowercase();
        let host = match value.rsplit_once(':') {
            Some((host, port)) if host.ends_with(']') || !host.contains(':') => {
                let printed = port.parse::<u16>().map(|port| port.to_string());
                if printed.ok().as_deref() != Some(port) {
                    return false;
                }
                host
            }
            _ => value.as_str(),
        };
        hosts.contains(&host)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Invariant: a `Host` value is accepted if and only if it is,
        /// modulo ASCII case, exactly an allowed host and maybe a port:
        /// nothing dropped, nothing respelled.
        #[test]
        fn an_accepted_host_is_exactly_an_allowed_host(
            value in prop_oneof![near_miss(), "[ -~]{0,24}", ".{0,24}"]
        ) {
            let list = list();
            let sent = headers_if_valid(&[("host", value.as_str())]);
            let accepted = sent.is_some_and(|sent| list.check(&sent, &Uri::default()).is_ok());
            let allowed = ["localhost", "127.0.0.1", "[::1]", "mcp.example.com"];
            prop_assert_eq!(accepted, is_exactly(&value, &allowed), "{:?}", value);
            if accepted {
                let authority = parse_host_header(&value).expect("accepted values parse");
                prop_assert!(authority.to_string().eq_ignore_ascii_case(&value));
            }
        }

        /// Invariant: an `Origin` is accepted if and only if it is, modulo
        /// ASCII case, exactly `http://` and a loopback host and maybe a
        /// port, or the listed `https://app.example.com` on port 443.
        #[test]
        fn an_accepted_origin_is_exactly_an_allowed_origin(
            scheme in prop_oneof![
                Just("http://"),
                Just("https://"),
                Just("HTTP://"),
                Just(""),
                Just("ftp://")
            ],
            rest in prop_oneof![near_miss(), "[ -~]{0,24}"]
        ) {
            let value = format!("{scheme}{rest}");
            let list = list();
            let sent = headers_if_valid(&[("host", "localhost"), ("origin", value.as_str())]);
            let accepted = sent.is_some_and(|sent| list.check(&sent, &Uri::default()).is_ok());
            let lowered = value.to_ascii_lowercase();
            let oracle = match lowered.split_once("://") {
                Some(("http", rest)) => is_exactly(rest, &["localhost", "127.0.0.1", "[::1]"]),
                Some(("https", rest)) => ["app.example.com", "app.example.com:443"].contains(&rest),
                _ => false,
            };
            prop_assert_eq!(accepted, oracle, "{:?}", value);
        }
    }
}
