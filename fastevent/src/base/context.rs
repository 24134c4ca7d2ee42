//! Context that follows an event: set a user id, locale or trace id where a
//! request is handled, and every listener of the events dispatched there
//! sees it, in this process or in a worker.
//!
//! Values live in a task-local scope, so concurrent requests never see each
//! other's. [`ContextKey`] values propagate: they are serialized when set
//! (a value that cannot be is refused right there) and travel with each
//! dispatched job. [`LocalContextKey`] values stay in the task that set them.
//!
//! ```
//! use fastevent::context::{self, ContextKey};
//!
//! static USER_ID: ContextKey<u64> = ContextKey::new("user_id");
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! context::scope(async {
//!     context::set(&USER_ID, 42).unwrap();
//!     assert_eq!(context::get(&USER_ID), Some(42));
//! })
//! .await;
//! assert_eq!(context::get(&USER_ID), None); // outside the scope
//! # }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

tokio::task_local! {
    static CURRENT: RefCell<Values>;
}

/// A key whose value propagates to listeners, also in other processes:
/// declare one as a `static` for each value a request hands to the jobs it
/// causes (a user id, a locale, a tenant). Its value type must serialize.
///
/// ```
/// use fastevent::context::{self, ContextKey};
///
/// pub static LOCALE: ContextKey<String> = ContextKey::new("locale");
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// context::scope(async {
///     context::set(&LOCALE, "fr-BE".to_string()).unwrap();
///     // Every job dispatched here carries it:
///     let carried = context::ContextSnapshot::capture().to_json();
///     assert_eq!(carried["locale"], r#""fr-BE""#);
/// })
/// .await;
/// assert_eq!(LOCALE.name(), "locale");
/// # }
/// ```
pub struct ContextKey<T> {
    name: &'static str,
    _value: PhantomData<fn() -> T>,
}

impl<T> ContextKey<T> {
    /// A key named `name`; the name is how the value travels in job envelopes,
    /// so it must be unique within the program.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _value: PhantomData,
        }
    }

    /// The key's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

/// A key whose value stays in the task that set it (and in `dispatch_now`
/// listeners, which run on that task): a database transaction, a handle.
/// Its value need not serialize, and never leaves the process.
///
/// ```
/// use fastevent::context::{self, ContextSnapshot, LocalContextKey};
/// use std::sync::Arc;
///
/// struct Transaction { id: u32 }
///
/// static TX: LocalContextKey<Arc<Transaction>> = LocalContextKey::new("tx");
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// context::scope(async {
///     context::set(&TX, Arc::new(Transaction { id: 7 })).unwrap();
///     assert_eq!(context::get(&TX).map(|tx| tx.id), Some(7));
///     // Not carried by queued jobs:
///     assert!(ContextSnapshot::capture().is_empty());
/// })
/// .await;
/// # }
/// ```
pub struct LocalContextKey<T> {
    name: &'static str,
    _value: PhantomData<fn() -> T>,
}

impl<T> LocalContextKey<T> {
    /// A key named `name`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _value: PhantomData,
        }
    }
}

/// What `set`, `get` and `remove` accept: a [`ContextKey`] or a
/// [`LocalContextKey`]. Sealed: name it in bounds, to write helpers over
/// both kinds of key.
///
/// ```
/// use fastevent::context::{self, ContextKey, Key, LocalContextKey};
///
/// fn describe<K: Key>(key: &K) -> String
/// where
///     K::Value: std::fmt::Debug,
/// {
///     format!("{} = {:?}", key.name(), context::get(key))
/// }
///
/// static USER_ID: ContextKey<u64> = ContextKey::new("user_id");
/// static ATTEMPT: LocalContextKey<u8> = LocalContextKey::new("attempt");
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// context::scope(async {
///     context::set(&USER_ID, 42).unwrap();
///     assert_eq!(describe(&USER_ID), "user_id = Some(42)");
///     assert_eq!(describe(&ATTEMPT), "attempt = None");
/// })
/// .await;
/// # }
/// ```
pub trait Key: sealed::Sealed {
    /// The value type.
    type Value: Clone + Send + Sync + 'static;
    /// The key's name.
    fn name(&self) -> &'static str;
    #[doc(hidden)]
    fn encode(&self, value: &Self::Value) -> Result<Option<Arc<str>>, ContextError>;
    #[doc(hidden)]
    fn decode(&self, json: &str) -> Result<Self::Value, ContextError>;
}

