//! What operators need of a durable queue: how deep each queue is, and
//! the failed store (`status`, `failed`, the dashboard, the supervisor's
//! scaling).

use super::QueueError;
use futures_util::future::BoxFuture;

/// The operator side of a durable driver: depth and the failed store.
/// With [`WorkQueue`](super::WorkQueue), what a driver implements so that
/// `work`, `failed`, `status` and the dashboard use it.
pub trait QueueAdmin: Send + Sync + 'static {
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

    /// How many jobs the failed store holds (the `status` command). The
    /// default reads them all; a driver that can count should.
    fn failed_count(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(async move { Ok(self.failed_jobs(usize::MAX).await?.len() as u64) })
    }
}

/// A job in the failed store: out of attempts, or unable to run (bad
/// signature, unknown listener). What `failed list` and `failed show`
/// print; [`QueueAdmin::retry_failed`] puts it back on its queue.
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

/// Which failed jobs [`QueueAdmin::retry_failed`] and
/// [`QueueAdmin::forget_failed`] act on.
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

/// The jobs of one queue, by state, from [`QueueAdmin::depth`]: what the
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
