//! Section `amqp`: fastevent on RabbitMQ end to end, against the raw broker
//! driven by lapin alone, in the same run and on the same broker.
//!
//! - fastevent: `D` tasks `dispatch()` N events with one trivial listener
//!   (each dispatch waits for the broker's confirm), while `W` in-process
//!   workers of concurrency `C` run them; timed from the first dispatch to
//!   the last listener call.
//! - raw lapin: one channel publishes N persistent messages, pipelined with
//!   up to 1024 confirms outstanding (more than fastevent's `D`: the
//!   baseline gets every advantage), to a durable queue, while `W` consumers
//!   with prefetch `C` ack each one by hand; timed the same way.
//! - latency: events sent one at a time to idle workers; from just before
//!   `dispatch()` (or `basic_publish`) to the listener (or consumer).
//!
//! Skipped, with a message, when the broker cannot be reached
//! (`FASTEVENT_AMQP_URL`, else `RABBITMQ_URL`, else the local default).

use super::{
    CALLS, Row, Settings, Spread, Target, count_call, group, multi_thread_runtime, peak_rss_mib,
};
use fastevent::driver::amqp::AmqpOptions;
use fastevent::worker::{Worker, WorkerOptions};
use fastevent::{Event, listener};
use lapin::message::DeliveryResult;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// The broker round trips make each event cost ~100x a `sync` dispatch:
/// this section runs N / this many events per repetition.
const N_DIVISOR: u64 = 25;
/// Concurrent dispatching tasks.
const DISPATCHERS: u64 = 64;
/// Confirms the raw publisher keeps in flight.
const RAW_WINDOW: usize = 1024;
/// Workers (raw: consumers), and the concurrency (raw: prefetch) of each.
const WORKERS: usize = 2;
const CONCURRENCY: usize = 32;
/// Events sent one at a time for the latency figures.
const LATENCY_SAMPLES: usize = 500;

const TARGET_RATIO_PERCENT: f64 = 70.0;
const TARGET_P50_MS: f64 = 2.0;

/// Since when `sent_ns` counts, in this process.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
/// Dispatch-to-listener latencies of the latency phase, in ns.
static LATENCIES: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn now_ns() -> u64 {
    EPOCH.elapsed().as_nanos() as u64
}

/// The event of this section: one trivial listener.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct AmqpBenchEvent {
    id: u64,
    /// When it was dispatched (latency phase only; 0 otherwise).
    sent_ns: u64,
}

#[derive(Default)]
struct AmqpBenchListener;

#[listener(on = AmqpBenchEvent)]
impl AmqpBenchListener {
    async fn handle(&self, event: &AmqpBenchEvent) {
        if event.sent_ns != 0 {
            record_latency(event.sent_ns);
        }
        count_call(event.id);
    }
}

fn record_latency(sent_ns: u64) {
    let latency = now_ns().saturating_sub(sent_ns);
    LATENCIES.lock().unwrap().push(latency);
}

fn take_latencies() -> Vec<f64> {
    let mut samples = std::mem::take(&mut *LATENCIES.lock().unwrap());
    samples.sort_unstable();
    samples.into_iter().map(|ns| ns as f64 / 1e6).collect()
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return f64::NAN;
    }
    sorted_ms[((sorted_ms.len() - 1) as f64 * p).round() as usize]
}

