//! The two ways clients reach the host: stdio, for clients that spawn
//! servers, and streamable HTTP (axum + rmcp's tower service) at `/mcp`.

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

/// Serve streamable HTTP on `listen` at `/mcp` until `shutdown` is cancelled.
pub async fn serve_http(
    server: McpServer,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> Result<()> {
    let config =
        StreamableHttpServerConfig::default().with_cancellation_token(shutdown.child_token());
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let router = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn(session_delete_ok));
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
