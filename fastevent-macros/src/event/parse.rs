//! syn input -> the raw shape of an event declaration.

use syn::punctuated::Punctuated;
use syn::{Data, DeriveInput, Expr, Ident, Meta, Token};

pub enum Shape {
    Struct,
    Enum,
    Union(proc_macro2::Span),
}

pub struct EventInput {
    pub ident: Ident,
    pub shape: Shape,
    pub generics: syn::Generics,
    /// `key` or `key = value` entries of every `#[event(...)]`, in order.
    pub options: Vec<RawOption>,
}

pub struct RawOption {
    pub key: syn::Path,
    pub value: Option<Expr>,
}

pub fn parse(input: &DeriveInput) -> syn::Result<EventInput> {
    let shape = match &input.data {
        Data::Struct(_) => Shape::Struct,
        Data::Enum(_) => Shape::Enum,
        Data::Union(u) => Shape::Union(u.union_token.span),
    };
    let mut options = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("event")) {
        let metas = attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)?;
        for meta in metas {
            options.push(match meta {
                Meta::Path(key) => RawOption { key, value: None },
                Meta::NameValue(nv) => RawOption {
                    key: nv.path,
                    value: Some(nv.value),
                },
                Meta::List(list) => {
                    return Err(syn::Error::new_spanned(
                        list,
                        "expected `key = value` or a flag in #[event(...)]",
                    ));
                }
            });
        }
    }
    Ok(EventInput {
        ident: input.ident.clone(),
        shape,
        generics: input.generics.clone(),
        options,
    })
}
