//! What a worker process tells its supervisor: one line per message on its
//! standard output, marked so that the listeners' own output passes through.
//! Heartbeats prove the worker's loop makes progress; job start messages
//! carry the hard deadline the supervisor enforces by killing the process.

use serde::{Deserialize, Serialize};
use std::io::Write;

/// The start of every report line; other lines are the listeners' output.
pub const MARKER: &str = "\u{1e}fastevent ";

/// Set by the supervisor in its workers' environment.
pub const SUPERVISED_ENV: &str = "FASTEVENT_SUPERVISOR";

/// One message from a worker to its supervisor, one line each on its
/// standard output: for a supervisor of your own, or a tool that reads a
/// worker's output.
///
/// ```
/// use fastevent::worker::report::WorkerMessage;
///
/// let message = WorkerMessage::Heartbeat { running: 2, succeeded: 10, retried: 1, failed: 0 };
/// let line = message.to_line(); // what the worker prints
/// assert_eq!(WorkerMessage::from_line(&line).unwrap().unwrap(), message);
///
/// // The listeners' own output is no report.
/// assert!(WorkerMessage::from_line("sending mail to ada@example.com").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerMessage {
    /// The worker is up and about to take jobs.
    Ready {
        /// The worker's id.
        worker: String,
        /// Its process id.
        pid: u32,
    },
    /// The loop is alive; sent every heartbeat interval.
    Heartbeat {
        /// Jobs running now.
        running: usize,
        /// Jobs finished since start, by outcome.
        succeeded: u64,
        /// Attempts that failed and were scheduled again.
        retried: u64,
        /// Jobs moved to the failed store.
        failed: u64,
    },
    /// A job started.
    JobStarted {
        /// The envelope's id (or the queue's, before decoding).
        job_id: String,
        /// The event's registered name.
        event: String,
        /// The listener's registered name.
        listener: String,
        /// This attempt's number.
        attempt: u32,
        /// When the supervisor must kill this worker if the job still runs,
        /// in milliseconds since the Unix epoch.
        hard_deadline_ms: Option<u64>,
    },
    /// A job finished.
    JobFinished {
        /// The envelope's id.
        job_id: String,
        /// `succeeded`, `retried` or `failed`.
        outcome: String,
        /// The error, when it did not succeed.
        error: Option<String>,
        /// How long it ran.
        duration_ms: u64,
    },
    /// The worker stopped taking jobs.
    Stopping {
        /// Why.
        reason: String,
    },
}

impl WorkerMessage {
    /// The line for this message, with the marker and a newline.
    pub fn to_line(&self) -> String {
        let json = serde_json::to_string(self).expect("reports serialize");
        format!("{MARKER}{json}\n")
    }

    /// The message in `line`, if it is a report line.
    pub fn from_line(line: &str) -> Option<Result<WorkerMessage, serde_json::Error>> {
        line.strip_prefix(MARKER)
            .map(|json| serde_json::from_str(json.trim_end()))
    }
}

/// Sends messages to the supervisor, when there is one: a worker started by
/// a supervisor (which sets [`SUPERVISED_ENV`]) reports, any other says
/// nothing. [`Worker::reporting_to_supervisor`](super::Worker::reporting_to_supervisor)
/// uses one.
///
/// ```
/// use fastevent::worker::report::{Reporter, WorkerMessage};
///
/// let reporter = Reporter::silent(); // or Reporter::from_env() in a worker process
/// reporter.send(&WorkerMessage::Stopping { reason: "max jobs".into() }); // prints nothing
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    supervised: bool,
}

impl Reporter {
    /// Reports when this process was started by a supervisor.
    pub fn from_env() -> Self {
        Self {
            supervised: std::env::var_os(SUPERVISED_ENV).is_some(),
        }
    }

    /// A reporter that says nothing (a worker run in-process).
    pub fn silent() -> Self {
        Self { supervised: false }
    }

    /// Sends `message`; one `write` per line keeps lines whole.
    pub fn send(&self, message: &WorkerMessage) {
        if self.supervised {
            let line = message.to_line();
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(line.as_bytes());
            let _ = stdout.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_a_line() {
        let message = WorkerMessage::JobStarted {
            job_id: "j".into(),
            event: "e".into(),
            listener: "l".into(),
            attempt: 2,
            hard_deadline_ms: Some(5),
        };
        let line = message.to_line();
        assert!(line.ends_with('\n'));
        assert_eq!(WorkerMessage::from_line(&line).unwrap().unwrap(), message);
        assert!(WorkerMessage::from_line("hello from a listener").is_none());
        assert!(
            WorkerMessage::from_line(&format!("{MARKER}{{broken"))
                .unwrap()
                .is_err()
        );
    }
}
