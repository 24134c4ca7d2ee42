//! Chaos test of the PostgreSQL driver: dispatchers keep dispatching while
//! worker processes (this test binary, started again as a child) run the
//! jobs; the server is stopped and started again under them, and one worker
//! is killed with SIGKILL mid-job. Then everything drains.
//!
//! What must hold: every job whose `dispatch()` returned `Ok` is handled at
//! least once; `dispatch()` fails (within its timeout, never hanging) while
//! the server is down; the pools reconnect by themselves. Duplicates
//! (at-least-once) are counted and printed, not forbidden.
//!
//! It never touches the shared server: it makes a cluster of its own on
//! another loopback port (`tests/postgres/own-cluster.sh`, needs root) and
//! drops it when it ends, also when it fails. It runs only when asked and
//! when `FASTEVENT_POSTGRES_URL` is set, like the other PostgreSQL tests:
//!
//! ```text
//! FASTEVENT_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo test --test postgres_chaos -- --ignored --nocapture
//! ```
//!
//! `FASTEVENT_CHAOS_PG_PORT` moves the own cluster off its default port.

mod chaos_support;
mod postgres_own_cluster;
mod postgres_support;

use chaos_support::{WorkerProcesses, record, work_until_terminated};
use fastevent::driver::durable::{QueueAdmin, QueueDepth};
use fastevent::driver::postgres::{PostgresDriver, PostgresOptions};
use fastevent::job::JobDefaults;
use fastevent::{Event, listener};
use postgres_own_cluster::OwnCluster;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "FASTEVENT_PG_CHAOS_CHILD";
const CHILD_URL_ENV: &str = "FASTEVENT_PG_CHAOS_URL";
const SCHEMA_ENV: &str = "FASTEVENT_PG_CHAOS_SCHEMA";
const DIR_ENV: &str = "FASTEVENT_PG_CHAOS_DIR";
const PORT_ENV: &str = "FASTEVENT_CHAOS_PG_PORT";
const DEFAULT_PORT: u16 = 5479;

/// The driver's connection timeout in this test: a dispatch while the
/// server is down must fail after about this long.
const TIMEOUT: Duration = Duration::from_secs(2);
/// What a dispatch may take beyond [`TIMEOUT`] before it counts as hung.
const HANG_MARGIN: Duration = Duration::from_secs(3);
/// How long the server stays down.
const OUTAGE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct PgChaosJob {
    pub n: u64,
    pub millis: u64,
}

#[derive(Default)]
pub struct RecordPgChaosJob;

#[listener(on = PgChaosJob, tries = 5, backoff = "50ms")]
impl RecordPgChaosJob {
    async fn handle(&self, job: &PgChaosJob) -> Result<(), std::io::Error> {
        record(DIR_ENV, &format!("+{}", job.n))?;
        tokio::time::sleep(Duration::from_millis(job.millis)).await;
        record(DIR_ENV, &job.n.to_string())
    }
}

fn driver(url: &str, schema: &str) -> PostgresDriver {
    let options = PostgresOptions {
        schema: schema.to_string(),
        pool_size: 4,
        timeout: TIMEOUT,
        ..PostgresOptions::new(url)
    };
    PostgresDriver::new(options, JobDefaults::default(), None)
}

/// One `dispatch()`: its job number, when it started (since the test's
/// start), how long it took, and its error if it failed.
struct Attempt {
    n: u64,
    at: Duration,
    took: Duration,
    error: Option<String>,
}

/// Dispatches `PgChaosJob`s from `tasks` tasks until `until`.
async fn dispatch_until(
    driver: Arc<PostgresDriver>,
    tasks: u64,
    start: Instant,
    until: Instant,
) -> Vec<Attempt> {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let driver = driver.clone();
        handles.push(tokio::spawn(async move {
            let mut attempts = Vec::new();
            let mut i = 0;
            while Instant::now() < until {
                let n = i * tasks + task;
                i += 1;
                let at = start.elapsed();
                let job = PgChaosJob { n, millis: 20 };
                let result = fastevent::dispatch_to(driver.as_ref(), job).await;
                let took = start.elapsed() - at;
                let error = result.err().map(|e| e.to_string());
                attempts.push(Attempt { n, at, took, error });
                tokio::time::sleep(Duration::from_millis(8)).await;
            }
            attempts
        }));
    }
    let mut attempts = Vec::new();
    for handle in handles {
        attempts.extend(handle.await.unwrap());
    }
    attempts
}

/// The outage, since the start: the stop was asked for at `stopping` and
/// done at `down`; the start asked for at `starting`, and the server took
/// connections again at `up`. From `down` to `starting` it was certainly
/// down.
struct Outage {
    stopping: Duration,
    down: Duration,
    starting: Duration,
    up: Duration,
}

