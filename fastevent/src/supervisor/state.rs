//! What the supervisor knows, as plain data: published on a watch channel
//! after every housekeeping tick, so that a dashboard (`work --tui`, a
//! status endpoint) reads a consistent snapshot without reaching into the
//! supervisor's loop.

use super::scaling::Backlog;
use std::time::Duration;

/// A snapshot of the supervisor and its pool.
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

/// Where the supervisor is in its life.
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

/// Things that happened since start.
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

/// One worker.
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

/// What a worker is doing.
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

/// A job a worker runs.
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
