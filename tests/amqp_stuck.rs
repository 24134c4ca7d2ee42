//! No stuck deliveries: a job whose settle the broker refuses must not keep
//! its delivery (and the worker's prefetch slot) for ever.
//!
//! The case: the failed store refuses every job (a policy of max-length 0
//! with reject-publish on it), 30 jobs that always fail (tries = 1) are
//! queued ahead of 40 good ones, and one worker of concurrency 5 runs.
//! The good jobs must all run; the refused ones must stay on the broker
//! (here: parked, then in the failed store once it takes them again), none
//! lost; and the worker's log must say why.
//!
//! And a retry the broker refuses (its delay queues at a length limit of 0
//! with reject-publish): the worker closes its channel so the broker
//! redelivers the job, the interrupted attempt counts, and the job ends in
//! the failed store after its `tries`, while the other jobs flow.
//!
//! Runs when `FASTEVENT_AMQP_URL` names a broker; sets a policy with
//! `rabbitmqctl` (root), with a pattern that matches this test's queue
//! only, and removes it at the end.

mod amqp_support;

use amqp_support::{Tidy, fresh_prefix};
use fastevent::driver::Driver;
use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
use fastevent::driver::durable::QueueAdmin;
use fastevent::job::JobDefaults;
use fastevent::worker::{BackoffDefaults, Worker, WorkerOptions};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

static GOOD: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());
static UNRETRIABLE_RUNS: Mutex<u32> = Mutex::new(0);
static LOGGING: std::sync::Once = std::sync::Once::new();
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Doomed {
    pub n: u64,
}

#[derive(Default)]
pub struct AlwaysFails;

