//! Chaos on a real RabbitMQ cluster: three nodes on loopback
//! (`tests/cluster/cluster.sh`), quorum queues, workers and dispatchers
//! running, one node killed with SIGKILL mid-run and restarted. Every event
//! whose `dispatch()` returned `Ok` must be handled at least once;
//! duplicates and dispatch errors are counted and printed.
//!
//! The queues are declared through node 2, so their leaders live there
//! (RabbitMQ places a quorum queue's leader on the declaring client's
//! node); node 2 is the one killed, which forces a leader election of the
//! work queue, the delay levels and the failed store mid-run. Workers and
//! dispatchers talk to node 1, which stays up (this driver connects to one
//! node URL).
//!
//! Ignored by default: it needs root and `rabbitmq-server`, and takes
//! about a minute. `.ci/run` runs it.

mod amqp_support;

use fastevent::driver::Driver;
use fastevent::driver::amqp::topology::QueueType;
use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
use fastevent::driver::durable::QueueAdmin;
use fastevent::job::JobDefaults;
use fastevent::worker::{BackoffDefaults, Worker, WorkerOptions};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Job number -> times handled.
static HANDLED: Mutex<BTreeMap<u64, u32>> = Mutex::new(BTreeMap::new());

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct ClusterJob {
    pub n: u64,
}

#[derive(Default)]
pub struct RecordClusterJob;

/// Every 10th job fails its first attempt: retries cross the delay levels
/// while their leader dies.
#[listener(on = ClusterJob, tries = 10, backoff = "200ms")]
impl RecordClusterJob {
    async fn handle(&self, job: &ClusterJob) -> Result<(), String> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if job.n.is_multiple_of(10) && FIRST_TRIES.lock().unwrap().insert(job.n) {
            return Err("first attempt of a tenth job".into());
        }
        *HANDLED.lock().unwrap().entry(job.n).or_insert(0) += 1;
        Ok(())
    }
}

static FIRST_TRIES: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());

const BASE_PORT: u16 = 5680;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/cluster.sh")
}

fn run_script(args: &[&str]) {
    let status = Command::new(script())
        .args(args)
        .env("FE_CLUSTER_PORT_BASE", BASE_PORT.to_string())
        .status()
        .expect("tests/cluster/cluster.sh");
    assert!(status.success(), "cluster.sh {args:?} failed");
}

/// The cluster, stopped (every node) when dropped.
struct Cluster {
    dir: String,
}

impl Cluster {
    fn start() -> Self {
        let dir = std::env::temp_dir()
            .join(format!("fe-cluster-{}", std::process::id()))
            .display()
            .to_string();
        let cluster = Self { dir };
        run_script(&["start", &cluster.dir]);
        cluster
    }

    fn url(&self, node: u16) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", BASE_PORT + node)
    }

    /// Every node's URL, comma separated, `first` first: a client connects
    /// to `first` and fails over to the others.
    fn urls_from(&self, first: u16) -> String {
        let order = [first, first % 3 + 1, (first + 1) % 3 + 1];
        order.map(|node| self.url(node)).join(",")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        run_script(&["stop", &self.dir]);
    }
}

fn driver(url: &str, prefix: &str) -> Arc<AmqpDriver> {
    let options = AmqpOptions {
        prefix: prefix.to_string(),
        queue_type: Some(QueueType::Quorum),
        operation_timeout: Duration::from_secs(5),
        ..AmqpOptions::new(url)
    };
    Arc::new(AmqpDriver::new(options, JobDefaults::default(), None))
}

