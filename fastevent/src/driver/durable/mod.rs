//! The durable-queue kit: what a durable driver implements so that workers
//! take jobs from it and operators inspect it. [`WorkQueue`] is what a
//! worker needs (claim jobs under a lease, settle them, renew leases), with
//! a receipt of the driver's own type; [`QueueAdmin`] is what the `status`
//! and `failed` commands, the dashboard and the supervisor need (depth and
//! the failed store). The SQLite and AMQP drivers implement both, and so
//! can a driver in another crate: [`Config::durable_driver`] installs it
//! for the worker and every command.
//!
//! [`Config::durable_driver`]: crate::Config::durable_driver

mod admin;
mod claimed;
mod erased;
mod outcome;
mod receipt;
mod work;

pub use admin::{FailedJob, QueueAdmin, QueueDepth, Selection};
pub use claimed::{ClaimedJob, StoredJob};
pub use erased::{IntoDurableQueue, durable_queue_of};
pub use outcome::{QueueError, Settled};
pub use receipt::{AnyReceipt, Receipt};
pub use work::WorkQueue;

/// A durable queue, as the worker and the commands hold it: both sides of
/// one durable driver, its receipts as [`AnyReceipt`]s. Get the installed
/// one with [`durable_queue`](crate::durable_queue), or make one of any
/// driver with [`durable_queue_of`].
///
/// A job's life: [`claim`](WorkQueue::claim) it, run it, then
/// [`complete`](WorkQueue::complete), [`retry`](WorkQueue::retry) or
/// [`fail`](WorkQueue::fail) it:
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
pub trait DurableQueue: WorkQueue<Receipt = AnyReceipt> + QueueAdmin {}

impl<Q: WorkQueue<Receipt = AnyReceipt> + QueueAdmin> DurableQueue for Q {}
