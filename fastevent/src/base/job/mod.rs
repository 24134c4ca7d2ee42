//! The job envelope: one per listener job, versioned, self-describing JSON.
//! It names the event and the listener by their registered names (never
//! code), carries the event payload and the dispatch context, and is what
//! every durable driver stores or sends. Its bytes are immutable once
//! written (they may be signed); a job's attempt count lives in the queue.

pub(crate) mod clock;
mod signing;
mod trust;

use crate::batch::JobBatch;
use crate::context::ContextSnapshot;
use crate::observe::TRACE_ID;
use crate::observe::trace;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::time::Duration;

pub(crate) use clock::now_ms;
pub use signing::JobSigner;

/// The envelope format this build writes and reads.
pub const ENVELOPE_FORMAT: u32 = 1;

/// One listener job, as every durable driver stores or sends it: decode it
/// from a queue's bytes to see which listener it is for, its payload and its
/// context (a `failed show` of your own, a custom worker).
///
/// ```
/// use fastevent::job::JobEnvelope;
/// use std::time::Duration;
///
/// let bytes = br#"{"fastevent_job":1,"id":"0190a7c2","event":"new_chat","event_version":1,
///     "listener":"generate_chat_title","queue":"default","payload":{"chat_id":7},
///     "context":{"user_id":42},"max_attempts":3,"created_at_ms":1700000000000,"timeout_ms":30000}"#;
/// let job = JobEnvelope::decode(bytes)?;
/// assert_eq!((job.event.as_str(), job.listener.as_str()), ("new_chat", "generate_chat_title"));
/// assert_eq!(job.payload.get(), r#"{"chat_id":7}"#);
/// assert_eq!(job.timeout(), Some(Duration::from_secs(30)));
/// assert_eq!(job.context_snapshot().to_json()["user_id"], "42");
/// # Ok::<(), fastevent::job::DecodeError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobEnvelope {
    /// The format marker and version; a reader refuses versions it does not know.
    pub fastevent_job: u32,
    /// A unique id (UUID v7: sortable by creation time).
    pub id: String,
    /// The event's registered name.
    pub event: String,
    /// The event's payload version.
    pub event_version: u32,
    /// The listener's registered name.
    pub listener: String,
    /// The queue the job was put on.
    pub queue: String,
    /// The event, as JSON.
    pub payload: Box<RawValue>,
    /// The propagating context of the dispatch: key name -> JSON value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, Box<RawValue>>,
    /// Attempts before the job goes to the failed store.
    pub max_attempts: u32,
    /// When it was dispatched, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// The soft timeout, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The hard timeout, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_timeout_ms: Option<u64>,
    /// The trace id of the dispatch, for linking the listener's span: the
    /// dispatcher's [`TRACE_ID`] context value, or
    /// one made up at the dispatch. The worker sets it again around the
    /// listener, so its own dispatches stay in the trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The id of the `dispatch` span that queued the job, when a subscriber
    /// recorded it: the job span's `parent_span_id`. Added after format 1
    /// was first released, and only written when there is a span, so a
    /// dispatcher without a subscriber writes what older workers read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// When a signed job stops being valid, in milliseconds since the Unix
    /// epoch: a worker sends it to the failed store instead of running it
    /// after that, which bounds how long a copy of it can be replayed. Set
    /// at dispatch when a signing key is configured
    /// ([`JobDefaults::signed_job_ttl`] after `created_at_ms`); absent in
    /// unsigned jobs and in jobs written before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
}

/// Defaults for what a listener does not set itself: what a driver built in
/// code applies to the jobs it encodes. [`Config`](crate::Config) makes
/// the installed driver's from the environment.
///
/// ```
/// use fastevent::job::JobDefaults;
/// use std::time::Duration;
///
/// let defaults = JobDefaults {
///     tries: 5,
///     timeout: Some(Duration::from_secs(60)),
///     ..JobDefaults::default()
/// };
/// assert_eq!(defaults.queue, "default");
/// assert_eq!(defaults.max_payload_bytes, 256 * 1024);
/// assert_eq!(defaults.signed_job_ttl, Duration::from_secs(7 * 24 * 3600));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobDefaults {
    /// Attempts when the listener has no `tries`.
    pub tries: u32,
    /// Soft timeout when the listener has none.
    pub timeout: Option<Duration>,
    /// Hard timeout when the listener has none.
    pub hard_timeout: Option<Duration>,
    /// The queue when the listener names none.
    pub queue: &'static str,
    /// The largest envelope accepted at dispatch, in bytes.
    pub max_payload_bytes: usize,
    /// How long after its dispatch a signed job may still run: its
    /// envelope's `expires_at_ms`. Keep it well above the longest backoff
    /// times the attempts, plus any outage the queue should survive.
    pub signed_job_ttl: Duration,
}