/// Waits until the queue has no job left (none ready, running or delayed);
/// its depth at the last look.
async fn wait_empty(driver: &PostgresDriver, limit: Duration) -> Vec<QueueDepth> {
    let deadline = Instant::now() + limit;
    loop {
        let depth = driver.depth().await.unwrap_or_default();
        let left: u64 = depth.iter().map(|d| d.ready + d.running + d.delayed).sum();
        if left == 0 || Instant::now() > deadline {
            return depth;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops and starts a PostgreSQL cluster of its own; run with --ignored"]
async fn server_restart_and_a_killed_worker_lose_no_dispatched_job() {
    let Some(port) = postgres_own_cluster::port_if_on(PORT_ENV, DEFAULT_PORT) else {
        return;
    };
    // Dropped last: the workers (declared after it) are killed first.
    let cluster = OwnCluster::start("chaos", port, PORT_ENV);
    // The whole cluster is dropped at the end, so no DropSchema here.
    let schema = postgres_support::fresh_schema("chaos");
    let driver = Arc::new(driver(&cluster.url, &schema));
    driver.depth().await.expect("the tables are made");
    let env = [
        (CHILD_ENV, "1"),
        (CHILD_URL_ENV, &cluster.url),
        (SCHEMA_ENV, &schema),
    ];
    let mut workers = WorkerProcesses::new(&schema, DIR_ENV, &env);
    for _ in 0..3 {
        workers.spawn();
    }

    let start = Instant::now();
    let dispatching = tokio::spawn(dispatch_until(
        driver.clone(),
        4,
        start,
        start + Duration::from_secs(16),
    ));
    let (outage, killed) = chaos(&cluster, &mut workers, start).await;
    let attempts = dispatching.await.unwrap();
    check(&driver, &workers, &attempts, &outage, killed).await;
}

/// The worker killed mid-job: its process id and the jobs it was running.
struct Killed {
    pid: u32,
    running: BTreeSet<u64>,
}

/// The faults, in order: the server stopped for [`OUTAGE`] under
/// dispatchers and workers, then, once jobs flow again, a worker killed
/// while it runs a job, and a new one in its place.
async fn chaos(
    cluster: &OwnCluster,
    workers: &mut WorkerProcesses,
    start: Instant,
) -> (Outage, Killed) {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopping = start.elapsed();
    cluster.stop();
    let down = start.elapsed();
    println!("chaos: server stopping at {stopping:?}, stopped at {down:?}");
    tokio::time::sleep(OUTAGE).await;
    let starting = start.elapsed();
    cluster.start_again();
    let up = start.elapsed();
    println!("chaos: server starting at {starting:?}, accepting connections at {up:?}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (pid, running) = workers.kill_first_mid_job();
    println!(
        "chaos: worker {pid} killed at {:?}, running jobs {running:?}",
        start.elapsed()
    );
    let killed = Killed { pid, running };
    workers.spawn();
    let outage = Outage {
        stopping,
        down,
        starting,
        up,
    };
    (outage, killed)
}

async fn check(
    driver: &PostgresDriver,
    workers: &WorkerProcesses,
    attempts: &[Attempt],
    outage: &Outage,
    killed: Killed,
) {
    let accepted: BTreeSet<u64> = attempts
        .iter()
        .filter(|a| a.error.is_none())
        .map(|a| a.n)
        .collect();
    let missing = workers
        .wait_handled(&accepted, Duration::from_secs(120))
        .await;
    let depth = wait_empty(driver, Duration::from_secs(60)).await;
    let failed = driver.failed_count().await.unwrap();
    report(workers, attempts, &accepted, &missing, failed, killed.pid);
    check_rerun(workers, &killed);
    check_dispatches(attempts, outage);
    check_reconnected(workers, attempts, outage);
    assert!(
        missing.is_empty(),
        "{} job(s) whose dispatch returned Ok were never handled: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    let left: u64 = depth.iter().map(|d| d.ready + d.running + d.delayed).sum();
    assert_eq!(left, 0, "the queue drains: {depth:?}");
}

fn report(
    workers: &WorkerProcesses,
    attempts: &[Attempt],
    accepted: &BTreeSet<u64>,
    missing: &[u64],
    failed: u64,
    killed: u32,
) {
    let (counts, per_worker) = workers.handled();
    let duplicates: u32 = counts.values().map(|c| c - 1).sum();
    let unexpected = counts.keys().filter(|n| !accepted.contains(n)).count();
    let errors: Vec<&Attempt> = attempts.iter().filter(|a| a.error.is_some()).collect();
    let slowest = attempts.iter().map(|a| a.took).max().unwrap_or_default();
    println!(
        "chaos: {} dispatched Ok, {} dispatch errors, {} handled, {} lost, {duplicates} duplicate run(s), \
         {unexpected} handled though their dispatch failed, {failed} in the failed store; slowest dispatch {slowest:?}",
        accepted.len(),
        errors.len(),
        counts.len(),
        missing.len(),
    );
    let shares: BTreeMap<u32, usize> = per_worker.iter().map(|(p, n)| (*p, n.len())).collect();
    println!("chaos: jobs per worker process (killed: {killed}): {shares:?}");
    if let Some(first) = errors.first() {
        println!(
            "chaos: first dispatch error, at {:?} after {:?}: {}",
            first.at,
            first.took,
            first.error.as_deref().unwrap_or_default()
        );
    }
}

/// While the server was down, dispatches failed, each within the driver's
/// timeout and a margin: none hung. (A dispatch that started during the
/// outage may still succeed: it waits up to the timeout for a connection,
/// and the server may be back by then.)
fn check_dispatches(attempts: &[Attempt], outage: &Outage) {
    let slowest = attempts.iter().max_by_key(|a| a.took).unwrap();
    assert!(
        slowest.took <= TIMEOUT + HANG_MARGIN,
        "a dispatch took {:?} (started at {:?}): more than the timeout {TIMEOUT:?} + {HANG_MARGIN:?}",
        slowest.took,
        slowest.at
    );
    let started_in = |a: &&Attempt| a.at >= outage.stopping && a.at < outage.starting;
    let (started, failed) = (
        attempts.iter().filter(started_in).count(),
        attempts
            .iter()
            .filter(started_in)
            .filter(|a| a.error.is_some())
            .count(),
    );
    let ended_down = |a: &&Attempt| (outage.down..outage.starting).contains(&(a.at + a.took));
    let errors_while_down = attempts
        .iter()
        .filter(ended_down)
        .filter(|a| a.error.is_some())
        .count();
    println!(
        "chaos: {started} dispatches started between the stop and the start ({failed} failed, the rest \
         succeeded once the server was back); {errors_while_down} returned an error while it was down"
    );
    assert!(
        errors_while_down > 0,
        "dispatch() returns errors while the server is down"
    );
    for a in attempts.iter().filter(|a| a.error.is_some()) {
        let error = a.error.as_deref().unwrap_or_default();
        assert!(
            error.contains("PostgreSQL at postgres://"),
            "a dispatch error names the server: {error}"
        );
    }
}

/// The pools reconnected by themselves: the dispatcher's dispatches
/// succeed again after the outage, and each worker process that lived
/// through it handled jobs dispatched after it.
fn check_reconnected(workers: &WorkerProcesses, attempts: &[Attempt], outage: &Outage) {
    let after: BTreeSet<u64> = attempts
        .iter()
        .filter(|a| a.at > outage.up && a.error.is_none())
        .map(|a| a.n)
        .collect();
    let first_ok = attempts
        .iter()
        .filter(|a| a.at > outage.down && a.error.is_none())
        .map(|a| a.at + a.took)
        .min();
    println!(
        "chaos: {} dispatched Ok after the server was back; first Ok after the stop completed at {first_ok:?}",
        after.len()
    );
    assert!(
        after.len() > 100,
        "dispatches succeed again after the restart"
    );
    let (_, per_worker) = workers.handled();
    // The last child is the one started after the kill.
    let survivors = &workers.children[..workers.children.len() - 1];
    for pid in survivors.iter().map(std::process::Child::id) {
        let handled_after = per_worker
            .get(&pid)
            .map_or(0, |jobs| jobs.iter().filter(|n| after.contains(n)).count());
        assert!(
            handled_after > 0,
            "worker {pid} lived through the outage but handled no job dispatched after it"
        );
    }
}

/// The jobs the killed worker was running were run again, to the end, by
/// other workers once their lease ran out.
fn check_rerun(workers: &WorkerProcesses, killed: &Killed) {
    assert!(!killed.running.is_empty(), "the worker was killed mid-job");
    let (_, per_worker) = workers.handled();
    for n in &killed.running {
        let by: Vec<u32> = per_worker
            .iter()
            .filter(|(pid, jobs)| **pid != killed.pid && jobs.contains(n))
            .map(|(pid, _)| *pid)
            .collect();
        println!("chaos: job {n}, killed mid-way, handled again by worker(s) {by:?}");
        assert!(!by.is_empty(), "job {n} of the killed worker runs again");
    }
}

/// A worker process of the test above; does nothing otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_worker() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let url = std::env::var(CHILD_URL_ENV).unwrap();
    let schema = std::env::var(SCHEMA_ENV).unwrap();
    let queue = Arc::new(driver(&url, &schema));
    work_until_terminated(queue, Duration::from_millis(500), Duration::from_secs(4)).await;
}
