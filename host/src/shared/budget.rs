//! Sampling budgets counted in Redis, so that `requests_per_minute` and
//! `tokens_per_day` hold for a plugin across every replica. The same rules
//! as the per-process budget ([`crate::capabilities::sampling::budget`]):
//! a token bucket refilled continuously, and a day's tokens reserved at
//! the worst case then settled, both taken in one script or neither.

use super::Shared;

/// Take a request from the bucket and reserve tokens for the day.
/// KEYS: the bucket, the day's tokens. ARGV: requests per minute (0: no
/// limit), tokens per day (-1: no limit), tokens to reserve.
/// Returns {0, seconds to wait} | {1, tokens used today} | {2, tokens used}.
const RESERVE: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rpm, limit, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local level = rpm
if rpm > 0 then
  local bucket = redis.call('HMGET', KEYS[1], 'level', 'at')
  if bucket[1] then
    level = math.min(rpm, tonumber(bucket[1]) + (now - tonumber(bucket[2])) * rpm / 60)
  end
  if level < 1 then
    return {0, tostring((1 - level) * 60 / rpm)}
  end
end
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if limit >= 0 and used + tokens > limit then
  return {1, tostring(used)}
end
if rpm > 0 then
  redis.call('HSET', KEYS[1], 'level', tostring(level - 1), 'at', tostring(now))
  redis.call('EXPIRE', KEYS[1], 120)
end
redis.call('INCRBY', KEYS[2], tokens)
redis.call('EXPIRE', KEYS[2], 172800)
return {2, tostring(used + tokens)}";

/// Why Redis refused a reservation.
#[derive(Debug)]
pub enum Refusal {
    /// The bucket is empty: the next request is allowed in this many seconds.
    Rate { wait_s: f64 },
    /// The day's tokens would pass the limit: this many are used or reserved.
    Day { used: u64 },
}

impl Shared {
    /// Reserve one request and `tokens` of UTC day `day` for `plugin`.
    pub async fn reserve_sampling(
        &self,
        plugin: &str,
        requests_per_minute: Option<u32>,
        tokens_per_day: Option<u64>,
        tokens: u64,
        day: u64,
    ) -> Result<Result<(), Refusal>, String> {
        let script = redis::Script::new(RESERVE);
        let mut invocation = script.key(self.key(&format!("budget:{plugin}:bucket")));
        invocation
            .key(self.key(&format!("budget:{plugin}:day:{day}")))
            .arg(requests_per_minute.unwrap_or(0))
            .arg(tokens_per_day.map_or(-1, |limit| limit.min(i64::MAX as u64) as i64))
            .arg(tokens);
        let (verdict, figure): (i64, String) = self
            .script("to reserve a sampling budget", &invocation)
            .await?;
        Ok(match verdict {
            0 => Err(Refusal::Rate {
                wait_s: figure.parse().unwrap_or(1.0),
            }),
            1 => Err(Refusal::Day {
                used: figure.parse().unwrap_or(0),
            }),
            _ => Ok(()),
        })
    }

    /// Replace `reserved` tokens of `day` by `used`.
    pub async fn settle_sampling(&self, plugin: &str, day: u64, reserved: u64, used: u64) {
        let change = used as i64 - reserved as i64;
        if change == 0 {
            return;
        }
        let settled: Result<i64, String> = self
            .query(
                "to settle a sampling budget",
                redis::cmd("INCRBY")
                    .arg(self.key(&format!("budget:{plugin}:day:{day}")))
                    .arg(change),
            )
            .await;
        if let Err(why) = settled {
            tracing::warn!("{why}; the reservation stays charged");
        }
    }

    /// Tokens `plugin` used or reserved on `day`, across replicas.
    pub async fn sampling_tokens(&self, plugin: &str, day: u64) -> Result<u64, String> {
        let used: Option<u64> = self
            .query(
                "to read a sampling budget",
                redis::cmd("GET").arg(self.key(&format!("budget:{plugin}:day:{day}"))),
            )
            .await?;
        Ok(used.unwrap_or(0))
    }
}
