//! Reading job rows whatever their columns hold. SQLite lets any column
//! hold any type, and the queue's file may be written by other programs
//! (an outbox written by another service, a row edited by hand): a row is
//! read as raw values first, then checked column by column, so that one
//! unreadable row is moved aside with the reason instead of failing every
//! claim that meets it.

use crate::driver::durable::{ClaimedJob, StoredJob};
use rusqlite::Row;
use rusqlite::types::Value;

/// The columns [`RawJob::read`] expects, in order.
pub(super) const JOB_COLUMNS: &str = "id, claims, job_id, queue, event, listener, body, signature, \
                                      attempts, max_attempts, available_at";

/// A claim of one job row, what the SQLite queue's settles take: the row,
/// and the claim's fencing token (the row's claim count when it was
/// taken, which every later claim raises).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RowClaim {
    /// The row's id.
    pub row: i64,
    /// The fencing token.
    pub claim: i64,
}

/// One row of the jobs table as stored, before any check.
pub(super) struct RawJob {
    pub id: i64,
    values: Vec<Value>,
}

/// What a column must hold.
#[derive(Clone, Copy)]
enum Expected {
    Integer,
    Text,
    Blob,
    TextOrNull,
    /// A time in milliseconds: an integer, or a real SQLite may have made
    /// of one.
    Number,
}

/// Column names and what each holds, in [`JOB_COLUMNS`] order.
const LAYOUT: [(&str, Expected); 11] = [
    ("id", Expected::Integer),
    ("claims", Expected::Integer),
    ("job_id", Expected::Text),
    ("queue", Expected::Text),
    ("event", Expected::Text),
    ("listener", Expected::Text),
    ("body", Expected::Blob),
    ("signature", Expected::TextOrNull),
    ("attempts", Expected::Integer),
    ("max_attempts", Expected::Integer),
    ("available_at", Expected::Number),
];

const ID: usize = 0;
const CLAIMS: usize = 1;
const JOB_ID: usize = 2;
const QUEUE: usize = 3;
const EVENT: usize = 4;
const LISTENER: usize = 5;
const BODY: usize = 6;
const SIGNATURE: usize = 7;
const ATTEMPTS: usize = 8;
const MAX_ATTEMPTS: usize = 9;

impl RawJob {
    /// Reads a row selected as [`JOB_COLUMNS`]; fails only if SQLite does.
    pub(super) fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        let values = (0..LAYOUT.len())
            .map(|i| row.get::<_, Value>(i))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let id = match values[ID] {
            Value::Integer(id) => id,
            // The rowid is always an integer; kept total all the same.
            _ => 0,
        };
        Ok(Self { id, values })
    }

    /// The claimed job this row is, or why it is not one.
    pub(super) fn decode(&self) -> Result<ClaimedJob<RowClaim>, String> {
        let problems: Vec<String> = LAYOUT
            .iter()
            .zip(&self.values)
            .filter_map(|((name, expected), value)| problem(name, *expected, value))
            .chain(self.count_problem(ATTEMPTS, 0))
            .chain(self.count_problem(MAX_ATTEMPTS, 1))
            .collect();
        if !problems.is_empty() {
            return Err(format!(
                "the stored row cannot be read: {}",
                problems.join("; ")
            ));
        }
        let claim = RowClaim {
            row: self.id,
            claim: self.integer(CLAIMS),
        };
        let job = StoredJob {
            job_id: self.text(JOB_ID),
            queue: self.text(QUEUE),
            event: self.text(EVENT),
            listener: self.text(LISTENER),
            body: self.bytes(BODY),
            signature: self.signature(),
            attempt: self.integer(ATTEMPTS) as u32,
            max_attempts: self.integer(MAX_ATTEMPTS) as u32,
        };
        Ok(ClaimedJob::new(claim, job))
    }

    /// An integer column that must be a count from `min` to `u32::MAX`.
    fn count_problem(&self, column: usize, min: i64) -> Option<String> {
        match self.values[column] {
            Value::Integer(n) if n < min || n > i64::from(u32::MAX) => Some(format!(
                "column {} is {n}, expected a count from {min} to {}",
                LAYOUT[column].0,
                u32::MAX
            )),
            _ => None,
        }
    }

    fn integer(&self, column: usize) -> i64 {
        integer_of(&self.values[column])
    }

    fn signature(&self) -> Option<String> {
        match &self.values[SIGNATURE] {
            Value::Null => None,
            _ => Some(self.text(SIGNATURE)),
        }
    }

    fn text(&self, column: usize) -> String {
        text_of(&self.values[column])
    }

    fn bytes(&self, column: usize) -> Vec<u8> {
        bytes_of(&self.values[column])
    }

    /// The values the failed store keeps of this row: job id, queue,
    /// event, listener, body, signature, attempts, max attempts.
    pub(super) fn for_failed_store(&self) -> FailedValues {
        FailedValues {
            job_id: self.text(JOB_ID),
            queue: self.text(QUEUE),
            event: self.text(EVENT),
            listener: self.text(LISTENER),
            body: self.bytes(BODY),
            signature: self.signature(),
            attempts: self.integer(ATTEMPTS),
            max_attempts: self.integer(MAX_ATTEMPTS),
        }
    }
}

