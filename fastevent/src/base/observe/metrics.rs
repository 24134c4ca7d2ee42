//! Counters and histograms through the `metrics` facade: whatever recorder
//! the application installs (Prometheus, StatsD, a test recorder) receives
//! them; without one, each call still costs a thread-local read, an atomic
//! load and a call to the no-op recorder.
//!
//! Every metric is labelled `event`, `listener`, `queue` and `driver`.
//! [`crate::stats`] is fed from the same calls, so the two never disagree.

use crate::registry::{LISTENERS, ListenerEntry};
use crate::stats;
use ::metrics::{Key, Label, Level, Metadata, Unit};
use std::ops::Deref;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Jobs accepted by a driver (counter).
pub const JOBS_DISPATCHED: &str = "fastevent_jobs_dispatched_total";
/// Attempts whose listener succeeded (counter).
pub const JOBS_SUCCEEDED: &str = "fastevent_jobs_succeeded_total";
/// Attempts whose listener failed: an error, a panic or a soft timeout (counter).
pub const JOBS_FAILED: &str = "fastevent_jobs_failed_total";
/// Failed attempts that will run again after their backoff (counter).
pub const JOBS_RETRIED: &str = "fastevent_jobs_retried_total";
/// Jobs given up: moved to the failed store (durable drivers), or logged
/// and dropped after their last try (`sync`) (counter).
pub const JOBS_DEAD_LETTERED: &str = "fastevent_jobs_dead_lettered_total";
/// Settles and lease renewals refused because another claim owns the job
/// now: its lease had lapsed and it was claimed again (counter).
pub const JOBS_LEASE_LOST: &str = "fastevent_jobs_lease_lost_total";
/// How long a listener ran, per attempt, in seconds (histogram).
pub const JOB_RUN_SECONDS: &str = "fastevent_job_run_seconds";
/// From the dispatch to the start of an attempt, in seconds (histogram).
pub const JOB_WAIT_SECONDS: &str = "fastevent_job_wait_seconds";

static METADATA: Metadata<'static> = Metadata::new("fastevent", Level::INFO, Some(module_path!()));

/// Whether the `sync` driver reports to the recorder (see [`set_sync_metrics`]).
static SYNC_METRICS: AtomicBool = AtomicBool::new(false);

/// Makes the `sync` driver report its jobs to the `metrics` recorder too
/// (counters and timings). Off by default, unlike durable workers, which
/// always report: the `metrics` facade cannot tell whether a recorder is
/// installed, and its calls and the clock reads make a sync job about 15%
/// slower even with none. [`crate::stats`] counts sync jobs either way.
///
/// ```
/// // At start-up, once a recorder is installed:
/// fastevent::observe::describe_metrics();
/// fastevent::observe::set_sync_metrics(true);
/// ```
pub fn set_sync_metrics(on: bool) {
    SYNC_METRICS.store(on, Ordering::Relaxed);
}

pub(crate) fn sync_metrics_on() -> bool {
    SYNC_METRICS.load(Ordering::Relaxed)
}

/// Gives the installed recorder the unit and a description of each metric
/// (Prometheus shows them as `# HELP`). Call it once the recorder is
/// installed; workers call it when they start.
///
/// ```
/// use fastevent::observe::{describe_metrics, JOBS_SUCCEEDED};
///
/// // metrics::set_global_recorder(...) first; then:
/// describe_metrics();
/// // A dashboard's query names the same metrics:
/// assert_eq!(JOBS_SUCCEEDED, "fastevent_jobs_succeeded_total");
/// ```
pub fn describe_metrics() {
    use ::metrics::{describe_counter, describe_histogram};
    describe_counter!(JOBS_DISPATCHED, Unit::Count, "Jobs accepted by a driver");
    describe_counter!(
        JOBS_SUCCEEDED,
        Unit::Count,
        "Attempts whose listener succeeded"
    );
    describe_counter!(
        JOBS_FAILED,
        Unit::Count,
        "Attempts whose listener failed (error, panic or soft timeout)"
    );
    describe_counter!(
        JOBS_RETRIED,
        Unit::Count,
        "Failed attempts scheduled to run again"
    );
    describe_counter!(
        JOBS_DEAD_LETTERED,
        Unit::Count,
        "Jobs given up: moved to the failed store, or dropped after their last try (sync)"
    );
    describe_counter!(
        JOBS_LEASE_LOST,
        Unit::Count,
        "Settles and renewals refused: the job's lease lapsed and another claim owns it"
    );
    describe_histogram!(
        JOB_RUN_SECONDS,
        Unit::Seconds,
        "How long a listener ran, per attempt"
    );
    describe_histogram!(
        JOB_WAIT_SECONDS,
        Unit::Seconds,
        "From the dispatch to the start of an attempt"
    );
}

