//! What the supervisor knows, as plain data: published on a watch channel
//! after every housekeeping tick, so that a dashboard (`work --tui`, a
//! status endpoint) reads a consistent snapshot without reaching into the
//! supervisor's loop.

use super::scaling::Backlog;
use std::time::Duration;

/// A snapshot of the supervisor and its pool, from
/// [`Supervisor::subscribe`](super::Supervisor::subscribe): what a
/// dashboard or a status endpoint shows. Serializes to JSON.
///
/// ```
/// use fastevent::supervisor::{Phase, Supervisor, SupervisorSettings, WorkerCommand};
/// use fastevent::worker::WorkerOptions;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let worker = WorkerOptions::default();
/// let settings = SupervisorSettings::from_env(&worker)?;
/// let supervisor = Supervisor::new(settings, WorkerCommand::current_exe([])?);
///
/// let state = supervisor.subscribe().borrow().clone();
/// assert_eq!(state.phase, Phase::Running);
/// assert!(state.workers.is_empty()); // until it runs
/// let json = serde_json::to_value(&state)?;
/// assert_eq!(json["queues"][0], "default");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SupervisorState {
    /// The supervisor's id (what its workers see in `FASTEVENT_SUPERVISOR`).
    pub id: String,
    /// Its process id.
    pub pid: u32,
    /// Workers kept alive.
    pub min_workers: usize,
    /// Most workers at once.
    pub max_workers: usize,
    /// Jobs one worker runs at once.
    pub concurrency: usize,
    /// The queues, in priority order.
    pub queues: Vec<String>,
    /// Silence after which a worker is killed as hung.
    pub heartbeat_timeout: Duration,
    /// The last depth reading of those queues; `None` until one succeeded
    /// or while reading fails.
    pub backlog: Option<Backlog>,
    /// Why the last depth reading failed, while it fails.
    pub backlog_error: Option<String>,
    /// The workers, by number.
    pub workers: Vec<WorkerSnapshot>,
    /// Lifetime counters.
    pub counters: SupervisorCounters,
    /// Where the supervisor is in its life.
    pub phase: Phase,
}

/// Where the supervisor is in its life, in [`SupervisorState::phase`].
///
/// ```
/// use fastevent::supervisor::Phase;
///
/// fn title(phase: Phase) -> &'static str {
///     match phase {
///         Phase::Running => "running",
///         Phase::WindingDown => "finishing: no new workers",
///         Phase::ShuttingDown => "shutting down: workers draining",
///     }
/// }
/// assert_eq!(title(Phase::default()), "running");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Keeping the pool sized to the queue.
    #[default]
    Running,
    /// A worker stopped by its limits: no new workers, exit when all stopped.
    WindingDown,
    /// Asked to stop: its workers are draining.
    ShuttingDown,
}

/// Things that happened since start, in [`SupervisorState::counters`]. They
/// only grow, so a dashboard derives rates from two snapshots.
///
/// ```
/// use fastevent::supervisor::SupervisorCounters;
/// use std::time::Duration;
///
/// fn jobs_per_second(before: &SupervisorCounters, after: &SupervisorCounters, between: Duration) -> f64 {
///     (after.jobs_succeeded - before.jobs_succeeded) as f64 / between.as_secs_f64()
/// }
///
/// let before = SupervisorCounters::default();
/// let after = SupervisorCounters { jobs_succeeded: 50, ..before };
/// assert_eq!(jobs_per_second(&before, &after, Duration::from_secs(2)), 25.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SupervisorCounters {
    /// Workers started.
    pub started: u64,
    /// Workers that exited without being asked (crash, signal, non-zero).
    pub crashed: u64,
    /// Workers killed for missing heartbeats (or never becoming ready).
    pub killed_unresponsive: u64,
    /// Workers killed because a job ran past its hard timeout.
    pub killed_hard_timeout: u64,
    /// Workers killed because they did not stop within the grace period.
    pub killed_after_grace: u64,
    /// Scale-ups.
    pub scaled_up: u64,
    /// Scale-downs.
    pub scaled_down: u64,
    /// Jobs its workers reported succeeded. These three only grow (a
    /// worker's own totals leave with it), so a dashboard derives rates
    /// from two snapshots.
    pub jobs_succeeded: u64,
    /// Attempts its workers reported failed and scheduled again.
    pub jobs_retried: u64,
    /// Jobs its workers reported moved to the failed store.
    pub jobs_failed: u64,
}

