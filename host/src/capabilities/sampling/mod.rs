//! `sampling.sample`: a plugin asks an LLM, never holding a key.
//!
//! The plugin's request is converted to MCP's `sampling/createMessage` shape,
//! checked against the plugin's policy and budgets, and handed to the call's
//! [`SampleRoute`]: the calling client (a server-to-client request in a
//! legacy session, an `input_required` round for 2026-07-28), or the host's
//! own provider. Plugins never see which. Every request, whatever its fate,
//! leaves one audit record and is counted in the metrics.

// MCP sampling is deprecated by SEP-2577 but supported by the spec for at
// least another year; `sample()` is our stable contract, so we use it.
#![allow(deprecated)]

pub mod budget;
mod convert;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use rmcp::model::{CancelledNotificationParam, CreateMessageRequest, RequestId, ServerRequest};
use rmcp::model::{CreateMessageRequestParams, CreateMessageResult, ErrorCode};
use rmcp::service::{Peer, PeerRequestOptions, RoleServer, ServiceError};

pub use convert::{from_mcp, to_mcp};

use crate::audit::{Outcome, Record};
use crate::llm::Usage;
use crate::runtime::CallState;
use crate::runtime::bindings::wasm_mcp::plugin::sampling::{
    Content, Error, Host, Request, Response,
};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An answer and, when the route knows it, what it cost.
pub struct Sampled {
    pub result: CreateMessageResult,
    /// Reported by a provider; `None` for client sampling (then estimated).
    pub usage: Option<Usage>,
}

/// A route's name in audit records and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteName {
    /// `client`, `provider`, or `none`.
    pub route: &'static str,
    /// `session`, `input_required`, or the provider's API.
    pub via: &'static str,
}

impl RouteName {
    pub const NONE: RouteName = RouteName {
        route: "none",
        via: "none",
    };
    pub const CLIENT_SESSION: RouteName = RouteName {
        route: "client",
        via: "session",
    };
    pub const CLIENT_ROUND: RouteName = RouteName {
        route: "client",
        via: "input_required",
    };
}

/// How one call's `sample()` is answered. A route answers within `timeout`
/// (`sampling.timeout_s`) or ends the wait its own way: a session request
/// or a provider request times out; a parked 2026-07-28 call expires, which
/// stops the call.
pub trait SampleRoute: Send + Sync {
    fn name(&self) -> RouteName;

    fn sample(
        &self,
        request: CreateMessageRequestParams,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Sampled, Error>>;
}

/// No route: every `sample()` fails with `unsupported` and this reason.
pub struct Unavailable(pub String);

impl SampleRoute for Unavailable {
    fn name(&self) -> RouteName {
        RouteName::NONE
    }

    fn sample(
        &self,
        _: CreateMessageRequestParams,
        _: Duration,
    ) -> BoxFuture<'_, Result<Sampled, Error>> {
        Box::pin(std::future::ready(Err(Error::Unsupported(self.0.clone()))))
    }
}

/// A client in a (pre-2026-07-28) session that declared sampling: the request
/// goes to that session's peer. It must be awaited on the tool call's own
/// task, where rmcp's task-local request id sends it down the call's
/// response stream rather than the standalone GET stream.
pub struct ClientSession {
    pub peer: Peer<RoleServer>,
}

impl SampleRoute for ClientSession {
    fn name(&self) -> RouteName {
        RouteName::CLIENT_SESSION
    }

    fn sample(
        &self,
        request: CreateMessageRequestParams,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Sampled, Error>> {
        let asked = async move {
            let request = ServerRequest::CreateMessageRequest(CreateMessageRequest::new(request));
            let handle = self
                .peer
                .send_request_with_option(request, PeerRequestOptions::no_options())
                .await
                .map_err(error_from_service)?;
            // rmcp does not tell the client when a request's future is
            // dropped (call cancelled, timed out); this guard does.
            let mut outstanding = Outstanding {
                peer: self.peer.clone(),
                id: Some(handle.id.clone()),
            };
            let answer = handle.await_response().await;
            outstanding.id = None;
            match answer.map_err(error_from_service)? {
                rmcp::model::ClientResult::CreateMessageResult(result) => Ok(Sampled {
                    result: *result,
                    usage: None,
                }),
                _ => Err(Error::Failed(
                    "the client answered with something other than a sampling result".into(),
                )),
            }
        };
        Box::pin(async move {
            tokio::time::timeout(timeout, asked)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::TimedOut(format!(
                        "no answer within {} s (`sampling.timeout_s`)",
                        timeout.as_secs()
                    )))
                })
        })
    }
}

