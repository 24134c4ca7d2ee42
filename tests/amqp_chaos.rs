//! Chaos tests of the RabbitMQ driver with a real broker: worker processes
//! (this test binary, started again as a child) share one queue while the
//! broker's application is stopped and started under them and one of them
//! is killed with SIGKILL mid-job.
//!
//! What must hold: every job whose `dispatch()` returned `Ok` is handled at
//! least once (so no dispatch reported success for a job the broker did not
//! keep); duplicates (at-least-once) are counted and printed, not forbidden.
//!
//! Runs when `FASTEVENT_AMQP_URL` is set (`.ci/run` sets it); the restart
//! needs `rabbitmqctl` (root). The two tests take turns: one of them stops
//! the broker. Each run deletes its queues and exchanges when it ends.

use fastevent::driver::Driver;
use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
use fastevent::job::JobDefaults;
use fastevent::{Event, listener};

mod amqp_support;
mod chaos_support;

use amqp_support::{URL_ENV, url};
use chaos_support::{WorkerProcesses, record, work_until_terminated};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "FASTEVENT_CHAOS_CHILD";
const PREFIX_ENV: &str = "FASTEVENT_CHAOS_PREFIX";
const DIR_ENV: &str = "FASTEVENT_CHAOS_DIR";

/// One test at a time: the broker restart would break the other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct ChaosJob {
    pub n: u64,
    pub millis: u64,
}

#[derive(Default)]
pub struct RecordChaosJob;

#[listener(on = ChaosJob, tries = 5, backoff = "50ms")]
impl RecordChaosJob {
    async fn handle(&self, job: &ChaosJob) -> Result<(), std::io::Error> {
        record(DIR_ENV, &format!("+{}", job.n))?;
        tokio::time::sleep(Duration::from_millis(job.millis)).await;
        record(DIR_ENV, &job.n.to_string())
    }
}

fn driver(url: &str, prefix: &str) -> AmqpDriver {
    let options = AmqpOptions {
        prefix: prefix.to_string(),
        queue_expires: Some(Duration::from_secs(600)),
        // Short, so that dispatches during the outage fail (and say so)
        // rather than all waiting for the broker to come back.
        operation_timeout: Duration::from_secs(1),
        ..AmqpOptions::new(url)
    };
    AmqpDriver::new(options, JobDefaults::default(), None)
}

/// A chaos run: its queues and its worker processes with their record
/// files.
struct Run {
    prefix: String,
    workers: WorkerProcesses,
    /// Dropped after the workers were killed: deletes the run's queues.
    _tidy: amqp_support::Tidy,
}

impl Run {
    fn new(url: String, name: &str) -> Self {
        let prefix = amqp_support::fresh_prefix(&format!("chaos-{name}"));
        let env = [(CHILD_ENV, "1"), (URL_ENV, &url), (PREFIX_ENV, &prefix)];
        Self {
            workers: WorkerProcesses::new(&prefix, DIR_ENV, &env),
            _tidy: amqp_support::Tidy::new(&url, &prefix),
            prefix,
        }
    }

    fn report(&self, label: &str, accepted: &BTreeSet<u64>, refused: usize) -> u32 {
        let (counts, per_worker) = self.workers.handled();
        let per_worker: BTreeMap<u32, usize> = per_worker
            .iter()
            .map(|(pid, jobs)| (*pid, jobs.len()))
            .collect();
        let duplicates: u32 = counts.values().map(|c| c - 1).sum();
        let unexpected = counts.keys().filter(|n| !accepted.contains(n)).count();
        println!(
            "{label}: {} dispatched Ok, {refused} dispatch errors, {} handled, {duplicates} duplicate run(s), \
             {unexpected} handled though their dispatch failed; jobs per worker process: {per_worker:?}",
            accepted.len(),
            counts.len(),
        );
        duplicates
    }
}

/// Dispatches `ChaosJob`s from `tasks` tasks until `until`; returns the
/// numbers whose dispatch returned `Ok`, the count of errors and the first.
async fn dispatch_until(
    driver: Arc<AmqpDriver>,
    tasks: u64,
    pause: Duration,
    millis: u64,
    until: Instant,
) -> (BTreeSet<u64>, usize, Option<String>) {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let driver = driver.clone();
        handles.push(tokio::spawn(async move {
            let (mut accepted, mut refused, mut first_error) = (Vec::new(), 0, None);
            let mut i = 0;
            while Instant::now() < until {
                let n = i * tasks + task;
                i += 1;
                let job = ChaosJob { n, millis };
                match fastevent::dispatch_to(driver.as_ref() as &dyn Driver, job).await {
                    Ok(dispatched) => {
                        assert_eq!(dispatched.jobs, 1);
                        accepted.push(n);
                    }
                    Err(error) => {
                        refused += 1;
                        first_error.get_or_insert(error.to_string());
                    }
                }
                tokio::time::sleep(pause).await;
            }
            (accepted, refused, first_error)
        }));
    }
    let (mut accepted, mut refused, mut first_error) = (BTreeSet::new(), 0, None);
    for handle in handles {
        let (ok, failed, error) = handle.await.unwrap();
        accepted.extend(ok);
        refused += failed;
        first_error = first_error.or(error);
    }
    (accepted, refused, first_error)
}

