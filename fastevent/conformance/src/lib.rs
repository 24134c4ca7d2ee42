//! The driver conformance suite: one set of tests every durable driver must
//! pass, unchanged (the idea of Go's watermill). A driver's test file
//! implements [`Target`] and calls [`conformance_suite!`](crate::conformance_suite).
//!
//! What it proves: all jobs of many events are handled (none lost;
//! duplicates counted and reported), retries follow the backoff and stop at
//! `tries`, dead letters carry the error, a retry from the failed store
//! works, a worker killed with SIGKILL mid-job loses nothing, poison jobs
//! are dead-lettered while the rest proceed, graceful shutdown loses nothing,
//! soft timeouts count as failed attempts, context crosses the queue, and a
//! dispatch is all or nothing.
//!
//! Add it to a driver crate's `[dev-dependencies]` only: the suite's
//! events and listeners (named `fastevent_conformance.*`) register
//! themselves in every binary that links this crate, as any crate's do.

#![warn(missing_docs)]
#![warn(unreachable_pub)]

/// What the generated tests name; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use tokio;
}

mod crashes;
mod delivery;
mod failures;
mod listeners;

use listeners::BLOCK_ENV;

pub use crashes::*;
pub use delivery::*;
pub use failures::*;

use fastevent::driver::Driver;
use fastevent::driver::durable::DurableQueue;
use fastevent::job::JobSigner;
use fastevent::worker::{BackoffDefaults, StopReason, Worker, WorkerOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A queue under test.
#[derive(Clone)]
pub struct Queue {
    /// The driver dispatches hand jobs to.
    pub driver: Arc<dyn Driver>,
    /// The same queue, as workers take jobs from it.
    pub durable: Arc<dyn DurableQueue>,
    /// The key jobs are signed with, if any.
    pub signer: Option<JobSigner>,
    /// What a child process needs to open the same queue.
    pub child_env: Vec<(String, String)>,
    /// Held while the queue is in use; dropping the last clone of the
    /// queue drops it, which removes what the test made (a broker's
    /// queues), even when the test fails.
    pub cleanup: Option<Arc<dyn Send + Sync>>,
}

/// A driver under test.
pub trait Target: Send + Sync + 'static {
    /// A fresh, empty queue; with a key, jobs are signed and verified.
    fn open(&self, signing_key: Option<&str>) -> Queue;
    /// Reopens, in a child process, the queue its `child_env` describes.
    fn open_from_env(&self) -> Queue;
    /// Puts raw bytes on the queue as a job, bypassing dispatch.
    fn inject_raw(&self, queue: &Queue, body: &[u8], signature: Option<&str>);
}

/// Set in the child worker process of the crash tests.
const CHILD_ENV: &str = "FASTEVENT_CONFORMANCE_CHILD";

/// Whether this process is the child worker of a crash test (see
/// [`spawn_child`]); a driver's `child_worker` test then runs the worker.
pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// This test binary again, as a worker process on `queue` whose slow jobs
/// block and whose crash jobs crash it; the `child_worker` test that
/// [`conformance_suite!`](crate::conformance_suite) declares in `module`
/// (its `module_path!()`) runs it.
pub fn spawn_child(queue: &Queue, module: &str) -> std::process::Child {
    // The test's name is its path without the crate's name.
    let test = match module.split_once("::") {
        Some((_, inner)) => format!("{inner}::child_worker"),
        None => "child_worker".to_string(),
    };
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &test, "--nocapture"])
        .envs(queue.child_env.iter().cloned())
        .env(CHILD_ENV, "1")
        .env(BLOCK_ENV, "1")
        .spawn()
        .unwrap()
}

/// Runs `future` to its end on a runtime of its own, on another thread:
/// `Target::inject_raw` is synchronous but called from async tests.
pub fn block_on<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    })
    .join()
    .unwrap()
}

