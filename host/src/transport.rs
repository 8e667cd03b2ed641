//! The two ways clients reach the host: stdio, for clients that spawn
//! servers, and streamable HTTP (axum + rmcp's tower service) at `/mcp`.
//!
//! Both answer every request, malformed ones included ([`crate::jsonrpc`]).
//! HTTP is hardened for a server on a developer's machine: it binds to
//! loopback by default, validates `Host` and `Origin` (DNS rebinding),
//! limits request bodies and live sessions, and can require a bearer token
//! on every request.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, PollSender};

use crate::jsonrpc;
pub use crate::replica_sessions::parse_replica_id;
use crate::replica_sessions::{ReplicaSessions, SessionReservation};
use crate::server::McpServer;

/// The longest line read from stdin; a longer one is answered and skipped.
const MAX_STDIO_LINE: usize = 16 * 1024 * 1024;

/// Serve one client over stdin/stdout until it closes the stream.
pub async fn serve_stdio(server: McpServer) -> Result<()> {
    serve_stdio_on(server, stdin(), stdout()).await
}

/// Standard input. A pipe (how clients spawn servers) is read without
/// blocking, on the runtime's own event loop; anything else (a file, a
/// terminal) through tokio's stdin, which reads on a helper thread.
fn stdin() -> Box<dyn tokio::io::AsyncRead + Send + Unpin> {
    let pipe = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .and_then(|fd| tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok());
    match pipe {
        Some(pipe) => Box::new(pipe),
        None => Box::new(tokio::io::stdin()),
    }
}

/// Standard output: a pipe is written without blocking, as [`stdin`] reads.
fn stdout() -> Box<dyn tokio::io::AsyncWrite + Send + Unpin> {
    let pipe = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .and_then(|fd| tokio::net::unix::pipe::Sender::from_owned_fd(fd).ok());
    match pipe {
        Some(pipe) => Box::new(pipe),
        None => Box::new(tokio::io::stdout()),
    }
}

/// Serve one client over a pair of byte streams, one JSON-RPC message a
/// line. Our reader parses each line; what does not parse is answered here
/// (see [`crate::jsonrpc`]). One writer task puts rmcp's messages and these
/// answers on the output, a whole line at a time.
pub async fn serve_stdio_on(
    server: McpServer,
    input: impl tokio::io::AsyncRead + Send + Unpin + 'static,
    output: impl tokio::io::AsyncWrite + Send + Unpin + 'static,
) -> Result<()> {
    let (outgoing, to_write) = mpsc::channel::<ServerJsonRpcMessage>(64);
    let (incoming, received) = mpsc::channel::<ClientJsonRpcMessage>(64);
    let writer = tokio::spawn(write_lines(to_write, output));
    let answers = outgoing.clone();
    tokio::spawn(async move {
        let mut input = tokio::io::BufReader::new(input);
        while let Some(line) = read_line(&mut input, MAX_STDIO_LINE).await {
            let parsed = match line {
                Ok(line) if line.trim_ascii().is_empty() => continue,
                Ok(line) => jsonrpc::parse(&line),
                Err(rejected) => Err(Some(rejected)),
            };
            let delivered = match parsed {
                Ok(message) => incoming.send(message).await.is_ok(),
                Err(Some(rejected)) => answers.send(rejected.into_message()).await.is_ok(),
                Err(None) => true,
            };
            if !delivered {
                break;
            }
        }
    });
    let transport = (PollSender::new(outgoing), tokio_stream_of(received));
    let running = server
        .serve(transport)
        .await
        .context("the MCP handshake over stdio failed")?;
    running.waiting().await?;
    let _ = writer.await;
    Ok(())
}

fn tokio_stream_of<T: Send + 'static>(
    mut receiver: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + Unpin + 'static {
    Box::pin(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
}

