//! Spans, trace context and metrics, on the SQLite driver with an
//! in-process worker and on the sync driver.
//!
//! Every test runs on its own current-thread runtime, so the worker's and
//! the sync driver's tasks run on the test's thread: a thread-local
//! recorder (`metrics::set_default_local_recorder`), or a subscriber that
//! records the spans of that thread only, sees exactly that test's jobs,
//! and the tests can run in parallel with exact counts.

use fastevent::context;
use fastevent::driver::Driver;
use fastevent::driver::durable::{QueueAdmin, durable_queue_of};
use fastevent::driver::sqlite::{SqliteDriver, SqliteOptions, Synchronous};
use fastevent::driver::sync::SyncDriver;
use fastevent::job::{JobDefaults, JobEnvelope};
use fastevent::observe::{self, TRACE_ID};
use fastevent::worker::{BackoffDefaults, StopReason, Worker, WorkerOptions};
use fastevent::{Event, dispatch_to, listener};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

// --- events and listeners ----------------------------------------------------------

/// run -> the trace ids its listeners saw, in order.
static SEEN_TRACE: LazyLock<Mutex<HashMap<String, Vec<Option<String>>>>> =
    LazyLock::new(Default::default);
/// run -> attempts made so far.
static ATTEMPTS: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(Default::default);
/// run -> the queue a chained listener dispatches to.
static CHAIN_TO: LazyLock<Mutex<HashMap<String, Arc<SqliteDriver>>>> =
    LazyLock::new(Default::default);

fn saw_trace(run: &str) {
    SEEN_TRACE
        .lock()
        .unwrap()
        .entry(run.to_string())
        .or_default()
        .push(context::get(&TRACE_ID));
}

fn seen_traces(run: &str) -> Vec<Option<String>> {
    SEEN_TRACE
        .lock()
        .unwrap()
        .get(run)
        .cloned()
        .unwrap_or_default()
}

fn attempt(run: &str) -> u32 {
    let mut attempts = ATTEMPTS.lock().unwrap();
    let count = attempts.entry(run.to_string()).or_default();
    *count += 1;
    *count
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Greeted {
    run: String,
}

#[derive(Default)]
struct Greet;

#[listener(on = Greeted)]
impl Greet {
    async fn handle(&self, event: &Greeted) {
        saw_trace(&event.run);
    }
}

/// Fails its first attempt, then succeeds.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Flaky {
    run: String,
}

#[derive(Default)]
struct FlakyListener;

#[listener(on = Flaky, tries = 3, backoff = "10ms")]
impl FlakyListener {
    async fn handle(&self, event: &Flaky) -> Result<(), String> {
        match attempt(&event.run) {
            1 => Err("upstream busy".into()),
            _ => Ok(()),
        }
    }
}

/// Always fails: dead-lettered after its two tries.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Doomed {
    run: String,
}

#[derive(Default)]
struct DoomedListener;

#[listener(on = Doomed, tries = 2, backoff = "10ms")]
impl DoomedListener {
    async fn handle(&self, _: &Doomed) -> Result<(), String> {
        Err("the source is gone".into())
    }
}

/// Two listeners, so one dispatch makes two jobs.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Paired {
    run: String,
}

#[derive(Default)]
struct Left;

#[listener(on = Paired)]
impl Left {
    async fn handle(&self, event: &Paired) {
        saw_trace(&event.run);
    }
}

#[derive(Default)]
struct Right;

#[listener(on = Paired)]
impl Right {
    async fn handle(&self, event: &Paired) {
        saw_trace(&event.run);
    }
}

/// Its listener dispatches `Greeted` in turn, to the run's queue.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Chained {
    run: String,
}

#[derive(Default)]
struct Relay;

#[listener(on = Chained)]
impl Relay {
    async fn handle(&self, event: &Chained) -> Result<(), fastevent::DispatchError> {
        saw_trace(&event.run);
        let driver = CHAIN_TO.lock().unwrap()[&event.run].clone();
        let greeted = Greeted {
            run: format!("{}-next", event.run),
        };
        dispatch_to(&*driver, greeted).await?;
        Ok(())
    }
}

