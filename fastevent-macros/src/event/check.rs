//! Validates an event declaration; every mistake is collected into one error.

use super::parse::{EventInput, Shape};
use crate::diagnostics::Errors;
use crate::literals::{int_literal, string_literal, valid_name};
use crate::naming;
use crate::suggest;
use syn::Ident;

const KNOWN_OPTIONS: &[&str] = &["name", "version", "allow_unwired"];

/// A valid event, ready to expand.
pub struct EventModel {
    pub ident: Ident,
    pub name: String,
    pub version: u32,
    pub allow_unwired: bool,
}

pub fn check(input: EventInput) -> syn::Result<EventModel> {
    let mut errors = Errors::default();
    if let Shape::Union(span) = input.shape {
        errors.push(syn::Error::new(
            span,
            "an event cannot be a union: serde cannot encode it. Use a struct or an enum",
        ));
    }
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &input.generics,
            "an event cannot be generic or borrow data: it is sent to other processes as JSON \
             and registered once by name. Use a concrete type with owned fields (String, not &str)",
        ));
    }
    let mut name = None;
    let mut version = None;
    let mut allow_unwired = false;
    for option in &input.options {
        let key = option
            .key
            .get_ident()
            .map(Ident::to_string)
            .unwrap_or_default();
        match (key.as_str(), &option.value) {
            ("name", Some(value)) => match string_literal(value) {
                Some(lit) if valid_name(&lit.value()) => set_once(&mut name, lit.value(), &option.key, &mut errors),
                Some(lit) => errors.push(syn::Error::new_spanned(
                    lit,
                    "an event name must be non-empty and use only letters, digits, `_`, `.`, `-` and `:`",
                )),
                None => errors.push(syn::Error::new_spanned(
                    value,
                    "`name` takes a string: #[event(name = \"chat.created\")]",
                )),
            },
            ("version", Some(value)) => match int_literal(value).and_then(|l| l.base10_parse::<u32>().ok()) {
                Some(v) if v >= 1 => set_once(&mut version, v, &option.key, &mut errors),
                _ => errors.push(syn::Error::new_spanned(
                    value,
                    "`version` takes a whole number from 1: #[event(version = 2)]",
                )),
            },
            ("allow_unwired", None) => allow_unwired = true,
            ("allow_unwired", Some(value)) => errors.push(syn::Error::new_spanned(
                value,
                "`allow_unwired` is a flag: write #[event(allow_unwired)]",
            )),
            ("name" | "version", None) => errors.push(syn::Error::new_spanned(
                &option.key,
                format!("`{key}` needs a value: #[event({key} = ...)]"),
            )),
            _ => errors.push(unknown_option(&option.key, &key)),
        }
    }
    errors.finish()?;
    Ok(EventModel {
        name: name.unwrap_or_else(|| naming::event_name(&input.ident.to_string())),
        version: version.unwrap_or(1),
        allow_unwired,
        ident: input.ident,
    })
}

fn unknown_option(key: &syn::Path, text: &str) -> syn::Error {
    let hint = match suggest::closest(text, KNOWN_OPTIONS) {
        Some(near) => format!("; did you mean `{near}`?"),
        None => String::new(),
    };
    syn::Error::new_spanned(
        key,
        format!(
            "unknown event option `{text}`{hint} Known options: name = \"...\", version = N, allow_unwired"
        ),
    )
}

fn set_once<T>(slot: &mut Option<T>, value: T, key: &syn::Path, errors: &mut Errors) {
    if slot.replace(value).is_some() {
        errors.push(syn::Error::new_spanned(key, "this option is given twice"));
    }
}