impl JobDefaults {
    /// The default of [`Self::signed_job_ttl`]: a week, far above the
    /// longest default backoff (10 minutes).
    pub const SIGNED_JOB_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
}

impl Default for JobDefaults {
    fn default() -> Self {
        Self {
            tries: 3,
            timeout: None,
            hard_timeout: None,
            queue: "default",
            max_payload_bytes: 256 * 1024,
            signed_job_ttl: JobDefaults::SIGNED_JOB_TTL,
        }
    }
}

/// An encoded job, ready to store or send: what
/// [`encode_batch`] makes of each listener of a dispatched event, for a
/// durable driver to write (its body, with the rest in columns or headers).
///
/// ```rust,standalone_crate
/// use fastevent::driver::{Driver, DriverError, JobBatch};
/// use fastevent::job::{encode_batch, EncodedJob, JobDefaults};
/// use fastevent::{listener, Dispatched, Event};
/// use serde::{Deserialize, Serialize};
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::Mutex;
///
/// /// Keeps jobs in memory, as a database driver would insert rows.
/// #[derive(Default)]
/// struct Table(Mutex<Vec<EncodedJob>>);
///
/// impl Driver for Table {
///     fn name(&self) -> &'static str {
///         "table"
///     }
///
///     fn enqueue(
///         &self,
///         batch: JobBatch,
///     ) -> Pin<Box<dyn Future<Output = Result<Dispatched, DriverError>> + Send + '_>> {
///         let result = encode_batch(&batch, &JobDefaults::default(), None)
///             .map(|jobs| {
///                 let count = jobs.len();
///                 self.0.lock().unwrap().extend(jobs);
///                 Dispatched { jobs: count }
///             })
///             .map_err(|e| DriverError {
///                 driver: "table",
///                 event: batch.event_name(),
///                 message: e.to_string(),
///                 source: Some(Box::new(e)),
///             });
///         Box::pin(async move { result })
///     }
/// }
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct TicketOpened {
///     ticket_id: u64,
/// }
///
/// #[derive(Default)]
/// struct AssignAgent;
/// #[listener(on = TicketOpened, queue = "support", tries = 2)]
/// impl AssignAgent {
///     async fn handle(&self, _: &TicketOpened) {}
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let table = Table::default();
///     fastevent::dispatch_to(&table, TicketOpened { ticket_id: 5 }).await.unwrap();
///     let rows = table.0.lock().unwrap();
///     let job = &rows[0];
///     assert_eq!((job.queue.as_str(), job.event, job.listener), ("support", "ticket_opened", "assign_agent"));
///     assert_eq!(job.max_attempts, 2);
///     assert_eq!(job.signature, None); // no signer given
/// }
/// ```
#[derive(Debug, Clone)]
pub struct EncodedJob {
    /// The job id.
    pub id: String,
    /// The queue it goes to.
    pub queue: String,
    /// The event's registered name.
    pub event: &'static str,
    /// The listener's registered name.
    pub listener: &'static str,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The envelope's JSON bytes.
    pub body: Vec<u8>,
    /// The HMAC of `body`, when a signing key is configured.
    pub signature: Option<String>,
}

/// Why a job could not be encoded at dispatch: the whole dispatch is
/// refused. A driver reports it inside its [`DriverError`](crate::driver::DriverError).
///
/// ```
/// use fastevent::job::EncodeError;
///
/// let error = EncodeError::TooLarge { event: "file_uploaded", listener: "scan", size: 300_000, limit: 262_144 };
/// assert!(error.to_string().contains("send an id and load the data in the listener"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The event did not serialize.
    #[error("event `{event}` could not be serialized: {source}")]
    Payload {
        /// The event.
        event: &'static str,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The envelope is over the configured size limit.
    #[error(
        "the job of listener `{listener}` for event `{event}` is {size} bytes, over the limit of {limit} bytes (MAX_PAYLOAD_BYTES); send an id and load the data in the listener"
    )]
    TooLarge {
        /// The event.
        event: &'static str,
        /// The listener.
        listener: &'static str,
        /// The envelope's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// Why bytes taken from a queue are not a job this worker can run. Such a
/// job goes to the failed store with its raw bytes; it is never retried.
///
/// ```
/// use fastevent::job::{DecodeError, JobEnvelope};
///
/// assert!(matches!(JobEnvelope::decode(b"hello"), Err(DecodeError::Malformed(_))));
/// assert_eq!(
///     JobEnvelope::decode(br#"{"fastevent_job":2}"#).unwrap_err(),
///     DecodeError::UnsupportedFormat(2) // written by a newer build
/// );
/// let expired = DecodeError::Expired { expires_at_ms: 1_700_000_000_000 };
/// assert!(expired.to_string().starts_with("the signed job expired at 2023-11-14 22:13:20 UTC"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or JSON of another shape.
    #[error("not a fastevent job envelope: {0}")]
    Malformed(String),
    /// A format version this build does not know.
    #[error("job envelope format {0} is not supported (this build reads format {ENVELOPE_FORMAT})")]
    UnsupportedFormat(u32),
    /// A signing key is configured and the job carries no signature.
    #[error("the job is not signed, and this worker only runs signed jobs")]
    Unsigned,
    /// The signature does not match the bytes.
    #[error("the job's signature does not match: it was altered or signed with another key")]
    BadSignature,
    /// The job is larger than the worker accepts: it was not written by a
    /// dispatcher with the same limit. Refused before it is read.
    #[error(
        "the job is {size} bytes, over the limit of {limit} bytes (MAX_PAYLOAD_BYTES); it was not read"
    )]
    TooLarge {
        /// The job's size.
        size: usize,
        /// The worker's limit.
        limit: usize,
    },
    /// The job's `expires_at_ms` has passed: a copy kept past its time, or
    /// one that waited in the queue longer than its dispatcher allowed.
    #[error(
        "the signed job expired at {} and is not run (dispatch the event again to run it)",
        clock::utc(*expires_at_ms)
    )]
    Expired {
        /// Its expiry, in milliseconds since the Unix epoch.
        expires_at_ms: u64,
    },
    /// A copy the queue keeps beside the envelope (a column, a header)
    /// says something else than the envelope: someone changed one of them.
    #[error(
        "the {field} stored beside the job ({stored:?}) differs from its envelope's ({envelope:?}); the job is not trusted"
    )]
    Mismatch {
        /// Which: `job id`, `queue`, `event` or `listener`.
        field: &'static str,
        /// The copy beside the envelope (cut when long).
        stored: String,
        /// The envelope's value.
        envelope: String,
    },
}

