//! Reading worker reports from a byte stream that cannot be trusted to be
//! well formed: a frame is one line, at most [`MAX_FRAME`] bytes; a longer
//! one is dropped up to its newline, a malformed one is reported, and the
//! next line is read afresh. Memory stays bounded whatever arrives.

use super::WorkerMessage;

/// The longest frame a decoder takes, newline excluded. Every frame
/// [`WorkerMessage::to_frame`] writes fits.
pub(crate) const MAX_FRAME: usize = 64 * 1024;

/// How much of a bad frame an error quotes.
const EXCERPT: usize = 80;

/// How much of the JSON parser's message an error keeps: it may quote the
/// frame's text.
const REASON: usize = 200;

/// A frame that could not be read; the decoder goes on with the next one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReportError {
    /// A frame longer than [`MAX_FRAME`]; skipped up to its newline.
    #[error("a report longer than {MAX_FRAME} bytes (skipped)")]
    TooLong,
    /// A frame that is not a report.
    #[error("a report that does not parse ({reason}): {excerpt}")]
    Malformed {
        /// The parser's message, cut short.
        reason: String,
        /// The frame's first bytes, escaped.
        excerpt: String,
    },
    /// The stream ended in the middle of a frame.
    #[error("the reports ended in the middle of one ({bytes} bytes)")]
    Truncated {
        /// The unfinished frame's length, up to [`MAX_FRAME`].
        bytes: usize,
    },
}

/// Splits a stream of report bytes into messages, as they arrive in pieces
/// of any size. Never panics, and holds at most [`MAX_FRAME`] bytes.
#[derive(Debug, Default)]
pub(crate) struct ReportDecoder {
    /// The frame read so far (no newline yet).
    frame: Vec<u8>,
    /// The current frame was too long: drop bytes up to its newline.
    skipping: bool,
}

impl ReportDecoder {
    /// A decoder at the start of a stream.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes of the stream; returns each frame they complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<Result<WorkerMessage, ReportError>> {
        let mut decoded = Vec::new();
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let (content, ends_frame) = match piece.split_last() {
                Some((b'\n', content)) => (content, true),
                _ => (piece, false),
            };
            if let Some(error) = self.append(content) {
                decoded.push(Err(error));
            }
            if ends_frame {
                if !self.skipping {
                    decoded.push(decode(&self.frame));
                }
                self.frame.clear();
                self.skipping = false;
            }
        }
        decoded
    }

    /// The stream ended: an error if it stopped inside a frame.
    pub(crate) fn finish(&mut self) -> Option<ReportError> {
        let unfinished = !self.frame.is_empty() || self.skipping;
        let bytes = self.frame.len();
        self.frame.clear();
        self.skipping = false;
        unfinished.then_some(ReportError::Truncated { bytes })
    }

    /// Bytes held for the frame being read: never more than [`MAX_FRAME`].
    #[cfg(test)]
    fn buffered(&self) -> usize {
        self.frame.len()
    }

    /// Adds `content` to the current frame, or starts skipping it when it
    /// grows past the limit (the one time it does so, an error).
    fn append(&mut self, content: &[u8]) -> Option<ReportError> {
        if self.skipping {
            return None;
        }
        if self.frame.len() + content.len() > MAX_FRAME {
            self.frame.clear();
            self.skipping = true;
            return Some(ReportError::TooLong);
        }
        self.frame.extend_from_slice(content);
        None
    }
}

fn decode(frame: &[u8]) -> Result<WorkerMessage, ReportError> {
    serde_json::from_slice(frame).map_err(|error| ReportError::Malformed {
        reason: error.to_string().chars().take(REASON).collect(),
        excerpt: frame[..frame.len().min(EXCERPT)].escape_ascii().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopping() -> WorkerMessage {
        WorkerMessage::Stopping {
            reason: "Empty".into(),
        }
    }

    #[test]
    fn a_frame_that_is_not_a_report_is_skipped() {
        let mut decoder = ReportDecoder::new();
        let mut bytes = b"not json\n".to_vec();
        bytes.extend(stopping().to_frame());
        let decoded = decoder.push(&bytes);
        assert!(matches!(decoded[0], Err(ReportError::Malformed { .. })));
        assert_eq!(decoded[1], Ok(stopping())); // the next frame reads fine
        assert_eq!(decoder.finish(), None); // nothing left over
    }

    #[test]
    fn frames_come_whole_however_the_stream_is_cut() {
        let message = WorkerMessage::JobFinished {
            job_id: "j".into(),
            outcome: "failed".into(),
            error: Some("line one\nline two".into()),
            duration_ms: 3,
        };
        let mut stream = message.to_frame();
        stream.extend(stopping().to_frame());
        for cut in 0..stream.len() {
            let mut decoder = ReportDecoder::new();
            let mut decoded = decoder.push(&stream[..cut]);
            decoded.extend(decoder.push(&stream[cut..]));
            assert_eq!(
                decoded,
                [Ok(message.clone()), Ok(stopping())],
                "cut at {cut}"
            );
            assert_eq!(decoder.finish(), None);
        }
    }

    #[test]
    fn a_frame_past_the_limit_is_skipped_once_and_the_next_one_reads() {
        let mut decoder = ReportDecoder::new();
        let chunk = vec![b'x'; 1000];
        let mut errors = 0;
        for _ in 0..200 {
            errors += decoder.push(&chunk).len();
            assert!(decoder.buffered() <= MAX_FRAME);
        }
        assert_eq!(errors, 1, "one error for the frame, not one per chunk");
        let mut rest = b"still the long frame\n".to_vec();
        rest.extend(stopping().to_frame());
        assert_eq!(decoder.push(&rest), [Ok(stopping())]);
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn a_frame_of_exactly_the_limit_is_read() {
        let mut frame = stopping().to_frame();
        frame.pop();
        let padding = MAX_FRAME - frame.len();
        frame.splice(1..1, std::iter::repeat_n(b' ', padding));
        assert_eq!(frame.len(), MAX_FRAME);
        frame.push(b'\n');
        assert_eq!(ReportDecoder::new().push(&frame), [Ok(stopping())]);
    }

    #[test]
    fn garbage_is_reported_short_and_escaped() {
        let mut garbage = vec![0x1b, b'[', b'2', b'J', 0xff];
        garbage.extend(std::iter::repeat_n(b'a', 5000));
        garbage.push(b'\n');
        let decoded = ReportDecoder::new().push(&garbage);
        let [Err(error)] = decoded.as_slice() else {
            panic!("{decoded:?}")
        };
        let text = error.to_string();
        assert!(text.starts_with("a report that does not parse"), "{text}");
        assert!(text.contains(r"\x1b[2J\xff"), "{text}");
        assert!(text.len() < 400, "{text}");
        let empty = ReportDecoder::new().push(b"\n");
        assert!(matches!(empty[..], [Err(ReportError::Malformed { .. })]));
    }

    #[test]
    fn a_stream_that_ends_inside_a_frame_says_so() {
        let mut decoder = ReportDecoder::new();
        let frame = stopping().to_frame();
        decoder.push(&frame[..5]);
        assert_eq!(decoder.finish(), Some(ReportError::Truncated { bytes: 5 }));
        assert_eq!(decoder.finish(), None);
        decoder.push(&vec![b'x'; MAX_FRAME + 1]);
        assert_eq!(decoder.finish(), Some(ReportError::Truncated { bytes: 0 }));
    }
}
