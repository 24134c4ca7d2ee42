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
            ("allow_unwired", None) if allow_unwired => errors.push(syn::Error::new_spanned(
                &option.key,
                "`allow_unwired` is given twice",
            )),
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
        let key_text = key.get_ident().map(Ident::to_string).unwrap_or_default();
        errors.push(syn::Error::new_spanned(
            key,
            format!("`{key_text}` is given twice"),
        ));
    }
}
