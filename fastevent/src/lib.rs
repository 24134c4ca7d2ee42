//! fastevent: typed events, listeners wired at link time, one job per
//! listener on a queue.
//!
//! Declare events with `#[derive(Event)]` and listeners with
//! `#[listener(on = Event)]`; `event.dispatch().await` queues one job per
//! listener on the configured driver, `event.dispatch_now().await` runs them
//! all inline. A program that dispatches an event no listener is linked for
//! does not link. See the README for the guide.

#![warn(missing_docs)]
// Public is what users and driver authors reach; the rest is `pub(crate)`.
#![warn(unreachable_pub)]

// Lets the macros' `::fastevent::...` paths resolve inside this crate too.
extern crate self as fastevent;

// The commands start, signal and read worker processes: Unix only.
#[cfg(all(feature = "cli", not(unix)))]
compile_error!("fastevent's `cli` feature (and `tui`, which implies it) needs a Unix platform");

// The layers, from the bottom; each imports only from those below it
// (tests/layers.rs checks it).
mod base; // events, listeners, registry, jobs, errors, context, observability
mod config; // settings -> the installed driver
pub mod driver; // the driver traits and kit, and the drivers
mod front;
mod running; // dispatch, outbox, worker, supervisor, testing // the embedded commands

// The modules users and driver authors reach, at their paths.
pub use base::{context, job, names, observe, registry};
#[cfg(all(feature = "cli", unix))]
pub use front::cli;
#[cfg(unix)]
pub use running::supervisor;
pub use running::{testing, worker};

// Short paths inside the crate.
use base::{app_state, backoff, batch, error, event, listener, run, stats};
use config::env;
use running::dispatch;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use running::outbox;

pub use app_state::{MissingState, provide, state};
pub use batch::Dispatched;
pub use config::{Config, QueueDriver, drain, durable_queue};
pub use dispatch::{dispatch, dispatch_now, dispatch_to};
pub use error::{ConfigError, DispatchError, ListenerFailure, ListenerFailures};
pub use event::Event;
pub use listener::{Backoff, BoxError, IntoListenerResult, Listener, ListenerOptions};
pub use registry::check;
pub use run::FailureReason;
pub use stats::{Stats, stats};

/// Derives [`Event`](trait@Event) for a struct or enum that also derives
/// serde's `Serialize` and `Deserialize`: how every event is declared.
///
/// Options: `#[event(name = "chat.created")]` (the registered name; default:
/// snake case of the type name without a trailing `_event`),
/// `#[event(version = 2)]`, and `#[event(allow_unwired)]` for an event
/// whose listeners live in another program (no link-time check).
///
/// ```rust,standalone_crate
/// use fastevent::Event;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct NewChatEvent {
///     chat_id: u64,
/// }
///
/// // Another name and payload version; listeners live in another service.
/// #[derive(Serialize, Deserialize, Event)]
/// #[event(name = "billing.invoice_paid", version = 2, allow_unwired)]
/// enum InvoiceEvent {
///     Paid { invoice_id: u64 },
///     Refunded { invoice_id: u64, cents: u64 },
/// }
///
/// assert_eq!(NewChatEvent::NAME, "new_chat");
/// assert_eq!(NewChatEvent::VERSION, 1);
/// assert_eq!(InvoiceEvent::NAME, "billing.invoice_paid");
/// assert_eq!(InvoiceEvent::VERSION, 2);
/// ```
pub use fastevent_macros::Event;

