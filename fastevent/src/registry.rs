//! The link-time registry: `#[derive(Event)]` and `#[listener]` put plain
//! entries into these `linkme` slices; [`registry()`] builds one sorted,
//! validated view of them the first time it is asked.

use crate::event::Event;
use crate::listener::{BoxError, IntoListenerResult, Listener, ListenerOptions};
use futures_util::future::BoxFuture;
use linkme::distributed_slice;
use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// An event of any type, shared between the listeners of one dispatch.
pub(crate) type AnyEvent = dyn Any + Send + Sync;

#[doc(hidden)]
#[distributed_slice]
pub static EVENTS: [EventEntry];

#[doc(hidden)]
#[distributed_slice]
pub static LISTENERS: [ListenerEntry];

#[doc(hidden)]
#[distributed_slice]
pub static ALLOWED_UNWIRED: [AllowedUnwired];

/// One event type, as registered by `#[derive(Event)]`.
#[derive(Debug)]
pub struct EventEntry {
    /// The registered name (`new_chat`).
    pub name: &'static str,
    /// The payload version.
    pub version: u32,
    /// The type's own name (`NewChatEvent`), which keys the link-time check.
    pub type_name: &'static str,
    /// Whether `#[event(allow_unwired)]` was given.
    pub allow_unwired: bool,
    /// Where the type is defined.
    pub module_path: &'static str,
    type_id: fn() -> TypeId,
    type_path: fn() -> &'static str,
}

impl EventEntry {
    #[doc(hidden)]
    pub const fn of<E: Event>(
        type_name: &'static str,
        allow_unwired: bool,
        module_path: &'static str,
    ) -> Self {
        Self {
            name: E::NAME,
            version: E::VERSION,
            type_name,
            allow_unwired,
            module_path,
            type_id: TypeId::of::<E>,
            type_path: std::any::type_name::<E>,
        }
    }

    /// The full Rust path of the type.
    pub fn type_path(&self) -> &'static str {
        (self.type_path)()
    }
}

/// Runs a listener on an in-process event (the typed fast path).
type RunTyped = for<'a> fn(&'a AnyEvent) -> BoxFuture<'a, Result<(), BoxError>>;
/// Decodes a JSON payload, then runs the listener on it (the queued path).
type RunJson = fn(&str) -> Result<BoxFuture<'static, Result<(), BoxError>>, serde_json::Error>;

/// One listener of one event, as registered by `#[listener(on = E)]`.
pub struct ListenerEntry {
    /// The registered name (`generate_chat_title`); unique per event.
    pub name: &'static str,
    /// The registered name of its event.
    pub event_name: &'static str,
    /// Its options.
    pub options: ListenerOptions,
    /// Where the listener is defined.
    pub module_path: &'static str,
    event_type: fn() -> TypeId,
    listener_type: fn() -> TypeId,
    type_path: fn() -> &'static str,
    run_typed: RunTyped,
    run_json: RunJson,
}

impl std::fmt::Debug for ListenerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerEntry")
            .field("name", &self.name)
            .field("event_name", &self.event_name)
            .field("type_path", &self.type_path())
            .field("options", &self.options)
            .finish()
    }
}

impl ListenerEntry {
    #[doc(hidden)]
    pub const fn of<E: Event, L: Listener<E>>(
        name: &'static str,
        options: ListenerOptions,
        module_path: &'static str,
    ) -> Self {
        Self {
            name,
            event_name: E::NAME,
            options,
            module_path,
            event_type: TypeId::of::<E>,
            listener_type: TypeId::of::<L>,
            type_path: std::any::type_name::<L>,
            run_typed: run_typed::<E, L>,
            run_json: run_json::<E, L>,
        }
    }

    /// The full Rust path of the listener type.
    pub fn type_path(&self) -> &'static str {
        (self.type_path)()
    }

    pub(crate) fn run_typed<'a>(&self, event: &'a AnyEvent) -> BoxFuture<'a, Result<(), BoxError>> {
        (self.run_typed)(event)
    }

    /// Decodes `payload` as this listener's event; the returned future runs
    /// the listener. A payload that does not decode is an error here, before
    /// anything runs.
    pub fn decode_and_run(
        &self,
        payload: &str,
    ) -> Result<BoxFuture<'static, Result<(), BoxError>>, serde_json::Error> {
        (self.run_json)(payload)
    }
}

