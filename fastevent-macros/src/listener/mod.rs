//! `#[listener(on = Event, ...)]` on an `impl` block.

mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;
use quote::quote;

pub fn attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    let result = parse::parse(args, item.clone())
        .and_then(check::check)
        .map(|model| expand::expand(&model));
    match result {
        Ok(tokens) => tokens,
        // Keep the user's impl so the IDE and the rest of the crate still see
        // its methods; only the error is added.
        Err(error) => {
            let error = error.to_compile_error();
            quote! { #item #error }
        }
    }
}
