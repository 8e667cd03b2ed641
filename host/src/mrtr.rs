//! Sampling for MCP 2026-07-28 clients: multi round-trip results with parked
//! calls.
//!
//! That revision has no server-to-client requests. When a plugin calls
//! `sample()`, its execution stays suspended in the host (the plugin runs in
//! its own task, waiting on a channel), and `tools/call` answers
//! `input_required` with the plugin's request and a sealed `requestState`
//! naming the parked call. The client's retry carries the answer; it is
//! handed to the waiting plugin, which resumes where it stopped. The plugin
//! never re-runs, so its side effects happen exactly once, and it cannot tell
//! this route from a legacy session's.
//!
//! `requestState` is HMAC-sealed with a per-process random key, bound to the
//! tool and its arguments, and expires with the parked call. Each round's
//! state is good for one retry that answers it.

// MCP sampling is deprecated by SEP-2577 but supported; see capabilities/sampling.rs.
#![allow(deprecated)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rmcp::ErrorData as McpError;
use rmcp::model::{
    ClientCapabilities, CreateMessageRequest, CreateMessageRequestParams, CreateMessageResult,
    InputRequest, InputRequiredResult, InputResponses, RequestStateCodec, RequestStateError,
    SealOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::capabilities::notify::{Notifier, NotifyRoute};
use crate::capabilities::sampling::{BoxFuture, RouteName, SampleRoute, Sampled};
use crate::fairness::ClientSlot;
use crate::runtime::bindings::wasm_mcp::plugin::sampling::Error as SampleError;
use crate::runtime::{CallContext, CallFailure, Plugin};

/// How long a parked call waits for its client's retry, by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// How many calls may be parked at once, by default.
pub const DEFAULT_MAX_PARKED: usize = 1024;

/// What a `tools/call` request gets back: the call's outcome, or a round.
pub enum Step {
    Done(Result<String, CallFailure>),
    InputRequired(InputRequiredResult),
}

/// The `tools/call` request driving a call now.
pub struct Request {
    /// The calling client's share of call slots, held by the call until it
    /// ends (a retry's is not needed: its call holds one already).
    pub slot: Option<ClientSlot>,
    /// Whether it declared the `sampling` capability.
    pub can_sample: bool,
    /// Cancelled when the client cancels it.
    pub cancel: CancellationToken,
    /// Where its notifications go.
    pub route: NotifyRoute,
    /// The calling client, hashed, for the audit.
    pub client: Arc<str>,
}

/// What a running plugin tells the request that drives it.
enum Event {
    Sample {
        request: Box<CreateMessageRequestParams>,
        /// How long the plugin may wait for this answer (`sampling.timeout_s`).
        timeout: Duration,
        answer: oneshot::Sender<Result<CreateMessageResult, SampleError>>,
    },
    Done(Result<String, CallFailure>),
}

/// A call suspended inside `sample()`, waiting for its client's retry.
struct Parked {
    round: u32,
    /// The sealed state and input request of this round, to repeat them to a
    /// retry that does not carry the answer.
    state: String,
    key: String,
    request: CreateMessageRequestParams,
    answer: oneshot::Sender<Result<CreateMessageResult, SampleError>>,
    events: mpsc::Receiver<Event>,
    /// Stops the plugin if the parked call leaves the table without being
    /// resumed (it expired, or the registry is gone): no client waits for
    /// it. A resumed call disarms it and goes on.
    stop_when_dropped: DropGuard,
    /// The call's notifications; silent while parked.
    notifier: Notifier,
    expires: Instant,
}

/// A call being driven by a request: started, or taken out of the table to
/// run its next step.
struct Driving {
    events: mpsc::Receiver<Event>,
    round: u32,
    cancel: CancellationToken,
    notifier: Notifier,
}

/// The sealed content of `requestState`.
#[derive(Serialize, Deserialize)]
struct StatePayload {
    call: u64,
    round: u32,
}

/// Every call parked in this process.
pub struct ParkedCalls {
    codec: RequestStateCodec,
    calls: Mutex<HashMap<u64, Parked>>,
    next_id: AtomicU64,
    ttl: Duration,
    max_parked: usize,
}

impl ParkedCalls {
    /// A registry whose parked calls wait at most `ttl`, at most `max_parked`
    /// at once. Starts a task that stops expired calls.
    pub fn new(ttl: Duration, max_parked: usize) -> Arc<Self> {
        let mut key = [0u8; 32];
        let mut key_id = [0u8; 8];
        getrandom::fill(&mut key).expect("the OS random source is unavailable");
        getrandom::fill(&mut key_id).expect("the OS random source is unavailable");
        // A key id of our own, sealed into every state, tells a state from
        // another process (unknown id) from an altered one (bad tag).
        let key_id: String = key_id.iter().map(|b| format!("{b:02x}")).collect();
        let codec = RequestStateCodec::new_with_keyring(key_id.clone(), [(key_id, key.to_vec())])
            .expect("a 32-byte key and a hex key id make a valid keyring");
        let parked = Arc::new(ParkedCalls {
            codec,
            calls: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            ttl,
            max_parked,
        });
        tokio::spawn(reap_expired(Arc::downgrade(&parked), ttl));
        parked
    }

    /// Calls parked now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no call is parked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Parked>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start `tool` in its own task with a parking route for `sample()`, and
    /// drive it to its first round or its result. If `request` is cancelled
    /// (or this future dropped: the client closed the stream) while the
    /// plugin runs, the plugin is stopped.
    pub async fn start(
        self: &Arc<Self>,
        plugin: Arc<Plugin>,
        tool: String,
        arguments: String,
        mut request: Request,
    ) -> Result<Step, McpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let binding = bind(&tool, &arguments);
        let (events, receiver) = mpsc::channel(1);
        let route = Arc::new(ParkingRoute {
            events: events.clone(),
        });
        // The call outlives this request once parked; only its driver cancels it.
        let cancel = CancellationToken::new();
        let notifier = Notifier::new(Some(request.route.clone()));
        let call = CallContext::new(
            &plugin,
            &tool,
            request.client.clone(),
            route,
            cancel.clone(),
            notifier.clone(),
        );
        let slot = request.slot.take();
        tokio::spawn(async move {
            let outcome = plugin.call(&tool, &arguments, call).await;
            drop(slot);
            if let Err(unheard) = events.send(Event::Done(outcome)).await
                && let Event::Done(Err(failure)) = unheard.0
            {
                tracing::info!(tool, plugin = %plugin.name, "call ended after its client stopped waiting: {failure}");
            }
        });
        let driving = Driving {
            events: receiver,
            round: 0,
            cancel,
            notifier,
        };
        self.drive(id, &binding, driving, request).await
    }

    /// Handle a retry that echoes `state`.
    pub async fn resume(
        &self,
        state: &str,
        responses: Option<InputResponses>,
        tool: &str,
        arguments: &str,
        request: Request,
    ) -> Result<Step, McpError> {
        let binding = bind(tool, arguments);
        let payload: StatePayload = self
            .codec
            .open_json_with(state, &binding)
            .map_err(|error| self.state_error(error))?;
        let resumed = match self.take_answered(&payload, responses.as_ref())? {
            Ok(resumed) => resumed,
            Err(repeat) => return Ok(Step::InputRequired(repeat)),
        };
        resumed.notifier.reroute(Some(request.route.clone()));
        self.drive(payload.call, &binding, resumed, request).await
    }

    /// Hand the retry's answer to the parked call and take it out of the
    /// table, or say which round to repeat when the retry lacks the answer.
    fn take_answered(
        &self,
        payload: &StatePayload,
        responses: Option<&InputResponses>,
    ) -> Result<Result<Driving, InputRequiredResult>, McpError> {
        let mut calls = self.lock();
        let parked = calls
            .get(&payload.call)
            .filter(|parked| parked.round == payload.round)
            .ok_or_else(|| {
                McpError::invalid_params(
                    "requestState was already used, or its call has ended (completed, cancelled or expired); call the tool again without requestState",
                    None,
                )
            })?;
        let Some(response) = responses.and_then(|r| r.get(&parked.key)) else {
            // The spec asks for the same input_required again.
            return Ok(Err(input_required(
                &parked.key,
                &parked.request,
                &parked.state,
            )));
        };
        let answer = parse_answer(response).map_err(|why| {
            McpError::invalid_params(
                format!(
                    "inputResponses[\"{}\"] is not a sampling result: {why}",
                    parked.key
                ),
                None,
            )
        })?;
        let Parked {
            answer: reply,
            events,
            round,
            stop_when_dropped,
            notifier,
            ..
        } = calls.remove(&payload.call).expect("checked above");
        let cancel = stop_when_dropped.disarm();
        // A plugin that stopped waiting (it ended) has dropped its receiver.
        let _ = reply.send(answer);
        Ok(Ok(Driving {
            events,
            round,
            cancel,
            notifier,
        }))
    }

    /// Wait for the plugin's next event: its result, or a round to park.
    async fn drive(
        &self,
        id: u64,
        binding: &[u8],
        driving: Driving,
        request: Request,
    ) -> Result<Step, McpError> {
        let can_sample = request.can_sample;
        let Driving {
            mut events,
            mut round,
            cancel,
            notifier,
        } = driving;
        // Dropped before the call parks or ends, this stops the plugin.
        let stop_if_abandoned = cancel.clone().drop_guard();
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                () = request.cancel.cancelled() => {
                    return Err(McpError::internal_error("the call was cancelled", None));
                }
            };
            match event {
                None => {
                    return Err(McpError::internal_error(
                        "the plugin's task ended without a result",
                        None,
                    ));
                }
                Some(Event::Done(outcome)) => return Ok(Step::Done(outcome)),
                Some(Event::Sample {
                    request: sampling,
                    timeout,
                    answer,
                }) => {
                    if !can_sample {
                        let _ = answer.send(Err(SampleError::Unsupported(
                            "the client did not declare the `sampling` capability".into(),
                        )));
                        return Err(McpError::missing_required_client_capability(
                            ClientCapabilities::builder().enable_sampling().build(),
                        ));
                    }
                    round += 1;
                    let key = format!("sampling-{round}");
                    // One clock for the state, the parked call and the
                    // plugin's wait: the shorter of the TTL and the plugin's
                    // `sampling.timeout_s`. An answer is never dropped
                    // silently: it resumes the call, or gets "expired".
                    let wait = self.ttl.min(timeout);
                    let state = self.codec.seal_json_with(
                        &StatePayload { call: id, round },
                        &SealOptions::new().associated_data(binding).ttl(wait),
                    );
                    let state = state.map_err(|e| McpError::internal_error(e.to_string(), None))?;
                    let result = input_required(&key, &sampling, &state);
                    let mut calls = self.lock();
                    if calls.len() >= self.max_parked {
                        drop(calls);
                        let _ = answer.send(Err(SampleError::Refused(format!(
                            "{} calls are already waiting for their clients' answers, the most this host parks; try again later",
                            self.max_parked
                        ))));
                        continue;
                    }
                    calls.insert(
                        id,
                        Parked {
                            round,
                            state,
                            key,
                            request: *sampling,
                            answer,
                            events,
                            stop_when_dropped: cancel.drop_guard(),
                            notifier: {
                                notifier.reroute(None);
                                notifier
                            },
                            expires: Instant::now() + wait,
                        },
                    );
                    stop_if_abandoned.disarm();
                    return Ok(Step::InputRequired(result));
                }
            }
        }
    }

    fn state_error(&self, error: RequestStateError) -> McpError {
        let message = match error {
            RequestStateError::Expired => format!(
                "requestState has expired (a parked call waits at most {} s, or its plugin's `sampling.timeout_s` if shorter) and the call was stopped; call the tool again without requestState",
                self.ttl.as_secs()
            ),
            RequestStateError::UnknownKeyId => "requestState was issued by another server process (or before this one restarted); call the tool again without requestState".to_string(),
            _ => "requestState failed verification: it was altered, or belongs to another tool call or other arguments; echo it unchanged with the same tool and arguments".to_string(),
        };
        McpError::invalid_params(message, None)
    }
}

