//! The SQL of the PostgreSQL queue. Every time is the database's clock
//! (`now()`), so that workers on machines whose clocks disagree still agree
//! on leases and delays.

use super::PgClaim;
use super::schema::Tables;
use crate::driver::durable::{ClaimedJob, FailedJob, QueueDepth, Selection, Settled, StoredJob};
use crate::job::EncodedJob;
use sqlx::postgres::PgArguments;
use sqlx::postgres::PgRow;
use sqlx::query::Query;
use sqlx::{PgConnection, PgPool, Postgres, Row};
use std::time::Duration;

/// Inserts `jobs`, and nothing else: the pool path, whose statement
/// commits at once; the driver tells the workers afterwards (see
/// `notify.rs` for why not in this statement).
pub(super) async fn insert_jobs(
    pool: &PgPool,
    t: &Tables,
    jobs: &[EncodedJob],
) -> Result<(), sqlx::Error> {
    let sql = insert_sql(t);
    insert(&sql, jobs).execute(pool).await.map(drop)
}

/// Inserts `jobs` on a connection of the application's, inside its
/// transaction, and tells the listening workers of their queues in the
/// same statement: the notification is sent when the transaction commits,
/// and not at all if it rolls back.
pub(super) async fn insert_jobs_on(
    connection: &mut PgConnection,
    t: &Tables,
    jobs: &[EncodedJob],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "WITH inserted AS ({} RETURNING queue)
         SELECT pg_notify($8, queue) FROM (SELECT DISTINCT queue FROM inserted) AS queues",
        insert_sql(t)
    );
    insert(&sql, jobs)
        .bind(t.channel())
        .execute(connection)
        .await
        .map(drop)
}

/// Tells the workers listening on `t`'s channel that `queues` have jobs:
/// one statement, which commits at once.
pub(super) async fn notify(
    pool: &PgPool,
    t: &Tables,
    queues: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, queue) FROM unnest($2::text[]) AS queue")
        .bind(t.channel())
        .bind(queues)
        .execute(pool)
        .await
        .map(drop)
}

fn insert_sql(t: &Tables) -> String {
    format!(
        "INSERT INTO {jobs} (job_id, queue, event, listener, body, signature, max_attempts)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                              $5::bytea[], $6::text[], $7::int4[])",
        jobs = t.jobs
    )
}

fn insert<'q>(sql: &'q str, jobs: &[EncodedJob]) -> Query<'q, Postgres, PgArguments> {
    let column = |f: fn(&EncodedJob) -> String| jobs.iter().map(f).collect::<Vec<_>>();
    sqlx::query(sql)
        .bind(column(|j| j.id.clone()))
        .bind(column(|j| j.queue.clone()))
        .bind(column(|j| j.event.to_string()))
        .bind(column(|j| j.listener.to_string()))
        .bind(jobs.iter().map(|j| j.body.clone()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.signature.clone()).collect::<Vec<_>>())
        .bind(
            jobs.iter()
                .map(|j| j.max_attempts as i32)
                .collect::<Vec<_>>(),
        )
}

/// Claims up to `limit` ready jobs of `queue` (or jobs whose lease ran
/// out) for `worker`: each claim counts an attempt, bumps the fencing
/// token and leases the job until `lease` from now. Locked rows are
/// skipped, so claims running at once never take the same job.
pub(super) async fn claim(
    pool: &PgPool,
    t: &Tables,
    queue: &str,
    limit: usize,
    worker: &str,
    lease: Duration,
) -> Result<Vec<ClaimedJob<PgClaim>>, sqlx::Error> {
    // A CTE, not a subquery in the WHERE: the planner may run an inlined
    // subquery with a LIMIT more than once and update more rows.
    let rows = sqlx::query(&format!(
        "WITH picked AS (
            SELECT id FROM {jobs}
             WHERE queue = $1 AND available_at <= now()
             ORDER BY available_at, id
             LIMIT $2
             FOR UPDATE SKIP LOCKED)
         UPDATE {jobs} AS j
            SET attempts = j.attempts + 1, claims = j.claims + 1, leased_by = $3,
                available_at = now() + $4 * interval '1 millisecond'
           FROM picked WHERE j.id = picked.id
         RETURNING j.id, j.claims, j.job_id, j.queue, j.event, j.listener, j.body,
                   j.signature, j.attempts, j.max_attempts",
        jobs = t.jobs
    ))
    .bind(queue)
    .bind(limit as i64)
    .bind(worker)
    .bind(lease.as_millis() as f64)
    .fetch_all(pool)
    .await?;
    rows.iter().map(claimed).collect()
}

