//! `make event` and `make listener`: names, then folder, then plan, each
//! checked before anything is written, then the files, then the hints.

use super::MakeError;
use super::destination::resolve;
use super::hints;
use super::names::{ItemName, item_name};
use super::templates;
use super::write::Plan;
use std::path::Path;

/// Writes an event named `name` into `path` (relative to `cwd`); returns
/// the lines to print.
pub(super) fn event(cwd: &Path, name: &str, path: &Path) -> Result<Vec<String>, MakeError> {
    let event = checked(name, "event name")?;
    templates::check_event(&event).map_err(|why| invalid("event name", &why))?;
    let destination = resolve(cwd, path)?;
    let text = templates::event(&event);
    let mut lines = Plan::new(&destination, &event, text, templates::EVENTS)?.apply()?;
    lines.extend(hints::crate_root(cwd, &destination));
    Ok(lines)
}

/// Writes a listener named `name` of the event named `event` into `path`.
pub(super) fn listener(
    cwd: &Path,
    name: &str,
    event: &str,
    path: &Path,
) -> Result<Vec<String>, MakeError> {
    let listener = checked(name, "listener name")?;
    let event_name = checked(event, "--event name")?;
    templates::check_listener(&listener, &event_name).map_err(|why| invalid("name", &why))?;
    let destination = resolve(cwd, path)?;
    let text = templates::listener(&listener, &event_name);
    let mut lines = Plan::new(&destination, &listener, text, templates::LISTENERS)?.apply()?;
    lines.extend(hints::crate_root(cwd, &destination));
    lines.extend(hints::event_module(cwd, &event_name));
    Ok(lines)
}

fn checked(input: &str, what: &str) -> Result<ItemName, MakeError> {
    item_name(input).map_err(|why| invalid(what, &why.to_string()))
}

fn invalid(what: &str, why: &str) -> MakeError {
    MakeError(format!("invalid {what}: {why}"))
}
