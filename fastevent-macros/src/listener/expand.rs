//! A checked listener -> the `Listener<E>` impl holding the user's `handle`,
//! an inherent impl with the user's other items, and the registry entry.

use super::check::{Backoff, ListenerModel, Options};
use crate::symbols;
use proc_macro2::TokenStream;
use quote::quote;
use syn::ImplItem;

pub fn expand(model: &ListenerModel) -> TokenStream {
    let ListenerModel {
        event,
        name,
        options,
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
    let bare_event = event
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let weak = symbols::weak_definition(&bare_event);
    let options = expand_options(options);
    quote! {
        #inherent

        const _: () = {
            // A non-event `on = X` must give one error, on `X`. The bound
            // `X: Event` of `Listener<X>` is therefore assumed here (rustc
            // does not check a higher-ranked bound where it is written) and
            // proven once, by the registration below: its `E: Event` and
            // the `L: Listener<E>` that this `where` clause adds both come
            // down to `X: Event`, which rustc reports once, at the user's `X`.
            #(#attrs)*
            impl ::fastevent::Listener<#event> for #self_ty
            where
                for<'fastevent> #event: ::fastevent::__private::IsEvent<'fastevent>,
            {
                type Output = #output;
                #(#handle)*
            }

            #[::fastevent::__private::linkme::distributed_slice(::fastevent::__private::LISTENERS)]
            #[linkme(crate = ::fastevent::__private::linkme)]
            static FASTEVENT_LISTENER: ::fastevent::__private::ListenerEntry =
                ::fastevent::__private::ListenerEntry::of::<#event, #self_ty>(
                    #name,
                    #options,
                    ::core::module_path!(),
                );

            #weak
        };
    }
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
