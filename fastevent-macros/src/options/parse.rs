//! Attribute arguments -> the options as written: `key`, `key = value`, and
//! `key(...)` kept too, so the check can say how to write it.

use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Meta, MetaList, Token};

/// One entry of the attribute, in the order written.
pub(crate) struct RawOption {
    pub key: syn::Path,
    pub value: RawValue,
}

pub(crate) enum RawValue {
    /// `key` alone.
    Flag,
    /// `key = value`.
    Value(Expr),
    /// `key(...)`: not a form any option takes.
    List(MetaList),
}

impl RawOption {
    /// The key as written: `tries`, or `a::b` for a path.
    pub(crate) fn key_text(&self) -> String {
        let segments: Vec<String> = self
            .key
            .segments
            .iter()
            .map(|segment| segment.ident.to_string())
            .collect();
        segments.join("::")
    }
}

/// The arguments of an attribute macro: `on = NewChatEvent, tries = 3`.
pub(crate) fn parse_options(args: TokenStream) -> syn::Result<Vec<RawOption>> {
    options.parse2(args)
}

/// The arguments of a helper attribute: `#[event(name = "x")]`.
pub(crate) fn parse_attribute_args(attr: &syn::Attribute) -> syn::Result<Vec<RawOption>> {
    attr.parse_args_with(options)
}

fn options(input: ParseStream) -> syn::Result<Vec<RawOption>> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated(input)?;
    Ok(metas.into_iter().map(raw_option).collect())
}

fn raw_option(meta: Meta) -> RawOption {
    match meta {
        Meta::Path(key) => RawOption {
            key,
            value: RawValue::Flag,
        },
        Meta::NameValue(pair) => RawOption {
            key: pair.path,
            value: RawValue::Value(pair.value),
        },
        Meta::List(list) => RawOption {
            key: list.path.clone(),
            value: RawValue::List(list),
        },
    }
}
