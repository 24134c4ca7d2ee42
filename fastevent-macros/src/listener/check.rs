//! Validates a listener: its options and the shape of its `handle`.

use super::parse::{ListenerInput, RawOption};
use crate::diagnostics::Errors;
use crate::duration;
use crate::literals::{int_literal, string_literal, valid_name};
use crate::naming;
use crate::suggest;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, ImplItem, ImplItemFn, ItemImpl, ReturnType, Type};

const KNOWN_OPTIONS: &[&str] = &[
    "on",
    "name",
    "queue",
    "tries",
    "backoff",
    "timeout",
    "hard_timeout",
];

/// A valid listener, ready to expand.
pub struct ListenerModel {
    pub event: syn::Path,
    pub name: String,
    pub options: Options,
    pub item: ItemImpl,
    /// The return type of `handle`; `()` when it has none.
    pub output: Type,
}

/// Per-listener options; `None` means "the worker's default".
#[derive(Default)]
pub struct Options {
    pub queue: Option<String>,
    pub tries: Option<u32>,
    pub backoff: Backoff,
    pub timeout_ms: Option<u64>,
    pub hard_timeout_ms: Option<u64>,
}

#[derive(Default)]
pub enum Backoff {
    #[default]
    Default,
    /// First delay of an exponential schedule.
    Exponential(u64),
    /// Explicit delays, the last one repeating.
    Schedule(Vec<u64>),
}

pub fn check(input: ListenerInput) -> syn::Result<ListenerModel> {
    let mut errors = Errors::default();
    let mut event = None;
    let mut name = None;
    let mut options = Options::default();
    let mut seen: Vec<String> = Vec::new();

    for RawOption { key, value } in &input.options {
        let text = key.get_ident().map(|i| i.to_string()).unwrap_or_default();
        if KNOWN_OPTIONS.contains(&text.as_str()) {
            if seen.contains(&text) {
                errors.push(syn::Error::new_spanned(
                    key,
                    format!("`{text}` is given twice"),
                ));
                continue;
            }
            seen.push(text.clone());
        }
        let Some(value) = value else {
            errors.push(missing_value(key, &text));
            continue;
        };
        match text.as_str() {
            "on" => match value {
                Expr::Path(p) if p.qself.is_none() => event = Some(p.path.clone()),
                other => errors.push(syn::Error::new_spanned(
                    other,
                    "`on` takes the event type: #[listener(on = NewChatEvent)]",
                )),
            },
            "name" => match string_literal(value) {
                Some(lit) if valid_name(&lit.value()) => name = Some(lit.value()),
                _ => errors.push(syn::Error::new_spanned(
                    value,
                    "`name` takes a string of letters, digits, `_`, `.`, `-` or `:`, like name = \"titles.generate\"",
                )),
            },
            "queue" => match string_literal(value) {
                Some(lit) if valid_name(&lit.value()) => options.queue = Some(lit.value()),
                _ => errors.push(syn::Error::new_spanned(
                    value,
                    "`queue` takes a queue name as a string of letters, digits, `_`, `.`, `-` or `:`, like queue = \"emails\"",
                )),
            },
            "tries" => match int_literal(value).and_then(|l| l.base10_parse::<u32>().ok()) {
                Some(n) if (1..=1000).contains(&n) => options.tries = Some(n),
                _ => errors.push(syn::Error::new_spanned(
                    value,
                    "`tries` takes the number of attempts, a whole number from 1 to 1000, like tries = 3",
                )),
            },
            "backoff" => match backoff(value) {
                Ok(b) => options.backoff = b,
                Err(e) => errors.push(e),
            },
            "timeout" => match positive_duration(value, "timeout") {
                Ok(ms) => options.timeout_ms = Some(ms),
                Err(e) => errors.push(e),
            },
            "hard_timeout" => match positive_duration(value, "hard_timeout") {
                Ok(ms) => options.hard_timeout_ms = Some(ms),
                Err(e) => errors.push(e),
            },
            _ => errors.push(unknown_option(key, &text)),
        }
    }
    if let (Some(soft), Some(hard)) = (options.timeout_ms, options.hard_timeout_ms)
        && hard < soft
    {
        let span = input
            .options
            .iter()
            .find(|o| o.key.is_ident("hard_timeout"))
            .map(|o| o.key.span())
            .unwrap_or(input.attribute_span);
        errors.push(syn::Error::new(
            span,
            "`hard_timeout` must be at least `timeout`: the soft timeout cancels the listener first, the hard one kills its worker",
        ));
    }
    if event.is_none() {
        errors.push(syn::Error::new(
            input.attribute_span,
            "missing the event: #[listener(on = NewChatEvent)]",
        ));
    }

    let item = input.item;
    let self_ident = check_impl_header(&item, &mut errors);
    let output = check_handle(&item, &mut errors);
    errors.finish()?;
    let self_ident = self_ident.unwrap_or_default();
    Ok(ListenerModel {
        event: event.expect("checked above"),
        name: name.unwrap_or_else(|| naming::snake_case(&self_ident)),
        options,
        output: output.expect("checked above"),
        item,
    })
}