// --- queue and worker ----------------------------------------------------------------

fn run_id(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{test}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn sqlite() -> Arc<SqliteDriver> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("fastevent-observe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("queue-{}.db", NEXT.fetch_add(1, Ordering::SeqCst)));
    let options = SqliteOptions {
        path,
        synchronous: Synchronous::Normal,
        busy_timeout: Duration::from_secs(10),
    };
    Arc::new(SqliteDriver::new(options, JobDefaults::default(), None))
}

/// Runs a worker on this thread until the queue is empty.
async fn drain(queue: &Arc<SqliteDriver>) {
    let options = WorkerOptions {
        concurrency: 4,
        poll_interval: Duration::from_millis(5),
        heartbeat_interval: Duration::from_millis(100),
        lease: Duration::from_secs(5),
        backoff: BackoffDefaults {
            first: Duration::from_millis(10),
            max: Duration::from_millis(100),
        },
        stop_when_empty: true,
        // A safety net, not a timed assertion: a stuck worker fails the test.
        max_time: Some(Duration::from_secs(60)),
        ..WorkerOptions::default()
    };
    let queue = durable_queue_of(queue.clone());
    let report = Worker::new(queue, options, None)
        .run(std::future::pending())
        .await;
    assert_eq!(report.stopped, StopReason::Empty, "{report:?}");
}

// --- metrics -------------------------------------------------------------------------

/// The metrics one test recorded, by kind, name and labels.
struct Recorded(Vec<(CompositeKey, Option<metrics::Unit>, DebugValue)>);

impl Recorded {
    fn take(snapshotter: &Snapshotter) -> Self {
        Recorded(
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .map(|(key, unit, _, value)| (key, unit, value))
                .collect(),
        )
    }

    fn find(
        &self,
        kind: MetricKind,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Option<&(CompositeKey, Option<metrics::Unit>, DebugValue)> {
        self.0.iter().find(|(key, _, _)| {
            key.kind() == kind
                && key.key().name() == name
                && labels.iter().all(|(k, v)| {
                    key.key()
                        .labels()
                        .any(|label| label.key() == *k && label.value() == *v)
                })
        })
    }

    /// A counter's value; 0 when it was never incremented.
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.find(MetricKind::Counter, name, labels) {
            Some((_, _, DebugValue::Counter(n))) => *n,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
            None => 0,
        }
    }

    /// A histogram's samples; none when it was never recorded.
    fn samples(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        match self.find(MetricKind::Histogram, name, labels) {
            Some((_, _, DebugValue::Histogram(values))) => {
                values.iter().map(|v| v.into_inner()).collect()
            }
            Some(other) => panic!("{name} is not a histogram: {other:?}"),
            None => Vec::new(),
        }
    }
}

#[tokio::test]
async fn a_successful_job_is_counted_and_timed() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let queue = sqlite();
    let run = run_id("success");

    dispatch_to(&*queue, Greeted { run: run.clone() })
        .await
        .unwrap();
    drain(&queue).await;

    let recorded = Recorded::take(&snapshotter);
    let labels = [
        ("event", "greeted"),
        ("listener", "greet"),
        ("queue", "default"),
        ("driver", "sqlite"),
    ];
    assert_eq!(recorded.counter(observe::JOBS_DISPATCHED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_SUCCEEDED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_FAILED, &labels), 0);
    assert_eq!(recorded.counter(observe::JOBS_RETRIED, &labels), 0);
    assert_eq!(recorded.counter(observe::JOBS_DEAD_LETTERED, &labels), 0);
    let run_times = recorded.samples(observe::JOB_RUN_SECONDS, &labels);
    let wait_times = recorded.samples(observe::JOB_WAIT_SECONDS, &labels);
    assert_eq!(run_times.len(), 1, "{run_times:?}");
    assert_eq!(wait_times.len(), 1, "{wait_times:?}");
    assert!(run_times[0] >= 0.0 && wait_times[0] >= 0.0);
    // The worker described the metrics to the recorder it found.
    let (_, unit, _) = recorded
        .find(MetricKind::Histogram, observe::JOB_RUN_SECONDS, &labels)
        .unwrap();
    assert_eq!(*unit, Some(metrics::Unit::Seconds));
    assert_eq!(seen_traces(&run).len(), 1);
}

