//! The consumer side of a durable driver: what a worker needs from a queue
//! (claim jobs under a lease, settle them) and what the `failed` and
//! `status` commands need. SQLite and AMQP implement it, so one worker and
//! one conformance suite serve both. Two methods have defaults that suit a
//! polling queue (SQLite) and are overridden by a pushing one (AMQP, whose
//! broker sends jobs ahead of any claim).

use futures_util::future::BoxFuture;
use std::time::Duration;

/// A job a worker holds under a lease (or an unacked delivery), from
/// [`DurableQueue::claim`]: its raw envelope, and what the queue keeps
/// beside it. Hand it back to the queue that gave it to settle it. The
/// built-in [`Worker`](crate::worker::Worker) does all of this; a worker of
/// your own runs a job like so:
///
/// ```rust,standalone_crate
/// use fastevent::driver::durable::{ClaimedJob, Settled};
/// use fastevent::job::JobEnvelope;
/// use fastevent::registry::registry;
/// use fastevent::{listener, Config, Event, QueueDriver};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct VideoUploaded {
///     video_id: u64,
/// }
///
/// #[derive(Default)]
/// struct Transcode;
/// #[listener(on = VideoUploaded)]
/// impl Transcode {
///     async fn handle(&self, event: &VideoUploaded) {
///         println!("transcoding video {}", event.video_id);
///     }
/// }
///
/// async fn run(job: &ClaimedJob) -> Result<(), fastevent::BoxError> {
///     let envelope = JobEnvelope::decode(&job.body)?;
///     let listener = registry()
///         .listener(&envelope.event, &envelope.listener)
///         .ok_or("no such listener in this program")?;
///     let handle = listener.decode_and_run(envelope.payload.get())?;
///     // The listener sees the context of the dispatch.
///     envelope.context_snapshot().scope(handle).await
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let dir = std::env::temp_dir().join(format!("fastevent-doc-claimed-{}", std::process::id()));
///     std::fs::create_dir_all(&dir)?;
///     Config::new()
///         .queue_driver(QueueDriver::Sqlite)
///         .sqlite_path(dir.join("queue.db"))
///         .install()?;
///     VideoUploaded { video_id: 12 }.dispatch().await?;
///
///     let queue = fastevent::durable_queue()?;
///     let queues = ["default".to_string()];
///     let jobs = queue.claim(&queues, 10, "my-worker", Duration::from_secs(30)).await?;
///     for job in &jobs {
///         assert_eq!((job.listener.as_str(), job.attempt, job.max_attempts), ("transcode", 1, 3));
///         let settled = match run(job).await {
///             Ok(()) => queue.complete(job, "my-worker").await?,
///             Err(error) => queue.fail(job, "my-worker", &error.to_string()).await?,
///         };
///         // `LeaseLost` if this claim's lease had lapsed and another took the job.
///         assert_eq!(settled, Settled::Done);
///     }
///     assert_eq!(jobs.len(), 1);
/// #   std::fs::remove_dir_all(&dir)?;
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The queue's own handle for the job (row id, delivery tag).
    pub receipt: i64,
    /// This claim's fencing token. A job whose lease lapsed can be claimed
    /// again, by this worker or another; every claim gets a new token, and
    /// settles and lease renewals act only while the token is the job's
    /// latest, so a holder that lost its job cannot touch it any more.
    pub claim: i64,
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

impl ClaimedJob {
    /// What identifies this claim, for [`DurableQueue::extend_leases`].
    pub fn token(&self) -> ClaimToken {
        ClaimToken {
            receipt: self.receipt,
            claim: self.claim,
        }
    }
}

/// One claim of one job: its receipt and fencing token, as
/// [`DurableQueue::extend_leases`] takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimToken {
    /// The queue's handle for the job.
    pub receipt: i64,
    /// The claim's fencing token.
    pub claim: i64,
}