mod sealed {
    pub trait Sealed {}
    impl<T> Sealed for super::ContextKey<T> {}
    impl<T> Sealed for super::LocalContextKey<T> {}
}

impl<T> Key for ContextKey<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn name(&self) -> &'static str {
        self.name
    }

    fn encode(&self, value: &T) -> Result<Option<Arc<str>>, ContextError> {
        serde_json::to_string(value)
            .map(|json| Some(Arc::from(json)))
            .map_err(|e| ContextError::NotSerializable {
                key: self.name,
                reason: e.to_string(),
            })
    }

    fn decode(&self, json: &str) -> Result<T, ContextError> {
        serde_json::from_str(json).map_err(|e| ContextError::Undecodable {
            key: self.name,
            reason: e.to_string(),
        })
    }
}

impl<T: Clone + Send + Sync + 'static> Key for LocalContextKey<T> {
    type Value = T;

    fn name(&self) -> &'static str {
        self.name
    }

    fn encode(&self, _: &T) -> Result<Option<Arc<str>>, ContextError> {
        Ok(None)
    }

    fn decode(&self, _: &str) -> Result<T, ContextError> {
        // Local values never travel, so there is never JSON to decode.
        Err(ContextError::Undecodable {
            key: self.name,
            reason: "a local key has no serialized form".into(),
        })
    }
}

/// A context operation that could not be done: setting a value outside a
/// [`scope`], or a value that cannot travel with jobs.
///
/// ```
/// use fastevent::context::{self, ContextError, ContextKey};
///
/// static REQUEST_ID: ContextKey<String> = ContextKey::new("request_id");
///
/// // Outside any scope there is nowhere to keep the value.
/// let error = context::set(&REQUEST_ID, "r-1".into()).unwrap_err();
/// assert_eq!(error, ContextError::NoScope { key: "request_id" });
/// assert!(error.to_string().contains("fastevent::context::scope"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// `set` outside any scope: there is no task-local context to write to.
    #[error(
        "context key `{key}` was set outside a context scope: wrap the request or task in fastevent::context::scope(async {{ ... }})"
    )]
    NoScope {
        /// The key.
        key: &'static str,
    },
    /// The value of a propagating key failed to serialize.
    #[error(
        "the value for context key `{key}` cannot be serialized, so it could not reach listeners: {reason}"
    )]
    NotSerializable {
        /// The key.
        key: &'static str,
        /// serde_json's message.
        reason: String,
    },
    /// A propagated value did not decode as the key's type.
    #[error("the propagated value of context key `{key}` does not decode as its type: {reason}")]
    Undecodable {
        /// The key.
        key: &'static str,
        /// serde_json's message.
        reason: String,
    },
}

/// One value: the typed value where it was set in this process, and its
/// JSON where the key propagates (and where it arrived from a job).
#[derive(Clone)]
struct Slot {
    value: Option<Arc<dyn Any + Send + Sync>>,
    json: Option<Arc<str>>,
}

