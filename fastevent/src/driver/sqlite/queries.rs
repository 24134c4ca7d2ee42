//! The SQL of the SQLite queue; each function runs inside the connection
//! thread's current transaction.

use super::connection::StoreError;
use crate::driver::durable::{ClaimedJob, FailedJob, QueueDepth, Selection};
use crate::job::EncodedJob;
use rusqlite::{Connection, OptionalExtension, params};

pub fn insert_jobs(
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

pub fn claim(
    connection: &Connection,
    queues: &[String],
    limit: usize,
    worker: &str,
    now: u64,
    lease_until: u64,
) -> Result<Vec<ClaimedJob>, StoreError> {
    let mut claimed = Vec::new();
    let mut statement = connection.prepare_cached(
        "UPDATE fastevent_jobs
            SET attempts = attempts + 1, leased_by = ?1, available_at = ?2
          WHERE id IN (SELECT id FROM fastevent_jobs
                        WHERE queue = ?3 AND available_at <= ?4
                        ORDER BY available_at, id LIMIT ?5)
         RETURNING id, job_id, queue, event, listener, body, signature, attempts, max_attempts",
    )?;
    for queue in queues {
        let wanted = limit - claimed.len();
        if wanted == 0 {
            break;
        }
        let rows = statement.query_map(
            params![worker, lease_until as i64, queue, now as i64, wanted as i64],
            |row| {
                Ok(ClaimedJob {
                    receipt: row.get(0)?,
                    job_id: row.get(1)?,
                    queue: row.get(2)?,
                    event: row.get(3)?,
                    listener: row.get(4)?,
                    body: row.get(5)?,
                    signature: row.get(6)?,
                    attempt: row.get(7)?,
                    max_attempts: row.get(8)?,
                })
            },
        )?;
        for row in rows {
            claimed.push(row?);
        }
    }
    Ok(claimed)
}

pub fn complete(connection: &Connection, receipt: i64, worker: &str) -> Result<(), StoreError> {
    connection
        .prepare_cached("DELETE FROM fastevent_jobs WHERE id = ?1 AND leased_by = ?2")?
        .execute(params![receipt, worker])?;
    Ok(())
}

pub fn retry(
    connection: &Connection,
    receipt: i64,
    worker: &str,
    available_at: u64,
    error: &str,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "UPDATE fastevent_jobs SET available_at = ?3, leased_by = NULL, last_error = ?4
              WHERE id = ?1 AND leased_by = ?2",
        )?
        .execute(params![receipt, worker, available_at as i64, error])?;
    Ok(())
}

pub fn release(
    connection: &Connection,
    receipt: i64,
    worker: &str,
    now: u64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "UPDATE fastevent_jobs
                SET available_at = ?3, leased_by = NULL,
                    last_error = 'interrupted: its worker shut down before it finished'
              WHERE id = ?1 AND leased_by = ?2",
        )?
        .execute(params![receipt, worker, now as i64])?;
    Ok(())
}

/// Moves the job, byte for byte, to the failed store.
pub fn fail(
    connection: &Connection,
    receipt: i64,
    worker: &str,
    error: &str,
    now: u64,
) -> Result<(), StoreError> {
    let moved = connection
        .prepare_cached(
            "INSERT INTO fastevent_failed_jobs
                (job_id, queue, event, listener, body, signature, attempts, max_attempts, error, failed_at)
             SELECT job_id, queue, event, listener, body, signature, attempts, max_attempts, ?3, ?4
               FROM fastevent_jobs WHERE id = ?1 AND leased_by = ?2",
        )?
        .execute(params![receipt, worker, error, now as i64])?;
    if moved == 1 {
        connection
            .prepare_cached("DELETE FROM fastevent_jobs WHERE id = ?1")?
            .execute([receipt])?;
    }
    Ok(())
}

/// Renews the leases of the jobs the worker holds, by row id: no index on
/// `leased_by` to maintain on every claim and delete.
pub fn extend_leases(
    connection: &Connection,
    worker: &str,
    receipts: &[i64],
    until: u64,
) -> Result<(), StoreError> {
    let mut renew = connection.prepare_cached(
        "UPDATE fastevent_jobs SET available_at = ?3 WHERE id = ?1 AND leased_by = ?2",
    )?;
    for receipt in receipts {
        renew.execute(params![receipt, worker, until as i64])?;
    }
    Ok(())
}

pub fn depth(connection: &Connection, now: u64) -> Result<Vec<QueueDepth>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT queue,
                SUM(available_at <= ?1),
                SUM(available_at > ?1 AND leased_by IS NOT NULL),
                SUM(available_at > ?1 AND leased_by IS NULL)
           FROM fastevent_jobs GROUP BY queue ORDER BY queue",
    )?;
    let rows = statement.query_map([now as i64], |row| {
        Ok(QueueDepth {
            queue: row.get(0)?,
            ready: row.get::<_, i64>(1)? as u64,
            running: row.get::<_, i64>(2)? as u64,
            delayed: row.get::<_, i64>(3)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn failed_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<FailedJob> {
    Ok(FailedJob {
        id: row.get(0)?,
        job_id: row.get(1)?,
        queue: row.get(2)?,
        event: row.get(3)?,
        listener: row.get(4)?,
        attempts: row.get(5)?,
        error: row.get(6)?,
        failed_at_ms: row.get::<_, i64>(7)? as u64,
        body: row.get(8)?,
    })
}

const FAILED_COLUMNS: &str = "id, job_id, queue, event, listener, attempts, error, failed_at, body";

pub fn failed_jobs(connection: &Connection, limit: usize) -> Result<Vec<FailedJob>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {FAILED_COLUMNS} FROM fastevent_failed_jobs ORDER BY id DESC LIMIT ?1"
    ))?;
    let rows = statement.query_map([limit as i64], failed_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn failed_job(connection: &Connection, id: i64) -> Result<Option<FailedJob>, StoreError> {
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

pub fn retry_failed(
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

pub fn forget_failed(connection: &Connection, which: Selection) -> Result<u64, StoreError> {
    let (filter, id) = selection_filter(which);
    let deleted = connection
        .prepare_cached(&format!("DELETE FROM fastevent_failed_jobs WHERE {filter}"))?
        .execute([id])?;
    Ok(deleted as u64)
}

pub fn failed_count(connection: &Connection) -> Result<u64, StoreError> {
    let count: i64 = connection
        .prepare_cached("SELECT COUNT(*) FROM fastevent_failed_jobs")?
        .query_row([], |row| row.get(0))?;
    Ok(count as u64)
}
