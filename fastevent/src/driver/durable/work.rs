//! What a worker needs of a durable queue: claim jobs under a lease, settle
//! them, renew the leases of those still running.

use super::{ClaimedJob, QueueError, Receipt, Settled};
use futures_util::future::BoxFuture;
use std::time::Duration;

/// The worker side of a durable driver. With
/// [`QueueAdmin`](super::QueueAdmin), what a driver implements so that the
/// [`Worker`](crate::worker::Worker), `work`, `failed`, `status` and the
/// dashboard use it like a built-in one; install it with
/// [`Config::durable_driver`](crate::Config::durable_driver).
///
/// Each claim comes with a [`Receipt`](Self::Receipt) of the driver's own
/// type, handed back with every settle. Every settle and renewal acts only
/// while the claim is the job's latest and says which
/// ([`Settled::LeaseLost`] otherwise): a worker whose lease lapsed, and
/// whose job another worker took, changes nothing.
///
/// Two methods have defaults that suit a polling queue and are overridden
/// by a pushing one (a broker sends jobs ahead of any claim).
pub trait WorkQueue: Send + Sync + 'static {
    /// What the queue needs to settle one claim: a row id and fencing
    /// token, a delivery tag, ...
    type Receipt: Receipt;

    /// The driver's name.
    fn name(&self) -> &'static str;

    /// Takes up to `limit` ready jobs of `queues` (earlier queues first) for
    /// `worker`, counting an attempt for each, held for `lease`.
    fn claim<'a>(
        &'a self,
        queues: &'a [String],
        limit: usize,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<ClaimedJob<Self::Receipt>>, QueueError>>;

    /// The listener succeeded: the job is removed.
    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob<Self::Receipt>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>>;

    /// The attempt failed: the job runs again after `delay`.
    fn retry<'a>(
        &'a self,
        job: &'a ClaimedJob<Self::Receipt>,
        worker: &'a str,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>>;

    /// The job is moved to the failed store with `error`, byte for byte.
    fn fail<'a>(
        &'a self,
        job: &'a ClaimedJob<Self::Receipt>,
        worker: &'a str,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>>;

    /// Gives the job back at once, with the attempt its claim counted: the
    /// worker is shutting down, the job did not fail.
    fn release<'a>(
        &'a self,
        job: &'a ClaimedJob<Self::Receipt>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>>;

    /// Renews the leases of these claims, which `worker` holds; returns
    /// those that no longer own their job (the worker stops renewing them).
    fn extend_leases<'a>(
        &'a self,
        worker: &'a str,
        claims: &'a [Self::Receipt],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<Self::Receipt>, QueueError>>;

    /// Resolves when `claim` may find a job for `worker`, or after
    /// `at_most`. A polling queue (the default) sleeps `at_most`; a queue
    /// that is told of new jobs wakes the worker as soon as one arrives,
    /// so an idle worker starts a job without a polling delay.
    fn wait_for_jobs<'a>(&'a self, worker: &'a str, at_most: Duration) -> BoxFuture<'a, ()> {
        let _ = worker;
        Box::pin(tokio::time::sleep(at_most))
    }

    /// `worker` takes no more jobs: it is stopping. A queue that pushes jobs
    /// ahead of claims hands back, at once, those it holds for `worker`
    /// unclaimed, so other workers run them now rather than after this
    /// worker's grace period. Jobs `worker` claimed are still settled
    /// afterwards. The default does nothing: a polling queue holds nothing.
    fn stop_claiming<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, ()> {
        let _ = worker;
        Box::pin(std::future::ready(()))
    }
}
