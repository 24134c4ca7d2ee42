//! The SQL of the SQLite queue; each function runs inside the connection
//! thread's current transaction.

use super::connection::StoreError;
use super::rows::RowClaim;
use super::rows::{JOB_COLUMNS, RawJob, bytes_of, integer_of, text_of};
use crate::driver::durable::{ClaimedJob, FailedJob, QueueDepth, Selection, Settled};
use crate::job::EncodedJob;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

pub(super) fn insert_jobs(
    connection: &Connection,
    jobs: &[EncodedJob],
    now: u64,
) -> Result<(), StoreError> {
    let mut insert = connection.prepare_cached(
        "INSERT INTO fastevent_jobs
            (job_id, queue, event, listener, body, signature, max_attempts, created_at, available_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?;
    for job in jobs {
        insert.execute(params![
            job.id,
            job.queue,
            job.event,
            job.listener,
            job.body,
            job.signature,
            job.max_attempts,
            now as i64,
        ])?;
    }
    Ok(())
}

/// Claims up to `limit` ready jobs of `queues`, earlier queues first: each
/// claim counts an attempt, bumps the job's fencing token and leases the
/// job to `worker` until `lease_until`. A row that cannot be read is moved
/// to the failed store instead, with the reason; the others are claimed.
pub(super) fn claim(
    connection: &Connection,
    queues: &[String],
    limit: usize,
    worker: &str,
    now: u64,
    lease_until: u64,
) -> Result<Vec<ClaimedJob<RowClaim>>, StoreError> {
    let mut claimed = Vec::new();
    let mut statement = connection.prepare_cached(&format!(
        "UPDATE fastevent_jobs
            SET attempts = attempts + 1, claims = claims + 1, leased_by = ?1, available_at = ?2
          WHERE id IN (SELECT id FROM fastevent_jobs
                        WHERE queue = ?3 AND available_at <= ?4
                        ORDER BY available_at, id LIMIT ?5)
         RETURNING {JOB_COLUMNS}"
    ))?;
    for queue in queues {
        let wanted = limit - claimed.len();
        if wanted == 0 {
            break;
        }
        let rows: Vec<RawJob> = statement
            .query_map(
                params![worker, lease_until as i64, queue, now as i64, wanted as i64],
                RawJob::read,
            )?
            .collect::<Result<_, _>>()?;
        for row in rows {
            match row.decode() {
                Ok(job) => claimed.push(job),
                Err(reason) => move_unreadable(connection, &row, &reason, now)?,
            }
        }
    }
    Ok(claimed)
}

/// Moves rows that no claim can ever select (a queue name that is not
/// TEXT, a time that is not a number) to the failed store, with the
/// reason; returns how many. A full scan: run now and then, not per claim.
pub(super) fn sweep_unclaimable(connection: &Connection, now: u64) -> Result<usize, StoreError> {
    let rows: Vec<RawJob> = connection
        .prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM fastevent_jobs
              WHERE typeof(queue) <> 'text' OR typeof(available_at) NOT IN ('integer', 'real')
              LIMIT 100"
        ))?
        .query_map([], RawJob::read)?
        .collect::<Result<_, _>>()?;
    for row in &rows {
        let reason = match row.decode() {
            Err(reason) => reason,
            Ok(_) => "the stored row cannot be read".to_string(),
        };
        move_unreadable(connection, row, &reason, now)?;
    }
    Ok(rows.len())
}

fn move_unreadable(
    connection: &Connection,
    row: &RawJob,
    reason: &str,
    now: u64,
) -> Result<(), StoreError> {
    tracing::warn!(target: "fastevent", row = row.id, %reason, "unreadable job row moved to the failed store");
    let kept = row.for_failed_store();
    connection
        .prepare_cached(
            "INSERT INTO fastevent_failed_jobs
                (job_id, queue, event, listener, body, signature, attempts, max_attempts, error, failed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            kept.job_id,
            kept.queue,
            kept.event,
            kept.listener,
            kept.body,
            kept.signature,
            kept.attempts,
            kept.max_attempts,
            reason,
            now as i64,
        ])?;
    connection
        .prepare_cached("DELETE FROM fastevent_jobs WHERE id = ?1")?
        .execute([row.id])?;
    Ok(())
}

