//! Writing the new file and its module file, all or nothing: everything
//! is read and checked when the plan is made, the new file is written
//! before the module file that declares it, and a failure undoes what was
//! written (the new file, the folders created for it).

use super::MakeError;
use super::destination::{Destination, Place};
use super::module_file::{self, Listing};
use super::names::ItemName;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// What `apply` will write; making it wrote nothing.
#[derive(Debug)]
pub(super) struct Plan {
    file: Place,
    text: String,
    module_file: Place,
    /// The module file's new text; `None` when it already declares the
    /// new module.
    module_text: Option<String>,
    module_file_exists: bool,
    module: String,
    /// Folders to create, outermost first.
    missing_dirs: Vec<PathBuf>,
}

impl Plan {
    /// Checks that `name`'s file can be written in `destination` with
    /// `text`, and prepares its module file as `listing` says.
    pub(super) fn new(
        destination: &Destination,
        name: &ItemName,
        text: String,
        listing: Listing,
    ) -> Result<Plan, MakeError> {
        let file = destination.file(&name.module);
        if file.path.symlink_metadata().is_ok() {
            return Err(MakeError(format!("{file} already exists")));
        }
        let module_file = destination.module_file.clone();
        let existing = match fs::read_to_string(&module_file.path) {
            Ok(existing) => Some(existing),
            Err(error) if error.kind() == ErrorKind::NotFound => None,
            Err(error) => {
                return Err(MakeError(format!("cannot read {module_file}: {error}")));
            }
        };
        let mut missing_dirs: Vec<PathBuf> = destination
            .dir
            .path
            .ancestors()
            .take_while(|dir| !dir.exists())
            .map(Path::to_path_buf)
            .collect();
        missing_dirs.reverse();
        Ok(Plan {
            module_text: module_file::declare(existing.as_deref(), listing, name),
            module_file_exists: existing.is_some(),
            module_file,
            file,
            text,
            module: name.module.clone(),
            missing_dirs,
        })
    }

    /// Writes the plan and says what was done, one line per file.
    pub(super) fn apply(self) -> Result<Vec<String>, MakeError> {
        let mut created_dirs = Vec::new();
        let written = self
            .create_dirs(&mut created_dirs)
            .and_then(|()| create_new(&self.file.path, &self.text))
            .map_err(|error| format!("cannot write {}: {error}", self.file));
        let declared = written.and_then(|()| match &self.module_text {
            Some(text) => replace(&self.module_file.path, text).map_err(|error| {
                // The new file is complete: only ours to remove.
                let _ = fs::remove_file(&self.file.path);
                format!("cannot write {}: {error}", self.module_file)
            }),
            None => Ok(()),
        });
        if let Err(message) = declared {
            for dir in created_dirs.iter().rev() {
                let _ = fs::remove_dir(dir); // only if still empty
            }
            return Err(MakeError(message));
        }
        let module_line = match (&self.module_text, self.module_file_exists) {
            (None, _) => format!("{} already declares {}", self.module_file, self.module),
            (Some(_), true) => format!("Updated {}", self.module_file),
            (Some(_), false) => format!("Created {}", self.module_file),
        };
        Ok(vec![format!("Created {}", self.file), module_line])
    }