impl JobEnvelope {
    /// Decodes and checks an envelope. Strict: unknown fields, a missing
    /// field or an unknown format version are errors; never panics.
    pub fn decode(bytes: &[u8]) -> Result<JobEnvelope, DecodeError> {
        #[derive(Deserialize)]
        struct Marker {
            fastevent_job: Option<u32>,
        }
        let marker: Marker =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        match marker.fastevent_job {
            Some(ENVELOPE_FORMAT) => {}
            Some(other) => return Err(DecodeError::UnsupportedFormat(other)),
            None => {
                return Err(DecodeError::Malformed(
                    "missing the `fastevent_job` format marker".into(),
                ));
            }
        }
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
    }

    /// The context snapshot this job carries, with its trace id as the
    /// [`TRACE_ID`] value.
    pub fn context_snapshot(&self) -> ContextSnapshot {
        let snapshot = ContextSnapshot::from_json(
            self.context
                .iter()
                .map(|(k, v)| (k.clone(), v.get().to_string()))
                .collect(),
        );
        match &self.trace_id {
            Some(trace_id) => trace::with_trace_id(&snapshot, trace_id),
            None => snapshot,
        }
    }

    /// The soft timeout.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }

    /// The hard timeout.
    pub fn hard_timeout(&self) -> Option<Duration> {
        self.hard_timeout_ms.map(Duration::from_millis)
    }
}

