//! `#[derive(Event)]` and `allow_unwired!`.

mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    match parse::parse(&input).and_then(check::check) {
        Ok(model) => expand::expand(&model),
        // The item stays in place (a derive only adds to it). With the
        // error comes an `Event` impl, so that the code using the type as an
        // event reports nothing more: one mistake, one error.
        Err(error) => {
            let fallback = expand::fallback(&input);
            let error = error.to_compile_error();
            quote::quote! { #error #fallback }
        }
    }
}

pub(crate) fn allow_unwired(input: TokenStream) -> TokenStream {
    match syn::parse2::<syn::Path>(input) {
        Ok(path) => expand::allow_unwired(&path),
        Err(error) => syn::Error::new(
            error.span(),
            "expected an event type: `fastevent::allow_unwired!(NewChatEvent);`",
        )
        .to_compile_error(),
    }
}
