//! Several nodes in `RABBITMQ_URL`: a connection goes to the first node
//! that answers, and publishers and workers fail over to the next one when
//! theirs goes away. The "nodes" are TCP relays on loopback in front of the
//! one broker, which the test can cut as a node loss would.
//!
//! Runs when `FASTEVENT_AMQP_URL` names a broker; otherwise each test says
//! it was skipped and passes. Queues get a unique prefix and expire 20 s
//! after their last use.

mod amqp_support;

use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
use fastevent::driver::durable::durable_queue_of;
use fastevent::job::JobDefaults;
use fastevent::worker::{StopReason, Worker, WorkerOptions};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The broker's URL, or `None` (after saying so).
fn broker_url() -> Option<String> {
    let url = std::env::var("FASTEVENT_AMQP_URL").ok();
    if url.is_none() {
        eprintln!("skipped: needs RabbitMQ; set FASTEVENT_AMQP_URL");
    }
    url
}

/// `url` with its host and port replaced by 127.0.0.1:`port`.
fn at_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, after) = rest.rsplit_once('@').unwrap();
    let path = after.find('/').map_or("", |i| &after[i..]);
    format!("{scheme}://{credentials}@127.0.0.1:{port}{path}")
}

/// The broker's address (host:port) in `url`.
fn address(url: &str) -> String {
    let after = url.split_once("://").unwrap().1.rsplit_once('@').unwrap().1;
    after.split('/').next().unwrap().to_string()
}

/// A driver on `urls` under a fresh prefix, and the guard that deletes
/// what it declares through `broker` (a node that stays up).
fn driver(urls: &str, broker: &str) -> (AmqpDriver, amqp_support::Tidy) {
    let prefix = amqp_support::fresh_prefix("nodes");
    let options = AmqpOptions {
        prefix: prefix.clone(),
        operation_timeout: Duration::from_secs(5),
        ..AmqpOptions::new(urls)
    };
    assert_eq!(options.check(), Ok(()), "{urls}");
    let tidy = amqp_support::Tidy::new(broker, &prefix);
    (AmqpDriver::new(options, JobDefaults::default(), None), tidy)
}

/// A TCP relay to the broker: a stand-in for one node that can be cut.
struct Relay {
    port: u16,
    accepted: Arc<AtomicUsize>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    async fn start(backend: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let (count, spawned) = (accepted.clone(), tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let backend = backend.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                spawned.lock().unwrap().push(pipe);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self {
            port,
            accepted,
            tasks,
        }
    }

    /// Cuts every connection through it and stops listening: the node is
    /// gone.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// (run, n) -> how many times it was handled.
static HANDLED: LazyLock<Mutex<HashMap<(String, u64), u32>>> = LazyLock::new(Default::default);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Hop {
    run: String,
    n: u64,
}

#[derive(Default)]
struct CountHop;

#[listener(on = Hop)]
impl CountHop {
    async fn handle(&self, event: &Hop) {
        *HANDLED
            .lock()
            .unwrap()
            .entry((event.run.clone(), event.n))
            .or_default() += 1;
    }
}

async fn dispatch(driver: &AmqpDriver, run: &str, numbers: std::ops::Range<u64>) {
    for n in numbers {
        let event = Hop { run: run.into(), n };
        fastevent::dispatch_to(driver, event).await.unwrap();
    }
}

/// Runs a worker until the queue is empty.
async fn drain(driver: &AmqpDriver) {
    let options = WorkerOptions {
        concurrency: 4,
        poll_interval: Duration::from_millis(5),
        stop_when_empty: true,
        max_time: Some(Duration::from_secs(30)),
        ..WorkerOptions::default()
    };
    let durable = durable_queue_of(Arc::new(driver.clone()));
    let report = Worker::new(durable, options, None)
        .run(std::future::pending())
        .await;
    assert_eq!(report.stopped, StopReason::Empty, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_node_that_answers_is_used() {
    let Some(url) = broker_url() else { return };
    // Port 1: nothing listens, the refusal is immediate.
    let urls = format!("{}, {url}", at_port(&url, 1));
    let (driver, _tidy) = driver(&urls, &url);
    driver.declare("default").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_down_is_an_error_naming_each() {
    let Some(url) = broker_url() else { return };
    let urls = format!("{}, {}", at_port(&url, 1), at_port(&url, 2));
    let (driver, _tidy) = driver(&urls, &url);
    let error = driver.declare("default").await.unwrap_err().to_string();
    println!("{error}");
    assert!(error.contains("127.0.0.1:1/"), "{error}");
    assert!(error.contains("127.0.0.1:2/"), "{error}");
    assert!(!error.contains(":guest@"), "no password: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_and_workers_fail_over_when_their_node_goes() {
    let Some(url) = broker_url() else { return };
    let (first, second) = (
        Relay::start(address(&url)).await,
        Relay::start(address(&url)).await,
    );
    let urls = format!(
        "{},{}",
        at_port(&url, first.port),
        at_port(&url, second.port)
    );
    let (driver, _tidy) = driver(&urls, &url);
    let run = format!("failover-{}", std::process::id());

    dispatch(&driver, &run, 0..20).await;
    drain(&driver).await;
    assert!(
        first.connections() >= 2,
        "publish and consume on the first node"
    );
    assert_eq!(second.connections(), 0, "the second node is not needed yet");

    first.cut();
    dispatch(&driver, &run, 20..40).await;
    drain(&driver).await;
    assert!(
        second.connections() >= 2,
        "publishers and workers moved to the second node: {} connection(s)",
        second.connections()
    );

    let handled = HANDLED.lock().unwrap();
    let missing: Vec<u64> = (0..40)
        .filter(|n| !handled.contains_key(&(run.clone(), *n)))
        .collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
}
