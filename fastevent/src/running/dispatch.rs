//! `dispatch` (one job per listener on the configured driver) and
//! `dispatch_now` (every listener inline, awaited).

use crate::batch::{Dispatched, JobBatch};
use crate::config;
use crate::context::ContextSnapshot;
use crate::driver::Driver;
use crate::driver::sync::{self, SyncDriver};
use crate::error::{DispatchError, DriverError, ListenerFailure, ListenerFailures};
use crate::event::{Dispatcher, Event, Runtime};
use crate::observe::spans;
use crate::observe::trace::DispatchTrace;
use crate::registry::registry;
use crate::run;
use crate::testing::{self, Intercepted};
use futures_util::future::BoxFuture;
use std::any::Any;
use std::future::Future;
use tracing::{Instrument, Span};

impl Dispatcher for Runtime {
    fn dispatch<E: Event>(
        event: E,
    ) -> impl Future<Output = Result<Dispatched, DispatchError>> + Send {
        dispatch(event)
    }

    fn dispatch_now<E: Event>(event: E) -> impl Future<Output = Result<(), DispatchError>> + Send {
        dispatch_now(event)
    }
}

/// Queues one job per listener of `event` on the configured driver. Returns
/// once the driver accepted all of them; on error, none counts as queued.
/// The same as [`Event::dispatch`], as a function: for generic code.
///
/// ```rust,standalone_crate
/// use fastevent::{listener, DispatchError, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct StockLow {
///     sku: String,
/// }
///
/// #[derive(Default)]
/// struct Reorder;
/// #[listener(on = StockLow)]
/// impl Reorder {
///     async fn handle(&self, event: &StockLow) {
///         println!("reordering {}", event.sku);
///     }
/// }
///
/// /// Dispatches every event of a batch, whatever its type.
/// async fn publish_all<E: Event>(events: Vec<E>) -> Result<usize, DispatchError> {
///     let mut jobs = 0;
///     for event in events {
///         jobs += fastevent::dispatch(event).await?.jobs;
///     }
///     Ok(jobs)
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), DispatchError> {
///     let low = vec![StockLow { sku: "A-1".into() }, StockLow { sku: "B-2".into() }];
///     assert_eq!(publish_all(low).await?, 2);
///     fastevent::drain().await;
///     Ok(())
/// }
/// ```
pub async fn dispatch<E: Event>(event: E) -> Result<Dispatched, DispatchError> {
    match batch_for(event)? {
        Some(batch) => enqueue(config::driver()?, batch).await,
        None => Ok(Dispatched { jobs: 0 }),
    }
}

/// Like [`dispatch`], on `driver` instead of the installed one: for programs
/// that use several queues, and for tests of a driver.
///
/// ```rust,standalone_crate
/// use fastevent::driver::durable::QueueAdmin;
/// use fastevent::driver::sqlite::{SqliteDriver, SqliteOptions, Synchronous};
/// use fastevent::job::JobDefaults;
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct ReportRequested {
///     report_id: u64,
/// }
///
/// #[derive(Default)]
/// struct BuildReport;
/// #[listener(on = ReportRequested)]
/// impl BuildReport {
///     async fn handle(&self, _: &ReportRequested) {}
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let dir = std::env::temp_dir().join(format!("fastevent-doc-to-{}", std::process::id()));
///     std::fs::create_dir_all(&dir)?;
///     // A queue of its own for slow reports, beside the installed driver.
///     let reports = SqliteDriver::new(
///         SqliteOptions {
///             path: dir.join("reports.db"),
///             synchronous: Synchronous::Full,
///             busy_timeout: Duration::from_secs(5),
///         },
///         JobDefaults::default(),
///         None,
///     );
///
///     let dispatched = fastevent::dispatch_to(&reports, ReportRequested { report_id: 9 }).await?;
///     assert_eq!(dispatched.jobs, 1);
///     assert_eq!(reports.depth().await?[0].ready, 1); // stored, for its workers
/// #   drop(reports);
/// #   std::fs::remove_dir_all(&dir)?;
///     Ok(())
/// }
/// ```
pub async fn dispatch_to<E: Event>(
    driver: &dyn Driver,
    event: E,
) -> Result<Dispatched, DispatchError> {
    match batch_for(event)? {
        Some(batch) => enqueue(driver, batch).await,
        None => Ok(Dispatched { jobs: 0 }),
    }
}

/// The steps every queued dispatch starts with: the link-time wiring check,
/// the test fake, the listeners and the context. `None` when there is
/// nothing to queue: a fake recorded the event, or nobody listens to it.
pub(crate) fn batch_for<E: Event>(event: E) -> Result<Option<JobBatch>, DispatchError> {
    E::__fastevent_require_listener();
    let event = match testing::intercept(event, testing::Mode::Queued) {
        Intercepted::Captured => return Ok(None),
        Intercepted::Passed(event) => event,
    };
    let listeners = registry().validate()?.listeners_of::<E>();
    if listeners.is_empty() {
        tracing::debug!(target: "fastevent", event = E::NAME, "dispatched with no listener");
        return Ok(None);
    }
    Ok(Some(JobBatch::new(
        event,
        listeners,
        ContextSnapshot::capture(),
    )))
}

async fn enqueue(driver: &dyn Driver, batch: JobBatch) -> Result<Dispatched, DispatchError> {
    // One await point whatever the path, so that tracing adds no state to
    // the future every dispatch builds.
    match hand_over(driver, batch) {
        Ok(done) => Ok(done?),
        Err(pending) => Ok(pending.await?),
    }
}

/// What a driver said to a batch: done at once (in-process drivers), or a
/// future to await.
type HandedOver<'a> =
    Result<Result<Dispatched, DriverError>, BoxFuture<'a, Result<Dispatched, DriverError>>>;

/// Hands `batch` to `driver`, inside a `dispatch` span when one is recorded.
#[inline]
fn hand_over(driver: &dyn Driver, batch: JobBatch) -> HandedOver<'_> {
    if spans::may_be_enabled() {
        let span = spans::dispatch(batch.event_name(), driver.name(), batch.listeners().len());
        if !span.is_disabled() {
            return hand_over_traced(driver, batch, span);
        }
    }
    match enqueue_now(driver, batch) {
        Ok(done) => Ok(done),
        Err(batch) => Err(driver.enqueue(batch)),
    }
}

/// Takes the jobs at once where the driver is the built-in `sync` one,
/// saving `enqueue`'s boxed future on the hottest path; gives the batch back
/// for any other driver. The check is one `type_id` call on the driver's
/// vtable; a driver that wraps the `sync` one takes the boxed path.
#[inline]
fn enqueue_now(
    driver: &dyn Driver,
    batch: JobBatch,
) -> Result<Result<Dispatched, DriverError>, JobBatch> {
    let driver: &dyn Any = driver;
    if driver.is::<SyncDriver>() {
        Ok(sync::spawn_jobs(batch))
    } else {
        Err(batch)
    }
}

/// `hand_over` inside the recorded `dispatch` span, whose trace the jobs carry.
#[inline(never)]
fn hand_over_traced(driver: &dyn Driver, mut batch: JobBatch, span: Span) -> HandedOver<'_> {
    let trace = DispatchTrace::new(batch.context(), span.id());
    spans::record_trace(&span, &trace.trace_id(batch.context()), &trace.span_id());
    batch.set_trace(trace);
    match span.in_scope(|| enqueue_now(driver, batch)) {
        Ok(done) => {
            spans::dispatch_finished(&span, &done);
            Ok(done)
        }
        Err(batch) => {
            let pending = driver.enqueue(batch).instrument(span.clone());
            Err(Box::pin(async move {
                let result = pending.await;
                spans::dispatch_finished(&span, &result);
                result
            }))
        }
    }
}

