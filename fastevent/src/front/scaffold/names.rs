//! From the name on the command line to a type name and a module (file)
//! name: converted by fixed rules (those of `convert`, which `--help`
//! states), so a user can predict the names, then checked, so that what is
//! written always compiles.

use super::ident::{is_identifier, is_keyword};
use fastevent_names::snake_case;
use std::fmt;

/// The names of a new item: `NewChatEvent` in `new_chat_event.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ItemName {
    /// The type: `NewChatEvent`.
    pub type_name: String,
    /// The module, which is also the file's stem: `new_chat_event`.
    pub module: String,
}

/// The conversion, unchecked:
/// - PascalCase (`^[A-Z][A-Za-z0-9]*$`) is kept as the type name, and the
///   module is its snake case (`HTTPServer` -> `http_server`);
/// - anything else is split at `_`, each part capitalized (first letter
///   upper case, the rest lower case) and joined; the module is the input
///   itself when it is plain snake case (`^[a-z]+(_[a-z0-9]+)*$`), else the
///   snake case of the type name (`newChat` -> `Newchat`, `newchat`).
pub(super) fn convert(input: &str) -> ItemName {
    if is_pascal_case(input) {
        return ItemName {
            type_name: input.to_string(),
            module: snake_case(input),
        };
    }
    let type_name: String = input.split('_').map(capitalize).collect();
    let module = if is_snake_case(input) {
        input.to_string()
    } else {
        snake_case(&type_name)
    };
    ItemName { type_name, module }
}

/// Converts `input` and checks that both names are usable in Rust.
pub(super) fn item_name(input: &str) -> Result<ItemName, NameError> {
    if input.is_empty() {
        return Err(NameError("the name is empty".into()));
    }
    if input.contains('-') {
        // Converted as it is, `user-registered` would give the type
        // `User-registered`, which does not compile; the likely intent is
        // offered instead.
        let intended = convert(&input.replace('-', "_"));
        return Err(NameError(format!(
            "`{input}`: `-` cannot be part of a Rust name; write {} or {}",
            intended.type_name, intended.module
        )));
    }
    let name = convert(input);
    for (what, word) in [("type", &name.type_name), ("module", &name.module)] {
        if word.is_empty() {
            return Err(NameError(format!(
                "`{input}` has no letters or digits to make a {what} name from"
            )));
        }
        if is_keyword(word) {
            return Err(NameError(format!(
                "`{input}` gives the {what} name `{word}`, a Rust keyword; choose another name"
            )));
        }
        if !is_identifier(word) {
            return Err(NameError(format!(
                "`{input}` gives the {what} name `{word}`, which is not a Rust identifier: \
                 use ASCII letters, digits and `_`, starting with a letter"
            )));
        }
    }
    Ok(name)
}

/// Why a name was refused; the caller says which name it was.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NameError(String);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_pascal_case(input: &str) -> bool {
    let mut chars = input.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

fn is_snake_case(input: &str) -> bool {
    let mut parts = input.split('_');
    let first = parts.next().unwrap_or_default();
    !first.is_empty()
        && first.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Python's `str.capitalize`: the first character upper case, the rest
/// lower case (`2fa` stays `2fa`, the empty part stays empty).
fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_follow_each_rule_even_into_invalid_names() {
        // One example per rule of `convert`, and a name it converts into an
        // invalid type name (`item_name` refuses that one).
        for (input, type_name, module) in [
            ("NewChatEvent", "NewChatEvent", "new_chat_event"),
            (
                "generate_chat_title",
                "GenerateChatTitle",
                "generate_chat_title",
            ),
            (
                "SendEmailListener",
                "SendEmailListener",
                "send_email_listener",
            ),
            ("HTTPServer", "HTTPServer", "http_server"),
            ("Send2FACode", "Send2FACode", "send2_fa_code"),
            ("send_2fa_code", "Send2faCode", "send_2fa_code"),
            ("newChat", "Newchat", "newchat"),
            ("user__x", "UserX", "user_x"),
            ("_private", "Private", "private"),
            ("user-registered", "User-registered", "user-registered"),
        ] {
            let expected = ItemName {
                type_name: type_name.into(),
                module: module.into(),
            };
            assert_eq!(convert(input), expected, "{input}");
        }
    }

    #[test]
    fn the_checks_leave_valid_names_as_converted() {
        for input in [
            "NewChatEvent",
            "generate_chat_title",
            "Send2FACode",
            "newChat",
            "_private",
        ] {
            assert_eq!(item_name(input), Ok(convert(input)), "{input}");
        }
    }

    #[test]
    fn names_that_would_not_compile_are_refused() {
        for (input, says) in [
            ("", "the name is empty"),
            ("user-registered", "write UserRegistered or user_registered"),
            ("Self", "`Self` gives the type name `Self`, a Rust keyword"),
            (
                "type",
                "`type` gives the module name `type`, a Rust keyword",
            ),
            ("async", "the module name `async`, a Rust keyword"),
            ("Gen", "the module name `gen`, a Rust keyword"),
            ("2fa", "the type name `2fa`, which is not a Rust identifier"),
            ("_", "no letters or digits to make a type name from"),
            ("new chat", "not a Rust identifier"),
            ("events/Chat", "not a Rust identifier"),
            ("Été", "not a Rust identifier"),
        ] {
            let error = item_name(input).unwrap_err().to_string();
            assert!(error.contains(says), "{input:?}: {error}");
        }
    }
}