/// A value as an integer, whatever it holds (0 for what is not a number).
pub(super) fn integer_of(value: &Value) -> i64 {
    match value {
        Value::Integer(n) => *n,
        Value::Real(r) => *r as i64,
        _ => 0,
    }
}

/// A value as text, whatever it holds: what the failed store and the
/// commands show of a row another program wrote (a BLOB as lossy UTF-8).
pub(super) fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Integer(n) => n.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(text) => text.clone(),
        Value::Blob(bytes) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A value as bytes, whatever it holds (a body, byte for byte).
pub(super) fn bytes_of(value: &Value) -> Vec<u8> {
    match value {
        Value::Blob(bytes) => bytes.clone(),
        Value::Text(text) => text.clone().into_bytes(),
        other => text_of(other).into_bytes(),
    }
}

/// What an unreadable row leaves in the failed store.
pub(super) struct FailedValues {
    pub job_id: String,
    pub queue: String,
    pub event: String,
    pub listener: String,
    pub body: Vec<u8>,
    pub signature: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// The problem with `value` in column `name`, if any.
fn problem(name: &str, expected: Expected, value: &Value) -> Option<String> {
    let fits = matches!(
        (expected, value),
        (Expected::Integer, Value::Integer(_))
            | (Expected::Text | Expected::TextOrNull, Value::Text(_))
            | (Expected::TextOrNull, Value::Null)
            | (Expected::Blob, Value::Blob(_))
            | (Expected::Number, Value::Integer(_) | Value::Real(_))
    );
    let wanted = match expected {
        Expected::Integer | Expected::Number => "INTEGER",
        Expected::Text => "TEXT",
        Expected::TextOrNull => "TEXT or NULL",
        Expected::Blob => "BLOB",
    };
    (!fits).then(|| format!("column {name} is {}, expected {wanted}", type_name(value)))
}

/// SQLite's name for the type of `value`.
pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Integer(_) => "INTEGER",
        Value::Real(_) => "REAL",
        Value::Text(_) => "TEXT",
        Value::Blob(_) => "BLOB",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: Vec<Value>) -> RawJob {
        RawJob { id: 1, values }
    }

    fn good() -> Vec<Value> {
        vec![
            Value::Integer(1),
            Value::Integer(2),
            Value::Text("job".into()),
            Value::Text("default".into()),
            Value::Text("e".into()),
            Value::Text("l".into()),
            Value::Blob(b"{}".to_vec()),
            Value::Null,
            Value::Integer(1),
            Value::Integer(3),
            Value::Integer(5),
        ]
    }

    #[test]
    fn a_well_typed_row_decodes() {
        let job = row(good()).decode().unwrap();
        assert_eq!(
            (
                job.receipt.row,
                job.receipt.claim,
                job.attempt,
                job.max_attempts
            ),
            (1, 2, 1, 3)
        );
        assert_eq!(
            (job.body.as_slice(), job.signature.as_deref()),
            (&b"{}"[..], None)
        );
    }

    #[test]
    fn every_problem_of_a_row_is_named() {
        let mut values = good();
        values[BODY] = Value::Text("{}".into());
        values[LISTENER] = Value::Null;
        values[MAX_ATTEMPTS] = Value::Integer(0);
        let reason = row(values).decode().unwrap_err();
        assert_eq!(
            reason,
            "the stored row cannot be read: column listener is NULL, expected TEXT; \
             column body is TEXT, expected BLOB; \
             column max_attempts is 0, expected a count from 1 to 4294967295"
        );
    }

    #[test]
    fn the_failed_store_keeps_what_an_unreadable_row_holds() {
        let mut values = good();
        values[BODY] = Value::Text("{\"n\":1}".into());
        values[JOB_ID] = Value::Blob(vec![b'a', 0xff]);
        values[ATTEMPTS] = Value::Text("x".into());
        let kept = row(values).for_failed_store();
        assert_eq!(kept.body, b"{\"n\":1}");
        assert_eq!(kept.job_id, "a\u{fffd}");
        assert_eq!(kept.attempts, 0);
    }
}
