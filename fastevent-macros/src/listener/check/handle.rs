//! The `impl` block a listener is written as, and the signature of its
//! `handle`.

use crate::diagnostics::Errors;
use quote::ToTokens;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, ReturnType, Type};

/// The impl must be a plain, non-generic inherent impl of a named type.
pub(super) fn check_impl_header(item: &ItemImpl, errors: &mut Errors) -> Option<String> {
    let self_ident = match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        other => {
            errors.push(syn::Error::new_spanned(
                other,
                "a listener is a named type, like `impl GenerateChatTitle { ... }`",
            ));
            None
        }
    };
    let shown = self_ident.as_deref().unwrap_or("MyListener");
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            format!(
                "`#[listener]` goes on an inherent impl, `impl {shown} {{ async fn handle(...) }}`, not on a trait impl"
            ),
        ));
    }
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            "a listener cannot be generic: it is registered once, by name, and built with Default",
        ));
    }
    self_ident
}

pub(super) fn find_handle(item: &ItemImpl) -> Option<&ImplItemFn> {
    item.items.iter().find_map(|i| match i {
        ImplItem::Fn(f) if f.sig.ident == "handle" => Some(f),
        _ => None,
    })
}

/// `handle` must be `async fn handle(&self, event: &E) -> R`.
pub(super) fn check_handle(
    item: &ItemImpl,
    handle: Option<&ImplItemFn>,
    event: &str,
    errors: &mut Errors,
) -> Option<Type> {
    let Some(handle) = handle else {
        errors.push(syn::Error::new_spanned(
            &item.self_ty,
            format!(
                "this listener has no `handle`: add `async fn handle(&self, event: &{event}) -> Result<(), YourError>`"
            ),
        ));
        return None;
    };
    let before = errors.count();
    check_signature(handle, event, errors);
    let output = match &handle.sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            // A non-async `handle` is told to be async; that message covers
            // this one too.
            if matches!(**ty, Type::ImplTrait(_)) && handle.sig.asyncness.is_some() {
                errors.push(syn::Error::new_spanned(
                    ty,
                    "`handle` is an `async fn` returning `()` or `Result<(), E>`, not `impl Trait`",
                ));
            }
            (**ty).clone()
        }
    };
    (errors.count() == before).then_some(output)
}

fn check_signature(handle: &ImplItemFn, event: &str, errors: &mut Errors) {
    let sig = &handle.sig;
    let wanted = format!("`async fn handle(&self, event: &{event})`");
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("`handle` must be async: {wanted}"),
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!("`handle` cannot be generic: {wanted}"),
        ));
    }
    let mut inputs = sig.inputs.iter().peekable();
    match inputs.peek() {
        Some(FnArg::Receiver(r)) => {
            // `&self`, or `self: &Self`; not `self`, `&mut self`, `self: Box<Self>`.
            if !matches!(&*r.ty, Type::Reference(r) if r.mutability.is_none()) {
                errors.push(syn::Error::new_spanned(
                    r,
                    format!(
                        "`handle` takes `&self`: {wanted}; a new listener is built with Default for each event"
                    ),
                ));
            }
            inputs.next();
        }
        // The event comes first: reported once, as the missing `&self`, and
        // then checked as the event.
        Some(FnArg::Typed(first)) => errors.push(syn::Error::new_spanned(
            first,
            format!("`handle` takes `&self` before the event: {wanted}"),
        )),
        None => {}
    }
    match inputs.next() {
        Some(FnArg::Typed(arg)) => match &*arg.ty {
            Type::Reference(r) if r.mutability.is_none() => {}
            other => errors.push(syn::Error::new_spanned(
                other,
                format!("`handle` takes the event by reference: `event: &{event}`"),
            )),
        },
        Some(FnArg::Receiver(_)) => {}
        None => errors.push(syn::Error::new_spanned(
            &sig.ident,
            format!("`handle` takes the event: {wanted}"),
        )),
    }
    for extra in inputs {
        errors.push(syn::Error::new_spanned(
            extra,
            format!(
                "`handle` takes only `&self` and the event: {wanted}; reach shared resources with fastevent::state::<T>()"
            ),
        ));
    }
}

/// A path as the user wrote it, without the spaces of a token stream.
pub(super) fn path_text(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// The event type `handle` takes, when it is plain enough to suggest in
/// `on = ...`.
pub(super) fn event_taken(handle: Option<&ImplItemFn>) -> Option<String> {
    handle?.sig.inputs.iter().find_map(|arg| match arg {
        FnArg::Typed(arg) => match &*arg.ty {
            Type::Reference(r) => Some(r.elem.to_token_stream().to_string().replace(' ', "")),
            _ => None,
        },
        FnArg::Receiver(_) => None,
    })
}
