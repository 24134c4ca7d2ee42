//! The `Listener<E>` trait, what `#[listener(on = E)]` implements, and the
//! per-listener options the worker farm honours.

use crate::event::Event;
use std::future::Future;
use std::time::Duration;

/// The error a listener may return, whatever its own error type was: return
/// `Result<(), BoxError>` from `handle` to use `?` on errors of several types.
///
/// ```
/// use fastevent::BoxError;
///
/// async fn handle(raw: &str) -> Result<(), BoxError> {
///     let count: u32 = raw.parse()?; // a ParseIntError
///     if count == 0 {
///         return Err("nothing to send".into()); // a message
///     }
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// assert!(handle("3").await.is_ok());
/// assert_eq!(handle("0").await.unwrap_err().to_string(), "nothing to send");
/// assert!(handle("three").await.is_err());
/// # }
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A listener of event `E`. Implement it with `#[listener(on = E)]` on an
/// inherent impl that has `async fn handle(&self, event: &E)`; a new listener
/// is built with `Default` for each event it handles.
///
/// Test a listener by calling `handle` directly (this trait must be in scope):
///
/// ```
/// use fastevent::{listener, Event, Listener};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct OrderShipped { order_id: u64 }
///
/// #[derive(Default)]
/// struct SendShippingMail;
///
/// #[listener(on = OrderShipped, tries = 5, backoff = "10s", timeout = "30s")]
/// impl SendShippingMail {
///     async fn handle(&self, event: &OrderShipped) -> Result<(), fastevent::BoxError> {
///         if event.order_id == 0 {
///             return Err("order 0 does not exist".into());
///         }
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// assert!(SendShippingMail.handle(&OrderShipped { order_id: 1 }).await.is_ok());
/// assert!(SendShippingMail.handle(&OrderShipped { order_id: 0 }).await.is_err());
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a listener of `{E}`",
    label = "not a listener of `{E}`",
    note = "wire it with `#[listener(on = {E})]` on an `impl {Self}` block that has `async fn handle(&self, event: &{E})`"
)]
pub trait Listener<E: Event>: Default + Send + Sync + 'static {
    /// What `handle` returns: `()` or `Result<(), Error>`.
    type Output: IntoListenerResult;

    /// Handles one event.
    fn handle(&self, event: &E) -> impl Future<Output = Self::Output> + Send;
}

/// What a listener's `handle` may return: `()`, or `Result<(), E>` for any
/// error that converts into [`BoxError`] (every `std::error::Error + Send +
/// Sync + 'static`, `Box<dyn Error + Send + Sync>`, `anyhow::Error`, `String`).
/// `#[listener]` requires it of `handle`'s return type; code that runs a
/// listener by hand (a test) can use it to treat every listener alike.
///
/// ```
/// use fastevent::IntoListenerResult;
///
/// assert!(().into_listener_result().is_ok());
/// assert!(Ok::<(), std::io::Error>(()).into_listener_result().is_ok());
/// let failed = Err::<(), String>("quota exceeded".into()).into_listener_result();
/// assert_eq!(failed.unwrap_err().to_string(), "quota exceeded");
/// ```
#[diagnostic::on_unimplemented(
    message = "a listener's `handle` returns `()` or `Result<(), E>` where `E` converts into `Box<dyn Error + Send + Sync>`, not `{Self}`",
    label = "not a listener outcome",
    note = "every `std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>`, `String` and `anyhow::Error` work as `E`"
)]
pub trait IntoListenerResult {
    /// Converts into the common outcome.
    fn into_listener_result(self) -> Result<(), BoxError>;
}

impl IntoListenerResult for () {
    fn into_listener_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<Error: Into<BoxError>> IntoListenerResult for Result<(), Error> {
    fn into_listener_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// Options of one listener, from `#[listener(...)]`; `None` means "the
/// worker's configured default". Read them from the
/// [registry](crate::registry::Registry) (as the `events` command does), or
/// build them for a hand-written [`ListenerEntry`](crate::registry::ListenerEntry).
///
/// ```
/// use fastevent::{Backoff, ListenerOptions};
/// use std::time::Duration;
///
/// // What `#[listener(on = E, queue = "emails", tries = 5)]` registers.
/// let options = ListenerOptions {
///     queue: Some("emails"),
///     tries: Some(5),
///     ..ListenerOptions::DEFAULT
/// };
/// assert_eq!(options.backoff, Backoff::Default);
/// assert_eq!(options.timeout, None::<Duration>); // the configured default applies
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerOptions {
    /// `queue = "name"`: the queue its jobs go to.
    pub queue: Option<&'static str>,
    /// `tries = N`: attempts before the job goes to the failed store.
    pub tries: Option<u32>,
    /// `backoff = "2s"` or `backoff = ["1s", "10s"]`: delay before a retry.
    pub backoff: Backoff,
    /// `timeout = "30s"`: the soft timeout; the listener's future is
    /// cancelled and the attempt counts as failed.
    pub timeout: Option<Duration>,
    /// `hard_timeout = "1m"`: the worker process running it is killed.
    pub hard_timeout: Option<Duration>,
}

impl ListenerOptions {
    /// No option set: every value comes from the worker's configuration.
    pub const DEFAULT: Self = Self {
        queue: None,
        tries: None,
        backoff: Backoff::Default,
        timeout: None,
        hard_timeout: None,
    };
}

impl Default for ListenerOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The delay before a failed job is tried again: a listener's
/// `backoff = "..."` option, as [`ListenerOptions::backoff`].
///
/// ```
/// use fastevent::Backoff;
/// use std::time::Duration;
///
/// // `backoff = ["1s", "1m"]`: one second, then a minute for every later retry.
/// const SCHEDULE: &[Duration] = &[Duration::from_secs(1), Duration::from_secs(60)];
/// let backoff = Backoff::Schedule(SCHEDULE);
///
/// fn describe(backoff: Backoff) -> String {
///     match backoff {
///         Backoff::Default => "the worker's default".into(),
///         Backoff::Exponential { first } => format!("{first:?}, doubling"),
///         Backoff::Schedule(delays) => format!("{delays:?}"),
///     }
/// }
/// assert_eq!(describe(backoff), "[1s, 60s]");
/// assert_eq!(describe(Backoff::Exponential { first: Duration::from_secs(2) }), "2s, doubling");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The worker's configured default.
    Default,
    /// `first`, then doubling each attempt, with jitter.
    Exponential {
        /// The delay before the first retry.
        first: Duration,
    },
    /// These delays in turn; the last one repeats.
    Schedule(&'static [Duration]),
}
