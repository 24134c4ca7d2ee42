//! A checked event -> its `Event` impl and its registry entry.

use super::check::EventModel;
use crate::symbols;
use proc_macro2::TokenStream;
use quote::quote;

pub fn expand(model: &EventModel) -> TokenStream {
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

pub fn allow_unwired(path: &syn::Path) -> TokenStream {
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
