//! syn input -> the raw shape of an event declaration.

use crate::options::{RawOption, parse_attribute_args};
use syn::{Data, DeriveInput, Ident};

pub(super) enum Shape {
    Struct,
    Enum,
    Union(proc_macro2::Span),
}

pub(super) struct EventInput {
    pub ident: Ident,
    pub shape: Shape,
    pub generics: syn::Generics,
    /// The entries of every `#[event(...)]`, in order.
    pub options: Vec<RawOption>,
}

pub(super) fn parse(input: &DeriveInput) -> syn::Result<EventInput> {
    let shape = match &input.data {
        Data::Struct(_) => Shape::Struct,
        Data::Enum(_) => Shape::Enum,
        Data::Union(u) => Shape::Union(u.union_token.span),
    };
    let mut options = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("event")) {
        options.extend(parse_attribute_args(attr)?);
    }
    Ok(EventInput {
        ident: input.ident.clone(),
        shape,
        generics: input.generics.clone(),
        options,
    })
}