/// What a settle ([`DurableQueue::complete`], `retry`, `fail`, `release`)
/// did.
///
/// ```
/// use fastevent::driver::durable::Settled;
///
/// fn log(settled: Settled, job: &str) {
///     if settled == Settled::LeaseLost {
///         eprintln!("job {job}: lease lost, another claim owns the job; nothing changed");
///     }
/// }
/// log(Settled::Done, "0190a7c2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The job was settled as asked.
    Done,
    /// This claim no longer owns the job (its lease lapsed and the job was
    /// claimed again, or it was settled already): nothing changed.
    LeaseLost,
}

/// A job in the failed store: out of attempts, or unable to run (bad
/// signature, unknown listener). What `failed list` and `failed show`
/// print; [`DurableQueue::retry_failed`] puts it back on its queue.
///
/// ```rust,standalone_crate
/// use fastevent::job::JobEnvelope;
/// use fastevent::{listener, Config, Event, QueueDriver};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct InvoiceDue {
///     invoice_id: u64,
/// }
///
/// #[derive(Default)]
/// struct ChargeCard;
/// #[listener(on = InvoiceDue)]
/// impl ChargeCard {
///     async fn handle(&self, _: &InvoiceDue) {}
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let dir = std::env::temp_dir().join(format!("fastevent-doc-failed-{}", std::process::id()));
///     std::fs::create_dir_all(&dir)?;
///     Config::new()
///         .queue_driver(QueueDriver::Sqlite)
///         .sqlite_path(dir.join("queue.db"))
///         .install()?;
///     InvoiceDue { invoice_id: 8 }.dispatch().await?;
///     let queue = fastevent::durable_queue()?;
///     let queues = ["default".to_string()];
///     let job = queue.claim(&queues, 1, "w", Duration::from_secs(30)).await?.remove(0);
///     queue.fail(&job, "w", "card declined").await?;
///
///     let failed = queue.failed_jobs(50).await?; // newest first
///     let first = &failed[0];
///     assert_eq!((first.listener.as_str(), first.error.as_str()), ("charge_card", "card declined"));
///     let envelope = JobEnvelope::decode(&first.body)?; // kept byte for byte
///     assert_eq!(envelope.payload.get(), r#"{"invoice_id":8}"#);
/// #   std::fs::remove_dir_all(&dir)?;
///     Ok(())
/// }
/// ```
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

/// Which failed jobs [`DurableQueue::retry_failed`] and
/// [`DurableQueue::forget_failed`] act on.
///
/// ```
/// use fastevent::driver::durable::{DurableQueue, QueueError, Selection};
///
/// /// After fixing the bug that made them fail: run them all again.
/// async fn retry_everything(queue: &dyn DurableQueue) -> Result<u64, QueueError> {
///     queue.retry_failed(Selection::All).await
/// }
///
/// /// A job that will never succeed: drop it.
/// async fn forget(queue: &dyn DurableQueue, id: i64) -> Result<bool, QueueError> {
///     Ok(queue.forget_failed(Selection::One(id)).await? == 1)
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("fastevent-doc-selection-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # fastevent::Config::new().queue_driver(fastevent::QueueDriver::Sqlite)
/// #     .sqlite_path(dir.join("queue.db")).install()?;
/// let queue = fastevent::durable_queue()?;
/// assert_eq!(retry_everything(&*queue).await?, 0); // the failed store is empty
/// assert!(!forget(&*queue, 42).await?);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// One, by its failed-store id.
    One(i64),
    /// All of them.
    All,
}

