//! Section `postgres`: fastevent on PostgreSQL end to end, against a
//! hand-written sqlx queue doing the same work, in the same run, on the
//! same server, with the same parallelism; durable commits
//! (`synchronous_commit = on`, asked for on every connection of both).
//!
//! - fastevent: `D` tasks `dispatch()` N events with one trivial listener
//!   (each dispatch returns once its job is committed), while `W`
//!   in-process workers of concurrency `C` claim and run them; timed from
//!   the first dispatch to the last listener call. Each `dispatch().await`
//!   is timed too.
//! - baseline: plain sqlx on a table of its own in a scratch schema: `D`
//!   tasks insert one row per job; `W` loops claim up to their free slots
//!   with `FOR UPDATE SKIP LOCKED` in a CTE that leases the rows, run each
//!   job on a task of its own and delete its row; they poll every 2 ms
//!   when nothing is ready. Same pool size as the driver's.
//! - baseline + NOTIFY: the same, each insert also sending a `pg_notify`
//!   in its transaction, as the driver's dispatch does (its workers still
//!   poll): what a notification in every dispatching commit costs.
//! - latency: events sent one at a time to idle workers: the time of
//!   `dispatch()` alone, and from just before it to the listener. Idle
//!   workers wait for a `NOTIFY`; without one they would look at their
//!   next poll, up to 1 s later.
//!
//! Skipped, with a message, when the server cannot be reached
//! (`FASTEVENT_POSTGRES_URL`, else `DATABASE_URL`, else the local default).

use super::latency::{now_ns, percentile, record_latency, take_latencies};
use super::postgres_support::{DropSchema, fresh_schema};
use super::{CALLS, Row, Settings, Spread, Target, count_call, group, multi_thread_runtime};
use fastevent::driver::postgres::sqlx::postgres::PgPoolOptions;
use fastevent::driver::postgres::sqlx::{self, Connection, PgConnection, PgPool};
use fastevent::driver::postgres::{PostgresDriver, PostgresOptions};
use fastevent::job::JobDefaults;
use fastevent::worker::{Worker, WorkerOptions};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Each job is three commits (insert, claim, delete): N / this many per
/// repetition.
const N_DIVISOR: u64 = 50;
/// Concurrent dispatching tasks (requests in flight).
const DISPATCHERS: u64 = 64;
/// In-process workers (baseline: claiming loops), and the jobs each runs
/// at once.
const WORKERS: usize = 2;
const CONCURRENCY: usize = 32;
/// Connections of each side: the driver's default.
const POOL: u32 = 10;
/// The baseline's pause when nothing is ready.
const BASELINE_POLL: Duration = Duration::from_millis(2);
/// Events sent one at a time for the latency figures.
const LATENCY_SAMPLES: usize = 300;

const TARGET_RATIO_PERCENT: f64 = 80.0;
const TARGET_P50_MS: f64 = 5.0;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct PostgresBenchEvent {
    id: u64,
    /// When it was dispatched (latency phase only; 0 otherwise).
    sent_ns: u64,
}

#[derive(Default)]
struct PostgresBenchListener;

#[listener(on = PostgresBenchEvent)]
impl PostgresBenchListener {
    async fn handle(&self, event: &PostgresBenchEvent) {
        if event.sent_ns != 0 {
            record_latency(event.sent_ns);
        }
        count_call(event.id);
    }
}