fn rabbitmqctl(args: &[&str]) -> bool {
    Command::new("rabbitmqctl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_and_a_killed_worker_lose_no_dispatched_job() {
    let Some(url) = url() else { return };
    let _serial = SERIAL.lock().await;
    if !rabbitmqctl(&["status"]) {
        eprintln!(
            "skipped: rabbitmqctl cannot reach the broker (it must run as root on the broker's machine)"
        );
        return;
    }
    let mut run = Run::new(url.clone(), "restart");
    let driver = Arc::new(driver(&url, &run.prefix));
    driver.declare("default").await.unwrap();
    for _ in 0..3 {
        run.workers.spawn();
    }

    let start = Instant::now();
    let dispatching = tokio::spawn(dispatch_until(
        driver.clone(),
        4,
        Duration::from_millis(8),
        20,
        start + Duration::from_secs(14),
    ));

    // The broker goes away under dispatchers and workers, and comes back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(rabbitmqctl(&["stop_app"]), "rabbitmqctl stop_app failed");
    println!("chaos: broker application stopped at {:?}", start.elapsed());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = rabbitmqctl(&["start_app"]);
    println!("chaos: broker application started at {:?}", start.elapsed());
    assert!(started, "rabbitmqctl start_app failed");

    // Once jobs flow again, a worker killed mid-job (jobs take 20ms, it
    // runs 4 at a time, and the workers are nearly saturated: it is busy),
    // and a new one in its place.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (pid, running) = run.workers.kill_first_mid_job();
    println!(
        "chaos: worker {pid} killed at {:?} while it ran job(s) {running:?}",
        start.elapsed()
    );
    run.workers.spawn();

    let (accepted, refused, first_error) = dispatching.await.unwrap();
    if let Some(error) = &first_error {
        println!("chaos: first dispatch error: {error}");
        assert!(
            error.contains("RabbitMQ at amqp://") && !error.contains(":guest@"),
            "a dispatch error names the broker, without its password: {error}"
        );
    }
    let missing = run
        .workers
        .wait_handled(&accepted, Duration::from_secs(120))
        .await;
    run.report("chaos", &accepted, refused);
    assert!(
        accepted.len() > 500,
        "too few dispatches succeeded: {}",
        accepted.len()
    );
    assert!(
        missing.is_empty(),
        "{} job(s) whose dispatch returned Ok were never handled: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    // Unacknowledged when their worker died: the broker delivers them again.
    let (_, per_worker) = run.workers.handled();
    for n in running {
        let by: Vec<u32> = per_worker
            .iter()
            .filter(|(other, jobs)| **other != pid && jobs.contains(&n))
            .map(|(other, _)| *other)
            .collect();
        println!("chaos: job {n}, killed mid-way, handled again by worker(s) {by:?}");
        assert!(!by.is_empty(), "job {n} of the killed worker runs again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_worker_processes_share_one_queue() {
    let Some(url) = url() else { return };
    let _serial = SERIAL.lock().await;
    let mut run = Run::new(url.clone(), "share");
    let driver = Arc::new(driver(&url, &run.prefix));
    driver.declare("default").await.unwrap();
    for _ in 0..3 {
        run.workers.spawn();
    }
    let (accepted, refused, first_error) = dispatch_until(
        driver,
        4,
        Duration::from_millis(2),
        20,
        Instant::now() + Duration::from_secs(3),
    )
    .await;
    assert_eq!(refused, 0, "{first_error:?}");
    let missing = run
        .workers
        .wait_handled(&accepted, Duration::from_secs(60))
        .await;
    let duplicates = run.report("share", &accepted, refused);
    assert!(missing.is_empty(), "jobs lost: {missing:?}");
    assert_eq!(duplicates, 0, "no failure, so no job runs twice");
    let (_, per_worker) = run.workers.handled();
    assert_eq!(
        per_worker.len(),
        3,
        "every worker process takes a share: {per_worker:?}"
    );
}

/// A worker process of the tests above; does nothing otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_worker() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let url = std::env::var(URL_ENV).unwrap();
    let prefix = std::env::var(PREFIX_ENV).unwrap();
    let queue = Arc::new(driver(&url, &prefix));
    work_until_terminated(queue, Duration::from_millis(200), Duration::from_secs(10)).await;
}
