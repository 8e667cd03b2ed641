//! The registry of calls parked for MCP 2026-07-28 clients, and the sealing
//! of their `requestState`.
//!
//! That revision has no server-to-client requests. When a plugin asks the
//! client something (`sample()`, `elicit()`, `list-roots()`), its execution
//! stays suspended in the host (the plugin runs in its own task, waiting on
//! the [`Parked`](crate::routes::parked::Parked) route's channel), and
//! `tools/call` answers `input_required` with the plugin's request and a
//! sealed `requestState` naming the parked call. The client's retry carries the answer; it is
//! handed to the waiting plugin, which resumes where it stopped, and it
//! cannot tell this route from a legacy session's.
//!
//! The state also carries what a process without the parked call needs to
//! go on (see [`ParkedCalls::replay`]): the answers so far, a digest of each
//! question, and where the call's random seed comes from. Such a process
//! runs the plugin again and answers its questions from the state. The
//! call's appends are held until the plugin returns, so whichever run
//! finishes writes them, once.
//!
//! `requestState` is HMAC-sealed with a per-process random key or the
//! shared keys of `--state-key-file` ([`crate::state_key`]), bound to the
//! tool and its arguments, and expires with the parked call. Each round's
//! state is good for one retry that answers it, in each process.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolResult, ClientCapabilities, GetPromptResult, InputRequiredResult, InputResponses,
    RequestStateError, SealOptions,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::audit::CallAudit;
use crate::capabilities::notify::{Notifier, NotifyRoute};
use crate::capabilities::sampling::SampleRoute;
use crate::fairness::{ClientKey, ClientLimits, ClientSlot};
use crate::routes::parked::{self, Parked as ParkingRoute};
use crate::routes::{Answer, Ask, AskError, Keyed};
use crate::runtime::{CallContext, CallFailure, Plugin};
use crate::shared::{Claimed, CommitOnce, RoundClaim, Shared};
use crate::state_key::StateKeys;

/// What a parked call runs: a tool call, or a prompt being filled in.
pub enum Job {
    Tool {
        name: String,
        /// The arguments, as JSON text.
        arguments: String,
    },
    Prompt {
        name: String,
        arguments: Vec<(String, String)>,
    },
}

impl Job {
    /// What a `requestState` is bound to: the kind, the name and the
    /// arguments, so a state cannot resume another call.
    fn binding(&self) -> Vec<u8> {
        match self {
            Job::Tool { name, arguments } => bind(&format!("tool:{name}"), arguments),
            Job::Prompt { name, arguments } => {
                let arguments = serde_json::to_string(arguments).unwrap_or_default();
                bind(&format!("prompt:{name}"), &arguments)
            }
        }
    }

    fn name(&self) -> &str {
        match self {
            Job::Tool { name, .. } | Job::Prompt { name, .. } => name,
        }
    }

    /// How the job ends when it is not run at all, for `failure`.
    fn refused(&self, failure: CallFailure) -> Outcome {
        match self {
            Job::Tool { .. } => Outcome::Tool(Err(failure)),
            Job::Prompt { .. } => Outcome::Prompt(Err(failure)),
        }
    }
}

/// How a job ended.
pub enum Outcome {
    Tool(Result<CallToolResult, CallFailure>),
    Prompt(Result<GetPromptResult, CallFailure>),
}

impl Outcome {
    /// Whether the job failed (a tool's error result counts).
    fn failed(&self) -> bool {
        match self {
            Outcome::Tool(Ok(result)) => result.is_error == Some(true),
            Outcome::Tool(Err(_)) | Outcome::Prompt(Err(_)) => true,
            Outcome::Prompt(Ok(_)) => false,
        }
    }
}

type Event = parked::Event<Outcome>;

/// How long a parked call waits for its client's retry, by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// How many calls may be parked at once, by default.
pub const DEFAULT_MAX_PARKED: usize = 1024;

/// What a `tools/call` request gets back: the call's outcome, or a round.
pub enum Step {
    Done(Outcome),
    InputRequired(InputRequiredResult),
}

/// The `tools/call` request driving a call now.
pub struct Request {
    /// The calling client's share of call slots, held by the call until it
    /// ends (a retry's is not needed: its call holds one already).
    pub slot: Option<ClientSlot>,
    /// Where a retry that replays its call takes a slot for it (the run it
    /// replaces let its slot go); a client with none free is refused, as a
    /// new call would be.
    pub slots: Option<(Arc<ClientLimits>, ClientKey)>,
    /// What its client declared it can do.
    pub capabilities: Option<ClientCapabilities>,
    /// The host's provider route for `sample()`, when the plugin's route
    /// takes it for this client.
    pub provider: Option<Arc<dyn SampleRoute>>,
    /// Cancelled when the client cancels it.
    pub cancel: CancellationToken,
    /// Where its notifications go.
    pub route: NotifyRoute,
    /// The calling client, hashed, for the audit.
    pub client: Arc<str>,
}

/// One question of a round: sent to the client under `key`, or answered
/// already (the client lacks the capability).
enum Slot {
    Asked { key: String, ask: Ask },
    Answered(Result<Answer, AskError>),
}