/// Options that keep the suite fast: short polls, leases and backoff.
pub fn options() -> WorkerOptions {
    WorkerOptions {
        concurrency: 8,
        poll_interval: Duration::from_millis(5),
        heartbeat_interval: Duration::from_millis(100),
        lease: Duration::from_secs(2),
        shutdown_grace: Duration::from_secs(5),
        backoff: BackoffDefaults {
            first: Duration::from_millis(20),
            max: Duration::from_secs(1),
        },
        stop_when_empty: true,
        ..WorkerOptions::default()
    }
}

/// A unique id, so tests running at once never read each other's records.
pub fn run_id(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{test}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn worker(queue: &Queue, options: WorkerOptions) -> Worker {
    Worker::new(queue.durable.clone(), options, queue.signer.clone())
}

/// Runs a worker until its queue is empty (or `limit` passes, which fails).
pub async fn drain(queue: &Queue) -> fastevent::worker::WorkerReport {
    let options = WorkerOptions {
        max_time: Some(Duration::from_secs(60)),
        ..options()
    };
    let report = worker(queue, options).run(std::future::pending()).await;
    assert_eq!(
        report.stopped,
        StopReason::Empty,
        "the queue did not empty: {report:?}"
    );
    report
}

/// Declares the whole conformance suite for a driver: one test per
/// conformance test, each on a runtime of its own, plus the `child_worker`
/// test the crash tests run in a process of their own. Call it once in a
/// test file, with an expression that gives a [`Target`] (a block that
/// returns early skips every test, e.g. when no server is configured):
///
/// ```text
/// struct MyQueue;
/// impl fastevent_conformance::Target for MyQueue { /* ... */ }
///
/// fastevent_conformance::conformance_suite!(MyQueue);
/// ```
///
/// The tests name Tokio through this crate
/// (`fastevent_conformance::__private::tokio`), so the calling crate needs
/// no Tokio of its own but must call this crate `fastevent_conformance`.
///
/// [`Target`]: crate::Target
#[macro_export]
macro_rules! conformance_suite {
    ($target:expr) => {
        $crate::conformance_suite!(@tests $target;
            every_job_is_handled_and_duplicates_are_counted,
            retries_follow_the_backoff_then_the_job_is_dead_lettered_with_its_error,
            a_job_retried_from_the_failed_store_runs_again,
            failed_jobs_can_be_forgotten,
            poison_jobs_are_dead_lettered_while_the_others_proceed,
            signed_queues_refuse_unsigned_and_altered_jobs,
            a_soft_timeout_cancels_the_attempt_and_counts_it,
            the_dispatch_context_reaches_the_worker,
            a_dispatch_is_all_or_nothing,
            graceful_shutdown_finishes_or_hands_back_every_job,
        );
        $crate::conformance_suite!(@crash_tests $target;
            a_worker_killed_mid_job_loses_nothing,
            a_job_that_kills_its_worker_every_time_is_dead_lettered,
        );

        /// The worker process the crash tests kill; does nothing otherwise.
        #[$crate::__private::tokio::test(
            flavor = "multi_thread",
            worker_threads = 2,
            crate = "::fastevent_conformance::__private::tokio"
        )]
        async fn child_worker() {
            if $crate::is_child() {
                $crate::run_child_worker(&$target).await;
            }
        }
    };
    (@tests $target:expr; $($name:ident),+ $(,)?) => {
        $(
            #[$crate::__private::tokio::test(
                flavor = "multi_thread",
                worker_threads = 2,
                crate = "::fastevent_conformance::__private::tokio"
            )]
            async fn $name() {
                $crate::$name(&$target).await;
            }
        )+
    };
    (@crash_tests $target:expr; $($name:ident),+ $(,)?) => {
        $(
            #[$crate::__private::tokio::test(
                flavor = "multi_thread",
                worker_threads = 2,
                crate = "::fastevent_conformance::__private::tokio"
            )]
            async fn $name() {
                $crate::$name(&$target, module_path!()).await;
            }
        )+
    };
}
