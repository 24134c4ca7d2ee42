//! What a worker has in hand and what it has done, shared between its loop
//! (which takes and finishes jobs) and its upkeep tasks (which renew the
//! leases of the jobs held and report the counts in heartbeats).

use super::execute::Outcome;
use super::report::WorkerMessage;
use super::{StopReason, WorkerReport};
use crate::driver::durable::{AnyReceipt, ClaimedJob};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::task::{Id, JoinError};

/// The jobs held, by the task running each, and the outcomes so far.
#[derive(Default)]
pub(super) struct Progress {
    held: Mutex<HashMap<Id, ClaimedJob>>,
    succeeded: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    lease_lost: AtomicU64,
}

impl Progress {
    /// `job` is held, run by task `task`.
    pub(super) fn hold(&self, task: Id, job: ClaimedJob) {
        self.held().insert(task, job);
    }

    /// How many jobs are held (running, or aborted and not yet handed back).
    pub(super) fn running(&self) -> usize {
        self.held().len()
    }

    /// The claims held now, for a lease renewal.
    pub(super) fn held_claims(&self) -> Vec<AnyReceipt> {
        self.held()
            .values()
            .map(|job| job.receipt.clone())
            .collect()
    }

    /// These claims no longer own their job (another claim took it after
    /// their lease lapsed): they are not renewed or handed back any more,
    /// and their tasks' settles will be refused.
    pub(super) fn forget_lost(&self, lost: &[AnyReceipt], driver: &'static str) {
        let mut held = self.held();
        held.retain(|_, job| {
            let gone = lost.contains(&job.receipt);
            if gone {
                tracing::warn!(
                    target: "fastevent", job = %job.job_id, event = %job.event, listener = %job.listener,
                    "lease lost, another claim owns the job: this worker no longer renews it"
                );
                crate::observe::lease_lost(&job.queue, driver);
            }
            !gone
        });
    }

    /// A job handed back at shutdown turned out to be another claim's.
    pub(super) fn lost(&self, job: &ClaimedJob, driver: &'static str) {
        tracing::warn!(
            target: "fastevent", job = %job.job_id,
            "lease lost, another claim owns the job: not handed back by this worker"
        );
        crate::observe::lease_lost(&job.queue, driver);
        self.lease_lost.fetch_add(1, Ordering::Relaxed);
    }

    /// The jobs still held, which are no longer this worker's to run.
    pub(super) fn take_held(&self) -> Vec<ClaimedJob> {
        self.held().drain().map(|(_, job)| job).collect()
    }

    /// Counts a finished task. An aborted one (the end of the grace period)
    /// keeps its job held, to be handed back; a panicking one (panics of
    /// listeners are caught inside the task) lets its job's lease run out.
    pub(super) fn record(&self, done: Result<(Id, Outcome), JoinError>) {
        match done {
            Ok((task, outcome)) => {
                self.held().remove(&task);
                let count = match outcome {
                    Outcome::Succeeded => &self.succeeded,
                    Outcome::Retried => &self.retried,
                    Outcome::Failed => &self.failed,
                    Outcome::LeaseLost => &self.lease_lost,
                };
                count.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) if error.is_panic() => {
                tracing::error!(target: "fastevent", "a job task panicked outside its listener: {error}");
                self.held().remove(&error.id());
            }
            Err(_) => {}
        }
    }

    /// The heartbeat that tells the supervisor these counts.
    pub(super) fn heartbeat(&self) -> WorkerMessage {
        WorkerMessage::Heartbeat {
            running: self.running(),
            succeeded: self.succeeded.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// The worker's report once it stopped for `stopped` and handed back
    /// `released` jobs.
    pub(super) fn report(&self, stopped: StopReason, released: u64) -> WorkerReport {
        WorkerReport {
            succeeded: self.succeeded.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            released,
            lease_lost: self.lease_lost.load(Ordering::Relaxed),
            stopped,
        }
    }

    /// The held jobs; a panic elsewhere while they were locked left them
    /// consistent (every change is one map operation).
    fn held(&self) -> MutexGuard<'_, HashMap<Id, ClaimedJob>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