/// The values of one scope; copy on write, so a snapshot is a pointer copy.
#[derive(Clone, Default)]
struct Values(Option<Arc<HashMap<Cow<'static, str>, Slot>>>);

impl Values {
    fn get(&self, name: &str) -> Option<&Slot> {
        self.0.as_ref()?.get(name)
    }

    fn insert(&mut self, name: &'static str, slot: Slot) {
        let map = self.0.get_or_insert_with(Default::default);
        Arc::make_mut(map).insert(Cow::Borrowed(name), slot);
    }

    fn remove(&mut self, name: &str) {
        if let Some(map) = &mut self.0 {
            Arc::make_mut(map).remove(name);
        }
    }

    fn propagating(&self) -> Values {
        match &self.0 {
            Some(map) if map.values().all(|s| s.json.is_some()) => self.clone(),
            Some(map) => Values(Some(Arc::new(
                map.iter()
                    .filter(|(_, s)| s.json.is_some())
                    .map(|(k, s)| (k.clone(), s.clone()))
                    .collect(),
            ))),
            None => Values(None),
        }
    }
}

/// Sets `key` in the current scope. A propagating key's value is serialized
/// now, and refused if it cannot be: the mistake shows where the value is
/// set, not in a worker later.
///
/// ```
/// use fastevent::context::{self, ContextError, ContextKey};
/// use std::collections::HashMap;
///
/// static TENANT: ContextKey<String> = ContextKey::new("tenant");
/// // JSON object keys are strings: a map keyed by pairs cannot travel.
/// static GRID: ContextKey<HashMap<(u8, u8), u8>> = ContextKey::new("grid");
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// context::scope(async {
///     context::set(&TENANT, "acme".into()).unwrap();
///     let refused = context::set(&GRID, HashMap::from([((0, 0), 1)]));
///     assert!(matches!(refused, Err(ContextError::NotSerializable { key: "grid", .. })));
/// })
/// .await;
/// # }
/// ```
pub fn set<K: Key>(key: &K, value: K::Value) -> Result<(), ContextError> {
    let json = key.encode(&value)?;
    let slot = Slot {
        value: Some(Arc::new(value)),
        json,
    };
    CURRENT
        .try_with(|values| values.borrow_mut().insert(key.name(), slot))
        .map_err(|_| ContextError::NoScope { key: key.name() })
}

/// The value of `key` in the current scope; `None` when unset, outside any
/// scope, or when a propagated value does not decode (see [`try_get`]).
/// In a listener, this is the value set where its event was dispatched.
///
/// ```
/// use fastevent::context::{self, ContextKey};
///
/// static USER_ID: ContextKey<u64> = ContextKey::new("user_id");
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// assert_eq!(context::get(&USER_ID), None); // outside any scope
/// context::scope(async {
///     assert_eq!(context::get(&USER_ID), None); // unset
///     context::set(&USER_ID, 42).unwrap();
///     assert_eq!(context::get(&USER_ID), Some(42));
/// })
/// .await;
/// # }
/// ```
pub fn get<K: Key>(key: &K) -> Option<K::Value> {
    match try_get(key) {
        Ok(value) => value,
        Err(error) => {
            tracing::warn!(target: "fastevent", "{error}");
            None
        }
    }
}

/// Like [`get`], but says why a propagated value could not be read: for a
/// listener that must not go on without the value (an older dispatcher sent
/// another type under the same name).
///
/// ```
/// use fastevent::context::{self, ContextError, ContextKey, ContextSnapshot};
/// use std::collections::BTreeMap;
///
/// static USER_ID: ContextKey<u64> = ContextKey::new("user_id");
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // A job whose dispatcher sent the id as a string.
/// let carried = ContextSnapshot::from_json(BTreeMap::from([(
///     "user_id".to_string(),
///     r#""u-42""#.to_string(),
/// )]));
/// carried
///     .scope(async {
///         let error = context::try_get(&USER_ID).unwrap_err();
///         assert!(matches!(error, ContextError::Undecodable { key: "user_id", .. }));
///         assert_eq!(context::get(&USER_ID), None); // logs the error instead
///     })
///     .await;
/// # }
/// ```
pub fn try_get<K: Key>(key: &K) -> Result<Option<K::Value>, ContextError> {
    let slot = CURRENT
        .try_with(|values| values.borrow().get(key.name()).cloned())
        .ok()
        .flatten();
    let Some(slot) = slot else { return Ok(None) };
    if let Some(value) = slot
        .value
        .as_ref()
        .and_then(|v| v.downcast_ref::<K::Value>())
    {
        return Ok(Some(value.clone()));
    }
    match &slot.json {
        Some(json) => key.decode(json).map(Some),
        // Same name, other type: keys are meant to be unique by name.
        None => Ok(None),
    }
}

/// Removes `key` from the current scope, so that events dispatched from now
/// on no longer carry it.
///
/// ```
/// use fastevent::context::{self, ContextKey};
///
/// static IMPERSONATOR: ContextKey<u64> = ContextKey::new("impersonator");
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// context::scope(async {
///     context::set(&IMPERSONATOR, 1).unwrap();
///     context::remove(&IMPERSONATOR);
///     assert_eq!(context::get(&IMPERSONATOR), None);
/// })
/// .await;
/// # }
/// ```
pub fn remove<K: Key>(key: &K) {
    let _ = CURRENT.try_with(|values| values.borrow_mut().remove(key.name()));
}

/// Runs `future` in a new scope holding a copy of the current values (none
/// outside any scope). Changes inside do not leak out. Wrap each request
/// (or task) in one, so that its values are its own.
///
/// ```
/// use fastevent::context::{self, ContextKey};
///
/// static LOCALE: ContextKey<String> = ContextKey::new("locale");
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// context::scope(async {
///     context::set(&LOCALE, "en".into()).unwrap();
///     context::scope(async {
///         assert_eq!(context::get(&LOCALE).as_deref(), Some("en")); // inherited
///         context::set(&LOCALE, "de".into()).unwrap();
///     })
///     .await;
///     assert_eq!(context::get(&LOCALE).as_deref(), Some("en")); // unchanged
/// })
/// .await;
/// # }
/// ```
pub fn scope<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let inherited = CURRENT
        .try_with(|values| values.borrow().clone())
        .unwrap_or_default();
    CURRENT.scope(RefCell::new(inherited), future)
}

