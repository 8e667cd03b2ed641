//! CPU time per call.
//!
//! A call's future is polled on whatever worker thread tokio picks, and it
//! spends most of its life waiting (for sampling answers, for disk). The CPU
//! it uses is exactly the thread CPU time spent inside its `poll`s, so the
//! meter reads the thread's CPU clock around each poll. Waits cost nothing;
//! guest code and the host code it calls synchronously are counted. The
//! engine's epoch callback compares the total with the plugin's budget.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// CPU nanoseconds used so far by one call.
#[derive(Clone, Default)]
pub struct CpuUsed(Arc<AtomicU64>);

impl CpuUsed {
    pub fn get(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

/// `future`, with the CPU time of its polls added to `used`.
pub struct Metered<F> {
    future: Pin<Box<F>>,
    used: CpuUsed,
}

impl<F> Metered<F> {
    pub fn new(future: F, used: CpuUsed) -> Self {
        Metered {
            future: Box::pin(future),
            used,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let before = thread_cpu_nanos();
        let outcome = self.future.as_mut().poll(cx);
        let spent = thread_cpu_nanos().saturating_sub(before);
        self.used.0.fetch_add(spent, Ordering::Relaxed);
        outcome
    }
}

fn thread_cpu_nanos() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_work_and_not_waits() {
        let used = CpuUsed::default();
        Metered::new(tokio::time::sleep(Duration::from_millis(50)), used.clone()).await;
        assert!(used.get() < Duration::from_millis(20), "{:?}", used.get());
        Metered::new(
            async {
                // Spin for 30 ms of this thread's CPU time (not wall time:
                // the machine may be busy).
                let started = thread_cpu_nanos();
                while thread_cpu_nanos() - started < 30_000_000 {
                    std::hint::black_box(0);
                }
            },
            used.clone(),
        )
        .await;
        assert!(used.get() >= Duration::from_millis(25), "{:?}", used.get());
    }
}
