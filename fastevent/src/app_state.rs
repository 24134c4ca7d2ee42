//! Shared resources for listeners (a database pool, an HTTP client):
//! provided once at start-up, reachable from `handle` in every process that
//! runs listeners, since worker processes run the application's own `main`.
//!
//! ```
//! #[derive(Debug)]
//! struct Mailer { from: String }
//!
//! fastevent::provide(Mailer { from: "hello@example.com".into() });
//!
//! // Inside a listener's `handle`:
//! let mailer: &Mailer = fastevent::state::<Mailer>()?;
//! assert_eq!(mailer.from, "hello@example.com");
//! # Ok::<(), fastevent::MissingState>(())
//! ```

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

type States = HashMap<TypeId, &'static (dyn Any + Send + Sync)>;

static STATES: LazyLock<RwLock<States>> = LazyLock::new(Default::default);

/// Makes `value` reachable through [`state::<T>()`](state) for the rest of the
/// process. Providing a type again replaces the value for later calls; the old
/// value is kept alive (leaked), since listeners may still hold references to it.
pub fn provide<T: Send + Sync + 'static>(value: T) {
    let value: &'static (dyn Any + Send + Sync) = Box::leak(Box::new(value));
    STATES
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(TypeId::of::<T>(), value);
}

/// The value of type `T` given to [`provide`].
pub fn state<T: Send + Sync + 'static>() -> Result<&'static T, MissingState> {
    let states = STATES
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    states
        .get(&TypeId::of::<T>())
        .and_then(|value| value.downcast_ref::<T>())
        .ok_or(MissingState {
            type_name: std::any::type_name::<T>(),
        })
}

/// No value of the asked type was provided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no state of type `{type_name}` was provided: call fastevent::provide(value) at start-up, before dispatching or running workers"
)]
pub struct MissingState {
    /// The type that was asked for.
    pub type_name: &'static str,
}
