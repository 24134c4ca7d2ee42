//! The link-time wiring check, on real builds of a scratch package: a program
//! that dispatches an event with no listener linked in must not link, and the
//! linker's error must name the event; every legitimate shape must link.
//! (Integration tests are themselves built with `cfg(test)`, where the check
//! is off, so the check can only be observed on a separate build.)
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/link_check");

/// Writes the scratch package once per test run and returns its directory.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join("target/link-check/shop");
        let _ = std::fs::remove_dir_all(dir.join("src"));
        let _ = std::fs::remove_dir_all(dir.join("tests"));
        std::fs::create_dir_all(dir.join("src/bin")).unwrap();
        std::fs::create_dir_all(dir.join("tests")).unwrap();
        let manifest = format!(
            r#"[package]
name = "shop"
edition = "2024"
publish = false

[dependencies]
fastevent = {{ path = "{fastevent}" }}
serde = {{ version = "1", features = ["derive"] }}
tokio = {{ version = "1", features = ["macros", "rt-multi-thread"] }}

# Integration tests build every binary of their package; the binaries are
# behind a feature so that the library's tests build without them.
[features]
bins = []

[workspace]
"#,
            fastevent = root.join("fastevent").display()
        );
        let mut manifest = manifest;
        // The workspace's lock pins the same versions, so no index is needed.
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        let copy = |from: &str, to: &str| {
            std::fs::copy(Path::new(FIXTURES).join(from), dir.join(to)).unwrap();
        };
        copy("lib.rs", "src/lib.rs");
        for bin in [
            "unwired",
            "unwired_library_event",
            "wired",
            "wired_library_event",
            "opted_out",
            "forbid_unsafe",
        ] {
            copy(&format!("{bin}.rs"), &format!("src/bin/{bin}.rs"));
            manifest.push_str(&format!(
                "\n[[bin]]\nname = \"{bin}\"\nrequired-features = [\"bins\"]\n"
            ));
        }
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        for test in ["allowed_in_test", "unwired_in_test"] {
            copy(&format!("{test}.rs"), &format!("tests/{test}.rs"));
        }
        dir
    })
}

fn cargo(args: &[&str]) -> Output {
    let dir = scratch();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(args)
        .arg("--offline")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("../target"))
        .env_remove("CARGO_MAKEFLAGS")
        .output()
        .expect("cargo runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn unwired_message(event: &str) -> String {
    format!(
        "fastevent: event {event} is dispatched, but no #[listener(on = {event})] is linked into this program"
    )
}

#[track_caller]
fn assert_fails_to_link(output: Output, event: &str) {
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success(),
        "expected a link error, but it built:\n{stderr}"
    );
    assert!(
        stderr.contains("undefined") && stderr.contains(&unwired_message(event)),
        "the link error does not name {event}:\n{stderr}"
    );
}

#[track_caller]
fn assert_runs_and_prints(output: Output, expected: &[&str]) {
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "failed:\n{}", text(&output.stderr));
    for line in expected {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn an_event_dispatched_without_listener_fails_to_link_naming_it() {
    assert_fails_to_link(
        cargo(&["build", "--features", "bins", "--bin", "unwired"]),
        "OrphanedSignupEvent",
    );
}

#[test]
fn a_library_event_whose_listener_the_application_forgot_fails_to_link() {
    assert_fails_to_link(
        cargo(&[
            "build",
            "--features",
            "bins",
            "--bin",
            "unwired_library_event",
        ]),
        "OrderPlaced",
    );
}

#[test]
fn several_listeners_of_one_event_link_and_all_run() {
    assert_runs_and_prints(
        cargo(&["run", "--features", "bins", "--bin", "wired"]),
        &["welcome 5", "profile 5", "account 5"],
    );
}

#[test]
fn a_library_event_with_its_listener_in_the_application_links() {
    assert_runs_and_prints(
        cargo(&["run", "--features", "bins", "--bin", "wired_library_event"]),
        &["shipping 9"],
    );
}

#[test]
fn an_event_marked_allow_unwired_links_and_dispatches_to_nobody() {
    assert_runs_and_prints(
        cargo(&["run", "--features", "bins", "--bin", "opted_out"]),
        &["jobs: 0"],
    );
}

#[test]
fn generated_code_passes_forbid_unsafe_code() {
    assert_runs_and_prints(
        cargo(&["run", "--features", "bins", "--bin", "forbid_unsafe"]),
        &["safe"],
    );
}

#[test]
fn a_librarys_unit_tests_link_without_listeners() {
    let output = cargo(&["test", "--lib"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("1 passed"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn allow_unwired_lets_a_librarys_integration_test_link() {
    let output = cargo(&["test", "--test", "allowed_in_test"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("1 passed"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn a_librarys_integration_test_without_allow_unwired_fails_to_link() {
    assert_fails_to_link(
        cargo(&["test", "--test", "unwired_in_test", "--no-run"]),
        "OrderPlaced",
    );
}
