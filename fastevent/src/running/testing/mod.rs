//! Test helpers: a fake that records dispatched events instead of running
//! their listeners, and an assertion on the wiring.
//!
//! The pattern: assert that your code dispatched the event; test the
//! listener on its own by calling `handle` (see [`crate::Listener`]).
//!
//! ```
//! use fastevent::{listener, Event};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize, Event)]
//! struct UserRegistered { user_id: u64 }
//!
//! #[derive(Default)]
//! struct SendWelcomeMail;
//!
//! #[listener(on = UserRegistered)]
//! impl SendWelcomeMail {
//!     async fn handle(&self, _: &UserRegistered) { unreachable!("faked") }
//! }
//!
//! async fn register(user_id: u64) -> Result<(), fastevent::DispatchError> {
//!     UserRegistered { user_id }.dispatch().await?;
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let events = fastevent::testing::fake();
//! register(7).await.unwrap();
//! events.assert_dispatched_with(|e: &UserRegistered| e.user_id == 7);
//! events.assert_dispatched_times::<UserRegistered>(1);
//! fastevent::testing::assert_listening::<UserRegistered, SendWelcomeMail>();
//! # }
//! ```
//!
//! A fake belongs to the Tokio runtime it was made in, so each
//! `#[tokio::test]` (which gets its own runtime) sees only its own events,
//! also from tasks it spawns, while tests run in parallel threads.

use crate::event::Event;
use crate::listener::Listener;
use crate::registry::registry;
use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::runtime::{Handle, Id};

/// How many fakes exist; dispatch looks no further while this is zero.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static FAKES: Mutex<Vec<(Id, Arc<Recorded>)>> = Mutex::new(Vec::new());

/// How an event was dispatched, as a fake recorded it
/// ([`EventFake::modes`]): for a test that cares whether the code queued
/// the listeners or ran them inline.
///
/// ```rust,standalone_crate
/// use fastevent::testing::{self, Mode};
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct PasswordChanged {
///     user_id: u64,
/// }
///
/// #[derive(Default)]
/// struct RevokeTokens;
/// #[listener(on = PasswordChanged)]
/// impl RevokeTokens {
///     async fn handle(&self, _: &PasswordChanged) {}
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let events = testing::fake();
///     // Tokens must be revoked before the response, not some time later.
///     PasswordChanged { user_id: 1 }.dispatch_now().await.unwrap();
///     assert_eq!(events.modes::<PasswordChanged>(), [Mode::Now]);
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `dispatch`: queued.
    Queued,
    /// `dispatch_now`: inline.
    Now,
}

struct Record {
    type_id: TypeId,
    name: &'static str,
    mode: Mode,
    event: Box<dyn Any + Send>,
}

#[derive(Default)]
struct Recorded(Mutex<Vec<Record>>);

