//! `dispatch` (one job per listener on the configured driver) and
//! `dispatch_now` (every listener inline, awaited).

use crate::config::{self, ConfigError};
use crate::context::ContextSnapshot;
use crate::driver::{Driver, DriverError, JobBatch};
use crate::event::Event;
use crate::observe::spans;
use crate::observe::trace::DispatchTrace;
use crate::registry::{RegistryError, registry};
use crate::run::{self, FailureReason};
use crate::testing::{self, Intercepted};
use futures_util::future::BoxFuture;
use std::fmt;
use tracing::{Instrument, Span};

/// What `dispatch` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatched {
    /// How many jobs were queued: one per listener.
    pub jobs: usize,
}

/// Why a dispatch did not happen, or (for `dispatch_now`) which listeners failed.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The wiring linked into the program is invalid.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The configuration (environment or builder) is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The driver did not accept the jobs; none of them counts as dispatched.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// `dispatch_now`: these listeners failed (the others ran to the end).
    #[error(transparent)]
    ListenersFailed(#[from] ListenerFailures),
}

/// The listeners of one `dispatch_now` that failed, each with its reason.
#[derive(Debug, thiserror::Error)]
pub struct ListenerFailures {
    /// The event's registered name.
    pub event: &'static str,
    /// How many listeners ran.
    pub listeners: usize,
    /// One entry per failed listener.
    pub failures: Vec<ListenerFailure>,
}

/// One failed listener.
#[derive(Debug)]
pub struct ListenerFailure {
    /// The listener's registered name.
    pub listener: &'static str,
    /// What went wrong.
    pub reason: FailureReason,
}

impl fmt::Display for ListenerFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} listeners of event `{}` failed",
            self.failures.len(),
            self.listeners,
            self.event
        )?;
        for failure in &self.failures {
            write!(f, "; {}: {}", failure.listener, failure.reason)?;
        }
        Ok(())
    }
}

/// Queues one job per listener of `event` on the configured driver. Returns
/// once the driver accepted all of them; on error, none counts as queued.
pub async fn dispatch<E: Event>(event: E) -> Result<Dispatched, DispatchError> {
    E::__fastevent_require_listener();
    let event = match testing::intercept(event, testing::Mode::Queued) {
        Intercepted::Captured => return Ok(Dispatched { jobs: 0 }),
        Intercepted::Passed(event) => event,
    };
    enqueue(config::driver()?, event).await
}

/// Like [`dispatch`], on `driver` instead of the installed one: for programs
/// that use several queues, and for tests of a driver.
pub async fn dispatch_to<E: Event>(
    driver: &dyn Driver,
    event: E,
) -> Result<Dispatched, DispatchError> {
    E::__fastevent_require_listener();
    let event = match testing::intercept(event, testing::Mode::Queued) {
        Intercepted::Captured => return Ok(Dispatched { jobs: 0 }),
        Intercepted::Passed(event) => event,
    };
    enqueue(driver, event).await
}

async fn enqueue<E: Event>(driver: &dyn Driver, event: E) -> Result<Dispatched, DispatchError> {
    let listeners = registry().validate()?.listeners_of::<E>();
    if listeners.is_empty() {
        tracing::debug!(target: "fastevent", event = E::NAME, "dispatched with no listener");
        return Ok(Dispatched { jobs: 0 });
    }
    let batch = JobBatch::new(event, listeners, ContextSnapshot::capture());
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
        let span = spans::dispatch(batch.event_name(), driver, batch.listeners().len());
        if !span.is_disabled() {
            return hand_over_traced(driver, batch, span);
        }
    }
    match driver.enqueue_now(batch) {
        Ok(done) => Ok(done),
        Err(batch) => Err(driver.enqueue(batch)),
    }
}

/// `hand_over` inside the recorded `dispatch` span, whose trace the jobs carry.
#[inline(never)]
fn hand_over_traced(driver: &dyn Driver, mut batch: JobBatch, span: Span) -> HandedOver<'_> {
    let trace = DispatchTrace::new(batch.context(), span.id());
    spans::record_trace(&span, &trace.trace_id(batch.context()), &trace.span_id());
    batch.set_trace(trace);
    match span.in_scope(|| driver.enqueue_now(batch)) {
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
