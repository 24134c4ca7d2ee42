//! A checked event -> its `Event` impl and its registry entry.

use super::check::EventModel;
use crate::symbols;
use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub(super) fn expand(model: &EventModel) -> TokenStream {
    let EventModel {
        ident,
        name,
        version,
        allow_unwired,
    } = model;
    let bare = ident.to_string();
    // An event that opted out never references the symbol, so it links
    // without listeners; the registry then dispatches it to none.
    let require_listener = if *allow_unwired {
        TokenStream::new()
    } else {
        symbols::reference(&bare)
    };
    quote! {
        #[automatically_derived]
        impl ::fastevent::Event for #ident {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;

            #[doc(hidden)]
            #[inline(never)]
            fn __fastevent_require_listener() {
                #require_listener
            }
        }

        const _: () = {
            #[::fastevent::__private::linkme::distributed_slice(::fastevent::__private::EVENTS)]
            #[linkme(crate = ::fastevent::__private::linkme)]
            static FASTEVENT_EVENT: ::fastevent::__private::EventEntry =
                ::fastevent::__private::EventEntry::of::<#ident>(
                    #bare,
                    #allow_unwired,
                    ::core::module_path!(),
                );
        };
    }
}

/// The `Event` impl emitted next to an error in the declaration: no
/// registration and no link-time check, only what makes the type an event
/// where it is used. Its bound stands for `Event`'s supertraits, written so
/// that rustc checks it only where the impl is used: a type that cannot be
/// an event at all (a union) adds no error here.
pub(super) fn fallback(input: &DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let name = fastevent_names::event_name(&ident.to_string());
    let mut generics = input.generics.clone();
    let (_, ty_generics, _) = input.generics.split_for_impl();
    generics
        .make_where_clause()
        .predicates
        .push(syn::parse_quote! {
            for<'fastevent> #ident #ty_generics: ::fastevent::__private::EventBounds<'fastevent>
        });
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::fastevent::Event for #ident #ty_generics #where_clause {
            const NAME: &'static str = #name;
            const VERSION: u32 = 1;

            #[doc(hidden)]
            fn __fastevent_require_listener() {}
        }
    }
}

pub(super) fn allow_unwired(path: &syn::Path) -> TokenStream {
    let Some(last) = path.segments.last() else {
        return syn::Error::new_spanned(path, "expected an event type").to_compile_error();
    };
    let bare = last.ident.to_string();
    let weak = symbols::weak_definition(&bare);
    quote! {
        const _: () = {
            // `of` requires an event: a path that names none is reported
            // once, there, with the message of `Event`.
            #[::fastevent::__private::linkme::distributed_slice(::fastevent::__private::ALLOWED_UNWIRED)]
            #[linkme(crate = ::fastevent::__private::linkme)]
            static FASTEVENT_ALLOWED: ::fastevent::__private::AllowedUnwired =
                ::fastevent::__private::AllowedUnwired::of::<#path>();

            #weak
        };
    }
}
