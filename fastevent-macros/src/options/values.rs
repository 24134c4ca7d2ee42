//! Reading the values both macros take: strings, registered names and
//! whole numbers, each refused at the user's literal with how to write it.

use crate::diagnostics::Errors;
use fastevent_names::{NAME_ALPHABET, NameProblem, check_name};
use syn::{Expr, ExprLit, Lit, LitInt, LitStr};

pub fn string_literal(expr: &Expr) -> Option<&LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s),
        _ => None,
    }
}

fn int_literal(expr: &Expr) -> Option<&LitInt> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => Some(i),
        _ => None,
    }
}

/// A registered name (of an event, a listener, a queue): a string that
/// follows the rule the runtime checks too. `example` is a valid one.
pub fn registered_name(value: &Expr, key: &str, example: &str) -> syn::Result<String> {
    let Some(lit) = string_literal(value) else {
        return Err(syn::Error::new_spanned(
            value,
            format!("`{key}` takes a string of {NAME_ALPHABET}, like {key} = \"{example}\""),
        ));
    };
    let name = lit.value();
    check_name(&name).map_err(|problem| {
        let message = match problem {
            NameProblem::Empty => {
                format!("`{key}` is empty: write a name, like {key} = \"{example}\"")
            }
            NameProblem::Character(_) => format!("`{key}` {problem}, like {key} = \"{example}\""),
            NameProblem::TooLong(_) => format!("`{key}` {problem}"),
        };
        syn::Error::new_spanned(lit, message)
    })?;
    Ok(name)
}

/// A whole number in `range`; `help` says what the option takes.
/// Keeps a value read, or reports why it could not be.
pub fn keep<T>(slot: &mut Option<T>, read: syn::Result<T>, errors: &mut Errors) {
    match read {
        Ok(value) => *slot = Some(value),
        Err(error) => errors.push(error),
    }
}

pub fn whole_number(
    value: &Expr,
    range: std::ops::RangeInclusive<u32>,
    help: &str,
) -> syn::Result<u32> {
    int_literal(value)
        .and_then(|lit| lit.base10_parse::<u32>().ok())
        .filter(|n| range.contains(n))
        .ok_or_else(|| syn::Error::new_spanned(value, help))
}
