//! One PostgreSQL driver used by one Tokio runtime after another, as a
//! driver kept for the whole process is when each `#[tokio::test]` (or
//! each `block_on`) runs on a runtime of its own: every runtime that uses
//! it gets working connections and working wake-ups, whatever became of
//! the runtimes before it.

mod postgres_support;

use fastevent::driver::durable::{QueueAdmin, WorkQueue};
use fastevent::{Event, listener};
use postgres_support::{DropSchema, url};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize, Event)]
struct Knocked {
    n: u64,
}

#[derive(Default)]
struct Answer;
#[listener(on = Knocked)]
impl Answer {
    async fn handle(&self, _: &Knocked) {}
}

/// Runs `future` on a runtime of its own, on a thread of its own; the
/// runtime is gone when this returns.
fn on_a_runtime_of_its_own<T: Send + 'static>(
    future: impl Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    })
    .join()
    .unwrap()
}

fn ready(depth: Vec<fastevent::driver::durable::QueueDepth>) -> u64 {
    depth.iter().map(|d| d.ready).sum()
}

#[test]
fn every_runtime_that_uses_the_driver_gets_working_connections() {
    let Some(url) = url() else { return };
    let schema = postgres_support::fresh_schema("runtimes");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let driver = postgres_support::driver(&url, &schema, None);
    // Each runtime leaves idle connections in the pool when it ends; the
    // next one must not be handed those dead ones.
    for round in 1..=20u64 {
        let driver = driver.clone();
        let result = on_a_runtime_of_its_own(async move {
            fastevent::dispatch_to(&driver, Knocked { n: round }).await?;
            let depth = driver.depth().await?;
            Ok::<u64, Box<dyn std::error::Error + Send + Sync>>(ready(depth))
        });
        match result {
            Ok(jobs) => assert_eq!(jobs, round, "round {round}"),
            Err(error) => panic!("round {round}: {error}"),
        }
    }
}

#[test]
fn idle_workers_are_woken_on_a_runtime_after_the_first_ended() {
    let Some(url) = url() else { return };
    let schema = postgres_support::fresh_schema("rewake");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let worker = postgres_support::driver(&url, &schema, None);
    // The first runtime starts the driver's listening connection.
    let first = worker.clone();
    on_a_runtime_of_its_own(async move {
        first.wait_for_jobs("w1", Duration::from_millis(10)).await;
    });
    let second = worker.clone();
    let (url2, schema2) = (url.clone(), schema.clone());
    let took = on_a_runtime_of_its_own(async move {
        let queues = vec!["default".to_string()];
        let claimed = second.claim(&queues, 1, "w1", Duration::from_secs(30));
        assert!(claimed.await.unwrap().is_empty());
        // Another process's driver dispatches while the worker waits.
        let other = postgres_support::driver(&url2, &schema2, None);
        let dispatcher = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            fastevent::dispatch_to(&other, Knocked { n: 1 })
                .await
                .unwrap();
            other
        });
        let started = Instant::now();
        second.wait_for_jobs("w1", Duration::from_secs(20)).await;
        let took = started.elapsed();
        drop(dispatcher.await.unwrap());
        took
    });
    println!("woken after {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "the worker slept {took:?}: no notification reached it"
    );
}

#[test]
fn dispatches_notify_other_processes_after_the_first_runtime_ended() {
    let Some(url) = url() else { return };
    let schema = postgres_support::fresh_schema("renotify");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let dispatcher = postgres_support::driver(&url, &schema, None);
    // The first runtime ends right after its dispatch returns, before the
    // notification of it has been sent.
    let first = dispatcher.clone();
    on_a_runtime_of_its_own(async move {
        fastevent::dispatch_to(&first, Knocked { n: 1 })
            .await
            .unwrap();
    });
    let worker = postgres_support::driver(&url, &schema, None);
    let took = on_a_runtime_of_its_own(async move {
        // The worker's listening connection is up before it claims: its
        // first connection wakes it once.
        worker.wait_for_jobs("w1", Duration::from_millis(10)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let queues = vec!["default".to_string()];
        let claimed = worker.claim(&queues, 10, "w1", Duration::from_secs(30));
        assert_eq!(claimed.await.unwrap().len(), 1);
        let dispatch = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            fastevent::dispatch_to(&dispatcher, Knocked { n: 2 })
                .await
                .unwrap();
            dispatcher
        });
        let started = Instant::now();
        worker.wait_for_jobs("w1", Duration::from_secs(20)).await;
        let took = started.elapsed();
        drop(dispatch.await.unwrap());
        took
    });
    println!("woken after {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "the worker slept {took:?}: the dispatcher sent no notification"
    );
}
