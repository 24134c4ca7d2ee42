//! One durable driver of any receipt type, as the worker and the commands
//! hold it: `Arc<dyn DurableQueue>`, whose receipts are [`AnyReceipt`]s.
//! Each call hands the driver its own receipt type back.

use super::{
    AnyReceipt, ClaimedJob, DurableQueue, FailedJob, QueueAdmin, QueueDepth, QueueError, Selection,
    Settled, WorkQueue,
};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// The durable queue of `queue`, for [`Worker::new`](crate::worker::Worker::new)
/// and the commands: `Config::durable_driver` installs it this way.
pub fn durable_queue_of<Q>(queue: Arc<Q>) -> Arc<dyn DurableQueue>
where
    Q: WorkQueue + QueueAdmin,
{
    Arc::new(Erased(queue))
}

struct Erased<Q>(Arc<Q>);

impl<Q: WorkQueue> Erased<Q> {
    /// The driver's own claim of `job`. A receipt of another type comes
    /// from another queue: a settle with it is refused, not guessed at.
    fn typed(&self, job: &ClaimedJob) -> Result<ClaimedJob<Q::Receipt>, QueueError> {
        Ok(job.with_receipt(self.receipt(&job.receipt)?.clone()))
    }

    fn receipt<'r>(&self, receipt: &'r AnyReceipt) -> Result<&'r Q::Receipt, QueueError> {
        receipt.downcast_ref().ok_or_else(|| QueueError {
            driver: self.0.name(),
            message: format!("{receipt:?} is a receipt of another queue"),
        })
    }
}

impl<Q: WorkQueue> WorkQueue for Erased<Q> {
    type Receipt = AnyReceipt;

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn claim<'a>(
        &'a self,
        queues: &'a [String],
        limit: usize,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<ClaimedJob>, QueueError>> {
        Box::pin(async move {
            let jobs = self.0.claim(queues, limit, worker, lease).await?;
            Ok(jobs
                .into_iter()
                .map(|job| job.with_receipt(AnyReceipt::new(job.receipt.clone())))
                .collect())
        })
    }

    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        Box::pin(async move { self.0.complete(&self.typed(job)?, worker).await })
    }

    fn retry<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        Box::pin(async move { self.0.retry(&self.typed(job)?, worker, delay, error).await })
    }

    fn fail<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        Box::pin(async move { self.0.fail(&self.typed(job)?, worker, error).await })
    }

    fn release<'a>(
        &'a self,
        job: &'a ClaimedJob,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        Box::pin(async move { self.0.release(&self.typed(job)?, worker).await })
    }

    fn extend_leases<'a>(
        &'a self,
        worker: &'a str,
        claims: &'a [AnyReceipt],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<AnyReceipt>, QueueError>> {
        Box::pin(async move {
            let typed = claims
                .iter()
                .map(|receipt| self.receipt(receipt).cloned())
                .collect::<Result<Vec<_>, _>>()?;
            let lost = self.0.extend_leases(worker, &typed, lease).await?;
            Ok(lost.into_iter().map(AnyReceipt::new).collect())
        })
    }

    fn wait_for_jobs<'a>(&'a self, worker: &'a str, at_most: Duration) -> BoxFuture<'a, ()> {
        self.0.wait_for_jobs(worker, at_most)
    }

    fn stop_claiming<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, ()> {
        self.0.stop_claiming(worker)
    }
}

impl<Q: QueueAdmin> QueueAdmin for Erased<Q> {
    fn depth(&self) -> BoxFuture<'_, Result<Vec<QueueDepth>, QueueError>> {
        self.0.depth()
    }

    fn failed_jobs(&self, limit: usize) -> BoxFuture<'_, Result<Vec<FailedJob>, QueueError>> {
        self.0.failed_jobs(limit)
    }

    fn failed_job(&self, id: i64) -> BoxFuture<'_, Result<Option<FailedJob>, QueueError>> {
        self.0.failed_job(id)
    }

    fn retry_failed(&self, which: Selection) -> BoxFuture<'_, Result<u64, QueueError>> {
        self.0.retry_failed(which)
    }

    fn forget_failed(&self, which: Selection) -> BoxFuture<'_, Result<u64, QueueError>> {
        self.0.forget_failed(which)
    }

    fn failed_count(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        self.0.failed_count()
    }
}

/// What [`Worker::new`](crate::worker::Worker::new) takes: an installed
/// queue (`Arc<dyn DurableQueue>`) as it is, or a durable driver of any
/// receipt type in an `Arc`.
pub trait IntoDurableQueue {
    /// The queue as the worker holds it.
    fn into_durable_queue(self) -> Arc<dyn DurableQueue>;
}

impl IntoDurableQueue for Arc<dyn DurableQueue> {
    fn into_durable_queue(self) -> Arc<dyn DurableQueue> {
        self
    }
}

impl<Q: WorkQueue + QueueAdmin> IntoDurableQueue for Arc<Q> {
    fn into_durable_queue(self) -> Arc<dyn DurableQueue> {
        durable_queue_of(self)
    }
}