/// Whether a statement that names one claim changed its row: a claim that
/// no longer owns its job (claimed again since, or settled) matches none.
fn settled(changed: usize) -> Settled {
    if changed == 0 {
        Settled::LeaseLost
    } else {
        Settled::Done
    }
}

/// The condition every settle and renewal adds: the row is the claim's
/// job, still leased under the claim's token by its worker.
const OWNED: &str = "id = ?1 AND claims = ?2 AND leased_by = ?3";

pub(super) fn complete(
    connection: &Connection,
    claim: RowClaim,
    worker: &str,
) -> Result<Settled, StoreError> {
    let changed = connection
        .prepare_cached(&format!("DELETE FROM fastevent_jobs WHERE {OWNED}"))?
        .execute(params![claim.row, claim.claim, worker])?;
    Ok(settled(changed))
}

pub(super) fn retry(
    connection: &Connection,
    claim: RowClaim,
    worker: &str,
    available_at: u64,
    error: &str,
) -> Result<Settled, StoreError> {
    let changed = connection
        .prepare_cached(&format!(
            "UPDATE fastevent_jobs SET available_at = ?4, leased_by = NULL, last_error = ?5
              WHERE {OWNED}"
        ))?
        .execute(params![
            claim.row,
            claim.claim,
            worker,
            available_at as i64,
            error
        ])?;
    Ok(settled(changed))
}

/// Hands the job back, giving back the attempt its claim counted: it was
/// interrupted by a shutdown, it did not fail.
pub(super) fn release(
    connection: &Connection,
    claim: RowClaim,
    worker: &str,
    now: u64,
) -> Result<Settled, StoreError> {
    let changed = connection
        .prepare_cached(&format!(
            "UPDATE fastevent_jobs
                SET available_at = ?4, leased_by = NULL, attempts = MAX(attempts - 1, 0),
                    last_error = 'interrupted: its worker shut down before it finished'
              WHERE {OWNED}"
        ))?
        .execute(params![claim.row, claim.claim, worker, now as i64])?;
    Ok(settled(changed))
}

/// Moves the job, byte for byte, to the failed store.
pub(super) fn fail(
    connection: &Connection,
    claim: RowClaim,
    worker: &str,
    error: &str,
    now: u64,
) -> Result<Settled, StoreError> {
    let moved = connection
        .prepare_cached(&format!(
            "INSERT INTO fastevent_failed_jobs
                (job_id, queue, event, listener, body, signature, attempts, max_attempts, error, failed_at)
             SELECT job_id, queue, event, listener, body, signature, attempts, max_attempts, ?4, ?5
               FROM fastevent_jobs WHERE {OWNED}"
        ))?
        .execute(params![claim.row, claim.claim, worker, error, now as i64])?;
    if moved == 1 {
        connection
            .prepare_cached("DELETE FROM fastevent_jobs WHERE id = ?1")?
            .execute([claim.row])?;
    }
    Ok(settled(moved))
}

/// Renews the leases of the claims the worker holds, by row id and token
/// (no index on `leased_by` to maintain on every claim and delete); returns
/// the claims that no longer own their job.
pub(super) fn extend_leases(
    connection: &Connection,
    worker: &str,
    claims: &[RowClaim],
    until: u64,
) -> Result<Vec<RowClaim>, StoreError> {
    let mut renew = connection.prepare_cached(&format!(
        "UPDATE fastevent_jobs SET available_at = ?4 WHERE {OWNED}"
    ))?;
    let mut lost = Vec::new();
    for claim in claims {
        let changed = renew.execute(params![claim.row, claim.claim, worker, until as i64])?;
        if settled(changed) == Settled::LeaseLost {
            lost.push(*claim);
        }
    }
    Ok(lost)
}

