//! The `sync` driver, the default (as in fast-app): each job runs as a
//! background task in this process. Nothing is stored, so a crash loses the
//! jobs that were running (at-most-once). A listener's `tries`, `backoff`
//! and `timeout` apply (retries wait in the task); after the last try the
//! failure is logged with event, listener and error (on standard error when
//! no `tracing` subscriber is installed) and counted in [`crate::stats`]:
//! never silent. There is no failed-job store.
//!
//! Observability costs clock reads, allocations and calls into the
//! `metrics` facade, which are a sizeable share of a sync job. So a job
//! pays for spans only when a subscriber records them, and
//! for metrics only when [`crate::observe::set_sync_metrics`] asked for
//! them; otherwise it takes the lean path it always had.

mod traced;

use super::in_flight::InFlightGuard;
use super::{Driver, DriverError, InFlight, JobBatch};
use crate::backoff::{self, BackoffDefaults};
use crate::batch::Dispatched;
use crate::observe::spans::{self, JobOutcome};
use crate::observe::{self, AfterFailure, JobKeys, SyncKeys};
use crate::registry::{AnyEvent, ListenerEntry};
use crate::run;
use crate::stats;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use traced::Traced;
use tracing::{Instrument, Span};

/// Jobs of the sync driver that run now, in this process.
static IN_FLIGHT: InFlight = InFlight::new();

/// Runs jobs as Tokio tasks in the dispatching process: the default driver
/// (`QUEUE_DRIVER=sync`), for development, tests, and jobs that may be lost
/// in a crash. Dispatch must happen inside a Tokio runtime; call
/// [`drain`](crate::drain) before the program exits.
///
/// ```rust,standalone_crate
/// use fastevent::driver::Driver;
/// use fastevent::driver::sync::SyncDriver;
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// static WARMED: AtomicU32 = AtomicU32::new(0);
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct PageEdited {
///     page_id: u64,
/// }
///
/// #[derive(Default)]
/// struct WarmCache;
/// #[listener(on = PageEdited)]
/// impl WarmCache {
///     async fn handle(&self, _: &PageEdited) {
///         WARMED.fetch_add(1, Ordering::SeqCst);
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), fastevent::DispatchError> {
///     // In this process, whatever driver is installed.
///     let dispatched = fastevent::dispatch_to(&SyncDriver, PageEdited { page_id: 3 }).await?;
///     assert_eq!(dispatched.jobs, 1);
///     SyncDriver.drain().await; // every sync job of this process
///     assert_eq!(WARMED.load(Ordering::SeqCst), 1);
///     Ok(())
/// }
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct SyncDriver;

impl Driver for SyncDriver {
    fn name(&self) -> &'static str {
        "sync"
    }

    fn enqueue(&self, batch: JobBatch) -> BoxFuture<'_, Result<Dispatched, DriverError>> {
        Box::pin(std::future::ready(spawn_jobs(batch)))
    }

    fn drain(&self) -> BoxFuture<'_, ()> {
        Box::pin(IN_FLIGHT.wait_idle())
    }
}

/// Spawns one task per listener of `batch`. Also what a dispatch on the
/// `sync` driver calls directly, without `enqueue`'s boxed future.
pub(crate) fn spawn_jobs(batch: JobBatch) -> Result<Dispatched, DriverError> {
    let runtime = Handle::try_current().map_err(|e| DriverError {
        driver: "sync",
        event: batch.event_name(),
        message: "the sync driver runs jobs as Tokio tasks, and this dispatch is not inside a Tokio runtime".into(),
        source: Some(Box::new(e)),
    })?;
    if spans::may_be_enabled() {
        traced::spawn_jobs(&runtime, &batch);
    } else {
        for listener in batch.listeners() {
            spawn_job(&runtime, &batch, listener);
        }
    }
    stats::record_dispatched(batch.listeners().len());
    Ok(Dispatched {
        jobs: batch.listeners().len(),
    })
}

