//! Running one claimed job to its end: verify, decode, find the listener by
//! its registered name, restore the context, run it under its soft timeout,
//! then settle the job with the queue. A job that cannot run (too large, bad
//! signature, undecodable, expired, unknown listener, out of attempts,
//! copies beside the envelope that disagree with it) goes to the failed
//! store with its raw bytes and the reason: never dropped, never retried
//! forever. What the worker acts on comes from the envelope, which the
//! signature covers, not from the queue's copies.
//! Each attempt runs in a `job` span and feeds the job metrics (see
//! [`crate::observe`]).

use super::backoff::{self, BackoffDefaults};
use super::report::{Reporter, WorkerMessage};
use crate::driver::durable::{ClaimedJob, DurableQueue, QueueError, Settled};
use crate::job::{JobEnvelope, JobSigner, now_ms};
use crate::listener::Backoff;
use crate::observe::spans::{self, JobOutcome};
use crate::observe::{AfterFailure, JobKeys};
use crate::registry::registry;
use crate::run;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{Instrument, Span};

/// What every job of one worker shares.
pub(crate) struct JobContext {
    pub queue: Arc<dyn DurableQueue>,
    pub worker_id: String,
    pub signer: Option<JobSigner>,
    /// The largest job run, in bytes: the dispatchers' `MAX_PAYLOAD_BYTES`.
    pub max_job_bytes: usize,
    pub backoff: BackoffDefaults,
    pub reporter: Reporter,
}

/// How a job ended on a worker, as the worker counts it in its
/// [`WorkerReport`](super::WorkerReport) and tells its supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The listener succeeded; the job is gone.
    Succeeded,
    /// The attempt failed; the job runs again later.
    Retried,
    /// The job is in the failed store.
    Failed,
    /// Another claim owns the job now (this one's lease lapsed and the job
    /// was claimed again): this attempt's outcome was not applied.
    LeaseLost,
}

/// Runs `job` and settles it, inside its `job` span, feeding the job metrics.
pub(crate) async fn execute(context: &JobContext, job: ClaimedJob) -> Outcome {
    let started = Instant::now();
    let driver = context.queue.name();
    let span = spans::job(&job.event, &job.listener, &job.queue, driver, job.attempt);
    span.record("job_id", job.job_id.as_str());
    let keys = JobKeys::new(
        Arc::<str>::from(job.event.as_str()),
        Arc::<str>::from(job.listener.as_str()),
        Arc::<str>::from(job.queue.as_str()),
        driver,
    );
    let (outcome, error) = run_and_settle(context, &job, &span, &keys)
        .instrument(span.clone())
        .await;
    context.reporter.send(&WorkerMessage::JobFinished {
        job_id: job.job_id.clone(),
        outcome: match outcome {
            Outcome::Succeeded => "succeeded",
            Outcome::Retried => "retried",
            Outcome::Failed => "failed",
            Outcome::LeaseLost => "lease_lost",
        }
        .into(),
        error,
        duration_ms: started.elapsed().as_millis() as u64,
    });
    outcome
}

async fn run_and_settle(
    context: &JobContext,
    job: &ClaimedJob,
    span: &Span,
    keys: &JobKeys,
) -> (Outcome, Option<String>) {
    let Prepared {
        envelope,
        run,
        backoff,
    } = match prepare(context, job) {
        Ok(prepared) => prepared,
        Err(reason) => {
            report_started(context, job, None);
            keys.dead_lettered();
            spans::job_finished(span, JobOutcome::DeadLettered, None, Some(&reason));
            return (settle_failed(context, job, &reason).await, Some(reason));
        }
    };
    // Across processes the dispatch span is known by its ids only.
    spans::link(
        span,
        envelope.trace_id.as_deref(),
        envelope.parent_span_id.as_deref(),
        None,
    );
    let hard_deadline = envelope
        .hard_timeout()
        .map(|d| now_ms() + d.as_millis() as u64);
    report_started(context, job, hard_deadline);
    keys.started(Duration::from_millis(
        now_ms().saturating_sub(envelope.created_at_ms),
    ));
    let run_started = Instant::now();
    let result = envelope
        .context_snapshot()
        .scope(run::guarded(envelope.timeout(), run))
        .await;
    let took = run_started.elapsed();
    report_listener_finished(context, job);
    keys.ran(took);
    let reason = match result {
        Ok(()) => {
            keys.succeeded();
            spans::job_finished(span, JobOutcome::Succeeded, Some(took), None);
            return (settle(context, job, Settle::Complete).await, None);
        }
        Err(reason) => reason,
    };
    let error = format!(
        "attempt {} of {}: {reason}",
        job.attempt, envelope.max_attempts
    );
    tracing::warn!(
        target: "fastevent",
        event = %job.event, listener = %job.listener, job = %job.job_id,
        attempt = job.attempt, error = %reason, "listener failed"
    );
    let outcome = if job.attempt < envelope.max_attempts {
        keys.attempt_failed(AfterFailure::Retry);
        spans::job_finished(span, JobOutcome::Retried, Some(took), Some(&reason));
        let delay = backoff::delay(backoff, context.backoff, job.attempt);
        settle(context, job, Settle::Retry(delay, &error)).await
    } else {
        keys.attempt_failed(AfterFailure::GiveUp);
        spans::job_finished(span, JobOutcome::DeadLettered, Some(took), Some(&reason));
        settle_failed(context, job, &error).await
    };
    (outcome, Some(error))
}

