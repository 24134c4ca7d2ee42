//! Another process holds the SQLite queue's write lock for 12 s while a
//! supervised farm works: listeners finish, their settles wait for the
//! lock, and nothing of that may look like a hung worker or a job past its
//! hard timeout. No worker is killed, no job fails, none is lost, and work
//! resumes when the lock is released.

#[path = "apps/harness.rs"]
mod harness;

use harness::{App, wait_until};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Holds `BEGIN EXCLUSIVE` on the database for the given seconds, in a
/// python3 process; prints `locked` once it holds the lock, `released` when
/// it let go.
const HOLD_LOCK: &str = r#"
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
print("released", flush=True)
"#;

/// How many distinct jobs have a `slow-done` record line.
fn done(app: &App) -> usize {
    let mut jobs: Vec<u64> = app
        .record()
        .iter()
        .filter_map(|l| l.strip_prefix("slow-done "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    jobs.sort();
    jobs.dedup();
    jobs.len()
}

#[test]
fn a_write_lock_held_past_the_heartbeat_timeout_kills_no_worker_and_loses_no_job() {
    let mut app = App::new("sqlite-lock");
    app.set("FARM_SLOW_MS", "300");
    app.set("HARD_TIMEOUT_S", "1");
    // Far past the lock: leases do not lapse while the settles wait.
    app.set("FASTEVENT_LEASE_S", "30");
    // Well under the lock: a heartbeat that waits on it is caught.
    app.set("HEARTBEAT_TIMEOUT_S", "5");
    app.dispatch("slow", 400);
    let supervisor = app.start(&[
        "work",
        "--stop-when-empty",
        "--min-workers",
        "2",
        "--max-workers",
        "2",
    ]);
    wait_until("the farm to be at work", || done(&app) >= 20);

    let mut holder = Command::new("python3")
        .args(["-c", HOLD_LOCK])
        .arg(app.dir().join("queue.db"))
        .arg("12")
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut said = BufReader::new(holder.stdout.take().unwrap()).lines();
    assert_eq!(said.next().unwrap().unwrap(), "locked");
    let done_when_locked = done(&app);
    assert_eq!(said.next().unwrap().unwrap(), "released");
    let done_when_released = done(&app);
    assert!(holder.wait().unwrap().success());
    eprintln!("{done_when_locked} jobs done when locked, {done_when_released} when released");
    // Only the jobs already running could finish under the lock (2 × 10).
    assert!(
        done_when_released <= done_when_locked + 20 && done_when_released < 400,
        "the lock held the farm up: {done_when_locked} then {done_when_released} done"
    );

    let (status, lines) = supervisor.wait();
    assert!(status.success(), "{status}");
    let killed: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("killing worker"))
        .collect();
    assert!(killed.is_empty(), "{killed:#?}");
    assert_eq!(done(&app), 400, "every job handled at least once");
    assert_eq!(app.depth(), (0, 0, 0), "nothing left, nothing failed");
}
