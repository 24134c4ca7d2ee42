//! Validates an event declaration; every mistake is collected into one error.

use super::parse::{EventInput, Shape};
use crate::diagnostics::Errors;
use crate::options::{
    Attribute, OptionSpec, derived_name, keep, registered_name, sort, whole_number,
};
use syn::Ident;

const EVENT: Attribute = Attribute {
    name: "event",
    options: &[
        OptionSpec::value("name", "name = \"...\"", "name = \"chat.created\""),
        OptionSpec::value("version", "version = N", "version = 2"),
        OptionSpec::flag("allow_unwired"),
    ],
};

/// A valid event, ready to expand.
pub(super) struct EventModel {
    pub ident: Ident,
    pub name: String,
    pub version: u32,
    pub allow_unwired: bool,
}

pub(super) fn check(input: EventInput) -> syn::Result<EventModel> {
    let mut errors = Errors::default();
    check_shape(&input, &mut errors);
    let given = sort(&EVENT, &input.options, &mut errors);
    let (mut name, mut version) = (None, None);
    for (key, value) in given.values() {
        match key {
            "name" => keep(
                &mut name,
                registered_name(value, "name", "chat.created"),
                &mut errors,
            ),
            "version" => keep(&mut version, version_number(value), &mut errors),
            _ => unreachable!("`{key}` is not an option of EVENT"),
        }
    }
    if !given.written("name") {
        let derived = fastevent_names::event_name(&input.ident.to_string());
        keep(
            &mut name,
            derived_name(derived, &input.ident, "event"),
            &mut errors,
        );
    }
    errors.finish()?;
    Ok(EventModel {
        name: name.expect("a valid name, given or derived"),
        version: version.unwrap_or(1),
        allow_unwired: given.flag("allow_unwired"),
        ident: input.ident,
    })
}

fn version_number(value: &syn::Expr) -> syn::Result<u32> {
    whole_number(
        value,
        1..=u32::MAX,
        "`version` takes a whole number from 1: #[event(version = 2)]",
    )
}

/// A union cannot be encoded, and a generic or borrowing type cannot be
/// registered once by name.
fn check_shape(input: &EventInput, errors: &mut Errors) {
    if let Shape::Union(span) = input.shape {
        errors.push(syn::Error::new(
            span,
            "an event cannot be a union: serde cannot encode it. Use a struct or an enum",
        ));
    }
    let generics = &input.generics;
    if generics.type_params().next().is_some() || generics.const_params().next().is_some() {
        errors.push(syn::Error::new_spanned(
            generics,
            "an event cannot be generic: it is registered once, by name, and its listeners \
             take one concrete type. Use a concrete type, one per kind of event",
        ));
    } else if generics.lifetimes().next().is_some() {
        errors.push(syn::Error::new_spanned(
            generics,
            "an event cannot borrow data: it is sent to other processes as JSON and outlives \
             the code that dispatches it. Use owned fields (String, not &str) and remove the lifetime",
        ));
    }
}