#[tokio::test]
async fn a_retried_job_counts_the_failed_attempt_and_the_retry() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let queue = sqlite();
    let before = fastevent::stats();

    dispatch_to(
        &*queue,
        Flaky {
            run: run_id("retry"),
        },
    )
    .await
    .unwrap();
    drain(&queue).await;

    let recorded = Recorded::take(&snapshotter);
    let labels = [("event", "flaky"), ("listener", "flaky_listener")];
    assert_eq!(recorded.counter(observe::JOBS_DISPATCHED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_FAILED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_RETRIED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_SUCCEEDED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_DEAD_LETTERED, &labels), 0);
    assert_eq!(recorded.samples(observe::JOB_RUN_SECONDS, &labels).len(), 2);
    assert_eq!(
        recorded.samples(observe::JOB_WAIT_SECONDS, &labels).len(),
        2
    );
    // `stats()` is fed by the same calls (process-wide: other tests add to it).
    assert!(fastevent::stats().succeeded > before.succeeded);
}

#[tokio::test]
async fn a_dead_lettered_job_is_counted_once_it_runs_out_of_tries() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let queue = sqlite();
    let before = fastevent::stats();

    dispatch_to(
        &*queue,
        Doomed {
            run: run_id("dead"),
        },
    )
    .await
    .unwrap();
    drain(&queue).await;

    let recorded = Recorded::take(&snapshotter);
    let labels = [
        ("event", "doomed"),
        ("listener", "doomed_listener"),
        ("driver", "sqlite"),
    ];
    assert_eq!(recorded.counter(observe::JOBS_DISPATCHED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_FAILED, &labels), 2);
    assert_eq!(recorded.counter(observe::JOBS_RETRIED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_DEAD_LETTERED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_SUCCEEDED, &labels), 0);
    assert_eq!(queue.failed_count().await.unwrap(), 1);
    assert!(fastevent::stats().failed > before.failed);
}

#[tokio::test]
async fn the_sync_driver_reports_its_jobs_when_asked() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let labels = [
        ("event", "greeted"),
        ("listener", "greet"),
        ("queue", "default"),
        ("driver", "sync"),
    ];

    // Off by default: `stats()` counts the job, the recorder sees nothing.
    let before = fastevent::stats();
    dispatch_to(
        &SyncDriver,
        Greeted {
            run: run_id("sync"),
        },
    )
    .await
    .unwrap();
    SyncDriver.drain().await;
    assert!(fastevent::stats().succeeded > before.succeeded);
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.counter(observe::JOBS_DISPATCHED, &labels), 0);
    assert_eq!(recorded.counter(observe::JOBS_SUCCEEDED, &labels), 0);

    // The switch is process-wide; this is the only test that sets it.
    observe::set_sync_metrics(true);
    for _ in 0..3 {
        dispatch_to(
            &SyncDriver,
            Greeted {
                run: run_id("sync"),
            },
        )
        .await
        .unwrap();
    }
    // Failures give up after the last try, which the sync driver counts
    // as dead-lettered (it has no failed store).
    dispatch_to(
        &SyncDriver,
        Doomed {
            run: run_id("sync"),
        },
    )
    .await
    .unwrap();
    SyncDriver.drain().await;
    observe::set_sync_metrics(false);

    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.counter(observe::JOBS_DISPATCHED, &labels), 3);
    assert_eq!(recorded.counter(observe::JOBS_SUCCEEDED, &labels), 3);
    assert_eq!(recorded.samples(observe::JOB_RUN_SECONDS, &labels).len(), 3);
    assert_eq!(
        recorded.samples(observe::JOB_WAIT_SECONDS, &labels).len(),
        3
    );
    let labels = [("event", "doomed"), ("driver", "sync")];
    assert_eq!(recorded.counter(observe::JOBS_DISPATCHED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_FAILED, &labels), 2);
    assert_eq!(recorded.counter(observe::JOBS_RETRIED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_DEAD_LETTERED, &labels), 1);
    assert_eq!(recorded.counter(observe::JOBS_SUCCEEDED, &labels), 0);
}

