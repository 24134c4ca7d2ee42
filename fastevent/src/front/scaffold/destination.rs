//! Where the new file goes: the folder of `--path DIR`, which must be
//! relative to the current directory and stay inside it, so that the tool
//! writes only into the crate it is run in. Checked before anything is
//! written.

use super::MakeError;
use std::fmt;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

/// A path as the user sees it (relative to the current directory) and as
/// the program uses it (absolute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Place {
    /// Relative to the current directory: `src/events/new_chat_event.rs`.
    pub shown: PathBuf,
    /// Absolute.
    pub path: PathBuf,
}

impl Place {
    fn join(&self, name: &str) -> Place {
        Place {
            shown: self.shown.join(name),
            path: self.path.join(name),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shown.display().fmt(f)
    }
}

/// A checked folder inside the current directory; it may not exist yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Destination {
    /// The folder.
    pub dir: Place,
    /// The file that declares the folder's modules: `src/events.rs` when
    /// the crate already uses that layout (a `mod.rs` next to it would not
    /// compile), else `src/events/mod.rs`.
    pub module_file: Place,
}

impl Destination {
    /// The new item's file: `<dir>/<module>.rs`.
    pub(super) fn file(&self, module: &str) -> Place {
        self.dir.join(&format!("{module}.rs"))
    }
}

/// Checks `requested` (the `--path` argument) against `cwd`.
pub(super) fn resolve(cwd: &Path, requested: &Path) -> Result<Destination, MakeError> {
    let shown_arg = requested.display();
    if requested.has_root() || requested.is_absolute() {
        return Err(MakeError(format!(
            "--path {shown_arg}: must be relative to the current directory (the crate's root), e.g. src/events"
        )));
    }
    let shown = normalize(requested).ok_or_else(|| {
        MakeError(format!(
            "--path {shown_arg}: leads outside the current directory; it must stay inside it"
        ))
    })?;
    let Some(mut flat_name) = shown.file_name().map(ToOwned::to_owned) else {
        return Err(MakeError(format!(
            "--path {shown_arg}: name a folder inside the current directory, e.g. src/events"
        )));
    };
    check_existing_part(cwd, &shown, &shown_arg.to_string())?;
    let dir = Place {
        path: cwd.join(&shown),
        shown,
    };
    flat_name.push(".rs");
    let flat = Place {
        shown: dir.shown.with_file_name(&flat_name),
        path: dir.path.with_file_name(&flat_name),
    };
    let module_file = if flat.path.is_file() {
        flat
    } else {
        dir.join("mod.rs")
    };
    Ok(Destination { dir, module_file })
}

/// `requested` without `.` and with each `..` applied; `None` when a `..`
/// climbs above the start.
fn normalize(requested: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in requested.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(parts.iter().collect())
}

/// The part of `relative` that exists must be folders, and must not lead
/// outside `cwd` through a symbolic link (a path that looks inside the
/// crate would otherwise write elsewhere).
fn check_existing_part(cwd: &Path, relative: &Path, shown_arg: &str) -> Result<(), MakeError> {
    let mut existing = cwd.to_path_buf();
    for component in relative.components() {
        if !existing.is_dir() {
            break; // reported below
        }
        let next = existing.join(component);
        match next.symlink_metadata() {
            Ok(_) => existing = next,
            Err(error) if error.kind() == ErrorKind::NotFound => break,
            Err(error) => {
                return Err(MakeError(format!(
                    "--path {shown_arg}: {}: {error}",
                    next.display()
                )));
            }
        }
    }
    let real = |path: &Path| {
        path.canonicalize()
            .map_err(|error| MakeError(format!("cannot read {}: {error}", path.display())))
    };
    let (real_cwd, real_existing) = (real(cwd)?, real(&existing)?);
    if !real_existing.starts_with(&real_cwd) {
        return Err(MakeError(format!(
            "--path {shown_arg}: leads outside the current directory (to {}); it must stay inside it",
            real_existing.display()
        )));
    }
    if !real_existing.is_dir() {
        let shown = existing.strip_prefix(cwd).unwrap_or(&existing);
        return Err(MakeError(format!(
            "--path {shown_arg}: {} is a file, not a folder",
            shown.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::scaffold::test_dir;

    #[test]
    fn the_default_folders_resolve_inside_the_current_directory() {
        let cwd = test_dir("destination-default");
        let destination = resolve(&cwd, Path::new("src/events")).unwrap();
        assert_eq!(destination.dir.shown, Path::new("src/events"));
        assert_eq!(destination.dir.path, cwd.join("src/events"));
        assert_eq!(
            destination.module_file.shown,
            Path::new("src/events/mod.rs")
        );
        let file = destination.file("new_chat_event");
        assert_eq!(file.to_string(), "src/events/new_chat_event.rs");
    }

    #[test]
    fn paths_are_normalized_and_may_climb_back_inside() {
        let cwd = test_dir("destination-normalized");
        let destination = resolve(&cwd, Path::new("./app/../app/./events/")).unwrap();
        assert_eq!(destination.dir.shown, Path::new("app/events"));
    }

    #[test]
    fn a_module_file_next_to_the_folder_is_the_one_updated() {
        let cwd = test_dir("destination-flat");
        std::fs::create_dir_all(cwd.join("src")).unwrap();
        std::fs::write(cwd.join("src/events.rs"), "").unwrap();
        let destination = resolve(&cwd, Path::new("src/events")).unwrap();
        assert_eq!(destination.module_file.shown, Path::new("src/events.rs"));
    }

    #[test]
    fn absolute_escaping_and_empty_paths_are_refused() {
        let cwd = test_dir("destination-refused");
        std::fs::write(cwd.join("notes.txt"), "").unwrap();
        for (path, says) in [
            ("/tmp/events", "must be relative to the current directory"),
            ("../events", "leads outside the current directory"),
            ("src/../../events", "leads outside the current directory"),
            (".", "name a folder inside the current directory"),
            ("src/..", "name a folder inside the current directory"),
            ("notes.txt/events", "notes.txt is a file, not a folder"),
        ] {
            let error = resolve(&cwd, Path::new(path)).unwrap_err().0;
            assert!(error.contains(says), "{path}: {error}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_out_of_the_current_directory_is_refused() {
        let cwd = test_dir("destination-link");
        let outside = test_dir("destination-link-target");
        std::os::unix::fs::symlink(&outside, cwd.join("out")).unwrap();
        let error = resolve(&cwd, Path::new("out/events")).unwrap_err().0;
        assert!(
            error.contains("leads outside the current directory"),
            "{error}"
        );
    }
}
