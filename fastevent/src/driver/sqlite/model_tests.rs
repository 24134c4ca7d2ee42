//! The SQLite queue as a state machine, checked against a model: seeded
//! random interleavings of dispatch, claim, lease renewal, complete, retry,
//! fail, release, lease expiry (a clock the test moves), retries from the
//! failed store, rows corrupted by another program, and settles from claims
//! that no longer own their job. After every step the tables must hold
//! exactly the jobs the model holds; at the end every dispatched job has
//! ended exactly once, succeeded or in the failed store.

use super::queries;
use super::rows::RowClaim;
use super::schema;
use crate::driver::durable::{ClaimedJob, Selection, Settled};
use crate::job::EncodedJob;
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet};

const CASES: u64 = 2000;
const STEPS: usize = 60;
const WORKERS: [&str; 3] = ["a", "b", "c"];
const TICK_MS: u64 = 1000;

/// A small deterministic generator (xorshift64*): a failing case is
/// replayed from its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// What the model knows of a job in the jobs table.
#[derive(Debug, Clone)]
struct Row {
    receipt: i64,
    claims: i64,
    attempts: u32,
    available_at: u64,
    leased_by: Option<&'static str>,
    poisoned: bool,
}

impl Row {
    /// A job just written to the jobs table (dispatched, or retried from
    /// the failed store): never claimed, ready at `now`.
    fn queued(receipt: i64, now: u64, poisoned: bool) -> Self {
        Self {
            receipt,
            claims: 0,
            attempts: 0,
            available_at: now,
            leased_by: None,
            poisoned,
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Succeeded,
    Failed,
}

struct Model {
    connection: Connection,
    rng: Rng,
    seed: u64,
    now: u64,
    next_job: u64,
    rows: BTreeMap<String, Row>,
    failed: BTreeSet<String>,
    /// Failed jobs that went there by a settle while their body was TEXT:
    /// the failed store keeps it so, and a retry brings it back so.
    failed_poisoned: BTreeSet<String>,
    succeeded: BTreeSet<String>,
    /// Every claim ever made: (token, worker, job id).
    claims: Vec<(RowClaim, &'static str, String)>,
}

impl Model {
    fn new(seed: u64) -> Self {
        let connection = Connection::open_in_memory().unwrap();
        schema::ensure(&connection).unwrap();
        Self {
            connection,
            rng: Rng::new(seed),
            seed,
            now: 1_000_000,
            next_job: 0,
            rows: BTreeMap::new(),
            failed: BTreeSet::new(),
            failed_poisoned: BTreeSet::new(),
            succeeded: BTreeSet::new(),
            claims: Vec::new(),
        }
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..15 => self.dispatch(),
            15..35 => self.claim(),
            35..65 => self.settle(),
            65..72 => self.renew(),
            72..88 => self.now += self.rng.below(4) * TICK_MS,
            88..93 => self.retry_failed(),
            _ => self.corrupt(),
        }
        self.check_tables();
    }

    fn dispatch(&mut self) {
        let count = 1 + self.rng.below(3);
        let jobs: Vec<EncodedJob> = (0..count)
            .map(|_| {
                self.next_job += 1;
                EncodedJob {
                    id: format!("job-{}", self.next_job),
                    queue: "default".into(),
                    event: "e",
                    listener: "l",
                    max_attempts: 3,
                    body: b"{}".to_vec(),
                    signature: None,
                }
            })
            .collect();
        queries::insert_jobs(&self.connection, &jobs, self.now).unwrap();
        for job in jobs {
            let row = Row::queued(self.receipt_of(&job.id), self.now, false);
            self.rows.insert(job.id, row);
        }
    }

    fn receipt_of(&self, job_id: &str) -> i64 {
        self.connection
            .query_row(
                "SELECT id FROM fastevent_jobs WHERE job_id = ?1",
                [job_id],
                |row| row.get(0),
            )
            .unwrap()
    }

    /// The jobs a claim of `limit` must select: ready, oldest first.
    fn claimable(&self, limit: usize) -> Vec<String> {
        let mut ready: Vec<(u64, i64, &String)> = self
            .rows
            .iter()
            .filter(|(_, row)| row.available_at <= self.now)
            .map(|(id, row)| (row.available_at, row.receipt, id))
            .collect();
        ready.sort();
        ready
            .into_iter()
            .take(limit)
            .map(|(_, _, id)| id.clone())
            .collect()
    }

    fn claim(&mut self) {
        let worker = WORKERS[self.rng.below(3) as usize];
        let limit = 1 + self.rng.below(3) as usize;
        let lease_until = self.now + (1 + self.rng.below(4)) * TICK_MS;
        let expected = self.claimable(limit);
        let queues = ["default".to_string()];
        let claimed = queries::claim(
            &self.connection,
            &queues,
            limit,
            worker,
            self.now,
            lease_until,
        )
        .unwrap();
        let mut claimed_ids = Vec::new();
        for job_id in &expected {
            let row = self.rows.get_mut(job_id).unwrap();
            if row.poisoned {
                self.rows.remove(job_id);
                self.failed.insert(job_id.clone());
                continue;
            }
            row.claims += 1;
            row.attempts += 1;
            row.leased_by = Some(worker);
            row.available_at = lease_until;
            claimed_ids.push(job_id.clone());
        }
        // Which jobs, not in which order: SQLite returns them in its own.
        let got: BTreeSet<&String> = claimed.iter().map(|job| &job.job_id).collect();
        let wanted: BTreeSet<&String> = claimed_ids.iter().collect();
        assert_eq!(got, wanted, "seed {}: claim", self.seed);
        for job in &claimed {
            let row = &self.rows[&job.job_id];
            assert_eq!(
                (job.receipt.claim, job.attempt),
                (row.claims, row.attempts),
                "seed {}: token and attempt of {}",
                self.seed,
                job.job_id
            );
            self.claims.push((job.receipt, worker, job.job_id.clone()));
        }
    }

    /// Whether `token` of `worker` is the latest claim of its job, still
    /// leased: the only claim allowed to settle or renew it.
    fn owns(&self, token: RowClaim, worker: &str, job_id: &str) -> bool {
        self.rows.get(job_id).is_some_and(|row| {
            row.receipt == token.row && row.claims == token.claim && row.leased_by == Some(worker)
        })
    }

    fn settle(&mut self) {
        if self.claims.is_empty() {
            return;
        }
        let pick = self.rng.below(self.claims.len() as u64) as usize;
        let (token, worker, job_id) = self.claims[pick].clone();
        let owned = self.owns(token, worker, &job_id);
        let kind = self.rng.below(4);
        let c = &self.connection;
        let settled = match kind {
            0 => queries::complete(c, token, worker),
            1 => queries::retry(c, token, worker, self.now + TICK_MS, "again"),
            2 => queries::fail(c, token, worker, "failed", self.now),
            _ => queries::release(c, token, worker, self.now),
        }
        .unwrap();
        let expected = if owned {
            Settled::Done
        } else {
            Settled::LeaseLost
        };
        assert_eq!(
            settled, expected,
            "seed {}: settle {kind} of {job_id}",
            self.seed
        );
        if !owned {
            return;
        }
        match kind {
            0 => {
                self.rows.remove(&job_id);
                self.succeeded.insert(job_id);
            }
            2 => {
                if self.rows.remove(&job_id).unwrap().poisoned {
                    self.failed_poisoned.insert(job_id.clone());
                }
                self.failed.insert(job_id);
            }
            _ => {
                let row = self.rows.get_mut(&job_id).unwrap();
                row.leased_by = None;
                if kind == 1 {
                    row.available_at = self.now + TICK_MS;
                } else {
                    row.available_at = self.now;
                    row.attempts -= 1;
                }
            }
        }
    }

    fn renew(&mut self) {
        let worker = WORKERS[self.rng.below(3) as usize];
        let held: Vec<(RowClaim, String)> = self
            .claims
            .iter()
            .filter(|(_, w, _)| *w == worker)
            .map(|(token, _, job_id)| (*token, job_id.clone()))
            .collect();
        let tokens: Vec<RowClaim> = held.iter().map(|(token, _)| *token).collect();
        let until = self.now + 3 * TICK_MS;
        let lost = queries::extend_leases(&self.connection, worker, &tokens, until).unwrap();
        let mut expected_lost = Vec::new();
        for (token, job_id) in &held {
            if self.owns(*token, worker, job_id) {
                self.rows.get_mut(job_id).unwrap().available_at = until;
            } else {
                expected_lost.push(*token);
            }
        }
        assert_eq!(
            lost, expected_lost,
            "seed {}: renewal by {worker}",
            self.seed
        );
    }

    fn retry_failed(&mut self) {
        let moved = queries::retry_failed(&self.connection, Selection::All, self.now).unwrap();
        assert_eq!(moved as usize, self.failed.len(), "seed {}", self.seed);
        for job_id in std::mem::take(&mut self.failed) {
            let poisoned = self.failed_poisoned.remove(&job_id);
            let row = Row::queued(self.receipt_of(&job_id), self.now, poisoned);
            self.rows.insert(job_id, row);
        }
    }

    /// Another program rewrites a stored body as TEXT.
    fn corrupt(&mut self) {
        if self.rows.is_empty() {
            return;
        }
        let pick = self.rng.below(self.rows.len() as u64) as usize;
        let (_, row) = self.rows.iter_mut().nth(pick).unwrap();
        self.connection
            .execute(
                "UPDATE fastevent_jobs SET body = CAST(body AS TEXT) WHERE id = ?1",
                [row.receipt],
            )
            .unwrap();
        row.poisoned = true;
    }

    /// The tables hold exactly the model's jobs, each once.
    fn check_tables(&self) {
        let ids = |sql: &str| -> Vec<String> {
            let mut statement = self.connection.prepare(sql).unwrap();
            let rows = statement.query_map([], |row| row.get(0)).unwrap();
            rows.collect::<Result<_, _>>().unwrap()
        };
        let mut queued = ids("SELECT job_id FROM fastevent_jobs");
        let mut failed = ids("SELECT job_id FROM fastevent_failed_jobs");
        queued.sort();
        failed.sort();
        let model_queued: Vec<String> = self.rows.keys().cloned().collect();
        let model_failed: Vec<String> = self.failed.iter().cloned().collect();
        assert_eq!(queued, model_queued, "seed {}: jobs table", self.seed);
        assert_eq!(failed, model_failed, "seed {}: failed store", self.seed);
        assert!(
            self.succeeded
                .iter()
                .all(|id| !self.rows.contains_key(id) && !self.failed.contains(id)),
            "seed {}: a succeeded job is still stored",
            self.seed
        );
    }

    /// Every lease lapses; a fresh worker claims what is left and completes
    /// it. Returns how each dispatched job ended.
    fn drain(&mut self) -> BTreeMap<String, End> {
        self.now += 100 * TICK_MS;
        let queues = ["default".to_string()];
        loop {
            let claimed: Vec<ClaimedJob<RowClaim>> = queries::claim(
                &self.connection,
                &queues,
                50,
                "z",
                self.now,
                self.now + TICK_MS,
            )
            .unwrap();
            if claimed.is_empty() {
                break;
            }
            for job in claimed {
                let settled = queries::complete(&self.connection, job.receipt, "z").unwrap();
                assert_eq!(settled, Settled::Done, "seed {}", self.seed);
                self.rows.remove(&job.job_id);
                self.succeeded.insert(job.job_id.clone());
            }
        }
        // Poisoned rows met by the drain's claims went to the failed store.
        let poisoned: Vec<String> = self.rows.keys().cloned().collect();
        self.failed.extend(poisoned);
        self.rows.clear();
        self.check_tables();
        let mut ends = BTreeMap::new();
        for job_id in &self.succeeded {
            ends.insert(job_id.clone(), End::Succeeded);
        }
        for job_id in &self.failed {
            let earlier = ends.insert(job_id.clone(), End::Failed);
            assert_eq!(earlier, None, "seed {}: {job_id} ended twice", self.seed);
        }
        ends
    }
}

#[test]
fn every_dispatched_job_ends_exactly_once_and_only_its_current_claim_settles_it() {
    let mut stale_settles = 0;
    for seed in 0..CASES {
        let mut model = Model::new(seed);
        for _ in 0..STEPS {
            model.step();
        }
        stale_settles += model
            .claims
            .iter()
            .filter(|(token, worker, job)| !model.owns(*token, worker, job))
            .count();
        let dispatched = model.next_job;
        let ends = model.drain();
        assert_eq!(ends.len() as u64, dispatched, "seed {seed}: a job vanished");
    }
    // The generator does produce the interleavings the model is about.
    assert!(
        stale_settles > CASES as usize,
        "{stale_settles} stale claims"
    );
}
