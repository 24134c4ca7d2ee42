//! syn input -> the raw shape of a listener: its attribute options and impl.

use crate::options::{RawOption, parse_options};
use proc_macro2::TokenStream;
use syn::{Item, ItemImpl};

pub(super) struct ListenerInput {
    /// The entries of the attribute, in order.
    pub options: Vec<RawOption>,
    /// The span of the whole attribute, for "missing `on`".
    pub attribute_span: proc_macro2::Span,
    pub item: ItemImpl,
}

pub(super) fn parse(args: TokenStream, item: TokenStream) -> syn::Result<ListenerInput> {
    let attribute_span = proc_macro2::Span::call_site();
    let options = parse_options(args)?;
    let item = match syn::parse2::<Item>(item)? {
        Item::Impl(item) => item,
        other => return Err(not_an_impl(&other, attribute_span)),
    };
    Ok(ListenerInput {
        options,
        attribute_span,
        item,
    })
}

/// `#[listener]` on a function, a struct, ...: point at what it is on.
fn not_an_impl(item: &Item, attribute_span: proc_macro2::Span) -> syn::Error {
    const WANTED: &str = "`#[listener(on = YourEvent)] impl YourListener { async fn handle(&self, event: &YourEvent) { ... } }`";
    match item {
        Item::Fn(f) => syn::Error::new_spanned(
            &f.sig,
            format!(
                "`#[listener]` goes on the `impl` block of a listener type, not on a function: {WANTED}, \
                 where `YourListener` is a type that implements Default"
            ),
        ),
        Item::Struct(syn::ItemStruct { ident, .. }) | Item::Enum(syn::ItemEnum { ident, .. }) => {
            syn::Error::new_spanned(
                ident,
                format!(
                    "`#[listener]` goes on the `impl` block of `{ident}`, not on its declaration: \
                     `#[listener(on = YourEvent)] impl {ident} {{ async fn handle(&self, event: &YourEvent) {{ ... }} }}`"
                ),
            )
        }
        _ => syn::Error::new(
            attribute_span,
            format!("`#[listener]` goes on the `impl` block of a listener type: {WANTED}"),
        ),
    }
}
