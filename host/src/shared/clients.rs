//! Per-client caps (`--max-client-calls`) counted in Redis, for clients
//! that are not bound to one replica (2026-07-28 clients, told apart by
//! address). Each call's slot is a lease in the client's sorted set, scored
//! by when it lapses: the replica holding it renews it, and a replica that
//! dies leaves slots that lapse by themselves within [`LEASE`].

use std::time::Duration;

use super::Shared;

/// How long a slot outlives its holder's last renewal.
pub const LEASE: Duration = Duration::from_secs(30);

/// Take a slot when the client holds fewer than the most.
/// KEYS: the client's set. ARGV: the most, the lease in ms, the slot.
const TAKE: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1";

/// Renew a slot that is still held. KEYS: the set. ARGV: the lease, the slot.
const RENEW: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local renewed = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return renewed";

impl Shared {
    /// Take slot `slot` of `client` if it holds fewer than `most`.
    pub async fn take_client_slot(
        &self,
        client: &str,
        slot: &str,
        most: usize,
    ) -> Result<bool, String> {
        let script = redis::Script::new(TAKE);
        let mut invocation = script.key(self.key(&format!("client:{client}")));
        invocation.arg(most).arg(LEASE.as_millis() as u64).arg(slot);
        let taken: i64 = self
            .script("to count the client's calls", &invocation)
            .await?;
        Ok(taken == 1)
    }

    /// Keep slot `slot` of `client` for another lease.
    pub async fn renew_client_slot(&self, client: &str, slot: &str) -> Result<(), String> {
        let script = redis::Script::new(RENEW);
        let mut invocation = script.key(self.key(&format!("client:{client}")));
        invocation.arg(LEASE.as_millis() as u64).arg(slot);
        self.script::<i64>("to renew a client's call slot", &invocation)
            .await
            .map(drop)
    }

    /// Give slot `slot` of `client` back.
    pub async fn release_client_slot(&self, client: &str, slot: &str) {
        let released: Result<i64, String> = self
            .query(
                "to release a client's call slot",
                redis::cmd("ZREM")
                    .arg(self.key(&format!("client:{client}")))
                    .arg(slot),
            )
            .await;
        if let Err(why) = released {
            tracing::warn!("{why}; the slot lapses in {} s", LEASE.as_secs());
        }
    }
}
