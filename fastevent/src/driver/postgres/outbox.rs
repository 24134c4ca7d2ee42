//! Jobs written inside the application's own PostgreSQL transaction (the
//! outbox pattern): the jobs are written by the same transaction as the
//! data they are about, so they exist if and only if it commits, and the
//! workers are notified when it commits. The public entry,
//! `fastevent::driver::postgres::dispatch_in`, finds the installed driver
//! and hands it to [`write_batch`].

use super::{PostgresDriver, queries};
use crate::batch::{Dispatched, JobBatch};
use crate::error::DriverError;
use sqlx::PgConnection;

/// Writes one job per listener of `batch` on `connection`, inside
/// whatever transaction is open there, into `driver`'s tables.
pub(crate) async fn write_batch(
    connection: &mut PgConnection,
    driver: &PostgresDriver,
    batch: &JobBatch,
) -> Result<Dispatched, DriverError> {
    let failed = |message: String| DriverError {
        driver: "postgres",
        event: batch.event_name(),
        message,
        source: None,
    };
    let jobs = driver.encoder().encode(batch, "postgres")?;
    // The tables are made (once) on the driver's own connection, not in
    // the application's transaction.
    driver.pool().await.map_err(|e| failed(e.message))?;
    // Counted when written, not when committed: the transaction is the
    // application's, and a rollback is its decision.
    let tally = driver.encoder().tally(&jobs);
    queries::insert_jobs_on(connection, driver.tables(), &jobs)
        .await
        .map_err(|e| failed(driver.describe(&e)))?;
    tally.record("postgres");
    Ok(Dispatched { jobs: jobs.len() })
}
