//! State that replicas share through Redis (`--redis URL`), so a cluster of
//! host processes behind a round-robin balancer acts as one host: each
//! round's `requestState` is answered once across all of them, a call's
//! appends are written once however often it ran, sampling budgets and
//! per-client caps count every replica's calls, and the replica that parked
//! a call hears when another one took it over.
//!
//! Nothing here is a distributed algorithm of our own: every decision is
//! one atomic Redis command or script, and every lease expires by itself
//! when its holder dies. Without `--redis`, the same things are counted per
//! process (see [`crate::mrtr`], [`crate::fairness`], the sampling budget).
//!
//! Every call to Redis is bounded in time ([`ANSWER_WITHIN`]); when Redis
//! does not answer, what depends on it is refused with an error that says
//! so (deny by default), and nothing is half done.

mod budget;
mod clients;
mod rounds;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use budget::Refusal;
pub use rounds::{Claimed, Commit, CommitOnce, RoundClaim};

/// How long one Redis command may take before what needed it fails.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// A connection to the Redis every replica shares, and the prefix of every
/// key this host writes there.
pub struct Shared {
    connection: ConnectionManager,
    client: redis::Client,
    prefix: String,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("Shared")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Shared {
    /// Connect to the Redis at `url` and check that it answers. The URL is
    /// never printed: it may hold a password.
    pub async fn connect(url: &str) -> Result<Arc<Self>> {
        let client = redis::Client::open(url)
            .context("--redis is not a Redis URL; write redis://[:PASSWORD@]HOST:PORT[/DB]")?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(ANSWER_WITHIN))
            .set_connection_timeout(Some(ANSWER_WITHIN))
            .set_number_of_retries(2);
        let where_ = client.get_connection_info().addr().to_string();
        let connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .with_context(|| {
                format!(
                    "cannot connect to Redis at {where_} (--redis): is it running and reachable?"
                )
            })?;
        let shared = Arc::new(Shared {
            connection,
            client,
            prefix: "wasm-mcp:".into(),
        });
        let pong: String = shared
            .query("a PING", &redis::cmd("PING"))
            .await
            .map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            pong == "PONG",
            "Redis at {where_} answered PING with {pong:?}"
        );
        tracing::info!(redis = %where_, "sharing state with other replicas through Redis");
        Ok(shared)
    }

    /// The key `rest` under this host's prefix.
    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// Run one command, within [`ANSWER_WITHIN`]; the error says what it
    /// was for.
    async fn query<T: redis::FromRedisValue>(
        &self,
        what: &str,
        command: &redis::Cmd,
    ) -> Result<T, String> {
        let mut connection = self.connection.clone();
        let answer = tokio::time::timeout(ANSWER_WITHIN, command.query_async(&mut connection));
        Self::answered(what, answer.await)
    }

    /// Run one script, as [`Self::query`].
    async fn script<T: redis::FromRedisValue>(
        &self,
        what: &str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, String> {
        let mut connection = self.connection.clone();
        let answer = tokio::time::timeout(ANSWER_WITHIN, invocation.invoke_async(&mut connection));
        Self::answered(what, answer.await)
    }

    fn answered<T>(
        what: &str,
        answer: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, String> {
        match answer {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(format!("{STORE_FAILED} failed {what}: {error}; try again")),
            Err(_) => Err(format!(
                "{STORE_FAILED} did not answer {what} within {} s; try again",
                ANSWER_WITHIN.as_secs()
            )),
        }
    }
}

/// How every error of the shared store begins, so that callers can tell a
/// failed store (not the client's or the plugin's doing) from a refusal.
const STORE_FAILED: &str = "the replicas' shared store (Redis, --redis)";

/// Whether `why`, an error from this module, says the shared store failed.
pub fn is_store_failure(why: &str) -> bool {
    why.starts_with(STORE_FAILED)
}

pub use clients::LEASE as CLIENT_SLOT_LEASE;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::CallFailure;

    /// A Redis that fails refuses the call as the shared store's failure,
    /// counted as `shared_store`: never as the client's cap or a plugin limit.
    #[test]
    fn a_failed_store_is_not_a_limit() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let why = Shared::answered::<i64>("to count the client's calls", Ok(Err(refused.into())))
            .unwrap_err();
        let failure = CallFailure::not_admitted(why);
        assert!(matches!(failure, CallFailure::SharedStore(_)), "{failure}");
        assert_eq!(failure.kind(), "shared_store");
        assert!(
            failure.to_string().starts_with(
                "the replicas' shared store (Redis, --redis) failed to count the client's calls: "
            ),
            "{failure}"
        );
        let capped = CallFailure::not_admitted(
            "this client already has 2 calls running or waiting for sampling answers".into(),
        );
        assert!(matches!(
            capped,
            CallFailure::Limit {
                key: "--max-client-calls",
                ..
            }
        ));
        assert_eq!(capped.kind(), "limit");
    }
}
