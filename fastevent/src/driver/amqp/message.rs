//! A job as an AMQP message: the envelope's bytes untouched as the body (so
//! a signature over them stays valid), and what the queue needs to know
//! beside them (event, listener, attempts, signature) in headers, the way
//! the SQLite driver keeps them in columns beside the body.
//!
//! The attempt count lives in a header, not in the body: the body is
//! immutable (it may be signed), and RabbitMQ cannot change a message in
//! place, so every move of a job (a retry, a checkpoint after a crash, the
//! failed store and back) republishes it with the header updated.

use crate::driver::durable::{FailedJob, StoredJob};
use crate::job::EncodedJob;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

// The header names: the wire format of a job, which workers of other
// versions of this crate read too.

/// Header: attempts already made (absent: none). The attempt a delivery starts is
/// this plus one.
pub(crate) const ATTEMPTS: &str = "x-fastevent-attempts";
/// Header: attempts allowed.
pub(crate) const MAX_ATTEMPTS: &str = "x-fastevent-max-attempts";
/// Header: the event's registered name.
pub(crate) const EVENT: &str = "x-fastevent-event";
/// Header: the listener's registered name.
pub(crate) const LISTENER: &str = "x-fastevent-listener";
/// Header: the HMAC of the body, when jobs are signed.
pub(crate) const SIGNATURE: &str = "x-fastevent-signature";
/// Header: the fastevent queue the job belongs to (on failed-store messages, where
/// the AMQP queue no longer says it).
pub(crate) const QUEUE: &str = "x-fastevent-queue";
/// Header: why the last attempt failed (retries and failed-store messages).
pub(crate) const ERROR: &str = "x-fastevent-error";
/// Header: when the job was moved to the failed store, in ms since the Unix epoch.
pub(crate) const FAILED_AT: &str = "x-fastevent-failed-at";
/// Header: the job's id in the failed store (what `failed retry <id>` takes).
pub(crate) const FAILED_ID: &str = "x-fastevent-failed-id";

/// Header: on a job parked because the failed store refused it, the error
/// it is to be stored with; such a job is not run again, only offered to
/// the failed store again.
pub(crate) const PARKED: &str = "x-fastevent-parked";

/// Headers longer than this are cut: an error message must not make a
/// message too large for the broker's frame limits.
const MAX_ERROR_BYTES: usize = 4096;

/// What the driver knows of a job besides its body, as it travels in the
/// message's properties and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobMeta {
    /// The envelope's id, as the AMQP `message_id`.
    pub(crate) job_id: String,
    /// The fastevent queue.
    pub(crate) queue: String,
    /// The event's registered name.
    pub(crate) event: String,
    /// The listener's registered name.
    pub(crate) listener: String,
    /// Attempts allowed.
    pub(crate) max_attempts: u32,
    /// Attempts already made.
    pub(crate) attempts: u32,
    /// The body's signature.
    pub(crate) signature: Option<String>,
}

impl JobMeta {
    /// A job being dispatched: no attempt made yet.
    pub(crate) fn dispatched(job: &EncodedJob) -> Self {
        Self {
            job_id: job.id.clone(),
            queue: job.queue.clone(),
            event: job.event.to_string(),
            listener: job.listener.to_string(),
            max_attempts: job.max_attempts,
            attempts: 0,
            signature: job.signature.clone(),
        }
    }

    /// A claimed job, with `attempts` made so far.
    pub(crate) fn claimed(job: &StoredJob, attempts: u32) -> Self {
        Self {
            job_id: job.job_id.clone(),
            queue: job.queue.clone(),
            event: job.event.clone(),
            listener: job.listener.clone(),
            max_attempts: job.max_attempts,
            attempts,
            signature: job.signature.clone(),
        }
    }

    /// Reads a delivery's properties. Bytes put on the queue by anyone but
    /// a dispatcher (no headers) still make a job, with placeholders: the
    /// worker then refuses it with a reason and keeps its bytes.
    pub(crate) fn read(properties: &BasicProperties, queue: &str, default_tries: u32) -> Self {
        let headers = Headers(properties.headers().as_ref());
        Self {
            job_id: properties
                .message_id()
                .as_ref()
                .map(|id| id.as_str().to_string())
                .unwrap_or_default(),
            queue: queue.to_string(),
            event: headers.string(EVENT).unwrap_or_else(|| "?".into()),
            listener: headers.string(LISTENER).unwrap_or_else(|| "?".into()),
            max_attempts: headers
                .number(MAX_ATTEMPTS)
                .map_or(default_tries, |n| n.clamp(1, u32::MAX as u64) as u32),
            attempts: headers
                .number(ATTEMPTS)
                .map_or(0, |n| n.min(u32::MAX as u64) as u32),
            signature: headers.string(SIGNATURE),
        }
    }

