//! Where dispatched jobs go. `dispatch` builds one [`JobBatch`] per event
//! (the event, its listeners, the context) and hands it to the installed
//! [`Driver`]; a driver turns it into one job per listener.

#[cfg(feature = "amqp")]
pub mod amqp;
pub mod durable;
mod encoder;
mod in_flight;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod sync;

use crate::context::ContextSnapshot;
use crate::dispatch::Dispatched;
use crate::event::Event;
use crate::listener::BoxError;
use crate::observe::trace::DispatchTrace;
use crate::registry::{AnyEvent, ListenerEntry};
use std::sync::Arc;

pub use encoder::{DispatchTally, JobEncoder};
/// The future every driver and queue method returns.
pub use futures_util::future::BoxFuture;
use in_flight::InFlight;

/// A queue backend: where [`dispatch`](crate::dispatch) hands the jobs of
/// an event. The built-in ones are [`sync::SyncDriver`],
/// [`sqlite::SqliteDriver`] and [`amqp::AmqpDriver`]; implement it to send
/// jobs elsewhere, or to wrap a driver, and install it with
/// [`Config::driver`](crate::Config::driver). A driver that workers take
/// jobs from implements [`durable::DurableQueue`] too.
///
/// ```rust,standalone_crate
/// use fastevent::driver::sync::SyncDriver;
/// use fastevent::driver::{Driver, DriverError, JobBatch};
/// use fastevent::{listener, Config, Dispatched, Event};
/// use serde::{Deserialize, Serialize};
/// use std::future::Future;
/// use std::pin::Pin;
///
/// /// Logs each dispatch, then hands the jobs to the `sync` driver.
/// struct Logged(SyncDriver);
///
/// impl Driver for Logged {
///     fn name(&self) -> &'static str {
///         "logged-sync"
///     }
///
///     fn enqueue(
///         &self,
///         batch: JobBatch,
///     ) -> Pin<Box<dyn Future<Output = Result<Dispatched, DriverError>> + Send + '_>> {
///         println!("{}: {} job(s)", batch.event_name(), batch.listeners().len());
///         self.0.enqueue(batch)
///     }
///
///     fn drain(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
///         self.0.drain()
///     }
/// }
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct UserBanned {
///     user_id: u64,
/// }
///
/// #[derive(Default)]
/// struct RevokeSessions;
/// #[listener(on = UserBanned)]
/// impl RevokeSessions {
///     async fn handle(&self, _: &UserBanned) {}
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     Config::new().driver(Logged(SyncDriver)).install()?;
///     let dispatched = UserBanned { user_id: 5 }.dispatch().await?;
///     assert_eq!(dispatched.jobs, 1);
///     fastevent::drain().await;
///     Ok(())
/// }
/// ```
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

/// The jobs of one dispatched event, one per listener: what a [`Driver`]
/// receives. A durable driver turns it into stored jobs with
/// [`job::encode_batch`](crate::job::encode_batch); the accessors below
/// serve a driver that does it its own way.
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

/// A driver could not take the jobs of a dispatch; none of them counts as
/// dispatched. What a [`Driver`] returns, and what the caller sees inside
/// [`DispatchError::Driver`](crate::DispatchError::Driver).
///
/// ```
/// use fastevent::driver::DriverError;
///
/// let error = DriverError {
///     driver: "webhook",
///     event: "user_banned",
///     message: "the endpoint answered 503".into(),
///     source: None,
/// };
/// assert_eq!(
///     error.to_string(),
///     "queue driver `webhook` could not take the jobs of event `user_banned`: the endpoint answered 503"
/// );
/// ```
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
