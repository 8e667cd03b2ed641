//! One request and its response over `wasi:http/outgoing-handler`, with
//! blocking calls: a tool call is synchronous and makes one request at a
//! time, so there is nothing to run concurrently.
//!
//! Every failure keeps the host's `error-code`, wherever it shows up: from
//! `handle`, from the response future, or from the body streams (through
//! `http-error-code`), since that code is what tells the plugin which grant
//! or limit stopped it.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, HeaderError, IncomingBody, IncomingResponse, Method,
    OutgoingBody, OutgoingRequest, Scheme, http_error_code,
};
use wasip2::io::error::Error as IoError;
use wasip2::io::streams::{OutputStream, StreamError};

use super::url::Url;

/// Why an exchange failed, before it is put into words with the method and
/// URL by [`super::HttpError`].
#[derive(Debug)]
pub(crate) enum Failure {
    /// The host (or the server, through it) reported an `error-code`.
    Code(ErrorCode),
    /// The host refused a header.
    Header(String, HeaderError),
    /// The host refused a part of the request head ("method", "path"...).
    Rejected(&'static str),
    /// A stream failed without an `error-code`.
    Io(String),
}

/// A response whose body is still to be read.
pub(crate) struct Head {
    pub(crate) status: u16,
    /// Names in lowercase; values decoded as UTF-8, lossily.
    pub(crate) headers: Vec<(String, String)>,
    response: IncomingResponse,
}

/// Send one request and wait for the head of its response.
pub(crate) fn send(
    method: &str,
    url: &Url,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<Head, Failure> {
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|e| Failure::Header(name.clone(), e))?;
    }
    let request = OutgoingRequest::new(fields);
    request
        .set_method(&wasi_method(method))
        .map_err(|()| Failure::Rejected("method"))?;
    let scheme = if url.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| Failure::Rejected("scheme"))?;
    request
        .set_authority(Some(&url.authority()))
        .map_err(|()| Failure::Rejected("host"))?;
    request
        .set_path_with_query(Some(&url.path_and_query))
        .map_err(|()| Failure::Rejected("path"))?;
    let outgoing_body = request
        .body()
        .map_err(|()| Failure::Io("the request body was already taken".into()))?;
    let pending = outgoing_handler::handle(request, None).map_err(Failure::Code)?;

    let sent = write_body(outgoing_body, body.unwrap_or_default());
    // Wait for the answer even when the upload failed: when the host stops
    // a request, the body stream only says "closed", and the response says
    // why (denied, too large...).
    let response = wait(pending)?;
    match sent {
        // A server may answer before reading the whole body (413, say):
        // its answer says more than the closed stream.
        Err(Failure::Io(_)) | Ok(()) => {}
        Err(failure) => return Err(failure),
    }
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                String::from_utf8_lossy(&value).into_owned(),
            )
        })
        .collect();
    Ok(Head {
        status: response.status(),
        headers,
        response,
    })
}

impl Head {
    /// Read the whole body. The host stops it at the plugin's
    /// `response_bytes` with `HTTP-response-body-size`.
    pub(crate) fn read_body(self) -> Result<Vec<u8>, Failure> {
        let body = self
            .response
            .consume()
            .map_err(|()| Failure::Io("the response body was already taken".into()))?;
        let mut data = Vec::new();
        {
            let stream = body
                .stream()
                .map_err(|()| Failure::Io("the response body stream was already taken".into()))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => data.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => return Err(stream_failure(&e)),
                }
            }
            // The stream is a child of the body: it goes first.
        }
        // Trailers are not used; dropping the future is enough.
        drop(IncomingBody::finish(body));
        Ok(data)
    }
}

fn wasi_method(method: &str) -> Method {
    match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.into()),
    }
}

fn write_body(body: OutgoingBody, data: &[u8]) -> Result<(), Failure> {
    {
        let stream = body
            .write()
            .map_err(|()| Failure::Io("the request body stream was already taken".into()))?;
        write_all(&stream, data)?;
        // The stream is a child of the body: it goes before `finish`.
    }
    OutgoingBody::finish(body, None).map_err(Failure::Code)
}

fn write_all(stream: &OutputStream, mut data: &[u8]) -> Result<(), Failure> {
    let failed = |error: StreamError| match error {
        StreamError::LastOperationFailed(e) => stream_failure(&e),
        StreamError::Closed => Failure::Io("the host closed the request body".into()),
    };
    while !data.is_empty() {
        let permitted = match stream.check_write().map_err(failed)? {
            0 => {
                stream.subscribe().block();
                continue;
            }
            n => usize::try_from(n).unwrap_or(usize::MAX).min(data.len()),
        };
        stream.write(&data[..permitted]).map_err(failed)?;
        data = &data[permitted..];
    }
    stream.blocking_flush().map_err(failed)
}

fn wait(pending: FutureIncomingResponse) -> Result<IncomingResponse, Failure> {
    pending.subscribe().block();
    match pending.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(Failure::Code(code)),
        Some(Err(())) | None => Err(Failure::Io("the host lost the response".into())),
    }
}

fn stream_failure(error: &IoError) -> Failure {
    let debug = error.to_debug_string();
    match http_error_code(error).or_else(|| recognize(&debug)) {
        Some(code) => Failure::Code(code),
        None => Failure::Io(debug),
    }
}

/// The code behind a body-stream error that `http-error-code` does not
/// give. wasmtime-wasi-http 48 stores a body's errors (the host's size
/// limit and deadline among them) in a type `http-error-code` does not
/// look for, so it answers `none`; the error's text still says which code
/// it was, in wasmtime's words.
fn recognize(debug: &str) -> Option<ErrorCode> {
    let size = |rest: &str| {
        rest.strip_prefix(": ")
            .and_then(|r| r.strip_suffix(" bytes"))
            .and_then(|n| n.parse().ok())
    };
    if let Some(rest) = debug.strip_prefix("HTTP response body size exceeds limit") {
        return Some(ErrorCode::HttpResponseBodySize(size(rest)));
    }
    if let Some(rest) = debug.strip_prefix("HTTP request body size exceeds limit") {
        return Some(ErrorCode::HttpRequestBodySize(size(rest)));
    }
    Some(match debug {
        "HTTP response timeout" => ErrorCode::HttpResponseTimeout,
        "connection read timeout" => ErrorCode::ConnectionReadTimeout,
        "connection timeout" => ErrorCode::ConnectionTimeout,
        "connection terminated" => ErrorCode::ConnectionTerminated,
        "incomplete HTTP response" => ErrorCode::HttpResponseIncomplete,
        "HTTP protocol error" => ErrorCode::HttpProtocolError,
        _ => return None,
    })
}
