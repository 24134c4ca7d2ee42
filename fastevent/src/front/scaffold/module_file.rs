//! Declaring a new module in its folder's module file (`mod.rs`): `pub mod
//! new_chat_event;` among the other module declarations and, if the folder
//! re-exports its types, `pub use new_chat_event::NewChatEvent;` among the
//! other imports, each at its sorted place, everything else kept as it was.

use super::names::ItemName;

/// How a folder's module file lists its modules.
#[derive(Debug, Clone, Copy)]
pub(super) struct Listing {
    /// The first lines of a new module file.
    pub header: &'static str,
    /// Whether each module's type is re-exported (`pub use`).
    pub reexport: bool,
}

/// The module file's new text: `existing` (or, for a new file, the
/// header) with the module declared and, if the listing says so, its type
/// re-exported. `None` when an existing file already has it all.
pub(super) fn declare(existing: Option<&str>, listing: Listing, name: &ItemName) -> Option<String> {
    let source = existing.unwrap_or(listing.header);
    let newline = if source.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut lines: Vec<String> = source.lines().map(str::to_owned).collect();
    let mut changed = existing.is_none();

    if !lines
        .iter()
        .any(|line| declared_module(line) == Some(&name.module))
    {
        // A new group of declarations goes before the imports, as rustfmt
        // and most crates have it.
        let first_import = lines.iter().position(|line| imported_path(line).is_some());
        let new_group_at = first_import.unwrap_or(lines.len());
        let line = format!("pub mod {};", name.module);
        insert_sorted(&mut lines, line, declared_module, new_group_at);
        changed = true;
    }
    let prefix = format!("{}::", name.module);
    let reexported = lines
        .iter()
        .filter_map(|line| imported_path(line))
        .any(|path| {
            path.strip_prefix("self::")
                .unwrap_or(path)
                .starts_with(&prefix)
        });
    if listing.reexport && !reexported {
        let last_module = lines
            .iter()
            .rposition(|line| declared_module(line).is_some());
        let new_group_at = last_module.map_or(lines.len(), |at| at + 1);
        let line = format!("pub use {}::{};", name.module, name.type_name);
        insert_sorted(&mut lines, line, imported_path, new_group_at);
        changed = true;
    }
    changed.then(|| lines.join(newline) + newline)
}

/// `name` of a top-level `mod name;`, with any visibility.
pub(super) fn declared_module(line: &str) -> Option<&str> {
    let rest = after_visibility(top_level(line)?).strip_prefix("mod")?;
    let rest = rest.strip_prefix(char::is_whitespace)?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(end);
    (!name.is_empty() && after.trim_start().starts_with(';')).then_some(name)
}

/// `path` of a top-level `use path` (the rest of the line), with any
/// visibility.
fn imported_path(line: &str) -> Option<&str> {
    let rest = after_visibility(top_level(line)?).strip_prefix("use")?;
    Some(rest.strip_prefix(char::is_whitespace)?.trim_start())
}

/// Items nested in blocks are indented; only the file's own items count.
fn top_level(line: &str) -> Option<&str> {
    (!line.starts_with(char::is_whitespace)).then_some(line)
}

/// `line` without a leading `pub`, `pub(crate)`, `pub(in path)`...
fn after_visibility(line: &str) -> &str {
    let Some(rest) = line.strip_prefix("pub") else {
        return line;
    };
    if let Some(restricted) = rest.strip_prefix('(') {
        return match restricted.find(')') {
            Some(end) => restricted[end + 1..].trim_start(),
            None => line,
        };
    }
    match rest.strip_prefix(char::is_whitespace) {
        Some(rest) => rest.trim_start(),
        None => line, // `public...`, not a visibility
    }
}

/// Inserts `line` before the first line whose key (`key_of`) sorts after
/// its own, or after the last keyed line; with no keyed line at all, as a
/// new group at `new_group_at`, set apart by blank lines.
fn insert_sorted(
    lines: &mut Vec<String>,
    line: String,
    key_of: fn(&str) -> Option<&str>,
    new_group_at: usize,
) {
    let key = key_of(&line).unwrap_or_default().to_owned();
    let keyed: Vec<usize> = (0..lines.len())
        .filter(|&at| key_of(&lines[at]).is_some())
        .collect();
    let next = keyed
        .iter()
        .find(|&&at| key_of(&lines[at]).is_some_and(|other| other > key.as_str()));
    match (next, keyed.last()) {
        (Some(&at), _) => {
            let at = above_attributes(lines, at);
            lines.insert(at, line);
        }
        (None, Some(&last)) => {
            let at = statement_end(lines, last) + 1;
            lines.insert(at, line);
        }
        (None, None) => {
            let mut at = new_group_at;
            if at > 0 && !lines[at - 1].trim().is_empty() {
                lines.insert(at, String::new());
                at += 1;
            }
            if lines.get(at).is_some_and(|next| !next.trim().is_empty()) {
                lines.insert(at, String::new());
            }
            lines.insert(at, line);
        }
    }
}

/// The first of the attributes and comments directly above line `at`,
/// which belong to it and must stay with it.
fn above_attributes(lines: &[String], mut at: usize) -> usize {
    while at > 0 {
        let above = lines[at - 1].trim_start();
        let belongs =
            above.starts_with("#[") || (above.starts_with("//") && !above.starts_with("//!"));
        if !belongs {
            break;
        }
        at -= 1;
    }
    at
}

