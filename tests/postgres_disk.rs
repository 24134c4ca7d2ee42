//! The PostgreSQL driver on a disk that fills up for real: a cluster of the
//! test's own whose data directory is on a small tmpfs, and dispatchers
//! that write big jobs until PostgreSQL runs out of space, and go on a
//! while.
//!
//! What must hold: every failed `dispatch()` says why (the disk is full, or
//! the server went away while it dealt with that), none hangs past the
//! driver's timeout plus a margin, and once space is freed every job whose
//! dispatch returned `Ok` is in the queue exactly once, and dispatching
//! works again.
//!
//! The tmpfs is mounted and unmounted by `tests/postgres/own-cluster.sh`
//! (root); the cluster and its disk are dropped when the test ends, also
//! when it fails. It runs only when asked and when `FASTEVENT_POSTGRES_URL`
//! is set, like the other PostgreSQL tests:
//!
//! ```text
//! FASTEVENT_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo test --test postgres_disk -- --ignored --nocapture
//! ```
//!
//! `FASTEVENT_DISK_PG_PORT` moves the own cluster off its default port.

mod postgres_own_cluster;
mod postgres_support;

use fastevent::driver::durable::{QueueAdmin, WorkQueue};
use fastevent::driver::postgres::{PostgresDriver, PostgresOptions};
use fastevent::job::JobDefaults;
use fastevent::{Event, listener};
use postgres_own_cluster::OwnCluster;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PORT_ENV: &str = "FASTEVENT_DISK_PG_PORT";
const DEFAULT_PORT: u16 = 5481;

/// The tmpfs, in MiB: a fresh cluster with 1 MiB WAL segments takes about
/// 29 MiB of it (measured: 22 MiB of databases, 6 MiB of WAL).
const DISK_MB: &str = "48";
/// WAL in segments of 1 MiB instead of 16: on a small disk one 16 MiB
/// segment would be a third of it, where on a real disk the WAL is a small
/// part. At most 4 MiB of WAL (2 MiB kept) makes checkpoints recycle
/// segments often, so the tables fill the disk, as they do on a real one.
const INITDB_OPTIONS: &str = "--wal-segsize=1";
const CONF: &str = "min_wal_size = 2MB\nmax_wal_size = 4MB";
/// The free space the ballast leaves for the jobs: about 128 jobs, and
/// half a PostgreSQL block. A disk's free space is seldom a multiple of
/// 8 KiB: the last block the server adds to a table is then written in part.
const ROOM: u64 = (8 << 20) + 4096;
/// A job's payload: incompressible, so TOAST compression cannot shrink it.
const PAYLOAD: usize = 64 << 10;

/// The driver's connection timeout in this test.
const TIMEOUT: Duration = Duration::from_secs(2);
/// What a dispatch may take beyond [`TIMEOUT`] before it counts as hung.
const HANG_MARGIN: Duration = Duration::from_secs(5);
/// Dispatching tasks.
const TASKS: u64 = 6;
/// How long they go on after the first error: the server meanwhile writes
/// WAL for the failed inserts, and its checkpoints meet the full disk too.
const FULL_FOR: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct DiskJob {
    pub n: u64,
    pub padding: String,
}

#[derive(Default)]
pub struct RunDiskJob;

#[listener(on = DiskJob, tries = 1)]
impl RunDiskJob {
    async fn handle(&self, _job: &DiskJob) {}
}

fn driver(url: &str, schema: &str) -> PostgresDriver {
    let options = PostgresOptions {
        schema: schema.to_string(),
        pool_size: 4,
        timeout: TIMEOUT,
        ..PostgresOptions::new(url)
    };
    let defaults = JobDefaults {
        max_payload_bytes: 1 << 20,
        ..JobDefaults::default()
    };
    PostgresDriver::new(options, defaults, None)
}

