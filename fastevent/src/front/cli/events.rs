//! `events`: the wiring linked into this program, like `artisan
//! event:list`: each event with its listeners and their options. Problems
//! of the wiring (two events with one name...) are printed after it, and
//! make the command fail.

use super::format::{Table, duration};
use super::{CliError, CommandResult, print_json};
use crate::listener::{Backoff, ListenerOptions};
use crate::registry::{RegisteredEvent, registry};
use std::process::ExitCode;

/// Flags of `events`: every event of this program with its listeners and
/// their options.
///
/// ```
/// use clap::Parser;
/// use fastevent::cli::EventsArgs;
///
/// #[derive(Parser)]
/// struct Events {
///     #[command(flatten)]
///     flags: EventsArgs,
/// }
///
/// assert!(!Events::parse_from(["events"]).flags.json);
/// ```
#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    /// Print JSON: [{"name", "type", "version", "listeners": [{"name", "type", "queue", "tries", "backoff", "timeout_ms", "hard_timeout_ms"}]}]
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct EventView {
    name: &'static str,
    #[serde(rename = "type")]
    type_path: &'static str,
    version: u32,
    allow_unwired: bool,
    listeners: Vec<ListenerView>,
}

/// A listener's options; `null` means "the configured default"
/// (`FASTEVENT_TRIES`, `SOFT_TIMEOUT_S`, ...), except for the queue, which
/// is always named.
#[derive(serde::Serialize)]
struct ListenerView {
    name: &'static str,
    #[serde(rename = "type")]
    type_path: &'static str,
    queue: &'static str,
    tries: Option<u32>,
    backoff: BackoffView,
    timeout_ms: Option<u64>,
    hard_timeout_ms: Option<u64>,
}

#[derive(serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum BackoffView {
    Default,
    Exponential { first_ms: u64 },
    Schedule { delays_ms: Vec<u64> },
}

fn view(event: &RegisteredEvent) -> EventView {
    EventView {
        name: event.event.name,
        type_path: event.event.type_path(),
        version: event.event.version,
        allow_unwired: event.event.allow_unwired,
        listeners: event
            .listeners
            .iter()
            .map(|l| listener_view(l.name, l.type_path(), &l.options))
            .collect(),
    }
}

fn listener_view(
    name: &'static str,
    type_path: &'static str,
    options: &ListenerOptions,
) -> ListenerView {
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    ListenerView {
        name,
        type_path,
        queue: options.queue.unwrap_or("default"),
        tries: options.tries,
        backoff: match options.backoff {
            Backoff::Default => BackoffView::Default,
            Backoff::Exponential { first } => BackoffView::Exponential {
                first_ms: ms(first),
            },
            Backoff::Schedule(delays) => BackoffView::Schedule {
                delays_ms: delays.iter().copied().map(ms).collect(),
            },
        },
        timeout_ms: options.timeout.map(ms),
        hard_timeout_ms: options.hard_timeout.map(ms),
    }
}

fn describe(options: &ListenerOptions) -> Vec<String> {
    let or_default = |value: Option<String>| value.unwrap_or_else(|| "default".into());
    vec![
        options.queue.unwrap_or("default").to_string(),
        or_default(options.tries.map(|t| t.to_string())),
        match options.backoff {
            Backoff::Default => "default".into(),
            Backoff::Exponential { first } => format!("{} doubling", duration(first)),
            Backoff::Schedule(delays) => delays
                .iter()
                .map(|d| duration(*d))
                .collect::<Vec<_>>()
                .join(", "),
        },
        or_default(options.timeout.map(duration)),
        or_default(options.hard_timeout.map(duration)),
    ]
}

impl EventsArgs {
    pub(super) fn run(self) -> CommandResult {
        let registry = registry();
        let events: Vec<EventView> = registry.events().iter().map(view).collect();
        if self.json {
            print_json(&events)?;
        } else if events.is_empty() {
            println!("No events are linked into this program.");
        } else {
            let mut table = Table::new(&[
                "EVENT / LISTENER",
                "QUEUE",
                "TRIES",
                "BACKOFF",
                "TIMEOUT",
                "HARD TIMEOUT",
            ]);
            for event in registry.events() {
                table.row(vec![format!(
                    "{} ({}, v{})",
                    event.event.name,
                    event.event.type_path(),
                    event.event.version
                )]);
                if event.listeners.is_empty() {
                    table.row(vec!["  (no listener)".into()]);
                }
                for listener in &event.listeners {
                    let mut row =
                        vec![format!("  -> {} ({})", listener.name, listener.type_path())];
                    row.extend(describe(&listener.options));
                    table.row(row);
                }
            }
            print!("{}", table.render());
        }
        for warning in registry.warnings() {
            eprintln!("warning: {warning}");
        }
        registry
            .validate()
            .map_err(|error| CliError::new(error.to_string()))?;
        Ok(ExitCode::SUCCESS)
    }
}
