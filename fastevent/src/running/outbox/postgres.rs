//! Dispatch inside the application's own PostgreSQL transaction, with the
//! installed `postgres` driver's tables, job defaults and signing key.

use crate::batch::Dispatched;
use crate::config;
use crate::dispatch::batch_for;
use crate::driver::postgres::outbox::write_batch;
use crate::error::{DispatchError, DriverError};
use crate::event::Event;
use sqlx::PgConnection;

/// Writes one job per listener of `event` on `connection`, inside whatever
/// transaction is open there (pass `&mut *tx` for a
/// `sqlx::Transaction<'_, Postgres>`). Needs `QUEUE_DRIVER=postgres`: the
/// installed driver's tables, job defaults and signing key are used, and
/// `connection` must be to the same database.
///
/// ```rust,no_run,standalone_crate
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
    let Some(batch) = batch_for(event)? else {
        return Ok(Dispatched { jobs: 0 });
    };
    let Some(driver) = config::installed()?.postgres.as_ref() else {
        return Err(DriverError {
            driver: "postgres",
            event: E::NAME,
            message: "dispatch_in needs the postgres driver installed (QUEUE_DRIVER=postgres)"
                .into(),
            source: None,
        }
        .into());
    };
    Ok(write_batch(connection, driver, &batch).await?)
}