/// A call suspended in questions to its client, waiting for the client's retry.
struct Parked {
    round: u32,
    /// `sample()` requests made so far (a replay is not charged for them).
    sampled: u32,
    /// What a replay needs: the rounds answered before this one, the digest
    /// of each question of this one, and where the call's seed comes from.
    done: Vec<Recorded>,
    digests: Vec<String>,
    origin: Origin,
    plugin: Arc<str>,
    /// The sealed state and questions of this round, to repeat them to a
    /// retry that does not carry every answer.
    state: String,
    slots: Vec<Slot>,
    answers: oneshot::Sender<Vec<Result<Answer, AskError>>>,
    events: mpsc::Receiver<Event>,
    /// A question the client could not be asked (see [`Driving::missing`]).
    missing: Option<Ask>,
    /// Stops the plugin if the parked call leaves the table without being
    /// resumed (it expired, or the registry is gone): no client waits for
    /// it. A resumed call disarms it and goes on.
    stop_when_dropped: DropGuard,
    /// The call's notifications; silent while parked.
    notifier: Notifier,
    /// Whether its run records its sampling requests (not once another
    /// replica took it over).
    audit: CallAudit,
    expires: Instant,
}

/// A call being driven by a request: started, or taken out of the table to
/// run its next step.
/// How a run of a call begins.
enum Start {
    /// Afresh, with the answers the request carried (if any) for its
    /// first round.
    Fresh(Option<InputResponses>),
    /// Replayed: its first rounds answered from `transcript`, after
    /// `sampled` sampling requests made before.
    Replay {
        transcript: VecDeque<Recorded>,
        sampled: u32,
    },
}

/// A round's replies to the plugin, and the client's responses as sent.
type RoundAnswers = (
    Vec<Result<Answer, AskError>>,
    Vec<Option<serde_json::Value>>,
);

struct Driving {
    events: mpsc::Receiver<Event>,
    round: u32,
    sampled: u32,
    /// The rounds answered so far, and (when the call is being replayed on
    /// this replica) those still to be answered from the state.
    done: Vec<Recorded>,
    replay: VecDeque<Recorded>,
    origin: Origin,
    /// The plugin's name, for messages.
    plugin: Arc<str>,
    cancel: CancellationToken,
    notifier: Notifier,
    /// A question the client lacked the capability for. The plugin got
    /// `unsupported` and may go on without it; if the call then fails, the
    /// request fails with -32021 naming the capability.
    missing: Option<Ask>,
    /// Whether the run records its sampling requests now.
    audit: CallAudit,
    /// Answers the first request carried without a `requestState`: they
    /// answer the call's first round when they answer all of it.
    supplied: Option<InputResponses>,
}

/// The sealed content of `requestState`: enough to resume the call on the
/// process that parked it (its id there), and to replay it anywhere else.
#[derive(Serialize, Deserialize)]
struct StatePayload {
    /// The process that parked this round, and the call's id there.
    host: String,
    call: u64,
    round: u32,
    /// `sample()` requests made up to this round, answered or not.
    #[serde(default)]
    sampled: u32,
    #[serde(flatten)]
    origin: Origin,
    /// The rounds before this one, answered.
    done: Vec<Recorded>,
    /// This round's questions: the digest of each, and the key it went to
    /// the client under (none: the host answered it `unsupported`).
    asked: Vec<(String, Option<String>)>,
}

/// What seeds a call's random numbers, for its whole life: the key's id
/// and a nonce (public; the seed needs the key too).
#[derive(Clone, Serialize, Deserialize)]
struct Origin {
    key: String,
    nonce: String,
}

/// One answered round, as a replay needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Recorded {
    /// The digest of each question, in the plugin's order.
    asks: Vec<String>,
    /// The client's answer to each, as it sent it; none: answered
    /// `unsupported` by the host.
    answers: Vec<Option<serde_json::Value>>,
    /// The host refused the whole round (too many calls were parked): each
    /// question was answered with this refusal, which a replay repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
}

impl Recorded {
    /// A round none of whose questions went to the client: each answered
    /// `unsupported`, or, with `refused`, refused with that message.
    fn answered_by_host(asks: Vec<String>, refused: Option<String>) -> Self {
        Recorded {
            answers: vec![None; asks.len()],
            asks,
            refused,
        }
    }

    /// What the plugin is told, replaying this round, for its `asks`.
    fn replies(&self, asks: &[Keyed]) -> Vec<Result<Answer, AskError>> {
        if let Some(why) = &self.refused {
            return vec![Err(AskError::Refused(why.clone())); asks.len()];
        }
        asks.iter()
            .zip(&self.answers)
            .map(|((_, ask), raw)| match raw {
                Some(value) => ask
                    .parse_answer(value)
                    .unwrap_or_else(|why| Err(AskError::Failed(why))),
                None => Err(ask.unsupported()),
            })
            .collect()
    }
}

/// A round this process answers, until its step ends: claimed in Redis
/// when replicas share it, else in this process's table of rounds.
enum Held {
    Shared(RoundClaim),
    Local((String, u64, u32)),
}