fn run_typed<E: Event, L: Listener<E>>(event: &AnyEvent) -> BoxFuture<'_, Result<(), BoxError>> {
    Box::pin(async move {
        let Some(event) = event.downcast_ref::<E>() else {
            // Only reachable through a bug in fastevent: the registry pairs
            // each listener with the type it was declared for.
            return Err(format!("fastevent bug: listener of {} got another type", E::NAME).into());
        };
        L::default().handle(event).await.into_listener_result()
    })
}

fn run_json<E: Event, L: Listener<E>>(
    payload: &str,
) -> Result<BoxFuture<'static, Result<(), BoxError>>, serde_json::Error> {
    let event: E = serde_json::from_str(payload)?;
    Ok(Box::pin(async move {
        L::default().handle(&event).await.into_listener_result()
    }))
}

/// An event that `fastevent::allow_unwired!` lets go without listeners.
#[doc(hidden)]
pub struct AllowedUnwired {
    type_id: fn() -> TypeId,
}

impl AllowedUnwired {
    #[doc(hidden)]
    pub const fn of<E: Event>() -> Self {
        Self {
            type_id: TypeId::of::<E>,
        }
    }
}

/// One event with its listeners, sorted by listener name.
#[derive(Debug)]
pub struct RegisteredEvent {
    /// The event.
    pub event: &'static EventEntry,
    /// Its listeners.
    pub listeners: Vec<&'static ListenerEntry>,
}

/// Everything linked into this program: events sorted by name, each with
/// its listeners.
#[derive(Debug)]
pub struct Registry {
    events: Vec<RegisteredEvent>,
    /// (type, index into `events`), sorted by type for binary search.
    by_type: Vec<(TypeId, usize)>,
    problems: Result<(), RegistryError>,
    warnings: Vec<String>,
}

/// What is wrong with the wiring linked into this program; every problem,
/// not only the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fastevent: the event wiring of this program is invalid:\n  - {}", problems.join("\n  - "))]
pub struct RegistryError {
    /// One line per problem.
    pub problems: Vec<String>,
}

/// The registry of this program, built on first use.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let registry = Registry::build(&EVENTS, &LISTENERS, &ALLOWED_UNWIRED, LINK_CHECKED);
        for warning in &registry.warnings {
            tracing::warn!(target: "fastevent", "{warning}");
        }
        registry
    })
}

/// Whether the linker already refused programs that dispatch an event
/// without a listener (the weak-symbol check works on ELF only).
const LINK_CHECKED: bool = cfg!(target_os = "linux");

