//! Delivery: every job handled, duplicates counted, the context carried,
//! a dispatch all or nothing, a graceful shutdown that loses nothing.

use super::listeners::*;
use super::{Target, drain, options, run_id, worker};
use fastevent::context;
use fastevent::worker::{StopReason, WorkerOptions};
use std::collections::HashMap;
use std::time::Duration;

/// Every job of many events is handled; duplicates are counted and printed.
pub async fn every_job_is_handled_and_duplicates_are_counted(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("all");
    const N: u64 = 400;
    let mut jobs = 0;
    for n in 0..N {
        let event = Counted {
            run: run.clone(),
            n,
        };
        jobs += fastevent::dispatch_to(queue.driver.as_ref(), event)
            .await
            .unwrap()
            .jobs;
    }
    assert_eq!(jobs, N as usize);
    // Two workers share the queue, as two processes would.
    let (a, b) = tokio::join!(drain(&queue), drain(&queue));
    let counts = handled(&run);
    let missing: Vec<u64> = (0..N).filter(|n| !counts.contains_key(n)).collect();
    let duplicates: u32 = counts.values().map(|c| c - 1).sum();
    println!(
        "all jobs: {N} dispatched, {} handled, {} missing, {duplicates} duplicates (workers: {} + {} succeeded)",
        counts.len(),
        missing.len(),
        a.succeeded,
        b.succeeded
    );
    assert!(missing.is_empty(), "jobs lost: {missing:?}");
    assert_eq!(
        a.succeeded + b.succeeded,
        N,
        "each job succeeds once when no worker dies"
    );
    assert_eq!(duplicates, 0);
}

/// The context of a dispatch reaches its listener in the worker.
pub async fn the_dispatch_context_reaches_the_worker(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("context");
    let event = WithContext { run: run.clone() };
    context::scope(async {
        context::set(&USER_ID, 4242).unwrap();
        fastevent::dispatch_to(queue.driver.as_ref(), event)
            .await
            .unwrap();
    })
    .await;
    drain(&queue).await;
    assert_eq!(SEEN_USERS.lock().unwrap()[&run], Some(4242));
}

/// A dispatch the driver refuses leaves none of its jobs; one it takes leaves all.
pub async fn a_dispatch_is_all_or_nothing(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("atomic");
    // Over the size limit: refused at dispatch, for both listeners.
    let error = fastevent::dispatch_to(
        queue.driver.as_ref(),
        Pair {
            run: run.clone(),
            blob: "x".repeat(300 * 1024),
        },
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("over the limit"), "{error}");
    let depth: u64 = queue
        .durable
        .depth()
        .await
        .unwrap()
        .iter()
        .map(|d| d.ready)
        .sum();
    assert_eq!(depth, 0, "a refused dispatch left jobs behind");

    let dispatched = fastevent::dispatch_to(
        queue.driver.as_ref(),
        Pair {
            run: run.clone(),
            blob: "ok".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(dispatched.jobs, 2);
    drain(&queue).await;
    assert_eq!(handled(&run), HashMap::from([(1, 1), (2, 1)]));
}

/// A worker told to stop finishes its jobs or hands them back; none is lost.
pub async fn graceful_shutdown_finishes_or_hands_back_every_job(target: &dyn Target) {
    let queue = target.open(None);
    let run = run_id("shutdown");
    for n in 0..12 {
        let event = Slow {
            run: run.clone(),
            n,
            millis: 300,
            started_file: None,
        };
        fastevent::dispatch_to(queue.driver.as_ref(), event)
            .await
            .unwrap();
    }
    // A worker told to stop while 4 jobs run, with no grace: it hands them back.
    let stop_soon = tokio::time::sleep(Duration::from_millis(100));
    let impatient = WorkerOptions {
        concurrency: 4,
        shutdown_grace: Duration::ZERO,
        stop_when_empty: false,
        ..options()
    };
    let report = worker(&queue, impatient).run(stop_soon).await;
    assert_eq!(report.stopped, StopReason::Shutdown);
    assert_eq!(report.released, 4, "{report:?}");

    // A patient one, told to stop at once: its in-flight jobs finish.
    let patient = WorkerOptions {
        concurrency: 4,
        shutdown_grace: Duration::from_secs(10),
        stop_when_empty: false,
        ..options()
    };
    let report = worker(&queue, patient)
        .run(tokio::time::sleep(Duration::from_millis(100)))
        .await;
    assert_eq!((report.succeeded, report.released), (4, 0), "{report:?}");

    drain(&queue).await;
    let slow = SLOW.lock().unwrap();
    let finished = (0..12)
        .filter(|n| slow.get(&(run.clone(), *n)).is_some_and(|s| s.1 >= 1))
        .count();
    let restarted = (0..12)
        .filter(|n| slow.get(&(run.clone(), *n)).is_some_and(|s| s.0 > 1))
        .count();
    println!(
        "shutdown: 12 jobs, {finished} finished, {restarted} started twice (handed back mid-run)"
    );
    assert_eq!(finished, 12, "jobs were lost");
    assert_eq!(restarted, 4);
}
