//! The sampling audit: one structured record per sampling request, whatever
//! its route and outcome, so an operator can answer "which tool spent what,
//! for whom, and what happened".
//!
//! Records go to the host's log (target `audit`) and, when a file is named
//! (`[audit] file`, `--audit-file`), to that file as JSON lines, written by
//! a thread of their own so a slow disk never stalls a call. The calling
//! client appears as a salted hash: stable for one client within this
//! process, but neither its session id nor its address. Prompts are
//! recorded only when `[audit] prompts = true`.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// Records waiting for the writer thread; beyond this a record is dropped
/// from the file (never from the host log) and the drop is logged.
const QUEUE: usize = 4096;

/// Where audit records go.
#[derive(Debug)]
pub struct AuditLog {
    file: Option<mpsc::Sender<String>>,
    /// Whether records carry the request and the answer.
    pub prompts: bool,
}

/// What happened to one sampling request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Answered,
    Declined,
    Refused,
    TimedOut,
    Failed,
    /// No route could carry it: the client cannot sample and there is no provider.
    Unsupported,
    /// The tool call ended (cancelled, or a limit) while it waited.
    Cancelled,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Declined => "declined",
            Outcome::Refused => "refused",
            Outcome::TimedOut => "timed_out",
            Outcome::Failed => "failed",
            Outcome::Unsupported => "unsupported",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// One sampling request, as recorded.
#[derive(Debug, Serialize)]
pub struct Record {
    /// When the request ended, RFC 3339 UTC.
    pub time: String,
    pub plugin: String,
    pub tool: String,
    /// `client` or `provider` (`none` when no route could carry it).
    pub route: &'static str,
    /// How: `session`, `input_required`, or the provider's API.
    pub via: &'static str,
    /// The calling client, hashed.
    pub client: String,
    /// The request's `max_tokens`, after the policy's cap.
    pub tokens_asked: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// `reported` (by the provider) or `estimated` (client sampling: a token
    /// per 4 bytes of text, 1,600 per image or audio clip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<&'static str>,
    pub latency_ms: f64,
    pub outcome: Outcome,
    /// The budget or limit that refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The request (`[audit] prompts = true` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<serde_json::Value>,
    /// The answer's text (`[audit] prompts = true` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

impl AuditLog {
    /// Records to the host's log only.
    pub fn log_only() -> Self {
        AuditLog {
            file: None,
            prompts: false,
        }
    }

    /// Records to the log and appended to `path` (created `0600`: records
    /// may hold prompts). Fails at once if the file cannot be opened.
    pub fn to_file(path: &Path, prompts: bool) -> Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open the audit file {}", path.display()))?;
        let (sender, mut receiver) = mpsc::channel::<String>(QUEUE);
        let shown = path.display().to_string();
        std::thread::Builder::new()
            .name("wasm-mcp-audit".into())
            .spawn(move || {
                while let Some(line) = receiver.blocking_recv() {
                    if let Err(error) = file.write_all(line.as_bytes()) {
                        tracing::error!("cannot write the audit file {shown}: {error}");
                    }
                }
            })
            .context("cannot start the audit writer thread")?;
        Ok(AuditLog {
            file: Some(sender),
            prompts,
        })
    }

    /// Whether a record would go anywhere: to a file, or to a log that
    /// shows `audit` lines. When not, none is built.
    pub fn wanted(&self) -> bool {
        self.file.is_some() || tracing::enabled!(target: "audit", tracing::Level::INFO)
    }

    /// Record `record`: the log at once, the file through its queue.
    pub fn record(&self, record: &Record) {
        let line = match serde_json::to_string(record) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!("cannot encode an audit record: {error}");
                return;
            }
        };
        tracing::info!(target: "audit", "{line}");
        if let Some(file) = &self.file
            && file.try_send(line + "\n").is_err()
        {
            tracing::error!(
                plugin = record.plugin,
                "the audit file's queue is full; this record is only in the log"
            );
        }
    }
}

/// Whether one run of a call records its sampling requests now. A
/// 2026-07-28 call may run more than once (replayed on another replica, or
/// after a restart), and each request must leave exactly one record across
/// all its runs: a replay records nothing until it has caught up with the
/// round its retry answers (the runs that got the earlier rounds' answers
/// recorded those requests), and a run another replica took over records
/// nothing more (the replica that took it over records the request it was
/// waiting on). Metrics follow the records. This concerns requests to the
/// calling client only: a run that asks the host's provider makes a request
/// of its own, recorded whatever this says.
#[derive(Clone, Debug, Default)]
pub struct CallAudit(Arc<CallAuditState>);

#[derive(Debug, Default)]
struct CallAuditState {
    /// Replaying rounds answered before.
    replaying: AtomicBool,
    /// Another replica took the call over.
    handed_over: AtomicBool,
}

impl CallAudit {
    /// A run that replays rounds answered before: silent until
    /// [`CallAudit::caught_up`].
    pub fn replaying() -> Self {
        let audit = CallAudit::default();
        audit.0.replaying.store(true, Ordering::SeqCst);
        audit
    }

    /// The replay has reached the round its retry answers: what it asks
    /// from now on is its own to record.
    pub fn caught_up(&self) {
        self.0.replaying.store(false, Ordering::SeqCst);
    }

    /// Another replica took the call over: this run records nothing more,
    /// whatever becomes of the request it waits on.
    pub fn hand_over(&self) {
        self.0.handed_over.store(true, Ordering::SeqCst);
    }

    /// Whether a request ending now is this run's to record.
    pub fn records(&self) -> bool {
        !self.0.replaying.load(Ordering::SeqCst) && !self.0.handed_over.load(Ordering::SeqCst)
    }
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// A per-process random salt for client hashes.
static SALT: LazyLock<[u8; 16]> = LazyLock::new(|| {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random source is unavailable");
    salt
});

/// A stable, unlinkable name for a client: 16 hex digits of a salted hash of
/// what identifies it (its session, or its address).
pub fn client_hash(identity: &str) -> String {
    let digest = Sha256::new()
        .chain_update(*SALT)
        .chain_update(identity.as_bytes())
        .finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hashes_are_stable_and_hide_the_identity() {
        let a = client_hash("session:7");
        assert_eq!(a, client_hash("session:7"));
        assert_ne!(a, client_hash("session:8"));
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    }

    /// A call that runs once records everything; a replay only once it has
    /// caught up; a run handed over never again, even if caught up.
    #[test]
    fn each_run_records_only_what_is_its_own() {
        assert!(CallAudit::default().records());
        let replay = CallAudit::replaying();
        assert!(!replay.records(), "a replay's earlier rounds were recorded");
        replay.clone().caught_up();
        assert!(replay.records(), "clones share the state");
        replay.hand_over();
        assert!(!replay.records());
        replay.caught_up();
        assert!(!replay.records(), "handed over is for good");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        let time = now();
        assert!(time.ends_with('Z') && time.contains('T'), "{time}");
    }
}
