//! What the new files still need from the crate, said after they were
//! written: rustc only compiles a module the crate root declares, and a
//! listener's event must exist where the listener imports it from.

use super::destination::Destination;
use super::module_file::declared_module;
use super::names::ItemName;
use super::templates::EVENTS_MODULE;
use std::path::{Component, Path};

/// For a folder `src/<name>`: a hint when the crate root does not declare
/// `mod <name>;` (or when there is no crate root in the current
/// directory). Other folders are the user's own layout, left alone.
pub(super) fn crate_root(cwd: &Path, destination: &Destination) -> Option<String> {
    let parts: Vec<Component> = destination.dir.shown.components().collect();
    let [Component::Normal(src), Component::Normal(name)] = parts[..] else {
        return None;
    };
    if src != "src" {
        return None;
    }
    let name = name.to_str()?;
    let roots: Vec<&str> = ["src/lib.rs", "src/main.rs"]
        .into_iter()
        .filter(|root| cwd.join(root).is_file())
        .collect();
    if roots.is_empty() {
        return Some(
            "hint: there is no src/main.rs or src/lib.rs here: run fastevent in the crate's \
             folder (where its Cargo.toml is)"
                .into(),
        );
    }
    let declares = |root: &&str| {
        std::fs::read_to_string(cwd.join(root))
            .is_ok_and(|text| text.lines().any(|line| declared_module(line) == Some(name)))
    };
    if roots.iter().any(declares) {
        return None;
    }
    Some(format!(
        "hint: {} does not declare the module yet: add `mod {name};` to it",
        roots.join(" or ")
    ))
}

/// A hint when the listener's event is not where the listener imports it
/// from (`src/events/<module>.rs`).
pub(super) fn event_module(cwd: &Path, event: &ItemName) -> Option<String> {
    let file = format!("src/events/{}.rs", event.module);
    let folder = format!("src/events/{}/mod.rs", event.module);
    if cwd.join(&file).is_file() || cwd.join(folder).is_file() {
        return None;
    }
    Some(format!(
        "hint: {file} does not exist yet, and the listener imports {EVENTS_MODULE}::{}::{}: \
         create it with `fastevent make event {}`",
        event.module, event.type_name, event.type_name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::scaffold::destination::resolve;
    use crate::front::scaffold::test_dir;
    use std::fs;

    #[test]
    fn a_crate_root_without_the_module_gets_a_hint() {
        let cwd = test_dir("hints-root");
        let events = resolve(&cwd, Path::new("src/events")).unwrap();
        let hint = crate_root(&cwd, &events).unwrap();
        assert!(hint.contains("no src/main.rs or src/lib.rs here"), "{hint}");

        fs::create_dir_all(cwd.join("src")).unwrap();
        fs::write(cwd.join("src/main.rs"), "fn main() {}\n").unwrap();
        let hint = crate_root(&cwd, &events).unwrap();
        assert_eq!(
            hint,
            "hint: src/main.rs does not declare the module yet: add `mod events;` to it"
        );

        fs::write(cwd.join("src/main.rs"), "mod events;\nfn main() {}\n").unwrap();
        assert_eq!(crate_root(&cwd, &events), None);
        let elsewhere = resolve(&cwd, Path::new("app/events")).unwrap();
        assert_eq!(crate_root(&cwd, &elsewhere), None);
    }

    #[test]
    fn a_missing_event_module_gets_a_hint() {
        let cwd = test_dir("hints-event");
        let chat = ItemName {
            type_name: "NewChatEvent".into(),
            module: "new_chat_event".into(),
        };
        let hint = event_module(&cwd, &chat).unwrap();
        assert!(
            hint.contains("src/events/new_chat_event.rs does not exist yet"),
            "{hint}"
        );
        assert!(
            hint.ends_with("`fastevent make event NewChatEvent`"),
            "{hint}"
        );
        fs::create_dir_all(cwd.join("src/events")).unwrap();
        fs::write(cwd.join("src/events/new_chat_event.rs"), "").unwrap();
        assert_eq!(event_module(&cwd, &chat), None);
    }
}
