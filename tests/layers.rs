//! The runtime crate's layers import only downward: every `crate::...` path
//! in `fastevent/src` names a module of its own layer or of one below.
//!
//! Each file gets its layer from [`LAYERS`] (the longest matching path
//! prefix wins); each `crate::` path (in `use` trees, grouped or not, and in
//! expressions) is resolved to the file that holds its module, or, for a
//! name the crate root re-exports, to the file the root takes it from.
//! Comments (doc comments and their links too) and string literals are not
//! code and are skipped. `super::` paths stay inside a folder and are not
//! checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, from the bottom. A file may import its own layer and those
/// below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// Events, listeners, registry, context, the job batch and envelope,
    /// errors, retry policy, running one listener, the hooks drivers call.
    Core,
    /// `Driver`, the durable-queue traits.
    DriverTraits,
    /// The built-in drivers.
    Drivers,
    /// `Config`: settings -> an installed driver.
    Assembly,
    /// dispatch, worker, supervisor, the testing fakes.
    Running,
    /// The commands, the dashboard, scaffolding.
    Front,
    /// `lib.rs`: the public paths, taken from every layer.
    Root,
}

/// Path (relative to `fastevent/src`) -> layer; a prefix ending in `/`
/// covers a folder. The longest matching entry wins.
const LAYERS: &[(&str, Layer)] = &[
    ("lib.rs", Layer::Root),
    ("base/", Layer::Core),
    ("driver/", Layer::DriverTraits),
    ("driver/sync/", Layer::Drivers),
    ("driver/sqlite/", Layer::Drivers),
    ("driver/amqp/", Layer::Drivers),
    ("driver/postgres/", Layer::Drivers),
    ("config/", Layer::Assembly),
    ("running/", Layer::Running),
    ("front/", Layer::Front),
];

/// Upward paths allowed on purpose: (file, path, why). A public path that
/// users already write and that names an item of a higher layer.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "driver/sqlite/mod.rs",
        "crate::outbox::sqlite::dispatch_in",
        "the public path `fastevent::driver::sqlite::dispatch_in` of the outbox entry, which reads the installed config",
    ),
    (
        "driver/postgres/mod.rs",
        "crate::outbox::postgres::dispatch_in",
        "the public path `fastevent::driver::postgres::dispatch_in` of the outbox entry, which reads the installed config",
    ),
];

/// Names defined in `lib.rs` itself, which belong to no layer.
const ROOT_ITEMS: &[&str] = &["__private"];

/// Files that are not part of the library crate: the `fastevent` binary
/// and its scaffolding.
const NOT_LIBRARY: &[&str] = &["main.rs", "front/scaffold/"];

