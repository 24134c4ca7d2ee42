//! Shared resources for listeners (a database pool, an HTTP client):
//! provided once at start-up, reachable from `handle` in every process that
//! runs listeners, since worker processes run the application's own `main`.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

type States = HashMap<TypeId, &'static (dyn Any + Send + Sync)>;

static STATES: LazyLock<RwLock<States>> = LazyLock::new(Default::default);

/// Makes `value` reachable through [`state::<T>()`](state) for the rest of the
/// process: how listeners, which are built with `Default` for each event, get
/// shared resources (a database pool, an HTTP client, a mailer). Call it at
/// start-up, in `main`, which worker processes run too. Providing a type again
/// replaces the value for later calls; the old value is kept alive (leaked),
/// since listeners may still hold references to it.
///
/// ```
/// #[derive(Debug)]
/// struct Mailer { from: String }
///
/// fastevent::provide(Mailer { from: "hello@example.com".into() });
///
/// // Inside a listener's `handle`:
/// let mailer: &Mailer = fastevent::state::<Mailer>()?;
/// assert_eq!(mailer.from, "hello@example.com");
/// # Ok::<(), fastevent::MissingState>(())
/// ```
pub fn provide<T: Send + Sync + 'static>(value: T) {
    let value: &'static (dyn Any + Send + Sync) = Box::leak(Box::new(value));
    STATES
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(TypeId::of::<T>(), value);
}

/// The value of type `T` given to [`provide`], for the rest of the process;
/// call it in a listener's `handle` (see [`provide`]). An error, naming the
/// type, when nothing of that type was provided: a listener returns it with
/// `?`, and the job fails with that message instead of panicking.
///
/// ```
/// struct HttpClient;
///
/// async fn handle() -> Result<(), fastevent::BoxError> {
///     let _client: &HttpClient = fastevent::state()?;
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let error = handle().await.unwrap_err();
/// assert!(error.to_string().contains("HttpClient"));
///
/// fastevent::provide(HttpClient);
/// assert!(handle().await.is_ok());
/// # }
/// ```
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

/// No value of the asked type was provided: what [`state`] returns when
/// start-up did not call [`provide`] for that type (often: a worker process
/// whose `main` skips the set-up the web server does).
///
/// ```
/// struct Pool;
///
/// let missing = fastevent::state::<Pool>().err().unwrap();
/// assert!(missing.type_name.ends_with("Pool"));
/// assert!(missing.to_string().contains("call fastevent::provide(value) at start-up"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no state of type `{type_name}` was provided: call fastevent::provide(value) at start-up, before dispatching or running workers"
)]
pub struct MissingState {
    /// The type that was asked for.
    pub type_name: &'static str,
}
