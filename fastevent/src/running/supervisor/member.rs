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
pub(super) enum Stage {
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
    /// Its listener returned; the job is being settled, and the hard
    /// deadline, which is the listener's, no longer applies.
    pub listener_finished: bool,
}

/// One worker.
#[derive(Debug)]
pub(super) struct Member {
    pub number: u32,
    pub process: WorkerProcess,
    pub stage: Stage,
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
    /// The reason of its Stopping report, kept whatever stage follows.
    pub stop_reason: Option<String>,
    /// Its exit status and when it was seen; it is forgotten once its
    /// output has also ended.
    pub exit: Option<(ExitStatus, Instant)>,
    pub output_closed: bool,
    pub reports_closed: bool,
}

/// What a report changed, for the account.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Change {
    Nothing,
    Ready,
    Stopping(String),
}

impl Member {
    pub(super) fn new(number: u32, process: WorkerProcess, now: Instant) -> Self {
        Self {
            number,
            process,
            stage: Stage::Starting,
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
            reports_closed: false,
        }
    }

    /// Records a report. `stop_timeout` bounds a self-initiated stop.
    pub(super) fn on_message(
        &mut self,
        message: WorkerMessage,
        now: Instant,
        stop_timeout: Duration,
    ) -> Change {
        match message {
            WorkerMessage::Ready { worker, .. } => {
                self.last_sign_of_life = now;
                self.worker_id = Some(worker);
                if self.stage == Stage::Starting {
                    self.stage = Stage::Ready;
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
                        listener_finished: false,
                    },
                );
            }
            WorkerMessage::ListenerFinished { job_id } => {
                if let Some(job) = self.jobs.get_mut(&job_id) {
                    job.listener_finished = true;
                }
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
                if matches!(self.stage, Stage::Starting | Stage::Ready) {
                    self.stage = Stage::Stopping {
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
    pub(super) fn is_active(&self) -> bool {
        self.exit.is_none() && matches!(self.stage, Stage::Starting | Stage::Ready)
    }

    /// Ready and running nothing, by its last heartbeat and by the jobs it
    /// reported since: a candidate for a scale-down.
    pub(super) fn is_idle(&self) -> bool {
        self.exit.is_none()
            && self.stage == Stage::Ready
            && self.reported_running == 0
            && self.jobs.is_empty()
    }

    /// Whether signals may still be sent (not yet reaped).
    pub(super) fn is_signalable(&self) -> bool {
        self.exit.is_none()
    }

    /// Why it must be killed now, if it must: a listener past its job's hard
    /// deadline (whatever the stage: a draining worker runs jobs too; a job
    /// whose listener returned and that waits to be settled is not past
    /// it), silence while starting or running, or a stop that outlasted its
    /// grace period.
    pub(super) fn overdue(
        &self,
        now: Instant,
        now_ms: u64,
        heartbeat_timeout: Duration,
    ) -> Option<Kill> {
        if !self.is_signalable() || matches!(self.stage, Stage::Killed(_)) {
            return None;
        }
        if let Some((job_id, job)) = self.jobs.iter().find(|(_, job)| {
            !job.listener_finished && job.hard_deadline_ms.is_some_and(|at| now_ms >= at)
        }) {
            return Some(Kill::HardTimeout(format!(
                "job {job_id} ({} -> {}, attempt {}) ran past its hard timeout after {:.1}s",
                job.event,
                job.listener,
                job.attempt,
                now.saturating_duration_since(job.started).as_secs_f64()
            )));
        }
        let silent = now.saturating_duration_since(self.last_sign_of_life);
        match &self.stage {
            Stage::Starting if silent >= heartbeat_timeout => Some(Kill::Unresponsive(format!(
                "it did not become ready within {:.1}s",
                silent.as_secs_f64()
            ))),
            Stage::Ready if silent >= heartbeat_timeout => Some(Kill::Unresponsive(format!(
                "no heartbeat for {:.1}s",
                silent.as_secs_f64()
            ))),
            Stage::Stopping { deadline, .. } | Stage::Terminating { deadline, .. }
                if now >= *deadline =>
            {
                Some(Kill::AfterGrace)
            }
            _ => None,
        }
    }

    /// The snapshot for [`super::SupervisorState`].
    pub(super) fn snapshot(&self, now: Instant) -> WorkerSnapshot {
        let state = match (&self.exit, &self.stage) {
            (Some((status, _)), _) => WorkerState::Exited(super::process::describe_exit(status)),
            (None, Stage::Starting) => WorkerState::Starting,
            (None, Stage::Ready) => WorkerState::Ready,
            (None, Stage::Stopping { reason, .. }) => WorkerState::Stopping(reason.clone()),
            (None, Stage::Terminating { why, .. }) => WorkerState::Terminating(why.clone()),
            (None, Stage::Killed(kill)) => WorkerState::Killed(kill.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::process::WorkerCommand;
    use tokio::sync::mpsc;

    const TIMEOUT: Duration = Duration::from_secs(10);
    const STOP: Duration = Duration::from_secs(20);

    /// A member whose process is a `sleep`, killed when the test ends.
    struct Sleeper(Member);

    impl Drop for Sleeper {
        fn drop(&mut self) {
            self.0.process.kill();
        }
    }

    fn member(now: Instant) -> Sleeper {
        let (output, _) = mpsc::channel(8);
        let command = WorkerCommand {
            program: "sleep".into(),
            args: vec!["30".into()],
        };
        let process = WorkerProcess::spawn(&command, 1, "test", output).expect("sleep starts");
        Sleeper(Member::new(1, process, now))
    }

    fn ready() -> WorkerMessage {
        WorkerMessage::Ready {
            worker: "worker-1".into(),
            pid: 1,
        }
    }

    fn heartbeat(running: usize) -> WorkerMessage {
        WorkerMessage::Heartbeat {
            running,
            succeeded: 4,
            retried: 1,
            failed: 0,
        }
    }

    fn started(job: &str, hard_deadline_ms: Option<u64>) -> WorkerMessage {
        WorkerMessage::JobStarted {
            job_id: job.into(),
            event: "e".into(),
            listener: "l".into(),
            attempt: 2,
            hard_deadline_ms,
        }
    }

    #[tokio::test]
    async fn silence_kills_a_starting_or_running_worker_but_not_a_stopping_one() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut sleeper = member(t0);
        let m = &mut sleeper.0;
        assert_eq!(m.overdue(at(9), 0, TIMEOUT), None);
        assert!(matches!(
            m.overdue(at(10), 0, TIMEOUT),
            Some(Kill::Unresponsive(why)) if why.contains("did not become ready")
        ));

        assert_eq!(m.on_message(ready(), at(5), STOP), Change::Ready);
        assert_eq!(m.on_message(heartbeat(0), at(12), STOP), Change::Nothing);
        assert_eq!(m.overdue(at(21), 0, TIMEOUT), None);
        assert!(matches!(
            m.overdue(at(22), 0, TIMEOUT),
            Some(Kill::Unresponsive(why)) if why.contains("no heartbeat for 10.0s")
        ));

        // Draining sends no heartbeats: only the stop deadline counts.
        let stopping = WorkerMessage::Stopping {
            reason: "MaxJobs".into(),
        };
        assert_eq!(
            m.on_message(stopping, at(13), STOP),
            Change::Stopping("MaxJobs".into())
        );
        assert!(!m.is_active());
        assert_eq!(m.overdue(at(32), 0, TIMEOUT), None);
        assert_eq!(m.overdue(at(33), 0, TIMEOUT), Some(Kill::AfterGrace));
        assert_eq!(m.stop_reason.as_deref(), Some("MaxJobs"));
    }

    #[tokio::test]
    async fn a_job_past_its_hard_deadline_kills_its_worker_whatever_it_is_doing() {
        let t0 = Instant::now();
        let mut sleeper = member(t0);
        let m = &mut sleeper.0;
        m.on_message(ready(), t0, STOP);
        m.on_message(started("soft", None), t0, STOP);
        m.on_message(started("hard", Some(5_000)), t0, STOP);
        assert_eq!(m.overdue(t0, 4_999, TIMEOUT), None);
        assert!(matches!(
            m.overdue(t0, 5_000, TIMEOUT),
            Some(Kill::HardTimeout(why)) if why.contains("job hard (e -> l, attempt 2)")
        ));
        m.stage = Stage::Terminating {
            why: "scale-down".into(),
            deadline: t0 + STOP,
        };
        assert!(matches!(
            m.overdue(t0, 5_000, TIMEOUT),
            Some(Kill::HardTimeout(_))
        ));
        // Finished in time: nothing to enforce.
        m.on_message(
            WorkerMessage::JobFinished {
                job_id: "hard".into(),
                outcome: "succeeded".into(),
                error: None,
                duration_ms: 1,
            },
            t0,
            STOP,
        );
        assert_eq!(m.overdue(t0, 9_999, TIMEOUT), None);
        m.stage = Stage::Killed(Kill::Forced);
        m.on_message(started("late", Some(1)), t0, STOP);
        assert_eq!(m.overdue(t0, 9_999, TIMEOUT), None, "killed once is enough");
    }

    #[tokio::test]
    async fn the_hard_deadline_stops_when_the_listener_finishes_not_when_the_job_is_settled() {
        let t0 = Instant::now();
        let mut sleeper = member(t0);
        let m = &mut sleeper.0;
        m.on_message(ready(), t0, STOP);
        m.on_message(started("settling", Some(5_000)), t0, STOP);
        m.on_message(started("running", Some(8_000)), t0, STOP);
        let finished = |job: &str| WorkerMessage::ListenerFinished { job_id: job.into() };
        assert_eq!(
            m.on_message(finished("settling"), t0, STOP),
            Change::Nothing
        );
        // Its settle waits on the queue past the deadline: no kill for it.
        assert_eq!(m.overdue(t0, 7_999, TIMEOUT), None);
        assert!(!m.is_idle(), "a job being settled is still held");
        assert_eq!(m.snapshot(t0).jobs.len(), 2);
        // The other listener still runs past its own deadline.
        assert!(matches!(
            m.overdue(t0, 8_000, TIMEOUT),
            Some(Kill::HardTimeout(why)) if why.contains("job running ")
        ));
        m.on_message(finished("running"), t0, STOP);
        m.on_message(finished("unknown"), t0, STOP);
        assert_eq!(m.overdue(t0, 60_000, TIMEOUT), None);
        assert_eq!(m.jobs.len(), 2, "held until settled");
    }

    #[tokio::test]
    async fn a_worker_is_idle_when_its_heartbeat_and_its_job_reports_agree() {
        let t0 = Instant::now();
        let mut sleeper = member(t0);
        let m = &mut sleeper.0;
        assert!(m.is_active() && !m.is_idle(), "starting is not idle");
        m.on_message(ready(), t0, STOP);
        assert!(m.is_idle());
        m.on_message(started("j", None), t0, STOP);
        assert!(!m.is_idle(), "a job started since the last heartbeat");
        m.on_message(heartbeat(1), t0, STOP);
        m.on_message(
            WorkerMessage::JobFinished {
                job_id: "j".into(),
                outcome: "failed".into(),
                error: Some("boom".into()),
                duration_ms: 1,
            },
            t0,
            STOP,
        );
        assert!(!m.is_idle(), "the last heartbeat still says running");
        assert_eq!((m.succeeded, m.retried, m.failed), (4, 1, 1));
        m.on_message(heartbeat(0), t0, STOP);
        assert!(m.is_idle());
        let snapshot = m.snapshot(t0 + Duration::from_secs(3));
        assert_eq!(snapshot.state, WorkerState::Ready);
        assert_eq!(snapshot.worker_id.as_deref(), Some("worker-1"));
        assert_eq!(snapshot.uptime, Duration::from_secs(3));
        assert_eq!(snapshot.heartbeat_age, Duration::from_secs(3));
    }
}
