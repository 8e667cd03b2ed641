//! Sampling budgets: what a plugin may spend on LLM calls, across all its
//! calls (requests per minute, tokens per UTC day) and within one call
//! (tokens per call).
//!
//! A request reserves its worst case before it is sent: the estimated input
//! plus every output token it may ask for (`max_tokens`). When the answer
//! comes, the reservation is settled to what was really used (the provider's
//! reported usage, or the estimate for client sampling). Reserving up front
//! is what makes a budget hold under concurrent calls: fifty calls at once
//! cannot all pass a check that only looks at tokens already spent. A
//! reservation that is never settled (the call was cancelled mid-request)
//! stays charged, since the provider may bill it anyway.
//!
//! With `--redis`, the same budgets are counted in Redis, across every
//! replica ([`crate::shared`]); without it, per process.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rmcp::model::{CreateMessageRequestParams, CreateMessageResult, SamplingMessageContentBlock};

use crate::config::SamplingPolicy;
use crate::shared::{Refusal, Shared};

/// Estimated tokens of one image or audio clip (Anthropic's largest image is
/// about 1,600 tokens).
const MEDIA_TOKENS: u64 = 1600;
/// Estimated tokens of one message's framing (role, separators).
const MESSAGE_TOKENS: u64 = 4;
const DAY: u64 = 24 * 60 * 60;

/// The shared budgets of one plugin.
pub struct SharedBudget {
    requests_per_minute: Option<u32>,
    tokens_per_day: Option<u64>,
    state: Mutex<State>,
    /// Where the budget is counted across replicas, and the plugin's name
    /// there; none: in `state`, for this process.
    shared: Option<(Arc<Shared>, String)>,
}

struct State {
    /// Requests the bucket holds now (at most `requests_per_minute`).
    bucket: f64,
    refilled_at: Instant,
    /// The UTC day `day_tokens` counts, as days since 1970-01-01.
    day: u64,
    /// Tokens used and reserved on that day.
    day_tokens: u64,
}

/// Tokens held back for one request in flight.
#[derive(Debug)]
pub struct Reservation {
    tokens: u64,
    day: u64,
}

impl Reservation {
    /// Leave the whole reservation charged: the request may have been spent
    /// (it timed out, or its call ended) and nobody will say how much.
    pub fn keep_charged(self) {}
}

/// Why a request may not be sent: the budget's key and a message that says
/// when it refills.
#[derive(Debug)]
pub struct OverBudget {
    pub budget: &'static str,
    pub message: String,
}

impl SharedBudget {
    pub fn new(policy: &SamplingPolicy) -> Self {
        SharedBudget {
            requests_per_minute: policy.requests_per_minute,
            tokens_per_day: policy.tokens_per_day,
            state: Mutex::new(State {
                bucket: f64::from(policy.requests_per_minute.unwrap_or(0)),
                refilled_at: Instant::now(),
                day: utc_day(),
                day_tokens: 0,
            }),
            shared: None,
        }
    }

    /// This budget, counted in `shared` for every replica serving `plugin`.
    pub fn counted_in(mut self, shared: Arc<Shared>, plugin: &str) -> Self {
        self.shared = Some((shared, plugin.to_string()));
        self
    }

    /// Take one request from the bucket and reserve `tokens` for today, both
    /// or neither.
    pub async fn reserve(&self, tokens: u64) -> Result<Reservation, OverBudget> {
        let Some((shared, plugin)) = &self.shared else {
            return self.reserve_here(tokens);
        };
        if self.requests_per_minute.is_none() && self.tokens_per_day.is_none() {
            return Ok(Reservation {
                tokens,
                day: utc_day(),
            });
        }
        let today = utc_day();
        let verdict = shared
            .reserve_sampling(
                plugin,
                self.requests_per_minute,
                self.tokens_per_day,
                tokens,
                today,
            )
            .await
            .map_err(|why| OverBudget {
                budget: "sampling.shared",
                message: format!("the sampling budget could not be checked: {why}"),
            })?;
        match verdict {
            Ok(()) => Ok(Reservation { tokens, day: today }),
            Err(Refusal::Rate { wait_s }) => {
                let rpm = self.requests_per_minute.unwrap_or(1);
                Err(self.rate_spent(rpm, wait_s))
            }
            Err(Refusal::Day { used }) => {
                Err(self.day_spent(self.tokens_per_day.unwrap_or(0), used, tokens))
            }
        }
    }