/// Runs every listener of `event` now, concurrently on the caller's task,
/// and waits for all of them. Each listener sees a copy of the caller's
/// whole context (local keys too); what it sets stays its own.
/// The error lists every listener that failed, not only the first.
/// Use it where the caller needs the listeners' work done before it goes on
/// (inside a request, or in a test); nothing is queued, so no worker is needed.
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// static CACHED_PRICE: AtomicU64 = AtomicU64::new(0);
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct PriceChanged {
///     cents: u64,
/// }
///
/// #[derive(Default)]
/// struct RefreshPriceCache;
/// #[listener(on = PriceChanged)]
/// impl RefreshPriceCache {
///     async fn handle(&self, event: &PriceChanged) {
///         CACHED_PRICE.store(event.cents, Ordering::SeqCst);
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), fastevent::DispatchError> {
///     fastevent::dispatch_now(PriceChanged { cents: 1999 }).await?;
///     assert_eq!(CACHED_PRICE.load(Ordering::SeqCst), 1999); // already done
///     Ok(())
/// }
/// ```
pub async fn dispatch_now<E: Event>(event: E) -> Result<(), DispatchError> {
    E::__fastevent_require_listener();
    let event = match testing::intercept(event, testing::Mode::Now) {
        Intercepted::Captured => return Ok(()),
        Intercepted::Passed(event) => event,
    };
    let listeners = registry().validate()?.listeners_of::<E>();
    let failures: Vec<ListenerFailure> = match listeners {
        [] => Vec::new(),
        // The common case skips join_all's allocations.
        [listener] => run::run_typed_scoped(listener, &event)
            .await
            .err()
            .map(|reason| ListenerFailure {
                listener: listener.name,
                reason,
            })
            .into_iter()
            .collect(),
        many => futures_util::future::join_all(many.iter().map(|listener| async {
            run::run_typed_scoped(listener, &event)
                .await
                .map_err(|reason| ListenerFailure {
                    listener: listener.name,
                    reason,
                })
        }))
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect(),
    };
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ListenerFailures {
            event: E::NAME,
            listeners: listeners.len(),
            failures,
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    // A hand-written impl: the type stays out of the linked slices.
    #[derive(Serialize, Deserialize)]
    struct Pinged;
    impl Event for Pinged {
        const NAME: &'static str = "pinged";
        const VERSION: u32 = 1;
        fn __fastevent_require_listener() {}
    }

    fn batch() -> JobBatch {
        JobBatch::new(Pinged, &[], ContextSnapshot::capture())
    }

    /// Wraps the `sync` driver: the same jobs, another type.
    struct Wrapped(SyncDriver);
    impl Driver for Wrapped {
        fn name(&self) -> &'static str {
            "wrapped"
        }
        fn enqueue(&self, batch: JobBatch) -> BoxFuture<'_, Result<Dispatched, DriverError>> {
            self.0.enqueue(batch)
        }
    }

    #[tokio::test]
    async fn only_the_sync_driver_takes_a_batch_without_a_future() {
        let installed: std::sync::Arc<dyn Driver> = std::sync::Arc::new(SyncDriver);
        assert!(matches!(
            enqueue_now(installed.as_ref(), batch()),
            Ok(Ok(Dispatched { jobs: 0 }))
        ));
        assert!(enqueue_now(&Wrapped(SyncDriver), batch()).is_err());
    }
}
