//! The embedded durable queue: SQLite in WAL mode, the default that needs no
//! server. Safe for one dispatching process and several worker processes on
//! one machine at once.
//!
//! - A dispatch writes the jobs of all listeners in one transaction.
//! - A worker claims a job under a lease; the job of a worker that died
//!   becomes claimable again when the lease runs out, and the claim counts
//!   an attempt, so a job that kills its worker every time ends in the
//!   failed store instead of looping.
//! - A job is deleted only after its listener succeeded.

mod connection;
#[cfg(test)]
mod model_tests;
pub(crate) mod outbox;
mod queries;
mod rows;
mod schema;

pub use crate::outbox::sqlite::dispatch_in;
pub use connection::{SqliteOptions, Synchronous};
pub use rows::RowClaim;
/// The rusqlite crate fastevent uses, for [`dispatch_in`]'s transaction.
pub use rusqlite;

use super::durable::{
    ClaimedJob, FailedJob, QueueAdmin, QueueDepth, QueueError, Selection, Settled, WorkQueue,
};
use super::{Driver, DriverError, JobBatch, JobEncoder};
use crate::batch::Dispatched;
use crate::job::{JobDefaults, JobSigner, now_ms};
use connection::{SqliteConnection, StoreError};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often a claim also looks for rows no claim can select (see
/// [`queries::sweep_unclaimable`]): a full scan, so not every time.
const SWEEP_INTERVAL_MS: u64 = 10_000;

/// The SQLite queue driver: a [`Driver`] that stores jobs in a file, and
/// the [`DurableQueue`](crate::driver::durable::DurableQueue) workers on the same machine take them from. The
/// installed one comes from `QUEUE_DRIVER=sqlite`; build one in code for a
/// second queue, or a test. Cheap to clone; clones share the connection.
///
/// ```rust,standalone_crate
/// use fastevent::driver::sqlite::{SqliteDriver, SqliteOptions, Synchronous};
/// use fastevent::job::JobDefaults;
/// use fastevent::worker::{Worker, WorkerOptions};
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct PhotoUploaded {
///     photo_id: u64,
/// }
///
/// #[derive(Default)]
/// struct MakeThumbnail;
/// #[listener(on = PhotoUploaded)]
/// impl MakeThumbnail {
///     async fn handle(&self, _: &PhotoUploaded) {}
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let dir = std::env::temp_dir().join(format!("fastevent-doc-sqlite-{}", std::process::id()));
///     std::fs::create_dir_all(&dir)?;
///     let options = SqliteOptions {
///         path: dir.join("media.db"),
///         synchronous: Synchronous::Full,
///         busy_timeout: Duration::from_secs(5),
///     };
///     let driver = SqliteDriver::new(options, JobDefaults::default(), None);
///
///     fastevent::dispatch_to(&driver, PhotoUploaded { photo_id: 1 }).await?;
///
///     // A worker on the same driver runs the job.
///     let options = WorkerOptions { stop_when_empty: true, ..WorkerOptions::default() };
///     let report = Worker::new(Arc::new(driver), options, None)
///         .run(std::future::pending())
///         .await;
///     assert_eq!(report.succeeded, 1);
/// #   std::fs::remove_dir_all(&dir)?;
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct SqliteDriver {
    connection: SqliteConnection,
    reader: SqliteConnection,
    /// When a claim last swept for unclaimable rows (0: never yet).
    last_sweep_ms: Arc<AtomicU64>,
    encoder: JobEncoder,
}

impl SqliteDriver {
    /// A driver on the database `options` names; the file is opened on
    /// first use. Jobs get `defaults` where their listener sets nothing, and
    /// are signed with `signer` (which workers on this queue then require).
    /// See [`SqliteOptions`] for an example.
    pub fn new(options: SqliteOptions, defaults: JobDefaults, signer: Option<JobSigner>) -> Self {
        Self {
            reader: SqliteConnection::start_reader(options.clone()),
            connection: SqliteConnection::start(options),
            last_sweep_ms: Arc::new(AtomicU64::new(0)),
            encoder: JobEncoder::new(defaults, signer),
        }
    }

    /// Runs one read-only statement on the reader connection; a database
    /// without the queue's tables yet holds no jobs.
    async fn read<T, F>(&self, work: F) -> Result<T, QueueError>
    where
        T: Default + Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let guarded = move |c: &rusqlite::Connection| match schema::readable(c)? {
            true => work(c),
            false => Ok(T::default()),
        };
        self.reader.run(guarded).await.map_err(queue_error)
    }

    /// Whether this claim should also sweep; at most one per interval.
    fn sweep_turn(&self, now: u64) -> bool {
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        now.saturating_sub(last) >= SWEEP_INTERVAL_MS
            && self
                .last_sweep_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Runs one statement.
    async fn run<T, F>(&self, work: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.connection.run(work).await.map_err(queue_error)
    }

    /// Runs several statements, all or none.
    async fn run_atomic<T, F>(&self, work: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.connection.run_atomic(work).await.map_err(queue_error)
    }
}

impl Driver for SqliteDriver {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn enqueue(&self, batch: JobBatch) -> BoxFuture<'_, Result<Dispatched, DriverError>> {
        Box::pin(async move {
            let event = batch.event_name();
            let jobs = self.encoder.encode(&batch, "sqlite")?;
            let count = jobs.len();
            let tally = self.encoder.tally(&jobs);
            self.connection
                .run_atomic(move |c| queries::insert_jobs(c, &jobs, now_ms()))
                .await
                .map_err(|e| DriverError {
                    driver: "sqlite",
                    event,
                    message: e.0,
                    source: None,
                })?;
            tally.record("sqlite");
            Ok(Dispatched { jobs: count })
        })
    }
}

fn queue_error(error: StoreError) -> QueueError {
    QueueError {
        driver: "sqlite",
        message: error.0,
    }
}

fn owned(worker: &str) -> String {
    worker.to_string()
}

impl WorkQueue for SqliteDriver {
    type Receipt = RowClaim;

    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn claim<'a>(
        &'a self,
        queues: &'a [String],
        limit: usize,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<ClaimedJob<RowClaim>>, QueueError>> {
        let queues = queues.to_vec();
        let worker = owned(worker);
        let sweep = self.sweep_turn(now_ms());
        Box::pin(self.run_atomic(move |c| {
            let now = now_ms();
            if sweep {
                queries::sweep_unclaimable(c, now)?;
            }
            queries::claim(
                c,
                &queues,
                limit,
                &worker,
                now,
                now + lease.as_millis() as u64,
            )
        }))
    }

    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob<RowClaim>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        let (claim, worker) = (job.receipt, owned(worker));
        Box::pin(self.run(move |c| queries::complete(c, claim, &worker)))
    }

    fn retry<'a>(
        &'a self,
        job: &'a ClaimedJob<RowClaim>,
        worker: &'a str,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        let (claim, worker, error) = (job.receipt, owned(worker), error.to_string());
        Box::pin(self.run(move |c| {
            queries::retry(
                c,
                claim,
                &worker,
                now_ms() + delay.as_millis() as u64,
                &error,
            )
        }))
    }

    fn fail<'a>(
        &'a self,
        job: &'a ClaimedJob<RowClaim>,
        worker: &'a str,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        let (claim, worker, error) = (job.receipt, owned(worker), error.to_string());
        Box::pin(self.run_atomic(move |c| queries::fail(c, claim, &worker, &error, now_ms())))
    }

    fn release<'a>(
        &'a self,
        job: &'a ClaimedJob<RowClaim>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        let (claim, worker) = (job.receipt, owned(worker));
        Box::pin(self.run(move |c| queries::release(c, claim, &worker, now_ms())))
    }

    fn extend_leases<'a>(
        &'a self,
        worker: &'a str,
        claims: &'a [RowClaim],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<RowClaim>, QueueError>> {
        let (worker, claims) = (owned(worker), claims.to_vec());
        // Several statements, all or none: a failed renewal is then retried
        // whole, and none is reported lost by a half-applied one.
        Box::pin(self.run_atomic(move |c| {
            queries::extend_leases(c, &worker, &claims, now_ms() + lease.as_millis() as u64)
        }))
    }
}

impl QueueAdmin for SqliteDriver {
    fn depth(&self) -> BoxFuture<'_, Result<Vec<QueueDepth>, QueueError>> {
        Box::pin(self.read(|c| queries::depth(c, now_ms())))
    }

    fn failed_jobs(&self, limit: usize) -> BoxFuture<'_, Result<Vec<FailedJob>, QueueError>> {
        Box::pin(self.read(move |c| queries::failed_jobs(c, limit)))
    }

    fn failed_job(&self, id: i64) -> BoxFuture<'_, Result<Option<FailedJob>, QueueError>> {
        Box::pin(self.read(move |c| queries::failed_job(c, id)))
    }

    fn retry_failed(&self, which: Selection) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.run_atomic(move |c| queries::retry_failed(c, which, now_ms())))
    }

    fn forget_failed(&self, which: Selection) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.run(move |c| queries::forget_failed(c, which)))
    }

    fn failed_count(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.read(queries::failed_count))
    }
}
