//! The driver kit, proved: `FileQueue` (tests/kit_driver), a durable driver
//! written only against fastevent's public API, passes the conformance
//! suite unchanged.

mod kit_driver;

use fastevent::driver::JobEncoder;
use fastevent::driver::durable::durable_queue_of;
use fastevent::job::{JobDefaults, JobSigner};
use fastevent_conformance::{Queue, Target};
use kit_driver::FileQueue;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const DIR_ENV: &str = "FASTEVENT_CONFORMANCE_FILE_QUEUE";

struct FileTarget;

fn fresh_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("fastevent-kit-{}-{n}", std::process::id()))
}

/// Removes a test's queue directory once the test drops its queue.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: PathBuf, signing_key: Option<&str>) -> Queue {
    let signer = signing_key.map(|k| JobSigner::new(k).unwrap());
    let encoder = JobEncoder::new(JobDefaults::default(), signer.clone());
    let driver = Arc::new(FileQueue::open(&dir, encoder));
    Queue {
        driver: driver.clone(),
        durable: durable_queue_of(driver),
        signer,
        child_env: vec![(DIR_ENV.into(), dir.display().to_string())],
        cleanup: None,
    }
}

impl Target for FileTarget {
    fn open(&self, signing_key: Option<&str>) -> Queue {
        let dir = fresh_dir();
        Queue {
            cleanup: Some(Arc::new(RemoveDir(dir.clone()))),
            ..open(dir, signing_key)
        }
    }

    fn open_from_env(&self) -> Queue {
        open(std::env::var(DIR_ENV).unwrap().into(), None)
    }

    fn inject_raw(&self, queue: &Queue, body: &[u8], signature: Option<&str>) {
        let encoder = JobEncoder::new(JobDefaults::default(), None);
        let queue = FileQueue::open(&queue.child_env[0].1, encoder);
        queue.push_raw(body, signature).unwrap();
    }
}

fastevent_conformance::conformance_suite!(FileTarget);

// --- under `work` ----------------------------------------------------------------------
//
// Before the kit, `Config` had no way to install a durable driver from
// another crate (`Config::driver` left the durable queue unset), so
// `work`, `status` and `failed` could only use the built-in drivers.

/// `kit-test-app` (tests/apps/kit_test_app.rs) on a queue directory of its own.
struct KitApp {
    dir: PathBuf,
}

impl KitApp {
    fn new() -> Self {
        let dir = fresh_dir();
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    /// `kit-test-app ARGS` with short leases and polls, two worker
    /// processes, and none of the caller's queue settings.
    /// `QUEUE_DRIVER=sync`: had `durable_driver` not replaced it, there
    /// would be no queue to work on.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kit-test-app"));
        let knobs = ["QUEUE_DRIVER", "FASTEVENT_", "MIN_WORKERS", "MAX_WORKERS"];
        for (name, _) in std::env::vars() {
            if knobs.iter().any(|knob| name.starts_with(knob)) {
                command.env_remove(name);
            }
        }
        command.args(args).envs([
            ("QUEUE_DRIVER", "sync".to_string()),
            (
                "KIT_QUEUE_DIR",
                self.dir.join("queue").display().to_string(),
            ),
            ("KIT_TEST_OUT", self.record_path().display().to_string()),
            ("MIN_WORKERS", "2".into()),
            ("MAX_WORKERS", "2".into()),
            ("FASTEVENT_LEASE_S", "2".into()),
            ("FASTEVENT_POLL_INTERVAL_MS", "20".into()),
            ("HEARTBEAT_INTERVAL_S", "0.2".into()),
            ("SCALE_CHECK_INTERVAL_S", "0.2".into()),
        ]);
        command
    }

    /// Runs `kit-test-app ARGS`, expects success; returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.command(args).output().expect("kit-test-app runs");
        assert!(
            output.status.success(),
            "{args:?} failed with {}:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("JSON output")
    }

    /// The default queue's (ready, running) and the failed count, from `status`.
    fn status(&self) -> (u64, u64, u64) {
        let status = self.json(&["status", "--json"]);
        let queues = status["queues"].as_array().unwrap();
        let default = queues.iter().find(|q| q["queue"] == "default").unwrap();
        let count = |value: &serde_json::Value| value.as_u64().unwrap();
        let (ready, running) = (count(&default["ready"]), count(&default["running"]));
        (ready, running, count(&status["failed"]))
    }

    fn record_path(&self) -> PathBuf {
        self.dir.join("record")
    }

    /// (n, pid) of each ping the listener handled.
    fn pings(&self) -> Vec<(u64, u32)> {
        let record = std::fs::read_to_string(self.record_path()).unwrap_or_default();
        record
            .lines()
            .map(|line| match line.split(' ').collect::<Vec<_>>()[..] {
                ["ping", n, pid] => (n.parse().unwrap(), pid.parse().unwrap()),
                _ => panic!("not a ping line: {line:?}"),
            })
            .collect()
    }
}

impl Drop for KitApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The pids in the supervisor's `worker N started (pid P)` lines.
fn worker_pids(output: &str) -> HashSet<u32> {
    output
        .lines()
        .filter_map(|line| line.split_once("started (pid ")?.1.strip_suffix(')'))
        .map(|pid| pid.parse().unwrap())
        .collect()
}

#[test]
fn work_runs_every_job_of_the_file_queue_in_worker_processes() {
    let app = KitApp::new();
    app.ok(&["dispatch", "ping", "40"]);
    app.ok(&["dispatch", "doomed", "1"]);
    assert_eq!(app.status(), (41, 0, 0));

    let output = app.ok(&["work", "--stop-when-empty"]);
    assert!(output.contains("worker 2 ready"), "{output}");
    let workers = worker_pids(&output);
    let pings = app.pings();
    let mut handled: Vec<u64> = pings.iter().map(|(n, _)| *n).collect();
    handled.sort();
    assert_eq!(handled, (1..=40).collect::<Vec<_>>(), "every job ran once");
    assert!(
        pings.iter().all(|(_, pid)| workers.contains(pid)),
        "every job ran in a worker process of the supervisor: {pings:?} {workers:?}"
    );
    assert_eq!(
        app.status(),
        (0, 0, 1),
        "the doomed job is in the failed store"
    );
}

#[test]
fn failed_lists_and_retries_the_failed_jobs_of_the_file_queue() {
    let app = KitApp::new();
    app.ok(&["dispatch", "doomed", "1"]);
    app.ok(&["work", "--stop-when-empty"]);
    let list = app.ok(&["failed", "list"]);
    assert!(list.contains("always_fails"), "{list}");
    assert!(list.contains("doomed job 1 fails on purpose"), "{list}");

    let failed = app.json(&["failed", "list", "--json"]);
    let id = failed[0]["id"].as_i64().unwrap().to_string();
    let shown = app.ok(&["failed", "show", &id]);
    assert!(
        shown.contains(r#"{"n":1}"#),
        "the envelope is kept: {shown}"
    );
    let retried = app.ok(&["failed", "retry", &id]);
    assert!(
        retried.contains(&format!("Retried failed job {id}")),
        "{retried}"
    );
    assert_eq!(app.status(), (1, 0, 0), "back on its queue");
    assert_eq!(app.ok(&["failed", "list"]).trim(), "No failed jobs.");
}
