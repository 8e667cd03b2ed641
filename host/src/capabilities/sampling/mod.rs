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

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::CreateMessageRequestParams;
use wasmtime::component::{HasSelf, Linker};

pub use convert::{from_mcp, to_mcp};

use super::Caller;
use crate::audit::{AuditLog, CallAudit, Outcome, Record};
use crate::bindings::sampling::{Content, Error, Host, Request, Response};
use crate::config::SamplingPolicy;
use crate::llm::Usage;
pub use crate::routes::BoxFuture;
pub use crate::routes::sampling::{ClientSampling, RouteName, SampleRoute, Sampled};
use budget::SharedBudget;

/// One call's sampling: its route, the plugin's policy and shared budgets,
/// and what the call has used so far.
pub struct Sampler {
    pub caller: Caller,
    pub route: Arc<dyn SampleRoute>,
    pub policy: SamplingPolicy,
    /// The plugin's budgets, shared by its calls.
    pub budget: Arc<SharedBudget>,
    /// Where requests are recorded.
    pub audit: Arc<AuditLog>,
    /// Whether this run of the call records its requests now (a replay or
    /// a run handed over leaves them to another run).
    call_audit: CallAudit,
    /// `sample()` calls made so far in this call.
    samples_made: u32,
    /// The first requests of a replayed call, answered (and charged) in
    /// the run it replays: not charged again.
    replayed: u32,
    /// Tokens its requests used (reported or estimated).
    tokens_used: u64,
}

impl Sampler {
    pub fn new(
        caller: Caller,
        route: Arc<dyn SampleRoute>,
        policy: SamplingPolicy,
        budget: Arc<SharedBudget>,
        audit: Arc<AuditLog>,
    ) -> Self {
        Sampler {
            caller,
            route,
            policy,
            budget,
            audit,
            call_audit: CallAudit::default(),
            samples_made: 0,
            replayed: 0,
            tokens_used: 0,
        }
    }

    /// This call replays a run whose first `samples` requests were made.
    pub fn replaying(mut self, samples: u32) -> Self {
        self.replayed = samples;
        self
    }

    /// This run records its requests only while `call_audit` says so.
    pub fn audited_as(mut self, call_audit: CallAudit) -> Self {
        self.call_audit = call_audit;
        self
    }
}

/// Serve `sampling` to components, each call's [`Sampler`] found by `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut Sampler,
) -> wasmtime::Result<()> {
    crate::bindings::sampling::add_to_linker::<T, HasSelf<Sampler>>(linker, get)
}

impl Host for Sampler {
    async fn sample(&mut self, request: Request) -> wasmtime::Result<Result<Response, Error>> {
        let route = self.route.clone();
        let mut pending = match self.prepare(request, route.name()).await {
            Ok(pending) => pending,
            Err(refused) => return Ok(Err(refused)),
        };
        let sampled = route.sample(pending.params.clone(), self.timeout()).await;
        Ok(self.finish(&mut pending, sampled))
    }
}

/// A sampling request that passed the policy and holds its budget, waiting
/// for its answer. Its audit record is written when it is finished, or, if
/// it is dropped first (the call ended), as cancelled.
pub struct Pending {
    pub params: CreateMessageRequestParams,
    attempt: Attempt,
    reservation: Option<budget::Reservation>,
    estimated_input: u64,
    worst: u64,
}

