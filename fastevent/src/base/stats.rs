//! Process-wide job counters: what `dispatch` handed over and how the jobs
//! run in this process ended (by the `sync` driver or by workers). The job
//! metrics of [`crate::observe`] count from the same calls.

use std::sync::atomic::{AtomicU64, Ordering};

static DISPATCHED: AtomicU64 = AtomicU64::new(0);
static SUCCEEDED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);

/// A reading of the job counters since the process started, from
/// [`stats`]: cheap enough for a health endpoint or a test. Subtract two
/// readings for what happened in between.
///
/// ```
/// use fastevent::Stats;
///
/// fn failure_rate(before: Stats, after: Stats) -> f64 {
///     let failed = after.failed - before.failed;
///     let finished = failed + (after.succeeded - before.succeeded);
///     if finished == 0 { 0.0 } else { failed as f64 / finished as f64 }
/// }
///
/// let before = Stats::default();
/// let after = Stats { dispatched: 10, succeeded: 9, failed: 1 };
/// assert_eq!(failure_rate(before, after), 0.1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Jobs accepted by the driver.
    pub dispatched: u64,
    /// Jobs run here whose listener succeeded.
    pub succeeded: u64,
    /// Jobs run here that were given up: their listener failed, panicked
    /// or timed out on the last try (or, on a worker, the job could not
    /// run at all and went to the failed store).
    pub failed: u64,
}

/// The counters now: jobs dispatched from this process, and jobs run in it
/// (by the `sync` driver or by a worker) by how they ended. For metrics with
/// labels, see [`crate::observe`].
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct CartAbandoned {
///     cart_id: u64,
/// }
///
/// #[derive(Default)]
/// struct SendReminder;
/// #[listener(on = CartAbandoned)]
/// impl SendReminder {
///     async fn handle(&self, _: &CartAbandoned) {}
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), fastevent::DispatchError> {
///     CartAbandoned { cart_id: 3 }.dispatch().await?;
///     fastevent::drain().await;
///     let stats = fastevent::stats();
///     assert_eq!((stats.dispatched, stats.succeeded, stats.failed), (1, 1, 0));
///     Ok(())
/// }
/// ```
pub fn stats() -> Stats {
    Stats {
        dispatched: DISPATCHED.load(Ordering::Relaxed),
        succeeded: SUCCEEDED.load(Ordering::Relaxed),
        failed: FAILED.load(Ordering::Relaxed),
    }
}

pub(crate) fn record_dispatched(jobs: usize) {
    DISPATCHED.fetch_add(jobs as u64, Ordering::Relaxed);
}

pub(crate) fn record_succeeded() {
    SUCCEEDED.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn record_failed() {
    FAILED.fetch_add(1, Ordering::Relaxed);
}