/// Dispatches from `tasks` tasks until `until`: the numbers whose dispatch
/// returned `Ok`, the errors and the first of them.
async fn dispatch_until(
    driver: Arc<AmqpDriver>,
    tasks: u64,
    until: Instant,
) -> (BTreeSet<u64>, usize, Option<String>) {
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let driver = driver.clone();
            tokio::spawn(async move {
                let (mut accepted, mut refused, mut first) = (Vec::new(), 0, None);
                let mut i = 0;
                while Instant::now() < until {
                    let n = i * tasks + task;
                    i += 1;
                    let job = ClusterJob { n };
                    match fastevent::dispatch_to(driver.as_ref() as &dyn Driver, job).await {
                        Ok(_) => accepted.push(n),
                        Err(error) => {
                            refused += 1;
                            first.get_or_insert(error.to_string());
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                (accepted, refused, first)
            })
        })
        .collect();
    let (mut accepted, mut refused, mut first) = (BTreeSet::new(), 0, None);
    for handle in handles {
        let (ok, failed, error) = handle.await.unwrap();
        accepted.extend(ok);
        refused += failed;
        first = first.or(error);
    }
    (accepted, refused, first)
}

fn worker_options() -> WorkerOptions {
    WorkerOptions {
        concurrency: 8,
        poll_interval: Duration::from_millis(20),
        heartbeat_interval: Duration::from_millis(200),
        lease: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(5),
        backoff: BackoffDefaults {
            first: Duration::from_millis(200),
            max: Duration::from_secs(2),
        },
        ..WorkerOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts a three-node RabbitMQ cluster (root, rabbitmq-server); run by .ci/run"]
async fn a_node_killed_mid_run_loses_no_dispatched_job() {
    let cluster = Cluster::start();
    let prefix = amqp_support::fresh_prefix("cluster");
    // Declared through node 2: the leaders live there.
    let on_node_2 = driver(&cluster.url(2), &prefix);
    on_node_2.declare("default").await.unwrap();
    on_node_2.failed_jobs(1).await.unwrap();

    // One worker starts on the node that dies, the other on node 1.
    let workers_driver = driver(&cluster.urls_from(1), &prefix);
    let stop = Arc::new(tokio::sync::Notify::new());
    let workers: Vec<_> = [2, 1]
        .map(|first| {
            let (driver, stop) = (driver(&cluster.urls_from(first), &prefix), stop.clone());
            tokio::spawn(async move {
                let stopped = async move { stop.notified().await };
                Worker::new(driver, worker_options(), None)
                    .run(stopped)
                    .await
            })
        })
        .into_iter()
        .collect();

    let start = Instant::now();
    let dispatching = tokio::spawn(dispatch_until(
        driver(&cluster.urls_from(2), &prefix),
        4,
        start + Duration::from_secs(25),
    ));
    tokio::time::sleep(Duration::from_secs(6)).await;
    run_script(&["kill", "2", &cluster.dir]);
    println!("cluster: node 2 killed at {:?}", start.elapsed());
    tokio::time::sleep(Duration::from_secs(6)).await;
    run_script(&["restart", "2", &cluster.dir]);
    println!("cluster: node 2 restarted at {:?}", start.elapsed());

    let (accepted, refused, first_error) = dispatching.await.unwrap();
    let waiting = Instant::now();
    // How long the jobs get to come back (`FE_CLUSTER_WAIT_S`, 120 s).
    let wait = std::env::var("FE_CLUSTER_WAIT_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let deadline = Instant::now() + Duration::from_secs(wait);
    let missing = loop {
        let missing: Vec<u64> = {
            let handled = HANDLED.lock().unwrap();
            accepted
                .iter()
                .filter(|n| !handled.contains_key(n))
                .copied()
                .collect()
        };
        if missing.is_empty() || Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "cluster: the last job came back {:?} after dispatching ended",
        waiting.elapsed()
    );
    let failed = workers_driver.failed_count().await.unwrap_or(0);
    stop.notify_waiters();
    for worker in workers {
        let _ = tokio::time::timeout(Duration::from_secs(20), worker).await;
    }
    let handled = HANDLED.lock().unwrap().clone();
    let duplicates: u32 = handled.values().map(|c| c - 1).sum();
    let unexpected = handled.keys().filter(|n| !accepted.contains(n)).count();
    println!(
        "cluster: {} dispatched Ok, {refused} dispatch errors (first: {first_error:?}), {} handled, \
         {} lost, {duplicates} duplicate run(s), {unexpected} handled though their dispatch failed, \
         {failed} in the failed store",
        accepted.len(),
        handled.len(),
        missing.len()
    );
    assert!(accepted.len() > 200, "too few dispatches succeeded");
    assert!(
        missing.is_empty(),
        "{} job(s) whose dispatch returned Ok were never handled: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
}
