//! What a worker checks before it trusts a job taken from a queue: its
//! size, its signature, its expiry, and that the copies the queue keeps
//! beside the envelope (columns, headers) say what the envelope says. The
//! signature covers the envelope's bytes, so every field a worker acts on
//! (id, queue, event, listener, payload, context, attempts allowed,
//! dispatch time, timeouts, expiry) is covered, and the worker reads them
//! from the envelope only. The attempt count is the queue's: not signed.

use super::clock::now_ms;
use super::{DecodeError, JobEnvelope, JobSigner};

/// A stored copy shown in an error is cut to this many characters: it was
/// written by someone we do not trust, and may be of any size.
const SHOWN_CHARS: usize = 100;

impl JobEnvelope {
    /// Checks a job's bytes as a worker must before it runs the job,
    /// cheapest first: its size against `max_bytes` (the dispatchers'
    /// `MAX_PAYLOAD_BYTES`), its `signature` when a `signer` is given, the
    /// envelope ([`JobEnvelope::decode`]), then its expiry. Never panics.
    ///
    /// ```
    /// use fastevent::job::{DecodeError, JobEnvelope, JobSigner};
    ///
    /// let signer = JobSigner::new("a secret of 16+ bytes").unwrap();
    /// let body = br#"{"fastevent_job":1,"id":"j1","event":"e","event_version":1,"listener":"l",
    ///     "queue":"default","payload":{},"max_attempts":3,"created_at_ms":1}"#;
    /// let signature = signer.sign(body);
    ///
    /// let job = JobEnvelope::verify_and_decode(body, Some(&signature), Some(&signer), 1024)?;
    /// assert_eq!(job.max_attempts, 3);
    /// assert_eq!(
    ///     JobEnvelope::verify_and_decode(body, None, Some(&signer), 1024).unwrap_err(),
    ///     DecodeError::Unsigned
    /// );
    /// assert!(matches!(
    ///     JobEnvelope::verify_and_decode(body, Some(&signature), Some(&signer), 100),
    ///     Err(DecodeError::TooLarge { limit: 100, .. })
    /// ));
    /// # Ok::<(), DecodeError>(())
    /// ```
    pub fn verify_and_decode(
        body: &[u8],
        signature: Option<&str>,
        signer: Option<&JobSigner>,
        max_bytes: usize,
    ) -> Result<JobEnvelope, DecodeError> {
        if body.len() > max_bytes {
            return Err(DecodeError::TooLarge {
                size: body.len(),
                limit: max_bytes,
            });
        }
        if let Some(signer) = signer {
            signer.verify(body, signature)?;
        }
        let envelope = Self::decode(body)?;
        envelope.check_expiry(now_ms())?;
        Ok(envelope)
    }

    /// Refuses the envelope once `now_ms` is past its `expires_at_ms`.
    fn check_expiry(&self, now_ms: u64) -> Result<(), DecodeError> {
        match self.expires_at_ms {
            Some(expires_at_ms) if now_ms > expires_at_ms => {
                Err(DecodeError::Expired { expires_at_ms })
            }
            _ => Ok(()),
        }
    }

    /// Refuses a claimed job whose job id, queue, event or listener, as the
    /// queue keeps them beside the envelope (a [`ClaimedJob`]'s fields),
    /// differ from the envelope's: someone who cannot sign changed the copy
    /// (to move a job to another queue, or to mislead whoever reads the
    /// queue), or the envelope.
    ///
    /// [`ClaimedJob`]: crate::driver::durable::ClaimedJob
    ///
    /// ```
    /// use fastevent::job::{DecodeError, JobEnvelope};
    ///
    /// let envelope = JobEnvelope::decode(br#"{"fastevent_job":1,"id":"j1","event":"e","event_version":1,
    ///     "listener":"l","queue":"default","payload":{},"max_attempts":3,"created_at_ms":1}"#)?;
    /// assert_eq!(envelope.check_copies("j1", "default", "e", "l"), Ok(()));
    ///
    /// let error = envelope.check_copies("j1", "urgent", "e", "l").unwrap_err();
    /// assert!(matches!(error, DecodeError::Mismatch { field: "queue", .. }));
    /// # Ok::<(), DecodeError>(())
    /// ```
    pub fn check_copies(
        &self,
        job_id: &str,
        queue: &str,
        event: &str,
        listener: &str,
    ) -> Result<(), DecodeError> {
        let copies = [
            ("job id", job_id, &self.id),
            ("queue", queue, &self.queue),
            ("event", event, &self.event),
            ("listener", listener, &self.listener),
        ];
        for (field, stored, envelope) in copies {
            if stored != envelope {
                return Err(DecodeError::Mismatch {
                    field,
                    stored: clip(stored),
                    envelope: clip(envelope),
                });
            }
        }
        Ok(())
    }
}

/// At most [`SHOWN_CHARS`] characters of `text`, with `…` when cut.
fn clip(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(expires_at_ms: Option<u64>) -> JobEnvelope {
        let mut envelope = JobEnvelope::decode(
            br#"{"fastevent_job":1,"id":"x","event":"e","event_version":1,"listener":"l","queue":"q","payload":1,"max_attempts":1,"created_at_ms":1}"#,
        )
        .unwrap();
        envelope.expires_at_ms = expires_at_ms;
        envelope
    }

    #[test]
    fn a_job_runs_until_its_expiry_and_never_after() {
        assert_eq!(envelope(Some(1000)).check_expiry(999), Ok(()));
        assert_eq!(envelope(Some(1000)).check_expiry(1000), Ok(()));
        assert_eq!(
            envelope(Some(1000)).check_expiry(1001),
            Err(DecodeError::Expired {
                expires_at_ms: 1000
            })
        );
        assert_eq!(envelope(None).check_expiry(u64::MAX), Ok(()));
    }

    #[test]
    fn the_size_is_checked_before_the_signature_and_the_bytes() {
        let signer = JobSigner::new("0123456789abcdef-secret").unwrap();
        let error = JobEnvelope::verify_and_decode(b"not even json", None, Some(&signer), 4);
        assert_eq!(
            error.unwrap_err(),
            DecodeError::TooLarge { size: 13, limit: 4 }
        );
    }

    #[test]
    fn long_stored_copies_are_cut_in_the_error() {
        assert_eq!(clip("short"), "short");
        let cut = clip(&"é".repeat(1000));
        assert_eq!(cut.chars().count(), SHOWN_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