/// The keys of every metric of one (event, listener, queue, driver). A key
/// hashes its labels when built, so the `sync` driver builds each
/// listener's once ([`JobKeys::sync`]); workers build them per job, which
/// costs little beside a queue round trip.
#[derive(Debug, Clone)]
pub(crate) struct JobKeys {
    dispatched: Key,
    succeeded: Key,
    failed: Key,
    retried: Key,
    dead_lettered: Key,
    run: Key,
    wait: Key,
}

impl JobKeys {
    pub(crate) fn new(
        event: impl Into<::metrics::SharedString>,
        listener: impl Into<::metrics::SharedString>,
        queue: impl Into<::metrics::SharedString>,
        driver: &'static str,
    ) -> Self {
        let labels = vec![
            Label::new("event", event),
            Label::new("listener", listener),
            Label::new("queue", queue),
            Label::new("driver", driver),
        ];
        let key = |name: &'static str| Key::from_parts(name, labels.clone());
        Self {
            dispatched: key(JOBS_DISPATCHED),
            succeeded: key(JOBS_SUCCEEDED),
            failed: key(JOBS_FAILED),
            retried: key(JOBS_RETRIED),
            dead_lettered: key(JOBS_DEAD_LETTERED),
            run: key(JOB_RUN_SECONDS),
            wait: key(JOB_WAIT_SECONDS),
        }
    }

    /// The keys of `listener`'s jobs on the `sync` driver, built once.
    pub(crate) fn sync(listener: &'static ListenerEntry) -> SyncKeys {
        /// Where the linked slice lives, and a cache slot per element.
        struct Table {
            start: usize,
            slots: Box<[OnceLock<JobKeys>]>,
        }
        static TABLE: OnceLock<Table> = OnceLock::new();
        let build = || {
            let queue = listener.options.queue.unwrap_or("default");
            JobKeys::new(listener.event_name, listener.name, queue, "sync")
        };
        // Every listener a dispatch can reach is an element of the linked
        // slice, so its position there indexes the cache without a lock or
        // a hash. Anything else (a unit test's own entries) gets keys of
        // its own.
        let table = TABLE.get_or_init(|| {
            let all: &'static [ListenerEntry] = LISTENERS.static_slice();
            Table {
                start: all.as_ptr() as usize,
                slots: all.iter().map(|_| OnceLock::new()).collect(),
            }
        });
        let offset = (listener as *const ListenerEntry as usize).wrapping_sub(table.start);
        // A reference into the slice's bytes is one of its elements:
        // entries do not overlap, so the offset is a whole number of them.
        match table.slots.get(offset / size_of::<ListenerEntry>()) {
            Some(slot) => SyncKeys::Cached(slot.get_or_init(build)),
            None => SyncKeys::Built(Box::new(build())),
        }
    }

    /// `jobs` jobs were accepted.
    pub(crate) fn dispatched(&self, jobs: u64) {
        increment(&self.dispatched, jobs);
    }

    /// An attempt starts, `waited` after its dispatch.
    pub(crate) fn started(&self, waited: Duration) {
        record(&self.wait, waited.as_secs_f64());
    }

