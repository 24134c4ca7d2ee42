//! One PostgreSQL driver used by one Tokio runtime after another, as a
//! driver kept for the whole process is when each `#[tokio::test]` (or
//! each `block_on`) runs on a runtime of its own: every runtime that uses
//! it gets working connections and working wake-ups, whatever became of
//! the runtimes before it.

mod postgres_support;

use fastevent::driver::durable::{QueueAdmin, WorkQueue};
use fastevent::{Event, listener};
use fastevent_conformance::block_on;
use postgres_support::{DropSchema, claim_all, url, woken_after};
use serde::{Deserialize, Serialize};
use std::time::Duration;

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
        let result = block_on(async move {
            // Whether a dead connection fails its first use is chance; that
            // none is handed on is not: a runtime after the first starts
            // with a pool of no connections (the first opens one to make
            // the tables).
            let inherited = driver.pool().await?.size();
            let expected = u32::from(round == 1);
            let said = format!("round {round}: connections of an ended runtime");
            assert_eq!(inherited, expected, "{said}");
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
    block_on(async move {
        first.wait_for_jobs("w1", Duration::from_millis(10)).await;
    });
    let second = worker.clone();
    let other = postgres_support::driver(&url, &schema, None);
    let took = block_on(async move {
        assert_eq!(claim_all(&second).await, 0);
        // Another process's driver dispatches while the worker waits.
        let dispatch = async move {
            fastevent::dispatch_to(&other, Knocked { n: 1 })
                .await
                .unwrap();
            other
        };
        woken_after(&second, dispatch).await
    });
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
    block_on(async move {
        fastevent::dispatch_to(&first, Knocked { n: 1 })
            .await
            .unwrap();
    });
    let worker = postgres_support::driver(&url, &schema, None);
    let took = block_on(async move {
        // The worker's listening connection is up before it claims: its
        // first connection wakes it once.
        worker.wait_for_jobs("w1", Duration::from_millis(10)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(claim_all(&worker).await, 1);
        let dispatch = async move {
            fastevent::dispatch_to(&dispatcher, Knocked { n: 2 })
                .await
                .unwrap();
            dispatcher
        };
        woken_after(&worker, dispatch).await
    });
    assert!(
        took < Duration::from_secs(5),
        "the worker slept {took:?}: the dispatcher sent no notification"
    );
}