impl Recorded {
    fn lock(&self) -> MutexGuard<'_, Vec<Record>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn fakes() -> MutexGuard<'static, Vec<(Id, Arc<Recorded>)>> {
    FAKES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records the events dispatched on this Tokio runtime until dropped; their
/// listeners do not run. Made by [`fake()`]; its assertions fail the test
/// with what was dispatched instead.
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
/// struct OrderCancelled {
///     order_id: u64,
/// }
///
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// struct RefundIssued {
///     order_id: u64,
/// }
///
/// #[derive(Default)]
/// struct Restock;
/// #[listener(on = OrderCancelled)]
/// impl Restock {
///     async fn handle(&self, _: &OrderCancelled) {}
/// }
///
/// #[derive(Default)]
/// struct NotifyAccounting;
/// #[listener(on = RefundIssued)]
/// impl NotifyAccounting {
///     async fn handle(&self, _: &RefundIssued) {}
/// }
///
/// async fn cancel(order_id: u64, paid: bool) {
///     OrderCancelled { order_id }.dispatch().await.unwrap();
///     if paid {
///         RefundIssued { order_id }.dispatch().await.unwrap();
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let events = fastevent::testing::fake();
///     events.assert_nothing_dispatched();
///     cancel(4, false).await;
///     events.assert_dispatched::<OrderCancelled>();
///     events.assert_not_dispatched::<RefundIssued>();
///     assert_eq!(events.dispatched::<OrderCancelled>(), [OrderCancelled { order_id: 4 }]);
/// }
/// ```
#[must_use = "the fake records events only while it is alive"]
pub struct EventFake {
    runtime: Id,
    recorded: Arc<Recorded>,
}

/// Starts faking dispatch on the current Tokio runtime: for a test of code
/// that dispatches, which asserts what was dispatched without running (or
/// configuring) any listener. Faking ends when the fake is dropped.
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct NewsletterSent {
///     issue: u32,
/// }
///
/// #[derive(Default)]
/// struct EmailSubscribers;
/// #[listener(on = NewsletterSent)]
/// impl EmailSubscribers {
///     async fn handle(&self, _: &NewsletterSent) {
///         unreachable!("a test sends no mail");
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let events = fastevent::testing::fake();
///     let dispatched = NewsletterSent { issue: 12 }.dispatch().await.unwrap();
///     assert_eq!(dispatched.jobs, 0); // recorded, not queued
///     events.assert_dispatched_times::<NewsletterSent>(1);
///     drop(events); // dispatch is real again from here on
/// }
/// ```
///
/// # Panics
/// Outside a Tokio runtime, or when this runtime already has a fake.
#[track_caller]
pub fn fake() -> EventFake {
    let runtime = Handle::try_current()
        .expect("fastevent::testing::fake() must be called inside a Tokio runtime, e.g. in a #[tokio::test]")
        .id();
    let recorded = Arc::new(Recorded::default());
    let mut fakes = fakes();
    assert!(
        fakes.iter().all(|(id, _)| *id != runtime),
        "this Tokio runtime already has an event fake; drop it before making another"
    );
    fakes.push((runtime, Arc::clone(&recorded)));
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    EventFake { runtime, recorded }
}

impl Drop for EventFake {
    fn drop(&mut self) {
        fakes().retain(|(id, _)| *id != self.runtime);
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) enum Intercepted<E> {
    Captured,
    Passed(E),
}

/// Records `event` if the current runtime has a fake.
pub(crate) fn intercept<E: Event>(event: E, mode: Mode) -> Intercepted<E> {
    if ACTIVE.load(Ordering::Relaxed) == 0 {
        return Intercepted::Passed(event);
    }
    let Ok(runtime) = Handle::try_current().map(|h| h.id()) else {
        return Intercepted::Passed(event);
    };
    let recorded = fakes()
        .iter()
        .find(|(id, _)| *id == runtime)
        .map(|(_, r)| Arc::clone(r));
    match recorded {
        Some(recorded) => {
            recorded.lock().push(Record {
                type_id: TypeId::of::<E>(),
                name: E::NAME,
                mode,
                event: Box::new(event),
            });
            Intercepted::Captured
        }
        None => Intercepted::Passed(event),
    }
}

impl EventFake {
    /// The recorded events of type `E`, in dispatch order.
    pub fn dispatched<E: Event + Clone>(&self) -> Vec<E> {
        self.recorded
            .lock()
            .iter()
            .filter_map(|r| r.event.downcast_ref::<E>().cloned())
            .collect()
    }

    /// How `E` events were dispatched (queued or now), in order.
    pub fn modes<E: Event>(&self) -> Vec<Mode> {
        self.recorded
            .lock()
            .iter()
            .filter(|r| r.type_id == TypeId::of::<E>())
            .map(|r| r.mode)
            .collect()
    }

    fn count<E: Event>(&self, matches: impl Fn(&E) -> bool) -> usize {
        self.recorded
            .lock()
            .iter()
            .filter_map(|r| r.event.downcast_ref::<E>())
            .filter(|e| matches(e))
            .count()
    }

    fn names(&self) -> String {
        let names: Vec<&str> = self.recorded.lock().iter().map(|r| r.name).collect();
        if names.is_empty() {
            "nothing was dispatched".into()
        } else {
            format!("dispatched were: {}", names.join(", "))
        }
    }

    /// Asserts that at least one `E` was dispatched.
    #[track_caller]
    pub fn assert_dispatched<E: Event>(&self) {
        assert!(
            self.count::<E>(|_| true) > 0,
            "expected event `{}` to be dispatched, but it was not ({})",
            E::NAME,
            self.names()
        );
    }

    /// Asserts that at least one `E` matching `predicate` was dispatched.
    #[track_caller]
    pub fn assert_dispatched_with<E: Event>(&self, predicate: impl Fn(&E) -> bool) {
        let all = self.count::<E>(|_| true);
        assert!(
            self.count::<E>(predicate) > 0,
            "expected event `{}` matching the predicate to be dispatched, but none of the {all} dispatched matched ({})",
            E::NAME,
            self.names()
        );
    }

    /// Asserts that `E` was dispatched exactly `times` times.
    #[track_caller]
    pub fn assert_dispatched_times<E: Event>(&self, times: usize) {
        let count = self.count::<E>(|_| true);
        assert_eq!(
            count,
            times,
            "expected event `{}` to be dispatched {times} times, but it was dispatched {count} times",
            E::NAME
        );
    }

    /// Asserts that no `E` was dispatched.
    #[track_caller]
    pub fn assert_not_dispatched<E: Event>(&self) {
        let count = self.count::<E>(|_| true);
        assert_eq!(
            count,
            0,
            "expected event `{}` not to be dispatched, but it was dispatched {count} times",
            E::NAME
        );
    }

    /// Asserts that no event at all was dispatched.
    #[track_caller]
    pub fn assert_nothing_dispatched(&self) {
        assert!(
            self.recorded.lock().is_empty(),
            "expected no event to be dispatched, but {}",
            self.names()
        );
    }
}

/// Asserts that `L` is registered (linked into this program) as a listener
/// of `E`: the other half of a test that fakes dispatch, proving that the
/// event it asserted will reach this listener.
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct TrialEnding {
///     account_id: u64,
/// }
///
/// #[derive(Default)]
/// struct OfferDiscount;
/// #[listener(on = TrialEnding)]
/// impl OfferDiscount {
///     async fn handle(&self, _: &TrialEnding) {}
/// }
///
/// fastevent::testing::assert_listening::<TrialEnding, OfferDiscount>();
/// ```
#[track_caller]
pub fn assert_listening<E: Event, L: Listener<E>>() {
    let listeners: Vec<&str> = registry()
        .listeners_of::<E>()
        .iter()
        .map(|l| l.type_path())
        .collect();
    assert!(
        registry().is_listening::<E, L>(),
        "expected `{}` to listen to event `{}`, but its listeners are: [{}]",
        std::any::type_name::<L>(),
        E::NAME,
        listeners.join(", ")
    );
}