#[test]
fn fastevent_src_imports_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fastevent/src");
    let files = rust_files(&src);
    let root_names = root_reexports(&src);
    let mut problems = Vec::new();
    for file in &files {
        let rel = relative(&src, file);
        if NOT_LIBRARY
            .iter()
            .any(|p| rel == *p || (p.ends_with('/') && rel.starts_with(p)))
        {
            continue;
        }
        let Some(from) = layer_of(&rel) else {
            problems.push(format!("{rel}: no layer in LAYERS; add it"));
            continue;
        };
        let code = strip_comments_and_strings(&std::fs::read_to_string(file).unwrap());
        for path in crate_paths(&code) {
            let Some(target) = resolve(&src, &path, &root_names) else {
                if !ROOT_ITEMS.contains(&path[0].as_str()) {
                    problems.push(format!("{rel}: cannot find crate::{}", path.join("::")));
                }
                continue;
            };
            let Some(to) = layer_of(&target) else {
                problems.push(format!("{rel}: imports {target}, which has no layer"));
                continue;
            };
            let shown = format!("crate::{}", path.join("::"));
            let allowed = ALLOWED.iter().any(|(f, p, _)| *f == rel && *p == shown);
            if to > from && !allowed {
                problems.push(format!(
                    "{rel} ({from:?}) imports {shown} from {target} ({to:?})"
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} upward import(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The layer of a file, by the longest matching entry of [`LAYERS`].
fn layer_of(rel: &str) -> Option<Layer> {
    LAYERS
        .iter()
        .filter(|(prefix, _)| {
            if prefix.ends_with('/') {
                rel.starts_with(prefix)
            } else {
                rel == *prefix
            }
        })
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, layer)| *layer)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn relative(src: &Path, file: &Path) -> String {
    file.strip_prefix(src)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

/// The file of the deepest module that `path` names (`a/b.rs` or
/// `a/b/mod.rs`); a name re-exported by the crate root resolves through the
/// root's `use`. `None` for a name of the root itself (`__private`).
fn resolve(src: &Path, path: &[String], roots: &RootNames) -> Option<String> {
    for depth in (1..=path.len()).rev() {
        let dir = path[..depth].join("/");
        for candidate in [format!("{dir}.rs"), format!("{dir}/mod.rs")] {
            if src.join(&candidate).is_file() {
                return Some(candidate);
            }
        }
    }
    // A name the root brings in: resolve where it comes from, with the rest
    // of the path (a chain of root `use`s is followed too, boundedly).
    // One name can be a module and an item (`stats` the module and
    // `stats()` the function): each origin is tried.
    roots.get(path.first()?)?.iter().find_map(|through| {
        let mut full = through.clone();
        full.extend_from_slice(&path[1..]);
        (full.len() <= 12 && full != path).then(|| resolve(src, &full, roots))?
    })
}

/// Name at the root -> every path it is brought in from.
type RootNames = BTreeMap<String, Vec<Vec<String>>>;

/// What `lib.rs` brings to the root with `use` (public or not, since the
/// crate's own short paths go through it): name -> the path it comes from.
fn root_reexports(src: &Path) -> RootNames {
    let code = strip_comments_and_strings(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut names = RootNames::new();
    for statement in code.split(';') {
        let statement = statement.trim();
        let Some(tree) = statement
            .rsplit_once("use ")
            .filter(|(before, _)| before.is_empty() || before.ends_with(char::is_whitespace))
            .map(|(_, tree)| tree)
        else {
            continue;
        };
        let tree = tree.strip_prefix("crate::").unwrap_or(tree);
        for path in expand_tree(tree) {
            if let Some(last) = path.last() {
                names.entry(last.clone()).or_default().push(path.clone());
            }
        }
    }
    names
}

/// Every `crate::...` path in the code, `use` trees expanded into one path
/// each. `$crate` (macro hygiene) is not an import.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    let mut start = 0;
    while let Some(found) = code[start..].find("crate::") {
        let at = start + found;
        start = at + "crate::".len();
        let before = at.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b == b'$' || b == b'_' || b.is_ascii_alphanumeric()) {
            continue;
        }
        paths.extend(expand_tree(&code[start..]));
    }
    paths
}

/// Expands the path tree at the start of `text` (`a::b`, `a::{b, c::d}`,
/// `a::{self, b}`, `a::*`) into its paths; `self` names the module itself.
fn expand_tree(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = text;
    tree(&mut rest, Vec::new(), &mut out);
    out
}

fn tree(rest: &mut &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        *rest = rest.trim_start();
        if let Some(inner) = rest.strip_prefix('{') {
            *rest = inner;
            loop {
                tree(rest, path.clone(), out);
                *rest = rest.trim_start();
                if let Some(after) = rest.strip_prefix(',') {
                    *rest = after;
                    if let Some(after) = rest.trim_start().strip_prefix('}') {
                        *rest = after;
                        return;
                    }
                } else {
                    *rest = rest.strip_prefix('}').unwrap_or(rest);
                    return;
                }
            }
        }
        if let Some(after) = rest.strip_prefix('*') {
            *rest = after;
            break;
        }
        let end = rest
            .find(|c: char| !(c == '_' || c.is_alphanumeric()))
            .unwrap_or(rest.len());
        let ident = &rest[..end];
        *rest = &rest[end..];
        if !ident.is_empty() && ident != "self" {
            path.push(ident.to_string());
        }
        match rest.strip_prefix("::") {
            Some(after) => *rest = after,
            None => break,
        }
    }
    // `as name` renames the last segment; the module it names is the same.
    let trimmed = rest.trim_start();
    if let Some(after) = trimmed.strip_prefix("as ") {
        let after = after.trim_start();
        let end = after
            .find(|c: char| !(c == '_' || c.is_alphanumeric()))
            .unwrap_or(after.len());
        *rest = &after[end..];
    }
    if !path.is_empty() {
        out.push(path);
    }
}

/// The code with comments (doc comments included), string, byte-string and
/// char literals blanked out, so that only code remains.
fn strip_comments_and_strings(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = skip_block_comment(&chars, i);
            out.push(' ');
        } else if let Some(end) = raw_string_end(&chars, i) {
            i = end;
            out.push_str("\"\"");
        } else if c == '"' {
            i = skip_string(&chars, i + 1);
            out.push_str("\"\"");
        } else if c == '\'' && is_char_literal(&chars, i) {
            i = skip_char_literal(&chars, i);
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn skip_block_comment(chars: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// The end of a raw (byte) string starting at `i` (`r"..."`, `br#"..."#`).
fn raw_string_end(chars: &[char], i: usize) -> Option<usize> {
    let before = i.checked_sub(1).map(|j| chars[j]);
    if before.is_some_and(|b| b == '_' || b.is_alphanumeric()) {
        return None;
    }
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if chars.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(j)
}

/// Past the closing quote of a string whose body starts at `i`.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// `'x'` or `'\n'`, as opposed to a lifetime `'a`.
fn is_char_literal(chars: &[char], i: usize) -> bool {
    match chars.get(i + 1) {
        Some('\\') => true,
        Some(_) => chars.get(i + 2) == Some(&'\''),
        None => false,
    }
}

fn skip_char_literal(chars: &[char], mut i: usize) -> usize {
    i += 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '\'' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The checker itself, on small pieces of code.
mod checker {
    use super::*;

    fn paths(code: &str) -> Vec<String> {
        crate_paths(&strip_comments_and_strings(code))
            .into_iter()
            .map(|p| p.join("::"))
            .collect()
    }

    #[test]
    fn grouped_and_nested_use_trees_expand_to_each_path() {
        assert_eq!(
            paths("use crate::{a, b::c, d::{self, e as f}, g::*};"),
            ["a", "b::c", "d", "d::e", "g"]
        );
        assert_eq!(
            paths("let x = crate::job::now_ms() / 1000;"),
            ["job::now_ms"]
        );
    }

    #[test]
    fn comments_strings_and_macro_paths_are_not_imports() {
        let code = r##"
            //! See [`crate::dispatch`].
            /// Links [`crate::config::Config`].
            /* crate::worker */
            const T: &str = "use crate::events;";
            const R: &str = r#"crate::cli"#;
            let c = '"'; let l: &'static str = "x";
            macro_rules! m { () => { $crate::a::b } }
            pub(crate) fn f() {}
        "##;
        assert_eq!(paths(code), Vec::<String>::new());
    }

    #[test]
    fn the_longest_prefix_gives_the_layer() {
        assert_eq!(layer_of("base/backoff.rs"), Some(Layer::Core));
        assert_eq!(layer_of("running/worker/mod.rs"), Some(Layer::Running));
        assert_eq!(layer_of("driver/mod.rs"), Some(Layer::DriverTraits));
        assert_eq!(layer_of("driver/sqlite/outbox.rs"), Some(Layer::Drivers));
        assert_eq!(layer_of("nowhere.rs"), None);
    }
}