/// The next line of `input` (without its newline), an answer for a line
/// over `max` bytes (the rest of which is skipped, the next line read), or
/// `None` at the end of input. `max` is [`MAX_STDIO_LINE`] but for tests.
pub(crate) async fn read_line(
    input: &mut (impl tokio::io::AsyncBufRead + Unpin),
    max: usize,
) -> Option<Result<Vec<u8>, jsonrpc::Rejected>> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = match input.fill_buf().await {
            // A last line without its newline is answered like any other.
            Ok([]) | Err(_) if too_long => return Some(Err(line_too_long(max))),
            Ok([]) | Err(_) => return (!line.is_empty()).then_some(Ok(line)),
            Ok(available) => available,
        };
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (&available[..end], end + 1),
            None => (available, available.len()),
        };
        if !too_long && line.len() + chunk.len() <= max {
            line.extend_from_slice(chunk);
        } else {
            too_long = true;
            line.clear();
        }
        let found_end = done > chunk.len();
        input.consume(done);
        if found_end {
            return Some(if too_long {
                Err(line_too_long(max))
            } else {
                Ok(line)
            });
        }
    }
}

/// The answer for a line over `max` bytes, whose id was never read.
fn line_too_long(max: usize) -> jsonrpc::Rejected {
    jsonrpc::Rejected {
        id: None,
        error: rmcp::model::ErrorData::invalid_request(
            format!(
                "Invalid Request: the line is longer than {max} bytes; send one message a line"
            ),
            None,
        ),
    }
}

/// Write each message as one line, flushed.
async fn write_lines(
    mut messages: mpsc::Receiver<ServerJsonRpcMessage>,
    mut output: impl tokio::io::AsyncWrite + Unpin,
) {
    while let Some(message) = messages.recv().await {
        let mut line = match serde_json::to_vec(&message) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!("cannot serialise a message for stdout: {error}");
                continue;
            }
        };
        line.push(b'\n');
        if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
            return;
        }
    }
}

/// Who may talk to the HTTP endpoint.
pub struct HttpOptions {
    /// Extra `Host` values to accept besides loopback names.
    pub allowed_hosts: Vec<String>,
    /// Extra browser origins to accept besides loopback origins.
    pub allowed_origins: Vec<String>,
    /// When set, every request must carry `Authorization: Bearer <token>`.
    pub auth_token: Option<String>,
    pub max_request_bytes: usize,
    /// Legacy sessions alive at once; more `initialize` requests get 503.
    pub max_sessions: usize,
    /// Serve `/metrics` (Prometheus text format).
    pub metrics: bool,
    /// `/healthz`, and refusing new requests while draining on `SIGTERM`.
    pub drain: Arc<crate::drain::Drain>,
    /// This replica's name in session ids (`--replica-id`).
    pub replica_id: Option<String>,
    /// Open connections at most (in all and per client), and how long a
    /// request head may take (see [`crate::connections`]).
    pub connections: crate::connections::ConnectionLimits,
    /// How long a request body may take to arrive in full (`--body-timeout-s`).
    pub body_timeout: std::time::Duration,
}

