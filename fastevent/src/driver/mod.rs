//! Where dispatched jobs go. `dispatch` builds one [`JobBatch`] per event
//! (the event, its listeners, the context) and hands it to the installed
//! [`Driver`]; a driver turns it into one job per listener.

#[cfg(feature = "amqp")]
pub mod amqp;
pub mod durable;
mod encoder;
mod in_flight;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod sync;

use crate::batch::Dispatched;
use std::any::Any;

pub use crate::batch::JobBatch;
pub use crate::error::DriverError;

pub use encoder::{DispatchTally, JobEncoder};
/// The future every driver and queue method returns.
pub use futures_util::future::BoxFuture;
use in_flight::InFlight;

/// A queue backend: where [`dispatch`](crate::dispatch) hands the jobs of
/// an event. The built-in ones are [`sync::SyncDriver`] and, with the
/// features of their names, `sqlite::SqliteDriver`, `amqp::AmqpDriver` and
/// `postgres::PostgresDriver`; implement it to send jobs elsewhere, or to
/// wrap a driver, and install it with
/// [`Config::driver`](crate::Config::driver). A driver that workers take
/// jobs from implements the kit's [`durable::WorkQueue`] and
/// [`durable::QueueAdmin`] too, and is installed with
/// [`Config::durable_driver`](crate::Config::durable_driver).
///
/// ```rust,standalone_crate
/// use fastevent::driver::sync::SyncDriver;
/// use fastevent::driver::{Driver, DriverError, JobBatch};
/// use fastevent::{listener, Config, Dispatched, Event};
/// use serde::{Deserialize, Serialize};
/// use std::future::Future;
/// use std::pin::Pin;
///
/// /// Logs each dispatch, then hands the jobs to the `sync` driver.
/// struct Logged(SyncDriver);
///
/// impl Driver for Logged {
///     fn name(&self) -> &'static str {
///         "logged-sync"
///     }
///
///     fn enqueue(
///         &self,
///         batch: JobBatch,
///     ) -> Pin<Box<dyn Future<Output = Result<Dispatched, DriverError>> + Send + '_>> {
///         println!("{}: {} job(s)", batch.event_name(), batch.listeners().len());
///         self.0.enqueue(batch)
///     }
///
///     fn drain(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
///         self.0.drain()
///     }
/// }
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct UserBanned {
///     user_id: u64,
/// }
///
/// #[derive(Default)]
/// struct RevokeSessions;
/// #[listener(on = UserBanned)]
/// impl RevokeSessions {
///     async fn handle(&self, _: &UserBanned) {}
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     Config::new().driver(Logged(SyncDriver)).install()?;
///     let dispatched = UserBanned { user_id: 5 }.dispatch().await?;
///     assert_eq!(dispatched.jobs, 1);
///     fastevent::drain().await;
///     Ok(())
/// }
/// ```
// `Any` (every `'static` type is): a dispatch recognises the built-in `sync`
// driver by its type and runs its jobs without `enqueue`'s boxed future.
pub trait Driver: Any + Send + Sync {
    /// The driver's name, as in `QUEUE_DRIVER`.
    fn name(&self) -> &'static str;

    /// Takes one job per listener of the batch. The future resolves once
    /// every job is accepted (for a durable driver: stored), or with an
    /// error, in which case no job of the batch may count as accepted.
    fn enqueue(&self, batch: JobBatch) -> BoxFuture<'_, Result<Dispatched, DriverError>>;

    /// Resolves once no job this process handed over is still running here
    /// (in-process drivers); durable drivers resolve at once.
    fn drain(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}
