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
use crate::replica_sessions::ReplicaSessions;
pub use crate::replica_sessions::parse_replica_id;
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
        while let Some(line) = read_line(&mut input).await {
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
/// over [`MAX_STDIO_LINE`] (the rest of which is skipped), or `None` at the
/// end of input.
async fn read_line(
    input: &mut (impl tokio::io::AsyncBufRead + Unpin),
) -> Option<Result<Vec<u8>, jsonrpc::Rejected>> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = match input.fill_buf().await {
            Ok([]) | Err(_) => return (!line.is_empty()).then_some(Ok(line)),
            Ok(available) => available,
        };
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (&available[..end], end + 1),
            None => (available, available.len()),
        };
        if !too_long && line.len() + chunk.len() <= MAX_STDIO_LINE {
            line.extend_from_slice(chunk);
        } else {
            too_long = true;
            line.clear();
        }
        let found_end = done > chunk.len();
        input.consume(done);
        if found_end {
            return Some(if too_long {
                Err(jsonrpc::Rejected {
                    id: None,
                    error: rmcp::model::ErrorData::invalid_request(
                        format!("Invalid Request: the line is longer than {MAX_STDIO_LINE} bytes"),
                        None,
                    ),
                })
            } else {
                Ok(line)
            });
        }
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
    // The peer address reaches handlers: 2026-07-28 clients, which have no
    // session, are told apart by it for per-client limits.
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    // Each event of a call's stream goes out when written, not after the
    // client's delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("the HTTP server failed")
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
/// JSON-RPC gets a JSON-RPC error (rmcp says text/plain 415), and no new
/// session is opened past `max_sessions`.
struct BodyGuard {
    sessions: Arc<ReplicaSessions>,
    max_sessions: usize,
    max_request_bytes: usize,
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
        let Ok(bytes) = axum::body::to_bytes(body, self.max_request_bytes).await else {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Payload Too Large: request body exceeds {} bytes (--max-request-bytes)",
                    self.max_request_bytes
                ),
            )
                .into_response();
        };
        if !parts.headers.contains_key("mcp-session-id")
            && self.sessions.count().await >= self.max_sessions
            && let Ok(ClientJsonRpcMessage::Request(opening)) = jsonrpc::parse(&bytes)
            && matches!(opening.request, ClientRequest::InitializeRequest(_))
        {
            let refused = jsonrpc::Rejected {
                id: Some(opening.id),
                error: rmcp::model::ErrorData::internal_error(
                    format!(
                        "the server has {} live sessions, the most it keeps (--max-sessions); close one (HTTP DELETE) or try again later",
                        self.max_sessions
                    ),
                    None,
                ),
            };
            return json_rpc_response(StatusCode::SERVICE_UNAVAILABLE, refused);
        }
        let sent_json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let response = next
            .run(axum::extract::Request::from_parts(
                parts,
                bytes.clone().into(),
            ))
            .await;
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