// --- spans ---------------------------------------------------------------------------

/// One span as a subscriber saw it.
#[derive(Debug, Clone)]
struct Captured {
    name: &'static str,
    fields: BTreeMap<String, String>,
    /// The name of its parent span, if any.
    parent: Option<&'static str>,
    /// Indexes (into the capture) of the spans it follows from.
    follows: Vec<usize>,
}

/// The spans one test captured, and the span names it leaves out.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>, &'static [&'static str]);

thread_local! {
    /// The capture of the test running on this thread, if it captures.
    static CAPTURING: std::cell::RefCell<Option<Capture>> = const { std::cell::RefCell::new(None) };
}

/// Span id -> (its capture, its index there). Ids are unique among open
/// spans, and every span is recorded while open.
static OPEN: LazyLock<Mutex<HashMap<u64, (Capture, usize)>>> = LazyLock::new(Default::default);

/// One process-wide subscriber that records spans only on the threads of
/// tests that capture. (Thread-local subscribers would be simpler, but
/// `tracing` caches a callsite's interest across threads, so a test without
/// a subscriber could see spans enabled because another thread has one.)
struct CaptureLayer;

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for CaptureLayer {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Asked again at each span: the answer depends on the thread.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.is_span()
            && CAPTURING.with(|c| {
                c.borrow()
                    .as_ref()
                    .is_some_and(|capture| !capture.1.contains(&metadata.name()))
            })
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(capture) = CAPTURING.with(|c| c.borrow().clone()) else {
            return;
        };
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|parent| parent.name());
        let mut spans = capture.0.lock().unwrap();
        spans.push(Captured {
            name: attrs.metadata().name(),
            fields,
            parent,
            follows: Vec::new(),
        });
        let at = spans.len() - 1;
        drop(spans);
        OPEN.lock().unwrap().insert(id.into_u64(), (capture, at));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let (capture, at) = OPEN.lock().unwrap()[&id.into_u64()].clone();
        values.record(&mut Fields(&mut capture.0.lock().unwrap()[at].fields));
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, _: Context<'_, S>) {
        let open = OPEN.lock().unwrap();
        let (capture, at) = open[&span.into_u64()].clone();
        let (_, cause) = open[&follows.into_u64()];
        capture.0.lock().unwrap()[at].follows.push(cause);
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        OPEN.lock().unwrap().remove(&id.into_u64());
    }
}

impl Capture {
    /// Captures the spans created on this thread (the test's runtime)
    /// until the test ends.
    fn start() -> Capture {
        Capture::start_without(&[])
    }

    /// Like `start`, leaving the spans named in `left_out` disabled.
    fn start_without(left_out: &'static [&'static str]) -> Capture {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(CaptureLayer),
            )
            .unwrap();
        });
        let capture = Capture(Arc::default(), left_out);
        CAPTURING.with(|c| *c.borrow_mut() = Some(capture.clone()));
        capture
    }

    fn spans(&self) -> Vec<Captured> {
        self.0.lock().unwrap().clone()
    }

    /// The spans named `name` whose `event` field is `event`, with their index.
    fn named(&self, name: &str, event: &str) -> Vec<(usize, Captured)> {
        self.spans()
            .into_iter()
            .enumerate()
            .filter(|(_, s)| {
                s.name == name && s.fields.get("event").map(String::as_str) == Some(event)
            })
            .collect()
    }
}

fn field<'a>(span: &'a Captured, name: &str) -> &'a str {
    span.fields
        .get(name)
        .unwrap_or_else(|| panic!("span {} has no `{name}`: {:?}", span.name, span.fields))
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.chars().all(|c| c.is_ascii_hexdigit())
}

