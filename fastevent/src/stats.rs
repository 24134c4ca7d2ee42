//! Process-wide job counters: what `dispatch` handed over and how the jobs
//! run in this process ended (by the `sync` driver or by workers). The job
//! metrics of [`crate::observe`] count from the same calls.

use std::sync::atomic::{AtomicU64, Ordering};

static DISPATCHED: AtomicU64 = AtomicU64::new(0);
static SUCCEEDED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);

/// A reading of the counters since the process started.
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

/// The counters now.
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