struct Prepared {
    envelope: JobEnvelope,
    run: futures_util::future::BoxFuture<'static, Result<(), crate::BoxError>>,
    backoff: Backoff,
}

/// Everything that can refuse a job before its listener runs. The checks
/// of the envelope itself come first, then those of the listener, so the
/// reason names what is wrong with the job, not with its copies.
fn prepare(context: &JobContext, job: &ClaimedJob) -> Result<Prepared, String> {
    let envelope = JobEnvelope::verify_and_decode(
        &job.body,
        job.signature.as_deref(),
        context.signer.as_ref(),
        context.max_job_bytes,
    )
    .map_err(|e| e.to_string())?;
    if job.attempt > envelope.max_attempts {
        // Claims count attempts, so this job's earlier holders never settled
        // it: their process died, was killed (hard timeout) or hung.
        return Err(format!(
            "its worker died or was killed during each of its {} attempts (lease expired)",
            envelope.max_attempts
        ));
    }
    let listener = registry()
        .listener(&envelope.event, &envelope.listener)
        .ok_or_else(|| {
            format!(
                "no listener `{}` of event `{}` is registered in this worker (is it the same build as the dispatcher?)",
                envelope.listener, envelope.event
            )
        })?;
    let run = listener
        .decode_and_run(envelope.payload.get())
        .map_err(|e| {
            format!(
                "the payload does not decode as event `{}`: {e}",
                envelope.event
            )
        })?;
    envelope
        .check_copies(&job.job_id, &job.queue, &job.event, &job.listener)
        .map_err(|e| e.to_string())?;
    Ok(Prepared {
        backoff: listener.options.backoff,
        envelope,
        run,
    })
}

fn report_started(context: &JobContext, job: &ClaimedJob, hard_deadline_ms: Option<u64>) {
    context.reporter.send(&WorkerMessage::JobStarted {
        job_id: job.job_id.clone(),
        event: job.event.clone(),
        listener: job.listener.clone(),
        attempt: job.attempt,
        hard_deadline_ms,
    });
}

/// The hard deadline stops here: settling may wait on the queue, which is
/// no fault of the listener's.
fn report_listener_finished(context: &JobContext, job: &ClaimedJob) {
    context.reporter.send(&WorkerMessage::ListenerFinished {
        job_id: job.job_id.clone(),
    });
}

enum Settle<'a> {
    Complete,
    Retry(Duration, &'a str),
}

async fn settle_failed(context: &JobContext, job: &ClaimedJob, error: &str) -> Outcome {
    tracing::error!(
        target: "fastevent",
        event = %job.event, listener = %job.listener, job = %job.job_id,
        error, "job moved to the failed store"
    );
    let settled = with_retries(|| context.queue.fail(job, &context.worker_id, error)).await;
    owned_or_lost(context, job, settled, Outcome::Failed)
}

async fn settle(context: &JobContext, job: &ClaimedJob, how: Settle<'_>) -> Outcome {
    let worker = &context.worker_id;
    let (settled, outcome) = match how {
        Settle::Complete => (
            with_retries(|| context.queue.complete(job, worker)).await,
            Outcome::Succeeded,
        ),
        Settle::Retry(delay, error) => (
            with_retries(|| context.queue.retry(job, worker, delay, error)).await,
            Outcome::Retried,
        ),
    };
    owned_or_lost(context, job, settled, outcome)
}

/// `outcome`, unless the queue refused the settle because another claim
/// owns the job now: then nothing changed, and that is reported.
fn owned_or_lost(
    context: &JobContext,
    job: &ClaimedJob,
    settled: Option<Settled>,
    outcome: Outcome,
) -> Outcome {
    if settled != Some(Settled::LeaseLost) {
        return outcome;
    }
    tracing::warn!(
        target: "fastevent",
        event = %job.event, listener = %job.listener, job = %job.job_id, attempt = job.attempt,
        "the queue took the job back (a lapsed lease, or a broker redelivering it): this attempt's outcome ({outcome:?}) was not applied"
    );
    crate::observe::lease_lost(&job.queue, context.queue.name());
    Outcome::LeaseLost
}

/// Settling must not be lost to a short outage (a locked database, a broker
/// restart). If it still fails, the lease runs out and the job runs again:
/// at least once, never lost. `None` when every try failed.
async fn with_retries<'a, F>(mut operation: impl FnMut() -> F) -> Option<Settled>
where
    F: Future<Output = Result<Settled, QueueError>> + 'a,
{
    let mut pause = Duration::from_millis(50);
    for attempt in 1..=6 {
        match operation().await {
            Ok(settled) => return Some(settled),
            Err(error) if attempt == 6 => {
                tracing::error!(target: "fastevent", %error, "could not settle a job; its lease will expire and it will run again");
            }
            Err(error) => {
                tracing::warn!(target: "fastevent", %error, "settling a job failed; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
    None
}
