//! The SQLite queue under the faults real deployments hit, on a real file:
//! rows written by another program, settles from claims that lapsed, a
//! graceful hand-back, another process holding the write lock, and a disk
//! that fills up during dispatch. Each test checks that every job is
//! accounted for: handled, still queued, or in the failed store with a
//! reason.

use fastevent::driver::durable::{ClaimedJob, QueueAdmin, Settled, WorkQueue};
use fastevent::driver::sqlite::{RowClaim, SqliteDriver, SqliteOptions, Synchronous, rusqlite};
use fastevent::job::JobDefaults;
use fastevent::worker::{StopReason, Worker, WorkerOptions};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Task {
    n: u64,
    #[serde(default)]
    padding: String,
}

static HANDLED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[derive(Default)]
struct RunTask;

#[listener(on = Task, tries = 1)]
impl RunTask {
    async fn handle(&self, event: &Task) {
        HANDLED.lock().unwrap().push(event.n);
    }
}

/// One private directory per test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "fastevent-sqlite-faults-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("queue.db")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn driver_on(path: &Path, busy_timeout: Duration) -> SqliteDriver {
    let options = SqliteOptions {
        path: path.to_path_buf(),
        synchronous: Synchronous::Normal,
        busy_timeout,
    };
    SqliteDriver::new(options, JobDefaults::default(), None)
}

fn queues() -> Vec<String> {
    vec!["default".into()]
}

async fn claim_one(queue: &SqliteDriver, worker: &str, lease: Duration) -> ClaimedJob<RowClaim> {
    let mut jobs = queue.claim(&queues(), 1, worker, lease).await.unwrap();
    assert_eq!(jobs.len(), 1, "one job to claim");
    jobs.remove(0)
}

/// Dispatches task `n` to `queue`.
async fn dispatch(queue: &SqliteDriver, n: u64) {
    let task = Task {
        n,
        padding: String::new(),
    };
    fastevent::dispatch_to(queue, task).await.unwrap();
}

/// Ready, running and delayed jobs of the default queue.
async fn depth(queue: &SqliteDriver) -> (u64, u64, u64) {
    let depths = queue.depth().await.unwrap();
    let default = depths
        .into_iter()
        .find(|d| d.queue == "default")
        .unwrap_or_default();
    (default.ready, default.running, default.delayed)
}

/// A claim whose lease lapsed, and whose job the same worker then claimed
/// again, no longer owns the job: none of its settles may touch it.
#[tokio::test]
async fn a_settle_from_a_lapsed_claim_changes_nothing_and_is_reported() {
    let scratch = Scratch::new("stale");
    let queue = driver_on(&scratch.db(), Duration::from_secs(5));
    dispatch(&queue, 1).await;
    let stale = claim_one(&queue, "w", Duration::from_millis(20)).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let current = claim_one(&queue, "w", Duration::from_secs(30)).await;
    assert_eq!(
        current.job_id, stale.job_id,
        "the lapsed job is claimed again"
    );

    let settles = [
        queue.complete(&stale, "w").await.unwrap(),
        queue
            .retry(&stale, "w", Duration::ZERO, "stale")
            .await
            .unwrap(),
        queue.fail(&stale, "w", "stale").await.unwrap(),
        queue.release(&stale, "w").await.unwrap(),
    ];
    assert_eq!(settles, [Settled::LeaseLost; 4]);
    assert_eq!(depth(&queue).await.1, 1, "still held by the new claim");
    assert_eq!(queue.failed_count().await.unwrap(), 0);

    assert_eq!(queue.complete(&current, "w").await.unwrap(), Settled::Done);
    assert_eq!(depth(&queue).await, (0, 0, 0));
    // Settled once: a second settle by the same claim finds nothing.
    assert_eq!(
        queue.complete(&current, "w").await.unwrap(),
        Settled::LeaseLost
    );
}

/// Row ids are never reused: a stale claim on a finished job cannot reach
/// the new job that would otherwise have taken its id.
#[tokio::test]
async fn ids_are_never_reused_so_a_stale_claim_cannot_reach_a_newer_job() {
    let scratch = Scratch::new("reuse");
    let queue = driver_on(&scratch.db(), Duration::from_secs(5));
    dispatch(&queue, 1).await;
    let stale = claim_one(&queue, "w", Duration::from_millis(20)).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let other = claim_one(&queue, "w2", Duration::from_secs(30)).await;
    assert_eq!(queue.complete(&other, "w2").await.unwrap(), Settled::Done);

    dispatch(&queue, 2).await;
    let newer = claim_one(&queue, "w", Duration::from_secs(30)).await;
    assert_ne!(
        newer.receipt.row, stale.receipt.row,
        "a finished job's id is not reused"
    );
    assert_eq!(
        queue.fail(&stale, "w", "stale").await.unwrap(),
        Settled::LeaseLost
    );
    assert_eq!(queue.failed_count().await.unwrap(), 0);
    assert_eq!(depth(&queue).await.1, 1);
}