/// Serve streamable HTTP on `listen` at `/mcp` until `shutdown` is cancelled.
pub async fn serve_http(
    server: McpServer,
    listen: SocketAddr,
    options: HttpOptions,
    shutdown: CancellationToken,
) -> Result<()> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    if !listen.ip().is_unspecified() && !listen.ip().is_loopback() {
        hosts.push(listen.ip().to_string());
    }
    hosts.extend(options.allowed_hosts);
    let mut origins: Vec<String> = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]
        .map(String::from)
        .to_vec();
    origins.extend(options.allowed_origins);
    // Our strict check runs first; rmcp's own stays behind it.
    let allowed = Arc::new(crate::authority::AllowList::new(&hosts, &origins)?);
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown.child_token())
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .with_max_request_body_bytes(options.max_request_bytes)
        // A 2026-07-28 request whose first message is its answer gets a
        // plain JSON reply, not an event stream (legacy sessions keep SSE).
        .with_json_response(true);
    let sessions = Arc::new(ReplicaSessions::named(options.replica_id));
    let gauges = server.clone();
    let service =
        StreamableHttpService::new(move || Ok(server.for_session()), sessions.clone(), config);
    let rules = service.clone();
    let token = options.auth_token.map(Arc::<str>::from);
    let guard = Arc::new(BodyGuard {
        sessions,
        max_sessions: options.max_sessions,
        max_request_bytes: options.max_request_bytes,
        body_timeout: options.body_timeout,
    });
    let mut router = axum::Router::new().nest_service("/mcp", service);
    if options.metrics {
        // Under the same token layer as /mcp, and held to its Host and
        // Origin rules by asking the MCP service itself.
        router = router.route(
            "/metrics",
            axum::routing::get(
                move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
                    let (gauges, rules) = (gauges.clone(), rules.clone());
                    async move {
                        if let Some(refused) = refused_by_mcp_rules(&rules, uri, &headers).await {
                            return refused;
                        }
                        gauges.observe_gauges();
                        (
                            [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
                            crate::metrics::get().encode(),
                        )
                            .into_response()
                    }
                },
            ),
        );
    }
    let drain = options.drain.clone();
    let router = router
        .layer(axum::middleware::from_fn(move |request, next| {
            drain.clone().track(request, next)
        }))
        .layer(axum::middleware::from_fn(session_delete_ok))
        .layer(axum::middleware::from_fn(move |request, next| {
            guard.clone().check(request, next)
        }))
        .layer(axum::middleware::from_fn(move |request, next| {
            check_authority(allowed.clone(), request, next)
        }))
        .layer(axum::middleware::from_fn(move |request, next| {
            require_token(token.clone(), request, next)
        }))
        // For load balancers: outside the token and Host checks, and says
        // nothing but whether this replica takes work.
        .route(
            "/healthz",
            axum::routing::get({
                let drain = options.drain.clone();
                move || async move { drain.health() }
            }),
        );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {listen}: is another server using it? pick another with --listen"
            )
        })?;
    let local = listener.local_addr()?;
    // Tests and scripts read this line to find the port when asked for port 0.
    eprintln!("wasm-mcp: serving MCP at http://{local}/mcp");
    tracing::info!("serving MCP over streamable HTTP at http://{local}/mcp");
    if let Some(limit) = crate::connections::descriptor_shortfall(options.connections.max_total) {
        tracing::warn!(
            max_connections = options.connections.max_total,
            descriptor_limit = limit,
            "--max-connections is not below the process's file-descriptor limit (`ulimit -n`): a flood of connections could leave none for plugins; lower it or raise the limit"
        );
    }
    // The peer address reaches handlers as `ConnectInfo` (2026-07-28
    // clients, which have no session, are told apart by it); connections
    // are capped and slow request heads timed out.
    crate::connections::serve(listener, router, options.connections, shutdown).await;
    Ok(())
}

/// The MCP service's answer when it would refuse a request with these
/// `Host` and `Origin` headers (403, or 400 without a host): the same DNS
/// rebinding rules for `/metrics` as for `/mcp`, with no second copy of
/// them. An `OPTIONS` probe passes those checks and then gets 405.
async fn refused_by_mcp_rules(
    rules: &StreamableHttpService<McpServer, ReplicaSessions>,
    uri: axum::http::Uri,
    headers: &axum::http::HeaderMap,
) -> Option<Response> {
    let mut probe = axum::http::Request::builder()
        .method(axum::http::Method::OPTIONS)
        .uri(uri);
    for name in [header::HOST, header::ORIGIN] {
        for value in headers.get_all(&name) {
            probe = probe.header(&name, value);
        }
    }
    let probe = probe.body(axum::body::Body::empty()).ok()?;
    let answer = rules.handle(probe).await;
    (answer.status() != StatusCode::METHOD_NOT_ALLOWED).then(|| answer.map(axum::body::Body::new))
}

/// What the HTTP layer checks of a POST body that rmcp does not: malformed
/// JSON-RPC gets a JSON-RPC error (rmcp says text/plain 415), a body that
/// stalls gets 408, and no new session is opened past `max_sessions`.
struct BodyGuard {
    sessions: Arc<ReplicaSessions>,
    max_sessions: usize,
    max_request_bytes: usize,
    body_timeout: std::time::Duration,
}

