//! The whole queue as one value: what `queue.json` holds, and every
//! operation on it. Nothing here touches a file or a clock, so each
//! operation is a plain function of the state, the time and its arguments.

use fastevent::driver::durable::{
    ClaimedJob, FailedJob, QueueDepth, Selection, Settled, StoredJob,
};
use fastevent::job::EncodedJob;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a settle or a renewal names: the job, and which claim of it. Job
/// ids are never reused and every claim takes a new number, so a receipt
/// from a claim that lost its job (its lease lapsed and another worker
/// claimed it) matches nothing any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileReceipt {
    pub job: u64,
    pub claim: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// The last id given to a job, a claim, a failed job.
    last_job: u64,
    last_claim: u64,
    last_failed: u64,
    jobs: Vec<Job>,
    failed: Vec<Failed>,
}

/// A job on its queue. `available_at` is when it may be claimed: now or
/// earlier when ready, the end of its lease while claimed, the end of its
/// backoff after a retry.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    id: u64,
    job_id: String,
    queue: String,
    event: String,
    listener: String,
    /// The envelope in hex: any bytes, in a JSON string.
    body: String,
    signature: Option<String>,
    attempts: u32,
    max_attempts: u32,
    available_at: u64,
    /// The latest claim's number (0: never claimed).
    claim: u64,
    leased_by: Option<String>,
    last_error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Failed {
    id: u64,
    job_id: String,
    queue: String,
    event: String,
    listener: String,
    body: String,
    signature: Option<String>,
    attempts: u32,
    max_attempts: u32,
    error: String,
    failed_at: u64,
}

/// How a settle leaves the job: removed, back on the queue at a time, or
/// in the failed store with an error.
pub enum Outcome {
    Complete,
    Retry { at: u64, error: String },
    Release { at: u64 },
    Fail { at: u64, error: String },
}

impl State {
    /// Adds the jobs of one dispatch (or one raw job), ready at `now`.
    pub fn push(&mut self, jobs: &[EncodedJob], now: u64) {
        for job in jobs {
            self.push_raw(
                (&job.id, &job.queue, job.event, job.listener),
                &job.body,
                job.signature.as_deref(),
                job.max_attempts,
                now,
            );
        }
    }

    /// Adds one job as given: id, queue, event and listener, then the body.
    pub fn push_raw(
        &mut self,
        (job_id, queue, event, listener): (&str, &str, &str, &str),
        body: &[u8],
        signature: Option<&str>,
        max_attempts: u32,
        now: u64,
    ) {
        self.last_job += 1;
        self.jobs.push(Job {
            id: self.last_job,
            job_id: job_id.into(),
            queue: queue.into(),
            event: event.into(),
            listener: listener.into(),
            body: hex(body),
            signature: signature.map(Into::into),
            attempts: 0,
            max_attempts,
            available_at: now,
            claim: 0,
            leased_by: None,
            last_error: None,
        });
    }

    /// Claims up to `limit` ready jobs of `queues`, earlier queues first,
    /// oldest first. A job whose stored data cannot be used is moved to the
    /// failed store with the reason instead.
    pub fn claim(
        &mut self,
        queues: &[String],
        limit: usize,
        worker: &str,
        now: u64,
        lease_until: u64,
    ) -> Vec<ClaimedJob<FileReceipt>> {
        let mut claimed = Vec::new();
        for queue in queues {
            for id in self.ready(queue, now, limit - claimed.len()) {
                let index = self.index(id).expect("a ready job exists");
                match usable(&self.jobs[index]) {
                    Ok(body) => {
                        self.last_claim += 1;
                        claimed.push(self.lease(index, body, worker, lease_until));
                    }
                    Err(reason) => self.move_to_failed(index, &reason, now),
                }
            }
        }
        claimed
    }

    /// The ids of up to `limit` jobs of `queue` ready at `now`, oldest first.
    fn ready(&self, queue: &str, now: u64, limit: usize) -> Vec<u64> {
        let mut ready: Vec<&Job> = self
            .jobs
            .iter()
            .filter(|job| job.queue == queue && job.available_at <= now)
            .collect();
        ready.sort_by_key(|job| (job.available_at, job.id));
        ready.iter().take(limit).map(|job| job.id).collect()
    }

    /// Leases the job at `index` to `worker` under the newest claim number,
    /// counting an attempt.
    fn lease(
        &mut self,
        index: usize,
        body: Vec<u8>,
        worker: &str,
        until: u64,
    ) -> ClaimedJob<FileReceipt> {
        let job = &mut self.jobs[index];
        job.attempts += 1;
        job.claim = self.last_claim;
        job.leased_by = Some(worker.into());
        job.available_at = until;
        let receipt = FileReceipt {
            job: job.id,
            claim: job.claim,
        };
        let stored = StoredJob {
            job_id: job.job_id.clone(),
            queue: job.queue.clone(),
            event: job.event.clone(),
            listener: job.listener.clone(),
            body,
            signature: job.signature.clone(),
            attempt: job.attempts,
            max_attempts: job.max_attempts,
        };
        ClaimedJob::new(receipt, stored)
    }

    /// Where the job `receipt` names is, if that claim still owns it.
    fn owned(&self, receipt: FileReceipt, worker: &str) -> Option<usize> {
        let index = self.index(receipt.job)?;
        let job = &self.jobs[index];
        (job.claim == receipt.claim && job.leased_by.as_deref() == Some(worker)).then_some(index)
    }

