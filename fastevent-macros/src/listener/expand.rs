//! A checked listener -> the `Listener<E>` impl holding the user's `handle`,
//! an inherent impl with the user's other items, and the registry entry.

use super::check::{Backoff, ListenerModel, Options};
use crate::symbols;
use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ImplItem;

pub(super) fn expand(model: &ListenerModel) -> TokenStream {
    let (inherent, listener_impl) = impl_blocks(model);
    let registration = registration(model);
    quote! {
        #inherent

        const _: () = {
            #listener_impl
            #registration
        };
    }
}

/// The user's methods as `expand` places them, without registering the
/// listener: emitted next to an error in the options.
pub(super) fn impls(model: &ListenerModel) -> TokenStream {
    let (inherent, listener_impl) = impl_blocks(model);
    quote! {
        #inherent

        const _: () = {
            #listener_impl
        };
    }
}

/// The inherent impl of the user's other items, and the `Listener<E>` impl
/// holding `handle`.
fn impl_blocks(model: &ListenerModel) -> (TokenStream, TokenStream) {
    let ListenerModel {
        event,
        item,
        output,
        ..
    } = model;
    let self_ty = &item.self_ty;
    let attrs = &item.attrs;
    let (handle, others): (Vec<&ImplItem>, Vec<&ImplItem>) = item
        .items
        .iter()
        .partition(|i| matches!(i, ImplItem::Fn(f) if f.sig.ident == "handle"));
    // One listener type may listen to several events, each with its own
    // `handle`: as trait impls (`Listener<A>`, `Listener<B>`) they do not
    // collide, where two inherent `handle`s would.
    let inherent = if others.is_empty() {
        TokenStream::new()
    } else {
        quote! { #(#attrs)* impl #self_ty { #(#others)* } }
    };
    let listener_impl = quote! {
        // Both requirements on the user's types are stated as bounds rustc
        // checks only where the impl is used, then proven once, by the
        // registration, at the user's tokens: see `__private`.
        #(#attrs)*
        impl ::fastevent::Listener<#event> for #self_ty
        where
            for<'fastevent> #event: ::fastevent::__private::IsEvent<'fastevent>,
            for<'fastevent> #output: ::fastevent::__private::IsOutcome<'fastevent>,
        {
            type Output = #output;
            #(#handle)*
        }
    };
    (inherent, listener_impl)
}

/// The registry entry, and the weak symbol that tells the linker the
/// event has a listener.
fn registration(model: &ListenerModel) -> TokenStream {
    let ListenerModel {
        event,
        name,
        options,
        item,
        output,
    } = model;
    let self_ty = &item.self_ty;
    let bare_event = event
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let weak = symbols::weak_definition(&bare_event);
    let options = expand_options(options);
    // `L` itself when `handle` returns a listener outcome, spanned on the
    // return type so a wrong one is reported there. It is written outside
    // the impl, where `Self` means nothing: the return type names the type.
    let (first, last) = first_and_last_span(output);
    let output_outside = replace_self(output.to_token_stream(), self_ty);
    let listener = quote_spanned! {first=>
        ::fastevent::__private::ListenerOf<#self_ty, #output_outside, _
    };
    let listener = quote_spanned! {last=> #listener >};
    quote! {
        #[::fastevent::__private::linkme::distributed_slice(::fastevent::__private::LISTENERS)]
        #[linkme(crate = ::fastevent::__private::linkme)]
        static FASTEVENT_LISTENER: ::fastevent::__private::ListenerEntry =
            ::fastevent::__private::ListenerEntry::of::<#event, #listener>(
                #name,
                #options,
                ::core::module_path!(),
            );

        #weak
    }
}

/// The spans of the first and the last token of `tokens`: a span covering
/// several tokens cannot be built on stable Rust, but rustc joins the spans
/// of the first and the last token of a type it reports.
fn first_and_last_span(tokens: &impl ToTokens) -> (Span, Span) {
    let mut spans = tokens.to_token_stream().into_iter().map(|t| t.span());
    let first = spans.next().unwrap_or_else(Span::call_site);
    (first, spans.last().unwrap_or(first))
}

/// `tokens` with every `Self` replaced by `self_ty`.
fn replace_self(tokens: TokenStream, self_ty: &syn::Type) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) if ident == "Self" => {
                let span = ident.span();
                quote_spanned!(span=> #self_ty)
            }
            TokenTree::Group(group) => {
                let mut inner =
                    Group::new(group.delimiter(), replace_self(group.stream(), self_ty));
                inner.set_span(group.span());
                TokenTree::Group(inner).into()
            }
            other => other.into(),
        })
        .collect()
}

fn expand_options(options: &Options) -> TokenStream {
    let some_str = |v: &Option<String>| match v {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    };
    let some_num = |v: Option<u64>| match v {
        Some(n) => quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#n))),
        None => quote!(::core::option::Option::None),
    };
    let queue = some_str(&options.queue);
    let tries = match options.tries {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let timeout = some_num(options.timeout_ms);
    let hard_timeout = some_num(options.hard_timeout_ms);
    let backoff = match &options.backoff {
        Backoff::Default => quote!(::fastevent::Backoff::Default),
        Backoff::Exponential(ms) => {
            quote!(::fastevent::Backoff::Exponential { first: ::core::time::Duration::from_millis(#ms) })
        }
        Backoff::Schedule(delays) => quote! {
            ::fastevent::Backoff::Schedule(&[#(::core::time::Duration::from_millis(#delays)),*])
        },
    };
    quote! {
        ::fastevent::ListenerOptions {
            queue: #queue,
            tries: #tries,
            backoff: #backoff,
            timeout: #timeout,
            hard_timeout: #hard_timeout,
        }
    }
}
