//! The core: events and listeners, their registry, the jobs they become
//! (batch, envelope, signing), errors, the retry policy, the dispatch
//! context and the observability hooks. It imports nothing from the layers
//! above it.

pub(crate) mod app_state;
pub(crate) mod backoff;
pub(crate) mod batch;
pub mod context;
pub(crate) mod error;
pub(crate) mod event;
pub mod job;
pub(crate) mod listener;
pub mod names;
pub mod observe;
pub mod registry;
pub(crate) mod run;
pub(crate) mod stats;