/// `len` characters of a 64-letter alphabet from a generator seeded with
/// `seed`: no repeats for pglz to find.
fn noise(seed: u64, len: usize) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            LETTERS[(x >> 58) as usize] as char
        })
        .collect()
}

/// One `dispatch()`: its job number, when it started (since the first
/// dispatch), how long it took, and its error if it failed.
struct Attempt {
    n: u64,
    at: Duration,
    took: Duration,
    error: Option<String>,
}

/// [`TASKS`] tasks dispatch big jobs until [`FULL_FOR`] after the first
/// error, or until `limit`.
async fn dispatch_until_full(driver: Arc<PostgresDriver>, limit: Duration) -> Vec<Attempt> {
    let start = Instant::now();
    // Milliseconds from the start to the first error (0: none yet).
    let first_error = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let (driver, first_error) = (driver.clone(), first_error.clone());
        tasks.spawn(async move {
            let mut attempts: Vec<Attempt> = Vec::new();
            let go_on = || match first_error.load(Ordering::SeqCst) {
                0 => start.elapsed() < limit,
                ms => start.elapsed() < Duration::from_millis(ms) + FULL_FOR,
            };
            for i in 0.. {
                if !go_on() {
                    break;
                }
                let attempt = dispatch_one(&driver, task * 1_000_000 + i, start).await;
                if attempt.error.is_some() {
                    let ms = (attempt.at.as_millis() as u64).max(1);
                    let _ = first_error.compare_exchange(0, ms, Ordering::SeqCst, Ordering::SeqCst);
                    // A full disk answers at once: no hot loop.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                attempts.push(attempt);
            }
            attempts
        });
    }
    let mut attempts = Vec::new();
    while let Some(done) = tasks.join_next().await {
        attempts.extend(done.unwrap());
    }
    attempts
}

async fn dispatch_one(driver: &PostgresDriver, n: u64, start: Instant) -> Attempt {
    let job = DiskJob {
        n,
        padding: noise(n, PAYLOAD),
    };
    let at = start.elapsed();
    let result = fastevent::dispatch_to(driver, job).await;
    let took = start.elapsed() - at;
    let error = result.err().map(|e| e.to_string());
    Attempt { n, at, took, error }
}

/// What an error message says happened, or `None` when it does not say.
fn cause(message: &str) -> Option<&'static str> {
    let disk_full = ["No space left on device", "out of disk space"];
    let server_gone = [
        "terminating connection",
        "the database system is",
        "cannot reach PostgreSQL",
        "no connection to PostgreSQL",
        "server closed the connection",
        "is the server shutting down or restarting?",
    ];
    if disk_full.iter().any(|s| message.contains(s)) {
        Some("disk full")
    } else if server_gone.iter().any(|s| message.contains(s)) {
        Some("server gone")
    } else {
        None
    }
}

/// A file taking all the free space of `disk` but `room`; its size.
fn place_ballast(disk: &Path, room: u64) -> u64 {
    let free = free_bytes(disk);
    let size = free.saturating_sub(room);
    let ballast = std::fs::File::create(disk.join("ballast")).unwrap();
    // Written, not `set_len`: a sparse file would take no space.
    let chunk = vec![0u8; 1 << 20];
    let mut left = size;
    let mut writer = std::io::BufWriter::new(ballast);
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        std::io::Write::write_all(&mut writer, &chunk[..n]).unwrap();
        left -= n as u64;
    }
    std::io::Write::flush(&mut writer).unwrap();
    size
}

fn free_bytes(disk: &Path) -> u64 {
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(disk)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1).unwrap().trim().parse().unwrap()
}

