//! What Rust accepts as the name of a type or a module: the generated code
//! must compile as generated, so a name is refused here rather than by
//! rustc later.

/// Strict keywords (Rust 2018 and later): never an identifier. `self`,
/// `Self`, `super` and `crate` cannot even be raw identifiers.
const STRICT: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while",
];

/// Reserved keywords: unused today, refused as identifiers all the same
/// (`gen` since edition 2024, the generated code's edition).
const RESERVED: &[&str] = &[
    "abstract", "become", "box", "do", "final", "gen", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

/// A strict or reserved keyword. Weak keywords (`union`, `macro_rules`,
/// `raw`, `safe`) are ordinary identifiers where a name goes.
pub(super) fn is_keyword(word: &str) -> bool {
    STRICT.contains(&word) || RESERVED.contains(&word)
}

/// An ASCII identifier: a letter or `_`, then letters, digits or `_`, and
/// not `_` alone. Rust also takes non-ASCII letters; they are refused here
/// because the name also becomes a file name, and a crate's module files
/// are expected to be ASCII.
pub(super) fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    starts_well && word != "_" && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_of_every_kind_are_keywords() {
        for word in [
            "type", "Self", "self", "async", "gen", "try", "crate", "dyn",
        ] {
            assert!(is_keyword(word), "{word}");
        }
        for word in ["union", "Type", "event", "raw", "Async"] {
            assert!(!is_keyword(word), "{word}");
        }
    }

    #[test]
    fn identifiers_are_ascii_and_do_not_start_with_a_digit() {
        for word in ["NewChatEvent", "new_chat_event", "_x", "a2"] {
            assert!(is_identifier(word), "{word}");
        }
        for word in ["", "_", "2fa", "User-registered", "a b", "Été", "a.b"] {
            assert!(!is_identifier(word), "{word}");
        }
    }
}