    /// The message properties of this job: persistent, JSON, headers.
    pub(crate) fn properties(&self) -> BasicProperties {
        let mut headers = FieldTable::default();
        put_string(&mut headers, EVENT, &self.event);
        put_string(&mut headers, LISTENER, &self.listener);
        headers.insert(
            MAX_ATTEMPTS.into(),
            AMQPValue::LongLongInt(self.max_attempts as i64),
        );
        if self.attempts > 0 {
            headers.insert(
                ATTEMPTS.into(),
                AMQPValue::LongLongInt(self.attempts as i64),
            );
        }
        if let Some(signature) = &self.signature {
            put_string(&mut headers, SIGNATURE, signature);
        }
        let mut properties = BasicProperties::default()
            // 2 = persistent: written to disk by a durable queue.
            .with_delivery_mode(2)
            .with_content_type(ShortString::from("application/json"))
            .with_timestamp(crate::job::now_ms() / 1000)
            .with_headers(headers);
        if !self.job_id.is_empty() {
            properties = properties.with_message_id(ShortString::from(self.job_id.as_str()));
        }
        properties
    }

    /// The properties of a retry: this job plus its last error.
    pub(crate) fn retry_properties(&self, error: &str) -> BasicProperties {
        with_headers(self.properties(), |headers| {
            put_string(headers, ERROR, truncate(error))
        })
    }

    /// The properties of this job parked on its way to the failed store,
    /// which it is to reach with `error`.
    pub(crate) fn parked_properties(&self, error: &str) -> BasicProperties {
        with_headers(self.properties(), |headers| {
            put_string(headers, PARKED, truncate(error))
        })
    }

    /// The properties of this job in the failed store.
    pub(crate) fn failed_properties(
        &self,
        error: &str,
        failed_at_ms: u64,
        id: i64,
    ) -> BasicProperties {
        with_headers(self.properties(), |headers| {
            put_string(headers, QUEUE, &self.queue);
            put_string(headers, ERROR, truncate(error));
            headers.insert(
                FAILED_AT.into(),
                AMQPValue::LongLongInt(failed_at_ms as i64),
            );
            headers.insert(FAILED_ID.into(), AMQPValue::LongLongInt(id));
        })
    }
}

/// The error a parked job is to reach the failed store with, if it is one.
pub(crate) fn parked_error(properties: &BasicProperties) -> Option<String> {
    Headers(properties.headers().as_ref()).string(PARKED)
}

/// A failed-store message as a [`FailedJob`]; `fallback_id` names one that
/// has no id header (put there by hand). How the `failed` commands read the
/// failed store.
pub(crate) fn failed_job(properties: &BasicProperties, body: &[u8], fallback_id: i64) -> FailedJob {
    let headers = Headers(properties.headers().as_ref());
    let meta = JobMeta::read(properties, "", 1);
    FailedJob {
        id: headers
            .number(FAILED_ID)
            .map_or(fallback_id, |n| n.min(i64::MAX as u64) as i64),
        job_id: meta.job_id,
        queue: headers.string(QUEUE).unwrap_or_else(|| "?".into()),
        event: meta.event,
        listener: meta.listener,
        attempts: meta.attempts,
        error: headers.string(ERROR).unwrap_or_default(),
        failed_at_ms: headers.number(FAILED_AT).unwrap_or(0),
        body: body.to_vec(),
    }
}

/// The job of a failed-store message, for putting it back on its queue
/// (`failed retry`).
pub(crate) fn failed_meta(properties: &BasicProperties) -> JobMeta {
    let headers = Headers(properties.headers().as_ref());
    let queue = headers.string(QUEUE).unwrap_or_else(|| "default".into());
    JobMeta::read(properties, &queue, 1)
}

fn with_headers(properties: BasicProperties, add: impl FnOnce(&mut FieldTable)) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    add(&mut headers);
    properties.with_headers(headers)
}

fn put_string(headers: &mut FieldTable, name: &str, value: &str) {
    headers.insert(
        name.into(),
        AMQPValue::LongString(LongString::from(value.as_bytes().to_vec())),
    );
}

