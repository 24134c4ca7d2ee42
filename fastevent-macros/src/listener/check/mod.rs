//! Validates a listener: its options and the shape of its `handle`.

mod handle;
mod options;

use super::parse::ListenerInput;
use crate::diagnostics::Errors;
use crate::options::{Given, derived_name, keep, sort};
use syn::{ItemImpl, Type};

pub(super) use options::{Backoff, Options};

/// A valid listener, ready to expand.
pub(super) struct ListenerModel {
    pub event: syn::Path,
    pub name: String,
    pub options: Options,
    pub item: ItemImpl,
    /// The return type of `handle`; `()` when it has none.
    pub output: Type,
}

/// A listener refused, with what can still be emitted in its place.
pub(super) struct Rejected {
    pub error: syn::Error,
    /// The listener as written, when only its options are wrong: its
    /// `Listener` impl is emitted without registration, so that code using
    /// it as a listener reports nothing more. `None` when the impl block or
    /// `handle` is wrong too; the block is then emitted as written.
    pub fallback: Option<Box<ListenerModel>>,
}

impl From<syn::Error> for Rejected {
    fn from(error: syn::Error) -> Self {
        Rejected {
            error,
            fallback: None,
        }
    }
}

pub(super) fn check(input: ListenerInput) -> Result<ListenerModel, Rejected> {
    let mut errors = Errors::default();
    let given = sort(&options::LISTENER, &input.options, &mut errors);
    let options::Read {
        event,
        name,
        options: job_options,
    } = options::read(&given, &mut errors);
    let item = input.item;
    let handle = handle::find_handle(&item);
    if !given.written("on") {
        // Only for a listener without any `on`: a wrong one was reported.
        errors.push(missing_event(input.attribute_span, handle));
    }
    let before_shape = errors.count();
    let event_text = event
        .as_ref()
        .map(handle::path_text)
        .unwrap_or_else(|| "YourEvent".to_string());
    let self_ident = handle::check_impl_header(&item, &mut errors);
    let output = handle::check_handle(&item, handle, &event_text, &mut errors);
    let shape_is_right = errors.count() == before_shape;
    let name = name.or_else(|| derive_name(&given, self_ident, &item, &mut errors));
    let model = match (event, output) {
        (Some(event), Some(output)) if shape_is_right => Some(ListenerModel {
            event,
            // Only missing next to an error, where nothing is registered.
            name: name.unwrap_or_default(),
            options: job_options,
            output,
            item,
        }),
        _ => None,
    };
    match (errors.finish(), model) {
        (Ok(()), Some(model)) => Ok(model),
        (Err(error), fallback) => Err(Rejected {
            error,
            fallback: fallback.map(Box::new),
        }),
        (Ok(()), None) => unreachable!("a listener without its event or output type was reported"),
    }
}

/// The default name, the snake case of the type's name, when no `name`
/// was written and the type is a named one.
fn derive_name(
    given: &Given,
    self_ident: Option<String>,
    item: &ItemImpl,
    errors: &mut Errors,
) -> Option<String> {
    if given.written("name") {
        return None;
    }
    let derived = fastevent_names::snake_case(&self_ident?);
    let mut name = None;
    keep(
        &mut name,
        derived_name(derived, &item.self_ty, "listener"),
        errors,
    );
    name
}

/// `#[listener]` without `on`, suggesting the type `handle` takes.
fn missing_event(
    attribute_span: proc_macro2::Span,
    handle: Option<&syn::ImplItemFn>,
) -> syn::Error {
    let suggestion = handle::event_taken(handle).unwrap_or_else(|| "NewChatEvent".to_string());
    syn::Error::new(
        attribute_span,
        format!("`#[listener]` needs the event it listens to: #[listener(on = {suggestion})]"),
    )
}