/// Wires an `impl` block as a listener: `#[listener(on = NewChatEvent)]`.
///
/// The block needs `async fn handle(&self, event: &NewChatEvent)` returning
/// `()` or `Result<(), E>`; other items in it stay ordinary methods. Options:
/// `name = "..."` (default: snake case of the type), `queue = "emails"`,
/// `tries = 3`, `backoff = "2s"` or `backoff = ["1s", "10s", "1m"]`,
/// `timeout = "30s"` (soft: the listener is cancelled) and
/// `hard_timeout = "1m"` (its worker process is killed). Every option is
/// checked at compile time; an option not given takes the configured default
/// ([`Config`]).
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct InvoicePaid {
///     invoice_id: u64,
/// }
///
/// #[derive(Default)]
/// struct EmailReceipt;
///
/// #[listener(on = InvoicePaid, queue = "emails", tries = 5, backoff = ["1s", "10s", "1m"], timeout = "30s")]
/// impl EmailReceipt {
///     async fn handle(&self, event: &InvoicePaid) -> Result<(), std::io::Error> {
///         println!("emailing the receipt of invoice {}", event.invoice_id);
///         Ok(())
///     }
/// }
///
/// // The registered listener, as workers and the `events` command see it.
/// let listeners = fastevent::registry::registry().listeners_of::<InvoicePaid>();
/// assert_eq!(listeners[0].name, "email_receipt");
/// assert_eq!(listeners[0].options.queue, Some("emails"));
/// assert_eq!(listeners[0].options.tries, Some(5));
/// assert_eq!(listeners[0].options.timeout, Some(Duration::from_secs(30)));
/// ```
pub use fastevent_macros::listener;

/// Lets this program link while it dispatches `Event` without a listener:
/// `fastevent::allow_unwired!(NewChatEvent);` in an integration test or
/// doc-test of a library whose listeners live in the application. A library's
/// own unit tests (`cfg(test)`) need nothing. Dispatching such an event
/// queues no job; a test usually records it with [`testing::fake`].
///
/// ```rust,standalone_crate
/// use fastevent::Event;
/// use serde::{Deserialize, Serialize};
///
/// // The library: an event, and code that dispatches it. The applications
/// // that use the library declare its listeners.
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// pub struct OrderPlaced {
///     pub order_id: u64,
/// }
///
/// pub async fn place_order(order_id: u64) -> Result<(), fastevent::DispatchError> {
///     OrderPlaced { order_id }.dispatch().await?;
///     Ok(())
/// }
///
/// // The library's test: no listener is linked, so it says so.
/// fastevent::allow_unwired!(OrderPlaced);
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let events = fastevent::testing::fake();
///     place_order(3).await.unwrap();
///     events.assert_dispatched_with(|e: &OrderPlaced| e.order_id == 3);
/// }
/// ```
pub use fastevent_macros::allow_unwired;

/// What the generated code names; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::registry::{
        ALLOWED_UNWIRED, AllowedUnwired, EVENTS, EventEntry, LISTENERS, ListenerEntry,
    };
    pub use linkme;

    // How `#[listener]` reports a wrong `on = X`, or a wrong return type of
    // `handle`, once and at the user's tokens. The generated
    // `impl Listener<X> for L` states both requirements as higher-ranked
    // `where` clauses (`for<'a> X: IsEvent<'a>`), which rustc checks only
    // where the impl is used, never where they are written: the impl itself
    // reports nothing. Its one use is the listener's registration,
    // `ListenerEntry::of::<X, ListenerOf<L, Output, _>>`, where
    // - a non-event `X` fails `E: Event` of `of` and, through the `where`
    //   clause, `L: Listener<X>` with the very same `X: Event`: rustc reports
    //   that once, at `X`;
    // - a wrong `Output` fails `ListenerOf`. Its two impls make rustc report
    //   `ListenerOutcome` itself, with the message below, rather than the
    //   innermost bound it could not prove (`i32: std::error::Error`); the
    //   listener type then stays unknown, which rustc does not report on top
    //   of an error.

    /// What `Event` requires of its type, written as a bound rustc checks
    /// only where it is used: `derive(Event)` states it on the `Event` impl
    /// it emits next to an error, so that the error is the only one.
    pub trait EventBounds<'a>:
        serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static
    {
    }
    impl<T> EventBounds<'_> for T where
        T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static
    {
    }

    /// `E: Event`, written as a bound rustc checks only where it is used.
    pub trait IsEvent<'a>: crate::Event {}
    impl<E: crate::Event> IsEvent<'_> for E {}

    /// `O: IntoListenerResult`, written as a bound rustc checks only where it
    /// is used.
    pub trait IsOutcome<'a>: crate::IntoListenerResult {}
    impl<O: crate::IntoListenerResult> IsOutcome<'_> for O {}

    /// `L`, when `Output` (what its `handle` returns) is a listener outcome.
    pub type ListenerOf<L, Output, Via> = <Output as ListenerOutcome<L, Via>>::Listener;

    /// A listener outcome: exactly the types that implement
    /// `IntoListenerResult`, whose message this repeats.
    #[diagnostic::on_unimplemented(
        message = "a listener's `handle` returns `()` or `Result<(), E>` where `E` converts into `Box<dyn Error + Send + Sync>`, not `{Self}`",
        label = "not a listener outcome",
        note = "every `std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>`, `String` and `anyhow::Error` work as `E`"
    )]
    pub trait ListenerOutcome<L, Via> {
        /// `L`.
        type Listener;
    }
    impl<L, O: crate::IntoListenerResult> ListenerOutcome<L, ViaIntoListenerResult> for O {
        type Listener = L;
    }
    impl<L, O: Unimplemented> ListenerOutcome<L, ViaUnimplemented> for O {
        type Listener = L;
    }
    /// Selects the impl of `ListenerOutcome` that every listener outcome takes.
    pub enum ViaIntoListenerResult {}
    /// Selects the impl of `ListenerOutcome` that no type takes.
    pub enum ViaUnimplemented {}
    /// Implemented by no type.
    pub trait Unimplemented {}
}

#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
