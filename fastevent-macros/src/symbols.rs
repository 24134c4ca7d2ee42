//! The link-time check that every dispatched event has a listener.
//!
//! The dispatch path of an event references an undefined symbol whose name is
//! a sentence naming the event; every listener of that event defines the
//! symbol *weak*. Any number of listeners link (weak definitions merge, and
//! `.ifndef` keeps two listeners in one crate from colliding); zero listeners
//! leave the reference undefined, and the linker prints the sentence as its
//! error. Only ELF is covered (Linux); elsewhere the registry refuses to start
//! instead. A missing listener is found by the build rather than when the
//! event is first dispatched in production.

use proc_macro2::TokenStream;
use quote::quote;

/// The symbol for an event, keyed by the bare type name: the listener side
/// only sees the path written in `on = ...`, never the event's registered name.
pub(crate) fn unwired_symbol(bare_type_name: &str) -> String {
    format!(
        "fastevent: event {bare_type_name} is dispatched, but no #[listener(on = {bare_type_name})] is linked into this program"
    )
}

/// The reference, placed in the event's `#[inline(never)]` dispatch hook.
/// Skipped in the defining crate's own unit tests (`cfg(test)` is evaluated
/// in the user's crate), where listeners usually live elsewhere.
pub(crate) fn reference(bare_type_name: &str) -> TokenStream {
    let symbol = unwired_symbol(bare_type_name);
    quote! {
        #[cfg(all(target_os = "linux", not(test)))]
        {
            // No unsafe code is involved in using this declaration: the static
            // is declared `safe`, and only its address is taken, never its
            // contents, so its type and value do not matter. The declaration
            // exists to leave an undefined symbol for the linker to resolve.
            unsafe extern "C" {
                #[link_name = #symbol]
                safe static FASTEVENT_LISTENER_SENTINEL: u8;
            }
            ::core::hint::black_box(&raw const FASTEVENT_LISTENER_SENTINEL);
        }
    }
}

/// A weak definition of the symbol: emitted by every listener of the event
/// and by `allow_unwired!`. `global_asm!` is refused directly inside
/// `const _`, so it sits in a module there.
pub(crate) fn weak_definition(bare_type_name: &str) -> TokenStream {
    let symbol = unwired_symbol(bare_type_name);
    let asm = format!(
        ".ifndef \"{symbol}\"\n.weak \"{symbol}\"\n.pushsection .rodata.fastevent_wired,\"a\"\n\"{symbol}\":\n.byte 0\n.popsection\n.endif"
    );
    quote! {
        #[cfg(target_os = "linux")]
        mod __fastevent_wired {
            ::core::arch::global_asm!(#asm);
        }
    }
}
