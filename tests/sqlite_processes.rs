//! The SQLite queue with real worker processes of `farm-test-app` on a real
//! file: a row another program made unreadable, and a worker suspended
//! (SIGSTOP) past its lease and then resumed. Every job is accounted for at
//! the end: handled, or in the failed store with a reason.

#[path = "apps/harness.rs"]
mod harness;

use fastevent::driver::sqlite::rusqlite;
use harness::{App, send_signal, wait_until};
use std::time::Duration;

/// The event numbers of the record lines starting with `prefix`.
fn numbers(record: &[String], prefix: &str) -> Vec<u64> {
    let mut numbers: Vec<u64> = record
        .iter()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    numbers.sort();
    numbers
}

#[test]
fn a_row_stored_as_text_goes_to_the_failed_store_and_the_farm_drains_the_rest() {
    let app = App::new("poison-row");
    app.dispatch("ping", 80);
    let db = rusqlite::Connection::open(app.dir().join("queue.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE fastevent_jobs SET body = CAST(body AS TEXT)
              WHERE id = (SELECT MIN(id) FROM fastevent_jobs)",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);

    let supervisor = app.start(&["work", "--stop-when-empty", "--min-workers", "2"]);
    let (status, lines) = supervisor.wait();
    assert!(status.success(), "{status}: {lines:#?}");
    assert_eq!(
        numbers(&app.record(), "ping "),
        (2..=80).collect::<Vec<_>>()
    );
    assert_eq!(app.depth(), (0, 0, 1));
    let failed = app.json(&["failed", "list", "--json"]);
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("column body is TEXT, expected BLOB"),
        "{error}"
    );
}

#[test]
fn a_worker_suspended_past_its_lease_loses_its_job_to_another_and_says_so() {
    let mut app = App::new("sigstop");
    app.set("FARM_SLOW_MS", "3000");
    app.dispatch("slow", 1);
    let first = app.start(&["work", "--worker", "--concurrency", "1", "--max-jobs", "1"]);
    wait_until("the first worker to start the job", || {
        numbers(&app.record(), "slow-start ") == [1]
    });
    send_signal(first.pid(), "STOP");
    // Past the 2 s lease: the job is claimable again.
    std::thread::sleep(Duration::from_millis(2500));
    let second = app.start(&["work", "--worker", "--stop-when-empty"]);
    let (status, lines) = second.wait();
    assert!(status.success(), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains(": 1 succeeded")),
        "the second worker ran the job: {lines:#?}"
    );
    send_signal(first.pid(), "CONT");
    let (status, lines) = first.wait();
    assert!(status.success(), "{lines:#?}");
    // The first worker's listener finished too, but its settle was refused:
    // the job belonged to the second worker's claim.
    assert_eq!(numbers(&app.record(), "slow-done "), [1, 1]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("0 succeeded") && l.contains("1 lost to another claim")),
        "{lines:#?}"
    );
    assert_eq!(app.depth(), (0, 0, 0));
}