fn broker_url() -> String {
    ["FASTEVENT_AMQP_URL", "RABBITMQ_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| AmqpOptions::DEFAULT_URL.into())
}

pub(super) fn bench_amqp(settings: &Settings) -> Result<Vec<Row>, String> {
    let url = broker_url();
    let shown = AmqpOptions::new(url.clone()).shown_url();
    let runtime = multi_thread_runtime(2)?;
    let reachable = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(3),
            Connection::connect(&url, ConnectionProperties::default()),
        )
        .await
    });
    match reachable {
        Ok(Ok(connection)) => {
            let _ = runtime.block_on(connection.close(200, "probe".into()));
        }
        Ok(Err(error)) => {
            println!("   skipped: RabbitMQ at {shown} is unreachable ({error})");
            return Ok(Vec::new());
        }
        Err(_) => {
            println!("   skipped: RabbitMQ at {shown} did not answer within 3s");
            return Ok(Vec::new());
        }
    }

    let n = (settings.n / N_DIVISOR).max(1000);
    let prefix = format!("fe-bench-{}", std::process::id());
    let options = AmqpOptions {
        prefix: prefix.clone(),
        // Fresh queues each run, gone 10 minutes after it.
        queue_expires: Some(Duration::from_secs(600)),
        ..AmqpOptions::new(url.clone())
    };
    fastevent::Config::new()
        .queue_driver(fastevent::QueueDriver::Amqp)
        .amqp(options.clone())
        .install()
        .map_err(|e| format!("cannot install the amqp driver: {e}"))?;
    println!(
        "   broker {shown}; {} events per repetition; {DISPATCHERS} dispatching tasks (raw: {RAW_WINDOW} confirms in flight); \
         {WORKERS} workers x {CONCURRENCY} (raw: {WORKERS} consumers, prefetch {CONCURRENCY}); persistent messages, durable queues",
        group(n as f64)
    );

    runtime.block_on(async move {
        let queue = fastevent::durable_queue().map_err(|e| e.to_string())?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut workers = Vec::new();
        for _ in 0..WORKERS {
            let options = WorkerOptions {
                concurrency: CONCURRENCY,
                ..WorkerOptions::default()
            };
            let mut stopped = stopped.clone();
            let worker = Worker::new(queue.clone(), options, None);
            workers.push(tokio::spawn(worker.run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })));
        }
        let raw = RawBroker::open(&url, &format!("{prefix}.raw")).await?;

        // Warm-up: connections, queue declarations, code paths.
        fastevent_burst(n / 10).await?;
        raw.burst(n / 10).await?;
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..settings.reps {
            ours.push(n as f64 / fastevent_burst(n).await?.as_secs_f64());
            theirs.push(n as f64 / raw.burst(n).await?.as_secs_f64());
        }
        let our_latency = fastevent_latency().await?;
        let raw_latency = raw.latency().await?;

        let _ = stop.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        raw.close().await;
        let failed = fastevent::stats().failed;
        if failed != 0 {
            return Err(format!("{failed} fastevent job(s) failed"));
        }

        let (ours_spread, theirs_spread) = (Spread::of(&ours), Spread::of(&theirs));
        let ratio = 100.0 * ours_spread.median / theirs_spread.median;
        let best_ratio = 100.0 * Spread::max_of(&ours) / Spread::max_of(&theirs);
        println!(
            "   fastevent end to end : median {:>10} events/s   best {:>10}   worst {:>10}",
            group(ours_spread.median),
            group(Spread::max_of(&ours)),
            group(ours_spread.min)
        );
        println!(
            "   raw lapin            : median {:>10} msgs/s     best {:>10}   worst {:>10}",
            group(theirs_spread.median),
            group(Spread::max_of(&theirs)),
            group(theirs_spread.min)
        );
        println!(
            "   ratio                : {ratio:.1}% of the raw broker (best vs best {best_ratio:.1}%; target >= {TARGET_RATIO_PERCENT}%)"
        );
        println!(
            "   latency, one at a time, {LATENCY_SAMPLES} samples: fastevent dispatch-to-listener p50 {:.3} ms  p90 {:.3}  p99 {:.3}; \
             raw publish-to-consumer p50 {:.3} ms  p90 {:.3}  p99 {:.3}",
            percentile(&our_latency, 0.5),
            percentile(&our_latency, 0.9),
            percentile(&our_latency, 0.99),
            percentile(&raw_latency, 0.5),
            percentile(&raw_latency, 0.9),
            percentile(&raw_latency, 0.99),
        );
        println!(
            "   checked: every event handled exactly once, no job failed; peak RSS {}",
            peak_rss_mib().map_or("unknown".into(), |m| format!("{m:.0} MiB"))
        );
        Ok(vec![
            Row {
                what: "amqp end to end, vs raw lapin".into(),
                median: ratio,
                best: best_ratio,
                unit: "%".into(),
                target: Target::AtLeast(TARGET_RATIO_PERCENT),
            },
            Row {
                what: "amqp dispatch-to-listener p50".into(),
                median: percentile(&our_latency, 0.5),
                best: our_latency.first().copied().unwrap_or(f64::NAN),
                unit: "ms".into(),
                target: Target::AtMost(TARGET_P50_MS),
            },
        ])
    })
}

