//! Reading the values both macros take: strings, registered names and
//! whole numbers, each refused at the user's literal with how to write it.

use crate::diagnostics::Errors;
use fastevent_names::{NAME_ALPHABET, NameProblem, check_name};
use syn::{Expr, ExprLit, Lit, LitInt, LitStr};

pub(crate) fn string_literal(expr: &Expr) -> Option<&LitStr> {
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
pub(crate) fn registered_name(value: &Expr, key: &str, example: &str) -> syn::Result<String> {
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

/// The name derived from a type (`derived`) when no `name = ...` was
/// written: it follows the same rule, reported at the type.
pub(crate) fn derived_name(
    derived: String,
    type_tokens: &impl quote::ToTokens,
    attribute: &str,
) -> syn::Result<String> {
    match check_name(&derived) {
        Ok(()) => Ok(derived),
        Err(problem) => Err(syn::Error::new_spanned(
            type_tokens,
            format!(
                "the name derived from this type {problem}; name it with #[{attribute}(name = \"...\")]"
            ),
        )),
    }
}

/// Keeps a value read, or reports why it could not be.
pub(crate) fn keep<T>(slot: &mut Option<T>, read: syn::Result<T>, errors: &mut Errors) {
    match read {
        Ok(value) => *slot = Some(value),
        Err(error) => errors.push(error),
    }
}

/// A whole number in `range`; `help` says what the option takes.
pub(crate) fn whole_number(
    value: &Expr,
    range: std::ops::RangeInclusive<u32>,
    help: &str,
) -> syn::Result<u32> {
    int_literal(value)
        .and_then(|lit| lit.base10_parse::<u32>().ok())
        .filter(|n| range.contains(n))
        .ok_or_else(|| syn::Error::new_spanned(value, help))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_error(value: Expr) -> String {
        registered_name(&value, "queue", "emails")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn registered_names_follow_the_shared_rule() {
        let valid: Expr = syn::parse_quote!("billing.emails");
        assert_eq!(
            registered_name(&valid, "queue", "emails").unwrap(),
            "billing.emails"
        );
        assert_eq!(
            name_error(syn::parse_quote!(5)),
            "`queue` takes a string of letters, digits, `_`, `.`, `-` and `:`, like queue = \"emails\""
        );
        assert_eq!(
            name_error(syn::parse_quote!("")),
            "`queue` is empty: write a name, like queue = \"emails\""
        );
        let long = "q".repeat(201);
        assert_eq!(
            name_error(syn::parse_quote!(#long)),
            "`queue` is 201 characters long: the limit is 200"
        );
    }

    #[test]
    fn whole_numbers_stay_in_their_range() {
        let help = "a number from 1 to 3";
        assert_eq!(whole_number(&syn::parse_quote!(3), 1..=3, help).unwrap(), 3);
        for value in [
            syn::parse_quote!(0),
            syn::parse_quote!(4),
            syn::parse_quote!("3"),
            syn::parse_quote!(-1),
        ] {
            assert_eq!(
                whole_number(&value, 1..=3, help).unwrap_err().to_string(),
                help
            );
        }
    }
}