    fn index(&self, id: u64) -> Option<usize> {
        self.jobs.iter().position(|job| job.id == id)
    }

    /// Settles one claim, if it still owns its job.
    pub fn settle(&mut self, receipt: FileReceipt, worker: &str, outcome: Outcome) -> Settled {
        let Some(index) = self.owned(receipt, worker) else {
            return Settled::LeaseLost;
        };
        match outcome {
            Outcome::Complete => {
                self.jobs.remove(index);
            }
            Outcome::Retry { at, error } => self.requeue(index, at, &error),
            Outcome::Release { at } => {
                // Interrupted by a shutdown, not failed: the attempt is given back.
                self.jobs[index].attempts = self.jobs[index].attempts.saturating_sub(1);
                self.requeue(index, at, "interrupted: its worker shut down");
            }
            Outcome::Fail { at, error } => self.move_to_failed(index, &error, at),
        }
        Settled::Done
    }

    fn requeue(&mut self, index: usize, at: u64, error: &str) {
        let job = &mut self.jobs[index];
        job.available_at = at;
        job.leased_by = None;
        job.last_error = Some(error.into());
    }

    /// Renews the leases of the claims that still own their job; returns
    /// the others.
    pub fn extend(&mut self, claims: &[FileReceipt], worker: &str, until: u64) -> Vec<FileReceipt> {
        let mut lost = Vec::new();
        for &receipt in claims {
            match self.owned(receipt, worker) {
                Some(index) => self.jobs[index].available_at = until,
                None => lost.push(receipt),
            }
        }
        lost
    }

    /// Moves the job at `index` to the failed store, byte for byte.
    fn move_to_failed(&mut self, index: usize, error: &str, now: u64) {
        let job = self.jobs.remove(index);
        self.last_failed += 1;
        self.failed.push(Failed {
            id: self.last_failed,
            // A body that is not hex is kept as the text it is.
            body: hex(&bytes_of(&job.body)),
            job_id: job.job_id,
            queue: job.queue,
            event: job.event,
            listener: job.listener,
            signature: job.signature,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            error: error.into(),
            failed_at: now,
        });
    }

    /// Jobs per queue: ready (a lapsed lease included), running, delayed.
    pub fn depth(&self, now: u64) -> Vec<QueueDepth> {
        let mut depths: BTreeMap<&str, QueueDepth> = BTreeMap::new();
        for job in &self.jobs {
            let depth = depths.entry(&job.queue).or_insert_with(|| QueueDepth {
                queue: job.queue.clone(),
                ..QueueDepth::default()
            });
            match (job.available_at <= now, job.leased_by.is_some()) {
                (true, _) => depth.ready += 1,
                (false, true) => depth.running += 1,
                (false, false) => depth.delayed += 1,
            }
        }
        depths.into_values().collect()
    }

    /// The newest failed jobs first, at most `limit`.
    pub fn failed_jobs(&self, limit: usize) -> Vec<FailedJob> {
        self.failed
            .iter()
            .rev()
            .take(limit)
            .map(failed_job)
            .collect()
    }

    pub fn failed_job(&self, id: i64) -> Option<FailedJob> {
        self.failed
            .iter()
            .find(|f| f.id as i64 == id)
            .map(failed_job)
    }

    pub fn failed_count(&self) -> u64 {
        self.failed.len() as u64
    }

    /// Puts failed jobs back on their queue, under new ids, with fresh
    /// attempts; returns how many.
    pub fn retry_failed(&mut self, which: Selection, now: u64) -> u64 {
        let retried = self.take_failed(which);
        for failed in &retried {
            let names = (
                &*failed.job_id,
                &*failed.queue,
                &*failed.event,
                &*failed.listener,
            );
            let body = bytes_of(&failed.body);
            let signature = failed.signature.as_deref();
            self.push_raw(names, &body, signature, failed.max_attempts, now);
            self.jobs.last_mut().expect("just pushed").last_error = Some(failed.error.clone());
        }
        retried.len() as u64
    }

    /// Deletes failed jobs; returns how many.
    pub fn forget_failed(&mut self, which: Selection) -> u64 {
        self.take_failed(which).len() as u64
    }

    fn take_failed(&mut self, which: Selection) -> Vec<Failed> {
        let selected = |f: &Failed| match which {
            Selection::One(id) => f.id as i64 == id,
            Selection::All => true,
        };
        let (taken, kept) = std::mem::take(&mut self.failed)
            .into_iter()
            .partition(selected);
        self.failed = kept;
        taken
    }
}

/// The body of a job that can be claimed, or why it cannot.
fn usable(job: &Job) -> Result<Vec<u8>, String> {
    if job.max_attempts == 0 {
        return Err("the stored job cannot be used: max_attempts is 0".into());
    }
    unhex(&job.body).ok_or_else(|| "the stored job cannot be used: its body is not hex".into())
}

fn failed_job(failed: &Failed) -> FailedJob {
    FailedJob {
        id: failed.id as i64,
        job_id: failed.job_id.clone(),
        queue: failed.queue.clone(),
        event: failed.event.clone(),
        listener: failed.listener.clone(),
        attempts: failed.attempts,
        error: failed.error.clone(),
        failed_at_ms: failed.failed_at,
        body: bytes_of(&failed.body),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A stored body's bytes: decoded, or (edited into something that is not
/// hex) the text itself.
fn bytes_of(body: &str) -> Vec<u8> {
    unhex(body).unwrap_or_else(|| body.as_bytes().to_vec())
}
