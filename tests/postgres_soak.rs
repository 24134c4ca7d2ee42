//! Soak test of the PostgreSQL driver: many jobs through the driver at a
//! steady rate (batches of dispatches while in-process workers run them),
//! watching the size of the job table. Every job is a row inserted, updated by its claim
//! and deleted: unless vacuum keeps up, the table and its index grow with
//! the number of jobs ever run instead of with the number waiting.
//!
//! The driver leaves its table's upkeep to autovacuum (with per-table
//! settings that make it eager), so the soak needs a server that runs it:
//! the one of `FASTEVENT_POSTGRES_URL` if its `autovacuum` is on, else a
//! cluster of the test's own with PostgreSQL's defaults (see
//! `postgres_own_cluster`; `FASTEVENT_SOAK_PG_PORT` moves it).
//!
//! The documented figure is 1,000,000 jobs; the count is
//! `FASTEVENT_SOAK_JOBS` (default 200,000: about 7 minutes at the default
//! rate, `FASTEVENT_SOAK_RATE` jobs/s, 500; 1,000,000 take 33 minutes):
//!
//! ```text
//! FASTEVENT_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres FASTEVENT_SOAK_JOBS=1000000 \
//!     cargo test --release --test postgres_soak -- --ignored --nocapture
//! ```

mod postgres_own_cluster;
mod postgres_support;

use fastevent::driver::durable::QueueAdmin;
use fastevent::driver::postgres::PostgresDriver;
use fastevent::driver::postgres::sqlx::{self, Connection, PgConnection};
use fastevent::worker::{Worker, WorkerOptions};
use fastevent::{Event, listener};
use postgres_own_cluster::OwnCluster;
use postgres_support::DropSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const JOBS_ENV: &str = "FASTEVENT_SOAK_JOBS";
const RATE_ENV: &str = "FASTEVENT_SOAK_RATE";
const DEFAULT_RATE: u64 = 500;
const PORT_ENV: &str = "FASTEVENT_SOAK_PG_PORT";
const DEFAULT_PORT: u16 = 5478;
const DEFAULT_JOBS: u64 = 200_000;
/// Jobs dispatched at a time, from this many tasks.
const BATCH: u64 = 1_000;
const DISPATCHERS: u64 = 32;
/// The next batch goes out once at most this many jobs are left: the
/// workers never run dry, and the live rows stay under BATCH + BACKLOG.
const BACKLOG: u64 = 2_000;
/// Size samples taken during the run.
const SAMPLES: u64 = 20;

static HANDLED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct SoakJob {
    pub n: u64,
}

#[derive(Default)]
pub struct CountSoakJob;

#[listener(on = SoakJob)]
impl CountSoakJob {
    async fn handle(&self, _job: &SoakJob) {
        HANDLED.fetch_add(1, Ordering::SeqCst);
    }
}

/// The job table as the server sees it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    jobs_done: u64,
    seconds: f64,
    /// Table, index and TOAST, in bytes.
    total_bytes: i64,
    live_rows: i64,
    dead_rows: i64,
    autovacuums: i64,
}

impl Sample {
    fn print(&self, label: &str) {
        println!(
            "soak: {label:>7} {:>9} jobs  {:>7.1} s  {:>8.2} MiB  live {:>6}  dead {:>7}  autovacuums {}",
            self.jobs_done,
            self.seconds,
            self.total_bytes as f64 / 1048576.0,
            self.live_rows,
            self.dead_rows,
            self.autovacuums
        );
    }
}

/// Reads the job table's size and row counts on a connection of its own.
struct Gauge {
    connection: PgConnection,
    table: String,
    start: Instant,
}

impl Gauge {
    async fn open(url: &str, schema: &str) -> Self {
        Self {
            connection: PgConnection::connect(url).await.unwrap(),
            table: format!("{schema}.fastevent_jobs"),
            start: Instant::now(),
        }
    }