/// A sampling request still waiting for its answer. Dropped before the
/// answer came, it sends `notifications/cancelled` so the client can stop
/// spending tokens on it.
struct Outstanding {
    peer: Peer<RoleServer>,
    id: Option<RequestId>,
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let peer = self.peer.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let notice = CancelledNotificationParam::new(
                    Some(id),
                    Some("the tool call that asked for it ended".into()),
                );
                let _ = peer.notify_cancelled(notice).await;
            });
        }
    }
}

/// MCP says a client that refuses (usually its user) answers with code -1.
const USER_REJECTED: ErrorCode = ErrorCode(-1);

fn error_from_service(error: ServiceError) -> Error {
    match error {
        ServiceError::McpError(data) if data.code == USER_REJECTED => {
            Error::Declined(data.message.into_owned())
        }
        ServiceError::McpError(data) => Error::Failed(format!(
            "the client answered with error {}: {}",
            data.code.0, data.message
        )),
        ServiceError::Timeout { timeout } => {
            Error::TimedOut(format!("no answer from the client within {timeout:?}"))
        }
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
            Error::Failed("the client disconnected before answering".into())
        }
        ServiceError::Cancelled { reason } => Error::Failed(format!(
            "the request was cancelled{}",
            reason.map(|r| format!(": {r}")).unwrap_or_default()
        )),
        other => Error::Failed(other.to_string()),
    }
}

impl Host for CallState {
    async fn sample(&mut self, request: Request) -> wasmtime::Result<Result<Response, Error>> {
        let route = self.call.sampling.clone();
        let mut attempt = Attempt::new(self, route.name());
        let outcome = self.sample_along(&*route, request, &mut attempt).await;
        if let Err(error) = &outcome {
            tracing::info!(target: "plugin", plugin = %self.call.plugin, "sampling failed: {error:?}");
        }
        attempt.finish(&outcome);
        Ok(outcome)
    }
}

impl CallState {
    /// Policy, budgets, then the route; `attempt` collects what the audit
    /// record says.
    async fn sample_along(
        &mut self,
        route: &dyn SampleRoute,
        request: Request,
        attempt: &mut Attempt,
    ) -> Result<Response, Error> {
        let policy = self.call.sampling_policy;
        if route.name() == RouteName::NONE {
            // No budget is spent on a request no one can carry.
            let nobody = route.sample(
                CreateMessageRequestParams::new(Vec::new(), 1),
                Duration::ZERO,
            );
            return Err(match nobody.await {
                Err(why) => why,
                Ok(_) => Error::Unsupported("no route carries sampling for this call".into()),
            });
        }
        if self.samples_made >= policy.max_requests {
            attempt.policy = Some("sampling.max_requests");
            return Err(Error::Refused(format!(
                "a tool call may make at most {} sampling requests (`sampling.max_requests`)",
                policy.max_requests
            )));
        }
        self.samples_made += 1;
        let mut params = to_mcp(request).map_err(Error::Refused)?;
        params.max_tokens = params.max_tokens.min(policy.max_tokens);
        attempt.tokens_asked = params.max_tokens;
        if self.call.audit.prompts {
            attempt.request = serde_json::to_value(&params).ok();
        }
        let estimated_input = budget::estimate_input(&params);
        let worst = budget::worst_case(&params);
        let reservation = budget::check_call(&policy, self.tokens_used, worst)
            .and_then(|()| self.call.budget.reserve(worst))
            .map_err(|over| {
                attempt.policy = Some(over.budget);
                Error::Refused(over.message)
            })?;
        let timeout = Duration::from_secs(policy.timeout_s);
        match route.sample(params, timeout).await {
            Ok(Sampled { result, usage }) => {
                let (usage, how) = match usage {
                    Some(usage) => (usage, "reported"),
                    None => (
                        Usage {
                            input_tokens: estimated_input,
                            output_tokens: budget::estimate_output(&result),
                        },
                        "estimated",
                    ),
                };
                self.call.budget.settle(reservation, usage.total());
                self.tokens_used = self.tokens_used.saturating_add(usage.total());
                attempt.usage = Some((usage, how));
                attempt.model = Some(result.model.clone());
                let response = from_mcp(result)?;
                if self.call.audit.prompts {
                    attempt.answer = Some(text_of(&response));
                }
                Ok(response)
            }
            Err(error @ Error::TimedOut(_)) => {
                // The provider may have spent (and billed) it all.
                self.tokens_used = self.tokens_used.saturating_add(worst);
                reservation.keep_charged();
                Err(error)
            }
            Err(error) => {
                self.call.budget.settle(reservation, 0);
                Err(error)
            }
        }
    }
}

