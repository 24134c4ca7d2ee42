//! The `postgres` driver: jobs in PostgreSQL tables, through sqlx. Workers
//! on any number of machines claim them with `FOR UPDATE SKIP LOCKED`
//! under a lease and settle them with a fencing token; idle workers are
//! woken by `LISTEN`/`NOTIFY`; a job can be written in the application's
//! own transaction ([`dispatch_in`]).
//!
//! The tables (`{schema}.{prefix}jobs`, `{prefix}failed_jobs`,
//! `{prefix}schema_version`) are made on first use and migrated by the
//! first process of a newer build; see [`PostgresOptions`] for the
//! settings.

mod errors;
mod notify;
mod options;
pub(crate) mod outbox;
mod queries;
mod runtime;
mod schema;
mod upkeep;
mod wake;

pub use crate::outbox::postgres::dispatch_in;
pub use options::PostgresOptions;
/// The sqlx crate fastevent uses, for [`dispatch_in`]'s connection.
pub use sqlx;

use super::durable::{
    ClaimedJob, FailedJob, QueueAdmin, QueueDepth, QueueError, Selection, Settled, WorkQueue,
};
use super::{Driver, DriverError, JobBatch, JobEncoder};
use crate::batch::Dispatched;
use crate::job::{JobDefaults, JobSigner};
use futures_util::future::BoxFuture;
use notify::Notifier;
use runtime::PerRuntime;
use schema::Tables;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use wake::Wake;

/// What [`PostgresDriver`]'s settles take: the job's row and the claim's
/// fencing token (the row's claim count when it was taken, which every
/// later claim raises).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PgClaim {
    /// The row's id.
    pub row: i64,
    /// The fencing token.
    pub claim: i64,
}

/// The `postgres` driver (`QUEUE_DRIVER=postgres`).
#[derive(Clone)]
pub struct PostgresDriver {
    inner: Arc<Inner>,
}

struct Inner {
    options: PostgresOptions,
    tables: Tables,
    encoder: JobEncoder,
    /// Made on first use, on the runtime that uses it, and again on a
    /// later runtime once that one has ended.
    pool: PerRuntime<PgPool>,
    /// Set once the tables are at this build's version.
    ready: std::sync::OnceLock<()>,
    wake: Wake,
    notifier: Notifier,
}

impl PostgresDriver {
    /// A driver for the database `options` names; it connects on first
    /// use. Jobs get `defaults` where their listener sets nothing, and are
    /// signed with `signer` (which workers on this database then require).
    pub fn new(options: PostgresOptions, defaults: JobDefaults, signer: Option<JobSigner>) -> Self {
        Self {
            inner: Arc::new(Inner {
                tables: Tables::new(&options),
                options,
                encoder: JobEncoder::new(defaults, signer),
                pool: PerRuntime::new(),
                ready: std::sync::OnceLock::new(),
                wake: Wake::new(),
                notifier: Notifier::default(),
            }),
        }
    }

    /// The options it was made with.
    pub fn options(&self) -> &PostgresOptions {
        &self.inner.options
    }

    /// The connection pool of the current runtime, with the tables at
    /// this build's version.
    pub async fn pool(&self) -> Result<PgPool, QueueError> {
        let pool = self.inner.pool.get_or_make(|| self.connect())?;
        if self.inner.ready.get().is_none() {
            let mut connection = pool.acquire().await.map_err(|e| self.error(&e))?;
            schema::ensure(&mut connection, &self.inner.tables, &self.inner.options)
                .await
                .map_err(|message| self.queue_error(message))?;
            if self.inner.ready.set(()).is_ok() {
                self.warn_without_upkeep(&mut connection).await;
            }
        }
        Ok(pool)
    }

