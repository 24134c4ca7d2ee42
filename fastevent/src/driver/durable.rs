//! The consumer side of a durable driver: what a worker needs from a queue
//! (claim jobs under a lease, settle them) and what the `failed` and
//! `status` commands need. SQLite and AMQP implement it, so one worker and
//! one conformance suite serve both. Two methods have defaults that suit a
//! polling queue (SQLite) and are overridden by a pushing one (AMQP, whose
//! broker sends jobs ahead of any claim).

use futures_util::future::BoxFuture;
use std::time::Duration;

/// A job a worker holds under a lease (or an unacked delivery).
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The queue's own handle for the job (row id, delivery tag).
    pub receipt: i64,
    /// The envelope's id, as stored beside it.
    pub job_id: String,
    /// The queue it was taken from.
    pub queue: String,
    /// The event's registered name, as stored beside the envelope.
    pub event: String,
    /// The listener's registered name, as stored beside the envelope.
    pub listener: String,
    /// The raw envelope.
    pub body: Vec<u8>,
    /// Its signature, if it was signed.
    pub signature: Option<String>,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
}

/// A job in the failed store.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedJob {
    /// Its id in the failed store (what `failed retry <id>` takes).
    pub id: i64,
    /// The envelope's id.
    pub job_id: String,
    /// The queue it came from.
    pub queue: String,
    /// The event's registered name.
    pub event: String,
    /// The listener's registered name.
    pub listener: String,
    /// Attempts made.
    pub attempts: u32,
    /// Why it failed, last error first.
    pub error: String,
    /// When, in milliseconds since the Unix epoch.
    pub failed_at_ms: u64,
    /// The raw envelope, kept byte for byte.
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// Which failed jobs a command acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// One, by its failed-store id.
    One(i64),
    /// All of them.
    All,
}

/// The jobs of one queue, by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueDepth {
    /// The queue.
    pub queue: String,
    /// Waiting to run now.
    pub ready: u64,
    /// Held by a worker.
    pub running: u64,
    /// Waiting for a retry's backoff to pass.
    pub delayed: u64,
}

/// A queue operation that failed; the job stays where it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{driver} queue: {message}")]
pub struct QueueError {
    /// The driver.
    pub driver: &'static str,
    /// What went wrong.
    pub message: String,
}

/// A durable queue, as the worker and the commands use it.
pub trait DurableQueue: Send + Sync + 'static {
    /// The driver's name.
    fn name(&self) -> &'static str;

    /// Takes up to `limit` ready jobs of `queues` (earlier queues first) for
    /// `worker`, counting an attempt for each, held for `lease`.
    fn claim<'a>(
        &'a self,
        queues: &'a [String],
        limit: usize,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<ClaimedJob>, QueueError>>;

    /// The listener succeeded: the job is removed.
    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// The attempt failed: the job runs again after `delay`.
    fn retry<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// The job is moved to the failed store with `error`, byte for byte.
    fn fail<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Gives the job back at once (the worker is shutting down).
    fn release<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Renews the leases of these jobs, which `worker` holds.
    fn extend_leases<'a>(
        &'a self,
        worker: &'a str,
        receipts: &'a [i64],
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Job counts per queue.
    fn depth(&self) -> BoxFuture<'_, Result<Vec<QueueDepth>, QueueError>>;

    /// The newest failed jobs first, at most `limit`.
    fn failed_jobs(&self, limit: usize) -> BoxFuture<'_, Result<Vec<FailedJob>, QueueError>>;

    /// One failed job.
    fn failed_job(&self, id: i64) -> BoxFuture<'_, Result<Option<FailedJob>, QueueError>>;

    /// Puts failed jobs back on their queue with fresh attempts; returns how many.
    fn retry_failed(&self, which: Selection) -> BoxFuture<'_, Result<u64, QueueError>>;

    /// Deletes failed jobs; returns how many.
    fn forget_failed(&self, which: Selection) -> BoxFuture<'_, Result<u64, QueueError>>;

    /// Resolves when `claim` may find a job for `worker`, or after
    /// `at_most`. A polling queue (the default) sleeps `at_most`; a queue
    /// the broker pushes jobs into wakes the worker as soon as one arrives,
    /// so an idle worker starts a job without a polling delay.
    fn wait_for_jobs<'a>(&'a self, worker: &'a str, at_most: Duration) -> BoxFuture<'a, ()> {
        let _ = worker;
        Box::pin(tokio::time::sleep(at_most))
    }

    /// `worker` takes no more jobs: it is stopping. A queue that pushes jobs
    /// ahead of claims hands back, at once, those it holds for `worker`
    /// unclaimed, so other workers run them now rather than after this
    /// worker's grace period. Jobs `worker` claimed are still settled
    /// afterwards. The default does nothing: a polling queue holds nothing.
    fn stop_claiming<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, ()> {
        let _ = worker;
        Box::pin(std::future::ready(()))
    }

    /// How many jobs the failed store holds (the `status` command). The
    /// default reads them all; a driver that can count should.
    fn failed_count(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(async move { Ok(self.failed_jobs(usize::MAX).await?.len() as u64) })
    }
}