fn text_of(response: &Response) -> String {
    response
        .content
        .iter()
        .filter_map(|content| match content {
            Content::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// One sampling request on its way: what its audit record will say. A
/// request whose call ends while it waits (cancelled, out of time) is
/// recorded as `cancelled` when this is dropped.
struct Attempt {
    plugin: std::sync::Arc<str>,
    tool: std::sync::Arc<str>,
    client: std::sync::Arc<str>,
    audit: std::sync::Arc<crate::audit::AuditLog>,
    route: RouteName,
    started: Instant,
    tokens_asked: u32,
    usage: Option<(Usage, &'static str)>,
    policy: Option<&'static str>,
    model: Option<String>,
    request: Option<serde_json::Value>,
    answer: Option<String>,
    done: bool,
}

impl Attempt {
    fn new(state: &CallState, route: RouteName) -> Self {
        Attempt {
            plugin: state.call.plugin.clone(),
            tool: state.call.tool.clone(),
            client: state.call.client.clone(),
            audit: state.call.audit.clone(),
            route,
            started: Instant::now(),
            tokens_asked: 0,
            usage: None,
            policy: None,
            model: None,
            request: None,
            answer: None,
            done: false,
        }
    }

    fn finish(mut self, outcome: &Result<Response, Error>) {
        let (outcome, error) = match outcome {
            Ok(_) => (Outcome::Answered, None),
            Err(Error::Unsupported(why)) => (Outcome::Unsupported, Some(why)),
            Err(Error::Declined(why)) => (Outcome::Declined, Some(why)),
            Err(Error::Refused(why)) => (Outcome::Refused, Some(why)),
            Err(Error::TimedOut(why)) => (Outcome::TimedOut, Some(why)),
            Err(Error::Failed(why)) => (Outcome::Failed, Some(why)),
        };
        self.record(outcome, error.cloned());
    }

    fn record(&mut self, outcome: Outcome, error: Option<String>) {
        self.done = true;
        let took = self.started.elapsed();
        let metrics = crate::metrics::get();
        let route = self.route.route;
        metrics
            .sampling_requests
            .with_label_values(&[&*self.plugin, route, outcome.name()])
            .inc();
        metrics
            .sampling_seconds
            .with_label_values(&[&*self.plugin, route])
            .observe(took.as_secs_f64());
        if let Some((usage, _)) = self.usage {
            for (direction, tokens) in [
                ("input", usage.input_tokens),
                ("output", usage.output_tokens),
            ] {
                metrics
                    .sampling_tokens
                    .with_label_values(&[&*self.plugin, route, direction])
                    .inc_by(tokens);
            }
        }
        if let Some(policy) = self.policy {
            metrics
                .limit_hits
                .with_label_values(&[&*self.plugin, policy])
                .inc();
        }
        self.audit.record(&Record {
            time: crate::audit::now(),
            plugin: self.plugin.to_string(),
            tool: self.tool.to_string(),
            route,
            via: self.route.via,
            client: self.client.to_string(),
            tokens_asked: self.tokens_asked,
            input_tokens: self.usage.map(|(u, _)| u.input_tokens),
            output_tokens: self.usage.map(|(u, _)| u.output_tokens),
            usage: self.usage.map(|(_, how)| how),
            latency_ms: (took.as_secs_f64() * 1e6).round() / 1e3,
            outcome,
            policy: self.policy,
            error: error.map(|e| crate::capabilities::log::truncate(&e, 1000).to_string()),
            model: self.model.take(),
            request: self.request.take(),
            answer: self.answer.take(),
        });
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.done {
            self.record(
                Outcome::Cancelled,
                Some("the tool call ended while the request waited".into()),
            );
        }
    }
}