fn claimed(row: &PgRow) -> Result<ClaimedJob<PgClaim>, sqlx::Error> {
    let claim = PgClaim {
        row: row.try_get(0)?,
        claim: row.try_get(1)?,
    };
    let count = |i: usize| row.try_get::<i32, _>(i).map(|n| n.max(0) as u32);
    let job = StoredJob {
        job_id: row.try_get(2)?,
        queue: row.try_get(3)?,
        event: row.try_get(4)?,
        listener: row.try_get(5)?,
        body: row.try_get(6)?,
        signature: row.try_get(7)?,
        attempt: count(8)?,
        max_attempts: count(9)?,
    };
    Ok(ClaimedJob::new(claim, job))
}

/// The condition every settle and renewal adds: the row is the claim's
/// job, still leased under the claim's token by its worker.
const OWNED: &str = "id = $1 AND claims = $2 AND leased_by = $3";

fn settled(changed: u64) -> Settled {
    if changed == 0 {
        Settled::LeaseLost
    } else {
        Settled::Done
    }
}

pub(super) async fn complete(
    pool: &PgPool,
    t: &Tables,
    claim: PgClaim,
    worker: &str,
) -> Result<Settled, sqlx::Error> {
    let done = sqlx::query(&format!("DELETE FROM {} WHERE {OWNED}", t.jobs))
        .bind(claim.row)
        .bind(claim.claim)
        .bind(worker)
        .execute(pool)
        .await?;
    Ok(settled(done.rows_affected()))
}

/// Back to waiting, `available_at` after `delay` (zero: at once), with
/// `attempts_back` attempts given back (a release did not fail).
pub(super) async fn requeue(
    pool: &PgPool,
    t: &Tables,
    claim: PgClaim,
    worker: &str,
    delay: Duration,
    attempts_back: i32,
    error: &str,
) -> Result<Settled, sqlx::Error> {
    let done = sqlx::query(&format!(
        "UPDATE {} SET leased_by = NULL, available_at = now() + $4 * interval '1 millisecond',
                       attempts = greatest(attempts - $5, 0), last_error = $6
          WHERE {OWNED}",
        t.jobs
    ))
    .bind(claim.row)
    .bind(claim.claim)
    .bind(worker)
    .bind(delay.as_millis() as f64)
    .bind(attempts_back)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(settled(done.rows_affected()))
}

/// Moves the job, byte for byte, to the failed store: one statement, so
/// the job is in exactly one of the two tables whatever happens.
pub(super) async fn fail(
    pool: &PgPool,
    t: &Tables,
    claim: PgClaim,
    worker: &str,
    error: &str,
) -> Result<Settled, sqlx::Error> {
    let done = sqlx::query(&format!(
        "WITH gone AS (DELETE FROM {jobs} WHERE {OWNED} RETURNING *)
         INSERT INTO {failed}
                (job_id, queue, event, listener, body, signature, attempts, max_attempts, error)
         SELECT job_id, queue, event, listener, body, signature, attempts, max_attempts, $4
           FROM gone",
        jobs = t.jobs,
        failed = t.failed
    ))
    .bind(claim.row)
    .bind(claim.claim)
    .bind(worker)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(settled(done.rows_affected()))
}

