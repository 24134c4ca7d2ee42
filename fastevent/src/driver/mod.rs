//! Where dispatched jobs go. `dispatch` builds one [`JobBatch`] per event
//! (the event, its listeners, the context) and hands it to the installed
//! [`Driver`]; a driver turns it into one job per listener.

pub mod amqp;
pub mod durable;
mod in_flight;
pub mod sqlite;
pub mod sync;

use crate::context::ContextSnapshot;
use crate::dispatch::Dispatched;
use crate::event::Event;
use crate::listener::BoxError;
use crate::observe::trace::DispatchTrace;
use crate::registry::{AnyEvent, ListenerEntry};
use futures_util::future::BoxFuture;
use std::sync::Arc;

pub use in_flight::InFlight;

/// A queue backend.
pub trait Driver: Send + Sync + 'static {
    /// The driver's name, as in `QUEUE_DRIVER`.
    fn name(&self) -> &'static str;

    /// Takes one job per listener of the batch. The future resolves once
    /// every job is accepted (for a durable driver: stored), or with an
    /// error, in which case no job of the batch may count as accepted.
    fn enqueue(&self, batch: JobBatch) -> BoxFuture<'_, Result<Dispatched, DriverError>>;

    /// Takes the jobs at once where the driver can (in-process drivers),
    /// saving `enqueue`'s boxed future; otherwise gives the batch back.
    #[doc(hidden)]
    fn enqueue_now(&self, batch: JobBatch) -> Result<Result<Dispatched, DriverError>, JobBatch> {
        Err(batch)
    }

    /// Resolves once no job this process handed over is still running here
    /// (in-process drivers); durable drivers resolve at once.
    fn drain(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// The jobs of one dispatched event: one per listener.
pub struct JobBatch {
    event_name: &'static str,
    event_version: u32,
    event: Arc<AnyEvent>,
    encode: fn(&AnyEvent) -> Result<String, serde_json::Error>,
    listeners: &'static [&'static ListenerEntry],
    context: ContextSnapshot,
    /// Set when a subscriber records this dispatch's span. Plain data, so
    /// that the batch every dispatch builds gains no drop glue.
    trace: Option<DispatchTrace>,
}

impl JobBatch {
    pub(crate) fn new<E: Event>(
        event: E,
        listeners: &'static [&'static ListenerEntry],
        context: ContextSnapshot,
    ) -> Self {
        Self {
            event_name: E::NAME,
            event_version: E::VERSION,
            event: Arc::new(event),
            encode: encode::<E>,
            listeners,
            context,
            trace: None,
        }
    }

    /// The event's registered name.
    pub fn event_name(&self) -> &'static str {
        self.event_name
    }

    /// The event's payload version.
    pub fn event_version(&self) -> u32 {
        self.event_version
    }

    /// The listeners, one job each.
    pub fn listeners(&self) -> &'static [&'static ListenerEntry] {
        self.listeners
    }

    /// The context captured where the event was dispatched.
    pub fn context(&self) -> &ContextSnapshot {
        &self.context
    }

    /// The trace of this dispatch, when its span is recorded.
    pub(crate) fn trace(&self) -> Option<DispatchTrace> {
        self.trace
    }

    pub(crate) fn set_trace(&mut self, trace: DispatchTrace) {
        self.trace = Some(trace);
    }

    /// The event as JSON, for drivers that store or send it.
    pub fn payload_json(&self) -> Result<String, serde_json::Error> {
        (self.encode)(&*self.event)
    }

    /// The event itself, for in-process drivers.
    pub(crate) fn shared_event(&self) -> &Arc<AnyEvent> {
        &self.event
    }
}

fn encode<E: Event>(event: &AnyEvent) -> Result<String, serde_json::Error> {
    match event.downcast_ref::<E>() {
        Some(event) => serde_json::to_string(event),
        // JobBatch::new pairs the encoder with the event's own type.
        None => unreachable!("JobBatch encoder paired with another event type"),
    }
}

/// A driver could not take the jobs of a dispatch.
#[derive(Debug, thiserror::Error)]
#[error("queue driver `{driver}` could not take the jobs of event `{event}`: {message}")]
pub struct DriverError {
    /// The driver's name.
    pub driver: &'static str,
    /// The event's registered name.
    pub event: &'static str,
    /// What went wrong.
    pub message: String,
    /// The underlying error, where there is one.
    #[source]
    pub source: Option<BoxError>,
}
