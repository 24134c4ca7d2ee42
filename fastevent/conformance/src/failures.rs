//! Failures: retries with backoff, the failed store (retry, forget),
//! poison jobs, signatures, soft timeouts.

use super::listeners::*;
use super::{Queue, Target, drain, run_id};
use fastevent::driver::durable::Selection;
use fastevent::job::JobSigner;
use std::time::{Duration, Instant};
/// A failing job is retried after the listener's backoff, then moved to the failed store with its error.
pub async fn retries_follow_the_backoff_then_the_job_is_dead_lettered_with_its_error(
    target: &dyn Target,
) {
    let queue = target.open(None);
    let run = run_id("retry");
    fastevent::dispatch_to(queue.driver.as_ref(), Flaky { run: run.clone() })
        .await
        .unwrap();
    let report = drain(&queue).await;
    assert_eq!((report.retried, report.failed), (2, 1), "{report:?}");

    let attempts = ATTEMPTS.lock().unwrap()[&run].clone();
    assert_eq!(attempts.len(), 3, "tries = 3");
    for pair in attempts.windows(2) {
        // The backoff is 100ms with equal jitter: never less than half of it.
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(50),
            "retried after only {gap:?}"
        );
    }

    let failed = queue.durable.failed_jobs(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    let job = &failed[0];
    assert_eq!(
        (job.event.as_str(), job.listener.as_str()),
        (
            "fastevent_conformance.flaky",
            "fastevent_conformance.flaky_listener"
        )
    );
    assert_eq!(job.attempts, 3);
    assert!(job.error.contains("attempt 3 of 3"), "{}", job.error);
    assert!(
        job.error.contains(&format!("upstream refused run {run}")),
        "{}",
        job.error
    );
    let envelope = fastevent::job::JobEnvelope::decode(&job.body).unwrap();
    assert_eq!(envelope.payload.get(), format!(r#"{{"run":"{run}"}}"#));
}

/// A job retried from the failed store runs again with fresh attempts.
pub async fn a_job_retried_from_the_failed_store_runs_again(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("failed-retry");
    fastevent::dispatch_to(queue.driver.as_ref(), Flaky { run: run.clone() })
        .await
        .unwrap();
    drain(&queue).await;
    let failed = queue.durable.failed_jobs(10).await.unwrap();
    assert_eq!(failed.len(), 1);

    HEALED.lock().unwrap().push(run.clone());
    assert_eq!(
        queue
            .durable
            .retry_failed(Selection::One(failed[0].id))
            .await
            .unwrap(),
        1
    );
    assert!(queue.durable.failed_jobs(10).await.unwrap().is_empty());
    let report = drain(&queue).await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(ATTEMPTS.lock().unwrap()[&run].len(), 4);
    assert_eq!(
        queue
            .durable
            .retry_failed(Selection::One(failed[0].id))
            .await
            .unwrap(),
        0
    );
}

/// Failed jobs can be forgotten, one or all.
pub async fn failed_jobs_can_be_forgotten(target: &dyn Target) {
    let queue = target.open(None);
    for _ in 0..3 {
        let run = run_id("forget");
        fastevent::dispatch_to(queue.driver.as_ref(), Flaky { run })
            .await
            .unwrap();
    }
    drain(&queue).await;
    let failed = queue.durable.failed_jobs(10).await.unwrap();
    assert_eq!(failed.len(), 3);
    assert_eq!(
        queue
            .durable
            .forget_failed(Selection::One(failed[0].id))
            .await
            .unwrap(),
        1
    );
    assert!(
        queue
            .durable
            .failed_job(failed[0].id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        queue
            .durable
            .failed_job(failed[1].id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        queue.durable.forget_failed(Selection::All).await.unwrap(),
        2
    );
    assert!(queue.durable.failed_jobs(10).await.unwrap().is_empty());
}

/// Jobs that cannot run (bytes that are no envelope, an unknown listener) go to the failed store with the reason while the others run.
pub async fn poison_jobs_are_dead_lettered_while_the_others_proceed(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("poison");
    target.inject_raw(&queue, b"\x80\x04 this is a pickle, not a job", None);
    target.inject_raw(&queue, br#"{"fastevent_job":99}"#, None);
    let unknown_listener = counted_job(
        "p1",
        "no_such_listener",
        &format!(r#"{{"run":"{run}","n":0}}"#),
    );
    target.inject_raw(&queue, unknown_listener.as_bytes(), None);
    let bad_payload = counted_job("p2", "fastevent_conformance.count", r#"{"run":7}"#);
    target.inject_raw(&queue, bad_payload.as_bytes(), None);
    for n in 0..20 {
        fastevent::dispatch_to(
            queue.driver.as_ref(),
            Counted {
                run: run.clone(),
                n,
            },
        )
        .await
        .unwrap();
    }
    let report = drain(&queue).await;
    assert_eq!(
        (report.succeeded, report.failed, report.retried),
        (20, 4, 0),
        "{report:?}"
    );
    assert_eq!(handled(&run).len(), 20);

    let errors = failed_errors(&queue).await;
    let expected = [
        "job envelope format 99 is not supported",
        "no listener `no_such_listener` of event `fastevent_conformance.counted` is registered",
        "not a fastevent job envelope",
        "the payload does not decode as event `fastevent_conformance.counted`",
    ];
    for (error, expected) in errors.iter().zip(expected) {
        assert!(
            error.contains(expected),
            "{error:?} should contain {expected:?}"
        );
    }
    // Byte for byte, for whoever looks into it.
    let failed = queue.durable.failed_jobs(10).await.unwrap();
    assert!(
        failed
            .iter()
            .any(|f| f.body == b"\x80\x04 this is a pickle, not a job")
    );
}

/// With a key, unsigned and altered jobs go to the failed store and never run.
pub async fn signed_queues_refuse_unsigned_and_altered_jobs(target: &dyn Target) {
    let queue = target.open(Some("conformance-signing-key-0123456789"));
    let run = run_id("signed");
    fastevent::dispatch_to(
        queue.driver.as_ref(),
        Counted {
            run: run.clone(),
            n: 1,
        },
    )
    .await
    .unwrap();
    let payload = format!(r#"{{"run":"{run}","n":2}}"#);
    let body = counted_job("s1", "fastevent_conformance.count", &payload);
    target.inject_raw(&queue, body.as_bytes(), None);
    let forged = JobSigner::new("someone-elses-key-0123456789")
        .unwrap()
        .sign(body.as_bytes());
    target.inject_raw(&queue, body.as_bytes(), Some(&forged));
    let report = drain(&queue).await;
    assert_eq!((report.succeeded, report.failed), (1, 2), "{report:?}");
    assert_eq!(handled(&run).keys().copied().collect::<Vec<_>>(), vec![1]);
    let errors = failed_errors(&queue).await;
    assert!(errors[0].contains("not signed"), "{errors:?}");
    assert!(errors[1].contains("signature does not match"), "{errors:?}");
}

/// A soft timeout cancels the attempt and counts it as a failed one.
pub async fn a_soft_timeout_cancels_the_attempt_and_counts_it(target: &dyn Target) {
    let queue = target.open(None);
    fastevent::dispatch_to(
        queue.driver.as_ref(),
        Stuck {
            run: run_id("stuck"),
        },
    )
    .await
    .unwrap();
    let started = Instant::now();
    let report = drain(&queue).await;
    assert_eq!((report.retried, report.failed), (1, 1), "{report:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the listener was not cancelled"
    );
    let failed = queue.durable.failed_jobs(1).await.unwrap();
    assert!(
        failed[0].error.contains("timed out after 100ms"),
        "{}",
        failed[0].error
    );
}

/// A job envelope of event `fastevent_conformance.counted` as another
/// program would write it, with `id`, `listener` and `payload` (JSON) as
/// given.
fn counted_job(id: &str, listener: &str, payload: &str) -> String {
    format!(
        r#"{{"fastevent_job":1,"id":"{id}","event":"fastevent_conformance.counted","event_version":1,"listener":"{listener}","queue":"default","payload":{payload},"max_attempts":3,"created_at_ms":1}}"#
    )
}

/// The errors of the queue's failed jobs, sorted.
async fn failed_errors(queue: &Queue) -> Vec<String> {
    let failed = queue.durable.failed_jobs(10).await.unwrap();
    let mut errors: Vec<String> = failed.into_iter().map(|f| f.error).collect();
    errors.sort();
    errors
}