/// Encodes one job per listener of `batch`. The payload is serialized once;
/// any failure refuses the whole batch, so a dispatch is all or nothing.
/// What a durable driver calls in its [`Driver::enqueue`](crate::driver::Driver::enqueue)
/// (see [`EncodedJob`] for a whole driver); with a `signer`, each job
/// carries its signature, and its envelope an expiry
/// ([`JobDefaults::signed_job_ttl`] after the dispatch).
///
/// ```rust,standalone_crate
/// use fastevent::driver::{Driver, DriverError, JobBatch};
/// use fastevent::job::{encode_batch, EncodeError, JobDefaults, JobEnvelope, JobSigner};
/// use fastevent::{listener, Dispatched, Event};
/// use serde::{Deserialize, Serialize};
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::Mutex;
///
/// /// Encodes with a small size limit and a signing key, keeps the outcome.
/// #[derive(Default)]
/// struct Checked(Mutex<Vec<Result<Vec<(Vec<u8>, Option<String>)>, EncodeError>>>);
///
/// impl Driver for Checked {
///     fn name(&self) -> &'static str {
///         "checked"
///     }
///
///     fn enqueue(
///         &self,
///         batch: JobBatch,
///     ) -> Pin<Box<dyn Future<Output = Result<Dispatched, DriverError>> + Send + '_>> {
///         let defaults = JobDefaults { max_payload_bytes: 1024, ..JobDefaults::default() };
///         let signer = JobSigner::new("a secret of 16+ bytes");
///         let encoded = encode_batch(&batch, &defaults, signer.as_ref())
///             .map(|jobs| jobs.into_iter().map(|job| (job.body, job.signature)).collect());
///         self.0.lock().unwrap().push(encoded);
///         Box::pin(async { Ok(Dispatched { jobs: 0 }) })
///     }
/// }
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct NoteSaved {
///     text: String,
/// }
///
/// #[derive(Default)]
/// struct IndexNote;
/// #[listener(on = NoteSaved)]
/// impl IndexNote {
///     async fn handle(&self, _: &NoteSaved) {}
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let driver = Checked::default();
///     fastevent::dispatch_to(&driver, NoteSaved { text: "short".into() }).await.unwrap();
///     fastevent::dispatch_to(&driver, NoteSaved { text: "x".repeat(2000) }).await.unwrap();
///
///     let outcomes = driver.0.lock().unwrap();
///     let (body, signature) = &outcomes[0].as_ref().unwrap()[0];
///     let signer = JobSigner::new("a secret of 16+ bytes").unwrap();
///     assert!(signer.verify(body, signature.as_deref()).is_ok());
///     assert_eq!(JobEnvelope::decode(body).unwrap().listener, "index_note");
///     assert!(matches!(outcomes[1], Err(EncodeError::TooLarge { limit: 1024, .. })));
/// }
/// ```
pub fn encode_batch(
    batch: &JobBatch,
    defaults: &JobDefaults,
    signer: Option<&JobSigner>,
) -> Result<Vec<EncodedJob>, EncodeError> {
    let payload = batch
        .payload_json()
        .map_err(|source| EncodeError::Payload {
            event: batch.event_name(),
            source,
        })?;
    let payload = RawValue::from_string(payload).map_err(|source| EncodeError::Payload {
        event: batch.event_name(),
        source,
    })?;
    // The trace id travels in its own field, not twice.
    let context: BTreeMap<String, Box<RawValue>> = batch
        .context()
        .to_json()
        .into_iter()
        .filter(|(k, _)| k != TRACE_ID.name())
        .filter_map(|(k, v)| Some((k, RawValue::from_string(v).ok()?)))
        .collect();
    let (trace_id, parent_span_id) = match batch.trace() {
        Some(trace) => (trace.trace_id(batch.context()), Some(trace.span_id())),
        None => (trace::trace_id_for(batch.context()), None),
    };
    let created_at_ms = now_ms();
    let mut jobs = Vec::with_capacity(batch.listeners().len());
    for listener in batch.listeners() {
        let options = &listener.options;
        let envelope = JobEnvelope {
            fastevent_job: ENVELOPE_FORMAT,
            id: uuid::Uuid::now_v7().to_string(),
            event: batch.event_name().to_string(),
            event_version: batch.event_version(),
            listener: listener.name.to_string(),
            queue: options.queue.unwrap_or(defaults.queue).to_string(),
            payload: payload.clone(),
            context: context.clone(),
            max_attempts: options.tries.unwrap_or(defaults.tries).max(1),
            created_at_ms,
            timeout_ms: options
                .timeout
                .or(defaults.timeout)
                .map(|d| d.as_millis() as u64),
            hard_timeout_ms: options
                .hard_timeout
                .or(defaults.hard_timeout)
                .map(|d| d.as_millis() as u64),
            trace_id: Some(trace_id.clone()),
            parent_span_id: parent_span_id.clone(),
            expires_at_ms: signer.map(|_| expiry(created_at_ms, defaults.signed_job_ttl)),
        };
        let body = serde_json::to_vec(&envelope).map_err(|source| EncodeError::Payload {
            event: batch.event_name(),
            source,
        })?;
        if body.len() > defaults.max_payload_bytes {
            return Err(EncodeError::TooLarge {
                event: batch.event_name(),
                listener: listener.name,
                size: body.len(),
                limit: defaults.max_payload_bytes,
            });
        }
        jobs.push(EncodedJob {
            signature: signer.map(|s| s.sign(&body)),
            id: envelope.id,
            queue: envelope.queue,
            event: batch.event_name(),
            listener: listener.name,
            max_attempts: envelope.max_attempts,
            body,
        });
    }
    Ok(jobs)
}

/// `ttl` after `created_at_ms`, saturating: a huge TTL means "never".
fn expiry(created_at_ms: u64, ttl: Duration) -> u64 {
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    created_at_ms.saturating_add(ttl_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope_json() -> String {
        r#"{"fastevent_job":1,"id":"x","event":"new_chat","event_version":1,"listener":"l","queue":"default","payload":{"chat_id":7},"max_attempts":3,"created_at_ms":1}"#.to_string()
    }

    #[test]
    fn decodes_a_valid_envelope() {
        let envelope = JobEnvelope::decode(envelope_json().as_bytes()).unwrap();
        assert_eq!(envelope.event, "new_chat");
        assert_eq!(envelope.payload.get(), r#"{"chat_id":7}"#);
        assert!(envelope.context.is_empty());
    }

    #[test]
    fn the_trace_fields_are_optional_and_the_trace_id_reaches_the_context() {
        let old = JobEnvelope::decode(envelope_json().as_bytes()).unwrap();
        assert_eq!((&old.trace_id, &old.parent_span_id), (&None, &None));
        assert_eq!(old.context_snapshot().json_of("fastevent.trace_id"), None);

        let traced = envelope_json().replace(
            "\"created_at_ms\":1",
            "\"created_at_ms\":1,\"trace_id\":\"t1\",\"parent_span_id\":\"s1\"",
        );
        let envelope = JobEnvelope::decode(traced.as_bytes()).unwrap();
        assert_eq!(envelope.trace_id.as_deref(), Some("t1"));
        assert_eq!(envelope.parent_span_id.as_deref(), Some("s1"));
        let snapshot = envelope.context_snapshot();
        assert_eq!(snapshot.json_of("fastevent.trace_id"), Some("\"t1\""));
        // Written back, the envelope is the same JSON, byte for byte.
        assert_eq!(serde_json::to_string(&envelope).unwrap(), traced);
    }

    #[test]
    fn refuses_what_is_not_a_current_envelope() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "not a fastevent job envelope"),
            (b"\xff\xfe garbage".to_vec(), "not a fastevent job envelope"),
            (b"[1,2,3]".to_vec(), "not a fastevent job envelope"),
            (b"{}".to_vec(), "missing the `fastevent_job` format marker"),
            (
                envelope_json()
                    .replace(":1,\"id\"", ":2,\"id\"")
                    .into_bytes(),
                "format 2 is not supported",
            ),
            (
                envelope_json()
                    .replace("\"queue\"", "\"extra\":1,\"queue\"")
                    .into_bytes(),
                "unknown field `extra`",
            ),
            (
                envelope_json()
                    .replace(",\"max_attempts\":3", "")
                    .into_bytes(),
                "missing field `max_attempts`",
            ),
            (
                envelope_json()
                    .replace("\"max_attempts\":3", "\"max_attempts\":-3")
                    .into_bytes(),
                "invalid value",
            ),
        ];
        for (bytes, expected) in cases {
            let error = JobEnvelope::decode(&bytes).unwrap_err().to_string();
            assert!(
                error.contains(expected),
                "{error:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn decoding_never_panics_on_truncated_or_mutated_input() {
        let valid = envelope_json().into_bytes();
        for cut in 0..valid.len() {
            let _ = JobEnvelope::decode(&valid[..cut]);
        }
        for at in 0..valid.len() {
            for byte in [0u8, b'"', b'{', b'}', 0xff, b'9'] {
                let mut mutated = valid.clone();
                mutated[at] = byte;
                let _ = JobEnvelope::decode(&mutated);
            }
        }
    }
}