    fn create_dirs(&self, created: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for dir in &self.missing_dirs {
            match fs::create_dir(dir) {
                Ok(()) => created.push(dir.clone()),
                // Made by someone else since the plan: theirs to keep.
                Err(error) if error.kind() == ErrorKind::AlreadyExists && dir.is_dir() => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

/// Writes a file that must not exist yet (even if one appeared since the
/// plan was made); a partial file is removed.
fn create_new(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(text.as_bytes()).inspect_err(|_| {
        let _ = fs::remove_file(path);
    })
}

/// Replaces `path`'s content through a temporary file renamed over it, so
/// that a failure leaves the old content whole.
fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    let temporary = temporary_path(path);
    let result = fs::write(&temporary, text)
        .and_then(|()| match fs::metadata(path) {
            Ok(old) => fs::set_permissions(&temporary, old.permissions()),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error),
        })
        .and_then(|()| fs::rename(&temporary, path));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// `.mod.rs.fastevent-new` next to `mod.rs`.
fn temporary_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".fastevent-new");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::scaffold::destination::resolve;
    use crate::front::scaffold::test_dir;

    fn chat() -> ItemName {
        ItemName {
            type_name: "NewChatEvent".into(),
            module: "new_chat_event".into(),
        }
    }

    fn plan(cwd: &Path) -> Result<Plan, MakeError> {
        let destination = resolve(cwd, Path::new("src/events")).unwrap();
        let listing = Listing {
            header: "//! Events.\n",
            reexport: true,
        };
        Plan::new(&destination, &chat(), "// new\n".into(), listing)
    }

    #[test]
    fn the_file_and_its_module_file_are_created_with_their_folders() {
        let cwd = test_dir("write-created");
        let report = plan(&cwd).unwrap().apply().unwrap();
        assert_eq!(
            report,
            [
                "Created src/events/new_chat_event.rs",
                "Created src/events/mod.rs"
            ]
        );
        let read = |file: &str| fs::read_to_string(cwd.join(file)).unwrap();
        assert_eq!(read("src/events/new_chat_event.rs"), "// new\n");
        assert!(read("src/events/mod.rs").contains("pub mod new_chat_event;"));
    }

    #[test]
    fn an_existing_module_file_is_updated() {
        let cwd = test_dir("write-updated");
        fs::create_dir_all(cwd.join("src/events")).unwrap();
        fs::write(cwd.join("src/events/mod.rs"), "pub mod zeta;\n").unwrap();
        let report = plan(&cwd).unwrap().apply().unwrap();
        assert_eq!(report[1], "Updated src/events/mod.rs");
        let text = fs::read_to_string(cwd.join("src/events/mod.rs")).unwrap();
        assert!(
            text.starts_with("pub mod new_chat_event;\npub mod zeta;\n"),
            "{text}"
        );
        assert!(!cwd.join("src/events/.mod.rs.fastevent-new").exists());
    }

    #[test]
    fn an_existing_file_is_refused_before_anything_is_written() {
        let cwd = test_dir("write-exists");
        fs::create_dir_all(cwd.join("src/events")).unwrap();
        fs::write(cwd.join("src/events/new_chat_event.rs"), "mine").unwrap();
        let error = plan(&cwd).unwrap_err().0;
        assert_eq!(error, "src/events/new_chat_event.rs already exists");
        assert_eq!(
            fs::read_to_string(cwd.join("src/events/new_chat_event.rs")).unwrap(),
            "mine"
        );
        assert!(!cwd.join("src/events/mod.rs").exists());
    }

    #[test]
    fn an_unreadable_module_file_is_refused_before_anything_is_written() {
        let cwd = test_dir("write-unreadable");
        fs::create_dir_all(cwd.join("src/events")).unwrap();
        fs::write(cwd.join("src/events/mod.rs"), [0xff, 0xfe]).unwrap();
        let error = plan(&cwd).unwrap_err().0;
        assert!(
            error.starts_with("cannot read src/events/mod.rs: "),
            "{error}"
        );
        assert!(!cwd.join("src/events/new_chat_event.rs").exists());
    }

    #[test]
    fn when_the_module_file_cannot_be_written_the_new_file_is_removed() {
        let cwd = test_dir("write-undone");
        fs::create_dir_all(cwd.join("src/events")).unwrap();
        fs::write(cwd.join("src/events/mod.rs"), "pub mod zeta;\n").unwrap();
        let plan = plan(&cwd).unwrap();
        // A folder where the module file's temporary file goes makes the
        // write fail after the new file was written (permissions would not:
        // the tests may run as root).
        fs::create_dir_all(cwd.join("src/events/.mod.rs.fastevent-new")).unwrap();
        let error = plan.apply().unwrap_err().0;
        assert!(
            error.starts_with("cannot write src/events/mod.rs: "),
            "{error}"
        );
        assert!(!cwd.join("src/events/new_chat_event.rs").exists());
        assert_eq!(
            fs::read_to_string(cwd.join("src/events/mod.rs")).unwrap(),
            "pub mod zeta;\n"
        );
    }
}