/// The server's URL, with durable commits asked for on each connection
/// whatever the server's default.
fn server_url() -> String {
    let url = ["FASTEVENT_POSTGRES_URL", "DATABASE_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| PostgresOptions::DEFAULT_URL.into());
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options[synchronous_commit]=on")
}

/// The server's durability settings as a session sees them, or why it
/// cannot be reached within 3 s.
async fn durability(url: &str) -> Result<String, String> {
    let probe = async {
        let mut connection = PgConnection::connect(url).await?;
        let row: (String, String) = sqlx::query_as(
            "SELECT current_setting('synchronous_commit'), current_setting('fsync')",
        )
        .fetch_one(&mut connection)
        .await?;
        connection.close().await?;
        Ok::<_, sqlx::Error>(format!("synchronous_commit = {}, fsync = {}", row.0, row.1))
    };
    match tokio::time::timeout(Duration::from_secs(3), probe).await {
        Ok(Ok(settings)) => Ok(settings),
        Ok(Err(error)) => Err(format!("PostgreSQL is unreachable ({error})")),
        Err(_) => Err("PostgreSQL did not answer within 3 s".into()),
    }
}

pub(super) fn bench_postgres(settings: &Settings) -> Result<Vec<Row>, String> {
    let url = server_url();
    let runtime = multi_thread_runtime(2)?;
    let durable = match runtime.block_on(durability(&url)) {
        Ok(durable) => durable,
        Err(why) => {
            println!("   skipped: {why}");
            return Ok(Vec::new());
        }
    };
    let n = (settings.n / N_DIVISOR).max(1000);
    println!(
        "   {} events per repetition; {DISPATCHERS} dispatching tasks; {WORKERS} workers x {CONCURRENCY}; \
         pool {POOL} connections each side; {durable}",
        group(n as f64)
    );
    runtime.block_on(async move {
        let rig = Rig::open(&url).await?;
        let figures = rig.run(n, settings.reps).await;
        rig.close().await;
        figures.map(|f| f.report())
    })
}

/// Both sides on one server, each in a schema of its own (dropped when
/// this is).
struct Rig {
    driver: Arc<PostgresDriver>,
    stop: tokio::sync::watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<fastevent::worker::WorkerReport>>,
    baseline: Arc<Baseline>,
    _schemas: [DropSchema; 2],
}

impl Rig {
    async fn open(url: &str) -> Result<Self, String> {
        let schema = fresh_schema("bench");
        let base_schema = fresh_schema("bench_base");
        let guards = [&schema, &base_schema].map(|s| DropSchema {
            url: url.to_string(),
            schema: s.clone(),
        });
        let options = PostgresOptions {
            schema,
            pool_size: POOL,
            ..PostgresOptions::new(url)
        };
        let driver = Arc::new(PostgresDriver::new(options, JobDefaults::default(), None));
        driver.pool().await.map_err(|e| e.to_string())?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers = (0..WORKERS)
            .map(|_| {
                let options = WorkerOptions {
                    concurrency: CONCURRENCY,
                    ..WorkerOptions::default()
                };
                let mut stopped = stopped.clone();
                let worker = Worker::new(driver.clone(), options, None);
                tokio::spawn(worker.run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                }))
            })
            .collect();
        let baseline = Arc::new(Baseline::open(url, &base_schema).await?);
        Ok(Self {
            driver,
            stop,
            workers,
            baseline,
            _schemas: guards,
        })
    }

    /// Warm-up, then `reps` bursts of each side in turn (so that both see
    /// the same noise), then the latency samples.
    async fn run(&self, n: u64, reps: usize) -> Result<Figures, String> {
        fastevent_burst(&self.driver, n / 10).await?;
        self.baseline.burst(n / 10, Notify::No).await?;
        let mut figures = Figures::default();
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        for rep in 1..=reps {
            let (ours, mut latencies) = fastevent_burst(&self.driver, n).await?;
            let theirs = self.baseline.burst(n, Notify::No).await?;
            let notifying = self.baseline.burst(n, Notify::EachInsert).await?;
            println!(
                "     repetition {rep}: fastevent {} jobs/s   baseline {} jobs/s   baseline + NOTIFY {} jobs/s",
                group(rate(ours)),
                group(rate(theirs)),
                group(rate(notifying))
            );
            figures.ours.push(rate(ours));
            figures.theirs.push(rate(theirs));
            figures.notifying.push(rate(notifying));
            figures.dispatch_ms.append(&mut latencies);
        }
        (figures.idle_dispatch_ms, figures.idle_listener_ms) = idle_latency(&self.driver).await?;
        Ok(figures)
    }

    async fn close(self) {
        let _ = self.stop.send(true);
        for worker in self.workers {
            let _ = worker.await;
        }
        self.baseline.pool.close().await;
    }
}