/// Stop calls whose client did not come back in time: dropping a parked
/// call cancels it, which ends the plugin and frees its permits, so nothing
/// it would have done after its client left happens.
async fn reap_expired(registry: Weak<ParkedCalls>, ttl: Duration) {
    let period = (ttl / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
    let mut ticker = tokio::time::interval(period);
    loop {
        ticker.tick().await;
        let Some(registry) = registry.upgrade() else {
            return;
        };
        let now = Instant::now();
        let expired: Vec<Parked> = {
            let mut calls = registry.lock();
            let ids: Vec<u64> = calls
                .iter()
                .filter(|(_, parked)| parked.expires <= now)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter().filter_map(|id| calls.remove(&id)).collect()
        };
        if !expired.is_empty() {
            tracing::info!(
                count = expired.len(),
                "parked calls expired without a retry and were stopped"
            );
        }
    }
}

/// The associated data a state is sealed with: the tool and its arguments,
/// the tool's length first so no split of the bytes is ambiguous.
fn bind(tool: &str, arguments: &str) -> Vec<u8> {
    let mut binding = Vec::with_capacity(8 + tool.len() + arguments.len());
    binding.extend_from_slice(&(tool.len() as u64).to_be_bytes());
    binding.extend_from_slice(tool.as_bytes());
    binding.extend_from_slice(arguments.as_bytes());
    binding
}

fn input_required(
    key: &str,
    request: &CreateMessageRequestParams,
    state: &str,
) -> InputRequiredResult {
    let requests = BTreeMap::from([(
        key.to_string(),
        InputRequest::CreateMessage(CreateMessageRequest::new(request.clone())),
    )]);
    InputRequiredResult::new(Some(requests), Some(state.to_string()))
}

/// The client's answer: a sampling result, or an error object (code -1
/// meaning the user declined, as for legacy sampling).
fn parse_answer(value: &Value) -> Result<Result<CreateMessageResult, SampleError>, String> {
    let error = value.get("error").unwrap_or(value);
    if let (Some(code), Some(message)) = (error.get("code"), error.get("message")) {
        let message = message.as_str().unwrap_or_default().to_string();
        return Ok(Err(if code.as_i64() == Some(-1) {
            SampleError::Declined(message)
        } else {
            SampleError::Failed(format!("the client answered with error {code}: {message}"))
        }));
    }
    let result: CreateMessageResult =
        serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    result.validate()?;
    Ok(Ok(result))
}

/// `sample()` for a 2026-07-28 call: hand the request to the driving
/// request and wait for the client's retry. The wait has no timer of its
/// own: the parked call expires at the shorter of the TTL and `timeout`,
/// and expiry stops the whole call.
struct ParkingRoute {
    events: mpsc::Sender<Event>,
}

impl SampleRoute for ParkingRoute {
    fn name(&self) -> RouteName {
        RouteName::CLIENT_ROUND
    }

    fn sample(
        &self,
        request: CreateMessageRequestParams,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Sampled, SampleError>> {
        Box::pin(async move {
            let (answer, reply) = oneshot::channel();
            let asked = Event::Sample {
                request: Box::new(request),
                timeout,
                answer,
            };
            if self.events.send(asked).await.is_err() {
                return Err(SampleError::TimedOut(
                    "the client is no longer waiting for this call".into(),
                ));
            }
            let answer = reply.await.unwrap_or_else(|_| {
                Err(SampleError::TimedOut(
                    "the call ended before the client answered".into(),
                ))
            });
            answer.map(|result| Sampled {
                result,
                usage: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_parse_as_results_or_errors() {
        let ok =
            json!({"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"});
        assert!(matches!(parse_answer(&ok), Ok(Ok(_))));
        let declined = json!({"code": -1, "message": "User rejected sampling request"});
        assert!(
            matches!(parse_answer(&declined), Ok(Err(SampleError::Declined(m))) if m.contains("rejected"))
        );
        let wrapped = json!({"error": {"code": -32603, "message": "boom"}});
        assert!(matches!(
            parse_answer(&wrapped),
            Ok(Err(SampleError::Failed(_)))
        ));
        assert!(parse_answer(&json!({"nonsense": true})).is_err());
        let user_role =
            json!({"role": "user", "content": {"type": "text", "text": "hi"}, "model": "m"});
        assert!(parse_answer(&user_role).is_err());
    }

    #[test]
    fn bindings_differ_by_tool_and_arguments() {
        assert_ne!(bind("a", "{}"), bind("b", "{}"));
        assert_ne!(bind("a", "{\"x\":1}"), bind("a", "{\"x\":2}"));
        // Same bytes, split differently: a separator could not tell them apart.
        assert_ne!(bind("a\0b", ""), bind("a", "b\0"));
        assert_ne!(bind("ab", "c"), bind("a", "bc"));
    }
}
