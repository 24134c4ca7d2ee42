//! Sync jobs whose spans a subscriber records: each attempt runs in a
//! `job` span linked to the dispatch, and the listener runs with the trace
//! id in its context, so that what it dispatches stays in the trace.

use super::{IN_FLIGHT, Tally, run_job, spawn_job};
use crate::batch::JobBatch;
use crate::context::ContextSnapshot;
use crate::observe::{self, spans, trace};
use crate::registry::ListenerEntry;
use std::sync::Arc;
use std::time::Instant;
use tokio::runtime::Handle;
use tracing::Span;

/// Spawns the jobs of `batch` when a subscriber may record their spans;
/// those whose span it does not record run as usual.
pub(super) fn spawn_jobs(runtime: &Handle, batch: &JobBatch) {
    // What the traced jobs of this batch share, made for the first of them.
    let mut shared: Option<BatchTrace> = None;
    for listener in batch.listeners() {
        let span = job_span(listener, 1);
        if span.is_disabled() {
            spawn_job(runtime, batch, listener);
            continue;
        }
        let trace = shared.get_or_insert_with(|| BatchTrace::of(batch)).clone();
        let event = Arc::clone(batch.shared_event());
        let running = IN_FLIGHT.start();
        let tally = match observe::sync_metrics_on() {
            true => Tally::dispatched(listener),
            false => Tally(None),
        };
        let context = trace.context.clone();
        let traced = Some(Traced::new(trace, span));
        // Traced jobs are timed for their spans' `duration_ms`.
        let job = run_job(
            listener,
            event,
            running,
            tally,
            Some(Instant::now()),
            traced,
        );
        runtime.spawn(context.scope(Box::pin(job)));
    }
}

/// The `job` span of one attempt of `listener`'s job.
fn job_span(listener: &'static ListenerEntry, attempt: u32) -> Span {
    let queue = listener.options.queue.unwrap_or("default");
    spans::job(listener.event_name, listener.name, queue, "sync", attempt)
}

/// The trace the traced jobs of one batch share.
#[derive(Clone)]
struct BatchTrace {
    trace_id: Arc<str>,
    /// The recorded dispatch span's id.
    parent_span_id: Option<Arc<str>>,
    /// That span, which the first attempts follow from.
    follows: Option<tracing::Id>,
    /// The listeners' context: the dispatcher's, with the trace id.
    context: ContextSnapshot,
}

impl BatchTrace {
    fn of(batch: &JobBatch) -> Self {
        let (trace_id, parent_span_id, follows, made_up) = match batch.trace() {
            Some(trace) => (
                trace.trace_id(batch.context()),
                Some(Arc::from(trace.span_id())),
                trace.span(),
                trace.is_new(),
            ),
            // The dispatch span is filtered out but job spans are not.
            None => match trace::inherited(batch.context()) {
                Some(id) => (id, None, None, false),
                None => (trace::trace_id_for(batch.context()), None, None, true),
            },
        };
        let trace_id: Arc<str> = Arc::from(trace_id);
        // A new trace id is not in the dispatcher's context yet; the
        // listeners need it there for their own dispatches.
        let context = if made_up {
            trace::with_trace_id(batch.context(), &trace_id)
        } else {
            batch.context().clone()
        };
        Self {
            trace_id,
            parent_span_id,
            follows,
            context,
        }
    }
}

/// The spans of one traced job.
pub(super) struct Traced {
    /// The first attempt's span, made at the dispatch.
    first: Option<Span>,
    trace: BatchTrace,
}

impl Traced {
    /// Links `first`, the first attempt's span, to the dispatch now, while
    /// the dispatch span is still open: later attempts start after it has
    /// closed, and link by their fields only, as jobs in other processes do.
    fn new(trace: BatchTrace, first: Span) -> Self {
        spans::link(
            &first,
            Some(&trace.trace_id),
            trace.parent_span_id.as_deref(),
            trace.follows.clone(),
        );
        Self {
            first: Some(first),
            trace,
        }
    }

    /// The span of attempt `attempt`.
    pub(super) fn span(&mut self, listener: &'static ListenerEntry, attempt: u32) -> Span {
        self.first.take().unwrap_or_else(|| {
            let span = job_span(listener, attempt);
            spans::link(
                &span,
                Some(&self.trace.trace_id),
                self.trace.parent_span_id.as_deref(),
                None,
            );
            span
        })
    }
}