/// Dispatches `n` events from [`DISPATCHERS`] tasks; the time until the
/// last one was handled.
async fn fastevent_burst(n: u64) -> Result<Duration, String> {
    let before = CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    let tasks: Vec<_> = (0..DISPATCHERS)
        .map(|t| {
            tokio::spawn(async move {
                for id in (t * n / DISPATCHERS)..((t + 1) * n / DISPATCHERS) {
                    AmqpBenchEvent { id, sent_ns: 0 }
                        .dispatch()
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    wait_for_calls(before + n, Duration::from_secs(120)).await?;
    let elapsed = start.elapsed();
    let ran = CALLS.load(Ordering::SeqCst) - before;
    if ran != n {
        return Err(format!("{n} listener calls expected, {ran} happened"));
    }
    Ok(elapsed)
}

async fn wait_for_calls(target: u64, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while CALLS.load(Ordering::SeqCst) < target {
        if Instant::now() > deadline {
            return Err(format!(
                "jobs lost: {} of {target} listener calls after {}s",
                CALLS.load(Ordering::SeqCst),
                limit.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    Ok(())
}

/// Latency samples (ms, sorted), one event at a time.
async fn fastevent_latency() -> Result<Vec<f64>, String> {
    take_latencies();
    for i in 0..LATENCY_SAMPLES as u64 {
        let before = CALLS.load(Ordering::SeqCst);
        AmqpBenchEvent {
            id: i,
            sent_ns: now_ns(),
        }
        .dispatch()
        .await
        .map_err(|e| e.to_string())?;
        wait_for_calls(before + 1, Duration::from_secs(10)).await?;
    }
    Ok(take_latencies())
}

/// The baseline: the same broker through lapin alone.
struct RawBroker {
    connection: Connection,
    publisher: Channel,
    /// Their channels live as long as this.
    _consumers: Vec<Channel>,
    queue: String,
    received: Arc<AtomicU64>,
}

impl RawBroker {
    async fn open(url: &str, queue: &str) -> Result<Self, String> {
        let fail = |e: lapin::Error| format!("raw lapin: {e}");
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .map_err(fail)?;
        let publisher = connection.create_channel().await.map_err(fail)?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(fail)?;
        let mut arguments = FieldTable::default();
        arguments.insert("x-expires".into(), AMQPValue::LongLongInt(600_000));
        publisher
            .queue_declare(queue.into(), QueueDeclareOptions::durable(), arguments)
            .await
            .map_err(fail)?;
        let received = Arc::new(AtomicU64::new(0));
        let mut consumers = Vec::new();
        for _ in 0..WORKERS {
            let channel = connection.create_channel().await.map_err(fail)?;
            channel
                .basic_qos(CONCURRENCY as u16, BasicQosOptions::default())
                .await
                .map_err(fail)?;
            let consumer = channel
                .basic_consume(
                    queue.into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(fail)?;
            let received = received.clone();
            // lapin runs the delegate as a task per delivery.
            consumer.set_delegate(move |delivery: DeliveryResult| {
                let received = received.clone();
                async move {
                    let Ok(Some(delivery)) = delivery else { return };
                    // The payload is the send time (latency phase) or 0.
                    let sent = delivery
                        .data
                        .get(..8)
                        .and_then(|b| b.try_into().ok())
                        .map_or(0, u64::from_le_bytes);
                    if sent != 0 {
                        record_latency(sent);
                    }
                    if delivery.ack(BasicAckOptions::default()).await.is_ok() {
                        received.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
            consumers.push(channel);
        }
        Ok(Self {
            connection,
            publisher,
            _consumers: consumers,
            queue: queue.to_string(),
            received,
        })
    }

    async fn publish(&self, payload: &[u8]) -> Result<lapin::PublisherConfirm, String> {
        self.publisher
            .basic_publish(
                "".into(),
                self.queue.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .map_err(|e| format!("raw lapin publish: {e}"))
    }

    /// Publishes `n` messages with up to [`RAW_WINDOW`] confirms in flight;
    /// the time until the last one was acked by a consumer.
    async fn burst(&self, n: u64) -> Result<Duration, String> {
        let before = self.received.load(Ordering::SeqCst);
        let start = Instant::now();
        let mut in_flight = VecDeque::new();
        // Same size as an event's job envelope, roughly.
        let payload = [0u8; 200];
        for _ in 0..n {
            if in_flight.len() >= RAW_WINDOW
                && let Some(confirm) = in_flight.pop_front()
            {
                confirmed(confirm).await?;
            }
            in_flight.push_back(self.publish(&payload).await?);
        }
        for confirm in in_flight {
            confirmed(confirm).await?;
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.received.load(Ordering::SeqCst) < before + n {
            if Instant::now() > deadline {
                return Err("raw lapin: messages lost".into());
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        Ok(start.elapsed())
    }

    /// Latency samples (ms, sorted), one message at a time.
    async fn latency(&self) -> Result<Vec<f64>, String> {
        take_latencies();
        for _ in 0..LATENCY_SAMPLES {
            let before = self.received.load(Ordering::SeqCst);
            let mut payload = [0u8; 200];
            payload[..8].copy_from_slice(&now_ns().to_le_bytes());
            confirmed(self.publish(&payload).await?).await?;
            while self.received.load(Ordering::SeqCst) <= before {
                tokio::time::sleep(Duration::from_micros(50)).await;
            }
        }
        Ok(take_latencies())
    }

    async fn close(self) {
        let _ = self
            .publisher
            .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await;
        let _ = self.connection.close(200, "bench done".into()).await;
    }
}

async fn confirmed(confirm: lapin::PublisherConfirm) -> Result<(), String> {
    match confirm.await {
        Ok(Confirmation::Ack(None)) => Ok(()),
        other => Err(format!("raw lapin: not confirmed: {other:?}")),
    }
}
