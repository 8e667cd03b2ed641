//! [`HttpError`]: why a request gave no response, in words that name the
//! request and say which setting of the plugin's config to change.

use std::fmt;

use wasip2::http::types::{ErrorCode, HeaderError};

use super::transport::Failure;
use super::url::Url;

/// What kind of failure an [`HttpError`] is, for plugins that want to
/// branch on it. The message ([`fmt::Display`]) says the same in words.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// The URL cannot be used: not `http`/`https`, no host, malformed, or a
    /// redirect to such a URL.
    InvalidUrl,
    /// The request cannot be sent as built: a bad method, or a header the
    /// host rejects.
    InvalidRequest,
    /// `HTTP-request-denied`: no `[[plugin.http.allow]]` grant covers it.
    Denied,
    /// `destination-IP-prohibited`: the host name resolves to a private,
    /// loopback or link-local address that no grant allows.
    PrivateAddress,
    /// `connection-limit-reached`: this call used up `http.max_requests`.
    TooManyRequests,
    /// `HTTP-request-body-size`: the body is over `http.request_bytes`
    /// (the limit, when the host gives it).
    RequestTooLarge(Option<u64>),
    /// `HTTP-response-body-size`: the response is over
    /// `http.response_bytes` (the limit, when the host gives it).
    ResponseTooLarge(Option<u64>),
    /// `connection-timeout`: connecting took over `http.connect_timeout_s`.
    ConnectTimeout,
    /// `HTTP-response-timeout` or `connection-read-timeout`: the answer
    /// took over `http.timeout_s`.
    ResponseTimeout,
    /// `DNS-timeout`, `DNS-error` or `destination-not-found`: the host name
    /// does not resolve.
    Dns,
    /// More redirects than the SDK follows.
    TooManyRedirects,
    /// The server answered with this error status (from
    /// [`super::Response::error_for_status`]).
    Status(u16),
    /// The body is not what [`super::Response::json`] expected.
    Decode,
    /// Anything else: see [`HttpError::code`].
    Other,
}

/// Why a request gave no usable response. Its message names the method and
/// URL, and when a grant or limit of the plugin's config is the cause, what
/// to change.
#[derive(Clone, Debug)]
pub struct HttpError {
    kind: HttpErrorKind,
    method: String,
    url: String,
    code: Option<ErrorCode>,
    message: String,
}

impl HttpError {
    pub fn kind(&self) -> &HttpErrorKind {
        &self.kind
    }

