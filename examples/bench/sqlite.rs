//! Section `sqlite`: the embedded durable queue end to end, with durable
//! commits (`synchronous = FULL`: every commit is fsynced).
//!
//! `D` tasks `dispatch()` N events with one trivial listener (each dispatch
//! returns once its job is committed), while `W` in-process workers of
//! concurrency `C` claim and run them; timed from the first dispatch to the
//! last listener call. The latency of each `dispatch().await` (the commit,
//! shared by the dispatches waiting at the same time) is recorded too.
//! Workers in other processes would add lock hand-overs between processes;
//! the `work` command and the conformance suite cover that shape.

use super::{CALLS, Row, Settings, Spread, Target, count_call, group, multi_thread_runtime};
use fastevent::driver::sqlite::{SqliteDriver, SqliteOptions, Synchronous};
use fastevent::job::JobDefaults;
use fastevent::worker::{Worker, WorkerOptions};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// SQLite commits cost ~50x a `sync` dispatch: N / this many per repetition.
const N_DIVISOR: u64 = 10;
/// Concurrent dispatching tasks (requests in flight).
const DISPATCHERS: u64 = 64;
/// In-process workers, and the concurrency of each.
const WORKERS: usize = 2;
const CONCURRENCY: usize = 128;

const TARGET_JOBS_PER_S: f64 = 20_000.0;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct SqliteBenchEvent {
    id: u64,
}

#[derive(Default)]
struct SqliteBenchListener;

#[listener(on = SqliteBenchEvent)]
impl SqliteBenchListener {
    async fn handle(&self, event: &SqliteBenchEvent) {
        count_call(event.id);
    }
}

struct Run {
    jobs_per_s: f64,
    latencies_ms: Vec<f64>,
}

pub(super) fn bench_sqlite(settings: &Settings) -> Result<Vec<Row>, String> {
    let n = (settings.n / N_DIVISOR).max(1000);
    let dir = std::env::temp_dir().join(format!("fastevent-bench-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    println!(
        "   {n} events per repetition in a fresh database under {}; {DISPATCHERS} dispatching tasks; \
         {WORKERS} in-process workers x {CONCURRENCY}; synchronous = FULL (fsync per commit)",
        dir.display()
    );
    let runtime = multi_thread_runtime(2)?;
    let mut throughput = Vec::new();
    let mut latencies = Vec::new();
    for rep in 0..=settings.reps {
        let path = dir.join(format!("queue-{rep}.db"));
        let run = runtime.block_on(one_run(&path, n))?;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        if rep == 0 {
            continue; // warm-up
        }
        println!("     repetition {rep}: {} jobs/s", group(run.jobs_per_s));
        throughput.push(run.jobs_per_s);
        latencies.extend(run.latencies_ms);
    }
    let _ = std::fs::remove_dir(&dir);
    let spread = Spread::of(&throughput);
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "   end to end         : median {} jobs/s   best {}",
        group(spread.median),
        group(Spread::max_of(&throughput))
    );
    println!(
        "   dispatch latency   : p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms   ({} dispatches)",
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
        latencies.len()
    );
    Ok(vec![Row {
        what: "sqlite end to end, durable commits".into(),
        median: spread.median,
        best: Spread::max_of(&throughput),
        unit: "jobs/s".into(),
        target: Target::AtLeast(TARGET_JOBS_PER_S),
    }])
}

async fn one_run(path: &std::path::Path, n: u64) -> Result<Run, String> {
    let options = SqliteOptions {
        path: path.to_path_buf(),
        synchronous: Synchronous::Full,
        busy_timeout: Duration::from_secs(5),
    };
    let driver = Arc::new(SqliteDriver::new(options, JobDefaults::default(), None));
    let calls_before = CALLS.load(Ordering::Relaxed);
    let done = move || CALLS.load(Ordering::Relaxed) - calls_before >= n;

    let started = Instant::now();
    let dispatchers: Vec<_> = (0..DISPATCHERS)
        .map(|task| {
            let driver = driver.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for id in (task..n).step_by(DISPATCHERS as usize) {
                    let sent = Instant::now();
                    fastevent::dispatch_to(driver.as_ref(), SqliteBenchEvent { id })
                        .await
                        .map_err(|e| format!("dispatch failed: {e}"))?;
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
                Ok::<_, String>(latencies)
            })
        })
        .collect();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let worker_options = WorkerOptions {
                concurrency: CONCURRENCY,
                poll_interval: Duration::from_millis(1),
                ..WorkerOptions::default()
            };
            let worker = Worker::new(driver.clone(), worker_options, None);
            tokio::spawn(worker.run(async move {
                while !done() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }))
        })
        .collect();
    let mut latencies_ms = Vec::with_capacity(n as usize);
    for dispatcher in dispatchers {
        latencies_ms.extend(dispatcher.await.map_err(|e| e.to_string())??);
    }
    let mut succeeded = 0;
    for worker in workers {
        succeeded += worker.await.map_err(|e| e.to_string())?.succeeded;
    }
    let elapsed = started.elapsed();
    if succeeded != n {
        return Err(format!(
            "{n} jobs dispatched, but the workers report {succeeded} succeeded"
        ));
    }
    Ok(Run {
        jobs_per_s: n as f64 / elapsed.as_secs_f64(),
        latencies_ms,
    })
}
