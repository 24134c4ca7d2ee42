//! Running: `dispatch` and the outbox entries, the worker, the supervisor
//! and the testing fakes, on the installed configuration.

pub(crate) mod dispatch;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod outbox;
#[cfg(unix)]
pub mod supervisor;
pub mod testing;
pub mod worker;