    /// The `wasi:http` error-code the host returned, if the failure came
    /// from the host or the network. For an error while a body streams,
    /// which wasmtime-wasi-http 48 reports as text only, the code that text
    /// names.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.code.as_ref()
    }

    /// The method of the failed request (after any redirect).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The URL of the failed request (after any redirect), as given when
    /// it could not be parsed.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn new(kind: HttpErrorKind, method: &str, url: String, message: String) -> Self {
        HttpError {
            kind,
            method: method.into(),
            url,
            code: None,
            message,
        }
    }

    pub(crate) fn invalid_url(method: &str, url: &str, why: &str) -> Self {
        let message = format!("cannot {method} {url}: {why}");
        HttpError::new(HttpErrorKind::InvalidUrl, method, url.into(), message)
    }

    pub(crate) fn invalid_method(method: &str, url: &str) -> Self {
        let message = format!(
            "cannot send {method:?} {url}: a method is a word of letters, digits and !#$%&'*+-.^_`|~"
        );
        HttpError::new(HttpErrorKind::InvalidRequest, method, url.into(), message)
    }

    pub(crate) fn bad_redirect(method: &str, url: &Url, location: &str, why: &str) -> Self {
        let message =
            format!("{method} {url} redirected to {location:?}, which cannot be followed: {why}");
        HttpError::new(HttpErrorKind::InvalidUrl, method, url.to_string(), message)
    }

    pub(crate) fn too_many_redirects(method: &str, first: &Url, last: &Url, hops: u32) -> Self {
        let message = format!(
            "{method} {first} failed: it redirected more than {hops} times (the last redirect was from {last})"
        );
        HttpError::new(
            HttpErrorKind::TooManyRedirects,
            method,
            first.to_string(),
            message,
        )
    }

    pub(crate) fn status(method: &str, url: &str, status: u16) -> Self {
        let message = format!(
            "{method} {url} failed: the server answered {}",
            status_line(status)
        );
        HttpError::new(HttpErrorKind::Status(status), method, url.into(), message)
    }

    pub(crate) fn decode(method: &str, url: &str, why: &dyn fmt::Display) -> Self {
        let message = format!("{method} {url}: the response is not the JSON expected: {why}");
        HttpError::new(HttpErrorKind::Decode, method, url.into(), message)
    }

    /// Put a transport failure into words. `redirected_from` is the URL the
    /// caller asked for, when `url` is where redirects led.
    pub(crate) fn from_failure(
        failure: Failure,
        method: &str,
        url: &Url,
        redirected_from: Option<&Url>,
    ) -> Self {
        let request = match redirected_from {
            Some(first) => format!("{method} {url} (redirected from {first})"),
            None => format!("{method} {url}"),
        };
        let (kind, message, code) = match failure {
            Failure::Code(code) => {
                let (kind, message) = describe_code(&code, &request, method, url);
                (kind, message, Some(code))
            }
            Failure::Header(name, error) => {
                let why = match error {
                    HeaderError::Forbidden => "the host does not let plugins set it",
                    HeaderError::InvalidSyntax => "its name or value is not valid",
                    HeaderError::Immutable => "the headers could not be changed",
                };
                let message = format!("cannot send {request}: header `{name}`: {why}");
                (HttpErrorKind::InvalidRequest, message, None)
            }
            Failure::Rejected(part) => {
                let message = format!("cannot send {request}: the host rejected its {part}");
                let kind = match part {
                    "method" => HttpErrorKind::InvalidRequest,
                    _ => HttpErrorKind::InvalidUrl,
                };
                (kind, message, None)
            }
            Failure::Io(why) => (
                HttpErrorKind::Other,
                format!("{request} failed: {why}"),
                None,
            ),
        };
        HttpError {
            kind,
            method: method.into(),
            url: url.to_string(),
            code,
            message,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for crate::ToolError {
    fn from(error: HttpError) -> Self {
        crate::ToolError::Failed(error.message)
    }
}

/// `(limit: N bytes)`, when the host says the limit.
fn limit(size: &Option<u64>) -> String {
    size.map(|n| format!(" (limit: {n} bytes)"))
        .unwrap_or_default()
}

fn describe_code(
    code: &ErrorCode,
    request: &str,
    method: &str,
    url: &Url,
) -> (HttpErrorKind, String) {
    use HttpErrorKind as K;
    let authority = url.authority();
    let host = &url.host;
    match code {
        ErrorCode::HttpRequestDenied => (
            K::Denied,
            format!(
                "the host denied {request}: no http grant of this plugin covers it. \
                 To allow it, add to the plugin's config:\n\
                 [[plugin.http.allow]]\nurl = \"{}/\"\nmethods = [\"{method}\"]",
                url.origin_with_port()
            ),
        ),
        ErrorCode::DestinationIpProhibited => (
            K::PrivateAddress,
            format!(
                "the host refused {request}: {host} resolves to a private, loopback or \
                 link-local address, and no http grant of this plugin allows that. To allow it, \
                 add `private = true` to the [[plugin.http.allow]] grant for url = \"{}/\" \
                 (or grant the address itself)",
                url.origin_with_port()
            ),
        ),
        ErrorCode::ConnectionLimitReached => (
            K::TooManyRequests,
            format!(
                "the host refused {request}: this call already made its `http.max_requests` \
                 requests (each redirect counts as one). Make fewer requests per call, or raise \
                 `max_requests` under [plugin.http] in the plugin's config"
            ),
        ),
        ErrorCode::HttpRequestBodySize(size) => (
            K::RequestTooLarge(*size),
            format!(
                "the host refused {request}: the request body is over the plugin's \
                 `http.request_bytes`{}. Send less, or raise `request_bytes` under [plugin.http] \
                 in the plugin's config",
                limit(size)
            ),
        ),
        ErrorCode::HttpResponseBodySize(size) => (
            K::ResponseTooLarge(*size),
            format!(
                "the host stopped {request}: the response body is over the plugin's \
                 `http.response_bytes`{}. Ask for less, or raise `response_bytes` under \
                 [plugin.http] in the plugin's config",
                limit(size)
            ),
        ),
        ErrorCode::ConnectionTimeout => (
            K::ConnectTimeout,
            format!(
                "{request} failed: connecting to {authority} took longer than the plugin's \
                 `http.connect_timeout_s`. Check that the server is up, or raise \
                 `connect_timeout_s` under [plugin.http] in the plugin's config"
            ),
        ),
        ErrorCode::HttpResponseTimeout | ErrorCode::ConnectionReadTimeout => (
            K::ResponseTimeout,
            format!(
                "{request} failed: the server did not answer within the plugin's \
                 `http.timeout_s`. Try again later, or raise `timeout_s` under [plugin.http] in \
                 the plugin's config"
            ),
        ),
        ErrorCode::DnsTimeout => (
            K::Dns,
            format!(
                "{request} failed: cannot resolve host {host}: the DNS lookup took longer than \
                 the plugin's `http.connect_timeout_s`"
            ),
        ),
        ErrorCode::DnsError(payload) => {
            let detail = match (&payload.rcode, payload.info_code) {
                (Some(rcode), Some(info)) => format!(" ({rcode}, info code {info})"),
                (Some(rcode), None) => format!(" ({rcode})"),
                (None, Some(info)) => format!(" (info code {info})"),
                (None, None) => String::new(),
            };
            (
                K::Dns,
                format!(
                    "{request} failed: cannot resolve host {host}{detail}. Check the host name"
                ),
            )
        }
        ErrorCode::DestinationNotFound => (
            K::Dns,
            format!(
                "{request} failed: cannot resolve host {host}: no such host. Check the host name"
            ),
        ),
        ErrorCode::HttpRequestMethodInvalid => (
            K::InvalidRequest,
            format!("cannot send {request}: the method is not valid"),
        ),
        ErrorCode::HttpRequestUriInvalid => (
            K::InvalidUrl,
            format!("cannot send {request}: the URL is not valid"),
        ),
        other => (
            K::Other,
            format!(
                "{request} failed: {} [{}]",
                describe_other(other, &authority),
                code_name(other)
            ),
        ),
    }
}

/// A readable rendering of the codes without a message of their own.
fn describe_other(code: &ErrorCode, authority: &str) -> String {
    let field = |payload: &Option<wasip2::http::types::FieldSizePayload>| {
        payload
            .as_ref()
            .and_then(|p| p.field_name.clone())
            .map(|name| format!(" `{name}`"))
            .unwrap_or_default()
    };
    match code {
        ErrorCode::DestinationUnavailable => format!("{authority} is unavailable"),
        ErrorCode::DestinationIpUnroutable => format!("there is no route to {authority}"),
        ErrorCode::ConnectionRefused => format!("{authority} refused the connection"),
        ErrorCode::ConnectionTerminated => {
            "the connection closed before the answer was complete".into()
        }
        ErrorCode::ConnectionWriteTimeout => "sending the request timed out".into(),
        ErrorCode::TlsProtocolError => "the TLS handshake failed".into(),
        ErrorCode::TlsCertificateError => {
            format!("the TLS certificate of {authority} is not valid")
        }
        ErrorCode::TlsAlertReceived(alert) => format!(
            "the server sent a TLS alert{}",
            alert
                .alert_message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        ErrorCode::HttpRequestLengthRequired => "the server wants a Content-Length".into(),
        ErrorCode::HttpRequestUriTooLong => "the URL is too long".into(),
        ErrorCode::HttpRequestHeaderSectionSize(_) => "the request headers are too large".into(),
        ErrorCode::HttpRequestHeaderSize(payload) => {
            format!("the request header{} is too large", field(payload))
        }
        ErrorCode::HttpRequestTrailerSectionSize(_) | ErrorCode::HttpRequestTrailerSize(_) => {
            "the request trailers are too large".into()
        }
        ErrorCode::HttpResponseIncomplete => "the response ended early".into(),
        ErrorCode::HttpResponseHeaderSectionSize(_) => "the response headers are too large".into(),
        ErrorCode::HttpResponseHeaderSize(payload) => format!(
            "the response header{} is too large",
            field(&Some(payload.clone()))
        ),
        ErrorCode::HttpResponseTrailerSectionSize(_) | ErrorCode::HttpResponseTrailerSize(_) => {
            "the response trailers are too large".into()
        }
        ErrorCode::HttpResponseTransferCoding(coding) => format!(
            "the response's transfer coding {} is not supported",
            coding.as_deref().unwrap_or("?")
        ),
        ErrorCode::HttpResponseContentCoding(coding) => format!(
            "the response's content coding {} is not supported",
            coding.as_deref().unwrap_or("?")
        ),
        ErrorCode::HttpUpgradeFailed => "the protocol upgrade failed".into(),
        ErrorCode::HttpProtocolError => "the server broke the HTTP protocol".into(),
        ErrorCode::LoopDetected => "the host detected a request loop".into(),
        ErrorCode::ConfigurationError => "the host's HTTP configuration is wrong".into(),
        ErrorCode::InternalError(why) => format!(
            "the host failed: {}",
            why.as_deref().unwrap_or("internal error")
        ),
        other => format!("{other:?}"),
    }
}

/// The code's name in the WIT, as the host's logs and docs spell it.
fn code_name(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::DnsTimeout => "DNS-timeout",
        ErrorCode::DnsError(_) => "DNS-error",
        ErrorCode::DestinationNotFound => "destination-not-found",
        ErrorCode::DestinationUnavailable => "destination-unavailable",
        ErrorCode::DestinationIpProhibited => "destination-IP-prohibited",
        ErrorCode::DestinationIpUnroutable => "destination-IP-unroutable",
        ErrorCode::ConnectionRefused => "connection-refused",
        ErrorCode::ConnectionTerminated => "connection-terminated",
        ErrorCode::ConnectionTimeout => "connection-timeout",
        ErrorCode::ConnectionReadTimeout => "connection-read-timeout",
        ErrorCode::ConnectionWriteTimeout => "connection-write-timeout",
        ErrorCode::ConnectionLimitReached => "connection-limit-reached",
        ErrorCode::TlsProtocolError => "TLS-protocol-error",
        ErrorCode::TlsCertificateError => "TLS-certificate-error",
        ErrorCode::TlsAlertReceived(_) => "TLS-alert-received",
        ErrorCode::HttpRequestDenied => "HTTP-request-denied",
        ErrorCode::HttpRequestLengthRequired => "HTTP-request-length-required",
        ErrorCode::HttpRequestBodySize(_) => "HTTP-request-body-size",
        ErrorCode::HttpRequestMethodInvalid => "HTTP-request-method-invalid",
        ErrorCode::HttpRequestUriInvalid => "HTTP-request-URI-invalid",
        ErrorCode::HttpRequestUriTooLong => "HTTP-request-URI-too-long",
        ErrorCode::HttpRequestHeaderSectionSize(_) => "HTTP-request-header-section-size",
        ErrorCode::HttpRequestHeaderSize(_) => "HTTP-request-header-size",
        ErrorCode::HttpRequestTrailerSectionSize(_) => "HTTP-request-trailer-section-size",
        ErrorCode::HttpRequestTrailerSize(_) => "HTTP-request-trailer-size",
        ErrorCode::HttpResponseIncomplete => "HTTP-response-incomplete",
        ErrorCode::HttpResponseHeaderSectionSize(_) => "HTTP-response-header-section-size",
        ErrorCode::HttpResponseHeaderSize(_) => "HTTP-response-header-size",
        ErrorCode::HttpResponseBodySize(_) => "HTTP-response-body-size",
        ErrorCode::HttpResponseTrailerSectionSize(_) => "HTTP-response-trailer-section-size",
        ErrorCode::HttpResponseTrailerSize(_) => "HTTP-response-trailer-size",
        ErrorCode::HttpResponseTransferCoding(_) => "HTTP-response-transfer-coding",
        ErrorCode::HttpResponseContentCoding(_) => "HTTP-response-content-coding",
        ErrorCode::HttpResponseTimeout => "HTTP-response-timeout",
        ErrorCode::HttpUpgradeFailed => "HTTP-upgrade-failed",
        ErrorCode::HttpProtocolError => "HTTP-protocol-error",
        ErrorCode::LoopDetected => "loop-detected",
        ErrorCode::ConfigurationError => "configuration-error",
        ErrorCode::InternalError(_) => "internal-error",
    }
}

/// `404 Not Found`, or just `599` for a status without a common name.
pub(crate) fn status_line(status: u16) -> String {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return status.to_string(),
    };
    format!("{status} {reason}")
}