#[tokio::test]
async fn the_job_span_carries_its_fields_and_the_dispatch_trace_through_the_queue() {
    let capture = Capture::start();
    let queue = sqlite();
    let run = run_id("span");

    dispatch_to(&*queue, Greeted { run: run.clone() })
        .await
        .unwrap();
    drain(&queue).await;

    let dispatches = capture.named("dispatch", "greeted");
    assert_eq!(dispatches.len(), 1, "{dispatches:?}");
    let dispatch = &dispatches[0].1;
    assert_eq!(field(dispatch, "driver"), "sqlite");
    assert_eq!(field(dispatch, "jobs"), "1");
    assert_eq!(field(dispatch, "outcome"), "ok");
    let trace_id = field(dispatch, "trace_id");
    let span_id = field(dispatch, "span_id");
    assert!(is_hex(trace_id, 32), "{trace_id}");
    assert!(is_hex(span_id, 16), "{span_id}");

    let jobs = capture.named("job", "greeted");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0].1;
    assert_eq!(field(job, "listener"), "greet");
    assert_eq!(field(job, "queue"), "default");
    assert_eq!(field(job, "driver"), "sqlite");
    assert_eq!(field(job, "attempt"), "1");
    assert_eq!(field(job, "outcome"), "succeeded");
    assert!(!field(job, "job_id").is_empty());
    assert!(field(job, "duration_ms").parse::<f64>().unwrap() >= 0.0);
    // The envelope went through SQLite as JSON and came back with the
    // dispatcher's ids: a link, not a parent.
    assert_eq!(field(job, "trace_id"), trace_id);
    assert_eq!(field(job, "parent_span_id"), span_id);
    assert_eq!(job.parent, None);
    // The listener ran with the trace id in its context.
    assert_eq!(seen_traces(&run), vec![Some(trace_id.to_string())]);
}

#[tokio::test]
async fn each_attempt_has_its_span_linked_to_the_same_dispatch() {
    let capture = Capture::start();
    let queue = sqlite();

    dispatch_to(
        &*queue,
        Flaky {
            run: run_id("attempts"),
        },
    )
    .await
    .unwrap();
    drain(&queue).await;

    let dispatch = &capture.named("dispatch", "flaky")[0].1;
    let jobs = capture.named("job", "flaky");
    let attempts: Vec<(&str, &str)> = jobs
        .iter()
        .map(|(_, job)| (field(job, "attempt"), field(job, "outcome")))
        .collect();
    assert_eq!(attempts, [("1", "retried"), ("2", "succeeded")]);
    assert_eq!(field(&jobs[0].1, "error"), "upstream busy");
    for (_, job) in &jobs {
        assert_eq!(field(job, "trace_id"), field(dispatch, "trace_id"));
        assert_eq!(field(job, "parent_span_id"), field(dispatch, "span_id"));
        assert_eq!(field(job, "job_id"), field(&jobs[0].1, "job_id"));
    }
}

#[tokio::test]
async fn a_dead_lettered_envelope_keeps_the_trace_of_its_dispatch() {
    let capture = Capture::start();
    let queue = sqlite();

    dispatch_to(
        &*queue,
        Doomed {
            run: run_id("envelope"),
        },
    )
    .await
    .unwrap();
    drain(&queue).await;

    let dispatch = &capture.named("dispatch", "doomed")[0].1;
    let jobs = capture.named("job", "doomed");
    assert_eq!(field(&jobs[1].1, "outcome"), "dead_lettered");
    let failed = queue.failed_jobs(10).await.unwrap();
    let envelope = JobEnvelope::decode(&failed[0].body).unwrap();
    assert_eq!(
        envelope.trace_id.as_deref(),
        Some(field(dispatch, "trace_id"))
    );
    assert_eq!(
        envelope.parent_span_id.as_deref(),
        Some(field(dispatch, "span_id"))
    );
    // The trace id travels in its own field, not in the context map too.
    assert!(!envelope.context.contains_key(TRACE_ID.name()));
}