/// Every call parked in this process.
pub struct ParkedCalls {
    keys: StateKeys,
    /// This process, as states name it.
    instance: String,
    calls: Mutex<HashMap<u64, Parked>>,
    /// Rounds answered in this process (or being answered), until their
    /// states expire: each round is answered once (without `shared`).
    answered: Mutex<HashMap<(String, u64, u32), Instant>>,
    next_id: AtomicU64,
    ttl: Duration,
    max_parked: usize,
    /// Replicas' shared state: rounds are claimed there, not in `replayed`.
    shared: Option<Arc<Shared>>,
}

impl ParkedCalls {
    /// A registry whose parked calls wait at most `ttl`, at most `max_parked`
    /// at once. Starts a task that stops expired calls.
    pub fn new(ttl: Duration, max_parked: usize) -> Arc<Self> {
        Self::with_keys(ttl, max_parked, StateKeys::random())
    }

    /// [`ParkedCalls::new`] sealing with `keys` (a key file shared by
    /// replicas, so any of them can replay a call another parked).
    pub fn with_keys(ttl: Duration, max_parked: usize, keys: StateKeys) -> Arc<Self> {
        Self::replicated(ttl, max_parked, keys, None)
    }

    /// [`ParkedCalls::with_keys`] for one of several replicas that share
    /// `shared`: each round is answered once across all of them, and a call
    /// another replica took over is let go here.
    pub fn replicated(
        ttl: Duration,
        max_parked: usize,
        keys: StateKeys,
        shared: Option<Arc<Shared>>,
    ) -> Arc<Self> {
        let parked = Arc::new(ParkedCalls {
            keys,
            instance: hex(&random_bytes::<8>()),
            calls: Mutex::new(HashMap::new()),
            answered: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            ttl,
            max_parked,
            shared,
        });
        tokio::spawn(reap_expired(Arc::downgrade(&parked), ttl));
        if let Some(shared) = &parked.shared {
            let registry = Arc::downgrade(&parked);
            shared.on_takeovers(parked.instance.clone(), move |call| {
                let Some(registry) = registry.upgrade() else {
                    return false;
                };
                // Dropped, its run stops and lets its client slot go; the
                // replica that took it over records its waiting request.
                let taken = registry.lock().remove(&call);
                if let Some(parked) = taken {
                    parked.audit.hand_over();
                    drop(parked);
                    tracing::info!(
                        call,
                        "a parked call was taken over by another replica; stopped it here"
                    );
                }
                true
            });
        }
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

    /// Start `job` in its own task with a parking route for its questions,
    /// and drive it to its first round or its end. If `request` is
    /// cancelled (or this future dropped: the client closed the stream)
    /// while the plugin runs, the plugin is stopped.
    pub async fn start(
        &self,
        plugin: Arc<Plugin>,
        job: Job,
        request: Request,
        supplied: Option<InputResponses>,
    ) -> Result<Step, McpError> {
        let origin = Origin {
            key: self.keys.active.clone(),
            nonce: hex(&random_bytes::<16>()),
        };
        self.launch(plugin, job, request, origin, Start::Fresh(supplied))
            .await
    }

    /// Run `job` from its start, its random numbers seeded from `origin`,
    /// answering its first questions as `start` says (see [`Self::resume`]).
    async fn launch(
        &self,
        plugin: Arc<Plugin>,
        job: Job,
        mut request: Request,
        origin: Origin,
        start: Start,
    ) -> Result<Step, McpError> {
        let (replay, sampled, supplied) = match start {
            Start::Fresh(supplied) => (VecDeque::new(), 0, supplied),
            Start::Replay {
                transcript,
                sampled,
            } => (transcript, sampled, None),
        };
        let seed = self.seed_of(&origin)?;
        let commit_once = self
            .shared
            .as_ref()
            .map(|shared| CommitOnce::new(shared.clone(), origin.nonce.clone(), self.ttl * 2));
        let plugin_name: Arc<str> = plugin.name.as_str().into();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let binding = job.binding();
        let (events, receiver) = mpsc::channel(1);
        let route = Arc::new(ParkingRoute {
            events: events.clone(),
        });
        let provider = request.provider.take();
        // The call outlives this request once parked; only its driver cancels it.
        let cancel = CancellationToken::new();
        let notifier = Notifier::new(Some(request.route.clone()));
        let call = CallContext::new(
            &plugin,
            job.name(),
            request.client.clone(),
            route,
            provider,
            cancel.clone(),
            notifier.clone(),
        )
        .with_seed(seed)
        .staging_effects()
        .replaying(sampled)
        .committing_once(commit_once);
        let slot = request.slot.take();
        let audit = if replay.is_empty() {
            CallAudit::default()
        } else {
            CallAudit::replaying()
        };
        let call = call.audited_as(audit.clone());
        tokio::spawn(async move {
            let outcome = match &job {
                Job::Tool { name, arguments } => {
                    Outcome::Tool(plugin.call(name, arguments, call).await)
                }
                Job::Prompt { name, arguments } => {
                    Outcome::Prompt(plugin.get_prompt(name, arguments, call).await)
                }
            };
            drop(slot);
            if events.send(Event::Done(outcome)).await.is_err() {
                tracing::info!(name = job.name(), plugin = %plugin.name, "call ended after its client stopped waiting");
            }
        });
        let driving = Driving {
            events: receiver,
            round: 0,
            sampled: 0,
            done: Vec::new(),
            replay,
            origin,
            plugin: plugin_name,
            cancel,
            notifier,
            missing: None,
            audit,
            supplied,
        };
        self.drive(id, &binding, driving, request).await
    }

    /// Handle a retry that echoes `state`: hand the answers to the call
    /// parked here, or, when it is not parked here (another replica parked
    /// it, or this one before a restart, or it was taken over), replay it:
    /// run the plugin again from the start, with the same arguments and
    /// seed, answering each question it asks from the state's transcript
    /// (checked against the digest of the question asked before), then this
    /// round's from the retry, and go on from there. A plugin that asks
    /// something else diverged: the call fails, naming the round. Each
    /// round is answered once: per process, or across replicas when they
    /// share Redis.
    pub async fn resume(
        &self,
        plugin: Arc<Plugin>,
        state: &str,
        responses: Option<InputResponses>,
        job: Job,
        mut request: Request,
    ) -> Result<Step, McpError> {
        let binding = job.binding();
        let payload: StatePayload = self
            .keys
            .codec
            .open_json_with(state, &binding)
            .map_err(|error| self.state_error(error))?;
        let here = payload.host == self.instance;
        let parked_here = here && self.is_parked(&payload);
        if parked_here && let Some(repeat) = self.unanswered(&payload, responses.as_ref()) {
            return Ok(Step::InputRequired(repeat));
        }
        // What a replay answers from, checked before the round is claimed.
        let transcript = if parked_here {
            None
        } else {
            Some(transcript_of(&payload, responses.as_ref())?)
        };
        let held = self.claim(&payload).await?;
        if transcript.is_some()
            && let Err(why) = replay_slot(&mut request, self.take_over(&payload)).await
        {
            // Not run: the round stays open for a retry once a slot is free.
            self.release(held);
            return Ok(Step::Done(job.refused(CallFailure::not_admitted(why))));
        }
        let step = match transcript {
            None => match self.take_answered(&payload, responses.as_ref()) {
                Ok(Ok(resumed)) => {
                    resumed.notifier.reroute(Some(request.route.clone()));
                    self.drive(payload.call, &binding, resumed, request).await
                }
                Ok(Err(repeat)) => {
                    self.release(held);
                    return Ok(Step::InputRequired(repeat));
                }
                Err(error) => Err(error),
            },
            Some(replay) => {
                tracing::info!(plugin = %plugin.name, round = payload.round, "resuming a call not parked in this process: replaying it");
                self.launch(
                    plugin,
                    job,
                    request,
                    payload.origin,
                    Start::Replay {
                        transcript: replay,
                        sampled: payload.sampled,
                    },
                )
                .await
            }
        };
        if !answered_by(&step) {
            // The step failed before the plugin could use the answers: the
            // round was not answered, and a retry of it may go again (here
            // or on another replica).
            self.release(held);
            return step;
        }
        if let Held::Shared(claim) = held {
            tokio::spawn(claim.answered());
        }
        step
    }

    /// When another replica sharing Redis parked the call of `payload`,
    /// tell it the call is taken over here: it stops its run, which frees
    /// that run's client slot for the replay. Says whether it told one.
    fn take_over(&self, payload: &StatePayload) -> bool {
        let Some(shared) = &self.shared else {
            return false;
        };
        if payload.host == self.instance {
            return false;
        }
        let (shared, host, call) = (shared.clone(), payload.host.clone(), payload.call);
        tokio::spawn(async move { shared.announce_takeover(&host, call).await });
        true
    }

    /// Let a round go unanswered: its step did not run, or failed. A
    /// shared claim is dropped and lapses within its lease (seconds); a
    /// local one is forgotten at once.
    fn release(&self, held: Held) {
        match held {
            Held::Shared(claim) => drop(claim),
            Held::Local(round) => {
                self.answered
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&round);
            }
        }
    }