/// Whether the cluster's server runs (`pg_ctlcluster status`: 0 when it
/// does, 3 when it does not).
fn server_runs(cluster: &OwnCluster) -> bool {
    Command::new("pg_ctlcluster")
        .args(["15", &cluster.name, "status"])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The lines of the cluster's log that say what the server did about the
/// full disk.
fn server_log(cluster: &OwnCluster) -> Vec<String> {
    let path = format!("/var/log/postgresql/postgresql-15-{}.log", cluster.name);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let telling = [
        "PANIC",
        "ERROR",
        "terminated by signal",
        "shut down",
        "ready to accept",
    ];
    text.lines()
        .filter(|l| telling.iter().any(|t| l.contains(t)))
        .map(|l| l.chars().take(220).collect())
        .collect()
}

/// Claims every job in the queue; job number -> times found.
async fn claim_everything(driver: &PostgresDriver) -> BTreeMap<u64, u32> {
    let queues = vec!["default".to_string()];
    let lease = Duration::from_secs(600);
    let mut found = BTreeMap::new();
    loop {
        let jobs = driver.claim(&queues, 50, "checker", lease).await.unwrap();
        if jobs.is_empty() {
            return found;
        }
        for job in &jobs {
            let envelope: serde_json::Value = serde_json::from_slice(&job.body).unwrap();
            *found
                .entry(envelope["payload"]["n"].as_u64().unwrap())
                .or_insert(0) += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fills the tmpfs of a PostgreSQL cluster of its own; run with --ignored"]
async fn a_full_disk_loses_no_dispatched_job_and_every_error_says_why() {
    let Some(port) = postgres_own_cluster::port_if_on(PORT_ENV, DEFAULT_PORT) else {
        return;
    };
    let settings = [
        ("OWN_CLUSTER_DISK_MB", DISK_MB),
        ("OWN_CLUSTER_INITDB_OPTIONS", INITDB_OPTIONS),
        ("OWN_CLUSTER_CONF", CONF),
    ];
    // Dropped at the end, also on failure: the cluster, then its tmpfs.
    let cluster = OwnCluster::start_with("disk", port, PORT_ENV, &settings);
    let schema = postgres_support::fresh_schema("disk");
    let driver = Arc::new(driver(&cluster.url, &schema));
    driver.depth().await.expect("the tables are made");
    let disk = cluster.disk();
    let free = free_bytes(&disk);
    let ballast = place_ballast(&disk, ROOM);
    println!(
        "disk: {DISK_MB} MiB tmpfs, {:.1} MiB free with the tables made, ballast {:.1} MiB",
        free as f64 / 1048576.0,
        ballast as f64 / 1048576.0
    );

    let attempts = dispatch_until_full(driver.clone(), Duration::from_secs(120)).await;
    report(&attempts);
    check_errors(&attempts);

    std::fs::remove_file(disk.join("ballast")).unwrap();
    recover(&cluster, port).await;
    check_queue(&driver, &attempts).await;
    check_dispatch_again(&driver).await;
}

/// Figures: how many dispatches returned Ok and Err, when the first error
/// came, the slowest dispatch, and samples of each error text.
fn report(attempts: &[Attempt]) {
    let errors: Vec<&Attempt> = attempts.iter().filter(|a| a.error.is_some()).collect();
    let first_error = errors.iter().map(|a| a.at).min();
    let slowest = attempts.iter().map(|a| a.took).max().unwrap_or_default();
    println!(
        "dispatches: {} Ok, {} Err; first error {first_error:?} after the first dispatch; slowest dispatch {slowest:?}",
        attempts.len() - errors.len(),
        errors.len()
    );
    let mut texts: BTreeMap<String, usize> = BTreeMap::new();
    for attempt in &errors {
        let text = attempt.error.clone().unwrap_or_default();
        // One sample per kind: numbers (blocks, file names) vary.
        let mut shape = String::new();
        for c in text.chars() {
            match (c.is_ascii_digit(), shape.ends_with('#')) {
                (true, true) => {}
                (true, false) => shape.push('#'),
                (false, _) => shape.push(c),
            }
        }
        *texts.entry(shape).or_insert(0) += 1;
    }
    for (text, count) in texts {
        println!("  {count} x {text}");
    }
}

fn check_errors(attempts: &[Attempt]) {
    let oks = attempts.iter().filter(|a| a.error.is_none()).count();
    let errors: Vec<&String> = attempts.iter().filter_map(|a| a.error.as_ref()).collect();
    assert!(oks > 0 && !errors.is_empty(), "the disk filled up part way");
    let unclear: Vec<&&String> = errors.iter().filter(|e| cause(e).is_none()).collect();
    assert!(
        unclear.is_empty(),
        "{} error(s) say neither that the disk is full nor that the server went away, e.g. {:?}",
        unclear.len(),
        unclear.first()
    );
    let limit = TIMEOUT + HANG_MARGIN;
    let hung: Vec<(u64, Duration)> = attempts
        .iter()
        .filter(|a| a.took > limit)
        .map(|a| (a.n, a.took))
        .collect();
    assert!(hung.is_empty(), "dispatches took over {limit:?}: {hung:?}");
}

/// After the ballast is gone: the server takes connections again, started
/// by hand only if it shut itself down.
async fn recover(cluster: &OwnCluster, port: u16) {
    let log = server_log(cluster);
    for line in log.iter().filter(|l| !l.contains(" ERROR: ")) {
        println!("  server: {line}");
    }
    let errors = log.iter().filter(|l| l.contains(" ERROR: ")).count();
    println!("  server: {errors} ERROR line(s) in its log");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if accepts_connections(port) {
            println!("the server kept running (or restarted itself)");
            return;
        }
        if !server_runs(cluster) {
            println!("the server shut itself down: starting it again");
            cluster.start_again();
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the server neither takes connections nor stopped within 30 s of the space freed");
}

fn accepts_connections(port: u16) -> bool {
    Command::new("pg_isready")
        .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// Every job told Ok is in the queue exactly once; jobs told Err that were
/// stored all the same are counted (the server can go away after a commit,
/// before its answer).
async fn check_queue(driver: &PostgresDriver, attempts: &[Attempt]) {
    let found = claim_everything(driver).await;
    let told_ok: BTreeSet<u64> = attempts
        .iter()
        .filter(|a| a.error.is_none())
        .map(|a| a.n)
        .collect();
    let lost: Vec<u64> = told_ok
        .iter()
        .filter(|n| !found.contains_key(n))
        .copied()
        .collect();
    let twice: Vec<(u64, u32)> = found
        .iter()
        .filter(|(_, times)| **times > 1)
        .map(|(n, times)| (*n, *times))
        .collect();
    let stored_but_err: Vec<(u64, &str)> = attempts
        .iter()
        .filter(|a| found.contains_key(&a.n))
        .filter_map(|a| Some((a.n, a.error.as_deref()?)))
        .collect();
    println!(
        "queue: {} job(s) found, {} told Ok, {} told Ok but lost, {} found more than once, {} told Err but stored {:?}",
        found.len(),
        told_ok.len(),
        lost.len(),
        twice.len(),
        stored_but_err.len(),
        stored_but_err
    );
    assert!(lost.is_empty(), "told Ok, but not in the queue: {lost:?}");
    assert!(twice.is_empty(), "in the queue more than once: {twice:?}");
    assert_eq!(driver.failed_count().await.unwrap(), 0);
}

/// With space again, a dispatch works and its job can be claimed.
async fn check_dispatch_again(driver: &PostgresDriver) {
    let job = DiskJob {
        n: u64::MAX,
        padding: noise(7, PAYLOAD),
    };
    let started = Instant::now();
    let result = fastevent::dispatch_to(driver, job).await;
    println!(
        "a dispatch after space was freed: {result:?} in {:?}",
        started.elapsed()
    );
    result.expect("dispatching works again once there is space");
    let found = claim_everything(driver).await;
    assert_eq!(found.get(&u64::MAX), Some(&1), "the new job is queued once");
}
