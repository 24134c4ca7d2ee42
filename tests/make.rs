//! `fastevent make`, the command-line tool, run as a user runs it: what it
//! writes into a scratch crate must build and run as generated, and a
//! refused command must exit 1 and write nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Shared with `link_check`, whose scratch package depends on fastevent the
/// same way: fastevent and its dependencies are built once for both. (Not
/// this workspace's target dir, which the running `cargo test` holds.)
fn target_dir() -> PathBuf {
    root().join("target/link-check/target")
}

fn cargo(dir: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(args)
        .arg("--offline")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("CARGO_MAKEFLAGS")
        .output()
        .expect("cargo runs")
}

/// The `fastevent` binary, built once per test run. It belongs to the
/// `fastevent` package, so `CARGO_BIN_EXE_fastevent` does not exist here.
fn tool() -> &'static Path {
    static TOOL: OnceLock<PathBuf> = OnceLock::new();
    TOOL.get_or_init(|| {
        let output = cargo(root(), &["build", "-p", "fastevent", "--bin", "fastevent"]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        target_dir().join("debug/fastevent")
    })
}

fn fastevent(dir: &Path, args: &[&str]) -> Output {
    Command::new(tool())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("fastevent runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A new, empty folder under target/make.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = root().join("target/make").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[track_caller]
fn assert_prints(output: &Output, expected: &str) {
    assert!(output.status.success(), "failed: {}", text(&output.stderr));
    assert_eq!(text(&output.stdout), expected);
}

const MANIFEST: &str = r#"[package]
name = "chat"
edition = "2024"
publish = false

[dependencies]
fastevent = { path = "FASTEVENT" }
serde = { version = "1", features = ["derive"] }
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }

[workspace]
"#;

/// Dispatches the generated event to the generated listeners, and says
/// which listeners the event has.
const MAIN: &str = r#"mod events;
mod listeners;

use fastevent::Event;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    events::NewChatEvent {}.dispatch_now().await?;
    let registry = fastevent::registry::registry();
    let mut names: Vec<&str> = registry
        .listeners_of::<events::NewChatEvent>()
        .iter()
        .map(|listener| listener.name)
        .collect();
    names.sort();
    println!("{} -> {}", events::NewChatEvent::NAME, names.join(", "));
    Ok(())
}
"#;