    fn rate_spent(&self, rpm: u32, wait: f64) -> OverBudget {
        OverBudget {
            budget: "sampling.requests_per_minute",
            message: format!(
                "sampling budget `sampling.requests_per_minute` = {rpm} is spent: the next request is allowed in {wait:.1} s (one more every {:.1} s)",
                60.0 / f64::from(rpm)
            ),
        }
    }

    fn day_spent(&self, limit: u64, used: u64, tokens: u64) -> OverBudget {
        OverBudget {
            budget: "sampling.tokens_per_day",
            message: format!(
                "sampling budget `sampling.tokens_per_day` = {limit} is spent: {used} tokens are used or reserved today and this request may need {tokens}; it refills at 00:00 UTC, in {}",
                until_midnight()
            ),
        }
    }

    /// [`Self::reserve`] in this process.
    fn reserve_here(&self, tokens: u64) -> Result<Reservation, OverBudget> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let today = utc_day();
        if today != state.day {
            state.day = today;
            state.day_tokens = 0;
        }
        if let Some(rpm) = self.requests_per_minute {
            let per_second = f64::from(rpm) / 60.0;
            let elapsed = now.duration_since(state.refilled_at).as_secs_f64();
            state.bucket = (state.bucket + elapsed * per_second).min(f64::from(rpm));
            state.refilled_at = now;
            if state.bucket < 1.0 {
                return Err(self.rate_spent(rpm, (1.0 - state.bucket) / per_second));
            }
        }
        if let Some(limit) = self.tokens_per_day
            && state.day_tokens.saturating_add(tokens) > limit
        {
            return Err(self.day_spent(limit, state.day_tokens, tokens));
        }
        if self.requests_per_minute.is_some() {
            state.bucket -= 1.0;
        }
        state.day_tokens = state.day_tokens.saturating_add(tokens);
        Ok(Reservation { tokens, day: today })
    }

    /// Replace a reservation by the tokens really used.
    pub fn settle(&self, reservation: Reservation, used: u64) {
        if let Some((shared, plugin)) = &self.shared {
            if self.tokens_per_day.is_some() {
                let (shared, plugin) = (shared.clone(), plugin.clone());
                tokio::spawn(async move {
                    shared
                        .settle_sampling(&plugin, reservation.day, reservation.tokens, used)
                        .await;
                });
            }
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.day == reservation.day {
            state.day_tokens = state
                .day_tokens
                .saturating_sub(reservation.tokens)
                .saturating_add(used);
        }
    }

    /// Tokens used and reserved today, for `check` and tests.
    pub fn tokens_today(&self) -> u64 {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.day == utc_day() {
            state.day_tokens
        } else {
            0
        }
    }
}

/// The per-call budget: `tokens_per_call` against what this call used.
pub fn check_call(policy: &SamplingPolicy, used: u64, tokens: u64) -> Result<(), OverBudget> {
    match policy.tokens_per_call {
        Some(limit) if used.saturating_add(tokens) > limit => Err(OverBudget {
            budget: "sampling.tokens_per_call",
            message: format!(
                "sampling budget `sampling.tokens_per_call` = {limit} is spent: this call has used {used} tokens and this request may need {tokens}; it refills only for a new tool call"
            ),
        }),
        _ => Ok(()),
    }
}

/// The most a request may cost: its estimated input and all its output.
pub fn worst_case(request: &CreateMessageRequestParams) -> u64 {
    estimate_input(request).saturating_add(u64::from(request.max_tokens))
}

