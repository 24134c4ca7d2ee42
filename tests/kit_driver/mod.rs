//! `FileQueue`: a durable driver written only against fastevent's public
//! driver kit, to prove the kit. It is a test driver, so it is built to be
//! obviously right rather than fast: the whole queue is one JSON file in
//! one directory, read and rewritten under an OS file lock by every
//! operation. That makes every operation atomic, and every process that
//! opens the directory (the dispatcher, each worker process of `work`, a
//! crash test's child) sees the same queue.
//!
//! The semantics are the SQLite driver's: a claim leases a job and counts
//! an attempt; a job whose lease lapsed may be claimed again, under a new
//! claim number, and the older claim's settles and renewals then change
//! nothing (`Settled::LeaseLost`).

#![allow(dead_code)]

mod file;
mod state;

use fastevent::Dispatched;
use fastevent::driver::durable::{
    ClaimedJob, FailedJob, QueueAdmin, QueueDepth, QueueError, Selection, Settled, WorkQueue,
};
use fastevent::driver::{BoxFuture, Driver, DriverError, JobBatch, JobEncoder};
use fastevent::job::EncodedJob;
use file::QueueFile;
use state::{Outcome, State};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use state::FileReceipt;

const NAME: &str = "file";

/// The kit's traits return boxed futures.
type Boxed<'a, T> = BoxFuture<'a, T>;

/// A durable queue in one directory.
pub struct FileQueue {
    file: QueueFile,
    encoder: JobEncoder,
}

impl FileQueue {
    /// The queue in `dir`, created on first write; jobs are encoded (job
    /// defaults, signing) by `encoder`.
    pub fn open(dir: impl Into<PathBuf>, encoder: JobEncoder) -> Self {
        Self {
            file: QueueFile::new(dir.into()),
            encoder,
        }
    }

    /// Puts `body` on the `default` queue as it is, bypassing dispatch: how
    /// the conformance suite stores jobs no dispatch would make.
    pub fn push_raw(&self, body: &[u8], signature: Option<&str>) -> Result<(), String> {
        let job = EncodedJob {
            id: "raw".into(),
            queue: "default".into(),
            event: "?",
            listener: "?",
            max_attempts: 3,
            body: body.to_vec(),
            signature: signature.map(Into::into),
        };
        self.file.update(|s| s.push(&[job], now_ms()))
    }

    /// Runs `change` on the state off the async runtime: the lock blocks.
    fn update<T, F>(&self, change: F) -> Boxed<'_, Result<T, QueueError>>
    where
        T: Send + 'static,
        F: FnOnce(&mut State) -> T + Send + 'static,
    {
        let file = self.file.clone();
        blocking(move || file.update(change))
    }

    fn read<T, F>(&self, look: F) -> Boxed<'_, Result<T, QueueError>>
    where
        T: Send + 'static,
        F: FnOnce(&State) -> T + Send + 'static,
    {
        let file = self.file.clone();
        blocking(move || file.read(look))
    }

    fn settle<'a>(
        &'a self,
        job: &ClaimedJob<FileReceipt>,
        worker: &str,
        outcome: impl FnOnce(u64) -> Outcome + Send + 'static,
    ) -> Boxed<'a, Result<Settled, QueueError>> {
        let (receipt, worker) = (job.receipt, worker.to_string());
        self.update(move |s| s.settle(receipt, &worker, outcome(now_ms())))
    }
}