impl BodyGuard {
    async fn check(
        self: Arc<Self>,
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> Response {
        if request.method() != axum::http::Method::POST {
            return next.run(request).await;
        }
        let (parts, body) = request.into_parts();
        let bytes = match self.read_body(body).await {
            Ok(bytes) => bytes,
            Err(refused) => return refused,
        };
        // Held until rmcp opens the session (which then counts instead) or
        // answers without one.
        let place = match self.reserve_session(&parts, &bytes).await {
            Ok(place) => place,
            Err(refused) => return refused,
        };
        // MCP has no batches since 2025-06-18; rmcp would answer one 202 and
        // nothing else, leaving the client waiting.
        if jsonrpc::is_batch(&bytes) {
            return json_rpc_response(StatusCode::BAD_REQUEST, jsonrpc::batch_rejected());
        }
        let sent_json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let request = axum::extract::Request::from_parts(parts, bytes.clone().into());
        let response = SessionReservation::within(place.as_ref(), next.run(request)).await;
        // rmcp's 415 for a JSON body means it could not parse it.
        if response.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE || !sent_json {
            return response;
        }
        match jsonrpc::parse(&bytes) {
            Err(Some(rejected)) => json_rpc_response(StatusCode::BAD_REQUEST, rejected),
            Err(None) => StatusCode::ACCEPTED.into_response(),
            Ok(_) => response,
        }
    }
}

impl BodyGuard {
    /// The whole request body, or the answer when it is over
    /// `max_request_bytes` (413) or has not arrived within `body_timeout`
    /// (408): a client that promises a body and stalls holds its connection
    /// no longer than that.
    async fn read_body(&self, body: axum::body::Body) -> Result<axum::body::Bytes, Response> {
        let read = axum::body::to_bytes(body, self.max_request_bytes);
        match tokio::time::timeout(self.body_timeout, read).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(_)) => Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Payload Too Large: request body exceeds {} bytes (--max-request-bytes)",
                    self.max_request_bytes
                ),
            )
                .into_response()),
            Err(_elapsed) => Err((
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, "close")],
                format!(
                    "Request Timeout: the request body did not arrive within {} s (--body-timeout-s); send the whole body at once",
                    self.body_timeout.as_secs()
                ),
            )
                .into_response()),
        }
    }

    /// For an `initialize` that would open a session, a place among
    /// `max_sessions` taken in the same step as the count is checked, so
    /// concurrent ones cannot all pass (a JSON-RPC 503 when there is none);
    /// nothing for any other request.
    async fn reserve_session(
        &self,
        parts: &axum::http::request::Parts,
        bytes: &[u8],
    ) -> Result<Option<SessionReservation>, Response> {
        if parts.headers.contains_key("mcp-session-id") || !is_initialize(bytes) {
            return Ok(None);
        }
        let Ok(ClientJsonRpcMessage::Request(opening)) = jsonrpc::parse(bytes) else {
            return Ok(None);
        };
        if !matches!(opening.request, ClientRequest::InitializeRequest(_)) {
            return Ok(None);
        }
        if let Some(place) = self.sessions.reserve(self.max_sessions).await {
            return Ok(Some(place));
        }
        let refused = jsonrpc::Rejected {
            id: Some(opening.id),
            error: rmcp::model::ErrorData::internal_error(
                format!(
                    "the server has {} sessions live or opening, the most it keeps (--max-sessions); close one (HTTP DELETE) or try again later",
                    self.max_sessions
                ),
                None,
            ),
        };
        Err(json_rpc_response(StatusCode::SERVICE_UNAVAILABLE, refused))
    }
}

/// Whether `bytes` is an `initialize` request, read without building the
/// message: every 2026-07-28 request comes without a session id, and its
/// body (up to `--max-request-bytes`) is parsed once, by rmcp, unless it is
/// one.
fn is_initialize(bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Method<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Method>(bytes)
        .is_ok_and(|message| message.method.as_deref() == Some("initialize"))
}