pub(super) fn depth(connection: &Connection, now: u64) -> Result<Vec<QueueDepth>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT queue,
                SUM(available_at <= ?1),
                SUM(available_at > ?1 AND leased_by IS NOT NULL),
                SUM(available_at > ?1 AND leased_by IS NULL)
           FROM fastevent_jobs GROUP BY queue ORDER BY queue",
    )?;
    let rows = statement.query_map([now as i64], |row| {
        Ok(QueueDepth {
            queue: text_of(&row.get(0)?),
            ready: row.get::<_, i64>(1)? as u64,
            running: row.get::<_, i64>(2)? as u64,
            delayed: row.get::<_, i64>(3)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A failed job, whatever its columns hold: the failed store is read by
/// people, and may have been written by another program too.
fn failed_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<FailedJob> {
    let text = |i: usize| row.get::<_, Value>(i).map(|v| text_of(&v));
    let integer = |i: usize| row.get::<_, Value>(i).map(|v| integer_of(&v));
    Ok(FailedJob {
        id: row.get(0)?,
        job_id: text(1)?,
        queue: text(2)?,
        event: text(3)?,
        listener: text(4)?,
        attempts: integer(5)?.clamp(0, i64::from(u32::MAX)) as u32,
        error: text(6)?,
        failed_at_ms: integer(7)?.max(0) as u64,
        body: bytes_of(&row.get(8)?),
    })
}

const FAILED_COLUMNS: &str = "id, job_id, queue, event, listener, attempts, error, failed_at, body";

pub(super) fn failed_jobs(
    connection: &Connection,
    limit: usize,
) -> Result<Vec<FailedJob>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {FAILED_COLUMNS} FROM fastevent_failed_jobs ORDER BY id DESC LIMIT ?1"
    ))?;
    let rows = statement.query_map([limit as i64], failed_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn failed_job(
    connection: &Connection,
    id: i64,
) -> Result<Option<FailedJob>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {FAILED_COLUMNS} FROM fastevent_failed_jobs WHERE id = ?1"
        ))?
        .query_row([id], failed_row)
        .optional()?)
}

fn selection_filter(which: Selection) -> (&'static str, i64) {
    match which {
        Selection::One(id) => ("id = ?1", id),
        Selection::All => ("?1 = ?1", 0),
    }
}

pub(super) fn retry_failed(
    connection: &Connection,
    which: Selection,
    now: u64,
) -> Result<u64, StoreError> {
    let (filter, id) = selection_filter(which);
    connection
        .prepare_cached(&format!(
            "INSERT INTO fastevent_jobs
                (job_id, queue, event, listener, body, signature, attempts, max_attempts,
                 created_at, available_at, last_error)
             SELECT job_id, queue, event, listener, body, signature, 0, max_attempts, ?2, ?2, error
               FROM fastevent_failed_jobs WHERE {filter} ORDER BY id"
        ))?
        .execute(params![id, now as i64])?;
    let moved = connection
        .prepare_cached(&format!("DELETE FROM fastevent_failed_jobs WHERE {filter}"))?
        .execute([id])?;
    Ok(moved as u64)
}

pub(super) fn forget_failed(connection: &Connection, which: Selection) -> Result<u64, StoreError> {
    let (filter, id) = selection_filter(which);
    let deleted = connection
        .prepare_cached(&format!("DELETE FROM fastevent_failed_jobs WHERE {filter}"))?
        .execute([id])?;
    Ok(deleted as u64)
}

pub(super) fn failed_count(connection: &Connection) -> Result<u64, StoreError> {
    let count: i64 = connection
        .prepare_cached("SELECT COUNT(*) FROM fastevent_failed_jobs")?
        .query_row([], |row| row.get(0))?;
    Ok(count as u64)
}
