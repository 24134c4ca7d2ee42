//! `#[derive(Event)]` and `allow_unwired!`.

mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;

pub fn derive(input: TokenStream) -> TokenStream {
    let parsed = match syn::parse2::<syn::DeriveInput>(input).and_then(|i| parse::parse(&i)) {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    match check::check(parsed) {
        Ok(model) => expand::expand(&model),
        // A derive cannot return the item (it stays in place), only the error.
        Err(error) => error.to_compile_error(),
    }
}

pub fn allow_unwired(input: TokenStream) -> TokenStream {
    match syn::parse2::<syn::Path>(input) {
        Ok(path) => expand::allow_unwired(&path),
        Err(error) => syn::Error::new(
            error.span(),
            "expected an event type: `fastevent::allow_unwired!(NewChatEvent);`",
        )
        .to_compile_error(),
    }
}
