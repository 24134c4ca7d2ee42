//! Dispatch inside the application's own PostgreSQL transaction (the
//! outbox pattern): the jobs are written by the same transaction as the
//! data they are about, so they exist if and only if it commits, and the
//! workers are notified when it commits.

use super::{PostgresDriver, queries};
use crate::config;
use crate::dispatch::{self, DispatchError, Dispatched};
use crate::driver::DriverError;
use crate::event::Event;
use sqlx::PgConnection;

/// Writes one job per listener of `event` on `connection`, inside whatever
/// transaction is open there (pass `&mut *tx` for a
/// `sqlx::Transaction<'_, Postgres>`). Needs `QUEUE_DRIVER=postgres`: the
/// installed driver's tables, job defaults and signing key are used, and
/// `connection` must be to the same database.
///
/// ```no_run
/// # use fastevent::{listener, Event};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize, Event)] struct UserCreated { id: i64 }
/// # #[derive(Default)] struct Welcome;
/// # #[listener(on = UserCreated)] impl Welcome { async fn handle(&self, _: &UserCreated) {} }
/// use fastevent::driver::postgres::dispatch_in;
/// use fastevent::driver::postgres::sqlx::PgPool;
///
/// async fn sign_up(db: &PgPool, id: i64) -> Result<(), Box<dyn std::error::Error>> {
///     let mut tx = db.begin().await?;
///     sqlx::query("INSERT INTO users (id) VALUES ($1)").bind(id).execute(&mut *tx).await?;
///     dispatch_in(&mut tx, UserCreated { id }).await?;
///     tx.commit().await?; // the user and its job, or neither
///     Ok(())
/// }
/// # use fastevent::driver::postgres::sqlx;
/// ```
pub async fn dispatch_in<E: Event>(
    connection: &mut PgConnection,
    event: E,
) -> Result<Dispatched, DispatchError> {
    let Some(batch) = dispatch::batch_for(event)? else {
        return Ok(Dispatched { jobs: 0 });
    };
    let failed = |message: String| DriverError {
        driver: "postgres",
        event: E::NAME,
        message,
        source: None,
    };
    let driver: PostgresDriver = config::installed()?.postgres.clone().ok_or_else(|| {
        failed("dispatch_in needs the postgres driver installed (QUEUE_DRIVER=postgres)".into())
    })?;
    let jobs = driver.encoder().encode(&batch, "postgres")?;
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
