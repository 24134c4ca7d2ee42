//! The options of an attribute, shared by `#[event(...)]` and
//! `#[listener(...)]`: one parser (`parse`), one check of how each option
//! is written (`sort`: unknown, repeated, missing its value, a flag given a
//! value), and the readers of values both macros take (`values`). Each macro
//! then checks only what its own options mean.

mod parse;
mod sort;
mod values;

pub(crate) use parse::{RawOption, parse_attribute_args, parse_options};
pub(crate) use sort::{Given, sort};
pub(crate) use values::{derived_name, keep, registered_name, string_literal, whole_number};

/// What an attribute accepts, as its diagnostics describe it.
pub(crate) struct Attribute {
    /// `event` for `#[event(...)]`.
    pub name: &'static str,
    pub options: &'static [OptionSpec],
}

/// One option of an attribute.
pub(crate) struct OptionSpec {
    pub key: &'static str,
    /// How the list of known options shows it: `tries = N`.
    pub form: &'static str,
    /// A valid use, offered when the value is missing: `tries = 3`.
    pub example: &'static str,
    /// A flag is written alone (`allow_unwired`); other options take a value.
    pub flag: bool,
}

impl OptionSpec {
    /// An option written `key = value`.
    pub(crate) const fn value(
        key: &'static str,
        form: &'static str,
        example: &'static str,
    ) -> Self {
        OptionSpec {
            key,
            form,
            example,
            flag: false,
        }
    }

    /// An option written as its key alone.
    pub(crate) const fn flag(key: &'static str) -> Self {
        OptionSpec {
            key,
            form: key,
            example: key,
            flag: true,
        }
    }
}

impl Attribute {
    fn spec(&self, key: &str) -> Option<&'static OptionSpec> {
        self.options.iter().find(|spec| spec.key == key)
    }

    /// `#[listener(tries = 3)]`: how the attribute is written with `inner`.
    fn written(&self, inner: &str) -> String {
        format!("#[{}({inner})]", self.name)
    }
}
