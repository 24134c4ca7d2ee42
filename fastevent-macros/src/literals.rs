//! Reading option values written as literals, shared by both macros.

use syn::{Expr, ExprLit, Lit};

/// Registered names (events, listeners, queues) travel in job envelopes and
/// broker queue names, so they stay within a conservative alphabet.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))
}

pub fn string_literal(expr: &Expr) -> Option<&syn::LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s),
        _ => None,
    }
}

pub fn int_literal(expr: &Expr) -> Option<&syn::LitInt> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => Some(i),
        _ => None,
    }
}
