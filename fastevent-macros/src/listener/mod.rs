//! `#[listener(on = Event, ...)]` on an `impl` block.

mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    let checked = parse::parse(args, item.clone())
        .map_err(check::Rejected::from)
        .and_then(check::check);
    match checked {
        Ok(model) => expand::expand(&model),
        Err(check::Rejected { error, fallback }) => {
            let error = error.to_compile_error();
            // Keep the user's methods, so the IDE and the rest of the crate
            // still see them and their bodies are checked as usual: as the
            // listener's impls when only an option is wrong, else as written.
            let kept = match fallback {
                Some(model) => expand::impls(&model),
                None => item,
            };
            quote! { #kept #error }
        }
    }
}
