//! Outbound HTTP through the standard `wasi:http/outgoing-handler`: the
//! host checks every request against the plugin's `[plugin.http]` grants
//! and limits.
//!
//! ```ignore
//! use wasm_mcp_sdk::{ToolError, fetch, http::Request};
//!
//! let page = fetch("https://example.com/")?.error_for_status()?.text()?;
//! let created = Request::post("https://api.example.com/items")
//!     .header("content-type", "application/json")
//!     .body(r#"{"name": "x"}"#)
//!     .send()?;
//! ```
//!
//! Calls block until the whole response is in: tools are synchronous, and
//! make one request at a time. The host never follows redirects; the SDK
//! follows up to five (see [`Request::follow_redirects`]), each one a new
//! request the host checks against the grants, and counts against
//! `http.max_requests`. A failure is an [`HttpError`] whose message names
//! the request and what in the plugin's config to change; `?` turns it
//! into a [`crate::ToolError`].

mod error;
mod transport;
mod url;

pub use error::{HttpError, HttpErrorKind};
/// The raw `wasi:http` error-code, as [`HttpError::code`] gives it.
pub use wasip2::http::types::ErrorCode;

use url::Url;

/// How many redirects [`Request::send`] follows before it gives up.
pub const MAX_REDIRECTS: u32 = 5;

/// `GET url`, following redirects.
pub fn fetch(url: &str) -> Result<Response, HttpError> {
    Request::get(url).send()
}

/// A request, built step by step, then [`send`](Request::send).
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    follow_redirects: bool,
}

impl Request {
    /// A request with any method (`"PUT"`, `"DELETE"`...). The common
    /// methods are matched without regard to case, and sent in capitals.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        let mut method = method.into();
        const STANDARD: [&str; 9] = [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ];
        if STANDARD.iter().any(|m| m.eq_ignore_ascii_case(&method)) {
            method.make_ascii_uppercase();
        }
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            follow_redirects: true,
        }
    }

    pub fn get(url: impl Into<String>) -> Self {
        Request::new("GET", url)
    }

    pub fn post(url: impl Into<String>) -> Self {
        Request::new("POST", url)
    }

    /// Add a header. A name given twice is sent twice. The SDK sends
    /// `user-agent: wasm-mcp-sdk/VERSION` unless one is set here, and
    /// `content-length` with a body; the host sets `host` itself.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The request body; the SDK sends its `content-length`.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Follow redirects (the default) or return the 3xx response as it is.
    ///
    /// Followed: 301, 302, 303, 307 and 308 with a `Location`, at most
    /// [`MAX_REDIRECTS`] times. As browsers do, a 303 (but for `HEAD`), and
    /// a 301 or 302 answering a `POST`, turn the request into a `GET`
    /// without body; `Authorization`, `Cookie` and `Proxy-Authorization`
    /// are dropped when a redirect leaves the origin.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// Send it and read the whole response. Any status is a response;
    /// [`Response::error_for_status`] turns 4xx and 5xx into errors.
    pub fn send(self) -> Result<Response, HttpError> {
        let Request {
            mut method,
            url,
            mut headers,
            mut body,
            follow_redirects,
        } = self;
        if method.is_empty() || !method.bytes().all(is_token_byte) {
            return Err(HttpError::invalid_method(&method, &url));
        }
        let first = Url::parse(&url).map_err(|why| HttpError::invalid_url(&method, &url, &why))?;
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
        {
            let agent = concat!("wasm-mcp-sdk/", env!("CARGO_PKG_VERSION"));
            headers.push(("user-agent".into(), agent.into()));
        }
        let mut url = first.clone();
        let mut hops = 0;
        loop {
            let redirected_from = (hops > 0).then_some(&first);
            let failed = |failure, method: &str, url: &Url| {
                HttpError::from_failure(failure, method, url, redirected_from)
            };
            let mut sent_headers = headers.clone();
            if let Some(body) = &body
                && !headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            {
                sent_headers.push(("content-length".into(), body.len().to_string()));
            }
            let head = transport::send(&method, &url, &sent_headers, body.as_deref())
                .map_err(|f| failed(f, &method, &url))?;
            let location = head
                .headers
                .iter()
                .find(|(name, _)| name == "location")
                .map(|(_, value)| value.clone());
            if follow_redirects
                && is_redirect(head.status)
                && let Some(location) = location
            {
                if hops == MAX_REDIRECTS {
                    return Err(HttpError::too_many_redirects(&method, &first, &url, hops));
                }
                let next = url
                    .join(&location)
                    .map_err(|why| HttpError::bad_redirect(&method, &url, &location, &why))?;
                let to_get = (head.status == 303 && method != "HEAD")
                    || (matches!(head.status, 301 | 302) && method == "POST");
                if to_get {
                    method = "GET".into();
                    body = None;
                    headers.retain(|(name, _)| !is_content_header(name));
                }
                if next.origin() != url.origin() {
                    headers.retain(|(name, _)| !is_credential_header(name));
                }
                // `head` (and the redirect's unread body) is dropped here.
                url = next;
                hops += 1;
                continue;
            }
            let status = head.status;
            let response_headers = head.headers.clone();
            let data = head.read_body().map_err(|f| failed(f, &method, &url))?;
            return Ok(Response {
                status,
                headers: response_headers,
                body: data,
                url: url.to_string(),
                method,
            });
        }
    }
}

/// A whole response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// In the order received; names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Where the response came from, after any redirects.
    pub url: String,
    method: String,
}

impl Response {
    /// The body as text. Bytes that are not UTF-8 become U+FFFD (lossy
    /// decoding), whatever the `content-type`'s charset.
    pub fn text(&self) -> Result<String, HttpError> {
        Ok(String::from_utf8_lossy(&self.body).into_owned())
    }

    /// The body parsed as JSON into a `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HttpError::decode(&self.method, &self.url, &e))
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response, or an error naming its status if that is 400 or more.
    pub fn error_for_status(self) -> Result<Self, HttpError> {
        if self.status >= 400 {
            Err(HttpError::status(&self.method, &self.url, self.status))
        } else {
            Ok(self)
        }
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn is_content_header(name: &str) -> bool {
    [
        "content-type",
        "content-length",
        "content-encoding",
        "content-language",
        "content-location",
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(name))
}

fn is_credential_header(name: &str) -> bool {
    ["authorization", "cookie", "proxy-authorization"]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

/// RFC 9110's `tchar`: what a method name is made of.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}