/// One worker of the pool, in [`SupervisorState::workers`]: a row of a
/// dashboard.
///
/// ```
/// use fastevent::supervisor::{WorkerSnapshot, WorkerState};
/// use std::time::Duration;
///
/// fn row(worker: &WorkerSnapshot) -> String {
///     format!(
///         "#{} pid {} {:?}: {} running, {} done, last heard {:?} ago",
///         worker.number, worker.pid, worker.state, worker.running, worker.succeeded, worker.heartbeat_age
///     )
/// }
///
/// let worker = WorkerSnapshot {
///     number: 1,
///     pid: 4242,
///     worker_id: Some("worker-4242-0190".into()),
///     state: WorkerState::Ready,
///     uptime: Duration::from_secs(60),
///     heartbeat_age: Duration::from_millis(300),
///     running: 0,
///     jobs: Vec::new(),
///     succeeded: 12,
///     retried: 0,
///     failed: 0,
/// };
/// assert_eq!(row(&worker), "#1 pid 4242 Ready: 0 running, 12 done, last heard 300ms ago");
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkerSnapshot {
    /// Its number in this supervisor (the prefix of its output lines).
    pub number: u32,
    /// Its process id.
    pub pid: u32,
    /// Its own id, once it said it is ready.
    pub worker_id: Option<String>,
    /// What it is doing.
    pub state: WorkerState,
    /// How long it has been running.
    pub uptime: Duration,
    /// Time since its last sign of life (Ready or Heartbeat); since its
    /// start while it has given none.
    pub heartbeat_age: Duration,
    /// Jobs running now, as it last reported them.
    pub running: usize,
    /// The jobs it runs, as started and not yet finished.
    pub jobs: Vec<JobSnapshot>,
    /// Jobs it finished, by outcome.
    pub succeeded: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Jobs it moved to the failed store.
    pub failed: u64,
}

/// What a worker is doing, in [`WorkerSnapshot::state`]; the states after
/// `Ready` carry the reason.
///
/// ```
/// use fastevent::supervisor::WorkerState;
///
/// fn takes_jobs(state: &WorkerState) -> bool {
///     matches!(state, WorkerState::Ready)
/// }
/// assert!(takes_jobs(&WorkerState::Ready));
/// assert!(!takes_jobs(&WorkerState::Terminating("scale-down".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum WorkerState {
    /// Spawned, not yet ready.
    Starting,
    /// Taking jobs.
    Ready,
    /// Stopping by itself (its limits), draining.
    Stopping(String),
    /// Asked by the supervisor to stop (scale-down, shutdown), draining.
    Terminating(String),
    /// Killed; waiting to be reaped.
    Killed(String),
    /// Exited; waiting for the end of its output.
    Exited(String),
}

/// A job a worker runs, in [`WorkerSnapshot::jobs`].
///
/// ```
/// use fastevent::supervisor::JobSnapshot;
/// use std::time::Duration;
///
/// let job = JobSnapshot {
///     job_id: "0190a7c2".into(),
///     event: "video_uploaded".into(),
///     listener: "transcode".into(),
///     attempt: 2,
///     running_for: Duration::from_secs(95),
///     hard_deadline_ms: None,
/// };
/// let line = format!("{} / {} (try {}) for {:?}", job.event, job.listener, job.attempt, job.running_for);
/// assert_eq!(line, "video_uploaded / transcode (try 2) for 95s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobSnapshot {
    /// The envelope's id.
    pub job_id: String,
    /// The event's registered name.
    pub event: String,
    /// The listener's registered name.
    pub listener: String,
    /// The attempt.
    pub attempt: u32,
    /// How long it has been running.
    pub running_for: Duration,
    /// Its hard deadline, in milliseconds since the Unix epoch.
    pub hard_deadline_ms: Option<u64>,
}
