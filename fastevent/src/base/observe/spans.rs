//! The `tracing` spans of a dispatch and of each job attempt.
//!
//! Both are at level INFO, target `fastevent`. Hot paths ask
//! [`may_be_enabled`] first (one atomic load, false without a subscriber),
//! then [`Span::is_disabled`], before doing anything that costs (ids, clock
//! reads, boxing), so the `sync` driver's hot path stays as it was.
//!
//! A job span is a root span, never the child of the dispatch: a job runs
//! later, elsewhere, maybe several times. It links to its dispatch instead:
//! everywhere with the recorded `trace_id` and `parent_span_id` fields, and
//! also with `follows_from` for the first attempt of a job run in the
//! dispatching process, while the dispatch span is still open.

use crate::batch::Dispatched;
use crate::error::DriverError;
use std::fmt::Display;
use std::time::Duration;
use tracing::Span;
use tracing::field::Empty;

/// How an attempt ended, as the `outcome` field says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobOutcome {
    /// The listener succeeded.
    Succeeded,
    /// The attempt failed and the job runs again later.
    Retried,
    /// The job was given up: failed store (durable) or dropped (`sync`).
    DeadLettered,
}

impl JobOutcome {
    fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Succeeded => "succeeded",
            JobOutcome::Retried => "retried",
            JobOutcome::DeadLettered => "dead_lettered",
        }
    }
}

/// Whether any subscriber may want an INFO span: false, after one atomic
/// load, when none is installed (or all filter INFO out). Cheaper than
/// building a disabled span, so hot paths ask this first.
#[inline]
pub(crate) fn may_be_enabled() -> bool {
    use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
    tracing::Level::INFO <= STATIC_MAX_LEVEL && tracing::Level::INFO <= LevelFilter::current()
}

/// The span of one `dispatch()`; fields: `event`, `driver`, `jobs`,
/// `outcome` (`ok` or `error`), `error`, `trace_id`, `span_id`.
pub(crate) fn dispatch(event: &'static str, driver: &'static str, jobs: usize) -> Span {
    // The field values are evaluated only when the span is enabled.
    tracing::info_span!(
        target: "fastevent",
        "dispatch",
        event,
        driver,
        jobs,
        outcome = Empty,
        error = Empty,
        trace_id = Empty,
        span_id = Empty,
    )
}

/// Records the trace ids of a dispatch on its span.
pub(crate) fn record_trace(span: &Span, trace_id: &str, span_id: &str) {
    span.record("trace_id", trace_id);
    span.record("span_id", span_id);
}

/// Records how a dispatch ended.
pub(crate) fn dispatch_finished(span: &Span, result: &Result<Dispatched, DriverError>) {
    match result {
        Ok(_) => {
            span.record("outcome", "ok");
        }
        Err(error) => {
            span.record("outcome", "error");
            span.record("error", tracing::field::display(error));
        }
    }
}

/// The span of one job attempt; fields: `event`, `listener`, `queue`,
/// `driver`, `attempt`, `job_id` (durable drivers), `trace_id`,
/// `parent_span_id`, `outcome`, `duration_ms` (the listener's run) and `error`.
pub(crate) fn job(
    event: &str,
    listener: &str,
    queue: &str,
    driver: &'static str,
    attempt: u32,
) -> Span {
    tracing::info_span!(
        target: "fastevent",
        parent: None,
        "job",
        event,
        listener,
        queue,
        driver,
        attempt,
        job_id = Empty,
        trace_id = Empty,
        parent_span_id = Empty,
        outcome = Empty,
        duration_ms = Empty,
        error = Empty,
    )
}

/// Links a job span to the dispatch it comes from.
pub(crate) fn link(
    span: &Span,
    trace_id: Option<&str>,
    parent_span_id: Option<&str>,
    follows: Option<tracing::Id>,
) {
    if let Some(trace_id) = trace_id {
        span.record("trace_id", trace_id);
    }
    if let Some(parent) = parent_span_id {
        span.record("parent_span_id", parent);
    }
    if follows.is_some() {
        span.follows_from(follows);
    }
}

/// Records how an attempt ended: `took` is the listener's run, when it ran.
pub(crate) fn job_finished(
    span: &Span,
    outcome: JobOutcome,
    took: Option<Duration>,
    error: Option<&dyn Display>,
) {
    if span.is_disabled() {
        return;
    }
    span.record("outcome", outcome.as_str());
    if let Some(took) = took {
        span.record("duration_ms", took.as_secs_f64() * 1000.0);
    }
    if let Some(error) = error {
        span.record("error", tracing::field::display(error));
    }
}