/// The impl must be a plain, non-generic inherent impl of a named type.
fn check_impl_header(item: &ItemImpl, errors: &mut Errors) -> Option<String> {
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            "#[listener] goes on an inherent impl (`impl MyListener { ... }`), not on a trait impl",
        ));
    }
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            "a listener cannot be generic: it is registered once, by name, and built with Default",
        ));
    }
    match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        other => {
            errors.push(syn::Error::new_spanned(
                other,
                "a listener is a named type, like `impl GenerateChatTitle { ... }`",
            ));
            None
        }
    }
}

/// `handle` must be `async fn handle(&self, event: &E) -> R`.
fn check_handle(item: &ItemImpl, errors: &mut Errors) -> Option<Type> {
    let handle = item.items.iter().find_map(|i| match i {
        ImplItem::Fn(f) if f.sig.ident == "handle" => Some(f),
        _ => None,
    });
    let Some(handle) = handle else {
        errors.push(syn::Error::new_spanned(
            &item.self_ty,
            "this listener has no `handle`: add `async fn handle(&self, event: &YourEvent) -> Result<(), YourError>`",
        ));
        return None;
    };
    let before = errors.count();
    check_signature(handle, errors);
    let output = match &handle.sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            if matches!(**ty, Type::ImplTrait(_)) {
                errors.push(syn::Error::new_spanned(
                    ty,
                    "`handle` is an `async fn` returning `()` or `Result<(), E>`, not `impl Trait`",
                ));
            }
            (**ty).clone()
        }
    };
    (errors.count() == before).then_some(output)
}

fn check_signature(handle: &ImplItemFn, errors: &mut Errors) {
    let sig = &handle.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "`handle` must be async: `async fn handle(&self, event: &YourEvent)`",
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "`handle` cannot be generic: it takes `&self` and `&YourEvent`",
        ));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
        Some(other) => errors.push(syn::Error::new_spanned(
            other,
            "`handle` takes `&self` first: a new listener is built with Default for each event",
        )),
        None => errors.push(syn::Error::new_spanned(
            &sig.ident,
            "`handle` takes `&self` and the event: `async fn handle(&self, event: &YourEvent)`",
        )),
    }
    match inputs.next() {
        Some(FnArg::Typed(arg)) => match &*arg.ty {
            Type::Reference(r) if r.mutability.is_none() => {}
            other => errors.push(syn::Error::new_spanned(
                other,
                "`handle` takes the event by shared reference: `event: &YourEvent`",
            )),
        },
        Some(FnArg::Receiver(_)) => {}
        None => errors.push(syn::Error::new_spanned(
            &sig.ident,
            "`handle` takes the event after `&self`: `async fn handle(&self, event: &YourEvent)`",
        )),
    }
    for extra in inputs {
        errors.push(syn::Error::new_spanned(
            extra,
            "`handle` takes only `&self` and the event; reach shared resources with fastevent::state::<T>()",
        ));
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
        Expr::Array(_) => Err(syn::Error::new_spanned(value, HELP)),
        other => duration_of(other, HELP).map(Backoff::Exponential),
    }
}

fn positive_duration(value: &Expr, key: &str) -> syn::Result<u64> {
    let help = format!("`{key}` takes a duration, like {key} = \"30s\" (units: ms, s, m, h)");
    match duration_of(value, &help)? {
        0 => Err(syn::Error::new_spanned(
            value,
            format!("`{key}` must be longer than zero"),
        )),
        ms => Ok(ms),
    }
}

fn duration_of(value: &Expr, help: &str) -> syn::Result<u64> {
    let lit = string_literal(value).ok_or_else(|| syn::Error::new_spanned(value, help))?;
    duration::parse_millis(&lit.value()).map_err(|why| syn::Error::new_spanned(lit, why))
}

fn missing_value(key: &syn::Path, text: &str) -> syn::Error {
    if KNOWN_OPTIONS.contains(&text) {
        syn::Error::new_spanned(key, format!("`{text}` needs a value: {text} = ..."))
    } else {
        unknown_option(key, text)
    }
}

fn unknown_option(key: &syn::Path, text: &str) -> syn::Error {
    let hint = match suggest::closest(text, KNOWN_OPTIONS) {
        Some(near) => format!("; did you mean `{near}`?"),
        None => String::new(),
    };
    syn::Error::new_spanned(
        key,
        format!(
            "unknown listener option `{text}`{hint} Known options: on, name, queue, tries, backoff, timeout, hard_timeout"
        ),
    )
}
