//! The worker: claims jobs from a durable queue and runs them, up to a
//! concurrency limit, renewing its leases while they run, and stopping
//! gracefully: no new jobs, in-flight ones finish within the grace period,
//! the rest are handed back for another worker.
//!
//! - `execute`: one job, from its claim to its settle;
//! - `progress`: the jobs held and the outcomes, shared with
//! - `upkeep`: heartbeats and lease renewals, on timers of their own;
//! - `report`: what a supervised worker tells its supervisor.

pub(crate) use crate::base::backoff;
mod execute;
mod options;
mod progress;
pub(crate) mod report;
mod upkeep;

pub use backoff::BackoffDefaults;
use execute::Outcome;
pub use options::WorkerOptions;

use crate::config::{self, ConfigError};
use crate::driver::durable::{DurableQueue, IntoDurableQueue, Settled};
use crate::job::{JobDefaults, JobSigner};
use execute::JobContext;
use progress::Progress;
use report::{Reporter, WorkerMessage};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use upkeep::Upkeep;

/// Why a worker stopped, in its [`WorkerReport`]: a program that runs a
/// worker with limits can tell "done" from "asked to stop".
///
/// ```
/// use fastevent::worker::{StopReason, Worker, WorkerOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("fastevent-doc-stop-reason-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # fastevent::Config::new().queue_driver(fastevent::QueueDriver::Sqlite)
/// #     .sqlite_path(dir.join("queue.db")).install()?;
/// let options = WorkerOptions { stop_when_empty: true, ..WorkerOptions::default() };
/// let report = Worker::from_config(options)?.run(std::future::pending()).await;
/// assert_eq!(report.stopped, StopReason::Empty); // the queue was empty
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Asked to (a signal, or the shutdown future resolved).
    Shutdown,
    /// `--stop-when-empty` (or `--once`) and no job was left.
    Empty,
    /// `--max-jobs` jobs were taken.
    MaxJobs,
    /// `--max-time` passed.
    MaxTime,
}

/// What a worker did, returned by [`Worker::run`] when it stops: for a
/// log line, or the exit code of a batch run.
///
/// ```
/// use fastevent::worker::{Worker, WorkerOptions, WorkerReport};
///
/// fn summary(report: &WorkerReport) -> String {
///     format!(
///         "{} succeeded, {} retried, {} failed, {} handed back ({:?})",
///         report.succeeded, report.retried, report.failed, report.released, report.stopped
///     )
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("fastevent-doc-report-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # fastevent::Config::new().queue_driver(fastevent::QueueDriver::Sqlite)
/// #     .sqlite_path(dir.join("queue.db")).install()?;
/// let options = WorkerOptions { stop_when_empty: true, ..WorkerOptions::default() };
/// let report = Worker::from_config(options)?.run(std::future::pending()).await;
/// assert_eq!(summary(&report), "0 succeeded, 0 retried, 0 failed, 0 handed back (Empty)");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerReport {
    /// Jobs whose listener succeeded.
    pub succeeded: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Jobs moved to the failed store.
    pub failed: u64,
    /// Jobs handed back unfinished at shutdown.
    pub released: u64,
    /// Jobs this worker lost to another claim (its lease lapsed, say while
    /// the database was locked or the process was suspended): their
    /// outcome here was not applied, and the other claim settles them.
    pub lease_lost: u64,
    /// Why it stopped.
    pub stopped: StopReason,
}

/// A worker on a durable queue: claims jobs, runs their listeners (up to
/// its concurrency at once), and retries or fails them. The `work` command
/// runs workers under a supervisor; run one in code for a batch job, a
/// test, or a program that manages its own processes.
///
/// ```rust,standalone_crate
/// use fastevent::worker::{StopReason, Worker, WorkerOptions};
/// use fastevent::{listener, Config, Event, QueueDriver};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct ExportRequested {
///     export_id: u64,
/// }
///
/// #[derive(Default)]
/// struct BuildExport;
/// #[listener(on = ExportRequested)]
/// impl BuildExport {
///     async fn handle(&self, event: &ExportRequested) {
///         println!("building export {}", event.export_id);
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let dir = std::env::temp_dir().join(format!("fastevent-doc-worker-{}", std::process::id()));
///     std::fs::create_dir_all(&dir)?;
///     Config::new()
///         .queue_driver(QueueDriver::Sqlite)
///         .sqlite_path(dir.join("queue.db"))
///         .install()?;
///     ExportRequested { export_id: 1 }.dispatch().await?;
///     ExportRequested { export_id: 2 }.dispatch().await?;
///
///     // A batch run: until the queue is empty, or Ctrl+C.
///     let options = WorkerOptions {
///         concurrency: 4,
///         stop_when_empty: true,
///         ..WorkerOptions::default()
///     };
///     let shutdown = async {
///         let _ = tokio::signal::ctrl_c().await;
///     };
///     let report = Worker::from_config(options)?.run(shutdown).await;
///     assert_eq!((report.succeeded, report.stopped), (2, StopReason::Empty));
/// #   std::fs::remove_dir_all(&dir)?;
///     Ok(())
/// }
/// ```
pub struct Worker {
    options: WorkerOptions,
    context: Arc<JobContext>,
}

