//! A broker that blocks publishers (a memory alarm): `dispatch()` fails
//! within its timeout saying so, workers keep acknowledging the jobs
//! already queued, and once the alarm clears nothing confirmed is lost.
//!
//! The alarm is real: the memory watermark of a RabbitMQ node of this
//! test's own is set very low, then restored. Never the machine's shared
//! broker: `.ci/run` starts the node with `tests/rabbitmq/own-node.sh` and
//! names it in `FASTEVENT_OWN_NODE` (`fe-blocked@localhost`) and
//! `FASTEVENT_OWN_NODE_URL`; the test is ignored otherwise, and run alone.

use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
use fastevent::driver::durable::durable_queue_of;
use fastevent::job::JobDefaults;
use fastevent::worker::{StopReason, Worker, WorkerOptions, WorkerReport};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(3);

/// The node's name and URL; refuses the shared broker.
fn own_node() -> (String, String) {
    let node =
        std::env::var("FASTEVENT_OWN_NODE").expect("FASTEVENT_OWN_NODE: a node of the test's own");
    let url = std::env::var("FASTEVENT_OWN_NODE_URL").expect("FASTEVENT_OWN_NODE_URL");
    assert!(
        !node.starts_with("rabbit@") && !url.contains(":5672/"),
        "this test blocks its broker: never the shared one ({node}, port 5672)"
    );
    (node, url)
}

/// Sets the node's memory watermark (a fraction of the machine's memory).
fn watermark(node: &str, fraction: &str) {
    let status = Command::new("rabbitmqctl")
        .args(["-q", "-n", node, "set_vm_memory_high_watermark", fraction])
        .status()
        .unwrap();
    assert!(
        status.success(),
        "rabbitmqctl set_vm_memory_high_watermark {fraction}"
    );
}

/// Puts the watermark back even when the test fails half-way.
struct Restore(String);

impl Drop for Restore {
    fn drop(&mut self) {
        watermark(&self.0, "0.4");
    }
}

/// (run, n) -> how many times it was handled.
static HANDLED: LazyLock<Mutex<HashMap<(String, u64), u32>>> = LazyLock::new(Default::default);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Stocked {
    run: String,
    n: u64,
}

#[derive(Default)]
struct CountStocked;

#[listener(on = Stocked)]
impl CountStocked {
    async fn handle(&self, event: &Stocked) {
        *HANDLED
            .lock()
            .unwrap()
            .entry((event.run.clone(), event.n))
            .or_default() += 1;
    }
}

fn driver(url: &str) -> AmqpDriver {
    let options = AmqpOptions {
        prefix: format!("fe-blocked-{}", std::process::id()),
        operation_timeout: TIMEOUT,
        ..AmqpOptions::new(url)
    };
    AmqpDriver::new(options, JobDefaults::default(), None)
}

async fn drain(driver: &AmqpDriver) -> WorkerReport {
    let options = WorkerOptions {
        concurrency: 4,
        poll_interval: Duration::from_millis(5),
        stop_when_empty: true,
        max_time: Some(Duration::from_secs(30)),
        ..WorkerOptions::default()
    };
    let durable = durable_queue_of(Arc::new(driver.clone()));
    Worker::new(durable, options, None)
        .run(std::future::pending())
        .await
}

fn dispatch(driver: &AmqpDriver, run: &str, n: u64) -> impl Future<Output = Result<(), String>> {
    let event = Stocked { run: run.into(), n };
    let driver = driver.clone();
    async move {
        fastevent::dispatch_to(&driver, event)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "blocks a broker: needs a node of its own (.ci/run starts one and runs this alone)"]
async fn a_blocked_broker_fails_dispatch_in_time_and_workers_keep_acking() {
    let (node, url) = own_node();
    let run = format!("blocked-{}", std::process::id());
    let driver = driver(&url);
    for n in 0..30 {
        dispatch(&driver, &run, n).await.unwrap();
    }

    watermark(&node, "0.00001");
    let restore = Restore(node.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Dispatches while blocked: each fails, in time, saying why.
    let mut refused = Vec::new();
    for n in 100..103 {
        let started = Instant::now();
        let outcome = dispatch(&driver, &run, n).await;
        let took = started.elapsed();
        println!("dispatch while blocked: {took:?}: {outcome:?}");
        let error = outcome.expect_err("the broker blocks publishers");
        assert!(error.contains("blocking publishers"), "{error}");
        assert!(error.contains("memory or disk alarm"), "{error}");
        assert!(took < TIMEOUT + Duration::from_secs(1), "took {took:?}");
        refused.push(n);
    }
    // The jobs queued before the alarm are handled and acknowledged.
    let report = drain(&driver).await;
    println!("worker while blocked: {report:?}");
    assert_eq!(report.stopped, StopReason::Empty, "{report:?}");
    assert_eq!(report.succeeded, 30, "{report:?}");

    drop(restore);
    tokio::time::sleep(Duration::from_secs(1)).await;
    for n in 30..40 {
        dispatch(&driver, &run, n).await.unwrap();
    }
    let report = drain(&driver).await;
    println!("worker after the alarm: {report:?}");

    let handled = HANDLED.lock().unwrap();
    let missing: Vec<u64> = (0..40)
        .filter(|n| !handled.contains_key(&(run.clone(), *n)))
        .collect();
    let late: Vec<u64> = refused
        .iter()
        .copied()
        .filter(|n| handled.contains_key(&(run.clone(), *n)))
        .collect();
    let duplicates: u32 = handled.values().map(|c| c - 1).sum();
    println!(
        "40 confirmed: {} missing, {duplicates} duplicates; refused dispatches handled anyway: {late:?}",
        missing.len()
    );
    assert!(missing.is_empty(), "lost: {missing:?}");
}
