//! Rounds of 2026-07-28 calls across replicas: each round's state is
//! answered by one replica at a time and once for good; a call's appends
//! are written by one run only; and the replica that parked a call hears
//! when another one took it over, so it can let its parked run go.
//!
//! A claim is a lease: the replica answering a round holds it while it
//! works and renews it; once the round is answered the claim says so for
//! the state's lifetime. A replica that dies mid-round stops renewing, the
//! lease lapses within [`LEASE`], and the client's retry (or the
//! balancer's) is answered elsewhere.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::Shared;
use crate::capabilities::files::CommitLog;

/// How long a claim outlives its holder's last renewal.
pub const LEASE: Duration = Duration::from_secs(5);
/// How often a holder renews its claim.
const RENEW_EVERY: Duration = Duration::from_millis(1500);
/// How often a replica waiting for another's lease looks again.
const WAIT_STEP: Duration = Duration::from_millis(200);
/// What a claim holds once its round is answered.
const ANSWERED: &str = "answered";
/// The channel that says "call C of replica H was taken over".
const TAKEN_OVER: &str = "taken-over";

/// Renew a claim only while it is still this holder's.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

/// Mark a round answered only while its claim is still this holder's: a
/// holder whose lease lapsed (it stalled past [`LEASE`]) must not write
/// over the claim of the replica answering the round now.
/// KEYS: the claim. ARGV: the holder, how long to keep the mark (ms), the
/// mark ([`ANSWERED`]).
const MARK_ANSWERED: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
  return 1
end
return 0";

/// What claiming a round gave.
pub enum Claimed {
    /// This replica answers the round.
    Mine(RoundClaim),
    /// The round was answered already (here or elsewhere).
    AlreadyAnswered,
}

/// A round this replica is answering. Mark it answered when done; dropped
/// unanswered (the request was abandoned), its lease lapses and the round
/// can be answered again.
pub struct RoundClaim {
    shared: Arc<Shared>,
    key: String,
    /// Who holds the claim, as Redis has it: the fence of every write.
    holder: String,
    answered_for: Duration,
    renewing: tokio::task::JoinHandle<()>,
}

impl Shared {
    /// Claim round `round` (an id unique to the call and round) for this
    /// replica. When another replica holds it, wait while its lease lasts:
    /// it either answers (the round is then used) or died (the claim lapses
    /// and is taken here). An answered claim is kept for `answered_for`,
    /// the state's own lifetime.
    pub async fn claim_round(
        self: &Arc<Self>,
        round: &str,
        answered_for: Duration,
    ) -> Result<Claimed, String> {
        // Unique across replicas (not `pid:n`: in containers all are PID 1).
        let holder = crate::fairness::holder_id();
        let key = self.key(&format!("round:{round}"));
        let give_up = Instant::now() + LEASE + LEASE;
        loop {
            let set: Option<String> = self
                .query(
                    "to claim a round",
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(&holder)
                        .arg("NX")
                        .arg("PX")
                        .arg(LEASE.as_millis() as u64),
                )
                .await?;
            if set.is_some() {
                let renewing = tokio::spawn(renew(self.clone(), key.clone(), holder.clone()));
                return Ok(Claimed::Mine(RoundClaim {
                    shared: self.clone(),
                    key,
                    holder,
                    answered_for,
                    renewing,
                }));
            }
            let held: Option<String> = self
                .query("to read a round's claim", redis::cmd("GET").arg(&key))
                .await?;
            match held.as_deref() {
                Some(ANSWERED) => return Ok(Claimed::AlreadyAnswered),
                // Lapsed between the two commands: claim it.
                None => continue,
                Some(_) if Instant::now() < give_up => tokio::time::sleep(WAIT_STEP).await,
                Some(_) => {
                    return Err(
                        "another replica is still answering this round; try again in a few seconds"
                            .into(),
                    );
                }
            }
        }
    }

    /// Tell replica `host` that its parked call `call` was taken over here.
    pub async fn announce_takeover(&self, host: &str, call: u64) {
        let sent: Result<i64, String> = self
            .query(
                "to announce a takeover",
                redis::cmd("PUBLISH")
                    .arg(self.key(TAKEN_OVER))
                    .arg(format!("{host} {call}")),
            )
            .await;
        if let Err(why) = sent {
            tracing::warn!("{why}; the replica that parked the call keeps it until it expires");
        }
    }