#[listener(on = Doomed, tries = 1)]
impl AlwaysFails {
    async fn handle(&self, job: &Doomed) -> Result<(), String> {
        Err(format!("doomed job {}", job.n))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Unretriable {
    pub n: u64,
}

#[derive(Default)]
pub struct FailsThrice;

#[listener(on = Unretriable, tries = 3)]
impl FailsThrice {
    async fn handle(&self, _: &Unretriable) -> Result<(), String> {
        *UNRETRIABLE_RUNS.lock().unwrap() += 1;
        Err("fails every time".into())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Good {
    pub n: u64,
}

#[derive(Default)]
pub struct RecordGood;

#[listener(on = Good)]
impl RecordGood {
    async fn handle(&self, job: &Good) {
        GOOD.lock().unwrap().insert(job.n);
    }
}

/// Keeps every log line (message and fields) of the process.
struct Capture;

struct Line(String);

impl tracing::field::Visit for Line {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut line = Line(format!("{}", event.metadata().level()));
        event.record(&mut line);
        LOG.lock().unwrap().push(line.0);
    }
}

use amqp_support::url;

fn options() -> WorkerOptions {
    WorkerOptions {
        concurrency: 5,
        poll_interval: Duration::from_millis(20),
        heartbeat_interval: Duration::from_millis(200),
        lease: Duration::from_secs(10),
        shutdown_grace: Duration::from_secs(5),
        backoff: BackoffDefaults {
            first: Duration::from_millis(20),
            max: Duration::from_secs(1),
        },
        ..WorkerOptions::default()
    }
}

/// Runs a worker until `done` holds or `limit` passes.
async fn work_until(driver: &Arc<AmqpDriver>, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    let stop = async move {
        while !done() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    Worker::new(driver.clone(), options(), None).run(stop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_the_failed_store_refuses_do_not_stall_the_worker_and_are_not_lost() {
    let Some(url) = url() else { return };
    LOGGING.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture))
            .unwrap()
    });
    let prefix = fresh_prefix("stuck");
    let mut tidy = Tidy::new(&url, &prefix);
    let mut options = AmqpOptions {
        prefix: prefix.clone(),
        ..AmqpOptions::new(url.clone())
    };
    options.park_delay = Duration::from_secs(2);
    let driver = Arc::new(AmqpDriver::new(options, JobDefaults::default(), None));
    let failed = driver.topology().failed_queue();
    tidy.set_policy(
        &format!("{prefix}-refuse"),
        &format!("^{}$", failed.replace('.', "\\.")),
        r#"{"max-length":0,"overflow":"reject-publish"}"#,
    );
    for n in 0..30 {
        fastevent::dispatch_to(driver.as_ref() as &dyn Driver, Doomed { n })
            .await
            .unwrap();
    }
    for n in 0..40 {
        fastevent::dispatch_to(driver.as_ref() as &dyn Driver, Good { n })
            .await
            .unwrap();
    }

    let started = Instant::now();
    work_until(&driver, Duration::from_secs(90), || {
        GOOD.lock().unwrap().range(0..40).count() == 40
    })
    .await;
    let good = GOOD.lock().unwrap().range(0..40).count();
    println!("good jobs handled: {good}/40 in {:?}", started.elapsed());
    assert_eq!(good, 40, "the worker stalled behind the refused jobs");
    let log = LOG.lock().unwrap().join("\n");
    assert!(
        log.contains("the failed store refused"),
        "the worker does not say why: {log}"
    );

    // The store takes jobs again: every doomed job reaches it, none lost.
    std::process::Command::new("rabbitmqctl")
        .args(["clear_policy", &format!("{prefix}-refuse")])
        .status()
        .unwrap();
    let in_store = || {
        let driver = driver.clone();
        let jobs = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(async move { driver.failed_jobs(1000).await.unwrap() })
        });
        let jobs = jobs.join().unwrap();
        jobs.iter()
            .map(|j| j.job_id.clone())
            .collect::<BTreeSet<_>>()
            .len()
    };
    let started = Instant::now();
    work_until(&driver, Duration::from_secs(60), || in_store() == 30).await;
    let stored = in_store();
    println!(
        "doomed jobs in the failed store: {stored}/30 after {:?}",
        started.elapsed()
    );
    assert_eq!(stored, 30, "refused jobs were lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_the_broker_refuses_hands_the_job_back_with_its_attempt_counted() {
    let Some(url) = url() else { return };
    let prefix = fresh_prefix("refused-retry");
    let mut tidy = Tidy::new(&url, &prefix);
    let options = AmqpOptions {
        prefix: prefix.clone(),
        operation_timeout: Duration::from_secs(1),
        ..AmqpOptions::new(url.clone())
    };
    let driver = Arc::new(AmqpDriver::new(options, JobDefaults::default(), None));
    driver.declare("default").await.unwrap();
    // Every delay queue of this prefix refuses every retry.
    tidy.set_policy(
        &format!("{prefix}-no-retry"),
        &format!("^{}~delay\\.", prefix.replace('.', "\\.")),
        r#"{"max-length":0,"overflow":"reject-publish"}"#,
    );
    fastevent::dispatch_to(driver.as_ref() as &dyn Driver, Unretriable { n: 0 })
        .await
        .unwrap();
    for n in 100..110 {
        fastevent::dispatch_to(driver.as_ref() as &dyn Driver, Good { n })
            .await
            .unwrap();
    }
    let in_store = || {
        let driver = driver.clone();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(async move { driver.failed_jobs(10).await.unwrap() })
        })
        .join()
        .unwrap()
    };
    let good = || GOOD.lock().unwrap().range(100..110).count();
    work_until(&driver, Duration::from_secs(60), || {
        good() == 10 && !in_store().is_empty()
    })
    .await;
    let stored = in_store();
    let runs = *UNRETRIABLE_RUNS.lock().unwrap();
    let attempts: Vec<u32> = stored.iter().map(|j| j.attempts).collect();
    println!(
        "good: {}/10, runs of the refused job: {runs}, attempts in the failed store: {attempts:?}",
        good()
    );
    assert_eq!(good(), 10, "the other jobs flow");
    assert_eq!(stored.len(), 1, "the job reaches the failed store");
    assert_eq!(stored[0].attempts, 3, "each interrupted attempt counts");
    assert_eq!(runs, 3, "no attempt runs beyond its tries");
}