    /// Logs a warning when autovacuum will not visit the jobs table.
    async fn warn_without_upkeep(&self, connection: &mut sqlx::PgConnection) {
        let server = options::masked(&self.inner.options.url);
        match upkeep::warning(connection, &self.inner.tables, &server).await {
            Ok(Some(warning)) => tracing::warn!(target: "fastevent", "{warning}"),
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(target: "fastevent", %error, "postgres: could not read the autovacuum settings")
            }
        }
    }

    /// A pool that connects when first used.
    fn connect(&self) -> Result<PgPool, QueueError> {
        let options = &self.inner.options;
        let connect = PgConnectOptions::from_str(&options.url)
            .map_err(|e| self.queue_error(self.describe(&e)))?;
        Ok(PgPoolOptions::new()
            .max_connections(options.pool_size)
            .acquire_timeout(options.timeout)
            .connect_lazy_with(connect))
    }

    pub(crate) fn describe(&self, error: &sqlx::Error) -> String {
        let options = &self.inner.options;
        errors::describe(error, &options.url, options.timeout)
    }

    fn error(&self, error: &sqlx::Error) -> QueueError {
        self.queue_error(self.describe(error))
    }

    fn queue_error(&self, message: String) -> QueueError {
        QueueError {
            driver: "postgres",
            message,
        }
    }

    /// The pool and the tables, for one operation.
    async fn use_pool(&self) -> Result<(PgPool, &Tables), QueueError> {
        Ok((self.pool().await?, &self.inner.tables))
    }

    /// The tables, for the outbox.
    pub(super) fn tables(&self) -> &Tables {
        &self.inner.tables
    }

    /// The job encoder, for the outbox.
    pub(super) fn encoder(&self) -> &JobEncoder {
        &self.inner.encoder
    }

    /// Deletes the driver's tables and everything in them: for tests and
    /// for tearing an environment down.
    pub async fn drop_tables(&self) -> Result<(), QueueError> {
        let t = &self.inner.tables;
        let sql = format!(
            "DROP TABLE IF EXISTS {}, {}, {}",
            t.jobs, t.failed, t.version
        );
        let (pool, _) = self.use_pool().await?;
        let dropped = sqlx::Executor::execute(&pool, sql.as_str()).await;
        dropped.map(drop).map_err(|e| self.error(&e))
    }
}

impl Driver for PostgresDriver {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn enqueue(&self, batch: JobBatch) -> BoxFuture<'_, Result<Dispatched, DriverError>> {
        Box::pin(async move {
            let jobs = self.inner.encoder.encode(&batch, "postgres")?;
            let event = batch.event_name();
            let failed = move |error: QueueError| DriverError {
                driver: "postgres",
                event,
                message: error.message,
                source: None,
            };
            let tally = self.inner.encoder.tally(&jobs);
            let (pool, t) = self.use_pool().await.map_err(failed)?;
            queries::insert_jobs(&pool, t, &jobs)
                .await
                .map_err(|e| failed(self.error(&e)))?;
            self.announce(jobs.iter().map(|job| job.queue.as_str()));
            tally.record("postgres");
            Ok(Dispatched { jobs: jobs.len() })
        })
    }
}

impl WorkQueue for PostgresDriver {
    type Receipt = PgClaim;

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn claim<'a>(
        &'a self,
        queues: &'a [String],
        limit: usize,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<ClaimedJob<PgClaim>>, QueueError>> {
        self.inner.wake.claiming(worker);
        Box::pin(async move {
            let mut claimed = Vec::new();
            let (pool, t) = self.use_pool().await?;
            for queue in queues {
                let wanted = limit - claimed.len();
                if wanted == 0 {
                    break;
                }
                let jobs = queries::claim(&pool, t, queue, wanted, worker, lease)
                    .await
                    .map_err(|e| self.error(&e))?;
                claimed.extend(jobs);
            }
            Ok(claimed)
        })
    }

    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob<PgClaim>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        Box::pin(async move {
            let (pool, t) = self.use_pool().await?;
            queries::complete(&pool, t, job.receipt, worker)
                .await
                .map_err(|e| self.error(&e))
        })
    }

    fn retry<'a>(
        &'a self,
        job: &'a ClaimedJob<PgClaim>,
        worker: &'a str,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        Box::pin(async move {
            let (pool, t) = self.use_pool().await?;
            let settled = queries::requeue(&pool, t, job.receipt, worker, delay, 0, error)
                .await
                .map_err(|e| self.error(&e))?;
            self.wake_after(delay);
            Ok(settled)
        })
    }

    fn fail<'a>(
        &'a self,
        job: &'a ClaimedJob<PgClaim>,
        worker: &'a str,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        Box::pin(async move {
            let (pool, t) = self.use_pool().await?;
            queries::fail(&pool, t, job.receipt, worker, error)
                .await
                .map_err(|e| self.error(&e))
        })
    }

    fn release<'a>(
        &'a self,
        job: &'a ClaimedJob<PgClaim>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        let interrupted = "interrupted: its worker shut down before it finished";
        Box::pin(async move {
            let (pool, t) = self.use_pool().await?;
            let settled = queries::requeue(
                &pool,
                t,
                job.receipt,
                worker,
                Duration::ZERO,
                1,
                interrupted,
            )
            .await
            .map_err(|e| self.error(&e))?;
            self.inner.wake.wake();
            Ok(settled)
        })
    }

    fn extend_leases<'a>(
        &'a self,
        worker: &'a str,
        claims: &'a [PgClaim],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<PgClaim>, QueueError>> {
        Box::pin(async move {
            let (pool, t) = self.use_pool().await?;
            queries::extend_leases(&pool, t, worker, claims, lease)
                .await
                .map_err(|e| self.error(&e))
        })
    }

    fn wait_for_jobs<'a>(&'a self, worker: &'a str, at_most: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            match self.pool().await {
                Ok(pool) => {
                    let channel = self.inner.tables.channel();
                    self.inner.wake.wait(&pool, channel, worker, at_most).await;
                }
                // The next claim reports the error; meanwhile, no hot loop.
                Err(_) => tokio::time::sleep(at_most).await,
            }
        })
    }

    fn stop_claiming<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, ()> {
        self.inner.wake.forget(worker);
        Box::pin(std::future::ready(()))
    }
}

