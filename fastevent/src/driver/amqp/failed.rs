//! The failed store: a durable queue of the jobs that ran out of attempts
//! or could not run, each with its bytes and, in headers, where it came
//! from and why it failed. A queue cannot be read in place, so the `failed`
//! commands scan it: take every message on a channel of their own (unacked,
//! so nothing is lost if the command dies: closing the channel puts them
//! back), decide for each (keep, forget, put back on its queue), publish
//! what goes back (confirmed), ack what leaves, and requeue the rest.
//!
//! Scans are for an operator's commands, not for a hot path: while one
//! runs, the messages it holds are invisible to another.

use super::Inner;
use super::message::{self, JobMeta};
use super::publish::{Outgoing, Route};
use crate::driver::durable::{FailedJob, QueueError, Selection};
use lapin::Acker;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The least time a scan gets to publish what it puts back.
const SCAN_PUBLISH_TIME: Duration = Duration::from_secs(60);

/// A fresh failed-store id: milliseconds since the epoch in the high bits
/// (ids sort by failure time, newest last) and a per-process sequence mixed
/// with the pid in the low 16, so two processes failing jobs in the same
/// millisecond rarely collide.
pub fn new_failed_id() -> i64 {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let low =
        (SEQUENCE.fetch_add(1, Ordering::Relaxed) + std::process::id() as u64 * 7919) & 0xffff;
    ((crate::job::now_ms() << 16) | low).min(i64::MAX as u64) as i64
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

impl Inner {
    /// Visits every failed job, oldest first; returns how many left the store.
    async fn scan(&self, mut visit: impl FnMut(FailedJob) -> Decision) -> Result<u64, QueueError> {
        let deadline = tokio::time::Instant::now() + self.options.operation_timeout;
        let link = self
            .broker
            .link(deadline)
            .await
            .map_err(|e| self.queue_error(e.message))?;
        let fail = |e: lapin::Error| self.queue_error(format!("scanning the failed store: {e}"));
        self.topology
            .declare_failed_queue(&link)
            .await
            .map_err(|e| self.queue_error(format!("scanning the failed store: {e}")))?;
        let queue = self.topology.failed_queue();
        let channel = link.connection.create_channel().await.map_err(fail)?;

        let (mut keep, mut leave, mut put_back): (Vec<Acker>, Vec<Acker>, Vec<Outgoing>) =
            Default::default();
        let mut without_id = 0;
        while let Some(got) = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .map_err(fail)?
        {
            let delivery = got.delivery;
            without_id -= 1;
            let job = message::failed_job(&delivery.properties, &delivery.data, without_id);
            match visit(job) {
                Decision::Keep => keep.push(delivery.acker),
                Decision::Forget => leave.push(delivery.acker),
                Decision::PutBack => {
                    // Fresh attempts, as `failed retry` promises.
                    let meta = JobMeta {
                        attempts: 0,
                        ..message::failed_meta(&delivery.properties)
                    };
                    put_back.push(Outgoing {
                        route: Route::Work(meta.queue.clone()),
                        properties: meta.properties(),
                        body: delivery.data,
                    });
                    leave.push(delivery.acker);
                }
            }
        }
        if !put_back.is_empty() {
            let deadline =
                tokio::time::Instant::now() + self.options.operation_timeout.max(SCAN_PUBLISH_TIME);
            if let Err(error) = self.publish_until(&put_back, deadline).await {
                // Closing the channel puts every message back where it was.
                let _ = channel.close(200, "scan failed".into()).await;
                return Err(self.queue_error(error.message));
            }
        }
        let left = leave.len() as u64;
        for acker in leave {
            acker.ack(BasicAckOptions::default()).await.map_err(fail)?;
        }
        for acker in keep {
            acker
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await
                .map_err(fail)?;
        }
        // A round trip on this channel: once it is answered, the broker has
        // applied the acks and requeues above, so the next command sees them.
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::default().passive(),
                FieldTable::default(),
            )
            .await
            .map_err(fail)?;
        let _ = channel.close(200, "scan done".into()).await;
        Ok(left)
    }

    pub(super) async fn failed_jobs(&self, limit: usize) -> Result<Vec<FailedJob>, QueueError> {
        let mut jobs = Vec::new();
        self.scan(|job| {
            jobs.push(job);
            Decision::Keep
        })
        .await?;
        jobs.sort_by_key(|job| std::cmp::Reverse(job.id));
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
        let deadline = tokio::time::Instant::now() + self.options.operation_timeout;
        let link = self
            .broker
            .link(deadline)
            .await
            .map_err(|e| self.queue_error(e.message))?;
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

    #[test]
    fn failed_ids_grow_with_time_and_differ() {
        let a = new_failed_id();
        let b = new_failed_id();
        assert!(a > 0 && b > 0 && a != b);
        std::thread::sleep(Duration::from_millis(2));
        assert!(new_failed_id() > a.max(b));
    }
}
