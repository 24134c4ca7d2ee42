//! What a worker trusts of a job: the envelope, which the signature covers,
//! not the copies the queue keeps beside it. Rows here are written or
//! altered with plain SQL, as another program with write access to the
//! queue's file would do, and a real worker runs them.

use fastevent::driver::durable::{QueueAdmin, Selection};
use fastevent::driver::sqlite::{SqliteDriver, SqliteOptions, Synchronous};
use fastevent::job::{JobDefaults, JobEnvelope, JobSigner};
use fastevent::worker::{BackoffDefaults, StopReason, Worker, WorkerOptions, WorkerReport};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEY: &str = "signed-jobs-test-key-0123456789";

/// run -> how many times a listener of this file ran for it.
static RUNS: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(Default::default);

fn runs(run: &str) -> u32 {
    RUNS.lock().unwrap().get(run).copied().unwrap_or(0)
}

fn ran(run: &str) {
    *RUNS.lock().unwrap().entry(run.to_string()).or_default() += 1;
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Noted {
    run: String,
    /// Filler, to make a job as large as a test needs.
    #[serde(default)]
    pad: String,
}

#[derive(Default)]
struct Note;

#[listener(on = Noted)]
impl Note {
    async fn handle(&self, event: &Noted) {
        ran(&event.run);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Refused {
    run: String,
}

#[derive(Default)]
struct AlwaysRefuse;

#[listener(on = Refused, tries = 2, backoff = "10ms")]
impl AlwaysRefuse {
    async fn handle(&self, event: &Refused) -> Result<(), String> {
        ran(&event.run);
        Err(format!("run {} is refused on purpose", event.run))
    }
}

/// A queue file of its own, its driver, and the signer the workers use.
struct Queue {
    path: PathBuf,
    driver: Arc<SqliteDriver>,
    signer: Option<JobSigner>,
}

impl Queue {
    fn open(test: &str, signed: bool) -> Self {
        Self::with_defaults(test, signed, JobDefaults::default())
    }

    fn with_defaults(test: &str, signed: bool, defaults: JobDefaults) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fastevent-signed-jobs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{test}.db"));
        let signer = signed.then(|| JobSigner::new(KEY).unwrap());
        let options = SqliteOptions {
            path: path.clone(),
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(10),
        };
        let driver = Arc::new(SqliteDriver::new(options, defaults, signer.clone()));
        Self {
            path,
            driver,
            signer,
        }
    }

    /// A connection of "another program" to the same file; the schema is
    /// there once the driver has written anything (reads create nothing):
    /// forget a failed job that does not exist.
    async fn sql(&self) -> rusqlite::Connection {
        self.driver.forget_failed(Selection::One(-1)).await.unwrap();
        let connection = rusqlite::Connection::open(&self.path).unwrap();
        connection.busy_timeout(Duration::from_secs(10)).unwrap();
        connection
    }

    /// Runs one worker on `queues` until they are empty.
    async fn drain(&self, queues: &[&str]) -> WorkerReport {
        let options = WorkerOptions {
            queues: queues.iter().map(|q| q.to_string()).collect(),
            concurrency: 4,
            poll_interval: Duration::from_millis(5),
            heartbeat_interval: Duration::from_millis(100),
            lease: Duration::from_secs(2),
            backoff: BackoffDefaults {
                first: Duration::from_millis(10),
                max: Duration::from_millis(50),
            },
            stop_when_empty: true,
            max_time: Some(Duration::from_secs(60)),
            ..WorkerOptions::default()
        };
        let worker = Worker::new(self.driver.clone(), options, self.signer.clone());
        let report = worker.run(std::future::pending()).await;
        assert_eq!(report.stopped, StopReason::Empty, "{report:?}");
        report
    }

    /// The errors of the failed store, by job id.
    async fn failed(&self) -> HashMap<String, String> {
        self.driver
            .failed_jobs(100)
            .await
            .unwrap()
            .into_iter()
            .map(|job| (job.job_id, job.error))
            .collect()
    }

    /// The envelopes in the queue, as stored.
    async fn envelopes(&self) -> Vec<JobEnvelope> {
        let sql = self.sql().await;
        let mut select = sql.prepare("SELECT body FROM fastevent_jobs").unwrap();
        let bodies = select
            .query_map([], |row| row.get::<_, Vec<u8>>(0))
            .unwrap();
        bodies
            .map(|body| JobEnvelope::decode(&body.unwrap()).unwrap())
            .collect()
    }

    /// Inserts a job as another program would: `body` with these columns.
    fn insert(&self, sql: &rusqlite::Connection, columns: [&str; 4], body: &[u8]) {
        let [job_id, queue, event, listener] = columns;
        let signature = self.signer.as_ref().map(|s| s.sign(body));
        sql.execute(
            "INSERT INTO fastevent_jobs
                (job_id, queue, event, listener, body, signature, max_attempts, created_at, available_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 3, 0, 0)",
            rusqlite::params![job_id, queue, event, listener, body, signature],
        )
        .unwrap();
    }
}

/// A `Noted` envelope as a dispatcher writes it, with `extra` fields.
fn noted_envelope(id: &str, run: &str, pad: &str, extra: &str) -> String {
    format!(
        r#"{{"fastevent_job":1,"id":"{id}","event":"noted","event_version":1,"listener":"note","queue":"default","payload":{{"run":"{run}","pad":"{pad}"}},"max_attempts":3,"created_at_ms":1{extra}}}"#
    )
}

/// The jobs' clock: milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    since_epoch.as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raised_max_attempts_column_gives_a_signed_job_no_extra_attempt() {
    let queue = Queue::open("max-attempts", true);
    let run = "max-attempts";
    fastevent::dispatch_to(queue.driver.as_ref(), Refused { run: run.into() })
        .await
        .unwrap();
    let raised = queue
        .sql()
        .await
        .execute("UPDATE fastevent_jobs SET max_attempts = 10", [])
        .unwrap();
    assert_eq!(raised, 1);

    let report = queue.drain(&["default"]).await;
    assert_eq!(runs(run), 2, "the envelope allows 2 attempts: {report:?}");
    assert_eq!((report.retried, report.failed), (1, 1), "{report:?}");
    let failed = queue.failed().await;
    let error = failed.values().next().unwrap();
    assert!(error.starts_with("attempt 2 of 2:"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_columns_disagree_with_its_envelope_is_failed_naming_the_field() {
    let queue = Queue::open("mismatch", true);
    let sql = queue.sql().await;
    let run = "mismatch";
    let cases = [
        (
            ["m-listener", "default", "noted", "other_listener"],
            "listener",
        ),
        (["m-event", "default", "other_event", "note"], "event"),
        (["not-m-id", "default", "noted", "note"], "job id"),
        (["m-queue", "high", "noted", "note"], "queue"),
    ];
    for (columns, _) in &cases {
        // Each envelope's id is its case's name, whatever the column says.
        let id = columns[0].trim_start_matches("not-");
        queue.insert(&sql, *columns, noted_envelope(id, run, "", "").as_bytes());
    }
    queue.insert(
        &sql,
        ["m-agrees", "default", "noted", "note"],
        noted_envelope("m-agrees", run, "", "").as_bytes(),
    );

    let report = queue.drain(&["high", "default"]).await;
    assert_eq!((report.succeeded, report.failed), (1, 4), "{report:?}");
    assert_eq!(runs(run), 1, "only the job that agrees runs");
    let failed = queue.failed().await;
    for ([column_id, _, _, _], field) in cases {
        let error = &failed[column_id];
        assert!(
            error.contains(&format!("the {field} stored beside the job")),
            "{column_id}: {error}"
        );
    }
    assert!(failed["m-listener"].contains(r#""other_listener""#));
    assert!(failed["m-listener"].contains(r#""note""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_job_past_its_expiry_is_failed_and_one_within_it_runs() {
    let queue = Queue::open("expiry", true);
    let sql = queue.sql().await;
    let (expired_run, fresh_run) = ("expiry-past", "expiry-future");
    let past = now_ms() - 60_000;
    let future = now_ms() + 3_600_000;
    let expired = noted_envelope(
        "e-past",
        expired_run,
        "",
        &format!(r#","expires_at_ms":{past}"#),
    );
    let fresh = noted_envelope(
        "e-future",
        fresh_run,
        "",
        &format!(r#","expires_at_ms":{future}"#),
    );
    queue.insert(
        &sql,
        ["e-past", "default", "noted", "note"],
        expired.as_bytes(),
    );
    queue.insert(
        &sql,
        ["e-future", "default", "noted", "note"],
        fresh.as_bytes(),
    );

    let report = queue.drain(&["default"]).await;
    assert_eq!((runs(expired_run), runs(fresh_run)), (0, 1), "{report:?}");
    let failed = queue.failed().await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let error = &failed["e-past"];
    assert!(error.contains("signed job expired at"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_over_the_size_limit_written_past_dispatch_is_failed_with_its_size() {
    let queue = Queue::open("oversize", false);
    let sql = queue.sql().await;
    let run = "oversize";
    let limit = JobDefaults::default().max_payload_bytes;
    let large = noted_envelope("big", run, &"x".repeat(limit), "");
    let small = noted_envelope("small", run, "x", "");
    queue.insert(&sql, ["big", "default", "noted", "note"], large.as_bytes());
    queue.insert(
        &sql,
        ["small", "default", "noted", "note"],
        small.as_bytes(),
    );

    let report = queue.drain(&["default"]).await;
    assert_eq!(runs(run), 1, "only the small job runs: {report:?}");
    let failed = queue.failed().await;
    let error = &failed["big"];
    assert!(
        error.contains(&format!(
            "{} bytes, over the limit of {limit} bytes",
            large.len()
        )),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_dispatches_carry_an_expiry_and_unsigned_ones_none() {
    let ttl = Duration::from_secs(2 * 24 * 3600);
    let defaults = JobDefaults {
        signed_job_ttl: ttl,
        ..JobDefaults::default()
    };
    let signed = Queue::with_defaults("ttl-signed", true, defaults);
    let unsigned = Queue::with_defaults("ttl-unsigned", false, defaults);
    for queue in [&signed, &unsigned] {
        let event = Noted {
            run: "ttl".into(),
            pad: String::new(),
        };
        fastevent::dispatch_to(queue.driver.as_ref(), event)
            .await
            .unwrap();
    }
    let envelope = &signed.envelopes().await[0];
    assert_eq!(
        envelope.expires_at_ms,
        Some(envelope.created_at_ms + ttl.as_millis() as u64)
    );
    assert_eq!(unsigned.envelopes().await[0].expires_at_ms, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_dispatch_not_run_within_its_ttl_is_failed() {
    let defaults = JobDefaults {
        signed_job_ttl: Duration::ZERO,
        ..JobDefaults::default()
    };
    let queue = Queue::with_defaults("ttl-zero", true, defaults);
    let run = "ttl-zero";
    let event = Noted {
        run: run.into(),
        pad: String::new(),
    };
    fastevent::dispatch_to(queue.driver.as_ref(), event)
        .await
        .unwrap();
    // Expired once the clock has moved past the dispatch's millisecond.
    let dispatched_at = queue.envelopes().await[0].created_at_ms;
    while now_ms() <= dispatched_at {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let report = queue.drain(&["default"]).await;
    assert_eq!((runs(run), report.failed), (0, 1), "{report:?}");
    let failed = queue.failed().await;
    let error = failed.values().next().unwrap();
    assert!(error.contains("signed job expired at"), "{error}");
}