impl PostgresDriver {
    /// Jobs of `queues` were committed by a pool dispatch: wakes this
    /// process's workers at once (no round trip through the server), and
    /// has the workers of every process told.
    fn announce<'a>(&self, queues: impl IntoIterator<Item = &'a str>) {
        self.inner.wake.wake();
        if self.inner.notifier.poke(queues) {
            // The guard is in the future from the start: a task dropped
            // before its first poll drops it too.
            let sending = Sending {
                inner: Arc::downgrade(&self.inner),
                done: false,
            };
            tokio::spawn(send_notifications(sending));
        }
    }

    /// A job this process delayed is due after `delay`: its workers look
    /// then, since no notification announces it.
    fn wake_after(&self, delay: Duration) {
        let inner = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(inner) = inner.upgrade() {
                inner.wake.wake();
            }
        });
    }
}

/// Sends the notifications the driver's dispatches ask for, one statement
/// at a time, until none is asked for; holds the driver only while it takes
/// the next queues. A notification that fails is not sent again: workers
/// find its jobs at their fallback poll.
async fn send_notifications(mut sending: Sending) {
    let inner = sending.inner.clone();
    loop {
        let Some(driver) = inner.upgrade().map(|inner| PostgresDriver { inner }) else {
            return;
        };
        let Some(queues) = driver.inner.notifier.next() else {
            sending.done = true;
            return;
        };
        let (pool, tables) = match driver.use_pool().await {
            Ok((pool, tables)) => (pool, tables.clone()),
            Err(_) => continue,
        };
        drop(driver);
        if let Err(error) = queries::notify(&pool, &tables, &queues).await {
            tracing::debug!(target: "fastevent", %error, "postgres: a notification was not sent; workers find its jobs at their next poll");
        }
    }
}

/// The running sender of [`send_notifications`]. A sender dropped before
/// it is done (its runtime ended, even before it first ran) says so, so
/// that the next dispatch starts another instead of waiting for it
/// forever.
struct Sending {
    inner: Weak<Inner>,
    done: bool,
}

impl Drop for Sending {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade().filter(|_| !self.done) {
            inner.notifier.abandoned();
        }
    }
}

impl QueueAdmin for PostgresDriver {
    fn depth(&self) -> BoxFuture<'_, Result<Vec<QueueDepth>, QueueError>> {
        Box::pin(async move {
            let (pool, t) = self.use_pool().await?;
            queries::depth(&pool, t).await.map_err(|e| self.error(&e))
        })
    }

    fn failed_jobs(&self, limit: usize) -> BoxFuture<'_, Result<Vec<FailedJob>, QueueError>> {
        Box::pin(async move {
            let (pool, t) = self.use_pool().await?;
            queries::failed_jobs(&pool, t, limit)
                .await
                .map_err(|e| self.error(&e))
        })
    }

    fn failed_job(&self, id: i64) -> BoxFuture<'_, Result<Option<FailedJob>, QueueError>> {
        Box::pin(async move {
            let (pool, t) = self.use_pool().await?;
            queries::failed_job(&pool, t, id)
                .await
                .map_err(|e| self.error(&e))
        })
    }

    fn retry_failed(&self, which: Selection) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(async move {
            let (pool, t) = self.use_pool().await?;
            queries::retry_failed(&pool, t, which)
                .await
                .map_err(|e| self.error(&e))
        })
    }

    fn forget_failed(&self, which: Selection) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(async move {
            let (pool, t) = self.use_pool().await?;
            queries::forget_failed(&pool, t, which)
                .await
                .map_err(|e| self.error(&e))
        })
    }

    fn failed_count(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(async move {
            let (pool, t) = self.use_pool().await?;
            queries::failed_count(&pool, t)
                .await
                .map_err(|e| self.error(&e))
        })
    }
}