    /// Whether the call of `payload` waits here for this round's answers.
    fn is_parked(&self, payload: &StatePayload) -> bool {
        self.lock()
            .get(&payload.call)
            .is_some_and(|parked| parked.round == payload.round)
    }

    /// The same `input_required` again, when the retry lacks an answer for
    /// the call parked here (the spec's rule).
    fn unanswered(
        &self,
        payload: &StatePayload,
        responses: Option<&InputResponses>,
    ) -> Option<InputRequiredResult> {
        let calls = self.lock();
        let parked = calls.get(&payload.call)?;
        let lacks = parked.slots.iter().any(|slot| match slot {
            Slot::Asked { key, .. } => responses.and_then(|r| r.get(key)).is_none(),
            Slot::Answered(_) => false,
        });
        lacks.then(|| input_required(&parked.slots, &parked.state))
    }

    /// Claim the round of `payload` for this process: in Redis when the
    /// replicas share it (waiting out another replica's claim while it
    /// lasts), else in this process's table of rounds. Either way, a
    /// round answered already is refused as used.
    async fn claim(&self, payload: &StatePayload) -> Result<Held, McpError> {
        let Some(shared) = &self.shared else {
            let mut answered = self.answered.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            answered.retain(|_, until| *until > now);
            let round = (payload.host.clone(), payload.call, payload.round);
            if answered.contains_key(&round) {
                return Err(already_used());
            }
            answered.insert(round.clone(), now + self.ttl);
            return Ok(Held::Local(round));
        };
        let round = format!("{}:{}:{}", payload.host, payload.call, payload.round);
        match shared.claim_round(&round, self.ttl).await {
            Ok(Claimed::Mine(claim)) => Ok(Held::Shared(claim)),
            Ok(Claimed::AlreadyAnswered) => Err(already_used()),
            Err(why) => Err(McpError::internal_error(why, None)),
        }
    }