fn json_rpc_response(status: StatusCode, rejected: jsonrpc::Rejected) -> Response {
    let mut body = serde_json::to_value(rejected.into_message()).unwrap_or_default();
    if let Some(object) = body.as_object_mut() {
        object.entry("id").or_insert(serde_json::Value::Null);
    }
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Refuse a request whose `Host` or `Origin` is not on the list (400 or
/// 403, plain text) before its body is read or rmcp sees it: rmcp's own
/// parse of these headers drops trailing text (`[::1].evil.test`).
async fn check_authority(
    allowed: Arc<crate::authority::AllowList>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match allowed.check(request.headers(), request.uri()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => (
            refusal.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            refusal.message,
        )
            .into_response(),
    }
}

/// rmcp answers a session `DELETE` with 202; clients of the Python SDK 1.x
/// expect 200 and print "Session termination failed: 202" on every exit.
/// The session is gone either way, so say 200.
async fn session_delete_ok(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let is_delete = request.method() == axum::http::Method::DELETE;
    let mut response = next.run(request).await;
    if is_delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    response
}

/// With a token configured, refuse any request without it (401). The scheme
/// is case-insensitive (RFC 9110); the token is compared in constant time.
async fn require_token(
    expected: Option<Arc<str>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(expected) = expected {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        if !presented.is_some_and(|token| token_matches(token, &expected)) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "Unauthorized: this server requires `Authorization: Bearer <token>` (see --auth-token-file)",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Compare secrets without leaking where they differ through timing.
fn token_matches(presented: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    presented.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod body_guard_tests {
    use std::time::Duration;

    use super::*;

    fn guard(max_sessions: usize, body_timeout: Duration) -> BodyGuard {
        BodyGuard {
            sessions: Arc::new(ReplicaSessions::named(None)),
            max_sessions,
            max_request_bytes: 1024,
            body_timeout,
        }
    }

    /// A body promised and never sent is answered 408 once the body
    /// timeout passes, instead of holding the connection.
    #[tokio::test]
    async fn a_stalled_body_gets_408() {
        let stalled = axum::body::Body::from_stream(futures::stream::pending::<
            Result<axum::body::Bytes, std::io::Error>,
        >());
        let refused = guard(1, Duration::from_millis(50))
            .read_body(stalled)
            .await
            .unwrap_err();
        assert_eq!(refused.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(refused.headers()[header::CONNECTION], "close");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_gets_413() {
        let big = axum::body::Body::from(vec![b'x'; 2048]);
        let refused = guard(1, Duration::from_secs(5))
            .read_body(big)
            .await
            .unwrap_err();
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    /// Two `initialize` requests in flight at once, before either session
    /// exists, cannot both pass a cap of one: the first holds the place.
    #[tokio::test]
    async fn initializes_in_flight_cannot_both_pass_the_session_cap() {
        let guard = guard(1, Duration::from_secs(5));
        let (parts, ()) = axum::http::Request::builder()
            .method(axum::http::Method::POST)
            .body(())
            .unwrap()
            .into_parts();
        let initialize = |id: u32| {
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "racer", "version": "1"}
            }})
            .to_string()
        };
        let first = guard
            .reserve_session(&parts, initialize(1).as_bytes())
            .await
            .unwrap();
        assert!(first.is_some(), "the first initialize takes the place");
        let second = guard
            .reserve_session(&parts, initialize(2).as_bytes())
            .await
            .unwrap_err();
        assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
        let ping = br#"{"jsonrpc": "2.0", "id": 3, "method": "ping"}"#;
        assert!(
            guard.reserve_session(&parts, ping).await.unwrap().is_none(),
            "other requests need no place"
        );
        drop(first);
        assert!(
            guard
                .reserve_session(&parts, initialize(4).as_bytes())
                .await
                .unwrap()
                .is_some(),
            "an initialize that opened no session gives its place back"
        );
    }
}
