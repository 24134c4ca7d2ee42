//! Procedural macros of fastevent. Users depend on `fastevent`, which
//! re-exports these; the generated code names only `::fastevent` paths.
//!
//! Each macro is split into `parse` (syn into a small AST of our own),
//! `check` (every mistake collected into one `syn::Error`, spanned on the
//! user's tokens) and `expand` (quote). Both attributes read their options
//! through `options`, so they are written, parsed and refused alike.
//!
//! On error, what the rest of the crate relies on is still emitted next to
//! the error, so one mistake gives one error: `derive(Event)` adds an
//! `Event` impl (without registration), and `#[listener]` keeps the user's
//! methods, as its `Listener` impl when only an option is wrong.

#![warn(missing_docs)]
// Public is what users and driver authors reach; the rest is `pub(crate)`.
#![warn(unreachable_pub)]

mod diagnostics;
mod duration;
mod event;
mod listener;
mod options;
mod suggest;
mod symbols;

use proc_macro::TokenStream;

/// The derive is implemented in the `fastevent-macros` crate; applications
/// use it as `fastevent::Event`.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    event::derive(input.into()).into()
}

/// The attribute is implemented in the `fastevent-macros` crate;
/// applications use it as `fastevent::listener`.
#[proc_macro_attribute]
pub fn listener(args: TokenStream, item: TokenStream) -> TokenStream {
    listener::attribute(args.into(), item.into()).into()
}

/// The macro is implemented in the `fastevent-macros` crate; applications
/// use it as `fastevent::allow_unwired!`.
#[proc_macro]
pub fn allow_unwired(input: TokenStream) -> TokenStream {
    event::allow_unwired(input.into()).into()
}
