//! The `Event` trait: what `#[derive(Event)]` implements.

use crate::batch::Dispatched;
use crate::error::DispatchError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

/// A domain event: a plain struct or enum, sent to its listeners as JSON.
///
/// Implement it with `#[derive(Event)]` next to serde's derives; the derive
/// names the event (`NewChatEvent` -> `new_chat`, as fast-app
/// does, so events keep the names their users know; override with `#[event(name = "...")]`), registers it at link time
/// and makes a program that dispatches it without any listener fail to link.
///
/// ```
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// pub struct NewChatEvent {
///     pub chat_id: u64,
/// }
///
/// #[derive(Default)]
/// pub struct GenerateChatTitle;
///
/// #[listener(on = NewChatEvent)]
/// impl GenerateChatTitle {
///     async fn handle(&self, event: &NewChatEvent) -> Result<(), std::io::Error> {
///         println!("titling chat {}", event.chat_id);
///         Ok(())
///     }
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), fastevent::DispatchError> {
/// assert_eq!(NewChatEvent::NAME, "new_chat");
/// NewChatEvent { chat_id: 7 }.dispatch_now().await?; // every listener, awaited
/// NewChatEvent { chat_id: 7 }.dispatch().await?;     // one job per listener, queued
/// fastevent::drain().await;
/// # Ok(()) }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event",
    label = "not an event",
    note = "add `#[derive(Serialize, Deserialize, fastevent::Event)]` to `{Self}`"
)]
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The registered name: in job envelopes, logs and the `events` listing.
    const NAME: &'static str;
    /// The payload version, `#[event(version = N)]`; 1 unless set.
    const VERSION: u32;

    /// Part of the link-time wiring check; generated, never called by users.
    #[doc(hidden)]
    fn __fastevent_require_listener();

    /// Queues one job per listener on the configured driver and returns
    /// once the driver has accepted them all.
    fn dispatch(self) -> impl Future<Output = Result<Dispatched, DispatchError>> + Send
    where
        Self: Sized,
    {
        <Runtime as Dispatcher>::dispatch(self)
    }

    /// Runs every listener now, concurrently on the caller's task, and waits
    /// for all of them; the error names every listener that failed.
    fn dispatch_now(self) -> impl Future<Output = Result<(), DispatchError>> + Send
    where
        Self: Sized,
    {
        <Runtime as Dispatcher>::dispatch_now(self)
    }
}

/// What `Event::dispatch` and `Event::dispatch_now` call: the dispatch
/// itself lives in a higher layer (it reads the installed configuration
/// and drivers), which implements this for [`Runtime`]. The trait turns the
/// call around, so that this module names nothing above it, and stays
/// static: each event's dispatch is monomorphized and inlined as a direct
/// call would be, with no boxed future and no function pointer.
pub(crate) trait Dispatcher {
    /// `fastevent::dispatch`.
    fn dispatch<E: Event>(
        event: E,
    ) -> impl Future<Output = Result<Dispatched, DispatchError>> + Send;
    /// `fastevent::dispatch_now`.
    fn dispatch_now<E: Event>(event: E) -> impl Future<Output = Result<(), DispatchError>> + Send;
}

/// The one implementor of [`Dispatcher`].
pub(crate) enum Runtime {}