fn blocking<T, F>(work: F) -> Boxed<'static, Result<T, QueueError>>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, String> + Send + 'static,
{
    Box::pin(async move {
        let done = tokio::task::spawn_blocking(work).await;
        let result = done.unwrap_or_else(|e| Err(format!("the file operation panicked: {e}")));
        result.map_err(|message| QueueError {
            driver: NAME,
            message,
        })
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64
}

fn after(delay: Duration) -> u64 {
    now_ms() + delay.as_millis() as u64
}

impl Driver for FileQueue {
    fn name(&self) -> &'static str {
        NAME
    }

    /// All the jobs of a dispatch in one write: all or none.
    fn enqueue(&self, batch: JobBatch) -> Boxed<'_, Result<Dispatched, DriverError>> {
        Box::pin(async move {
            let event = batch.event_name();
            let jobs = self.encoder.encode(&batch, NAME)?;
            let count = jobs.len();
            // Counted in `fastevent::stats()` and the metrics once stored.
            let tally = self.encoder.tally(&jobs);
            let stored = self.update(move |s| s.push(&jobs, now_ms())).await;
            stored.map_err(|e| DriverError {
                driver: NAME,
                event,
                message: e.message,
                source: None,
            })?;
            tally.record(NAME);
            Ok(Dispatched { jobs: count })
        })
    }
}

impl WorkQueue for FileQueue {
    type Receipt = FileReceipt;

    fn name(&self) -> &'static str {
        NAME
    }

    fn claim<'a>(
        &'a self,
        queues: &'a [String],
        limit: usize,
        worker: &'a str,
        lease: Duration,
    ) -> Boxed<'a, Result<Vec<ClaimedJob<FileReceipt>>, QueueError>> {
        let (queues, worker) = (queues.to_vec(), worker.to_string());
        self.update(move |s| s.claim(&queues, limit, &worker, now_ms(), after(lease)))
    }

    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob<FileReceipt>,
        worker: &'a str,
    ) -> Boxed<'a, Result<Settled, QueueError>> {
        self.settle(job, worker, |_| Outcome::Complete)
    }

    fn retry<'a>(
        &'a self,
        job: &'a ClaimedJob<FileReceipt>,
        worker: &'a str,
        delay: Duration,
        error: &'a str,
    ) -> Boxed<'a, Result<Settled, QueueError>> {
        let error = error.to_string();
        self.settle(job, worker, move |now| Outcome::Retry {
            at: now + delay.as_millis() as u64,
            error,
        })
    }

    fn fail<'a>(
        &'a self,
        job: &'a ClaimedJob<FileReceipt>,
        worker: &'a str,
        error: &'a str,
    ) -> Boxed<'a, Result<Settled, QueueError>> {
        let error = error.to_string();
        self.settle(job, worker, move |now| Outcome::Fail { at: now, error })
    }

    fn release<'a>(
        &'a self,
        job: &'a ClaimedJob<FileReceipt>,
        worker: &'a str,
    ) -> Boxed<'a, Result<Settled, QueueError>> {
        self.settle(job, worker, |now| Outcome::Release { at: now })
    }

    fn extend_leases<'a>(
        &'a self,
        worker: &'a str,
        claims: &'a [FileReceipt],
        lease: Duration,
    ) -> Boxed<'a, Result<Vec<FileReceipt>, QueueError>> {
        let (worker, claims) = (worker.to_string(), claims.to_vec());
        self.update(move |s| s.extend(&claims, &worker, after(lease)))
    }
}

impl QueueAdmin for FileQueue {
    fn depth(&self) -> Boxed<'_, Result<Vec<QueueDepth>, QueueError>> {
        self.read(|s| s.depth(now_ms()))
    }

    fn failed_jobs(&self, limit: usize) -> Boxed<'_, Result<Vec<FailedJob>, QueueError>> {
        self.read(move |s| s.failed_jobs(limit))
    }

    fn failed_job(&self, id: i64) -> Boxed<'_, Result<Option<FailedJob>, QueueError>> {
        self.read(move |s| s.failed_job(id))
    }

    fn retry_failed(&self, which: Selection) -> Boxed<'_, Result<u64, QueueError>> {
        self.update(move |s| s.retry_failed(which, now_ms()))
    }

    fn forget_failed(&self, which: Selection) -> Boxed<'_, Result<u64, QueueError>> {
        self.update(move |s| s.forget_failed(which))
    }

    fn failed_count(&self) -> Boxed<'_, Result<u64, QueueError>> {
        self.read(State::failed_count)
    }
}
