//! The two ways clients reach the host: stdio, for clients that spawn
//! servers, and streamable HTTP (axum + rmcp's tower service) at `/mcp`.
//!
//! HTTP is hardened for a server on a developer's machine: it binds to
//! loopback by default, validates `Host` and `Origin` (DNS rebinding),
//! limits request bodies, and can require a bearer token on every request.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::server::McpServer;

/// Serve one client over stdin/stdout until it closes the stream.
pub async fn serve_stdio(server: McpServer) -> Result<()> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .context("the MCP handshake over stdio failed")?;
    running.waiting().await?;
    Ok(())
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
        .with_max_request_body_bytes(options.max_request_bytes);
    let service = StreamableHttpService::new(
        move || Ok(server.for_session()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let token = options
        .auth_token
        .map(|t| Arc::<str>::from(format!("Bearer {t}")));
    let router = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn(session_delete_ok))
        .layer(axum::middleware::from_fn(move |request, next| {
            require_token(token.clone(), request, next)
        }));
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
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("the HTTP server failed")
}

/// rmcp answers a session `DELETE` with 202; clients of the Python SDK 1.x
/// expect 200 and print "Session termination failed: 202" on every exit.
/// The session is gone either way, so say 200.
async fn session_delete_ok(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_delete = request.method() == axum::http::Method::DELETE;
    let mut response = next.run(request).await;
    if is_delete && response.status() == axum::http::StatusCode::ACCEPTED {
        *response.status_mut() = axum::http::StatusCode::OK;
    }
    response
}

/// With a token configured, refuse any request without it (401).
async fn require_token(
    expected: Option<Arc<str>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    if let Some(expected) = expected {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.as_bytes())
            .unwrap_or_default();
        if !constant_time_eq(presented, expected.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "Unauthorized: this server requires `Authorization: Bearer <token>` (see --auth-token)",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Compare secrets without leaking where they differ through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