fn truncate(text: &str) -> &str {
    if text.len() <= MAX_ERROR_BYTES {
        return text;
    }
    let mut end = MAX_ERROR_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Typed reads of a header table that tolerate what other clients write
/// (any integer width, numbers as strings).
struct Headers<'a>(Option<&'a FieldTable>);

impl Headers<'_> {
    fn value(&self, name: &str) -> Option<&AMQPValue> {
        self.0?.inner().get(name)
    }

    fn string(&self, name: &str) -> Option<String> {
        match self.value(name)? {
            AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
            AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
            _ => None,
        }
    }

    fn number(&self, name: &str) -> Option<u64> {
        let n: i128 = match self.value(name)? {
            AMQPValue::ShortShortInt(n) => (*n).into(),
            AMQPValue::ShortShortUInt(n) => (*n).into(),
            AMQPValue::ShortInt(n) => (*n).into(),
            AMQPValue::ShortUInt(n) => (*n).into(),
            AMQPValue::LongInt(n) => (*n).into(),
            AMQPValue::LongUInt(n) => (*n).into(),
            AMQPValue::LongLongInt(n) => (*n).into(),
            AMQPValue::Timestamp(n) => (*n).into(),
            AMQPValue::LongString(_) | AMQPValue::ShortString(_) => {
                self.string(name)?.trim().parse().ok()?
            }
            _ => return None,
        };
        u64::try_from(n).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> JobMeta {
        JobMeta {
            job_id: "0190-job".into(),
            queue: "emails".into(),
            event: "new_chat".into(),
            listener: "send_mail".into(),
            max_attempts: 5,
            attempts: 2,
            signature: Some("abcd".into()),
        }
    }

    #[test]
    fn headers_round_trip() {
        let meta = meta();
        let properties = meta.properties();
        assert_eq!(properties.delivery_mode(), &Some(2), "persistent");
        assert_eq!(JobMeta::read(&properties, "emails", 3), meta);
    }

    #[test]
    fn a_message_without_headers_is_still_a_job() {
        let read = JobMeta::read(&BasicProperties::default(), "default", 3);
        assert_eq!(
            (read.event.as_str(), read.attempts, read.max_attempts),
            ("?", 0, 3)
        );
        assert!(read.job_id.is_empty() && read.signature.is_none());
    }

    #[test]
    fn numbers_written_by_other_clients_are_read() {
        let mut headers = FieldTable::default();
        headers.insert(ATTEMPTS.into(), AMQPValue::ShortUInt(4));
        headers.insert(
            MAX_ATTEMPTS.into(),
            AMQPValue::LongString(LongString::from(" 9 ")),
        );
        let properties = BasicProperties::default().with_headers(headers);
        let read = JobMeta::read(&properties, "q", 3);
        assert_eq!((read.attempts, read.max_attempts), (4, 9));
    }

    #[test]
    fn failed_store_messages_carry_their_origin_and_error() {
        let long_error = "é".repeat(5000);
        let properties = meta().failed_properties(&long_error, 1234, 77);
        let failed = failed_job(&properties, b"body", 1);
        assert_eq!(
            (failed.id, failed.queue.as_str(), failed.attempts),
            (77, "emails", 2)
        );
        assert_eq!(failed.failed_at_ms, 1234);
        assert!(failed.error.len() <= MAX_ERROR_BYTES && failed.error.starts_with('é'));
        assert_eq!(failed_meta(&properties).queue, "emails");
    }

    #[test]
    fn a_failed_store_message_reads_back_as_the_job_it_was() {
        let meta = JobMeta {
            job_id: "0190a7c2-job".into(),
            queue: "emails".into(),
            event: "user_registered".into(),
            listener: "send_welcome_mail".into(),
            max_attempts: 3,
            attempts: 3,
            signature: None,
        };
        let properties = meta.failed_properties("SMTP 550", 1_700_000_000_000, 7);
        let failed = failed_job(&properties, b"{}", 0);
        assert_eq!(
            (failed.id, failed.queue.as_str(), failed.error.as_str()),
            (7, "emails", "SMTP 550")
        );
        assert_eq!(failed.attempts, 3);
        assert_eq!(failed_meta(&properties), meta); // its queue from a header
    }

    #[test]
    fn a_parked_job_keeps_its_error_and_attempts() {
        let properties = meta().parked_properties("boom");
        assert_eq!(parked_error(&properties).as_deref(), Some("boom"));
        assert_eq!(JobMeta::read(&properties, "emails", 3), meta());
        assert_eq!(parked_error(&meta().properties()), None);
    }
}