impl Sampler {
    /// How long one request may wait (`sampling.timeout_s`).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.policy.timeout_s)
    }

    /// Whether `sample()` goes to the calling client in this call (rather
    /// than the host's provider, or nowhere).
    pub fn goes_to_client(&self) -> bool {
        self.route.name().route == "client"
    }

    /// Check the request against the policy and budgets, and reserve its
    /// worst case. A refusal is audited here.
    pub async fn prepare(&mut self, request: Request, route: RouteName) -> Result<Pending, Error> {
        let mut attempt = Attempt::new(self, route);
        match self.check(request, route, &mut attempt).await {
            Ok((params, reservation, estimated_input, worst)) => Ok(Pending {
                params,
                attempt,
                reservation,
                estimated_input,
                worst,
            }),
            Err(error) => {
                tracing::info!(target: "plugin", plugin = %self.caller.plugin, "sampling failed: {error:?}");
                attempt.finish(&Err(error.clone()));
                Err(error)
            }
        }
    }

    async fn check(
        &mut self,
        request: Request,
        route: RouteName,
        attempt: &mut Attempt,
    ) -> Result<
        (
            CreateMessageRequestParams,
            Option<budget::Reservation>,
            u64,
            u64,
        ),
        Error,
    > {
        let policy = self.policy;
        if route == RouteName::NONE {
            // No budget is spent on a request no one can carry.
            return Err(Error::Unsupported(
                "no client can be asked here: only tool calls and prompts may sample".into(),
            ));
        }
        if self.samples_made >= policy.max_requests {
            attempt.policy = Some("sampling.max_requests");
            return Err(Error::Refused(format!(
                "a tool call may make at most {} sampling requests (`sampling.max_requests`)",
                policy.max_requests
            )));
        }
        let replayed = self.samples_made < self.replayed;
        self.samples_made += 1;
        let mut params = to_mcp(request).map_err(Error::Refused)?;
        params.max_tokens = params.max_tokens.min(policy.max_tokens);
        attempt.tokens_asked = params.max_tokens;
        if self.audit.prompts {
            attempt.request = serde_json::to_value(&params).ok();
        }
        let estimated_input = budget::estimate_input(&params);
        let worst = budget::worst_case(&params);
        let charged = match budget::check_call(&policy, self.tokens_used, worst) {
            Ok(()) if replayed => Ok(None),
            Ok(()) => self.budget.reserve(worst).await.map(Some),
            Err(over) => Err(over),
        };
        let reservation = charged.map_err(|over| {
            attempt.policy = Some(over.budget);
            Error::Refused(over.message)
        })?;
        Ok((params, reservation, estimated_input, worst))
    }

    /// Settle the budget to what the answer used, audit, and convert.
    pub fn finish(
        &mut self,
        pending: &mut Pending,
        sampled: Result<Sampled, Error>,
    ) -> Result<Response, Error> {
        let attempt = &mut pending.attempt;
        // None: a replayed request, charged in the run it replays.
        let reservation = pending.reservation.take();
        let outcome = match sampled {
            Ok(Sampled { result, usage }) => {
                let (usage, how) = match usage {
                    Some(usage) => (usage, "reported"),
                    None => (
                        Usage {
                            input_tokens: pending.estimated_input,
                            output_tokens: budget::estimate_output(&result),
                        },
                        "estimated",
                    ),
                };
                if let Some(reservation) = reservation {
                    self.budget.settle(reservation, usage.total());
                }
                self.tokens_used = self.tokens_used.saturating_add(usage.total());
                attempt.usage = Some((usage, how));
                attempt.model = Some(result.model.clone());
                from_mcp(result).inspect(|response| {
                    if self.audit.prompts {
                        attempt.answer = Some(text_of(response));
                    }
                })
            }
            Err(error @ Error::TimedOut(_)) => {
                // The provider may have spent (and billed) it all.
                self.tokens_used = self.tokens_used.saturating_add(pending.worst);
                if let Some(reservation) = reservation {
                    reservation.keep_charged();
                }
                Err(error)
            }
            Err(error) => {
                if let Some(reservation) = reservation {
                    self.budget.settle(reservation, 0);
                }
                Err(error)
            }
        };
        if let Err(error) = &outcome {
            tracing::info!(target: "plugin", plugin = %self.caller.plugin, "sampling failed: {error:?}");
        }
        attempt.finish_ref(&outcome);
        outcome
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
    /// Whether the request is this run's to record when it ends.
    call_audit: CallAudit,
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
    fn new(sampler: &Sampler, route: RouteName) -> Self {
        Attempt {
            plugin: sampler.caller.plugin.clone(),
            tool: sampler.caller.tool.clone(),
            client: sampler.caller.client.clone(),
            audit: sampler.audit.clone(),
            call_audit: sampler.call_audit.clone(),
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
        self.finish_ref(outcome);
    }

    fn finish_ref(&mut self, outcome: &Result<Response, Error>) {
        if self.done {
            return;
        }
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
        if self.route.route == "client" && !self.call_audit.records() {
            // Another run of the call records it (see `CallAudit`). Not so
            // a provider's: each run's request to it is one of its own.
            return;
        }
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
        if !self.audit.wanted() {
            return;
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
            error: error.map(|e| crate::logging::truncate(&e, 1000).to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An attempt as a call's sampling makes it, recording to `audit`.
    fn attempt(audit: &Arc<AuditLog>, call_audit: &CallAudit) -> Attempt {
        Attempt {
            plugin: "probe".into(),
            tool: "probe_sample".into(),
            client: "client".into(),
            audit: audit.clone(),
            call_audit: call_audit.clone(),
            route: RouteName {
                route: "client",
                via: "input_required",
            },
            started: Instant::now(),
            tokens_asked: 10,
            usage: None,
            policy: None,
            model: None,
            request: None,
            answer: None,
            done: false,
        }
    }

    /// The audit file's lines once it has `count` (its writer thread may be
    /// a moment behind), or what it has after 5 s.
    fn lines(path: &std::path::Path, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            if lines.len() >= count || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A parked run that another replica took over drops its waiting
    /// request without a record (the replica that took it over records
    /// it); so does a replay for requests of rounds answered before. A
    /// request of the run's own still leaves one.
    #[test]
    fn a_request_handed_over_or_replayed_leaves_no_record_here() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let audit = Arc::new(AuditLog::to_file(&path, false).unwrap());

        let handed_over = CallAudit::default();
        let waiting = attempt(&audit, &handed_over);
        handed_over.hand_over();
        drop(waiting);
        let replay = CallAudit::replaying();
        attempt(&audit, &replay).finish(&Err(Error::TimedOut("gone".into())));
        // A replay asks the provider again: that request is its own.
        let mut provider = attempt(&audit, &replay);
        provider.route = RouteName {
            route: "provider",
            via: "anthropic",
        };
        provider.finish(&Err(Error::Failed("down".into())));
        replay.caught_up();
        attempt(&audit, &replay).finish(&Err(Error::Declined("no".into())));
        drop(attempt(&audit, &CallAudit::default()));

        let lines = lines(&path, 3);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].contains(r#""outcome":"failed""#), "{}", lines[0]);
        assert!(lines[1].contains(r#""outcome":"declined""#), "{}", lines[1]);
        assert!(
            lines[2].contains(r#""outcome":"cancelled""#),
            "{}",
            lines[2]
        );
    }
}
