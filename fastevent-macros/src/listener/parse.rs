//! syn input -> the raw shape of a listener: its attribute options and impl.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ItemImpl, Meta, Token};

pub struct ListenerInput {
    /// `key = value` entries of the attribute, in order.
    pub options: Vec<RawOption>,
    /// The span of the whole attribute, for "missing `on`".
    pub attribute_span: proc_macro2::Span,
    pub item: ItemImpl,
}

pub struct RawOption {
    pub key: syn::Path,
    pub value: Option<Expr>,
}

pub fn parse(args: TokenStream, item: TokenStream) -> syn::Result<ListenerInput> {
    let attribute_span = proc_macro2::Span::call_site();
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut options = Vec::new();
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
                    "expected `key = value`, like #[listener(on = NewChatEvent, tries = 3)]",
                ));
            }
        });
    }
    let item = syn::parse2::<ItemImpl>(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[listener] goes on an `impl YourListener { async fn handle(...) }` block",
        )
    })?;
    Ok(ListenerInput {
        options,
        attribute_span,
        item,
    })
}
