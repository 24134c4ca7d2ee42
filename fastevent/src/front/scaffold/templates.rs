//! The text of the generated files, and the names that text already uses
//! (a new type with one of them would not compile).

use super::module_file::Listing;
use super::names::ItemName;
use fastevent_names::{check_name, event_name, snake_case};

/// Where a listener imports its event from: `fastevent make event` writes
/// events there by default.
pub(super) const EVENTS_MODULE: &str = "crate::events";

/// `src/events/mod.rs`: events are named wherever they are dispatched,
/// so each is re-exported (`events::NewChatEvent`).
pub(super) const EVENTS: Listing = Listing {
    header: "//! The application's events: one module per event, re-exported here.\n",
    reexport: true,
};

/// `src/listeners/mod.rs`: no re-exports. The application never names a
/// listener (`#[listener]` wires it), so in a binary crate a `pub use` of
/// one is an unused import, a warning in every generated crate.
pub(super) const LISTENERS: Listing = Listing {
    header: "//! The application's listeners, one module each. `#[listener(on = ...)]`\n\
             //! wires them: nothing else needs to list them.\n",
    reexport: false,
};

/// An event with no fields yet, and a doc comment saying what goes there.
pub(super) fn event(event: &ItemName) -> String {
    let ty = &event.type_name;
    let registered = event_name(ty);
    format!(
        r#"//! The `{ty}` event.

use fastevent::Event;
use serde::{{Deserialize, Serialize}};

/// TODO: say which domain action happened, e.g. "a user started a new chat".
///
/// Add the fields its listeners need, e.g. `pub chat_id: u64`. They travel
/// to the listeners as JSON, so they are owned (`String`, not `&str`), and
/// an event names one action: split a complex flow into several events.
/// Dispatch it after the data it is about is stored: `.dispatch().await?`
/// queues one job per listener, `.dispatch_now().await?` runs them all and
/// waits. Its registered name (in jobs and logs) is `{registered}`.
///
/// Listen to it with `fastevent make listener NAME --event {ty}`.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct {ty} {{}}
"#
    )
}

/// A listener of `event` whose `handle` does nothing yet.
pub(super) fn listener(listener: &ItemName, event: &ItemName) -> String {
    let ty = &listener.type_name;
    let (event_ty, event_module) = (&event.type_name, &event.module);
    format!(
        r#"//! The `{ty}` listener of `{event_ty}`.

use {EVENTS_MODULE}::{event_module}::{event_ty};
use fastevent::{{BoxError, listener}};

/// TODO: say what this listener does when a `{event_ty}` is dispatched.
///
/// A new value is built with `Default` for every event, so it keeps no
/// state between events: reach shared resources (a database pool, a
/// client) with `fastevent::state::<T>()?`, provided at start-up. Options
/// go in the attribute, e.g. `#[listener(on = {event_ty}, timeout = "30s", tries = 3)]`.
#[derive(Default)]
pub struct {ty};

#[listener(on = {event_ty})]
impl {ty} {{
    async fn handle(&self, event: &{event_ty}) -> Result<(), BoxError> {{
        // TODO: the work, from the event's fields. An error is retried up
        // to `tries` times, then the job goes to the failed-job store.
        let _ = event;
        Ok(())
    }}
}}
"#
    )
}

/// Names the event file imports; an event named so would clash with them.
const EVENT_FILE_USES: &[&str] = &["Event", "Serialize", "Deserialize"];

/// Names the listener file uses besides the listener and its event.
const LISTENER_FILE_USES: &[&str] = &["BoxError", "Default", "Ok", "Result"];

/// Refuses an event name the event file already uses.
pub(super) fn check_event(event: &ItemName) -> Result<(), String> {
    refuse_used(&event.type_name, EVENT_FILE_USES, "the event's file")?;
    registered_name_valid(&event.type_name, &event_name(&event.type_name))
}

/// Refuses names the listener file already uses, and a listener named as
/// its event.
pub(super) fn check_listener(listener: &ItemName, event: &ItemName) -> Result<(), String> {
    if listener.type_name == event.type_name {
        return Err(format!(
            "the listener and its event are both named `{}`; name the listener after what it does",
            listener.type_name
        ));
    }
    for name in [listener, event] {
        refuse_used(&name.type_name, LISTENER_FILE_USES, "the listener's file")?;
    }
    registered_name_valid(&listener.type_name, &snake_case(&listener.type_name))
}

/// The name the macros derive from the type must follow the rule of
/// registered names, or they refuse the file written.
fn registered_name_valid(type_name: &str, registered: &str) -> Result<(), String> {
    check_name(registered).map_err(|problem| {
        format!("`{type_name}` would be registered as a name that {problem}; choose a shorter name")
    })
}

fn refuse_used(type_name: &str, used: &[&str], file: &str) -> Result<(), String> {
    if used.contains(&type_name) {
        return Err(format!(
            "`{type_name}` is a name {file} already uses ({}); choose another name",
            used.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(type_name: &str, module: &str) -> ItemName {
        ItemName {
            type_name: type_name.into(),
            module: module.into(),
        }
    }

    #[test]
    fn an_event_derives_everything_and_has_no_fields() {
        let text = event(&name("NewChatEvent", "new_chat_event"));
        assert!(text.contains(
            "#[derive(Debug, Clone, Serialize, Deserialize, Event)]\npub struct NewChatEvent {}\n"
        ));
        assert!(text.contains("registered name (in jobs and logs) is `new_chat`"));
    }

    #[test]
    fn a_listener_imports_its_event_by_module_path() {
        let text = listener(
            &name("GenerateChatTitle", "generate_chat_title"),
            &name("NewChatEvent", "new_chat_event"),
        );
        assert!(text.contains("use crate::events::new_chat_event::NewChatEvent;\n"));
        assert!(text.contains("#[listener(on = NewChatEvent)]\nimpl GenerateChatTitle {\n"));
        assert!(text.contains(
            "    async fn handle(&self, event: &NewChatEvent) -> Result<(), BoxError> {\n"
        ));
    }

    #[test]
    fn names_the_files_use_are_refused() {
        let chat = name("NewChatEvent", "new_chat_event");
        assert!(check_event(&chat).is_ok());
        assert!(
            check_event(&name("Event", "event"))
                .unwrap_err()
                .contains("`Event` is a name")
        );
        let title = name("GenerateChatTitle", "generate_chat_title");
        assert!(check_listener(&title, &chat).is_ok());
        assert!(
            check_listener(&chat, &chat)
                .unwrap_err()
                .contains("both named")
        );
        assert!(check_listener(&name("Ok", "ok"), &chat).is_err());
        assert!(check_listener(&title, &name("Result", "result")).is_err());
    }

    #[test]
    fn a_registered_name_over_the_limit_is_refused() {
        // The macros would refuse the file written: its event's or
        // listener's name, derived from the type, is too long.
        let long = format!("A{}", "b".repeat(200));
        let error = check_event(&name(&format!("{long}Event"), "x")).unwrap_err();
        assert!(error.contains("201 characters long"), "{error}");
        assert!(check_event(&name(&format!("{}Event", &long[1..]), "x")).is_ok());
        let chat = name("NewChatEvent", "new_chat_event");
        let error = check_listener(&name(&long, "x"), &chat).unwrap_err();
        assert!(error.contains("201 characters long"), "{error}");
    }
}
