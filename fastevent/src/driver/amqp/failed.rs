//! The failed store: a durable queue of the jobs that ran out of attempts
//! or could not run, each with its bytes and, in headers, where it came
//! from and why it failed. A queue cannot be read in place, so the `failed`
//! commands scan it: take every message on a channel of their own
//! (unacked, so nothing is lost if the command dies: the channel's end
//! puts them back), decide for each (keep, forget, put back on its queue),
//! and at the end close the channel, which returns what was kept.
//!
//! - Bounded memory: a message is looked at and dropped; what goes back to
//!   a work queue goes in batches, each copy confirmed before its original
//!   is acked; a listing keeps only the newest jobs it returns.
//! - One scan at a time per prefix, across processes: a scan holds an
//!   exclusive queue (`{prefix}~failed.scan`, gone with its connection if
//!   the process dies), so two commands never see each other's held
//!   messages as missing. Another scan waits for it.
//! - No copies behind: an original leaves the store only once its copy is
//!   confirmed; a copy that was not (a timeout, a refusal) leaves its
//!   original in the store.

use super::Inner;
use super::connection::Link;
use super::message::{self, JobMeta};
use super::publish::{Outgoing, Route};
use crate::driver::durable::{FailedJob, QueueError, Selection};
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Acker, Channel};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a scan waits for another to finish.
const SCAN_LOCK_WAIT: Duration = Duration::from_secs(60);
/// Jobs put back per batch (copies in flight at once).
const PUT_BACK_BATCH: usize = 200;

/// The failed-store id of a job failing at `failed_at_ms`: derived from the
/// job's own unique id, so processes never need to agree on a counter and
/// never give two jobs one id (a 63-bit hash: a clash needs billions of
/// failed jobs). A job without an id (put on a queue by hand) gets one from
/// its failure time and this process.
pub(crate) fn failed_id(meta: &JobMeta, failed_at_ms: u64) -> i64 {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let source = match meta.job_id.is_empty() {
        false => meta.job_id.clone(),
        true => format!(
            "{failed_at_ms}/{}/{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ),
    };
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = source.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3)
    });
    ((hash >> 1) as i64).max(1)
}

/// What a scan does with one failed job.
enum Decision {
    Keep,
    Forget,
    PutBack,
}

fn selected(which: Selection, job: &FailedJob) -> bool {
    match which {
        Selection::All => true,
        Selection::One(id) => job.id == id,
    }
}

/// Newest first.
fn newest_first(jobs: &mut [FailedJob]) {
    jobs.sort_by_key(|job| std::cmp::Reverse((job.failed_at_ms, job.id)));
}

impl Inner {
    /// Visits every failed job, oldest first; returns how many left the store.
    async fn scan(&self, visit: impl FnMut(FailedJob) -> Decision) -> Result<u64, QueueError> {
        let _in_this_process = self.scans.lock().await;
        let link = self.operator_link().await?;
        self.topology
            .declare_failed_queue(&link)
            .await
            .map_err(|e| self.queue_error(format!("scanning the failed store: {e}")))?;
        let lock = self.lock_failed_store(&link).await?;
        let scanned = self.scan_locked(&link, visit).await;
        let name = format!("{}.scan", self.topology.failed_queue());
        let _ = lock
            .queue_delete(name.as_str().into(), Default::default())
            .await;
        let _ = lock.close(200, "scan done".into()).await;
        scanned
    }

