//! What a dispatch hands a driver, and what the driver answers: the
//! [`JobBatch`] of one event (the event, its listeners, the context) and
//! [`Dispatched`], how many jobs it accepted.

use crate::context::ContextSnapshot;
use crate::event::Event;
use crate::observe::trace::DispatchTrace;
use crate::registry::{AnyEvent, ListenerEntry};
use std::sync::Arc;

/// What [`dispatch`](crate::dispatch) did: how many jobs the driver
/// accepted, one per listener (0 when the event has none, or when a
/// [test fake](crate::testing::fake) recorded it).
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct ArticlePublished {
///     article_id: u64,
/// }
///
/// #[derive(Default)]
/// struct NotifySubscribers;
/// #[listener(on = ArticlePublished)]
/// impl NotifySubscribers {
///     async fn handle(&self, _: &ArticlePublished) {}
/// }
///
/// #[derive(Default)]
/// struct RebuildSitemap;
/// #[listener(on = ArticlePublished)]
/// impl RebuildSitemap {
///     async fn handle(&self, _: &ArticlePublished) {}
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), fastevent::DispatchError> {
///     let dispatched = ArticlePublished { article_id: 1 }.dispatch().await?;
///     assert_eq!(dispatched.jobs, 2);
///     fastevent::drain().await;
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatched {
    /// How many jobs were queued: one per listener.
    pub jobs: usize,
}

/// The jobs of one dispatched event, one per listener: what a
/// [`Driver`](crate::driver::Driver) receives. A durable driver turns it
/// into signed, size-checked jobs with
/// [`JobEncoder::encode`](crate::driver::JobEncoder::encode); the accessors
/// below serve a driver that does it its own way.
///
/// ```rust,standalone_crate
/// use fastevent::context::{self, ContextKey};
/// use fastevent::driver::{Driver, DriverError, JobBatch};
/// use fastevent::{listener, Dispatched, Event};
/// use serde::{Deserialize, Serialize};
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::Mutex;
///
/// /// Keeps what it is given, as a webhook driver would send it.
/// #[derive(Default)]
/// struct Recorder(Mutex<Vec<String>>);
///
/// impl Driver for Recorder {
///     fn name(&self) -> &'static str {
///         "recorder"
///     }
///
///     fn enqueue(
///         &self,
///         batch: JobBatch,
///     ) -> Pin<Box<dyn Future<Output = Result<Dispatched, DriverError>> + Send + '_>> {
///         let payload = batch.payload_json().unwrap();
///         let context = batch.context().to_json();
///         for listener in batch.listeners() {
///             self.0.lock().unwrap().push(format!(
///                 "{} v{} -> {}: {payload} {context:?}",
///                 batch.event_name(),
///                 batch.event_version(),
///                 listener.name,
///             ));
///         }
///         let jobs = batch.listeners().len();
///         Box::pin(async move { Ok(Dispatched { jobs }) })
///     }
/// }
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct OrderRefunded {
///     order_id: u64,
/// }
///
/// #[derive(Default)]
/// struct CreditNote;
/// #[listener(on = OrderRefunded)]
/// impl CreditNote {
///     async fn handle(&self, _: &OrderRefunded) {}
/// }
///
/// static SHOP: ContextKey<String> = ContextKey::new("shop");
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let recorder = Recorder::default();
///     context::scope(async {
///         context::set(&SHOP, "eu".into()).unwrap();
///         fastevent::dispatch_to(&recorder, OrderRefunded { order_id: 4 }).await.unwrap();
///     })
///     .await;
///     assert_eq!(
///         recorder.0.lock().unwrap()[..],
///         [r#"order_refunded v1 -> credit_note: {"order_id":4} {"shop": "\"eu\""}"#]
///     );
/// }
/// ```
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
