//! Observability: `tracing` spans for dispatches and jobs, trace context
//! carried by every job, and counters and histograms through the `metrics`
//! facade.
//!
//! - Spans (target `fastevent`, level INFO): `dispatch` around each
//!   `dispatch()`, `job` around each attempt of a job, on a worker or in the
//!   `sync` driver. A job span links to its dispatch rather than being its
//!   child (see [`TRACE_ID`] for the ids it records).
//! - Metrics: the names below, each labelled `event`, `listener`, `queue`
//!   and `driver`; install any `metrics` recorder to receive them, and call
//!   [`describe_metrics`] after installing it for units and help texts.
//!   Workers always report; the `sync` driver when [`set_sync_metrics`]
//!   says so.
//!
//! The README's "Observability" section shows both wired up.

mod metrics;
pub(crate) mod spans;
pub(crate) mod trace;

// Durable drivers count their stored jobs here, through `DispatchTally`.
pub(crate) use self::metrics::dispatched;
pub(crate) use self::metrics::{AfterFailure, JobKeys, SyncKeys, lease_lost, sync_metrics_on};
pub use self::metrics::{
    JOB_RUN_SECONDS, JOB_WAIT_SECONDS, JOBS_DEAD_LETTERED, JOBS_DISPATCHED, JOBS_FAILED,
    JOBS_LEASE_LOST, JOBS_RETRIED, JOBS_SUCCEEDED, describe_metrics, set_sync_metrics,
};
pub use self::trace::TRACE_ID;