impl Registry {
    fn build(
        events: &'static [EventEntry],
        listeners: &'static [ListenerEntry],
        allowed_unwired: &'static [AllowedUnwired],
        link_checked: bool,
    ) -> Registry {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();

        let mut by_name: BTreeMap<&str, Vec<&'static EventEntry>> = BTreeMap::new();
        for event in events {
            by_name.entry(event.name).or_default().push(event);
        }
        let mut registered: Vec<RegisteredEvent> = Vec::new();
        for (name, entries) in &by_name {
            if entries.len() > 1 {
                let paths: Vec<&str> = entries.iter().map(|e| e.type_path()).collect();
                problems.push(format!(
                    "two events are named `{name}`: {}; give one another name with #[event(name = \"...\")]",
                    paths.join(" and ")
                ));
            }
            registered.push(RegisteredEvent {
                event: entries[0],
                listeners: Vec::new(),
            });
        }
        let mut by_type: Vec<(TypeId, usize)> = registered
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.event.type_id)(), i))
            .collect();
        by_type.sort_by_key(|(t, _)| *t);

        for listener in listeners {
            let event_type = (listener.event_type)();
            match by_type.binary_search_by_key(&event_type, |(t, _)| *t) {
                Ok(at) => registered[by_type[at].1].listeners.push(listener),
                Err(_) => problems.push(format!(
                    "listener `{}` ({}) listens to event `{}`, whose registration is not linked into this program",
                    listener.name,
                    listener.type_path(),
                    listener.event_name
                )),
            }
        }
        for event in &mut registered {
            event.listeners.sort_by_key(|l| l.name);
            for pair in event.listeners.windows(2) {
                if pair[0].name == pair[1].name {
                    problems.push(format!(
                        "two listeners of event `{}` are named `{}`: {} and {}; rename one with #[listener(name = \"...\")]",
                        event.event.name,
                        pair[0].name,
                        pair[0].type_path(),
                        pair[1].type_path()
                    ));
                }
            }
        }

        let allowed: Vec<TypeId> = allowed_unwired.iter().map(|a| (a.type_id)()).collect();
        for event in &registered {
            let entry = event.event;
            if !event.listeners.is_empty()
                || entry.allow_unwired
                || allowed.contains(&(entry.type_id)())
            {
                continue;
            }
            let same_type_name: Vec<&str> = registered
                .iter()
                .filter(|o| o.event.type_name == entry.type_name && !std::ptr::eq(o.event, entry))
                .map(|o| o.event.type_path())
                .collect();
            if !same_type_name.is_empty() {
                // The link-time check is keyed by the bare type name, so a
                // listener of the other type satisfies it for this one too.
                problems.push(format!(
                    "event `{}` ({}) has no listener, and the link-time check cannot see it because {} shares its type name; add a listener or #[event(allow_unwired)]",
                    entry.name,
                    entry.type_path(),
                    same_type_name.join(", ")
                ));
            } else if link_checked {
                warnings.push(format!(
                    "event `{}` ({}) has no listener; dispatching it does nothing",
                    entry.name,
                    entry.type_path()
                ));
            } else {
                problems.push(format!(
                    "event `{}` ({}) has no listener: add #[listener(on = {})] or mark it #[event(allow_unwired)]",
                    entry.name,
                    entry.type_path(),
                    entry.type_name
                ));
            }
        }

        Registry {
            events: registered,
            by_type,
            problems: if problems.is_empty() {
                Ok(())
            } else {
                Err(RegistryError { problems })
            },
            warnings,
        }
    }

    /// Every problem found at start-up, or `Ok` when the wiring is sound.
    pub fn validate(&self) -> Result<&Self, RegistryError> {
        match &self.problems {
            Ok(()) => Ok(self),
            Err(error) => Err(error.clone()),
        }
    }

    /// Events sorted by name, each with its listeners.
    pub fn events(&self) -> &[RegisteredEvent] {
        &self.events
    }

    /// Problems that do not stop the program (an event nobody listens to).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The event registered under `name`.
    pub fn event_named(&self, name: &str) -> Option<&RegisteredEvent> {
        self.events
            .binary_search_by_key(&name, |e| e.event.name)
            .ok()
            .map(|i| &self.events[i])
    }

    /// The listener `listener` of the event named `event`: how a worker finds
    /// the code for a job, by registered names only.
    pub fn listener(&self, event: &str, listener: &str) -> Option<&'static ListenerEntry> {
        let event = self.event_named(event)?;
        event
            .listeners
            .binary_search_by_key(&listener, |l| l.name)
            .ok()
            .map(|i| event.listeners[i])
    }

    /// The listeners of `E`, sorted by name.
    pub fn listeners_of<E: Event>(&self) -> &[&'static ListenerEntry] {
        match self
            .by_type
            .binary_search_by_key(&TypeId::of::<E>(), |(t, _)| *t)
        {
            Ok(at) => &self.events[self.by_type[at].1].listeners,
            Err(_) => &[],
        }
    }

    /// Whether `L` is registered as a listener of `E`.
    pub fn is_listening<E: Event, L: Listener<E>>(&self) -> bool {
        let listener = TypeId::of::<L>();
        self.listeners_of::<E>()
            .iter()
            .any(|l| (l.listener_type)() == listener)
    }
}
