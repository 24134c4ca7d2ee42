//! The driver conformance suite: one set of tests every durable driver must
//! pass, unchanged (the idea of Go's watermill). A driver's test file
//! implements [`Target`] and calls [`conformance_suite!`].
//!
//! What it proves: all jobs of many events are handled (none lost;
//! duplicates counted and reported), retries follow the backoff and stop at
//! `tries`, dead letters carry the error, a retry from the failed store
//! works, a worker killed with SIGKILL mid-job loses nothing, poison jobs
//! are dead-lettered while the rest proceed, graceful shutdown loses nothing,
//! soft timeouts count as failed attempts, context crosses the queue, and a
//! dispatch is all or nothing.

#![allow(dead_code)]

use fastevent::context::{self, ContextKey};
use fastevent::driver::Driver;
use fastevent::driver::durable::{DurableQueue, Selection};
use fastevent::job::JobSigner;
use fastevent::worker::{BackoffDefaults, StopReason, Worker, WorkerOptions};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// A queue under test.
#[derive(Clone)]
pub struct Queue {
    pub driver: Arc<dyn Driver>,
    pub durable: Arc<dyn DurableQueue>,
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
/// block and whose crash jobs crash it; its `child_worker` test runs it.
pub fn spawn_child(queue: &Queue) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_worker", "--nocapture"])
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

// --- events and listeners of the suite ---------------------------------------------

/// (run, n) -> how many times it was handled.
static HANDLED: LazyLock<Mutex<HashMap<(String, u64), u32>>> = LazyLock::new(Default::default);

fn handled(run: &str) -> HashMap<u64, u32> {
    HANDLED
        .lock()
        .unwrap()
        .iter()
        .filter(|((r, _), _)| r == run)
        .map(|((_, n), count)| (*n, *count))
        .collect()
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Counted {
    pub run: String,
    pub n: u64,
}

#[derive(Default)]
pub struct Count;

#[listener(on = Counted)]
impl Count {
    async fn handle(&self, event: &Counted) {
        *HANDLED
            .lock()
            .unwrap()
            .entry((event.run.clone(), event.n))
            .or_default() += 1;
    }
}

/// run -> the instants of each attempt; and the runs that should now succeed.
static ATTEMPTS: LazyLock<Mutex<HashMap<String, Vec<Instant>>>> = LazyLock::new(Default::default);
static HEALED: LazyLock<Mutex<Vec<String>>> = LazyLock::new(Default::default);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Flaky {
    pub run: String,
}

#[derive(Default)]
pub struct FlakyListener;

#[listener(on = Flaky, tries = 3, backoff = "100ms")]
impl FlakyListener {
    async fn handle(&self, event: &Flaky) -> Result<(), String> {
        ATTEMPTS
            .lock()
            .unwrap()
            .entry(event.run.clone())
            .or_default()
            .push(Instant::now());
        if HEALED.lock().unwrap().contains(&event.run) {
            Ok(())
        } else {
            Err(format!("upstream refused run {}", event.run))
        }
    }
}

/// (run, n) -> (started, finished).
static SLOW: LazyLock<Mutex<HashMap<(String, u64), (u32, u32)>>> = LazyLock::new(Default::default);

/// Set in a child worker process: its slow jobs never finish, until killed.
pub const BLOCK_ENV: &str = "FASTEVENT_CONFORMANCE_BLOCK";

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Slow {
    pub run: String,
    pub n: u64,
    pub millis: u64,
    /// A file the job touches when it starts (seen across processes).
    pub started_file: Option<String>,
}

#[derive(Default)]
pub struct SlowListener;

#[listener(on = Slow)]
impl SlowListener {
    async fn handle(&self, event: &Slow) {
        SLOW.lock()
            .unwrap()
            .entry((event.run.clone(), event.n))
            .or_default()
            .0 += 1;
        if let Some(file) = &event.started_file {
            std::fs::write(file, b"started").unwrap();
        }
        let millis = if std::env::var_os(BLOCK_ENV).is_some() {
            600_000
        } else {
            event.millis
        };
        tokio::time::sleep(Duration::from_millis(millis)).await;
        SLOW.lock()
            .unwrap()
            .entry((event.run.clone(), event.n))
            .or_default()
            .1 += 1;
    }
}

/// A job that kills its worker process when it runs in a child worker
/// (`BLOCK_ENV`); each start is a line in `started_file`, seen across
/// processes.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Crash {
    pub run: String,
    pub started_file: String,
}

#[derive(Default)]
pub struct CrashListener;

#[listener(on = Crash, tries = 2)]
impl CrashListener {
    async fn handle(&self, event: &Crash) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&event.started_file)
            .unwrap();
        file.write_all(b"started\n").unwrap();
        if std::env::var_os(BLOCK_ENV).is_some() {
            std::process::abort();
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Stuck {
    pub run: String,
}

#[derive(Default)]
pub struct StuckListener;

#[listener(on = Stuck, timeout = "100ms", tries = 2, backoff = "10ms")]
impl StuckListener {
    async fn handle(&self, _: &Stuck) {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

pub static USER_ID: ContextKey<u64> = ContextKey::new("conformance_user_id");
static SEEN_USERS: LazyLock<Mutex<HashMap<String, Option<u64>>>> = LazyLock::new(Default::default);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct WithContext {
    pub run: String,
}

#[derive(Default)]
pub struct SeeContext;

#[listener(on = WithContext)]
impl SeeContext {
    async fn handle(&self, event: &WithContext) {
        SEEN_USERS
            .lock()
            .unwrap()
            .insert(event.run.clone(), context::get(&USER_ID));
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Pair {
    pub run: String,
    pub blob: String,
}

#[derive(Default)]
pub struct PairFirst;

#[listener(on = Pair)]
impl PairFirst {
    async fn handle(&self, event: &Pair) {
        *HANDLED
            .lock()
            .unwrap()
            .entry((event.run.clone(), 1))
            .or_default() += 1;
    }
}

#[derive(Default)]
pub struct PairSecond;

#[listener(on = Pair)]
impl PairSecond {
    async fn handle(&self, event: &Pair) {
        *HANDLED
            .lock()
            .unwrap()
            .entry((event.run.clone(), 2))
            .or_default() += 1;
    }
}

// --- the suite -----------------------------------------------------------------------

pub async fn every_job_is_handled_and_duplicates_are_counted(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("all");
    const N: u64 = 400;
    let mut jobs = 0;
    for n in 0..N {
        let event = Counted {
            run: run.clone(),
            n,
        };
        jobs += fastevent::dispatch_to(queue.driver.as_ref(), event)
            .await
            .unwrap()
            .jobs;
    }
    assert_eq!(jobs, N as usize);
    // Two workers share the queue, as two processes would.
    let (a, b) = tokio::join!(drain(&queue), drain(&queue));
    let counts = handled(&run);
    let missing: Vec<u64> = (0..N).filter(|n| !counts.contains_key(n)).collect();
    let duplicates: u32 = counts.values().map(|c| c - 1).sum();
    println!(
        "all jobs: {N} dispatched, {} handled, {} missing, {duplicates} duplicates (workers: {} + {} succeeded)",
        counts.len(),
        missing.len(),
        a.succeeded,
        b.succeeded
    );
    assert!(missing.is_empty(), "jobs lost: {missing:?}");
    assert_eq!(
        a.succeeded + b.succeeded,
        N,
        "each job succeeds once when no worker dies"
    );
    assert_eq!(duplicates, 0);
}

pub async fn retries_follow_the_backoff_then_the_job_is_dead_lettered_with_its_error(
    target: &dyn Target,
) {
    let queue = target.open(None);
    let run = run_id("retry");
    fastevent::dispatch_to(queue.driver.as_ref(), Flaky { run: run.clone() })
        .await
        .unwrap();
    let report = drain(&queue).await;
    assert_eq!((report.retried, report.failed), (2, 1), "{report:?}");

    let attempts = ATTEMPTS.lock().unwrap()[&run].clone();
    assert_eq!(attempts.len(), 3, "tries = 3");
    for pair in attempts.windows(2) {
        // The backoff is 100ms with equal jitter: never less than half of it.
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(50),
            "retried after only {gap:?}"
        );
    }

    let failed = queue.durable.failed_jobs(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    let job = &failed[0];
    assert_eq!(
        (job.event.as_str(), job.listener.as_str()),
        ("flaky", "flaky_listener")
    );
    assert_eq!(job.attempts, 3);
    assert!(job.error.contains("attempt 3 of 3"), "{}", job.error);
    assert!(
        job.error.contains(&format!("upstream refused run {run}")),
        "{}",
        job.error
    );
    let envelope = fastevent::job::JobEnvelope::decode(&job.body).unwrap();
    assert_eq!(envelope.payload.get(), format!(r#"{{"run":"{run}"}}"#));
}

pub async fn a_job_retried_from_the_failed_store_runs_again(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("failed-retry");
    fastevent::dispatch_to(queue.driver.as_ref(), Flaky { run: run.clone() })
        .await
        .unwrap();
    drain(&queue).await;
    let failed = queue.durable.failed_jobs(10).await.unwrap();
    assert_eq!(failed.len(), 1);

    HEALED.lock().unwrap().push(run.clone());
    assert_eq!(
        queue
            .durable
            .retry_failed(Selection::One(failed[0].id))
            .await
            .unwrap(),
        1
    );
    assert!(queue.durable.failed_jobs(10).await.unwrap().is_empty());
    let report = drain(&queue).await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(ATTEMPTS.lock().unwrap()[&run].len(), 4);
    assert_eq!(
        queue
            .durable
            .retry_failed(Selection::One(failed[0].id))
            .await
            .unwrap(),
        0
    );
}

pub async fn failed_jobs_can_be_forgotten(target: &dyn Target) {
    let queue = target.open(None);
    for _ in 0..3 {
        let run = run_id("forget");
        fastevent::dispatch_to(queue.driver.as_ref(), Flaky { run })
            .await
            .unwrap();
    }
    drain(&queue).await;
    let failed = queue.durable.failed_jobs(10).await.unwrap();
    assert_eq!(failed.len(), 3);
    assert_eq!(
        queue
            .durable
            .forget_failed(Selection::One(failed[0].id))
            .await
            .unwrap(),
        1
    );
    assert!(
        queue
            .durable
            .failed_job(failed[0].id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        queue
            .durable
            .failed_job(failed[1].id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        queue.durable.forget_failed(Selection::All).await.unwrap(),
        2
    );
    assert!(queue.durable.failed_jobs(10).await.unwrap().is_empty());
}

pub async fn poison_jobs_are_dead_lettered_while_the_others_proceed(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("poison");
    target.inject_raw(&queue, b"\x80\x04 this is a pickle, not a job", None);
    target.inject_raw(&queue, br#"{"fastevent_job":99}"#, None);
    let unknown_listener = format!(
        r#"{{"fastevent_job":1,"id":"p1","event":"counted","event_version":1,"listener":"no_such_listener","queue":"default","payload":{{"run":"{run}","n":0}},"max_attempts":3,"created_at_ms":1}}"#
    );
    target.inject_raw(&queue, unknown_listener.as_bytes(), None);
    let bad_payload = r#"{"fastevent_job":1,"id":"p2","event":"counted","event_version":1,"listener":"count","queue":"default","payload":{"run":7},"max_attempts":3,"created_at_ms":1}"#;
    target.inject_raw(&queue, bad_payload.as_bytes(), None);
    for n in 0..20 {
        fastevent::dispatch_to(
            queue.driver.as_ref(),
            Counted {
                run: run.clone(),
                n,
            },
        )
        .await
        .unwrap();
    }
    let report = drain(&queue).await;
    assert_eq!(
        (report.succeeded, report.failed, report.retried),
        (20, 4, 0),
        "{report:?}"
    );
    assert_eq!(handled(&run).len(), 20);

    let mut errors: Vec<String> = queue
        .durable
        .failed_jobs(10)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.error)
        .collect();
    errors.sort();
    let expected = [
        "job envelope format 99 is not supported",
        "no listener `no_such_listener` of event `counted` is registered",
        "not a fastevent job envelope",
        "the payload does not decode as event `counted`",
    ];
    for (error, expected) in errors.iter().zip(expected) {
        assert!(
            error.contains(expected),
            "{error:?} should contain {expected:?}"
        );
    }
    // Byte for byte, for whoever looks into it.
    let failed = queue.durable.failed_jobs(10).await.unwrap();
    assert!(
        failed
            .iter()
            .any(|f| f.body == b"\x80\x04 this is a pickle, not a job")
    );
}

pub async fn signed_queues_refuse_unsigned_and_altered_jobs(target: &dyn Target) {
    let queue = target.open(Some("conformance-signing-key-0123456789"));
    let run = run_id("signed");
    fastevent::dispatch_to(
        queue.driver.as_ref(),
        Counted {
            run: run.clone(),
            n: 1,
        },
    )
    .await
    .unwrap();
    let body = format!(
        r#"{{"fastevent_job":1,"id":"s1","event":"counted","event_version":1,"listener":"count","queue":"default","payload":{{"run":"{run}","n":2}},"max_attempts":3,"created_at_ms":1}}"#
    );
    target.inject_raw(&queue, body.as_bytes(), None);
    let forged = JobSigner::new("someone-elses-key-0123456789")
        .unwrap()
        .sign(body.as_bytes());
    target.inject_raw(&queue, body.as_bytes(), Some(&forged));
    let report = drain(&queue).await;
    assert_eq!((report.succeeded, report.failed), (1, 2), "{report:?}");
    assert_eq!(handled(&run).keys().copied().collect::<Vec<_>>(), vec![1]);
    let mut errors: Vec<String> = queue
        .durable
        .failed_jobs(10)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.error)
        .collect();
    errors.sort();
    assert!(errors[0].contains("not signed"), "{errors:?}");
    assert!(errors[1].contains("signature does not match"), "{errors:?}");
}

pub async fn a_soft_timeout_cancels_the_attempt_and_counts_it(target: &dyn Target) {
    let queue = target.open(None);
    fastevent::dispatch_to(
        queue.driver.as_ref(),
        Stuck {
            run: run_id("stuck"),
        },
    )
    .await
    .unwrap();
    let started = Instant::now();
    let report = drain(&queue).await;
    assert_eq!((report.retried, report.failed), (1, 1), "{report:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the listener was not cancelled"
    );
    let failed = queue.durable.failed_jobs(1).await.unwrap();
    assert!(
        failed[0].error.contains("timed out after 100ms"),
        "{}",
        failed[0].error
    );
}

pub async fn the_dispatch_context_reaches_the_worker(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("context");
    let event = WithContext { run: run.clone() };
    context::scope(async {
        context::set(&USER_ID, 4242).unwrap();
        fastevent::dispatch_to(queue.driver.as_ref(), event)
            .await
            .unwrap();
    })
    .await;
    drain(&queue).await;
    assert_eq!(SEEN_USERS.lock().unwrap()[&run], Some(4242));
}

pub async fn a_dispatch_is_all_or_nothing(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("atomic");
    // Over the size limit: refused at dispatch, for both listeners.
    let error = fastevent::dispatch_to(
        queue.driver.as_ref(),
        Pair {
            run: run.clone(),
            blob: "x".repeat(300 * 1024),
        },
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("over the limit"), "{error}");
    let depth: u64 = queue
        .durable
        .depth()
        .await
        .unwrap()
        .iter()
        .map(|d| d.ready)
        .sum();
    assert_eq!(depth, 0, "a refused dispatch left jobs behind");

    let dispatched = fastevent::dispatch_to(
        queue.driver.as_ref(),
        Pair {
            run: run.clone(),
            blob: "ok".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(dispatched.jobs, 2);
    drain(&queue).await;
    assert_eq!(handled(&run), HashMap::from([(1, 1), (2, 1)]));
}

pub async fn graceful_shutdown_finishes_or_hands_back_every_job(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("shutdown");
    for n in 0..12 {
        let event = Slow {
            run: run.clone(),
            n,
            millis: 300,
            started_file: None,
        };
        fastevent::dispatch_to(queue.driver.as_ref(), event)
            .await
            .unwrap();
    }
    // A worker told to stop while 4 jobs run, with no grace: it hands them back.
    let stop_soon = tokio::time::sleep(Duration::from_millis(100));
    let impatient = WorkerOptions {
        concurrency: 4,
        shutdown_grace: Duration::ZERO,
        stop_when_empty: false,
        ..options()
    };
    let report = worker(&queue, impatient).run(stop_soon).await;
    assert_eq!(report.stopped, StopReason::Shutdown);
    assert_eq!(report.released, 4, "{report:?}");

    // A patient one, told to stop at once: its in-flight jobs finish.
    let patient = WorkerOptions {
        concurrency: 4,
        shutdown_grace: Duration::from_secs(10),
        stop_when_empty: false,
        ..options()
    };
    let report = worker(&queue, patient)
        .run(tokio::time::sleep(Duration::from_millis(100)))
        .await;
    assert_eq!((report.succeeded, report.released), (4, 0), "{report:?}");

    drain(&queue).await;
    let slow = SLOW.lock().unwrap();
    let finished = (0..12)
        .filter(|n| slow.get(&(run.clone(), *n)).is_some_and(|s| s.1 >= 1))
        .count();
    let restarted = (0..12)
        .filter(|n| slow.get(&(run.clone(), *n)).is_some_and(|s| s.0 > 1))
        .count();
    println!(
        "shutdown: 12 jobs, {finished} finished, {restarted} started twice (handed back mid-run)"
    );
    assert_eq!(finished, 12, "jobs were lost");
    assert_eq!(restarted, 4);
}

/// The other half of [`a_worker_killed_mid_job_loses_nothing`]: the worker
/// that gets killed, in its own process.
pub async fn run_child_worker(target: &dyn Target) {
    let queue = target.open_from_env();
    worker(
        &queue,
        WorkerOptions {
            stop_when_empty: false,
            ..options()
        },
    )
    .run(std::future::pending())
    .await;
}

pub async fn a_worker_killed_mid_job_loses_nothing(
    target: &dyn Target,
    spawn_child: &dyn Fn(&Queue) -> std::process::Child,
) {
    let queue = target.open(None);
    let run = run_id("sigkill");
    let started_file = std::env::temp_dir().join(format!("{run}.started"));
    let event = Slow {
        run: run.clone(),
        n: 0,
        millis: 10,
        started_file: Some(started_file.display().to_string()),
    };
    fastevent::dispatch_to(queue.driver.as_ref(), event)
        .await
        .unwrap();
    for n in 1..=5 {
        fastevent::dispatch_to(
            queue.driver.as_ref(),
            Counted {
                run: run.clone(),
                n,
            },
        )
        .await
        .unwrap();
    }

    let mut child = spawn_child(&queue);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !started_file.exists() {
        assert!(
            Instant::now() < deadline,
            "the child worker never started the job"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child worker exited early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status}");
    let _ = std::fs::remove_file(&started_file);

    // Its lease runs out (2s), and this worker runs the job to the end.
    let report = drain(&queue).await;
    let slow = SLOW.lock().unwrap()[&(run.clone(), 0)];
    println!(
        "sigkill: the killed job ran again here and finished ({} start(s) here, {} finish); worker report {report:?}",
        slow.0, slow.1
    );
    assert_eq!(slow.1, 1, "the job killed mid-run never finished");
    // The other jobs ran in the child or here: either way they are done,
    // since a job leaves the queue only after its listener succeeded.
    let left: u64 = queue
        .durable
        .depth()
        .await
        .unwrap()
        .iter()
        .map(|d| d.ready + d.running + d.delayed)
        .sum();
    assert_eq!(left, 0);
    assert!(queue.durable.failed_jobs(10).await.unwrap().is_empty());
}

/// A poison job that crashes its worker every time (left alone, it would
/// crash worker after worker for ever): each crash counts as an attempt, and once its tries
/// are spent it goes to the failed store without running again.
pub async fn a_job_that_kills_its_worker_every_time_is_dead_lettered(
    target: &dyn Target,
    spawn_child: &dyn Fn(&Queue) -> std::process::Child,
) {
    let queue = target.open(None);
    let run = run_id("crash");
    let started_file = std::env::temp_dir().join(format!("{run}.starts"));
    let starts = || {
        std::fs::read_to_string(&started_file)
            .unwrap_or_default()
            .lines()
            .count()
    };
    fastevent::dispatch_to(
        queue.driver.as_ref(),
        Crash {
            run: run.clone(),
            started_file: started_file.display().to_string(),
        },
    )
    .await
    .unwrap();

    // `tries = 2`: two worker processes take the job, and it kills each.
    for crash in 1..=2 {
        let mut child = spawn_child(&queue);
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "child worker {crash} never ran the job (starts: {})",
                    starts()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(!status.success(), "{status}");
        assert_eq!(starts(), crash, "each crash is one start");
    }

    // Out of tries: refused before it can kill this worker too.
    let report = drain(&queue).await;
    let _ = std::fs::remove_file(&started_file);
    println!("crash loop: the job ran {} times, then {report:?}", 2);
    assert_eq!((report.succeeded, report.failed), (0, 1), "{report:?}");
    let failed = queue.durable.failed_jobs(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].listener, "crash_listener");
    assert!(failed[0].error.contains("died"), "{}", failed[0].error);
}

/// Declares one `#[tokio::test]` per conformance test for `$target`.
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
    };
    (@tests $target:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                conformance::$name(&$target).await;
            }
        )+
    };
}
