//! Validates a listener: its options and the shape of its `handle`.

use super::parse::{ListenerInput, RawOption};
use crate::diagnostics::Errors;
use crate::duration;
use crate::literals::{int_literal, string_literal, valid_name};
use crate::naming;
use crate::suggest;
use quote::ToTokens;
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
    // Whether `on` was written at all, valid or not: "missing the event" is
    // only for a listener without one.
    let on_written = input.options.iter().any(|o| o.key.is_ident("on"));

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
                other => {
                    // `on = "NewChatEvent"`: suggest the type the string names.
                    let shown = string_literal(other)
                        .map(|lit| lit.value())
                        .filter(|text| syn::parse_str::<syn::Path>(text).is_ok())
                        .unwrap_or_else(|| "NewChatEvent".to_string());
                    errors.push(syn::Error::new_spanned(
                        other,
                        format!("`on` takes the event type, not a string or an expression: #[listener(on = {shown})]"),
                    ));
                }
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
        let value = input
            .options
            .iter()
            .find(|o| o.key.is_ident("hard_timeout"))
            .and_then(|o| o.value.as_ref());
        let message = format!(
            "`hard_timeout` ({}) is shorter than `timeout` ({}): the soft timeout cancels the listener first, \
             the hard one then kills its worker, so `hard_timeout` must be at least `timeout`",
            duration::display(hard),
            duration::display(soft),
        );
        errors.push(match value {
            Some(value) => syn::Error::new_spanned(value, message),
            None => syn::Error::new(input.attribute_span, message),
        });
    }

    let item = input.item;
    let handle = find_handle(&item);
    if !on_written {
        // The event type `handle` takes, when it is plain enough to suggest.
        let suggestion = handle
            .and_then(|h| {
                h.sig.inputs.iter().find_map(|arg| match arg {
                    FnArg::Typed(arg) => match &*arg.ty {
                        Type::Reference(r) => Some(r.elem.to_token_stream().to_string()),
                        _ => None,
                    },
                    FnArg::Receiver(_) => None,
                })
            })
            .map(|ty| ty.replace(' ', ""))
            .unwrap_or_else(|| "NewChatEvent".to_string());
        errors.push(syn::Error::new(
            input.attribute_span,
            format!("`#[listener]` needs the event it listens to: #[listener(on = {suggestion})]"),
        ));
    }
    let event_text = event
        .as_ref()
        .map(path_text)
        .unwrap_or_else(|| "YourEvent".to_string());
    let self_ident = check_impl_header(&item, &mut errors);
    let output = check_handle(&item, handle, &event_text, &mut errors);
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
    let self_ident = match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        other => {
            errors.push(syn::Error::new_spanned(
                other,
                "a listener is a named type, like `impl GenerateChatTitle { ... }`",
            ));
            None
        }
    };
    let shown = self_ident.as_deref().unwrap_or("MyListener");
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            format!(
                "`#[listener]` goes on an inherent impl, `impl {shown} {{ async fn handle(...) }}`, not on a trait impl"
            ),
        ));
    }
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            "a listener cannot be generic: it is registered once, by name, and built with Default",
        ));
    }
    self_ident
}

fn find_handle(item: &ItemImpl) -> Option<&ImplItemFn> {
    item.items.iter().find_map(|i| match i {
        ImplItem::Fn(f) if f.sig.ident == "handle" => Some(f),
        _ => None,
    })
}

/// `handle` must be `async fn handle(&self, event: &E) -> R`.
fn check_handle(
    item: &ItemImpl,
    handle: Option<&ImplItemFn>,
    event: &str,
    errors: &mut Errors,
) -> Option<Type> {
    let Some(handle) = handle else {
        errors.push(syn::Error::new_spanned(
            &item.self_ty,
            format!(
                "this listener has no `handle`: add `async fn handle(&self, event: &{event}) -> Result<(), YourError>`"
            ),
        ));
        return None;
    };
    let before = errors.count();
    check_signature(handle, event, errors);
    let output = match &handle.sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            // A non-async `handle` is told to be async; that message covers
            // this one too.
            if matches!(**ty, Type::ImplTrait(_)) && handle.sig.asyncness.is_some() {
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

fn check_signature(handle: &ImplItemFn, event: &str, errors: &mut Errors) {
    let sig = &handle.sig;
    let wanted = format!("`async fn handle(&self, event: &{event})`");
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("`handle` must be async: {wanted}"),
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!("`handle` cannot be generic: {wanted}"),
        ));
    }
    let mut inputs = sig.inputs.iter().peekable();
    match inputs.peek() {
        Some(FnArg::Receiver(r)) => {
            // `&self`, or `self: &Self`; not `self`, `&mut self`, `self: Box<Self>`.
            if !matches!(&*r.ty, Type::Reference(r) if r.mutability.is_none()) {
                errors.push(syn::Error::new_spanned(
                    r,
                    format!(
                        "`handle` takes `&self`: {wanted}; a new listener is built with Default for each event"
                    ),
                ));
            }
            inputs.next();
        }
        // The event comes first: reported once, as the missing `&self`, and
        // then checked as the event.
        Some(FnArg::Typed(first)) => errors.push(syn::Error::new_spanned(
            first,
            format!("`handle` takes `&self` before the event: {wanted}"),
        )),
        None => {}
    }
    match inputs.next() {
        Some(FnArg::Typed(arg)) => match &*arg.ty {
            Type::Reference(r) if r.mutability.is_none() => {}
            other => errors.push(syn::Error::new_spanned(
                other,
                format!("`handle` takes the event by reference: `event: &{event}`"),
            )),
        },
        Some(FnArg::Receiver(_)) => {}
        None => errors.push(syn::Error::new_spanned(
            &sig.ident,
            format!("`handle` takes the event: {wanted}"),
        )),
    }
    for extra in inputs {
        errors.push(syn::Error::new_spanned(
            extra,
            format!(
                "`handle` takes only `&self` and the event: {wanted}; reach shared resources with fastevent::state::<T>()"
            ),
        ));
    }
}

/// A path as the user wrote it, without the spaces of a token stream.
fn path_text(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
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
