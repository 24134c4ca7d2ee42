//! How each option is written, checked the same way for every attribute:
//! a known key, once, with a value or as a flag as its kind wants. What is
//! left is the options whose values the macro then reads.

use super::parse::{RawOption, RawValue};
use super::{Attribute, OptionSpec};
use crate::diagnostics::Errors;
use crate::suggest;
use quote::ToTokens;
use syn::Expr;

/// The well-formed options, each key at most once, in the order written.
pub(crate) struct Given {
    options: Vec<(&'static str, Option<Expr>)>,
    /// Every key written, well-formed or not.
    written: Vec<String>,
}

impl Given {
    /// The value of `key`, when it was given one.
    pub(crate) fn value(&self, key: &str) -> Option<&Expr> {
        self.options
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, value)| value.as_ref())
    }

    /// The options given a value, in the order written, so that their
    /// errors are reported in that order too.
    pub(crate) fn values(&self) -> impl Iterator<Item = (&'static str, &Expr)> {
        self.options
            .iter()
            .filter_map(|(key, value)| Some((*key, value.as_ref()?)))
    }

    /// Whether the flag `key` was given.
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.options.iter().any(|(k, _)| *k == key)
    }

    /// Whether `key` was written at all, even wrongly: a mistake in it was
    /// reported already, so "missing" would be a second error.
    pub(crate) fn written(&self, key: &str) -> bool {
        self.written.iter().any(|k| k == key)
    }
}

/// Reports every option written wrongly and returns the others.
pub(crate) fn sort(attribute: &Attribute, raw: &[RawOption], errors: &mut Errors) -> Given {
    let mut given = Given {
        options: Vec::new(),
        written: raw.iter().map(RawOption::key_text).collect(),
    };
    // A second occurrence is "given twice" even when the first one was
    // written wrongly: both are mistakes to fix.
    let mut seen = Vec::new();
    for option in raw {
        let key = option.key_text();
        let Some(spec) = attribute.spec(&key) else {
            errors.push(unknown(attribute, option, &key));
            continue;
        };
        if seen.contains(&spec.key) {
            errors.push(syn::Error::new_spanned(
                &option.key,
                format!("`{key}` is given twice"),
            ));
            continue;
        }
        seen.push(spec.key);
        match well_formed(attribute, spec, option) {
            Ok(value) => given.options.push((spec.key, value)),
            Err(error) => errors.push(error),
        }
    }
    given
}

/// The option's value (`None` for a flag), or how to write it.
fn well_formed(
    attribute: &Attribute,
    spec: &OptionSpec,
    option: &RawOption,
) -> syn::Result<Option<Expr>> {
    let key = spec.key;
    match (&option.value, spec.flag) {
        (RawValue::Flag, true) => Ok(None),
        (RawValue::Value(value), false) => Ok(Some(value.clone())),
        (RawValue::Flag, false) => Err(syn::Error::new_spanned(
            &option.key,
            format!(
                "`{key}` needs a value, like {}",
                attribute.written(spec.example)
            ),
        )),
        (RawValue::Value(value), true) => Err(a_flag(attribute, key, value)),
        (RawValue::List(list), true) => Err(a_flag(attribute, key, list)),
        (RawValue::List(list), false) => {
            let inner = list.tokens.to_string().replace(" :: ", "::");
            let example = if inner.trim().is_empty() {
                spec.example.to_string()
            } else {
                format!("{key} = {inner}")
            };
            Err(syn::Error::new_spanned(
                list,
                format!(
                    "`{key}` takes its value after `=`, not in parentheses: write {}",
                    attribute.written(&example)
                ),
            ))
        }
    }
}

fn a_flag(attribute: &Attribute, key: &str, given: &impl ToTokens) -> syn::Error {
    syn::Error::new_spanned(
        given,
        format!("`{key}` is a flag: write {}", attribute.written(key)),
    )
}

fn unknown(attribute: &Attribute, option: &RawOption, key: &str) -> syn::Error {
    let keys: Vec<&str> = attribute.options.iter().map(|spec| spec.key).collect();
    let hint = match suggest::closest(key, &keys) {
        Some(near) => format!("; did you mean `{near}`?"),
        None => ".".to_string(),
    };
    let forms: Vec<&str> = attribute.options.iter().map(|spec| spec.form).collect();
    syn::Error::new_spanned(
        &option.key,
        format!(
            "unknown {} option `{key}`{hint} Known options: {}",
            attribute.name,
            forms.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::parse_options;
    use quote::quote;

    const TEST: Attribute = Attribute {
        name: "test",
        options: &[
            OptionSpec::value("tries", "tries = N", "tries = 3"),
            OptionSpec::flag("quiet"),
        ],
    };

    /// The messages of every error, and what was left.
    fn sorted(args: proc_macro2::TokenStream) -> (Vec<String>, Given) {
        let raw = parse_options(args).unwrap();
        let mut errors = Errors::default();
        let given = sort(&TEST, &raw, &mut errors);
        let messages = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(all) => all.into_iter().map(|e| e.to_string()).collect(),
        };
        (messages, given)
    }

    #[test]
    fn well_formed_options_are_kept_in_order() {
        let (errors, given) = sorted(quote!(quiet, tries = 3));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(given.flag("quiet"));
        let keys: Vec<&str> = given.values().map(|(key, _)| key).collect();
        assert_eq!(keys, ["tries"]);
    }

    #[test]
    fn each_wrong_form_is_reported_and_dropped() {
        let (errors, given) = sorted(quote!(trys = 3, tries, quiet = true, tries(3), a::b));
        assert_eq!(
            errors,
            [
                "unknown test option `trys`; did you mean `tries`? Known options: tries = N, quiet",
                "`tries` needs a value, like #[test(tries = 3)]",
                "`quiet` is a flag: write #[test(quiet)]",
                "`tries` is given twice",
                "unknown test option `a::b`. Known options: tries = N, quiet",
            ]
        );
        assert_eq!(given.values().count(), 0);
        assert!(!given.flag("quiet"));
        assert!(given.written("tries") && given.written("trys"));
    }

    #[test]
    fn a_value_in_parentheses_is_shown_after_the_equals_sign() {
        let (errors, _) = sorted(quote!(tries(3)));
        assert_eq!(
            errors,
            ["`tries` takes its value after `=`, not in parentheses: write #[test(tries = 3)]"]
        );
    }
}