    /// The seed of a call's random numbers.
    fn seed_of(&self, origin: &Origin) -> Result<[u8; 32], McpError> {
        let nonce = unhex(&origin.nonce).unwrap_or_default();
        self.keys.seed_for(&origin.key, &nonce).ok_or_else(|| {
            McpError::invalid_params(
                format!("requestState was sealed with key `{}`, which this server no longer has; call the tool again without requestState", origin.key),
                None,
            )
        })
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
            .ok_or_else(already_used)?;
        let mut answers = Vec::with_capacity(parked.slots.len());
        let mut raw = Vec::with_capacity(parked.slots.len());
        for slot in &parked.slots {
            match slot {
                Slot::Answered(answer) => {
                    answers.push(answer.clone());
                    raw.push(None);
                }
                Slot::Asked { key, ask } => {
                    let Some(response) = responses.and_then(|r| r.get(key)) else {
                        // The spec asks for the same input_required again.
                        return Ok(Err(input_required(&parked.slots, &parked.state)));
                    };
                    let answer = ask.parse_answer(response).map_err(|why| {
                        McpError::invalid_params(
                            format!(
                                "inputResponses[\"{key}\"] is not a valid {} result: {why}",
                                ask.kind()
                            ),
                            None,
                        )
                    })?;
                    answers.push(answer);
                    raw.push(Some(response.clone()));
                }
            }
        }
        let Parked {
            answers: reply,
            events,
            round,
            sampled,
            mut done,
            digests,
            origin,
            plugin,
            stop_when_dropped,
            notifier,
            missing,
            audit,
            ..
        } = calls.remove(&payload.call).expect("checked above");
        let cancel = stop_when_dropped.disarm();
        // A plugin that stopped waiting (it ended) has dropped its receiver.
        let _ = reply.send(answers);
        done.push(Recorded {
            asks: digests,
            answers: raw,
            refused: None,
        });
        Ok(Ok(Driving {
            events,
            round,
            sampled,
            done,
            replay: VecDeque::new(),
            origin,
            plugin,
            cancel,
            notifier,
            missing,
            audit,
            supplied: None,
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
        let capabilities = request.capabilities;
        let Driving {
            mut events,
            mut round,
            mut sampled,
            mut done,
            mut replay,
            origin,
            plugin,
            cancel,
            notifier,
            mut missing,
            audit,
            mut supplied,
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
                Some(Event::Done(outcome)) => {
                    if let Some(ask) = missing.filter(|_| outcome.failed()) {
                        return Err(missing_capability(&ask));
                    }
                    return Ok(Step::Done(outcome));
                }
                Some(Event::Ask {
                    asks,
                    timeout,
                    answers,
                }) => {
                    let digests: Vec<String> = asks.iter().map(digest_of).collect();
                    let samples = asks.iter().filter(|(_, ask)| matches!(ask, Ask::Sample(_)));
                    sampled = sampled.saturating_add(samples.count() as u32);
                    if let Some(expected) = replay.pop_front() {
                        // Replaying: the plugin must ask what it asked before.
                        if expected.answers.iter().any(Option::is_some) {
                            round += 1;
                        }
                        if expected.asks != digests {
                            return Err(diverged(&plugin, round));
                        }
                        if replay.is_empty() {
                            // The round the retry answers: its requests
                            // are this run's to record.
                            audit.caught_up();
                        }
                        let _ = answers.send(expected.replies(&asks));
                        done.push(expected);
                        continue;
                    }
                    let slots =
                        self.slots_for(asks, round + 1, capabilities.as_ref(), &mut missing);
                    if !slots.iter().any(|s| matches!(s, Slot::Asked { .. })) {
                        // Nothing the client can answer: the plugin hears at
                        // once, and a replay must hear the same.
                        done.push(Recorded::answered_by_host(digests, None));
                        let _ = answers.send(answered_now(slots));
                        continue;
                    }
                    round += 1;
                    if let Some(given) = supplied
                        .take()
                        .and_then(|given| answers_supplied(&slots, &given))
                    {
                        // The request answered this round before it was
                        // asked: go on as a retry would, recorded alike.
                        let (replies, raw) = given;
                        done.push(Recorded {
                            asks: digests,
                            answers: raw,
                            refused: None,
                        });
                        let _ = answers.send(replies);
                        continue;
                    }
                    // One clock for the state, the parked call and the
                    // plugin's wait: the shorter of the TTL and the plugin's
                    // timeout. An answer is never dropped silently: it
                    // resumes the call, or gets "expired".
                    let wait = self.ttl.min(timeout);
                    let asked = slots
                        .iter()
                        .zip(&digests)
                        .map(|(slot, digest)| match slot {
                            Slot::Asked { key, .. } => (digest.clone(), Some(key.clone())),
                            Slot::Answered(_) => (digest.clone(), None),
                        })
                        .collect();
                    let payload = StatePayload {
                        host: self.instance.clone(),
                        call: id,
                        round,
                        sampled,
                        origin: origin.clone(),
                        done: done.clone(),
                        asked,
                    };
                    let state = self.keys.codec.seal_json_with(
                        &payload,
                        &SealOptions::new().associated_data(binding).ttl(wait),
                    );
                    let state = state.map_err(|e| McpError::internal_error(e.to_string(), None))?;
                    let result = input_required(&slots, &state);
                    let mut calls = self.lock();
                    if calls.len() >= self.max_parked {
                        drop(calls);
                        let full = format!(
                            "{} calls are already waiting for their clients' answers, the most this host parks; try again later",
                            self.max_parked
                        );
                        // Not a round after all, but the plugin hears of it
                        // and goes on: a replay must hear the same, so it
                        // is recorded with the rounds answered.
                        round -= 1;
                        done.push(Recorded::answered_by_host(digests, Some(full.clone())));
                        let _ = answers.send(vec![Err(AskError::Refused(full)); slots.len()]);
                        continue;
                    }
                    calls.insert(
                        id,
                        Parked {
                            round,
                            sampled,
                            done,
                            digests,
                            origin,
                            plugin,
                            state,
                            slots,
                            answers,
                            events,
                            missing,
                            stop_when_dropped: cancel.drop_guard(),
                            notifier: {
                                notifier.reroute(None);
                                notifier
                            },
                            audit,
                            expires: Instant::now() + wait,
                        },
                    );
                    stop_if_abandoned.disarm();
                    return Ok(Step::InputRequired(result));
                }
            }
        }
    }

    /// The slots of a round: each question the client can answer under its
    /// key (the plugin's, else `<kind>-<round>`), the others answered
    /// `unsupported` now and remembered in `missing`.
    fn slots_for(
        &self,
        asks: Vec<Keyed>,
        round: u32,
        capabilities: Option<&ClientCapabilities>,
        missing: &mut Option<Ask>,
    ) -> Vec<Slot> {
        let mut taken = std::collections::HashSet::new();
        asks.into_iter()
            .map(|(key, ask)| {
                if !ask.is_supported_by(capabilities) {
                    let unsupported = ask.unsupported();
                    missing.get_or_insert(ask);
                    return Slot::Answered(Err(unsupported));
                }
                let mut key = key.unwrap_or_else(|| format!("{}-{round}", ask.kind()));
                let base = key.clone();
                let mut n = 2;
                while !taken.insert(key.clone()) {
                    key = format!("{base}-{n}");
                    n += 1;
                }
                Slot::Asked { key, ask }
            })
            .collect()
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

/// The answers to a round from `inputResponses` a request carried before
/// the round was asked (no `requestState`): each question's answer and the
/// response as sent, or `None` when they do not answer every question the
/// client was to be asked, or one of them is not a valid answer (the round
/// is then asked as usual). Keys the round does not ask are ignored, as
/// the spec says unrecognised ones should be.
fn answers_supplied(slots: &[Slot], given: &InputResponses) -> Option<RoundAnswers> {
    let mut replies = Vec::with_capacity(slots.len());
    let mut raw = Vec::with_capacity(slots.len());
    for slot in slots {
        match slot {
            Slot::Answered(answer) => {
                replies.push(answer.clone());
                raw.push(None);
            }
            Slot::Asked { key, ask } => {
                let response = given.get(key)?;
                replies.push(ask.parse_answer(response).ok()?);
                raw.push(Some(response.clone()));
            }
        }
    }
    Some((replies, raw))
}

/// What a replayed question is checked against: a digest of its key and
/// of the request exactly as the client would see it.
fn digest_of((key, ask): &Keyed) -> String {
    use sha2::Digest as _;
    let request = serde_json::to_vec(&ask.to_input_request()).unwrap_or_default();
    let digest = sha2::Sha256::new()
        .chain_update(serde_json::to_vec(key).unwrap_or_default())
        .chain_update(&request)
        .finalize();
    hex(&digest[..16])
}

/// What a replay of `payload`'s call answers its questions from: the rounds
/// answered before, then this round's answers from the retry.
fn transcript_of(
    payload: &StatePayload,
    responses: Option<&InputResponses>,
) -> Result<VecDeque<Recorded>, McpError> {
    let mut current = Recorded {
        asks: Vec::with_capacity(payload.asked.len()),
        answers: Vec::with_capacity(payload.asked.len()),
        refused: None,
    };
    for (digest, key) in &payload.asked {
        current.asks.push(digest.clone());
        current.answers.push(match key {
            None => None,
            Some(key) => Some(responses.and_then(|r| r.get(key)).cloned().ok_or_else(|| {
                McpError::invalid_params(
                    format!("inputResponses has no answer for `{key}`: a retry answers every request of its round"),
                    None,
                )
            })?),
        });
    }
    let mut replay: VecDeque<Recorded> = payload.done.clone().into();
    replay.push_back(current);
    Ok(replay)
}

/// Whether a step used its round's answers: it parked the next round or
/// ended the call. A call that ended failing for want of a capability
/// counts (the plugin ran to its end, and may have written), while every
/// other error stopped the plugin before it returned, so nothing of the
/// round is written and a retry may run it again.
fn answered_by(step: &Result<Step, McpError>) -> bool {
    match step {
        Ok(_) => true,
        Err(error) => error.code == rmcp::model::ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
    }
}

/// How long a replay waits for the client slot that the run it took over
/// frees on the replica that parked it.
const SLOT_HANDOVER: Duration = Duration::from_secs(3);

/// Take a call slot for a replay, or say why the client has none free: a
/// replay at the client's cap is refused as a new call is, never run
/// without a slot. When `freed_elsewhere` (the run it replaces was told
/// to stop, and gives its slot back), it waits for that slot a moment.
async fn replay_slot(request: &mut Request, freed_elsewhere: bool) -> Result<(), String> {
    if request.slot.is_some() {
        return Ok(());
    }
    let Some((limits, client)) = request.slots.take() else {
        return Ok(());
    };
    let deadline = Instant::now() + SLOT_HANDOVER;
    loop {
        match limits.acquire(client.clone()).await {
            Ok(slot) => {
                request.slot = Some(slot);
                return Ok(());
            }
            Err(why) if !freed_elsewhere || Instant::now() >= deadline => return Err(why),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn already_used() -> McpError {
    McpError::invalid_params(
        "requestState was already used, or its call has ended (completed, cancelled or expired); call the tool again without requestState",
        None,
    )
}

/// A replayed call asked something other than it asked before.
fn diverged(plugin: &str, round: u32) -> McpError {
    McpError::internal_error(
        format!(
            "this call could not be resumed on this server: plugin `{plugin}` did not repeat itself when replayed; at round {round} it asked something other than it asked before. A resumable plugin asks the same questions given the same arguments and answers: it must not let the clock, a fetched page or other outside state change them. Call the tool again without requestState"
        ),
        None,
    )
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source is unavailable");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
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

fn input_required(slots: &[Slot], state: &str) -> InputRequiredResult {
    let requests: BTreeMap<_, _> = slots
        .iter()
        .filter_map(|slot| match slot {
            Slot::Asked { key, ask } => Some((key.clone(), ask.to_input_request())),
            Slot::Answered(_) => None,
        })
        .collect();
    InputRequiredResult::new(Some(requests), Some(state.to_string()))
}

/// The answers of a round no question of which went to the client.
fn answered_now(slots: Vec<Slot>) -> Vec<Result<Answer, AskError>> {
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Answered(answer) => answer,
            Slot::Asked { ask, .. } => Err(ask.unsupported()),
        })
        .collect()
}

/// `-32021` for a question the client cannot answer. Clients often print
/// only the message, so it names the capability and what to do.
pub fn missing_capability(ask: &Ask) -> McpError {
    let mut error = McpError::missing_required_client_capability(ask.required_capability());
    error.message = format!(
        "Missing required client capability: `{}`. This tool asks the client for {} during the call; declare the `{}` capability in the request's clientCapabilities (from a client that supports it) and call again",
        ask.kind(),
        match ask {
            Ask::Sample(_) => "an LLM completion (sampling)",
            Ask::Elicit(_) => "input from its user (elicitation)",
            Ask::ListRoots => "its roots",
        },
        ask.kind()
    )
    .into();
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_differ_by_tool_and_arguments() {
        assert_ne!(bind("a", "{}"), bind("b", "{}"));
        assert_ne!(bind("a", "{\"x\":1}"), bind("a", "{\"x\":2}"));
        // Same bytes, split differently: a separator could not tell them apart.
        assert_ne!(bind("a\0b", ""), bind("a", "b\0"));
        assert_ne!(bind("ab", "c"), bind("a", "bc"));
    }

    /// A state of round `round` of call 7 parked by `host`, which asked
    /// one question under `sampling-1`.
    fn payload(host: &str, round: u32) -> StatePayload {
        StatePayload {
            host: host.into(),
            call: 7,
            round,
            sampled: 1,
            origin: Origin {
                key: "k1".into(),
                nonce: "00".into(),
            },
            done: Vec::new(),
            asked: vec![("digest-1".into(), Some("sampling-1".into()))],
        }
    }

    fn answer() -> serde_json::Value {
        serde_json::json!({
            "role": "assistant",
            "content": {"type": "text", "text": "fine"},
            "model": "m"
        })
    }

    /// The spec: a server SHOULD ignore `inputResponses` it does not
    /// recognise. Keys beside the ones asked (even one named like a later
    /// round's, or holding no result at all) neither fail the retry nor
    /// reach the replay.
    #[test]
    fn extra_input_responses_are_ignored() {
        let responses: InputResponses = [
            ("sampling-1".to_string(), answer()),
            ("sampling-2".to_string(), answer()),
            ("unrelated".to_string(), serde_json::json!("not a result")),
            ("error-like".to_string(), serde_json::json!({"code": 1})),
        ]
        .into_iter()
        .collect();
        let replay = transcript_of(&payload("h", 1), Some(&responses)).unwrap();
        assert_eq!(replay.len(), 1);
        assert_eq!(replay[0].answers, vec![Some(answer())]);
        assert_eq!(replay[0].refused, None);
        // Without the asked key, the retry is refused whatever else it holds.
        let only_extra: InputResponses = [("unrelated".to_string(), answer())].into();
        let error = transcript_of(&payload("h", 1), Some(&only_extra)).unwrap_err();
        assert!(error.message.contains("`sampling-1`"), "{}", error.message);
    }

    /// A round refused because too many calls were parked is in the
    /// transcript: a replay tells the plugin the same refusal at the same
    /// point, rather than answering it from the next round.
    #[test]
    fn a_refused_round_replays_as_refused() {
        let refused = Recorded::answered_by_host(
            vec!["digest-1".into(), "digest-2".into()],
            Some("1 calls are already waiting".into()),
        );
        let asks: Vec<Keyed> = vec![(None, Ask::ListRoots), (Some("k".into()), Ask::ListRoots)];
        let replies = refused.replies(&asks);
        assert_eq!(replies.len(), 2);
        for reply in replies {
            assert!(
                matches!(&reply, Err(AskError::Refused(why)) if why == "1 calls are already waiting"),
                "{reply:?}"
            );
        }
        // It travels in the state; states sealed before it existed open.
        let text = serde_json::to_string(&refused).unwrap();
        assert_eq!(serde_json::from_str::<Recorded>(&text).unwrap(), refused);
        let old: Recorded = serde_json::from_str(r#"{"asks":["d"],"answers":[null]}"#).unwrap();
        assert_eq!(old.refused, None);
        assert!(matches!(
            old.replies(&asks[..1])[0],
            Err(AskError::Unsupported(_))
        ));
    }

    /// A round is used once its step succeeded, and only then: a step that
    /// failed lets it go, so the retry runs again instead of hearing
    /// "already used". Rounds this process parked and ones it replays alike.
    #[tokio::test]
    async fn a_round_is_used_only_when_its_step_succeeded() {
        let parked = ParkedCalls::new(Duration::from_secs(60), 4);
        for host in ["another-process".to_string(), parked.instance.clone()] {
            let state = payload(&host, 1);
            let failed = parked.claim(&state).await.unwrap();
            parked.release(failed);
            let succeeded = parked.claim(&state).await.unwrap();
            let again = parked.claim(&state).await.err().unwrap();
            assert!(again.message.contains("already used"), "{}", again.message);
            drop(succeeded);
            assert!(parked.claim(&state).await.is_err(), "{host}");
            assert!(parked.claim(&payload(&host, 2)).await.is_ok(), "{host}");
        }
    }

    /// Which step results used their round's answers.
    #[test]
    fn only_a_step_that_ran_to_a_round_or_an_end_answers_its_round() {
        let parked = Ok(Step::InputRequired(InputRequiredResult::new(
            None,
            Some("state".into()),
        )));
        assert!(answered_by(&parked));
        let cancelled = Err(McpError::internal_error("the call was cancelled", None));
        assert!(!answered_by(&cancelled));
        assert!(!answered_by(&Err(diverged("p", 2))));
        assert!(answered_by(&Err(missing_capability(&Ask::ListRoots))));
    }

    fn binding() -> Vec<u8> {
        bind("tool:t", "{}")
    }

    /// A genuine state of [`payload`], sealed with `keys`.
    fn sealed(keys: &StateKeys) -> String {
        keys.codec
            .seal_json_with(
                &payload("h", 1),
                &SealOptions::new()
                    .associated_data(&binding())
                    .ttl(Duration::from_secs(600)),
            )
            .unwrap()
    }

    /// Text a client might send as `requestState`: anything, or shaped
    /// like a state (version, key id, body, tag in base64url).
    fn any_state() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            any::<String>(),
            "rs[0-9]\\.[A-Za-z0-9_-]{0,12}\\.[A-Za-z0-9_-]{0,120}\\.[A-Za-z0-9_-]{0,60}",
            "[A-Za-z0-9_.-]{0,200}",
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Invariant: decoding any text as `requestState` returns an error,
        /// never a payload, and never panics.
        #[test]
        fn no_text_but_a_sealed_state_decodes(text in any_state()) {
            let keys = StateKeys::random();
            let opened = keys.codec.open_json_with::<StatePayload>(&text, &binding());
            proptest::prop_assert!(opened.is_err());
        }

        /// Invariant: a genuine state with any one byte replaced, removed
        /// or inserted never verifies (and decoding it never panics), while
        /// the state itself does.
        #[test]
        fn an_altered_state_never_verifies(
            at in proptest::prelude::any::<proptest::sample::Index>(),
            byte in proptest::prelude::any::<u8>(),
            how in 0u8..3,
        ) {
            let keys = StateKeys::random();
            let state = sealed(&keys);
            let genuine = keys.codec.open_json_with::<StatePayload>(&state, &binding());
            proptest::prop_assert!(genuine.is_ok());
            let mut bytes = state.clone().into_bytes();
            let at = at.index(bytes.len());
            match how {
                0 => bytes[at] = byte,
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, byte),
            }
            let altered = String::from_utf8_lossy(&bytes).into_owned();
            proptest::prop_assume!(altered != state);
            let opened = keys.codec.open_json_with::<StatePayload>(&altered, &binding());
            proptest::prop_assert!(opened.is_err(), "{altered}");
        }
    }
}
