//! What a worker process tells its supervisor, on a channel of its own: a
//! pipe the supervisor creates and the worker inherits, whose descriptor
//! number it finds in [`REPORT_FD_ENV`]. Never standard output: listeners
//! print what they like there, and nothing they print can pass for a report.
//!
//! A message is one line of JSON. Heartbeats prove the worker is alive; job
//! start messages carry the hard deadline the supervisor enforces by killing
//! the process, and the deadline stops counting when the listener returns,
//! whatever the settling of the job then waits for.
//!
//! The supervisor reads the channel with a [`ReportDecoder`], which takes
//! any bytes: frames are bounded, and a bad one is reported and skipped.

mod decoder;
mod reporter;

pub(crate) use decoder::{ReportDecoder, ReportError};
pub(crate) use reporter::Reporter;

use serde::{Deserialize, Serialize};

/// Set by the supervisor in its workers' environment: its id.
pub(crate) const SUPERVISED_ENV: &str = "FASTEVENT_SUPERVISOR";

/// Set by the supervisor in its workers' environment: its process id. A
/// worker whose parent is another process has lost its supervisor, even
/// if that happened before the worker first looked.
pub(crate) const SUPERVISOR_PID_ENV: &str = "FASTEVENT_SUPERVISOR_PID";

/// Set by the supervisor in its workers' environment: the number of the
/// inherited descriptor (the write end of a pipe) that takes the reports.
pub(crate) const REPORT_FD_ENV: &str = "FASTEVENT_REPORT_FD";

/// The longest text a report carries in one field, in bytes; longer text
/// (an error message, a name read from a job row) is cut, so that every
/// frame fits in [`MAX_FRAME`](decoder::MAX_FRAME) however its JSON escapes it.
pub(crate) const MAX_TEXT: usize = 2048;

/// One message from a worker to its supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum WorkerMessage {
    /// The worker is up and about to take jobs.
    Ready {
        /// The worker's id.
        worker: String,
        /// Its process id.
        pid: u32,
    },
    /// The worker is alive; sent every heartbeat interval by a task that
    /// never waits on the queue.
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
        /// When the supervisor must kill this worker if the listener still
        /// runs, in milliseconds since the Unix epoch.
        hard_deadline_ms: Option<u64>,
    },
    /// A job's listener returned (or failed, or timed out); the job is
    /// being settled, which may wait on the queue. Its hard deadline no
    /// longer applies.
    ListenerFinished {
        /// The envelope's id.
        job_id: String,
    },
    /// A job finished: settled with the queue.
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
    /// This message as the worker writes it: one line of JSON, its text
    /// fields cut to [`MAX_TEXT`] bytes.
    pub(crate) fn to_frame(&self) -> Vec<u8> {
        let mut frame = serde_json::to_vec(&self.clone().clipped()).expect("reports serialize");
        frame.push(b'\n');
        frame
    }

    /// The message with every text field cut to [`MAX_TEXT`] bytes.
    fn clipped(mut self) -> Self {
        match &mut self {
            WorkerMessage::Ready { worker, .. } => clip(worker),
            WorkerMessage::Heartbeat { .. } => {}
            WorkerMessage::JobStarted {
                job_id,
                event,
                listener,
                ..
            } => [job_id, event, listener].into_iter().for_each(clip),
            WorkerMessage::ListenerFinished { job_id } => clip(job_id),
            WorkerMessage::JobFinished {
                job_id,
                outcome,
                error,
                ..
            } => [Some(job_id), Some(outcome), error.as_mut()]
                .into_iter()
                .flatten()
                .for_each(clip),
            WorkerMessage::Stopping { reason } => clip(reason),
        }
        self
    }
}

/// Cuts `text` to at most [`MAX_TEXT`] bytes, on a character boundary,
/// marking the cut with `…`.
fn clip(text: &mut String) {
    const ELLIPSIS: char = '…';
    if text.len() <= MAX_TEXT {
        return;
    }
    let mut end = MAX_TEXT - ELLIPSIS.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push(ELLIPSIS);
}

#[cfg(test)]
mod tests {
    use super::decoder::MAX_FRAME;
    use super::*;

    #[test]
    fn a_frame_cut_anywhere_decodes_once_whole() {
        let message = WorkerMessage::Heartbeat {
            running: 2,
            succeeded: 10,
            retried: 1,
            failed: 0,
        };
        let frame = message.to_frame(); // what the worker writes
        let mut decoder = ReportDecoder::new();
        let (half, rest) = frame.split_at(7); // a pipe may cut it anywhere
        assert!(decoder.push(half).is_empty());
        assert_eq!(decoder.push(rest), [Ok(message)]);
    }

    /// The longest frame: every field at its limit, every byte a control
    /// character, which JSON writes as six (`\u0001`).
    #[test]
    fn the_largest_message_fits_in_a_frame_and_comes_back_cut() {
        let huge = "\u{1}".repeat(10 * MAX_TEXT);
        let message = WorkerMessage::JobStarted {
            job_id: huge.clone(),
            event: huge.clone(),
            listener: huge.clone(),
            attempt: u32::MAX,
            hard_deadline_ms: Some(u64::MAX),
        };
        let frame = message.to_frame();
        assert!(frame.len() <= MAX_FRAME, "{} bytes", frame.len());
        let decoded = ReportDecoder::new().push(&frame);
        let Ok(WorkerMessage::JobStarted { job_id, event, .. }) = &decoded[0] else {
            panic!("{decoded:?}")
        };
        assert!(
            job_id.len() <= MAX_TEXT && job_id.ends_with('…'),
            "{job_id:?}"
        );
        assert_eq!(job_id, event);
        let finished = WorkerMessage::JobFinished {
            job_id: huge.clone(),
            outcome: huge.clone(),
            error: Some(huge),
            duration_ms: 1,
        };
        assert!(finished.to_frame().len() <= MAX_FRAME);
    }

    #[test]
    fn text_is_cut_on_a_character_boundary() {
        let mut text = "é".repeat(MAX_TEXT);
        clip(&mut text);
        assert!(text.len() <= MAX_TEXT);
        assert!(text.ends_with("é…"), "{}", &text[text.len() - 8..]);
        let mut short = "short".to_string();
        clip(&mut short);
        assert_eq!(short, "short");
    }
}
