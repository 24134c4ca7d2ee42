//! HMAC-SHA256 signatures of job envelopes. With a key configured
//! (`FASTEVENT_SIGNING_KEY`), dispatchers sign every job and workers refuse
//! (dead-letter) jobs that are unsigned or whose bytes were altered: nobody
//! who can write to the queue but lacks the key gets a listener to run.
//! The signature covers the whole envelope, so every field a worker acts
//! on, and the expiry that bounds replays, are covered; what the queue keeps
//! beside it (attempt count, copies of names) is not, and the worker checks
//! or ignores it (`JobEnvelope::verify_and_decode`, `check_copies`).
//! Payloads are not encrypted.

use super::DecodeError;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Signs and verifies job bytes with one secret key (HMAC-SHA256). The
/// drivers use the one [`Config::signing_key`](crate::Config::signing_key)
/// makes; a driver or worker of your own signs and checks with it too.
///
/// ```
/// use fastevent::job::{DecodeError, JobSigner};
///
/// assert!(JobSigner::new("short").is_none()); // under MIN_KEY_BYTES
/// let signer = JobSigner::new("a secret of 16+ bytes").unwrap();
///
/// let body = br#"{"fastevent_job":1}"#;
/// let signature = signer.sign(body);
/// assert_eq!(signer.verify(body, Some(&signature)), Ok(()));
/// assert_eq!(signer.verify(b"altered", Some(&signature)), Err(DecodeError::BadSignature));
/// assert_eq!(signer.verify(body, None), Err(DecodeError::Unsigned));
/// ```
#[derive(Clone)]
pub struct JobSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for JobSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobSigner { key: <redacted> }")
    }
}

impl JobSigner {
    /// The shortest key accepted, in bytes.
    pub const MIN_KEY_BYTES: usize = 16;

    /// A signer with `key`; `None` when the key is shorter than
    /// [`Self::MIN_KEY_BYTES`].
    pub fn new(key: impl Into<Vec<u8>>) -> Option<Self> {
        let key = key.into();
        (key.len() >= Self::MIN_KEY_BYTES).then_some(Self { key })
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail.
        HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length")
    }

    /// The signature of `body`, as lower-case hex.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Checks `signature` against `body` in constant time.
    pub fn verify(&self, body: &[u8], signature: Option<&str>) -> Result<(), DecodeError> {
        let signature = signature.ok_or(DecodeError::Unsigned)?;
        let bytes = decode_hex(signature).ok_or(DecodeError::BadSignature)?;
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(&bytes)
            .map_err(|_| DecodeError::BadSignature)
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let signer = JobSigner::new("0123456789abcdef-secret").unwrap();
        let body = br#"{"fastevent_job":1}"#;
        let signature = signer.sign(body);
        assert_eq!(signature.len(), 64);
        assert_eq!(signer.verify(body, Some(&signature)), Ok(()));
        assert_eq!(
            signer.verify(b"{\"fastevent_job\":2}", Some(&signature)),
            Err(DecodeError::BadSignature)
        );
        assert_eq!(signer.verify(body, None), Err(DecodeError::Unsigned));
        assert_eq!(
            signer.verify(body, Some("zz")),
            Err(DecodeError::BadSignature)
        );
        assert_eq!(
            signer.verify(body, Some("é")),
            Err(DecodeError::BadSignature)
        );
        let other = JobSigner::new("another-key-of-16-bytes").unwrap();
        assert_eq!(
            other.verify(body, Some(&signature)),
            Err(DecodeError::BadSignature)
        );
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(JobSigner::new("short").is_none());
    }
}