/// Estimated input tokens: a token per 4 bytes of text, 1,600 per image or
/// audio clip, 4 per message.
pub fn estimate_input(request: &CreateMessageRequestParams) -> u64 {
    let system = request.system_prompt.as_deref().map_or(0, text_tokens);
    request.messages.iter().fold(system, |sum, message| {
        message
            .content
            .iter()
            .map(|block| match block {
                SamplingMessageContentBlock::Text(text) => text_tokens(&text.text),
                _ => MEDIA_TOKENS,
            })
            .fold(sum + MESSAGE_TOKENS, u64::saturating_add)
    })
}

/// Estimated output tokens of an answer, by the same rule.
pub fn estimate_output(result: &CreateMessageResult) -> u64 {
    result
        .message
        .content
        .iter()
        .map(|block| match block {
            SamplingMessageContentBlock::Text(text) => text_tokens(&text.text),
            _ => MEDIA_TOKENS,
        })
        .fold(0, u64::saturating_add)
}

fn text_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

fn utc_day() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / DAY
}

/// "5 h 12 min" until the next 00:00 UTC.
fn until_midnight() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let left = Duration::from_secs(DAY - now % DAY).as_secs();
    format!(
        "{} h {} min",
        left / 3600,
        (left % 3600).div_ceil(60).min(59)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rpm: Option<u32>, per_day: Option<u64>) -> SamplingPolicy {
        SamplingPolicy {
            requests_per_minute: rpm,
            tokens_per_day: per_day,
            ..SamplingPolicy::default()
        }
    }

    #[test]
    fn the_bucket_holds_a_minute_of_requests() {
        let budget = SharedBudget::new(&policy(Some(3), None));
        for _ in 0..3 {
            budget.reserve_here(10).unwrap();
        }
        let refused = budget.reserve_here(10).unwrap_err();
        assert_eq!(refused.budget, "sampling.requests_per_minute");
        assert!(
            refused.message.contains("one more every 20.0 s"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn day_tokens_are_reserved_then_settled() {
        let budget = SharedBudget::new(&policy(None, Some(100)));
        let first = budget.reserve_here(60).unwrap();
        let refused = budget.reserve_here(60).unwrap_err();
        assert_eq!(refused.budget, "sampling.tokens_per_day");
        assert!(refused.message.contains("00:00 UTC"), "{}", refused.message);
        budget.settle(first, 20);
        assert_eq!(budget.tokens_today(), 20);
        let second = budget.reserve_here(60).unwrap();
        assert_eq!(budget.tokens_today(), 80);
        second.keep_charged();
        // An unsettled reservation stays charged.
        assert_eq!(budget.tokens_today(), 80);
        // A refused request takes nothing, from neither budget.
        let both = SharedBudget::new(&policy(Some(1), Some(10)));
        assert!(both.reserve_here(11).is_err());
        assert!(both.reserve_here(10).is_ok());
    }

    #[test]
    fn per_call_budget_counts_the_worst_case() {
        let limited = SamplingPolicy {
            tokens_per_call: Some(100),
            ..SamplingPolicy::default()
        };
        assert!(check_call(&limited, 40, 60).is_ok());
        let refused = check_call(&limited, 41, 60).unwrap_err();
        assert_eq!(refused.budget, "sampling.tokens_per_call");
        assert!(check_call(&SamplingPolicy::default(), u64::MAX, 1).is_ok());
    }

    #[test]
    fn estimates_count_text_media_and_messages() {
        let mut request = CreateMessageRequestParams::new(
            vec![rmcp::model::SamplingMessage::user_text("12345678")],
            50,
        );
        request.system_prompt = Some("abcd".into());
        assert_eq!(estimate_input(&request), 1 + 2 + MESSAGE_TOKENS);
        assert_eq!(worst_case(&request), 1 + 2 + MESSAGE_TOKENS + 50);
    }
}