/// The propagating values of the current scope, as carried by a job: what a
/// custom driver or worker stores with a job ([`ContextSnapshot::to_json`])
/// and restores around its listener ([`ContextSnapshot::scope`]).
///
/// ```
/// use fastevent::context::{self, ContextKey, ContextSnapshot};
///
/// static USER_ID: ContextKey<u64> = ContextKey::new("user_id");
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // Where the event is dispatched:
/// let stored = context::scope(async {
///     context::set(&USER_ID, 42).unwrap();
///     ContextSnapshot::capture().to_json()
/// })
/// .await;
///
/// // Where the job runs, maybe in another process:
/// ContextSnapshot::from_json(stored)
///     .scope(async {
///         assert_eq!(context::get(&USER_ID), Some(42));
///     })
///     .await;
/// # }
/// ```
#[derive(Clone, Default)]
pub struct ContextSnapshot(Values);

impl std::fmt::Debug for ContextSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.to_json()).finish()
    }
}

impl ContextSnapshot {
    /// The propagating values of the current scope.
    pub fn capture() -> Self {
        ContextSnapshot(
            CURRENT
                .try_with(|values| values.borrow().propagating())
                .unwrap_or_default(),
        )
    }

    /// Whether no value is carried.
    pub fn is_empty(&self) -> bool {
        self.0.0.as_ref().is_none_or(|m| m.is_empty())
    }

    /// Name -> JSON text of each value, sorted by name (for the job envelope).
    pub fn to_json(&self) -> BTreeMap<String, String> {
        self.0
            .0
            .iter()
            .flat_map(|m| m.iter())
            .filter_map(|(k, s)| Some((k.to_string(), s.json.as_deref()?.to_string())))
            .collect()
    }

    /// A snapshot from name -> JSON text, as read from a job envelope.
    pub fn from_json(values: BTreeMap<String, String>) -> Self {
        let map: HashMap<Cow<'static, str>, Slot> = values
            .into_iter()
            .map(|(k, json)| {
                let slot = Slot {
                    value: None,
                    json: Some(Arc::from(json)),
                };
                (Cow::Owned(k), slot)
            })
            .collect();
        ContextSnapshot(Values((!map.is_empty()).then(|| Arc::new(map))))
    }

    /// The JSON text of one value, if carried.
    pub(crate) fn json_of(&self, name: &str) -> Option<&str> {
        self.0.get(name)?.json.as_deref()
    }

    /// A copy with one more value (or another value for `name`), as JSON.
    pub(crate) fn with_json(&self, name: &'static str, json: String) -> Self {
        let mut values = self.0.clone();
        let slot = Slot {
            value: None,
            json: Some(Arc::from(json)),
        };
        values.insert(name, slot);
        ContextSnapshot(values)
    }

    /// Runs `future` in a scope holding exactly these values: how a job's
    /// listener sees the context of its dispatch.
    pub fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(RefCell::new(self.0), future)
    }
}
