//! The listener's options: `on`, `name`, and how its jobs run.

use crate::diagnostics::Errors;
use crate::duration;
use crate::options::{
    Attribute, Given, OptionSpec, keep, registered_name, string_literal, whole_number,
};
use syn::Expr;

pub(super) const LISTENER: Attribute = Attribute {
    name: "listener",
    options: &[
        OptionSpec::value("on", "on = Event", "on = NewChatEvent"),
        OptionSpec::value("name", "name = \"...\"", "name = \"titles.generate\""),
        OptionSpec::value("queue", "queue = \"...\"", "queue = \"emails\""),
        OptionSpec::value("tries", "tries = N", "tries = 3"),
        OptionSpec::value("backoff", "backoff = \"...\"", "backoff = \"2s\""),
        OptionSpec::value("timeout", "timeout = \"...\"", "timeout = \"30s\""),
        OptionSpec::value(
            "hard_timeout",
            "hard_timeout = \"...\"",
            "hard_timeout = \"1m\"",
        ),
    ],
};

/// Per-listener options; `None` means "the worker's default".
#[derive(Default)]
pub(crate) struct Options {
    pub queue: Option<String>,
    pub tries: Option<u32>,
    pub backoff: Backoff,
    pub timeout_ms: Option<u64>,
    pub hard_timeout_ms: Option<u64>,
}

#[derive(Default)]
pub(crate) enum Backoff {
    #[default]
    Default,
    /// First delay of an exponential schedule.
    Exponential(u64),
    /// Explicit delays, the last one repeating.
    Schedule(Vec<u64>),
}

/// What the attribute says, every option that was given valid.
#[derive(Default)]
pub(super) struct Read {
    pub event: Option<syn::Path>,
    pub name: Option<String>,
    pub options: Options,
}

/// Reads the options in the order written, so that their errors come in
/// that order too.
pub(super) fn read(given: &Given, errors: &mut Errors) -> Read {
    let mut read = Read::default();
    let options = &mut read.options;
    for (key, value) in given.values() {
        match key {
            "on" => keep(&mut read.event, event(value), errors),
            "name" => keep(
                &mut read.name,
                registered_name(value, "name", "titles.generate"),
                errors,
            ),
            "queue" => keep(
                &mut options.queue,
                registered_name(value, "queue", "emails"),
                errors,
            ),
            "tries" => keep(&mut options.tries, tries(value), errors),
            "backoff" => match backoff(value) {
                Ok(backoff) => options.backoff = backoff,
                Err(error) => errors.push(error),
            },
            "timeout" => keep(
                &mut options.timeout_ms,
                positive_duration(value, "timeout"),
                errors,
            ),
            "hard_timeout" => keep(
                &mut options.hard_timeout_ms,
                positive_duration(value, "hard_timeout"),
                errors,
            ),
            _ => unreachable!("`{key}` is not an option of LISTENER"),
        }
    }
    check_timeouts(&read.options, given, errors);
    read
}

/// `on = NewChatEvent`: a path to the event type.
fn event(value: &Expr) -> syn::Result<syn::Path> {
    match value {
        Expr::Path(p) if p.qself.is_none() => Ok(p.path.clone()),
        other => {
            // `on = "NewChatEvent"`: suggest the type the string names.
            let shown = string_literal(other)
                .map(|lit| lit.value())
                .filter(|text| syn::parse_str::<syn::Path>(text).is_ok())
                .unwrap_or_else(|| "NewChatEvent".to_string());
            Err(syn::Error::new_spanned(
                other,
                format!(
                    "`on` takes the event type, not a string or an expression: #[listener(on = {shown})]"
                ),
            ))
        }
    }
}

fn tries(value: &Expr) -> syn::Result<u32> {
    whole_number(
        value,
        1..=1000,
        "`tries` takes the number of attempts, a whole number from 1 to 1000, like tries = 3",
    )
}

/// The hard timeout kills the worker, so it cannot come before the soft
/// one, which gives the listener its chance to stop.
fn check_timeouts(options: &Options, given: &Given, errors: &mut Errors) {
    let (Some(soft), Some(hard)) = (options.timeout_ms, options.hard_timeout_ms) else {
        return;
    };
    if hard >= soft {
        return;
    }
    let message = format!(
        "`hard_timeout` ({}) is shorter than `timeout` ({}): the soft timeout cancels the listener first, \
         the hard one then kills its worker, so `hard_timeout` must be at least `timeout`",
        duration::display(hard),
        duration::display(soft),
    );
    if let Some(value) = given.value("hard_timeout") {
        errors.push(syn::Error::new_spanned(value, message));
    }
}

fn backoff(value: &Expr) -> syn::Result<Backoff> {
    const HELP: &str = "`backoff` takes the first retry delay, like backoff = \"2s\" (doubling with jitter), or a list of delays, like backoff = [\"1s\", \"10s\", \"1m\"]";
    match value {
        Expr::Array(array) if !array.elems.is_empty() => array
            .elems
            .iter()
            .map(|e| duration_of(e, HELP))
            .collect::<syn::Result<Vec<_>>>()
            .map(Backoff::Schedule),
        Expr::Array(_) => Err(syn::Error::new_spanned(
            value,
            "`backoff = []` lists no delay: list at least one, like backoff = [\"1s\", \"10s\", \"1m\"] \
             (the last one repeats), or give the first delay, like backoff = \"2s\" (doubling with jitter)",
        )),
        other => duration_of(other, HELP).map(Backoff::Exponential),
    }
}

fn positive_duration(value: &Expr, key: &str) -> syn::Result<u64> {
    let help = format!("`{key}` takes a duration, like {key} = \"30s\" (units: ms, s, m, h)");
    match duration_of(value, &help)? {
        0 => Err(syn::Error::new_spanned(
            value,
            format!(
                "`{key}` must be longer than zero; leave `{key}` out to use the worker's default"
            ),
        )),
        ms => Ok(ms),
    }
}

fn duration_of(value: &Expr, help: &str) -> syn::Result<u64> {
    let lit = string_literal(value).ok_or_else(|| syn::Error::new_spanned(value, help))?;
    duration::parse_millis(&lit.value()).map_err(|why| syn::Error::new_spanned(lit, why))
}