    /// The listener ran for `took`.
    pub(crate) fn ran(&self, took: Duration) {
        record(&self.run, took.as_secs_f64());
    }

    /// The listener succeeded.
    pub(crate) fn succeeded(&self) {
        stats::record_succeeded();
        increment(&self.succeeded, 1);
    }

    /// The listener failed this attempt; `then` says what happens next.
    pub(crate) fn attempt_failed(&self, then: AfterFailure) {
        increment(&self.failed, 1);
        match then {
            AfterFailure::Retry => self.retried(),
            AfterFailure::GiveUp => self.dead_lettered(),
        }
    }

    /// A failed attempt will run again.
    fn retried(&self) {
        increment(&self.retried, 1);
    }

    /// The job was given up (or could not run at all: a poison job).
    pub(crate) fn dead_lettered(&self) {
        stats::record_failed();
        increment(&self.dead_lettered, 1);
    }
}

/// A listener's keys for the `sync` driver: two words, for the job to hold.
pub(crate) enum SyncKeys {
    /// Built once, for the life of the process.
    Cached(&'static JobKeys),
    /// Built for this job (a listener outside the linked slice).
    Built(Box<JobKeys>),
}

impl Deref for SyncKeys {
    type Target = JobKeys;

    fn deref(&self) -> &JobKeys {
        match self {
            SyncKeys::Cached(keys) => keys,
            SyncKeys::Built(keys) => keys,
        }
    }
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// It runs again after its backoff.
    Retry,
    /// It was the last try.
    GiveUp,
}

/// One job accepted by a durable driver.
pub(crate) fn dispatched(
    event: &'static str,
    listener: &'static str,
    queue: &str,
    driver: &'static str,
) {
    let labels = vec![
        Label::from_static_parts("event", event),
        Label::from_static_parts("listener", listener),
        Label::new("queue", queue.to_string()),
        Label::from_static_parts("driver", driver),
    ];
    increment(&Key::from_parts(JOBS_DISPATCHED, labels), 1);
}

/// A worker found that a job it held is owned by another claim now.
pub(crate) fn lease_lost(queue: &str, driver: &'static str) {
    let labels = vec![
        Label::new("queue", queue.to_string()),
        Label::from_static_parts("driver", driver),
    ];
    increment(&Key::from_parts(JOBS_LEASE_LOST, labels), 1);
}

fn increment(key: &Key, by: u64) {
    ::metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(by));
}

fn record(key: &Key, value: f64) {
    ::metrics::with_recorder(|recorder| recorder.register_histogram(key, &METADATA).record(value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::registry;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, fastevent_macros::Event)]
    struct Measured;

    #[derive(Default)]
    struct Meter;

    #[fastevent_macros::listener(on = Measured, queue = "meters")]
    impl Meter {
        async fn handle(&self, _: &Measured) {}
    }

    #[test]
    fn a_linked_listener_gets_its_sync_keys_built_once() {
        let listener = registry().listeners_of::<Measured>()[0];
        let (SyncKeys::Cached(first), SyncKeys::Cached(again)) =
            (JobKeys::sync(listener), JobKeys::sync(listener))
        else {
            panic!("a listener of the linked slice is cached");
        };
        assert!(std::ptr::eq(first, again));
        let labels: Vec<(&str, &str)> = first
            .succeeded
            .labels()
            .map(|l| (l.key(), l.value()))
            .collect();
        assert_eq!(
            labels,
            [
                ("event", "measured"),
                ("listener", "meter"),
                ("queue", "meters"),
                ("driver", "sync"),
            ]
        );
        assert_eq!(first.succeeded.name(), JOBS_SUCCEEDED);
    }

    #[test]
    fn an_entry_outside_the_linked_slice_gets_keys_of_its_own() {
        let listener: &'static ListenerEntry =
            Box::leak(Box::new(ListenerEntry::of::<Measured, Meter>(
                "other",
                crate::ListenerOptions::default(),
                module_path!(),
            )));
        assert!(matches!(JobKeys::sync(listener), SyncKeys::Built(_)));
    }
}
