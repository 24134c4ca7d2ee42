//! The `sync` driver, the reference system's default: each job runs as a
//! background task in this process. Nothing is stored, so a crash loses the
//! jobs that were running (at-most-once). A listener's `tries`, `backoff`
//! and `timeout` apply (retries wait in the task); after the last try the
//! failure is logged with event, listener and error (on standard error when
//! no `tracing` subscriber is installed) and counted in [`crate::stats`]:
//! never silent. There is no failed-job store.

use super::in_flight::InFlightGuard;
use super::{Driver, DriverError, InFlight, JobBatch};
use crate::dispatch::Dispatched;
use crate::registry::{AnyEvent, ListenerEntry};
use crate::run;
use crate::stats;
use crate::worker::backoff::{self, BackoffDefaults};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// Jobs of the sync driver that run now, in this process.
static IN_FLIGHT: InFlight = InFlight::new();

/// Runs jobs as Tokio tasks in the dispatching process.
#[derive(Debug, Default, Clone, Copy)]
pub struct SyncDriver;

impl Driver for SyncDriver {
    fn name(&self) -> &'static str {
        "sync"
    }

    fn enqueue(&self, batch: JobBatch) -> BoxFuture<'_, Result<Dispatched, DriverError>> {
        Box::pin(std::future::ready(spawn_jobs(batch)))
    }

    fn enqueue_now(&self, batch: JobBatch) -> Result<Result<Dispatched, DriverError>, JobBatch> {
        Ok(spawn_jobs(batch))
    }

    fn drain(&self) -> BoxFuture<'_, ()> {
        Box::pin(IN_FLIGHT.wait_idle())
    }
}

fn spawn_jobs(batch: JobBatch) -> Result<Dispatched, DriverError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| DriverError {
        driver: "sync",
        event: batch.event_name(),
        message: "the sync driver runs jobs as Tokio tasks, and this dispatch is not inside a Tokio runtime".into(),
        source: Some(Box::new(e)),
    })?;
    for listener in batch.listeners() {
        let event = Arc::clone(batch.shared_event());
        // Counted before the task exists, so a `drain` right after this
        // dispatch waits for it even if it has not started yet.
        let running = IN_FLIGHT.start();
        let context = batch.context().clone();
        if listener.options.timeout.is_none() && listener.options.tries.unwrap_or(1) <= 1 {
            // The common case: one try, no timeout. The task holds only the
            // listener's boxed future, so a queued job costs a 256-byte task.
            runtime.spawn(context.scope(async move {
                let caught = AssertUnwindSafe(listener.run_typed(&*event))
                    .catch_unwind()
                    .await;
                match run::outcome(caught) {
                    Ok(()) => stats::record_succeeded(),
                    Err(reason) => gave_up(listener, 1, 1, reason),
                }
                drop(running);
            }));
        } else {
            // Retries and timeouts keep their (larger) state in a box.
            runtime.spawn(context.scope(Box::pin(run_job(listener, event, running))));
        }
    }
    stats::record_dispatched(batch.listeners().len());
    Ok(Dispatched {
        jobs: batch.listeners().len(),
    })
}

async fn run_job(
    listener: &'static ListenerEntry,
    event: Arc<AnyEvent>,
    _running: InFlightGuard<'static>,
) {
    let tries = listener.options.tries.unwrap_or(1);
    let mut attempt = 1;
    loop {
        match run::run_typed(listener, &*event).await {
            Ok(()) => return stats::record_succeeded(),
            Err(reason) if attempt < tries => {
                let delay = backoff::delay(
                    listener.options.backoff,
                    BackoffDefaults::default(),
                    attempt,
                );
                tracing::warn!(
                    target: "fastevent",
                    event = listener.event_name,
                    listener = listener.name,
                    attempt,
                    error = %reason,
                    "listener failed; trying again in {delay:?}"
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(reason) => return gave_up(listener, attempt, tries, reason),
        }
    }
}

#[cold]
fn gave_up(listener: &'static ListenerEntry, attempt: u32, tries: u32, reason: run::FailureReason) {
    stats::record_failed();
    if tracing::dispatcher::has_been_set() {
        tracing::error!(
            target: "fastevent",
            event = listener.event_name,
            listener = listener.name,
            attempt,
            error = %reason,
            "listener failed"
        );
    } else {
        // Without a subscriber the log line would go nowhere.
        eprintln!(
            "fastevent: listener `{}` of event `{}` failed (attempt {attempt} of {tries}): {reason}",
            listener.name, listener.event_name
        );
    }
}