impl Worker {
    /// A worker on `queue`, which checks signatures with `signer` (pass the
    /// dispatchers' key, or `None` to run unsigned jobs), and refuses jobs
    /// over the default `MAX_PAYLOAD_BYTES` (see [`Worker::max_job_bytes`]).
    /// See `driver::sqlite::SqliteDriver` (feature `sqlite`) for an
    /// example; [`Worker::from_config`] takes all three from the installed
    /// configuration.
    pub fn new(
        queue: impl IntoDurableQueue,
        options: WorkerOptions,
        signer: Option<JobSigner>,
    ) -> Self {
        let queue = queue.into_durable_queue();
        let worker_id = format!(
            "worker-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        Self {
            context: Arc::new(JobContext {
                queue,
                worker_id,
                signer,
                max_job_bytes: JobDefaults::default().max_payload_bytes,
                backoff: options.backoff,
                reporter: Reporter::silent(),
            }),
            options,
        }
    }

    /// A worker on the installed driver's queue, with its signing key and
    /// its `MAX_PAYLOAD_BYTES`.
    pub fn from_config(options: WorkerOptions) -> Result<Self, ConfigError> {
        let queue = config::durable_queue()?;
        let installed = config::installed()?;
        Ok(Self::new(queue, options, installed.signer.clone())
            .max_job_bytes(installed.job_defaults.max_payload_bytes))
    }

    /// Refuses (sends to the failed store, unread) jobs larger than
    /// `bytes`: set the limit the dispatchers have, so that a job written
    /// to the queue by anything else cannot make a worker read more.
    ///
    /// ```
    /// use fastevent::worker::{Worker, WorkerOptions};
    ///
    /// # let dir = std::env::temp_dir().join(format!("fastevent-doc-max-bytes-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # fastevent::Config::new().queue_driver(fastevent::QueueDriver::Sqlite)
    /// #     .sqlite_path(dir.join("queue.db")).install()?;
    /// let queue = fastevent::durable_queue()?;
    /// let worker = Worker::new(queue, WorkerOptions::default(), None).max_job_bytes(1 << 20);
    /// # let _ = worker;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_job_bytes(mut self, bytes: usize) -> Self {
        Arc::get_mut(&mut self.context)
            .expect("not shared before run")
            .max_job_bytes = bytes;
        self
    }

    /// Reports to a supervisor on the channel it passed (a pipe of its own,
    /// never standard output), when this process was started by one; otherwise changes nothing. For
    /// a `--worker` entry point of your own, as a
    /// [`Supervisor`](crate::supervisor::Supervisor) starts it.
    ///
    /// ```
    /// use fastevent::worker::{Worker, WorkerOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("fastevent-doc-reporting-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # fastevent::Config::new().queue_driver(fastevent::QueueDriver::Sqlite)
    /// #     .sqlite_path(dir.join("queue.db")).install()?;
    /// let options = WorkerOptions { stop_when_empty: true, ..WorkerOptions::from_env()? };
    /// let worker = Worker::from_config(options)?.reporting_to_supervisor();
    /// let report = worker.run(std::future::pending()).await;
    /// println!("worker stopped: {report:?}");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn reporting_to_supervisor(mut self) -> Self {
        Arc::get_mut(&mut self.context)
            .expect("not shared before run")
            .reporter = Reporter::from_env();
        self
    }

    /// This worker's id, as its leases name it.
    pub fn id(&self) -> &str {
        &self.context.worker_id
    }

    /// Runs until `shutdown` resolves or a limit of the options is reached.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> WorkerReport {
        let Worker { options, context } = self;
        // The application installs its recorder before starting workers.
        crate::observe::describe_metrics();
        context.reporter.send(&WorkerMessage::Ready {
            worker: context.worker_id.clone(),
            pid: std::process::id(),
        });
        let progress = Arc::new(Progress::default());
        let upkeep = Upkeep::start(&context, &progress, &options);
        let mut running: JoinSet<Outcome> = JoinSet::new();
        let stopped = take_jobs(&options, &context, &progress, &mut running, shutdown).await;
        // Jobs a pushing queue (AMQP) prefetched for us go to other workers
        // now, not after our grace period.
        context.queue.stop_claiming(&context.worker_id).await;
        context.reporter.send(&WorkerMessage::Stopping {
            reason: format!("{stopped:?}"),
        });
        finish_or_abort(options.shutdown_grace, &progress, &mut running).await;
        // No renewal may race the hand-back.
        drop(upkeep);
        let released = hand_back(&context, &progress).await;
        progress.report(stopped, released)
    }
}