/// Spawns `listener`'s job, whose spans nobody records.
#[inline]
fn spawn_job(runtime: &Handle, batch: &JobBatch, listener: &'static ListenerEntry) {
    let event = Arc::clone(batch.shared_event());
    // Counted before the task exists, so a `drain` right after this
    // dispatch waits for it even if it has not started yet.
    let running = IN_FLIGHT.start();
    let one_try = listener.options.timeout.is_none() && listener.options.tries.unwrap_or(1) <= 1;
    let context = batch.context().clone();
    if !observe::sync_metrics_on() {
        if one_try {
            // The common case: one try, no timeout, nothing to measure. The
            // task holds only the listener's boxed future, so a queued job
            // costs a 256-byte task.
            runtime.spawn(context.scope(async move {
                let caught = AssertUnwindSafe(listener.run_typed(&*event))
                    .catch_unwind()
                    .await;
                match run::outcome(caught) {
                    Ok(()) => stats::record_succeeded(),
                    Err(reason) => gave_up(listener, &Tally(None), 1, 1, reason),
                }
                drop(running);
            }));
        } else {
            // Retries and timeouts keep their (larger) state in a box.
            let job = run_job(listener, event, running, Tally(None), None, None);
            runtime.spawn(context.scope(Box::pin(job)));
        }
        return;
    }
    let keys = JobKeys::sync(listener);
    keys.dispatched(1);
    let dispatched_at = Instant::now();
    match keys {
        SyncKeys::Cached(keys) if one_try => {
            // Measured, and still a small task.
            runtime.spawn(context.scope(async move {
                let started = Instant::now();
                keys.started(started - dispatched_at);
                let caught = AssertUnwindSafe(listener.run_typed(&*event))
                    .catch_unwind()
                    .await;
                keys.ran(started.elapsed());
                match run::outcome(caught) {
                    Ok(()) => keys.succeeded(),
                    Err(reason) => {
                        let tally = Tally(Some(SyncKeys::Cached(keys)));
                        gave_up(listener, &tally, 1, 1, reason)
                    }
                }
                drop(running);
            }));
        }
        keys => {
            let job = run_job(
                listener,
                event,
                running,
                Tally(Some(keys)),
                Some(dispatched_at),
                None,
            );
            runtime.spawn(context.scope(Box::pin(job)));
        }
    }
}

/// Where the outcomes of a job go: always [`crate::stats`], and the job
/// metrics when they are on.
struct Tally(Option<SyncKeys>);

impl Tally {
    /// A job of `listener` accepted, counted in the metrics.
    fn dispatched(listener: &'static ListenerEntry) -> Self {
        let keys = JobKeys::sync(listener);
        keys.dispatched(1);
        Tally(Some(keys))
    }

    fn started(&self, waited: Duration) {
        if let Some(keys) = &self.0 {
            keys.started(waited);
        }
    }

    fn ran(&self, took: Duration) {
        if let Some(keys) = &self.0 {
            keys.ran(took);
        }
    }

    fn succeeded(&self) {
        match &self.0 {
            Some(keys) => keys.succeeded(),
            None => stats::record_succeeded(),
        }
    }

    fn attempt_failed(&self, then: AfterFailure) {
        match &self.0 {
            Some(keys) => keys.attempt_failed(then),
            None if then == AfterFailure::GiveUp => stats::record_failed(),
            None => {}
        }
    }
}

/// A job with retries, a timeout, metrics or spans. It reads the clock only
/// when measured: `dispatched_at` is then when it was dispatched.
async fn run_job(
    listener: &'static ListenerEntry,
    event: Arc<AnyEvent>,
    _running: InFlightGuard<'static>,
    tally: Tally,
    dispatched_at: Option<Instant>,
    mut traced: Option<Traced>,
) {
    let tries = listener.options.tries.unwrap_or(1);
    let mut attempt = 1;
    loop {
        let span = match &mut traced {
            Some(traced) => traced.span(listener, attempt),
            None => Span::none(),
        };
        let started = dispatched_at.map(|dispatched_at| {
            let now = Instant::now();
            tally.started(now - dispatched_at);
            now
        });
        let result = run::run_typed(listener, &*event)
            .instrument(span.clone())
            .await;
        let took = started.map(|started| {
            let took = started.elapsed();
            tally.ran(took);
            took
        });
        match result {
            Ok(()) => {
                spans::job_finished(&span, JobOutcome::Succeeded, took, None);
                return tally.succeeded();
            }
            Err(reason) if attempt < tries => {
                tally.attempt_failed(AfterFailure::Retry);
                spans::job_finished(&span, JobOutcome::Retried, took, Some(&reason));
                let delay = backoff::delay(
                    listener.options.backoff,
                    BackoffDefaults::default(),
                    attempt,
                );
                span.in_scope(|| {
                    tracing::warn!(
                        target: "fastevent",
                        event = listener.event_name,
                        listener = listener.name,
                        attempt,
                        error = %reason,
                        "listener failed; trying again in {delay:?}"
                    )
                });
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(reason) => {
                spans::job_finished(&span, JobOutcome::DeadLettered, took, Some(&reason));
                return span.in_scope(|| gave_up(listener, &tally, attempt, tries, reason));
            }
        }
    }
}

#[cold]
fn gave_up(
    listener: &'static ListenerEntry,
    tally: &Tally,
    attempt: u32,
    tries: u32,
    reason: run::FailureReason,
) {
    tally.attempt_failed(AfterFailure::GiveUp);
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