/// The line that ends the statement starting at `at` (`use a::{` spans
/// several lines).
fn statement_end(lines: &[String], at: usize) -> usize {
    (at..lines.len())
        .find(|&end| {
            lines[end]
                .split("//")
                .next()
                .unwrap_or_default()
                .trim_end()
                .ends_with(';')
        })
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENTS: Listing = Listing {
        header: "//! The events.\n",
        reexport: true,
    };

    fn name(type_name: &str, module: &str) -> ItemName {
        ItemName {
            type_name: type_name.into(),
            module: module.into(),
        }
    }

    #[test]
    fn a_new_module_file_has_the_header_the_module_and_its_reexport() {
        let text = declare(None, EVENTS, &name("NewChatEvent", "new_chat_event")).unwrap();
        assert_eq!(
            text,
            "//! The events.\n\npub mod new_chat_event;\n\npub use new_chat_event::NewChatEvent;\n"
        );
    }

    #[test]
    fn entries_go_to_their_sorted_place_and_the_rest_is_kept() {
        let existing = "//! Mine.\n\
            \n\
            pub mod alpha;\n\
            pub mod zeta;\n\
            \n\
            pub use alpha::Alpha;\n\
            pub use zeta::Zeta;\n\
            \n\
            // Helpers.\n\
            pub fn helper() {}\n";
        let text = declare(Some(existing), EVENTS, &name("Middle", "middle")).unwrap();
        assert_eq!(
            text,
            "//! Mine.\n\
            \n\
            pub mod alpha;\n\
            pub mod middle;\n\
            pub mod zeta;\n\
            \n\
            pub use alpha::Alpha;\n\
            pub use middle::Middle;\n\
            pub use zeta::Zeta;\n\
            \n\
            // Helpers.\n\
            pub fn helper() {}\n"
        );
        let text = declare(Some(&text), EVENTS, &name("Zulu", "zulu")).unwrap();
        assert!(
            text.contains("pub mod zeta;\npub mod zulu;\n\npub use"),
            "{text}"
        );
        assert!(
            text.contains("pub use zeta::Zeta;\npub use zulu::Zulu;\n\n//"),
            "{text}"
        );
    }

    #[test]
    fn attributes_stay_with_their_item_and_multi_line_imports_stay_whole() {
        let existing = "pub mod alpha;\n\
            #[cfg(test)]\n\
            mod tests;\n\
            \n\
            pub use alpha::{\n    Alpha,\n    Beta,\n};\n";
        let text = declare(Some(existing), EVENTS, &name("Omega", "omega")).unwrap();
        assert_eq!(
            text,
            "pub mod alpha;\n\
            pub mod omega;\n\
            #[cfg(test)]\n\
            mod tests;\n\
            \n\
            pub use alpha::{\n    Alpha,\n    Beta,\n};\n\
            pub use omega::Omega;\n"
        );
    }

    #[test]
    fn groups_missing_from_an_existing_file_are_added() {
        let text = declare(Some("//! Nothing yet.\n"), EVENTS, &name("A", "a")).unwrap();
        assert_eq!(text, "//! Nothing yet.\n\npub mod a;\n\npub use a::A;\n");
        let text = declare(Some("mod b;\nfn f() {}\n"), EVENTS, &name("A", "a")).unwrap();
        assert_eq!(text, "pub mod a;\nmod b;\n\npub use a::A;\n\nfn f() {}\n");
        let text = declare(Some(""), EVENTS, &name("A", "a")).unwrap();
        assert_eq!(text, "pub mod a;\n\npub use a::A;\n");
    }

    #[test]
    fn what_is_already_declared_is_not_repeated() {
        let both = "pub mod a;\n\npub use a::A;\n";
        assert_eq!(declare(Some(both), EVENTS, &name("A", "a")), None);
        let text = declare(Some("pub(crate) mod a;\n"), EVENTS, &name("A", "a")).unwrap();
        assert_eq!(text, "pub(crate) mod a;\n\npub use a::A;\n");
        let text = declare(Some("pub use self::a::*;\n"), EVENTS, &name("A", "a")).unwrap();
        assert_eq!(text, "pub mod a;\n\npub use self::a::*;\n");
    }

    #[test]
    fn a_listing_without_reexports_only_declares_modules() {
        let listing = Listing {
            header: "//! Listeners.\n",
            reexport: false,
        };
        let text = declare(None, listing, &name("A", "a")).unwrap();
        assert_eq!(text, "//! Listeners.\n\npub mod a;\n");
        assert_eq!(declare(Some(&text), listing, &name("A", "a")), None);
        let text = declare(Some("pub mod b;\n"), listing, &name("A", "a")).unwrap();
        assert_eq!(text, "pub mod a;\npub mod b;\n");
    }

    #[test]
    fn windows_line_endings_are_kept() {
        let text = declare(Some("pub mod b;\r\n"), EVENTS, &name("A", "a")).unwrap();
        assert_eq!(text, "pub mod a;\r\npub mod b;\r\n\r\npub use a::A;\r\n");
    }

    #[test]
    fn only_module_declarations_count_as_such() {
        assert_eq!(declared_module("pub mod events;"), Some("events"));
        assert_eq!(
            declared_module("pub(in crate::x) mod events ; // why"),
            Some("events")
        );
        assert_eq!(declared_module("mod events {"), None);
        assert_eq!(declared_module("    mod nested;"), None);
        assert_eq!(declared_module("module x;"), None);
        assert_eq!(declared_module("publicmod x;"), None);
    }
}
