//! One worker as the supervisor tracks it: its process, what its reports
//! said (ready, heartbeats, the jobs it runs and their hard deadlines), and
//! the deadline by which it must have stopped. The checks here only read
//! the clock they are given; acting on them is the supervisor loop's job.

use super::process::WorkerProcess;
use super::state::{JobSnapshot, WorkerSnapshot, WorkerState};
use crate::worker::report::WorkerMessage;
use std::collections::BTreeMap;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// Where a worker is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Phase {
    /// Spawned; has not said Ready.
    Starting,
    /// Taking jobs.
    Ready,
    /// Said it stops by itself (`reason` is the worker's: `Empty`,
    /// `MaxJobs`, `MaxTime`, `Shutdown`); killed if still alive at `deadline`.
    Stopping { reason: String, deadline: Instant },
    /// Sent SIGTERM by the supervisor (`why`); killed if still alive at
    /// `deadline`.
    Terminating { why: String, deadline: Instant },
    /// Sent SIGKILL by the supervisor.
    Killed(Kill),
}

/// Why the supervisor killed a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kill {
    /// No heartbeat for too long, or never ready.
    Unresponsive(String),
    /// A job ran past its hard timeout.
    HardTimeout(String),
    /// It did not stop within the grace period.
    AfterGrace,
    /// A second Ctrl+C.
    Forced,
}

impl std::fmt::Display for Kill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kill::Unresponsive(why) | Kill::HardTimeout(why) => f.write_str(why),
            Kill::AfterGrace => f.write_str("it did not stop within its grace period"),
            Kill::Forced => f.write_str("forced shutdown"),
        }
    }
}

/// A job a worker said it started and has not finished.
#[derive(Debug, Clone)]
pub(super) struct RunningJob {
    pub event: String,
    pub listener: String,
    pub attempt: u32,
    pub started: Instant,
    pub hard_deadline_ms: Option<u64>,
}

/// One worker.
#[derive(Debug)]
pub(super) struct Member {
    pub number: u32,
    pub process: WorkerProcess,
    pub phase: Phase,
    pub spawned_at: Instant,
    /// The last Ready or Heartbeat (the spawn, before either).
    pub last_sign_of_life: Instant,
    pub worker_id: Option<String>,
    /// `running` of its last heartbeat.
    pub reported_running: usize,
    pub jobs: BTreeMap<String, RunningJob>,
    pub succeeded: u64,
    pub retried: u64,
    pub failed: u64,
    /// The reason of its Stopping report, kept whatever phase follows.
    pub stop_reason: Option<String>,
    /// Its exit status and when it was seen; it is forgotten once its
    /// output has also ended.
    pub exit: Option<(ExitStatus, Instant)>,
    pub output_closed: bool,
}

/// What a report changed, for the account.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Change {
    Nothing,
    Ready,
    Stopping(String),
}

impl Member {
    pub fn new(number: u32, process: WorkerProcess, now: Instant) -> Self {
        Self {
            number,
            process,
            phase: Phase::Starting,
            spawned_at: now,
            last_sign_of_life: now,
            worker_id: None,
            reported_running: 0,
            jobs: BTreeMap::new(),
            succeeded: 0,
            retried: 0,
            failed: 0,
            stop_reason: None,
            exit: None,
            output_closed: false,
        }
    }

    /// Records a report. `stop_timeout` bounds a self-initiated stop.
    pub fn on_message(
        &mut self,
        message: WorkerMessage,
        now: Instant,
        stop_timeout: Duration,
    ) -> Change {
        match message {
            WorkerMessage::Ready { worker, .. } => {
                self.last_sign_of_life = now;
                self.worker_id = Some(worker);
                if self.phase == Phase::Starting {
                    self.phase = Phase::Ready;
                    return Change::Ready;
                }
            }
            WorkerMessage::Heartbeat {
                running,
                succeeded,
                retried,
                failed,
            } => {
                self.last_sign_of_life = now;
                self.reported_running = running;
                self.succeeded = succeeded;
                self.retried = retried;
                self.failed = failed;
            }
            WorkerMessage::JobStarted {
                job_id,
                event,
                listener,
                attempt,
                hard_deadline_ms,
            } => {
                self.jobs.insert(
                    job_id,
                    RunningJob {
                        event,
                        listener,
                        attempt,
                        started: now,
                        hard_deadline_ms,
                    },
                );
            }
            WorkerMessage::JobFinished {
                job_id, outcome, ..
            } => {
                self.jobs.remove(&job_id);
                // Counted now; the next heartbeat brings the worker's own
                // totals, which include this job.
                match outcome.as_str() {
                    "succeeded" => self.succeeded += 1,
                    "retried" => self.retried += 1,
                    "failed" => self.failed += 1,
                    _ => {}
                }
            }
            WorkerMessage::Stopping { reason } => {
                self.stop_reason = Some(reason.clone());
                if matches!(self.phase, Phase::Starting | Phase::Ready) {
                    self.phase = Phase::Stopping {
                        reason: reason.clone(),
                        deadline: now + stop_timeout,
                    };
                    return Change::Stopping(reason);
                }
            }
        }
        Change::Nothing
    }