    /// Takes the failed store's scan lock: an exclusive queue, which only
    /// one connection can hold.
    async fn lock_failed_store(&self, link: &Link) -> Result<Channel, QueueError> {
        let name = format!("{}.scan", self.topology.failed_queue());
        let give_up = tokio::time::Instant::now() + SCAN_LOCK_WAIT;
        loop {
            let fail = |e: lapin::Error| self.queue_error(format!("locking the failed store: {e}"));
            let channel = link.connection.create_channel().await.map_err(fail)?;
            let options = QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            };
            let held = channel
                .queue_declare(name.as_str().into(), options, FieldTable::default())
                .await;
            match held {
                Ok(_) => return Ok(channel),
                Err(_) if tokio::time::Instant::now() < give_up => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => {
                    return Err(self.queue_error(format!(
                        "another `failed` command has been scanning the failed store for {}s; \
                         try again once it is done ({error})",
                        SCAN_LOCK_WAIT.as_secs()
                    )));
                }
            }
        }
    }

    async fn scan_locked(
        &self,
        link: &Link,
        mut visit: impl FnMut(FailedJob) -> Decision,
    ) -> Result<u64, QueueError> {
        let fail = |e: lapin::Error| self.queue_error(format!("scanning the failed store: {e}"));
        let queue = self.topology.failed_queue();
        let channel = link.connection.create_channel().await.map_err(fail)?;
        let mut batch: Vec<(Outgoing, Acker)> = Vec::new();
        let (mut left, mut without_id) = (0, 0);
        let mut outcome = Ok(());
        while let Some(got) = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .map_err(fail)?
        {
            let delivery = got.delivery;
            without_id -= 1;
            let job = message::failed_job(&delivery.properties, &delivery.data, without_id);
            match visit(job) {
                // Returned when the channel closes.
                Decision::Keep => {}
                Decision::Forget => {
                    delivery
                        .acker
                        .ack(BasicAckOptions::default())
                        .await
                        .map_err(fail)?;
                    left += 1;
                }
                Decision::PutBack => {
                    // Fresh attempts, as `failed retry` promises.
                    let meta = JobMeta {
                        attempts: 0,
                        ..message::failed_meta(&delivery.properties)
                    };
                    let copy = Outgoing {
                        route: Route::Work(meta.queue.clone()),
                        properties: meta.properties(),
                        body: delivery.data,
                    };
                    batch.push((copy, delivery.acker));
                }
            }
            if batch.len() >= PUT_BACK_BATCH {
                let (moved, result) = self.put_back(std::mem::take(&mut batch)).await;
                left += moved;
                if result.is_err() {
                    outcome = result;
                    break;
                }
            }
        }
        if outcome.is_ok() {
            let (moved, result) = self.put_back(batch).await;
            left += moved;
            outcome = result;
        }
        // Closing returns every message still held, and answers only once
        // the broker has done it and applied the acks: the next command
        // sees them.
        let _ = channel.close(200, "scan done".into()).await;
        outcome.map(|()| left)
    }

    /// Publishes the copies (each confirmed on its own) and acks the
    /// originals of those confirmed; the others stay in the store.
    async fn put_back(&self, batch: Vec<(Outgoing, Acker)>) -> (u64, Result<(), QueueError>) {
        let deadline = tokio::time::Instant::now() + self.options.operation_timeout;
        let published = futures_util::future::join_all(
            batch
                .iter()
                .map(|(copy, _)| self.publish_until(std::slice::from_ref(copy), deadline)),
        )
        .await;
        let (mut moved, mut first_error) = (0, None);
        for ((_, acker), result) in batch.iter().zip(published) {
            match result {
                Ok(()) => {
                    if let Err(error) = acker.ack(BasicAckOptions::default()).await {
                        first_error.get_or_insert(format!("acknowledging a put-back job: {error}"));
                    } else {
                        moved += 1;
                    }
                }
                Err(error) => {
                    first_error.get_or_insert(error.message);
                }
            }
        }
        let result = match first_error {
            None => Ok(()),
            Some(error) => Err(self.queue_error(format!(
                "{moved} job(s) of {} put back; the others stay in the failed store: {error}",
                batch.len()
            ))),
        };
        (moved, result)
    }

    pub(super) async fn failed_jobs(&self, limit: usize) -> Result<Vec<FailedJob>, QueueError> {
        let mut jobs = Vec::new();
        self.scan(|job| {
            jobs.push(job);
            // Only the newest `limit` are returned: never hold more than
            // twice that.
            if jobs.len() >= 2 * limit.max(1) {
                newest_first(&mut jobs);
                jobs.truncate(limit);
            }
            Decision::Keep
        })
        .await?;
        newest_first(&mut jobs);
        jobs.truncate(limit);
        Ok(jobs)
    }

    pub(super) async fn failed_job(&self, id: i64) -> Result<Option<FailedJob>, QueueError> {
        let mut found = None;
        self.scan(|job| {
            if job.id == id && found.is_none() {
                found = Some(job);
            }
            Decision::Keep
        })
        .await?;
        Ok(found)
    }

    pub(super) async fn retry_failed(&self, which: Selection) -> Result<u64, QueueError> {
        self.scan(|job| match selected(which, &job) {
            true => Decision::PutBack,
            false => Decision::Keep,
        })
        .await
    }

    pub(super) async fn forget_failed(&self, which: Selection) -> Result<u64, QueueError> {
        self.scan(|job| match selected(which, &job) {
            true => Decision::Forget,
            false => Decision::Keep,
        })
        .await
    }

    pub(super) async fn failed_count(&self) -> Result<u64, QueueError> {
        let link = self.operator_link().await?;
        let queue = self.topology.failed_queue();
        let count = link
            .message_count(&queue)
            .await
            .map_err(|e| self.queue_error(format!("reading the depth of {queue}: {e}")))?;
        Ok(count.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn meta(job_id: String) -> JobMeta {
        JobMeta {
            job_id,
            queue: "q".into(),
            event: "e".into(),
            listener: "l".into(),
            max_attempts: 1,
            attempts: 1,
            signature: None,
        }
    }

    #[test]
    fn ids_come_from_the_job_and_do_not_clash() {
        let ids: HashSet<i64> = (0..200_000)
            .map(|n| failed_id(&meta(format!("0190a7c2-{n:012x}")), 0))
            .collect();
        assert_eq!(ids.len(), 200_000);
        assert!(ids.iter().all(|id| *id > 0));
        // Another process, another time: the same job, the same id.
        assert_eq!(
            failed_id(&meta("x".into()), 1),
            failed_id(&meta("x".into()), 99)
        );
        let anonymous = failed_id(&meta(String::new()), 5);
        assert!(anonymous > 0);
        assert_ne!(anonymous, failed_id(&meta(String::new()), 5));
    }
}
