//! QUEUE_DRIVER is read from the environment at the first dispatch; a value
//! we do not know is a clear error there, never a silent fallback.
//! The environment is per process, so each case runs this test binary again
//! as a child with the variable set.

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::process::Command;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Pinged;

#[derive(Default)]
struct Pong;

#[listener(on = Pinged)]
impl Pong {
    async fn handle(&self, _: &Pinged) {}
}

/// Runs in the child only: dispatches once and prints the outcome.
#[tokio::test]
async fn child_dispatch() {
    if std::env::var_os("FASTEVENT_TEST_CHILD").is_none() {
        return;
    }
    match Pinged.dispatch().await {
        Ok(d) => println!("OUTCOME ok jobs={}", d.jobs),
        Err(e) => println!("OUTCOME err {e}"),
    }
}

fn dispatch_with_queue_driver(value: &str) -> String {
    dispatch_with(&[("QUEUE_DRIVER", value)])
}

fn dispatch_with(vars: &[(&str, &str)]) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_dispatch",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FASTEVENT_TEST_CHILD", "1")
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    stdout
        .lines()
        .find_map(|l| l.split_once("OUTCOME ").map(|(_, outcome)| outcome))
        .unwrap_or_else(|| panic!("no outcome in:\n{stdout}"))
        .to_string()
}

#[test]
fn an_unknown_queue_driver_fails_the_dispatch_with_a_clear_error() {
    assert_eq!(
        dispatch_with_queue_driver("rabbit"),
        "err QUEUE_DRIVER=\"rabbit\" is not valid: expected one of: sync, sqlite, amqp, async_farm, postgres"
    );
}

#[test]
fn a_broker_that_is_down_fails_the_dispatch_naming_it_without_its_password() {
    // Nothing listens on port 1: the connection is refused at once.
    let outcome = dispatch_with(&[
        ("QUEUE_DRIVER", "async_farm"),
        ("RABBITMQ_URL", "amqp://app:hunter2@127.0.0.1:1/%2f"),
        ("FASTEVENT_AMQP_TIMEOUT_S", "0.5"),
    ]);
    assert!(
        outcome.starts_with(
            "err queue driver `amqp` could not take the jobs of event `pinged`: \
             cannot reach RabbitMQ at amqp://app:***@127.0.0.1:1/%2f"
        ),
        "{outcome}"
    );
    assert!(!outcome.contains("hunter2"), "{outcome}");
}

#[test]
fn a_known_queue_driver_in_any_case_dispatches() {
    assert_eq!(dispatch_with_queue_driver("SYNC"), "ok jobs=1");
}
