//! Leaving a load balancer's pool without dropping calls: `/healthz` for the
//! balancer, and a drain on `SIGTERM`.
//!
//! On `SIGTERM` the replica answers `/healthz` with 503 (so the balancer
//! stops sending it work), answers every new `/mcp` request with 503 and
//! `Retry-After` (nothing of it was processed, so a balancer may retry it
//! elsewhere, POST included), lets the requests it is serving finish, up to
//! a grace period, and then exits. Calls parked for 2026-07-28 clients are
//! left: with a shared `--state-key-file`, another replica resumes them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Whether the replica is draining, and how many requests it is serving.
#[derive(Default)]
pub struct Drain {
    draining: AtomicBool,
    serving: AtomicUsize,
    idle: Notify,
}

/// Counts a request as served until its response body ends.
struct Serving(Arc<Drain>);

impl Drop for Serving {
    fn drop(&mut self) {
        if self.0.serving.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    pub fn new() -> Arc<Drain> {
        Arc::default()
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// `/healthz`: 200 while taking work, 503 once draining.
    pub fn health(&self) -> Response {
        if self.is_draining() {
            (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
        } else {
            (StatusCode::OK, "ok\n").into_response()
        }
    }

    /// Middleware for `/mcp`: refuse new requests while draining; count
    /// the others until their responses (streams included) end.
    pub async fn track(self: Arc<Self>, request: Request<Body>, next: Next) -> Response {
        if self.is_draining() {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                "this replica is shutting down and took nothing of this request; send it to another\n",
            )
                .into_response();
        }
        // A GET is a legacy session's standing stream, not work in hand.
        if request.method() == axum::http::Method::GET {
            return next.run(request).await;
        }
        self.serving.fetch_add(1, Ordering::AcqRel);
        let serving = Serving(self.clone());
        let response = next.run(request).await;
        let (parts, body) = response.into_parts();
        let body = body.into_data_stream().map(move |chunk| {
            let _ = &serving;
            chunk
        });
        Response::from_parts(parts, Body::from_stream(body))
    }

    /// On `SIGTERM` (or `stop`), drain: refuse new work, wait for the
    /// requests being served, at most `grace`, then cancel `shutdown`.
    pub fn on_sigterm(
        self: &Arc<Self>,
        grace: Duration,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut terms = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let drain = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = terms.recv() => {}
                () = shutdown.cancelled() => return,
            }
            drain.draining.store(true, Ordering::Release);
            let serving = drain.serving.load(Ordering::Acquire);
            tracing::info!(
                serving,
                grace_s = grace.as_secs(),
                "SIGTERM: draining; new requests get 503, running ones may finish"
            );
            let idle = async {
                loop {
                    let notified = drain.idle.notified();
                    if drain.serving.load(Ordering::Acquire) == 0 {
                        return;
                    }
                    notified.await;
                }
            };
            if tokio::time::timeout(grace, idle).await.is_err() {
                tracing::warn!(
                    serving = drain.serving.load(Ordering::Acquire),
                    "the grace period ended with requests still running; stopping them"
                );
            }
            shutdown.cancel();
        });
        Ok(())
    }
}
