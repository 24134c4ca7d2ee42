//! Jobs written inside the application's own SQLite transaction (the
//! outbox pattern): the jobs are written by the same transaction as the data
//! they are about, so they exist if and only if it commits. Workers see them
//! after the commit, like any other job. The public entry,
//! `fastevent::driver::sqlite::dispatch_in`, reads the installed
//! configuration and hands its settings to [`write_batch`].

use super::{queries, schema};
use crate::batch::{Dispatched, JobBatch};
use crate::error::DriverError;
use crate::job::{self, JobDefaults, JobSigner, now_ms};

/// Writes one job per listener of `batch` in `transaction`, which must be a
/// transaction on the queue's database file, with `defaults` and `signer`.
pub(crate) fn write_batch(
    transaction: &rusqlite::Transaction<'_>,
    batch: &JobBatch,
    defaults: &JobDefaults,
    signer: Option<&JobSigner>,
) -> Result<Dispatched, DriverError> {
    let failed = |message: String| DriverError {
        driver: "sqlite",
        event: batch.event_name(),
        message,
        source: None,
    };
    let jobs = job::encode_batch(batch, defaults, signer).map_err(|e| failed(e.to_string()))?;
    schema::ensure(transaction).map_err(|e| failed(e.0))?;
    queries::insert_jobs(transaction, &jobs, now_ms()).map_err(|e| failed(e.0))?;
    Ok(Dispatched { jobs: jobs.len() })
}
