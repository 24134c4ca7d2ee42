//! The job envelope decoder and the signature check, on any bytes: what a
//! worker does with a job taken from a queue that anyone may have written
//! to. Nothing may panic, and what decodes must encode back to an envelope
//! that decodes to the same bytes again.

#![no_main]

use fastevent::job::{JobEnvelope, JobSigner};
use libfuzzer_sys::fuzz_target;

const KEY: &str = "fuzzing-key-0123456789";
const MAX_BYTES: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    // After a NUL byte comes the signature, as a queue column or an AMQP
    // header carries it; without one, the job is unsigned.
    let (body, signature) = match data.iter().position(|&b| b == 0) {
        Some(at) => (
            &data[..at],
            Some(String::from_utf8_lossy(&data[at + 1..]).into_owned()),
        ),
        None => (data, None),
    };
    let signer = JobSigner::new(KEY).expect("a long enough key");
    let _ = signer.verify(body, signature.as_deref());
    let _ = JobEnvelope::verify_and_decode(body, signature.as_deref(), Some(&signer), MAX_BYTES);

    // Signed here, the same bytes pass the signature check.
    let genuine = signer.sign(body);
    assert_eq!(signer.verify(body, Some(&genuine)), Ok(()));

    let Ok(envelope) = JobEnvelope::decode(body) else {
        return;
    };
    // What a worker reads of a decoded envelope.
    let _ = envelope.context_snapshot();
    let _ = (envelope.timeout(), envelope.hard_timeout());
    let _ = envelope.check_copies("id", "queue", "event", "listener");
    let encoded = serde_json::to_vec(&envelope).expect("a decoded envelope encodes");
    let again = JobEnvelope::decode(&encoded).expect("an encoded envelope decodes");
    assert_eq!(serde_json::to_vec(&again).unwrap(), encoded);
});