/// Renews the leases of the claims `worker` holds, all in one statement;
/// returns those that no longer own their job.
pub(super) async fn extend_leases(
    pool: &PgPool,
    t: &Tables,
    worker: &str,
    claims: &[PgClaim],
    lease: Duration,
) -> Result<Vec<PgClaim>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "UPDATE {jobs} AS j SET available_at = now() + $4 * interval '1 millisecond'
           FROM unnest($1::int8[], $2::int8[]) AS c(id, claims)
          WHERE j.id = c.id AND j.claims = c.claims AND j.leased_by = $3
         RETURNING j.id, j.claims",
        jobs = t.jobs
    ))
    .bind(claims.iter().map(|c| c.row).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.claim).collect::<Vec<_>>())
    .bind(worker)
    .bind(lease.as_millis() as f64)
    .fetch_all(pool)
    .await?;
    let renewed: Vec<PgClaim> = rows
        .iter()
        .map(|row| {
            Ok(PgClaim {
                row: row.try_get(0)?,
                claim: row.try_get(1)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(claims
        .iter()
        .filter(|c| !renewed.contains(c))
        .copied()
        .collect())
}

pub(super) async fn depth(pool: &PgPool, t: &Tables) -> Result<Vec<QueueDepth>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT queue,
                count(*) FILTER (WHERE available_at <= now()),
                count(*) FILTER (WHERE available_at > now() AND leased_by IS NOT NULL),
                count(*) FILTER (WHERE available_at > now() AND leased_by IS NULL)
           FROM {} GROUP BY queue ORDER BY queue",
        t.jobs
    ))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let count = |i: usize| row.try_get::<i64, _>(i).map(|n| n as u64);
            Ok(QueueDepth {
                queue: row.try_get(0)?,
                ready: count(1)?,
                running: count(2)?,
                delayed: count(3)?,
            })
        })
        .collect()
}

const FAILED_COLUMNS: &str = "id, job_id, queue, event, listener, attempts, error,
    (extract(epoch FROM failed_at) * 1000)::int8, body";

fn failed_row(row: &PgRow) -> Result<FailedJob, sqlx::Error> {
    Ok(FailedJob {
        id: row.try_get(0)?,
        job_id: row.try_get(1)?,
        queue: row.try_get(2)?,
        event: row.try_get(3)?,
        listener: row.try_get(4)?,
        attempts: row.try_get::<i32, _>(5)?.max(0) as u32,
        error: row.try_get(6)?,
        failed_at_ms: row.try_get::<i64, _>(7)?.max(0) as u64,
        body: row.try_get(8)?,
    })
}

pub(super) async fn failed_jobs(
    pool: &PgPool,
    t: &Tables,
    limit: usize,
) -> Result<Vec<FailedJob>, sqlx::Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = sqlx::query(&format!(
        "SELECT {FAILED_COLUMNS} FROM {} ORDER BY id DESC LIMIT $1",
        t.failed
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(failed_row).collect()
}

pub(super) async fn failed_job(
    pool: &PgPool,
    t: &Tables,
    id: i64,
) -> Result<Option<FailedJob>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {FAILED_COLUMNS} FROM {} WHERE id = $1",
        t.failed
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(failed_row).transpose()
}

/// `id = $1`, or every row.
fn selected(which: Selection) -> (&'static str, i64) {
    match which {
        Selection::One(id) => ("id = $1", id),
        Selection::All => ("$1 = $1", 0),
    }
}

/// Moves failed jobs back to the queue with fresh attempts, and tells the
/// workers; one statement, so each is in exactly one of the two tables.
pub(super) async fn retry_failed(
    pool: &PgPool,
    t: &Tables,
    which: Selection,
) -> Result<u64, sqlx::Error> {
    let (filter, id) = selected(which);
    let moved: i64 = sqlx::query_scalar(&format!(
        "WITH gone AS (DELETE FROM {failed} WHERE {filter} RETURNING *),
              back AS (
                INSERT INTO {jobs} (job_id, queue, event, listener, body, signature,
                                    max_attempts, last_error)
                SELECT job_id, queue, event, listener, body, signature, max_attempts, error
                  FROM gone ORDER BY id
                RETURNING queue)
         SELECT coalesce(sum(moved), 0)::int8
           FROM (SELECT count(*) AS moved, pg_notify($2, queue) FROM back GROUP BY queue) AS per_queue",
        failed = t.failed,
        jobs = t.jobs
    ))
    .bind(id)
    .bind(t.channel())
    .fetch_one(pool)
    .await?;
    Ok(moved as u64)
}

pub(super) async fn forget_failed(
    pool: &PgPool,
    t: &Tables,
    which: Selection,
) -> Result<u64, sqlx::Error> {
    let (filter, id) = selected(which);
    let done = sqlx::query(&format!("DELETE FROM {} WHERE {filter}", t.failed))
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn failed_count(pool: &PgPool, t: &Tables) -> Result<u64, sqlx::Error> {
    let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", t.failed))
        .fetch_one(pool)
        .await?;
    Ok(count as u64)
}
