//! Dispatch inside the application's own transaction (the outbox
//! pattern): the public entries, which read the installed configuration and
//! hand its settings to the driver that writes the jobs.

#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
