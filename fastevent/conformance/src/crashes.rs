//! Crashes: a worker process killed mid-job, and a job that kills every
//! worker that runs it.

use super::listeners::*;
use super::{Target, drain, options, run_id, spawn_child, worker};
use fastevent::worker::WorkerOptions;
use std::time::{Duration, Instant};
/// The other half of [`a_worker_killed_mid_job_loses_nothing`]: the worker
/// that gets killed, in its own process.
pub async fn run_child_worker(target: &dyn Target) {
    let queue = target.open_from_env();
    worker(
        &queue,
        WorkerOptions {
            stop_when_empty: false,
            ..options()
        },
    )
    .run(std::future::pending())
    .await;
}

/// A worker process SIGKILLed mid-job loses nothing: its job runs again after the lease. `module` is where [`conformance_suite!`](crate::conformance_suite) declared `child_worker`.
pub async fn a_worker_killed_mid_job_loses_nothing(target: &dyn Target, module: &str) {
    let queue = target.open(None);
    let run = run_id("sigkill");
    let started_file = std::env::temp_dir().join(format!("{run}.started"));
    let event = Slow {
        run: run.clone(),
        n: 0,
        millis: 10,
        started_file: Some(started_file.display().to_string()),
    };
    fastevent::dispatch_to(queue.driver.as_ref(), event)
        .await
        .unwrap();
    for n in 1..=5 {
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

    let mut child = spawn_child(&queue, module);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !started_file.exists() {
        assert!(
            Instant::now() < deadline,
            "the child worker never started the job"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child worker exited early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL on Unix: the worker gets no chance to hand anything back.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status}");
    let _ = std::fs::remove_file(&started_file);

    // Its lease runs out (2s), and this worker runs the job to the end.
    let report = drain(&queue).await;
    let slow = SLOW.lock().unwrap()[&(run.clone(), 0)];
    println!(
        "sigkill: the killed job ran again here and finished ({} start(s) here, {} finish); worker report {report:?}",
        slow.0, slow.1
    );
    assert_eq!(slow.1, 1, "the job killed mid-run never finished");
    // The other jobs ran in the child or here: either way they are done,
    // since a job leaves the queue only after its listener succeeded.
    let left: u64 = queue
        .durable
        .depth()
        .await
        .unwrap()
        .iter()
        .map(|d| d.ready + d.running + d.delayed)
        .sum();
    assert_eq!(left, 0);
    assert!(queue.durable.failed_jobs(10).await.unwrap().is_empty());
}

/// A poison job that crashes its worker every time (left alone, it would
/// crash worker after worker for ever): each crash counts as an attempt, and once its tries
/// are spent it goes to the failed store without running again.
pub async fn a_job_that_kills_its_worker_every_time_is_dead_lettered(
    target: &dyn Target,
    module: &str,
) {
    let queue = target.open(None);
    let run = run_id("crash");
    let started_file = std::env::temp_dir().join(format!("{run}.starts"));
    let starts = || {
        std::fs::read_to_string(&started_file)
            .unwrap_or_default()
            .lines()
            .count()
    };
    fastevent::dispatch_to(
        queue.driver.as_ref(),
        Crash {
            run: run.clone(),
            started_file: started_file.display().to_string(),
        },
    )
    .await
    .unwrap();

    // `tries = 2`: two worker processes take the job, and it kills each.
    for crash in 1..=2 {
        let mut child = spawn_child(&queue, module);
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "child worker {crash} never ran the job (starts: {})",
                    starts()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(!status.success(), "{status}");
        assert_eq!(starts(), crash, "each crash is one start");
    }

    // Out of tries: refused before it can kill this worker too.
    let report = drain(&queue).await;
    let _ = std::fs::remove_file(&started_file);
    println!("crash loop: the job ran {} times, then {report:?}", 2);
    assert_eq!((report.succeeded, report.failed), (0, 1), "{report:?}");
    let failed = queue.durable.failed_jobs(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].listener, "fastevent_conformance.crash_listener");
    assert!(failed[0].error.contains("died"), "{}", failed[0].error);
}