/// The jobs of one queue, by state, from [`DurableQueue::depth`]: what the
/// `status` command shows and the supervisor scales on.
///
/// ```
/// use fastevent::driver::durable::{DurableQueue, QueueDepth, QueueError};
///
/// /// Jobs waiting for a worker, over every queue.
/// async fn backlog(queue: &dyn DurableQueue) -> Result<u64, QueueError> {
///     let depths: Vec<QueueDepth> = queue.depth().await?;
///     Ok(depths.iter().map(|depth| depth.ready).sum())
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("fastevent-doc-depth-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # fastevent::Config::new().queue_driver(fastevent::QueueDriver::Sqlite)
/// #     .sqlite_path(dir.join("queue.db")).install()?;
/// assert_eq!(backlog(&*fastevent::durable_queue()?).await?, 0);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
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

/// A queue operation that failed; the job stays where it was (a claimed
/// job's lease runs out, and another worker takes it). What every
/// [`DurableQueue`] method returns on failure.
///
/// ```
/// use fastevent::driver::durable::QueueError;
///
/// let error = QueueError { driver: "sqlite", message: "database is locked".into() };
/// assert_eq!(error.to_string(), "sqlite queue: database is locked");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{driver} queue: {message}")]
pub struct QueueError {
    /// The driver.
    pub driver: &'static str,
    /// What went wrong.
    pub message: String,
}

/// A durable queue, as the worker and the commands use it: the consumer side
/// of the SQLite and AMQP drivers. Get the installed one with
/// [`durable_queue`](crate::durable_queue); implement it for a driver of
/// your own so that [`Worker`](crate::worker::Worker) and the `failed` and
/// `status` commands work on it.
///
/// A job's life: [`claim`](Self::claim) it, run it, then
/// [`complete`](Self::complete), [`retry`](Self::retry) or
/// [`fail`](Self::fail) it:
///
/// ```rust,standalone_crate
/// use fastevent::driver::durable::{DurableQueue, Selection};
/// use fastevent::{listener, Config, Event, QueueDriver};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct FeedImported {
///     feed_id: u64,
/// }
///
/// #[derive(Default)]
/// struct IndexFeed;
/// #[listener(on = FeedImported)]
/// impl IndexFeed {
///     async fn handle(&self, _: &FeedImported) {}
/// }
///
/// async fn counts(queue: &dyn DurableQueue) -> (u64, u64) {
///     let depth = queue.depth().await.unwrap();
///     let ready = depth.iter().map(|d| d.ready).sum();
///     (ready, queue.failed_count().await.unwrap())
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let dir = std::env::temp_dir().join(format!("fastevent-doc-durable-q-{}", std::process::id()));
///     std::fs::create_dir_all(&dir)?;
///     Config::new()
///         .queue_driver(QueueDriver::Sqlite)
///         .sqlite_path(dir.join("queue.db"))
///         .install()?;
///     FeedImported { feed_id: 1 }.dispatch().await?;
///
///     let queue = fastevent::durable_queue()?;
///     let queues = ["default".to_string()];
///     let lease = Duration::from_secs(30);
///     assert_eq!(counts(&*queue).await, (1, 0));
///
///     let job = queue.claim(&queues, 10, "w1", lease).await?.remove(0);
///     queue.fail(&job, "w1", "feed server down").await?;
///     assert_eq!(counts(&*queue).await, (0, 1));
///
///     assert_eq!(queue.retry_failed(Selection::All).await?, 1);
///     let job = queue.claim(&queues, 10, "w1", lease).await?.remove(0);
///     assert_eq!(job.attempt, 1); // fresh attempts
///     queue.complete(&job, "w1").await?;
///     assert_eq!(counts(&*queue).await, (0, 0));
/// #   std::fs::remove_dir_all(&dir)?;
///     Ok(())
/// }
/// ```
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

    /// The listener succeeded: the job is removed. Like every settle, it
    /// acts only if `job`'s claim still owns the job, and says which.
    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>>;

    /// The attempt failed: the job runs again after `delay`.
    fn retry<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>>;

    /// The job is moved to the failed store with `error`, byte for byte.
    fn fail<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>>;

    /// Gives the job back at once, with the attempt its claim counted: the
    /// worker is shutting down, the job did not fail.
    fn release<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>>;

    /// Renews the leases of these claims, which `worker` holds; returns
    /// those that no longer own their job (the worker stops renewing them).
    fn extend_leases<'a>(
        &'a self,
        worker: &'a str,
        claims: &'a [ClaimToken],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<ClaimToken>, QueueError>>;

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