#[tokio::test]
async fn a_sync_job_follows_from_its_dispatch_span() {
    let capture = Capture::start();
    let run = run_id("sync-span");

    dispatch_to(&SyncDriver, Greeted { run: run.clone() })
        .await
        .unwrap();
    SyncDriver.drain().await;

    let (dispatch_at, dispatch) = capture.named("dispatch", "greeted").remove(0);
    assert_eq!(field(&dispatch, "driver"), "sync");
    let (_, job) = capture.named("job", "greeted").remove(0);
    assert_eq!(job.parent, None, "a job is not the child of its dispatch");
    assert_eq!(job.follows, vec![dispatch_at]);
    assert_eq!(field(&job, "driver"), "sync");
    assert_eq!(field(&job, "outcome"), "succeeded");
    assert_eq!(field(&job, "trace_id"), field(&dispatch, "trace_id"));
    assert_eq!(field(&job, "parent_span_id"), field(&dispatch, "span_id"));
    assert_eq!(
        seen_traces(&run),
        vec![Some(field(&dispatch, "trace_id").to_string())]
    );
}

#[tokio::test]
async fn the_sync_jobs_of_one_dispatch_share_a_trace_even_without_its_span() {
    let capture = Capture::start_without(&["dispatch"]);
    let run = run_id("pair");

    dispatch_to(&SyncDriver, Paired { run: run.clone() })
        .await
        .unwrap();
    SyncDriver.drain().await;

    assert!(capture.named("dispatch", "paired").is_empty());
    let jobs = capture.named("job", "paired");
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let trace_id = field(&jobs[0].1, "trace_id");
    assert!(is_hex(trace_id, 32), "{trace_id}");
    for (_, job) in &jobs {
        assert_eq!(field(job, "trace_id"), trace_id);
        assert!(!job.fields.contains_key("parent_span_id"), "{job:?}");
        assert!(job.follows.is_empty());
    }
    let seen = seen_traces(&run);
    assert_eq!(seen, vec![Some(trace_id.to_string()); 2]);
}

// --- trace context without a subscriber ----------------------------------------------

#[tokio::test]
async fn a_trace_id_set_by_the_application_reaches_the_listener() {
    let queue = sqlite();
    let run = run_id("inherit");

    context::scope(async {
        context::set(&TRACE_ID, "request-7".to_string()).unwrap();
        dispatch_to(&*queue, Greeted { run: run.clone() })
            .await
            .unwrap();
    })
    .await;
    drain(&queue).await;

    assert_eq!(seen_traces(&run), vec![Some("request-7".to_string())]);
}

#[tokio::test]
async fn without_a_subscriber_jobs_still_carry_a_trace_and_their_dispatches_keep_it() {
    let queue = sqlite();
    let run = run_id("chain");
    CHAIN_TO.lock().unwrap().insert(run.clone(), queue.clone());

    dispatch_to(&*queue, Chained { run: run.clone() })
        .await
        .unwrap();
    drain(&queue).await;

    let first = seen_traces(&run);
    let next = seen_traces(&format!("{run}-next"));
    assert_eq!(first.len(), 1);
    let trace_id = first[0]
        .clone()
        .expect("a trace id made up at the dispatch");
    assert!(is_hex(&trace_id, 32), "{trace_id}");
    // The relay's own dispatch, from inside its job, stayed in the trace.
    assert_eq!(next, vec![Some(trace_id)]);

    // No span was recorded, so no job names a parent span.
    dispatch_to(
        &*queue,
        Doomed {
            run: run_id("no-span"),
        },
    )
    .await
    .unwrap();
    drain(&queue).await;
    let failed = queue.failed_jobs(10).await.unwrap();
    let envelope = JobEnvelope::decode(&failed[0].body).unwrap();
    assert!(is_hex(envelope.trace_id.as_deref().unwrap(), 32));
    assert_eq!(envelope.parent_span_id, None);
}