#[test]
fn generated_events_and_listeners_build_and_run_as_generated() {
    let dir = fresh_dir("chat");
    let fastevent_dir = root().join("fastevent");
    let manifest = MANIFEST.replace("FASTEVENT", &fastevent_dir.display().to_string());
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The workspace's lock pins the same versions, so no index is needed.
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::create_dir(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();

    let output = fastevent(&dir, &["make", "event", "NewChatEvent"]);
    assert_prints(
        &output,
        "Created src/events/new_chat_event.rs\n\
         Created src/events/mod.rs\n\
         hint: src/main.rs does not declare the module yet: add `mod events;` to it\n",
    );
    // Names convert as fast-app's do: snake case in, PascalCase type.
    let output = fastevent(
        &dir,
        &[
            "make",
            "listener",
            "generate_chat_title",
            "--event",
            "new_chat_event",
        ],
    );
    assert_prints(
        &output,
        "Created src/listeners/generate_chat_title.rs\n\
         Created src/listeners/mod.rs\n\
         hint: src/main.rs does not declare the module yet: add `mod listeners;` to it\n",
    );
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    let output = fastevent(
        &dir,
        &["make", "listener", "AuditLog", "--event", "NewChatEvent"],
    );
    assert_prints(
        &output,
        "Created src/listeners/audit_log.rs\nUpdated src/listeners/mod.rs\n",
    );
    // Sorted; listeners are not re-exported (nothing names them).
    let listeners = std::fs::read_to_string(dir.join("src/listeners/mod.rs")).unwrap();
    assert!(
        listeners.ends_with("\n\npub mod audit_log;\npub mod generate_chat_title;\n"),
        "{listeners}"
    );

    let output = cargo(&dir, &["run"]);
    let stderr = text(&output.stderr);
    assert!(
        output.status.success(),
        "the generated code fails:\n{stderr}"
    );
    assert_eq!(
        text(&output.stdout),
        "new_chat -> audit_log, generate_chat_title\n"
    );
    assert!(
        !stderr.contains("warning"),
        "the generated code has warnings:\n{stderr}"
    );
    assert_formatted(&dir);
}

/// The generated files are as `cargo fmt` would leave them.
fn assert_formatted(dir: &Path) {
    let files = [
        "src/events/mod.rs",
        "src/events/new_chat_event.rs",
        "src/listeners/mod.rs",
        "src/listeners/audit_log.rs",
        "src/listeners/generate_chat_title.rs",
    ];
    let output = Command::new("rustfmt")
        .args(["--edition", "2024", "--check"])
        .args(files)
        .current_dir(dir)
        .output();
    match output {
        Ok(output) => assert!(
            output.status.success(),
            "rustfmt would change the generated files:\n{}",
            text(&output.stdout)
        ),
        Err(error) => eprintln!("formatting not checked: rustfmt does not run: {error}"),
    }
}

/// Every file under `dir`, with its content.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.insert(path.clone(), Vec::new());
                pending.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn refused_commands_exit_1_with_one_line_and_write_nothing() {
    let dir = fresh_dir("refusals/crate");
    std::fs::create_dir_all(dir.join("src/events")).unwrap();
    std::fs::write(dir.join("src/events/new_chat_event.rs"), "// mine\n").unwrap();
    std::fs::write(dir.join("src/events/mod.rs"), "pub mod new_chat_event;\n").unwrap();
    let before = snapshot(&dir);

    for (args, says) in [
        (
            &["make", "event", "user-registered"][..],
            "error: invalid event name: `user-registered`: `-` cannot be part of a Rust name; \
             write UserRegistered or user_registered; nothing was written",
        ),
        (
            &["make", "event", "type"],
            "error: invalid event name: `type` gives the module name `type`, a Rust keyword; \
             choose another name; nothing was written",
        ),
        (
            &["make", "event", "Self"],
            "error: invalid event name: `Self` gives the type name `Self`, a Rust keyword; \
             choose another name; nothing was written",
        ),
        (
            &["make", "listener", "Audit", "--event", "async"],
            "error: invalid --event name: `async` gives the module name `async`, a Rust keyword; \
             choose another name; nothing was written",
        ),
        (
            &["make", "event", "2fa"],
            "error: invalid event name: `2fa` gives the type name `2fa`, which is not a Rust \
             identifier: use ASCII letters, digits and `_`, starting with a letter; nothing was written",
        ),
        (
            &["make", "event", ""],
            "error: invalid event name: the name is empty; nothing was written",
        ),
        (
            &["make", "event", "NewChatEvent"],
            "error: src/events/new_chat_event.rs already exists; nothing was written",
        ),
        (
            &["make", "event", "OtherEvent", "--path", "../escaped"],
            "error: --path ../escaped: leads outside the current directory; it must stay \
             inside it; nothing was written",
        ),
        (
            &[
                "make",
                "event",
                "OtherEvent",
                "--path",
                "/tmp/fastevent-make-absolute",
            ],
            "error: --path /tmp/fastevent-make-absolute: must be relative to the current \
             directory (the crate's root), e.g. src/events; nothing was written",
        ),
    ] {
        let output = fastevent(&dir, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(text(&output.stderr), format!("{says}\n"), "{args:?}");
        assert_eq!(text(&output.stdout), "", "{args:?}");
    }
    assert_eq!(snapshot(&dir), before, "a refused command wrote something");
    assert!(!dir.join("../escaped").exists());
    assert!(!Path::new("/tmp/fastevent-make-absolute").exists());
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let dir = fresh_dir("usage");
    let output = fastevent(&dir, &["make", "listener", "GenerateChatTitle"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--event <EVENT>"));
    for command in ["event", "listener"] {
        let output = fastevent(&dir, &["make", command, "--help"]);
        assert_eq!(output.status.code(), Some(0));
        let usage = format!("Usage: fastevent make {command} [OPTIONS]");
        assert!(
            text(&output.stdout).contains(&usage),
            "{}",
            text(&output.stdout)
        );
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}