/// A job handed back at shutdown keeps its attempts: a `tries = 1` job
/// interrupted by a deploy runs again instead of failing.
#[tokio::test]
async fn a_job_handed_back_at_shutdown_keeps_its_attempt() {
    let scratch = Scratch::new("release");
    let queue = driver_on(&scratch.db(), Duration::from_secs(5));
    dispatch(&queue, 7).await;
    for _ in 0..3 {
        let job = claim_one(&queue, "w", Duration::from_secs(30)).await;
        assert_eq!((job.attempt, job.max_attempts), (1, 1));
        assert_eq!(queue.release(&job, "w").await.unwrap(), Settled::Done);
    }
    let options = WorkerOptions {
        stop_when_empty: true,
        ..WorkerOptions::default()
    };
    let report = Worker::new(Arc::new(queue.clone()), options, None)
        .run(std::future::pending())
        .await;
    assert_eq!((report.succeeded, report.failed), (1, 0));
    assert!(HANDLED.lock().unwrap().contains(&7));
}

/// Holds `BEGIN EXCLUSIVE` on `path` from another process until dropped.
struct ForeignLock(std::process::Child);

impl ForeignLock {
    fn hold(path: &Path, seconds: u32) -> Self {
        use std::io::BufRead;
        let script = format!(
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             print('locked', flush=True)\n\
             time.sleep({seconds})\n\
             c.execute('COMMIT')\n"
        );
        let mut child = std::process::Command::new("python3")
            .args(["-c", &script])
            .arg(path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked", "the other process holds the lock");
        Self(child)
    }
}

impl Drop for ForeignLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reading the queue (`status`, `failed list`, the supervisor's scan) never
/// waits for the write lock: another process holding it changes nothing.
#[tokio::test]
async fn read_only_queries_do_not_wait_for_the_write_lock() {
    let scratch = Scratch::new("readers");
    let queue = driver_on(&scratch.db(), Duration::from_millis(500));
    for n in 0..3 {
        dispatch(&queue, n).await;
    }
    let job = claim_one(&queue, "w", Duration::from_secs(30)).await;
    queue.fail(&job, "w", "for the failed store").await.unwrap();

    let lock = ForeignLock::hold(&scratch.db(), 30);
    // A second handle, as the `status` command opens one.
    let reader = driver_on(&scratch.db(), Duration::from_millis(500));
    for queue in [&queue, &reader] {
        assert_eq!(depth(queue).await.0, 2);
        assert_eq!(queue.failed_count().await.unwrap(), 1);
        let failed = queue.failed_jobs(10).await.unwrap();
        assert_eq!(failed[0].error, "for the failed store");
        assert!(queue.failed_job(failed[0].id).await.unwrap().is_some());
    }
    // Writes do wait for it, and fail once the busy timeout has passed.
    assert!(
        queue
            .claim(&queues(), 1, "w", Duration::from_secs(30))
            .await
            .is_err()
    );
    drop(lock);
    assert_eq!(
        claim_one(&queue, "w", Duration::from_secs(30))
            .await
            .attempt,
        1
    );
}

/// Rewrites the stored columns of the job carrying event `n`.
fn corrupt(path: &Path, n: u64, assignments: &str) {
    let db = rusqlite::Connection::open(path).unwrap();
    let changed = db
        .execute(
            &format!(
                "UPDATE fastevent_jobs SET {assignments}
                  WHERE CAST(body AS TEXT) LIKE '%\"payload\":{{\"n\":{n},%'"
            ),
            [],
        )
        .unwrap();
    assert_eq!(changed, 1, "one row for event {n}");
}

/// Rows that another program wrote or edited by hand, with the wrong
/// types, go to the failed store with what they hold and the reason; every
/// other job keeps flowing, and the worker ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_rows_go_to_the_failed_store_and_every_other_job_flows() {
    let scratch = Scratch::new("poison");
    let queue = driver_on(&scratch.db(), Duration::from_secs(5));
    for n in 1000..1080 {
        dispatch(&queue, n).await;
    }
    let poisons = [
        (
            1000,
            "body = CAST(body AS TEXT)",
            "column body is TEXT, expected BLOB",
        ),
        // BLOBs: SQLite converts other values to a TEXT column's type.
        (
            1001,
            "listener = CAST(listener AS BLOB)",
            "column listener is BLOB, expected TEXT",
        ),
        (
            1002,
            "max_attempts = 'many'",
            "column max_attempts is TEXT, expected INTEGER",
        ),
        (
            1003,
            "job_id = X'00ff'",
            "column job_id is BLOB, expected TEXT",
        ),
        (
            1004,
            "signature = X'00'",
            "column signature is BLOB, expected TEXT or NULL",
        ),
        // Rows no claim can select: the queue as a BLOB, the time as TEXT.
        (
            1005,
            "queue = CAST(queue AS BLOB)",
            "column queue is BLOB, expected TEXT",
        ),
        (
            1006,
            "available_at = 'soon'",
            "column available_at is TEXT, expected INTEGER",
        ),
        (
            1007,
            "max_attempts = 0",
            "column max_attempts is 0, expected a count from 1",
        ),
    ];
    for (n, assignments, _) in &poisons {
        corrupt(&scratch.db(), *n, assignments);
    }

    let options = WorkerOptions {
        stop_when_empty: true,
        poll_interval: Duration::from_millis(10),
        ..WorkerOptions::default()
    };
    let run = Worker::new(Arc::new(queue.clone()), options, None).run(std::future::pending());
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the worker ends: no row stalls the queue");
    assert_eq!(report.stopped, StopReason::Empty);
    assert_eq!(report.succeeded, 72);

    let handled: BTreeSet<u64> = HANDLED.lock().unwrap().iter().copied().collect();
    let expected: BTreeSet<u64> = (1008..1080).collect();
    assert!(expected.is_subset(&handled), "every good job ran");
    let failed = queue.failed_jobs(100).await.unwrap();
    assert_eq!(failed.len(), poisons.len(), "{failed:#?}");
    for (_, _, reason) in &poisons {
        assert!(
            failed.iter().any(|f| f.error.contains(reason)),
            "a failed job says {reason:?}: {failed:#?}"
        );
    }
    // What they held is kept: the TEXT body, byte for byte.
    let text_body = failed
        .iter()
        .find(|f| f.error.contains("column body"))
        .unwrap();
    assert!(String::from_utf8_lossy(&text_body.body).contains("\"n\":1000"));
    assert_eq!(depth(&queue).await, (0, 0, 0));
}

/// A disk that fills up while many dispatches share a transaction: every
/// caller is told the truth. A dispatch that returned `Ok` is stored; one
/// that returned an error stored nothing (the application's retry of it is
/// no duplicate). Needs a small file system of its own: `.ci/run` mounts a
/// tmpfs and names it in `FASTEVENT_SMALL_DISK`. Three rounds, each on a
/// new file, since where the disk runs out in a transaction varies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_during_dispatch_tells_every_caller_the_truth() {
    let Some(disk) = std::env::var_os("FASTEVENT_SMALL_DISK") else {
        eprintln!("FASTEVENT_SMALL_DISK is not set: the full-disk test needs a small tmpfs");
        return;
    };
    for round in 0..3 {
        let dir = PathBuf::from(&disk).join(format!("full-{}-{round}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("queue.db");
        let (told_ok, told_err) = dispatch_until_full(&path).await;
        let stored = stored_events(&path);
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!(
            "round {round}: told Ok {}, told Err {}",
            told_ok.len(),
            told_err.len()
        );
        assert!(
            !told_ok.is_empty() && !told_err.is_empty(),
            "the disk filled up part way"
        );
        let stored_but_told_err: Vec<_> = stored.intersection(&told_err).collect();
        let told_ok_but_lost: Vec<_> = told_ok.difference(&stored).collect();
        assert!(
            stored_but_told_err.is_empty(),
            "stored, but the caller was told Err: {stored_but_told_err:?}"
        );
        assert!(
            told_ok_but_lost.is_empty(),
            "told Ok, but not stored: {told_ok_but_lost:?}"
        );
    }
}

/// 64 tasks dispatch 8 events each to a queue at `path`; returns the
/// events whose dispatch returned `Ok`, and those that returned an error.
async fn dispatch_until_full(path: &Path) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let defaults = JobDefaults {
        max_payload_bytes: 1 << 20,
        ..JobDefaults::default()
    };
    let options = SqliteOptions {
        path: path.to_path_buf(),
        synchronous: Synchronous::Normal,
        busy_timeout: Duration::from_secs(5),
    };
    let queue = SqliteDriver::new(options, defaults, None);
    // Large jobs make a transaction spill to the disk before its commit,
    // where a full disk makes SQLite roll the whole transaction back; the
    // small ones still fit in the space that rollback frees.
    let (large, small) = ("x".repeat(600_000), "x".repeat(100));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..64u64 {
        let (queue, large, small) = (queue.clone(), large.clone(), small.clone());
        tasks.spawn(async move {
            let mut outcomes = Vec::new();
            for i in 0..8u64 {
                let padding = if (task + i) % 2 == 0 { &large } else { &small };
                let event = Task {
                    n: task * 1000 + i,
                    padding: padding.clone(),
                };
                let result = fastevent::dispatch_to(&queue, event).await;
                outcomes.push((task * 1000 + i, result.is_ok()));
            }
            outcomes
        });
    }
    let (mut told_ok, mut told_err) = (BTreeSet::new(), BTreeSet::new());
    while let Some(outcomes) = tasks.join_next().await {
        for (n, ok) in outcomes.unwrap() {
            if ok {
                told_ok.insert(n)
            } else {
                told_err.insert(n)
            };
        }
    }
    (told_ok, told_err)
}

/// The events whose jobs the queue file at `path` holds.
fn stored_events(path: &Path) -> BTreeSet<u64> {
    let db = rusqlite::Connection::open(path).unwrap();
    let mut rows = db.prepare("SELECT body FROM fastevent_jobs").unwrap();
    rows.query_map([], |row| row.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|body| {
            let envelope: serde_json::Value = serde_json::from_slice(&body.unwrap()).unwrap();
            envelope["payload"]["n"].as_u64().unwrap()
        })
        .collect()
}