#[derive(Default)]
struct Figures {
    /// Jobs/s of each repetition.
    ours: Vec<f64>,
    theirs: Vec<f64>,
    notifying: Vec<f64>,
    /// Each `dispatch().await` of the bursts, in ms.
    dispatch_ms: Vec<f64>,
    /// One event at a time to idle workers: `dispatch()` alone, and to the
    /// listener, in ms.
    idle_dispatch_ms: Vec<f64>,
    idle_listener_ms: Vec<f64>,
}

impl Figures {
    fn report(mut self) -> Vec<Row> {
        let (ours, theirs) = (Spread::of(&self.ours), Spread::of(&self.theirs));
        let ratio = 100.0 * ours.median / theirs.median;
        let best_ratio = 100.0 * Spread::max_of(&self.ours) / Spread::max_of(&self.theirs);
        println!(
            "   fastevent end to end : median {:>8} jobs/s   best {:>8}   worst {:>8}",
            group(ours.median),
            group(Spread::max_of(&self.ours)),
            group(ours.min)
        );
        println!(
            "   sqlx baseline        : median {:>8} jobs/s   best {:>8}   worst {:>8}",
            group(theirs.median),
            group(Spread::max_of(&self.theirs)),
            group(theirs.min)
        );
        let notifying = Spread::of(&self.notifying);
        println!(
            "   baseline + NOTIFY    : median {:>8} jobs/s   best {:>8}   worst {:>8}   ({:.1}% of the baseline)",
            group(notifying.median),
            group(Spread::max_of(&self.notifying)),
            group(notifying.min),
            100.0 * notifying.median / theirs.median
        );
        println!(
            "   ratio fastevent/baseline: {ratio:.1}% (medians; best/best {best_ratio:.1}%; target >= {TARGET_RATIO_PERCENT}%)"
        );
        for samples in [
            &mut self.dispatch_ms,
            &mut self.idle_dispatch_ms,
            &mut self.idle_listener_ms,
        ] {
            samples.sort_by(f64::total_cmp);
        }
        let p = percentile;
        println!(
            "   dispatch latency under load : p50 {:.2} ms   p99 {:.2} ms   ({} dispatches)",
            p(&self.dispatch_ms, 0.5),
            p(&self.dispatch_ms, 0.99),
            self.dispatch_ms.len()
        );
        println!(
            "   one event, idle workers ({LATENCY_SAMPLES} samples): dispatch p50 {:.2} ms  p99 {:.2} ms; \
             dispatch-to-listener p50 {:.2} ms  p99 {:.2} ms",
            p(&self.idle_dispatch_ms, 0.5),
            p(&self.idle_dispatch_ms, 0.99),
            p(&self.idle_listener_ms, 0.5),
            p(&self.idle_listener_ms, 0.99),
        );
        vec![
            Row {
                what: "postgres end to end, vs sqlx baseline".into(),
                median: ratio,
                best: best_ratio,
                unit: "%".into(),
                target: Target::AtLeast(TARGET_RATIO_PERCENT),
            },
            Row {
                what: "postgres dispatch-to-listener p50".into(),
                median: p(&self.idle_listener_ms, 0.5),
                best: self.idle_listener_ms.first().copied().unwrap_or(f64::NAN),
                unit: "ms".into(),
                target: Target::AtMost(TARGET_P50_MS),
            },
        ]
    }
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Dispatches `n` events from [`DISPATCHERS`] tasks; the time until the
/// last one was handled, and the latency of each dispatch.
async fn fastevent_burst(
    driver: &Arc<PostgresDriver>,
    n: u64,
) -> Result<(Duration, Vec<f64>), String> {
    let before = CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    let tasks: Vec<_> = (0..DISPATCHERS)
        .map(|task| {
            let driver = driver.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for id in (task..n).step_by(DISPATCHERS as usize) {
                    let sent = Instant::now();
                    let event = PostgresBenchEvent { id, sent_ns: 0 };
                    fastevent::dispatch_to(driver.as_ref(), event)
                        .await
                        .map_err(|e| format!("dispatch failed: {e}"))?;
                    latencies.push(ms_since(sent));
                }
                Ok::<_, String>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(n as usize);
    for task in tasks {
        latencies.extend(task.await.map_err(|e| e.to_string())??);
    }
    wait_for_calls(before + n, Duration::from_secs(300)).await?;
    Ok((start.elapsed(), latencies))
}

async fn wait_for_calls(target: u64, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while CALLS.load(Ordering::SeqCst) < target {
        if Instant::now() > deadline {
            return Err(format!(
                "jobs lost: {} of {target} listener calls after {}s",
                CALLS.load(Ordering::SeqCst),
                limit.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    Ok(())
}

/// Latency samples (ms), one event at a time, each once the workers are
/// idle again: `dispatch()` alone, and dispatch to listener.
async fn idle_latency(driver: &Arc<PostgresDriver>) -> Result<(Vec<f64>, Vec<f64>), String> {
    take_latencies();
    let mut dispatch_ms = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES as u64 {
        // Long enough for the workers to finish settling and wait again.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let before = CALLS.load(Ordering::SeqCst);
        let sent = Instant::now();
        let event = PostgresBenchEvent {
            id: i,
            sent_ns: now_ns(),
        };
        fastevent::dispatch_to(driver.as_ref(), event)
            .await
            .map_err(|e| e.to_string())?;
        dispatch_ms.push(ms_since(sent));
        wait_for_calls(before + 1, Duration::from_secs(10)).await?;
    }
    Ok((dispatch_ms, take_latencies()))
}

/// Whether the baseline's inserts notify.
#[derive(Clone, Copy)]
enum Notify {
    No,
    EachInsert,
}

/// The same work written plainly with sqlx: a table of its own, an insert
/// per job, claims of free slots with `FOR UPDATE SKIP LOCKED` in a CTE
/// that leases the rows, a delete per finished job.
struct Baseline {
    pool: PgPool,
    claim_sql: String,
    insert_sql: String,
    /// The same insert, with a `pg_notify` in its transaction.
    notify_insert_sql: String,
    delete_sql: String,
}

impl Baseline {
    async fn open(url: &str, schema: &str) -> Result<Self, String> {
        let fail = |e: sqlx::Error| format!("baseline: {e}");
        let pool = PgPoolOptions::new()
            .max_connections(POOL)
            .connect(url)
            .await
            .map_err(fail)?;
        let jobs = format!("{schema}.jobs");
        let create = format!(
            "CREATE SCHEMA {schema};
             CREATE TABLE {jobs} (
                id bigserial PRIMARY KEY,
                queue text NOT NULL,
                body bytea NOT NULL,
                attempts integer NOT NULL DEFAULT 0,
                leased_by text,
                available_at timestamptz NOT NULL DEFAULT now());
             CREATE INDEX ON {jobs} (queue, available_at, id);"
        );
        sqlx::raw_sql(&create).execute(&pool).await.map_err(fail)?;
        Ok(Self {
            pool,
            insert_sql: format!("INSERT INTO {jobs} (queue, body) VALUES ('default', $1)"),
            notify_insert_sql: format!(
                "WITH inserted AS (
                    INSERT INTO {jobs} (queue, body) VALUES ('default', $1) RETURNING queue)
                 SELECT pg_notify('{schema}', queue) FROM inserted"
            ),
            claim_sql: format!(
                "WITH picked AS (
                    SELECT id FROM {jobs}
                     WHERE queue = 'default' AND available_at <= now()
                     ORDER BY available_at, id LIMIT $1
                     FOR UPDATE SKIP LOCKED)
                 UPDATE {jobs} AS j
                    SET attempts = j.attempts + 1, leased_by = $2,
                        available_at = now() + interval '30 seconds'
                   FROM picked WHERE j.id = picked.id
                 RETURNING j.id, j.body"
            ),
            delete_sql: format!("DELETE FROM {jobs} WHERE id = $1 AND leased_by = $2"),
        })
    }

    /// Inserts `n` jobs from [`DISPATCHERS`] tasks while [`WORKERS`] loops
    /// run them; the time until the last one was done.
    async fn burst(self: &Arc<Self>, n: u64, notify: Notify) -> Result<Duration, String> {
        let before = CALLS.load(Ordering::SeqCst);
        let start = Instant::now();
        let mut tasks = JoinSet::new();
        for w in 0..WORKERS {
            let this = self.clone();
            tasks.spawn(async move { this.work(format!("base-{w}"), before + n).await });
        }
        for task in 0..DISPATCHERS {
            let this = self.clone();
            let ids = (task..n).step_by(DISPATCHERS as usize);
            tasks.spawn(async move { this.insert(ids, notify).await });
        }
        while let Some(done) = tasks.join_next().await {
            done.map_err(|e| e.to_string())??;
        }
        Ok(start.elapsed())
    }

    async fn insert(&self, ids: impl Iterator<Item = u64>, notify: Notify) -> Result<(), String> {
        let sql = match notify {
            Notify::No => &self.insert_sql,
            Notify::EachInsert => &self.notify_insert_sql,
        };
        for id in ids {
            // About the size of a fastevent job's envelope.
            let mut body = vec![b' '; 240];
            body[..8].copy_from_slice(&id.to_le_bytes());
            sqlx::query(sql)
                .bind(body)
                .execute(&self.pool)
                .await
                .map_err(|e| format!("baseline insert: {e}"))?;
        }
        Ok(())
    }

    /// Claims and runs jobs until `target` listener calls have been made.
    async fn work(self: Arc<Self>, worker: String, target: u64) -> Result<(), String> {
        let worker: Arc<str> = worker.into();
        let mut running = JoinSet::new();
        while CALLS.load(Ordering::SeqCst) < target {
            while let Some(done) = running.try_join_next() {
                done.map_err(|e| e.to_string())??;
            }
            let free = CONCURRENCY - running.len();
            let claimed = match free {
                0 => Vec::new(),
                _ => self.claim(free, &worker).await?,
            };
            let got = claimed.len();
            for (id, body) in claimed {
                let (this, worker) = (self.clone(), worker.clone());
                running.spawn(async move { this.run_job(id, body, &worker).await });
            }
            if got == 0 {
                tokio::select! {
                    Some(done) = running.join_next(), if !running.is_empty() => {
                        done.map_err(|e| e.to_string())??;
                    }
                    () = tokio::time::sleep(BASELINE_POLL) => {}
                }
            }
        }
        while let Some(done) = running.join_next().await {
            done.map_err(|e| e.to_string())??;
        }
        Ok(())
    }

    async fn claim(&self, limit: usize, worker: &str) -> Result<Vec<(i64, Vec<u8>)>, String> {
        sqlx::query_as(&self.claim_sql)
            .bind(limit as i64)
            .bind(worker)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| format!("baseline claim: {e}"))
    }

    async fn run_job(&self, id: i64, body: Vec<u8>, worker: &str) -> Result<(), String> {
        let number = u64::from_le_bytes(body[..8].try_into().unwrap_or_default());
        count_call(number);
        let done = sqlx::query(&self.delete_sql)
            .bind(id)
            .bind(worker)
            .execute(&self.pool)
            .await
            .map_err(|e| format!("baseline delete: {e}"))?;
        match done.rows_affected() {
            1 => Ok(()),
            _ => Err(format!("baseline: job {id} was not leased to {worker}")),
        }
    }
}
