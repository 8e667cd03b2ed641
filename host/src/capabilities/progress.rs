//! `progress.report`: a long call tells its client how far it has come.
//!
//! MCP wants progress numbers that grow, and JSON has no NaN or infinity (a
//! non-finite float serialises as `null`, which MCP does not allow). A
//! report that is not finite, or does not grow, is dropped. Reports are
//! rate-limited by a token bucket ([`BURST`] at once, then one per
//! [`REFILL`]); the last step (`progress == total`) always goes. A plugin
//! cannot flood its client.

use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker};

use super::notify::Notifier;
use crate::bindings::progress::Host;

/// Reports that may go out back to back.
pub const BURST: u32 = 10;
/// After a burst, one report per this interval.
pub const REFILL: Duration = Duration::from_millis(50);

/// What a call last reported and may still send, to decide whether the
/// next report goes out.
pub struct ProgressGate {
    last: Option<f64>,
    tokens: u32,
    refilled: Option<Instant>,
}

impl Default for ProgressGate {
    fn default() -> Self {
        ProgressGate {
            last: None,
            tokens: BURST,
            refilled: None,
        }
    }
}

impl ProgressGate {
    /// Whether a report of `progress` out of `total` should reach the client
    /// now; if so, it is remembered as the last one sent.
    pub fn admit(&mut self, progress: f64, total: Option<f64>, now: Instant) -> bool {
        if !progress.is_finite() || total.is_some_and(|t| !t.is_finite()) {
            return false;
        }
        if self.last.is_some_and(|last| progress <= last) {
            return false;
        }
        let since = now.duration_since(*self.refilled.get_or_insert(now));
        let earned = (since.as_millis() / REFILL.as_millis()) as u32;
        if earned > 0 {
            self.tokens = (self.tokens + earned).min(BURST);
            self.refilled = Some(now);
        }
        let is_last = total == Some(progress);
        if self.tokens == 0 && !is_last {
            return false;
        }
        self.tokens = self.tokens.saturating_sub(1);
        self.last = Some(progress);
        true
    }
}

/// One call's progress: which reports pass, and where they go.
pub struct Reporter {
    pub gate: ProgressGate,
    pub notifier: Notifier,
}

/// Serve `progress` to components, each call's [`Reporter`] found by `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut Reporter,
) -> wasmtime::Result<()> {
    crate::bindings::progress::add_to_linker::<T, HasSelf<Reporter>>(linker, get)
}

impl Host for Reporter {
    async fn report(
        &mut self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> wasmtime::Result<()> {
        if !self.gate.admit(progress, total, Instant::now()) {
            return Ok(());
        }
        let message = message.map(|m| crate::logging::truncate(&m, 1024).to_string());
        self.notifier.progress(progress, total, message).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_finite_growing_and_paced_reports_pass() {
        let mut gate = ProgressGate::default();
        let start = Instant::now();
        assert!(!gate.admit(f64::NAN, None, start));
        assert!(!gate.admit(1.0, Some(f64::INFINITY), start));
        assert!(!gate.admit(f64::NEG_INFINITY, Some(2.0), start));
        let burst = (1..=100)
            .filter(|&i| gate.admit(i as f64, Some(1000.0), start))
            .count();
        assert_eq!(burst, BURST as usize, "a burst, then nothing at once");
        assert!(!gate.admit(5.0, Some(1000.0), start + REFILL), "no growth");
        assert!(gate.admit(101.0, Some(1000.0), start + REFILL), "refilled");
        assert!(!gate.admit(102.0, Some(1000.0), start + REFILL));
        assert!(
            gate.admit(1000.0, Some(1000.0), start + REFILL),
            "the last step always goes"
        );
    }
}
