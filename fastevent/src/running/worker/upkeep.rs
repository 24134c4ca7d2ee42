//! What a worker does on timers of its own, beside its loop: heartbeats to
//! its supervisor, and renewing the leases of the jobs it holds. The
//! heartbeat never waits on the queue, so a claim, a renewal or a settle
//! stuck behind a locked database cannot make a working worker look hung;
//! the renewal waits on the queue alone, never on the loop.

use super::execute::JobContext;
use super::options::WorkerOptions;
use super::progress::Progress;
use super::report::Reporter;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{MissedTickBehavior, interval};

/// The heartbeat and lease renewal tasks of one run; stopped when dropped.
pub(super) struct Upkeep {
    tasks: [JoinHandle<()>; 2],
}

impl Upkeep {
    /// Starts both, each every heartbeat interval.
    pub(super) fn start(
        context: &Arc<JobContext>,
        progress: &Arc<Progress>,
        options: &WorkerOptions,
    ) -> Self {
        let every = options.heartbeat_interval;
        let heartbeats = send_heartbeats(context.reporter.clone(), Arc::clone(progress), every);
        let renewal = keep_leases(
            Arc::clone(context),
            Arc::clone(progress),
            every,
            options.lease,
        );
        Self {
            tasks: [tokio::spawn(heartbeats), tokio::spawn(renewal)],
        }
    }
}

impl Drop for Upkeep {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

async fn send_heartbeats(reporter: Reporter, progress: Arc<Progress>, every: Duration) {
    let mut ticks = interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        reporter.send(&progress.heartbeat());
    }
}

/// Renews the held jobs' leases every `every`; a renewal that waits (a
/// locked database) delays the next one, nothing else.
async fn keep_leases(
    context: Arc<JobContext>,
    progress: Arc<Progress>,
    every: Duration,
    lease: Duration,
) {
    let mut ticks = interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let claims = progress.held_claims();
        if claims.is_empty() {
            continue;
        }
        let queue = context.queue.as_ref();
        match queue
            .extend_leases(&context.worker_id, &claims, lease)
            .await
        {
            Ok(lost) => progress.forget_lost(&lost, queue.name()),
            Err(error) => tracing::warn!(target: "fastevent", %error, "could not renew leases"),
        }
    }
}
