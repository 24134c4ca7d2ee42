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

/// A job in the failed store, as it was on its queue.
#[derive(Debug, Serialize, Deserialize)]
struct Failed {
    id: u64,
    job: Job,
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
    /// Adds the jobs of one dispatch, ready at `now`.
    pub fn push(&mut self, jobs: &[EncodedJob], now: u64) {
        for job in jobs {
            self.last_job += 1;
            self.jobs.push(Job {
                id: self.last_job,
                job_id: job.id.clone(),
                queue: job.queue.clone(),
                event: job.event.into(),
                listener: job.listener.into(),
                body: hex(&job.body),
                signature: job.signature.clone(),
                attempts: 0,
                max_attempts: job.max_attempts,
                available_at: now,
                claim: 0,
                leased_by: None,
                last_error: None,
            });
        }
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
                    Ok(body) => claimed.push(self.lease(index, body, worker, lease_until)),
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

    /// Leases the job at `index` to `worker` under a new claim number,
    /// counting an attempt.
    fn lease(
        &mut self,
        index: usize,
        body: Vec<u8>,
        worker: &str,
        until: u64,
    ) -> ClaimedJob<FileReceipt> {
        self.last_claim += 1;
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
        let mut job = self.jobs.remove(index);
        // A body that is not hex is kept as the text it is.
        job.body = hex(&bytes_of(&job.body));
        self.last_failed += 1;
        self.failed.push(Failed {
            id: self.last_failed,
            job,
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
        let count = retried.len() as u64;
        for Failed { mut job, error, .. } in retried {
            self.last_job += 1;
            job.id = self.last_job;
            job.attempts = 0;
            job.available_at = now;
            job.last_error = Some(error);
            self.jobs.push(job);
        }
        count
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
    let job = &failed.job;
    FailedJob {
        id: failed.id as i64,
        job_id: job.job_id.clone(),
        queue: job.queue.clone(),
        event: job.event.clone(),
        listener: job.listener.clone(),
        attempts: job.attempts,
        error: failed.error.clone(),
        failed_at_ms: failed.failed_at,
        body: bytes_of(&job.body),
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

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE_END: u64 = 100;

    fn one_job() -> State {
        let job = EncodedJob {
            id: "j1".into(),
            queue: "default".into(),
            event: "e",
            listener: "l",
            max_attempts: 3,
            body: b"{}".to_vec(),
            signature: None,
        };
        let mut state = State::default();
        state.push(&[job], 0);
        state
    }

    fn claim(state: &mut State, worker: &str, now: u64) -> Vec<ClaimedJob<FileReceipt>> {
        state.claim(&["default".into()], 10, worker, now, now + LEASE_END)
    }

    #[test]
    fn a_claim_whose_lease_lapsed_and_was_taken_again_changes_nothing() {
        let mut state = one_job();
        let first = claim(&mut state, "a", 0).remove(0);
        assert!(claim(&mut state, "b", LEASE_END - 1).is_empty(), "leased");
        let second = claim(&mut state, "b", LEASE_END).remove(0);
        assert_eq!((first.attempt, second.attempt), (1, 2));
        assert_ne!(first.receipt.claim, second.receipt.claim);

        assert_eq!(state.extend(&[first.receipt], "a", 500), [first.receipt]);
        let stale = state.settle(first.receipt, "a", Outcome::Complete);
        assert_eq!(stale, Settled::LeaseLost);
        assert_eq!(state.depth(LEASE_END)[0].running, 1, "still b's");
        let done = state.settle(second.receipt, "b", Outcome::Complete);
        assert_eq!(done, Settled::Done);
        assert!(state.depth(LEASE_END).is_empty());
    }

    #[test]
    fn a_job_whose_stored_body_cannot_be_used_goes_to_the_failed_store() {
        let mut state = one_job();
        state.jobs[0].body = "not hex".into();
        assert!(claim(&mut state, "a", 0).is_empty());
        let failed = state.failed_jobs(10).remove(0);
        assert!(
            failed.error.contains("its body is not hex"),
            "{}",
            failed.error
        );
        assert_eq!(failed.body, b"not hex", "kept as it was");
    }

    #[test]
    fn a_failed_job_comes_back_under_a_new_id_with_fresh_attempts() {
        let mut state = one_job();
        let job = claim(&mut state, "a", 0).remove(0);
        let error = "boom".to_string();
        state.settle(job.receipt, "a", Outcome::Fail { at: 1, error });
        assert_eq!(state.retry_failed(Selection::All, 2), 1);
        let again = claim(&mut state, "a", 2).remove(0);
        assert_eq!(again.attempt, 1);
        assert_ne!(again.receipt.job, job.receipt.job, "ids are never reused");
        assert_eq!(state.failed_count(), 0);
    }
}