    /// Call `taken(call)` for each of `host`'s calls another replica takes
    /// over, for as long as `taken` returns true. Reconnects after errors.
    pub fn on_takeovers(
        self: &Arc<Self>,
        host: String,
        taken: impl Fn(u64) -> bool + Send + 'static,
    ) {
        let shared = self.clone();
        tokio::spawn(async move {
            let channel = shared.key(TAKEN_OVER);
            loop {
                match shared.client.get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if let Err(error) = pubsub.subscribe(&channel).await {
                            tracing::warn!("cannot subscribe to takeovers in Redis: {error}");
                        } else {
                            let mut messages = pubsub.on_message();
                            while let Some(message) = messages.next().await {
                                let Ok(text) = message.get_payload::<String>() else {
                                    continue;
                                };
                                let Some((to, call)) = text.split_once(' ') else {
                                    continue;
                                };
                                if to == host
                                    && let Ok(call) = call.parse()
                                    && !taken(call)
                                {
                                    return;
                                }
                            }
                        }
                    }
                    Err(error) => tracing::warn!("cannot listen for takeovers in Redis: {error}"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

impl RoundClaim {
    /// The round is answered: no replica may answer it again. Written only
    /// while the claim is still this one's (see [`MARK_ANSWERED`]); says
    /// whether it was.
    pub async fn answered(self) -> bool {
        self.renewing.abort();
        let script = redis::Script::new(MARK_ANSWERED);
        let mut invocation = script.key(&self.key);
        invocation
            .arg(&self.holder)
            .arg(self.answered_for.as_millis().max(1) as u64)
            .arg(ANSWERED);
        let marked: Result<i64, String> = self
            .shared
            .script("to mark a round answered", &invocation)
            .await;
        match marked {
            Ok(1) => true,
            Ok(_) => {
                tracing::warn!(
                    "a round's claim lapsed before it was marked answered (this replica stalled for over {} s); another replica may answer it again",
                    LEASE.as_secs()
                );
                false
            }
            Err(why) => {
                tracing::warn!("{why}; its claim lapses in {} s", LEASE.as_secs());
                false
            }
        }
    }
}

impl Drop for RoundClaim {
    fn drop(&mut self) {
        self.renewing.abort();
    }
}

async fn renew(shared: Arc<Shared>, key: String, holder: String) {
    let script = redis::Script::new(RENEW);
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let mut invocation = script.key(&key);
        invocation.arg(&holder).arg(LEASE.as_millis() as u64);
        let renewed: Result<i64, String> = shared.script("to renew a claim", &invocation).await;
        match renewed {
            Ok(1) => {}
            Ok(_) => return,
            Err(why) => tracing::warn!("{why}"),
        }
    }
}

/// Begin a call's commit, unless a run of it began one already.
/// KEYS: the call's commit record. ARGV: the record (JSON, see
/// [`crate::capabilities::files`]), how long to keep it. Returns the record
/// found, or nil.
const BEGIN_COMMIT: &str = r"
local found = redis.call('GET', KEYS[1])
if found then
  return found
end
redis.call('SET', KEYS[1], 'pending ' .. ARGV[1], 'PX', ARGV[2])
return false";

/// What a run of a call finds when it comes to write its staged effects.
pub enum Commit {
    /// It is the first: write them.
    First,
    /// Another run wrote them: write nothing.
    Written,
    /// Another run began writing them and died: write what it did not,
    /// as the record it left says (the text after `pending `).
    Interrupted(String),
}

/// A call's staged effects, written once whichever of its runs returns
/// (a replica may die after writing them and before answering, and the
/// run that replays the call must not write them again). The record says
/// what the run writes and how far it got, file by file, and at the end
/// that it wrote everything; a run that finds it unfinished writes only
/// what is missing (how: [`crate::capabilities::files`]).
#[derive(Clone)]
pub struct CommitOnce {
    shared: Arc<Shared>,
    /// The call, as all its runs know it (its origin's nonce).
    call: String,
    remember_for: Duration,
}

impl CommitOnce {
    pub fn new(shared: Arc<Shared>, call: String, remember_for: Duration) -> Self {
        CommitOnce {
            shared,
            call,
            remember_for,
        }
    }

    fn key(&self) -> String {
        self.shared.key(&format!("committed:{}", self.call))
    }
}

#[async_trait::async_trait]
impl CommitLog for CommitOnce {
    async fn begin(&self, record: &str) -> Result<Commit, String> {
        let script = redis::Script::new(BEGIN_COMMIT);
        let mut invocation = script.key(self.key());
        invocation
            .arg(record)
            .arg(self.remember_for.as_millis().max(1) as u64);
        let found: Option<String> = self
            .shared
            .script(
                "to record that a call's appends are being written",
                &invocation,
            )
            .await?;
        Ok(match found {
            None => Commit::First,
            Some(found) if found == WRITTEN => Commit::Written,
            // Anything else is read (and refused if unreadable) by the files.
            Some(found) => Commit::Interrupted(match found.strip_prefix(PENDING) {
                Some(record) => record.to_string(),
                None => found,
            }),
        })
    }

    async fn progress(&self, record: &str) -> Result<(), String> {
        // Only over this call's record: if it is gone (expired), another
        // run could begin afresh, so this one must not go on.
        let replaced: Option<String> = self
            .shared
            .query(
                "to record how far a call's appends are written",
                redis::cmd("SET")
                    .arg(self.key())
                    .arg(format!("{PENDING}{record}"))
                    .arg("XX")
                    .arg("PX")
                    .arg(self.remember_for.as_millis().max(1) as u64),
            )
            .await?;
        match replaced {
            Some(_) => Ok(()),
            None => Err("the call's commit record in Redis is gone (expired or deleted); not writing, so that no other run of it writes too".into()),
        }
    }

    async fn written(&self) {
        let recorded: Result<(), String> = self
            .shared
            .query(
                "to record that a call's appends are written",
                redis::cmd("SET")
                    .arg(self.key())
                    .arg(WRITTEN)
                    .arg("PX")
                    .arg(self.remember_for.as_millis().max(1) as u64),
            )
            .await;
        if let Err(why) = recorded {
            tracing::warn!("{why}");
        }
    }
}

/// What a commit record begins with until its run wrote everything.
const PENDING: &str = "pending ";
/// A commit record once its run wrote everything.
const WRITTEN: &str = "written";
