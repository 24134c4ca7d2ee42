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

/// One event type, as registered by `#[derive(Event)]`: what tools (the
/// `events` command, a health page) read about it.
///
/// ```rust,standalone_crate
/// use fastevent::Event;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// #[event(name = "shipping.label_printed", version = 3, allow_unwired)]
/// struct LabelPrinted {
///     parcel_id: u64,
/// }
///
/// let registry = fastevent::registry::registry();
/// let event = registry.event_named("shipping.label_printed").unwrap().event;
/// assert_eq!((event.version, event.type_name), (3, "LabelPrinted"));
/// assert!(event.allow_unwired);
/// assert!(event.type_path().ends_with("::LabelPrinted"));
/// ```
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

/// One listener of one event, as registered by `#[listener(on = E)]`: its
/// names and options, and how to run it on a payload, by registered names
/// only (how a worker runs a job; see
/// [`ClaimedJob`](crate::driver::durable::ClaimedJob) for a whole one).
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct CouponRedeemed {
///     code: String,
/// }
///
/// #[derive(Default)]
/// struct CheckCoupon;
/// #[listener(on = CouponRedeemed, queue = "billing")]
/// impl CheckCoupon {
///     async fn handle(&self, event: &CouponRedeemed) -> Result<(), String> {
///         if event.code.is_empty() { Err("empty code".into()) } else { Ok(()) }
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let listener = fastevent::registry::registry()
///         .listener("coupon_redeemed", "check_coupon")
///         .unwrap();
///     assert_eq!(listener.options.queue, Some("billing"));
///     assert!(listener.type_path().ends_with("::CheckCoupon"));
///
///     assert!(listener.decode_and_run(r#"{"code":"SPRING"}"#).unwrap().await.is_ok());
///     assert!(listener.decode_and_run(r#"{"code":""}"#).unwrap().await.is_err());
///     assert!(listener.decode_and_run(r#"{"coupon":7}"#).is_err()); // not this event
/// }
/// ```
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

/// One event with its listeners, sorted by listener name: an entry of
/// [`Registry::events`].
///
/// ```
/// use fastevent::registry::{registry, RegisteredEvent};
///
/// fn describe(registered: &RegisteredEvent) -> String {
///     let names: Vec<&str> = registered.listeners.iter().map(|l| l.name).collect();
///     format!("{} -> [{}]", registered.event.name, names.join(", "))
/// }
///
/// for registered in registry().events() {
///     println!("{}", describe(registered));
///     assert!(registered.listeners.windows(2).all(|pair| pair[0].name < pair[1].name));
/// }
/// ```
#[derive(Debug)]
pub struct RegisteredEvent {
    /// The event.
    pub event: &'static EventEntry,
    /// Its listeners.
    pub listeners: Vec<&'static ListenerEntry>,
}

/// Everything linked into this program: events sorted by name, each with
/// its listeners. Get it with [`registry()`] (or [`check()`], which refuses
/// an invalid one); look events and listeners up by type or by registered
/// name.
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct SeatReserved {
///     seat: String,
/// }
///
/// #[derive(Default)]
/// struct HoldSeat;
/// #[listener(on = SeatReserved)]
/// impl HoldSeat {
///     async fn handle(&self, _: &SeatReserved) {}
/// }
///
/// let registry = fastevent::check().expect("valid wiring");
/// assert!(registry.is_listening::<SeatReserved, HoldSeat>());
/// assert_eq!(registry.listeners_of::<SeatReserved>().len(), 1);
/// let event = registry.event_named("seat_reserved").unwrap();
/// assert_eq!(event.listeners[0].name, "hold_seat");
/// assert!(registry.listener("seat_reserved", "hold_seat").is_some());
/// assert!(registry.listener("seat_reserved", "refund").is_none());
/// assert!(registry.warnings().is_empty());
/// ```
#[derive(Debug)]
pub struct Registry {
    events: Vec<RegisteredEvent>,
    /// (type, index into `events`), sorted by type for binary search.
    by_type: Vec<(TypeId, usize)>,
    problems: Result<(), RegistryError>,
    warnings: Vec<String>,
}

/// What is wrong with the wiring linked into this program; every problem,
/// not only the first. Every dispatch fails with it, so call [`check()`]
/// first thing in `main` to stop at start-up instead.
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// mod billing {
///     #[derive(serde::Serialize, serde::Deserialize, fastevent::Event)]
///     #[event(name = "order.paid")]
///     pub struct Paid {
///         pub order_id: u64,
///     }
/// }
///
/// // Another team picked the same name.
/// #[derive(Serialize, Deserialize, Event)]
/// #[event(name = "order.paid")]
/// struct OrderPaid {
///     order_id: u64,
/// }
///
/// #[derive(Default)]
/// struct Ship;
/// #[listener(on = OrderPaid)]
/// impl Ship {
///     async fn handle(&self, _: &OrderPaid) {}
/// }
///
/// #[derive(Default)]
/// struct Invoice;
/// #[listener(on = billing::Paid)]
/// impl Invoice {
///     async fn handle(&self, _: &billing::Paid) {}
/// }
///
/// let error = fastevent::check().unwrap_err();
/// assert!(error.problems.iter().any(|p| p.starts_with("two events are named `order.paid`")));
/// eprintln!("{error}"); // one line per problem
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fastevent: the event wiring of this program is invalid:\n  - {}", problems.join("\n  - "))]
pub struct RegistryError {
    /// One line per problem.
    pub problems: Vec<String>,
}

/// The registry of this program, built on first use: every event and
/// listener linked in, for tools that list or look them up. Unlike
/// [`check()`], it returns the registry even when the wiring is invalid
/// (see [`Registry::validate`]).
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct BackupFinished {
///     bytes: u64,
/// }
///
/// #[derive(Default)]
/// struct RecordBackup;
/// #[listener(on = BackupFinished)]
/// impl RecordBackup {
///     async fn handle(&self, _: &BackupFinished) {}
/// }
///
/// // What `events` prints, in short.
/// let mut lines = Vec::new();
/// for registered in fastevent::registry::registry().events() {
///     for listener in &registered.listeners {
///         lines.push(format!("{} -> {}", registered.event.name, listener.name));
///     }
/// }
/// assert!(lines.contains(&"backup_finished -> record_backup".to_string()));
/// ```
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

/// Validates the wiring linked into this program: call it first thing in
/// `main` to refuse to start with duplicate names or (off Linux, where the
/// linker does not check) an event without a listener. See
/// [`RegistryError`] for what it finds.
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct PlanUpgraded {
///     account_id: u64,
/// }
///
/// #[derive(Default)]
/// struct UnlockFeatures;
/// #[listener(on = PlanUpgraded)]
/// impl UnlockFeatures {
///     async fn handle(&self, _: &PlanUpgraded) {}
/// }
///
/// fn main() -> Result<(), fastevent::registry::RegistryError> {
///     let registry = fastevent::check()?;
///     assert!(registry.events().iter().any(|e| e.event.name == "plan_upgraded"));
///     Ok(())
/// }
/// ```
pub fn check() -> Result<&'static Registry, RegistryError> {
    registry().validate()
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
        let mut registered = register_events(events, &mut problems);
        let by_type = type_index(&registered);
        attach_listeners(&mut registered, &by_type, listeners, &mut problems);
        check_listener_names(&mut registered, &mut problems);
        check_unwired(
            &registered,
            allowed_unwired,
            link_checked,
            &mut problems,
            &mut warnings,
        );
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

/// One entry per event name, in name order; two events of one name are a
/// problem (the first is kept, so the rest of the checks still run).
fn register_events(
    events: &'static [EventEntry],
    problems: &mut Vec<String>,
) -> Vec<RegisteredEvent> {
    let mut by_name: BTreeMap<&str, Vec<&'static EventEntry>> = BTreeMap::new();
    for event in events {
        by_name.entry(event.name).or_default().push(event);
    }
    let mut registered = Vec::new();
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
    registered
}

/// The registered events' type ids, sorted, each with its index.
fn type_index(registered: &[RegisteredEvent]) -> Vec<(TypeId, usize)> {
    let mut by_type: Vec<(TypeId, usize)> = registered
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.event.type_id)(), i))
        .collect();
    by_type.sort_by_key(|(t, _)| *t);
    by_type
}

/// Each listener under its event; one whose event is not linked in is a
/// problem.
fn attach_listeners(
    registered: &mut [RegisteredEvent],
    by_type: &[(TypeId, usize)],
    listeners: &'static [ListenerEntry],
    problems: &mut Vec<String>,
) {
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
}

/// Sorts each event's listeners by name; two of one name are a problem
/// (jobs name their listener).
fn check_listener_names(registered: &mut [RegisteredEvent], problems: &mut Vec<String>) {
    for event in registered {
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
}

/// Events without a listener: a warning when the link-time check already
/// vouched for the program, a problem when it could not.
fn check_unwired(
    registered: &[RegisteredEvent],
    allowed_unwired: &'static [AllowedUnwired],
    link_checked: bool,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let allowed: Vec<TypeId> = allowed_unwired.iter().map(|a| (a.type_id)()).collect();
    for event in registered {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    // Hand-written impls: these types must stay out of the linked slices,
    // which the whole test binary shares.
    macro_rules! test_event {
        ($ty:ident, $name:literal) => {
            #[derive(Serialize, Deserialize)]
            pub(super) struct $ty;
            impl Event for $ty {
                const NAME: &'static str = $name;
                const VERSION: u32 = 1;
                fn __fastevent_require_listener() {}
            }
        };
    }

    macro_rules! test_listener {
        ($ty:ident on $($event:ident),+) => {
            #[derive(Default)]
            struct $ty;
            $(impl Listener<$event> for $ty {
                type Output = ();
                async fn handle(&self, _: &$event) {}
            })+
        };
    }

    test_event!(Created, "created");
    test_event!(Deleted, "deleted");
    test_event!(Archived, "archived");
    test_listener!(Audit on Created, Deleted);
    test_listener!(Notify on Created);
    test_listener!(Unregistered on Created);

    mod other {
        use super::*;
        // Same bare type name as the outer `Created`, another registered name.
        test_event!(Created, "other.created");
    }

    fn listener<E: Event, L: Listener<E>>(name: &'static str) -> ListenerEntry {
        ListenerEntry::of::<E, L>(name, ListenerOptions::DEFAULT, module_path!())
    }

    fn problems(registry: &Registry) -> Vec<String> {
        registry
            .validate()
            .err()
            .map(|e| e.problems)
            .unwrap_or_default()
    }

    #[test]
    fn sorts_events_and_listeners_by_name_and_finds_them() {
        static EVENTS: [EventEntry; 2] = [
            EventEntry::of::<Deleted>("Deleted", false, "m"),
            EventEntry::of::<Created>("Created", false, "m"),
        ];
        static LISTENERS: LazyEntries = LazyEntries::new(|| {
            vec![
                listener::<Created, Notify>("notify"),
                listener::<Created, Audit>("audit"),
                listener::<Deleted, Audit>("audit"),
            ]
        });
        let registry = Registry::build(&EVENTS, LISTENERS.get(), &[], true);
        assert_eq!(problems(&registry), Vec::<String>::new());
        let names: Vec<_> = registry.events().iter().map(|e| e.event.name).collect();
        assert_eq!(names, ["created", "deleted"]);
        let created: Vec<_> = registry
            .listeners_of::<Created>()
            .iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(created, ["audit", "notify"]);
        assert!(registry.listener("deleted", "audit").is_some());
        assert!(registry.listener("deleted", "notify").is_none());
        assert!(registry.listener("nope", "audit").is_none());
        assert!(registry.is_listening::<Created, Notify>());
        assert!(!registry.is_listening::<Created, Unregistered>());
        assert!(registry.listeners_of::<Archived>().is_empty());
    }

    #[test]
    fn two_events_with_one_name_are_refused_naming_both() {
        #[derive(Serialize, Deserialize)]
        struct AlsoCreated;
        impl Event for AlsoCreated {
            const NAME: &'static str = "created";
            const VERSION: u32 = 1;
            fn __fastevent_require_listener() {}
        }
        static EVENTS: [EventEntry; 2] = [
            EventEntry::of::<Created>("Created", true, "m"),
            EventEntry::of::<AlsoCreated>("AlsoCreated", true, "m"),
        ];
        let registry = Registry::build(&EVENTS, &[], &[], true);
        let problems = problems(&registry);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("two events are named `created`"),
            "{problems:?}"
        );
        assert!(problems[0].contains("Created") && problems[0].contains("AlsoCreated"));
    }

    #[test]
    fn two_listeners_with_one_name_are_refused_naming_both() {
        static EVENTS: [EventEntry; 1] = [EventEntry::of::<Created>("Created", false, "m")];
        static LISTENERS: LazyEntries = LazyEntries::new(|| {
            vec![
                listener::<Created, Notify>("same"),
                listener::<Created, Audit>("same"),
            ]
        });
        let registry = Registry::build(&EVENTS, LISTENERS.get(), &[], true);
        let problems = problems(&registry);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("two listeners of event `created` are named `same`"));
        assert!(problems[0].contains("Notify") && problems[0].contains("Audit"));
    }

    #[test]
    fn an_unwired_event_is_a_warning_where_the_linker_checked_and_an_error_elsewhere() {
        static EVENTS: [EventEntry; 2] = [
            EventEntry::of::<Archived>("Archived", false, "m"),
            EventEntry::of::<Deleted>("Deleted", true, "m"),
        ];
        let linked = Registry::build(&EVENTS, &[], &[], true);
        assert!(linked.validate().is_ok());
        assert_eq!(linked.warnings().len(), 1);
        assert!(linked.warnings()[0].contains("`archived`"));

        let unlinked = Registry::build(&EVENTS, &[], &[], false);
        let problems = problems(&unlinked);
        assert_eq!(
            problems.len(),
            1,
            "allow_unwired exempts `deleted`: {problems:?}"
        );
        assert!(problems[0].contains("event `archived`"));
        assert!(problems[0].contains("#[listener(on = Archived)]"));

        static ALLOWED: [AllowedUnwired; 1] = [AllowedUnwired::of::<Archived>()];
        assert!(
            Registry::build(&EVENTS, &[], &ALLOWED, false)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn events_sharing_a_type_name_must_each_have_a_listener() {
        static EVENTS: [EventEntry; 2] = [
            EventEntry::of::<Created>("Created", false, "a"),
            EventEntry::of::<other::Created>("Created", false, "b"),
        ];
        static LISTENERS: LazyEntries =
            LazyEntries::new(|| vec![listener::<Created, Notify>("notify")]);
        let registry = Registry::build(&EVENTS, LISTENERS.get(), &[], true);
        let problems = problems(&registry);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("event `other.created`"),
            "{problems:?}"
        );
        assert!(
            problems[0].contains("link-time check cannot see it"),
            "{problems:?}"
        );
    }

    #[tokio::test]
    async fn a_listener_runs_from_json_and_refuses_a_bad_payload() {
        let entry: &'static ListenerEntry = Box::leak(Box::new(listener::<Created, Notify>("n")));
        entry.decode_and_run("null").unwrap().await.unwrap();
        let error = entry.decode_and_run("{\"not\": \"unit\"}").err().unwrap();
        assert!(
            error.to_string().contains("expected unit struct"),
            "{error}"
        );
    }

    /// `ListenerEntry::of` is const, but a test's entries are easier to list
    /// in a Vec; leaked once, they are `'static` like linked ones.
    struct LazyEntries(
        OnceLock<&'static [ListenerEntry]>,
        fn() -> Vec<ListenerEntry>,
    );

    impl LazyEntries {
        const fn new(make: fn() -> Vec<ListenerEntry>) -> Self {
            Self(OnceLock::new(), make)
        }

        fn get(&self) -> &'static [ListenerEntry] {
            self.0.get_or_init(|| Vec::leak((self.1)()))
        }
    }
}
