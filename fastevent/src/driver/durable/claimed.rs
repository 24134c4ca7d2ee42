//! A claimed job: the receipt of one claim, and the job as the queue
//! stored it.

use std::ops::Deref;
use std::sync::Arc;

/// A job a worker holds under a lease (or an unacked delivery), from
/// [`WorkQueue::claim`](super::WorkQueue::claim): its raw envelope, and what the queue keeps
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
///
/// The job's fields read through the claim (`job.attempt`, `job.body`):
/// a claim is its receipt plus the [`StoredJob`], which it shares rather
/// than copies, so that the worker's view of a claim (an [`AnyReceipt`]
/// receipt) and the driver's (its own receipt type) cost no copy of the
/// body.
///
/// [`AnyReceipt`]: super::AnyReceipt
#[derive(Debug, Clone)]
pub struct ClaimedJob<R = super::AnyReceipt> {
    /// What the queue needs to settle this claim and only this one: its
    /// handle for the job (a row id, a delivery tag) and, where a lapsed
    /// lease lets the job be claimed again, the claim's fencing token.
    /// Settles and lease renewals act only while it is the job's latest
    /// claim, so a holder that lost its job cannot touch it any more.
    pub receipt: R,
    job: Arc<StoredJob>,
}

impl<R> ClaimedJob<R> {
    /// A claim of `job` under `receipt`.
    pub fn new(receipt: R, job: StoredJob) -> Self {
        Self {
            receipt,
            job: Arc::new(job),
        }
    }

    /// The same job under another receipt (the worker's view of a
    /// driver's claim, and back).
    pub fn with_receipt<S>(&self, receipt: S) -> ClaimedJob<S> {
        ClaimedJob {
            receipt,
            job: Arc::clone(&self.job),
        }
    }
}

impl<R> Deref for ClaimedJob<R> {
    type Target = StoredJob;

    fn deref(&self) -> &StoredJob {
        &self.job
    }
}

/// A job as a durable queue keeps it: the raw envelope and what is stored
/// beside it, read without trusting the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJob {
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
