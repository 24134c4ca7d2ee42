//! The front: the commands compiled into the application (`work`,
//! `failed`, `status`, `events`, the dashboard).

#[cfg(all(feature = "cli", unix))]
pub mod cli;