/// Claims and starts jobs until `shutdown` resolves or a limit is reached.
/// Heartbeats and lease renewals run beside it ([`Upkeep`]): this loop may
/// wait on the queue as long as the queue makes it.
async fn take_jobs(
    options: &WorkerOptions,
    context: &Arc<JobContext>,
    progress: &Progress,
    running: &mut JoinSet<Outcome>,
    shutdown: impl Future<Output = ()>,
) -> StopReason {
    let stop_at = options.max_time.map(|max| Instant::now() + max);
    let mut taken: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        while let Some(done) = running.try_join_next_with_id() {
            progress.record(done);
        }
        if stop_at.is_some_and(|at| Instant::now() >= at) {
            return StopReason::MaxTime;
        }
        let budget = options.max_jobs.map(|max| max.saturating_sub(taken));
        if budget == Some(0) {
            return StopReason::MaxJobs;
        }
        let free = options.concurrency - running.len();
        let wanted = budget.map_or(free, |b| free.min(b as usize));
        let claimed = match wanted {
            0 => Some(0),
            _ => claim_and_start(options, context, wanted, progress, running).await,
        };
        taken += claimed.unwrap_or(0) as u64;
        if claimed == Some(0)
            && running.is_empty()
            && options.stop_when_empty
            && queues_are_empty(context.queue.as_ref(), &options.queues).await
        {
            return StopReason::Empty;
        }
        // More may be waiting: take them before sleeping.
        if claimed.is_some_and(|n| n > 0 && n == wanted) && running.len() < options.concurrency {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            biased;
            () = &mut shutdown => return StopReason::Shutdown,
            () = sleep_until(stop_at) => return StopReason::MaxTime,
            Some(done) = running.join_next_with_id(), if !running.is_empty() => progress.record(done),
            () = context.queue.wait_for_jobs(&context.worker_id, options.poll_interval), if running.len() < options.concurrency => {}
        }
    }
}

/// Claims up to `wanted` jobs and runs each on a task of its own; how many
/// it claimed, or `None` when the claim failed.
async fn claim_and_start(
    options: &WorkerOptions,
    context: &Arc<JobContext>,
    wanted: usize,
    progress: &Progress,
    running: &mut JoinSet<Outcome>,
) -> Option<usize> {
    let claim = context
        .queue
        .claim(&options.queues, wanted, &context.worker_id, options.lease);
    match claim.await {
        Ok(jobs) => {
            let count = jobs.len();
            for job in jobs {
                let task_context = Arc::clone(context);
                let task_job = job.clone();
                let handle =
                    running.spawn(async move { execute::execute(&task_context, task_job).await });
                progress.hold(handle.id(), job);
            }
            Some(count)
        }
        Err(error) => {
            tracing::warn!(target: "fastevent", %error, "could not claim jobs; trying again");
            None
        }
    }
}

/// Resolves at `at`; never without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Graceful: in-flight jobs get the grace period to finish (their leases
/// still renewed); the rest are aborted, their jobs still held.
async fn finish_or_abort(grace: Duration, progress: &Progress, running: &mut JoinSet<Outcome>) {
    let grace = tokio::time::sleep(grace);
    tokio::pin!(grace);
    while !running.is_empty() {
        tokio::select! {
            () = &mut grace => break,
            Some(done) = running.join_next_with_id() => progress.record(done),
        }
    }
    running.abort_all();
    while let Some(done) = running.join_next_with_id().await {
        progress.record(done);
    }
}

/// Hands the jobs still held back to the queue, for another worker; how
/// many it could. One another claim owns by now is counted as lost.
async fn hand_back(context: &JobContext, progress: &Progress) -> u64 {
    let mut released = 0;
    for job in progress.take_held() {
        match context.queue.release(&job, &context.worker_id).await {
            Ok(Settled::Done) => released += 1,
            Ok(Settled::LeaseLost) => progress.lost(&job, context.queue.name()),
            Err(error) => tracing::warn!(
                target: "fastevent", %error, job = %job.job_id,
                "could not hand a job back; it runs again when its lease expires"
            ),
        }
    }
    released
}

/// "Empty" means no job left at all in these queues: none ready, none
/// waiting for a retry, none held by another worker (whose lease may yet
/// expire and hand the job to us).
async fn queues_are_empty(queue: &dyn DurableQueue, queues: &[String]) -> bool {
    match queue.depth().await {
        Ok(depths) => depths
            .iter()
            .filter(|d| queues.contains(&d.queue))
            .all(|d| d.ready + d.running + d.delayed == 0),
        Err(error) => {
            tracing::warn!(target: "fastevent", %error, "could not read the queue depth");
            false
        }
    }
}
