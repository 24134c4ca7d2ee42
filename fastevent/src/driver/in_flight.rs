//! Counting jobs that run in this process, so a program can wait for them
//! before it exits (`fastevent::drain`).

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

/// A count of running jobs and a way to wait until it reaches zero: what
/// an in-process [`Driver`](super::Driver) needs for its
/// [`drain`](super::Driver::drain). The `sync` driver counts its jobs
/// with one.
#[derive(Default)]
pub(super) struct InFlight {
    running: AtomicUsize,
    idle: Notify,
}

/// Held by a running job; dropping it (also on panic or cancel) counts the
/// job as finished.
pub(super) struct InFlightGuard<'a>(&'a InFlight);

impl InFlight {
    /// An empty count, usable in a `static`.
    pub(super) const fn new() -> Self {
        Self {
            running: AtomicUsize::new(0),
            idle: Notify::const_new(),
        }
    }

    /// Counts one more running job until the guard is dropped.
    pub(super) fn start(&self) -> InFlightGuard<'_> {
        self.running.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self)
    }

    /// How many jobs run now.
    pub(super) fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Resolves when no job runs; jobs started meanwhile are waited for too.
    pub(super) async fn wait_idle(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            // Register before checking, so a job finishing between the check
            // and the await cannot be missed.
            idle.as_mut().enable();
            if self.running() == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}