    /// Still running and meant to: counts toward the pool's size.
    pub fn is_active(&self) -> bool {
        self.exit.is_none() && matches!(self.phase, Phase::Starting | Phase::Ready)
    }

    /// Ready and running nothing, by its last heartbeat and by the jobs it
    /// reported since: a candidate for a scale-down.
    pub fn is_idle(&self) -> bool {
        self.exit.is_none()
            && self.phase == Phase::Ready
            && self.reported_running == 0
            && self.jobs.is_empty()
    }

    /// Whether signals may still be sent (not yet reaped).
    pub fn is_signalable(&self) -> bool {
        self.exit.is_none()
    }

    /// Why it must be killed now, if it must: a job past its hard deadline
    /// (whatever the phase: a draining worker runs jobs too), silence while
    /// starting or running, or a stop that outlasted its grace period.
    pub fn overdue(&self, now: Instant, now_ms: u64, heartbeat_timeout: Duration) -> Option<Kill> {
        if !self.is_signalable() || matches!(self.phase, Phase::Killed(_)) {
            return None;
        }
        if let Some((job_id, job)) = self
            .jobs
            .iter()
            .find(|(_, job)| job.hard_deadline_ms.is_some_and(|at| now_ms >= at))
        {
            return Some(Kill::HardTimeout(format!(
                "job {job_id} ({} -> {}, attempt {}) ran past its hard timeout after {:.1}s",
                job.event,
                job.listener,
                job.attempt,
                now.saturating_duration_since(job.started).as_secs_f64()
            )));
        }
        let silent = now.saturating_duration_since(self.last_sign_of_life);
        match &self.phase {
            Phase::Starting if silent >= heartbeat_timeout => Some(Kill::Unresponsive(format!(
                "it did not become ready within {:.1}s",
                silent.as_secs_f64()
            ))),
            Phase::Ready if silent >= heartbeat_timeout => Some(Kill::Unresponsive(format!(
                "no heartbeat for {:.1}s",
                silent.as_secs_f64()
            ))),
            Phase::Stopping { deadline, .. } | Phase::Terminating { deadline, .. }
                if now >= *deadline =>
            {
                Some(Kill::AfterGrace)
            }
            _ => None,
        }
    }

    /// The snapshot for [`super::SupervisorState`].
    pub fn snapshot(&self, now: Instant) -> WorkerSnapshot {
        let state = match (&self.exit, &self.phase) {
            (Some((status, _)), _) => WorkerState::Exited(super::process::describe_exit(status)),
            (None, Phase::Starting) => WorkerState::Starting,
            (None, Phase::Ready) => WorkerState::Ready,
            (None, Phase::Stopping { reason, .. }) => WorkerState::Stopping(reason.clone()),
            (None, Phase::Terminating { why, .. }) => WorkerState::Terminating(why.clone()),
            (None, Phase::Killed(kill)) => WorkerState::Killed(kill.to_string()),
        };
        WorkerSnapshot {
            number: self.number,
            pid: self.process.pid(),
            worker_id: self.worker_id.clone(),
            state,
            uptime: now.saturating_duration_since(self.spawned_at),
            heartbeat_age: now.saturating_duration_since(self.last_sign_of_life),
            running: self.reported_running,
            jobs: self
                .jobs
                .iter()
                .map(|(job_id, job)| JobSnapshot {
                    job_id: job_id.clone(),
                    event: job.event.clone(),
                    listener: job.listener.clone(),
                    attempt: job.attempt,
                    running_for: now.saturating_duration_since(job.started),
                    hard_deadline_ms: job.hard_deadline_ms,
                })
                .collect(),
            succeeded: self.succeeded,
            retried: self.retried,
            failed: self.failed,
        }
    }
}

/// Whether a worker's Stopping reason means it stopped by its own limits
/// (`--stop-when-empty`, `--max-jobs`, `--max-time`): its work is done and
/// it is not replaced. The names are [`crate::worker::StopReason`]'s.
pub(super) fn stopped_by_limits(reason: &str) -> bool {
    matches!(reason, "Empty" | "MaxJobs" | "MaxTime")
}

/// A worker's Stopping reason, for people.
pub(super) fn describe_stop(reason: &str) -> &str {
    match reason {
        "Empty" => "the queue is empty",
        "MaxJobs" => "it took its --max-jobs",
        "MaxTime" => "it ran its --max-time",
        "Shutdown" => "it was asked to stop",
        other => other,
    }
}
