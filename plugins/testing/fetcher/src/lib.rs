//! Test plugin: outbound HTTP and settings, so integration tests can check
//! what the host allows, refuses and reports. The tools go through the SDK
//! (`fetch`, `upload`, `fetch_many`, `config_get`, `config_all`), except
//! `raw_fetch`, which uses `wasi:http/outgoing-handler` directly and reports
//! the host's error-code exactly.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use wasm_mcp_sdk::http::Request;
use wasm_mcp_sdk::{JsonSchema, ToolError, config, tools};

#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Fetch {
    /// The URL to request.
    url: String,
    /// The method (default GET).
    method: Option<String>,
    /// The request body, as text.
    body: Option<String>,
    /// Request headers, by name.
    headers: Option<BTreeMap<String, String>>,
    /// Follow redirects (default true).
    follow: Option<bool>,
}

fn fetch(args: Fetch) -> Result<String, ToolError> {
    let method = args.method.unwrap_or_else(|| "GET".into());
    let mut request = Request::new(method, args.url).follow_redirects(args.follow.unwrap_or(true));
    for (name, value) in args.headers.unwrap_or_default() {
        request = request.header(name, value);
    }
    if let Some(body) = args.body {
        request = request.body(body);
    }
    let response = request.send()?;
    let mut headers = Map::new();
    for (name, value) in &response.headers {
        let name = name.to_ascii_lowercase();
        // A header sent twice reads as one, its values joined.
        let joined = match headers.get(&name).and_then(Value::as_str) {
            Some(earlier) => format!("{earlier}, {value}"),
            None => value.clone(),
        };
        headers.insert(name, joined.into());
    }
    Ok(json!({
        "status": response.status,
        "body": response.text()?,
        "headers": headers,
    })
    .to_string())
}

#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Upload {
    /// Where to POST.
    url: String,
    /// How many `x` bytes to send.
    bytes: u64,
}

fn upload(Upload { url, bytes }: Upload) -> Result<String, ToolError> {
    let size = usize::try_from(bytes)
        .map_err(|_| ToolError::InvalidArguments(format!("{bytes} bytes do not fit in memory")))?;
    let response = Request::post(url)
        .header("content-type", "application/octet-stream")
        .body(vec![b'x'; size])
        .send()?;
    Ok(response.status.to_string())
}

#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FetchMany {
    /// The URL to GET, again and again.
    url: String,
    /// How many times.
    count: u32,
}

fn fetch_many(FetchMany { url, count }: FetchMany) -> Result<String, ToolError> {
    for attempt in 1..=count {
        wasm_mcp_sdk::fetch(&url)
            .map_err(|e| ToolError::Failed(format!("request {attempt}: {e}")))?;
    }
    Ok(count.to_string())
}

#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ConfigGet {
    /// The setting's name.
    key: String,
}

fn config_get(ConfigGet { key }: ConfigGet) -> Result<String, ToolError> {
    Ok(config::get(&key).unwrap_or_else(|| "(unset)".into()))
}

#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

fn config_all(_: NoArgs) -> Result<String, ToolError> {
    let sorted: BTreeMap<String, String> = config::get_all().into_iter().collect();
    Ok(json!(sorted).to_string())
}

#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    /// An absolute http or https URL.
    url: String,
}

fn raw_fetch(RawFetch { url }: RawFetch) -> Result<String, ToolError> {
    raw::get(&url).map(|status| status.to_string())
}

/// `GET` over `wasi:http` itself, no SDK: what a plugin in any language
/// would see.
mod raw {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
        http_error_code,
    };
    use wasip2::io::streams::StreamError;
    use wasm_mcp_sdk::ToolError;

    fn code(code: ErrorCode) -> ToolError {
        ToolError::Failed(format!("raw wasi:http error-code: {code:?}"))
    }

    fn other(what: &str) -> ToolError {
        ToolError::Failed(format!("raw wasi:http: {what}"))
    }

    /// Send `GET url`, read the whole body, and return the status.
    pub fn get(url: &str) -> Result<u16, ToolError> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else {
            return Err(ToolError::InvalidArguments(format!(
                "{url}: want an http:// or https:// URL"
            )));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };

        let request = OutgoingRequest::new(Fields::new());
        request
            .set_method(&Method::Get)
            .map_err(|()| other("method rejected"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| other("scheme rejected"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| other("authority rejected"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|()| other("path rejected"))?;
        let body = request.body().map_err(|()| other("no request body"))?;
        let pending = outgoing_handler::handle(request, None).map_err(code)?;
        OutgoingBody::finish(body, None).map_err(code)?;

        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(error))) => return Err(code(error)),
            Some(Err(())) | None => return Err(other("no response")),
        };
        let status = response.status();
        let body = response.consume().map_err(|()| other("no response body"))?;
        {
            let stream = body.stream().map_err(|()| other("no body stream"))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(_) => {}
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(match http_error_code(&e) {
                            Some(error) => code(error),
                            None => other(&format!(
                                "body stream error without an error-code: {}",
                                e.to_debug_string()
                            )),
                        });
                    }
                }
            }
        }
        drop(IncomingBody::finish(body));
        Ok(status)
    }
}

tools! {
    fetch(Fetch) [open_world] => "Sends an HTTP request through the SDK; returns {status, body, headers} as JSON.",
    upload(Upload) [open_world] => "POSTs `bytes` bytes of `x` through the SDK; returns the status.",
    fetch_many(FetchMany) [open_world] => "GETs `url` `count` times through the SDK; returns how many succeeded.",
    config_get(ConfigGet) [read_only, closed_world] => "Returns setting `key`, or `(unset)`.",
    config_all(NoArgs) [read_only, closed_world] => "Returns every setting as a JSON object, keys sorted.",
    raw_fetch(RawFetch) [open_world] => "GETs `url` over raw wasi:http; returns the status, or the host's error-code.",
}