    async fn sample(&mut self) -> Sample {
        let (total_bytes, live_rows, dead_rows, autovacuums): (i64, i64, i64, i64) =
            sqlx::query_as(
                "SELECT pg_total_relation_size($1::regclass), n_live_tup, n_dead_tup, autovacuum_count
                   FROM pg_stat_user_tables WHERE relid = $1::regclass",
            )
            .bind(&self.table)
            .fetch_one(&mut self.connection)
            .await
            .unwrap();
        Sample {
            jobs_done: HANDLED.load(Ordering::SeqCst),
            seconds: self.start.elapsed().as_secs_f64(),
            total_bytes,
            live_rows,
            dead_rows,
            autovacuums,
        }
    }
}

fn number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| v.replace('_', "").parse().expect("a number"))
        .unwrap_or(default)
        .max(1)
}

/// Jobs waiting, delayed or running.
async fn left(driver: &PostgresDriver) -> u64 {
    let depth = driver.depth().await.unwrap();
    depth.iter().map(|d| d.ready + d.running + d.delayed).sum()
}

/// Dispatches jobs `from..to` from [`DISPATCHERS`] tasks.
async fn dispatch_batch(driver: &Arc<PostgresDriver>, from: u64, to: u64) {
    let tasks: Vec<_> = (0..DISPATCHERS)
        .map(|task| {
            let driver = driver.clone();
            tokio::spawn(async move {
                for n in (from + task..to).step_by(DISPATCHERS as usize) {
                    let sent = fastevent::dispatch_to(driver.as_ref(), SoakJob { n }).await;
                    assert_eq!(sent.expect("dispatch").jobs, 1);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// In-process workers until `stop` is sent.
fn start_workers(
    driver: &Arc<PostgresDriver>,
    stop: &tokio::sync::watch::Sender<bool>,
) -> Vec<tokio::task::JoinHandle<fastevent::worker::WorkerReport>> {
    (0..2)
        .map(|_| {
            let options = WorkerOptions {
                concurrency: 32,
                ..WorkerOptions::default()
            };
            let mut stopped = stop.subscribe();
            let worker = Worker::new(driver.clone(), options, None);
            tokio::spawn(worker.run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            }))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs for minutes; run with --ignored"]
async fn the_job_table_stays_bounded_under_sustained_load() {
    let Some(shared) = postgres_support::url() else {
        return;
    };
    let (url, _cluster) = server(shared).await;
    let total = number(JOBS_ENV, DEFAULT_JOBS);
    let schema = postgres_support::fresh_schema("soak");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let driver = Arc::new(postgres_support::driver(&url, &schema, None));
    assert_eq!(left(&driver).await, 0, "the tables are made");
    let mut gauge = Gauge::open(&url, &schema).await;
    let before = gauge.sample().await;
    before.print("before");

    let (stop, _) = tokio::sync::watch::channel(false);
    let workers = start_workers(&driver, &stop);
    let samples = run(&driver, &mut gauge, total).await;
    let started = Instant::now();
    while HANDLED.load(Ordering::SeqCst) < total || left(&driver).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the queue drains"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    for worker in workers {
        worker.await.unwrap();
    }
    let after = gauge.sample().await;
    after.print("after");
    check(&driver, total, &samples, &after).await;
}

/// The server to soak: `shared` if autovacuum runs there, else a cluster
/// of this test's own (dropped with the returned guard, after the schema).
async fn server(shared: String) -> (String, Option<OwnCluster>) {
    let mut connection = PgConnection::connect(&shared).await.unwrap();
    let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    if autovacuum == "on" {
        return (shared, None);
    }
    assert!(
        postgres_own_cluster::can_make_clusters(),
        "autovacuum is off on the server at {}, so no table of it stays bounded; \
         the soak needs one with autovacuum on, or root and pg_createcluster to make one",
        postgres_support::URL_ENV
    );
    let port = postgres_own_cluster::port(PORT_ENV, DEFAULT_PORT);
    println!(
        "soak: autovacuum is off on the shared server: soaking a cluster of its own on port {port}"
    );
    let cluster = OwnCluster::start("soak", port, PORT_ENV);
    (cluster.url.clone(), Some(cluster))
}

/// Dispatches `total` jobs in batches, at most [`RATE_ENV`] a second: a
/// steady load, so that each autovacuum cycle sees as many jobs as the
/// last, whatever else the machine does. Samples the table as it goes.
async fn run(driver: &Arc<PostgresDriver>, gauge: &mut Gauge, total: u64) -> Vec<Sample> {
    let rate = number(RATE_ENV, DEFAULT_RATE);
    let every = (total / SAMPLES).max(1);
    let mut samples = Vec::new();
    let mut sent = 0;
    let start = tokio::time::Instant::now();
    while sent < total {
        tokio::time::sleep_until(start + Duration::from_secs_f64(sent as f64 / rate as f64)).await;
        let to = (sent + BATCH).min(total);
        dispatch_batch(driver, sent, to).await;
        sent = to;
        while left(driver).await > BACKLOG {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if sent / every > samples.len() as u64 {
            let sample = gauge.sample().await;
            sample.print("during");
            samples.push(sample);
        }
    }
    samples
}

async fn check(driver: &PostgresDriver, total: u64, samples: &[Sample], after: &Sample) {
    let handled = HANDLED.load(Ordering::SeqCst);
    let seconds = after.seconds;
    println!(
        "soak: {total} jobs dispatched, {handled} handled in {seconds:.1} s ({:.0} jobs/s)",
        total as f64 / seconds
    );
    assert_eq!(handled, total, "each job handled once (no fault here)");
    assert_eq!(left(driver).await, 0, "the queue ends empty");
    assert_eq!(driver.failed_count().await.unwrap(), 0, "no job failed");
    check_bounded(samples, after);
}

/// Every job leaves dead row versions in the table and its indexes until
/// autovacuum frees their space for reuse; so at a steady rate the table
/// grows for about one visit's worth of jobs, then holds (its size follows
/// the rate: an unpaced run grew from 17 to 43 MiB as the machine got
/// faster). The steady state is the largest size in the first half of the
/// run, which must hold two autovacuum visits at least; every later size,
/// and the size at the end, must stay within 1.75 times that. A table
/// whose space is never reused grows with the jobs: at the end it is twice
/// its size at half time. (The first version of this check took the
/// largest size up to the second visit; with visits every 5 s, as CI runs
/// it, that came before the table reached its working size: 1.63 MiB,
/// against 2.15 by half time and 3.40 at most later.)
fn check_bounded(samples: &[Sample], after: &Sample) {
    let half = after.seconds / 2.0;
    let first_half: Vec<&Sample> = samples.iter().filter(|s| s.seconds <= half).collect();
    let visits = first_half.last().map_or(0, |s| s.autovacuums);
    assert!(
        visits >= 2,
        "the table was autovacuumed {visits} time(s) in the first half of the run: too short to judge (raise {JOBS_ENV})"
    );
    let steady = first_half.iter().map(|s| s.total_bytes).max().unwrap();
    let later = samples.iter().filter(|s| s.seconds > half).chain([after]);
    let largest = later.map(|s| s.total_bytes).max().unwrap();
    let mib = |bytes: i64| bytes as f64 / 1048576.0;
    println!(
        "soak: steady state {:.2} MiB (largest in the first half, {visits} autovacuums); largest after it {:.2} MiB ({:.2}x); \
         at the end {:.2} MiB",
        mib(steady),
        mib(largest),
        largest as f64 / steady as f64,
        mib(after.total_bytes)
    );
    assert!(
        largest * 4 <= steady * 7,
        "the job table grew to {:.2} MiB, more than 1.75 times its steady state of {:.2} MiB",
        mib(largest),
        mib(steady)
    );
}
