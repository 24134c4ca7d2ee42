//! Section `amqp`: fastevent on RabbitMQ end to end, against the raw broker
//! driven by lapin alone, in the same run, on the same broker, with the
//! same parallelism (both settable: `--in-flight K`, `--prefetch P`).
//!
//! - fastevent: `K` tasks `dispatch()` N events with one trivial listener
//!   (each dispatch waits for the broker's confirm, so `K` publishes are in
//!   flight), while `W` in-process workers of concurrency `P` run them;
//!   timed from the first dispatch to the last listener call.
//! - raw lapin: one channel publishes N persistent messages, pipelined with
//!   up to `K` confirms outstanding, to a durable queue, while `W` consumers
//!   with prefetch `P` ack each one by hand; timed the same way.
//! - the ratio at equal settings (`K`, `P`), then at each side's best `K`
//!   of a sweep (`--sweep 16,64,256,1024`; one repetition each).
//! - over TLS: both again through an `amqps://` URL (`--amqps-url`, or
//!   `FASTEVENT_AMQPS_URL`; its `cacertfile` trusted by both), as a
//!   percentage of their plain figures; skipped, saying so, without one.
//! - latency: events sent one at a time to idle workers; from just before
//!   `dispatch()` (or `basic_publish`) to the listener (or consumer).
//!
//! Skipped, with a message, when the broker cannot be reached
//! (`FASTEVENT_AMQP_URL`, else `RABBITMQ_URL`, else the local default).

use super::latency::{now_ns, percentile, record_latency, take_latencies};
use super::{
    CALLS, Row, Settings, Spread, Target, count_call, group, multi_thread_runtime, peak_rss_mib,
};
use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
use fastevent::driver::durable::durable_queue_of;
use fastevent::job::JobDefaults;
use fastevent::worker::{Worker, WorkerOptions};
use fastevent::{Event, listener};
use lapin::message::DeliveryResult;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties,
    DefaultConnectionBuilder,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The broker round trips make each event cost ~100x a `sync` dispatch:
/// this section runs N / this many events per repetition.
const N_DIVISOR: u64 = 25;
/// Workers (raw: consumers).
const WORKERS: usize = 2;
/// Events sent one at a time for the latency figures.
const LATENCY_SAMPLES: usize = 500;

const TARGET_RATIO_PERCENT: f64 = 90.0;
const TARGET_TLS_PERCENT: f64 = 80.0;
const TARGET_P50_MS: f64 = 2.0;

/// The parallelism of both sides, from the command line.
#[derive(Debug, Clone)]
pub(super) struct AmqpBench {
    /// Publishes in flight: fastevent's dispatching tasks, raw lapin's
    /// outstanding confirms (`--in-flight`).
    pub in_flight: usize,
    /// Each worker's concurrency, each raw consumer's prefetch (`--prefetch`).
    pub prefetch: usize,
    /// The in-flight values tried for each side's best (`--sweep`).
    pub sweep: Vec<usize>,
    /// An `amqps://` URL of the same broker, for the TLS figures
    /// (`--amqps-url`, or `FASTEVENT_AMQPS_URL`).
    pub amqps_url: Option<String>,
}

impl Default for AmqpBench {
    fn default() -> Self {
        Self {
            in_flight: 64,
            prefetch: 32,
            sweep: vec![16, 64, 256, 1024],
            amqps_url: std::env::var("FASTEVENT_AMQPS_URL")
                .ok()
                .filter(|u| !u.trim().is_empty()),
        }
    }
}

impl AmqpBench {
    /// Takes `flag` (and its value) if it is one of this section's.
    pub fn parse(
        &mut self,
        flag: &str,
        value: impl FnOnce() -> Option<String>,
    ) -> Result<bool, String> {
        let number = |what: &str, v: Option<String>| {
            v.and_then(|v| v.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .ok_or(format!("{what} needs a positive number"))
        };
        match flag {
            "--in-flight" => self.in_flight = number(flag, value())?,
            "--prefetch" => self.prefetch = number(flag, value())?,
            "--sweep" => {
                let list = value().ok_or("--sweep needs numbers, e.g. 16,64,256")?;
                self.sweep = list
                    .split(',')
                    .map(|v| number("--sweep", Some(v.trim().to_string())))
                    .collect::<Result<_, _>>()?;
            }
            "--amqps-url" => self.amqps_url = Some(value().ok_or("--amqps-url needs a URL")?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The flags that give a child process the same settings.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--in-flight".into(),
            self.in_flight.to_string(),
            "--prefetch".into(),
            self.prefetch.to_string(),
            "--sweep".into(),
            self.sweep
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ];
        if let Some(url) = &self.amqps_url {
            args.extend(["--amqps-url".into(), url.clone()]);
        }
        args
    }
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

/// The baseline: the same broker through lapin alone.
struct RawBroker {
    /// Publishing and consuming on connections of their own, as RabbitMQ
    /// advises and as fastevent does.
    publishing: Connection,
    consuming: Connection,
    publisher: Channel,
    /// Their channels live as long as this.
    _consumers: Vec<Channel>,
    queue: String,
    received: Arc<AtomicU64>,
}

impl RawBroker {
    async fn open(url: &str, queue: &str, prefetch: usize) -> Result<Self, String> {
        let fail = |e: lapin::Error| format!("raw lapin: {e}");
        let publishing = raw_connection(url).await.map_err(fail)?;
        let consuming = raw_connection(url).await.map_err(fail)?;
        let publisher = publishing.create_channel().await.map_err(fail)?;
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
            let channel = consuming.create_channel().await.map_err(fail)?;
            channel
                .basic_qos(prefetch as u16, BasicQosOptions::default())
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
            publishing,
            consuming,
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

    /// Publishes `n` messages with up to `window` confirms in flight; the
    /// time until the last one was acked by a consumer.
    async fn burst(&self, n: u64, window: usize) -> Result<(Duration, Duration), String> {
        let before = self.received.load(Ordering::SeqCst);
        let start = Instant::now();
        let mut in_flight = VecDeque::new();
        // Same size as an event's job envelope, roughly.
        let payload = [0u8; 200];
        for _ in 0..n {
            if in_flight.len() >= window
                && let Some(confirm) = in_flight.pop_front()
            {
                confirmed(confirm).await?;
            }
            in_flight.push_back(self.publish(&payload).await?);
        }
        for confirm in in_flight {
            confirmed(confirm).await?;
        }
        let published = start.elapsed();
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.received.load(Ordering::SeqCst) < before + n {
            if Instant::now() > deadline {
                return Err("raw lapin: messages lost".into());
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        Ok((published, start.elapsed()))
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
        let _ = self.publishing.close(200, "bench done".into()).await;
        let _ = self.consuming.close(200, "bench done".into()).await;
    }
}

async fn confirmed(confirm: lapin::PublisherConfirm) -> Result<(), String> {
    match confirm.await {
        Ok(Confirmation::Ack(None)) => Ok(()),
        other => Err(format!("raw lapin: not confirmed: {other:?}")),
    }
}

/// A lapin connection to `url`; over TLS, trusting the URL's `cacertfile`
/// as fastevent does (lapin alone ignores the parameter).
async fn raw_connection(url: &str) -> Result<Connection, lapin::Error> {
    let ca = url
        .split_once('?')
        .into_iter()
        .flat_map(|(_, query)| query.split('&'))
        .find_map(|pair| pair.strip_prefix("cacertfile="));
    let tls = OwnedTLSConfig {
        cert_chain: ca.and_then(|path| std::fs::read_to_string(path).ok()),
        identity: None,
    };
    DefaultConnectionBuilder::new()?
        .with_uri_str(url.to_string())
        .with_properties(ConnectionProperties::default())
        .with_tls_config(tls)
        .connect()
        .await
}

fn broker_url() -> String {
    ["FASTEVENT_AMQP_URL", "RABBITMQ_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| AmqpOptions::DEFAULT_URL.into())
}

/// Whether `url` answers within 3 s; says why not.
async fn reachable(url: &str) -> Result<(), String> {
    let shown = AmqpOptions::new(url).shown_url();
    match tokio::time::timeout(Duration::from_secs(3), raw_connection(url)).await {
        Ok(Ok(connection)) => {
            let _ = connection.close(200, "probe".into()).await;
            Ok(())
        }
        Ok(Err(error)) => Err(format!("RabbitMQ at {shown} is unreachable ({error})")),
        Err(_) => Err(format!("RabbitMQ at {shown} did not answer within 3s")),
    }
}

/// Both sides on one URL: fastevent's driver and workers, and the raw
/// baseline.
struct Rig {
    driver: Arc<AmqpDriver>,
    stop: tokio::sync::watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<fastevent::worker::WorkerReport>>,
    raw: RawBroker,
    /// (fastevent, raw) publishing-phase rates of each measure.
    published: Mutex<Vec<(f64, f64)>>,
}

impl Rig {
    async fn open(url: &str, prefix: &str, prefetch: usize) -> Result<Self, String> {
        let options = AmqpOptions {
            prefix: prefix.to_string(),
            // Fresh queues each run, gone 10 minutes after it.
            queue_expires: Some(Duration::from_secs(600)),
            ..AmqpOptions::new(url)
        };
        options.check().map_err(|e| e.to_string())?;
        let driver = Arc::new(AmqpDriver::new(options, JobDefaults::default(), None));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut workers = Vec::new();
        for _ in 0..WORKERS {
            let options = WorkerOptions {
                concurrency: prefetch,
                ..WorkerOptions::default()
            };
            let mut stopped = stopped.clone();
            let queue = durable_queue_of(driver.clone());
            let worker = Worker::new(queue, options, None);
            workers.push(tokio::spawn(worker.run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })));
        }
        let raw = RawBroker::open(url, &format!("{prefix}.raw"), prefetch).await?;
        Ok(Self {
            driver,
            stop,
            workers,
            raw,
            published: Mutex::new(Vec::new()),
        })
    }

    /// Events (messages) per second of each side, `reps` times, at
    /// `in_flight`, end to end. The rates of the publishing phase alone
    /// (until the last confirm) are kept in `published`.
    async fn measure(
        &self,
        n: u64,
        in_flight: usize,
        reps: usize,
    ) -> Result<(Vec<f64>, Vec<f64>), String> {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        for _ in 0..reps {
            let (our_publish, our_total) = fastevent_burst(&self.driver, n, in_flight).await?;
            let (raw_publish, raw_total) = self.raw.burst(n, in_flight).await?;
            ours.push(rate(our_total));
            theirs.push(rate(raw_total));
            let mut published = self.published.lock().unwrap();
            published.push((rate(our_publish), rate(raw_publish)));
        }
        Ok((ours, theirs))
    }

    /// The medians of the publishing phase of the last `reps` measures.
    fn publishing(&self, reps: usize) -> (f64, f64) {
        let published = self.published.lock().unwrap();
        let last = &published[published.len().saturating_sub(reps)..];
        let ours: Vec<f64> = last.iter().map(|p| p.0).collect();
        let theirs: Vec<f64> = last.iter().map(|p| p.1).collect();
        (Spread::of(&ours).median, Spread::of(&theirs).median)
    }

    async fn close(self) {
        let _ = self.stop.send(true);
        for worker in self.workers {
            let _ = worker.await;
        }
        self.raw.close().await;
    }
}

/// Dispatches `n` events from `tasks` tasks; the time until the last one
/// was handled.
async fn fastevent_burst(
    driver: &Arc<AmqpDriver>,
    n: u64,
    tasks: usize,
) -> Result<(Duration, Duration), String> {
    let before = CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    let tasks = tasks as u64;
    let running: Vec<_> = (0..tasks)
        .map(|t| {
            let driver = driver.clone();
            tokio::spawn(async move {
                for id in (t * n / tasks)..((t + 1) * n / tasks) {
                    fastevent::dispatch_to(driver.as_ref(), AmqpBenchEvent { id, sent_ns: 0 })
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in running {
        task.await.map_err(|e| e.to_string())??;
    }
    let published = start.elapsed();
    wait_for_calls(before + n, Duration::from_secs(120)).await?;
    let elapsed = start.elapsed();
    let ran = CALLS.load(Ordering::SeqCst) - before;
    if ran != n {
        return Err(format!("{n} listener calls expected, {ran} happened"));
    }
    Ok((published, elapsed))
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
async fn fastevent_latency(driver: &Arc<AmqpDriver>) -> Result<Vec<f64>, String> {
    take_latencies();
    for i in 0..LATENCY_SAMPLES as u64 {
        let before = CALLS.load(Ordering::SeqCst);
        let event = AmqpBenchEvent {
            id: i,
            sent_ns: now_ns(),
        };
        fastevent::dispatch_to(driver.as_ref(), event)
            .await
            .map_err(|e| e.to_string())?;
        wait_for_calls(before + 1, Duration::from_secs(10)).await?;
    }
    Ok(take_latencies())
}

/// The best median of each side over the sweep: (events/s, in-flight).
struct Best {
    ours: (f64, usize),
    theirs: (f64, usize),
}

async fn sweep(rig: &Rig, n: u64, settings: &AmqpBench, equal: (f64, f64)) -> Result<Best, String> {
    let mut best = Best {
        ours: (equal.0, settings.in_flight),
        theirs: (equal.1, settings.in_flight),
    };
    for &k in settings.sweep.iter().filter(|k| **k != settings.in_flight) {
        let (ours, theirs) = rig.measure(n, k, 1).await?;
        let (our_publishing, raw_publishing) = rig.publishing(1);
        println!(
            "   in flight {k:>5}: fastevent {:>10} events/s   raw lapin {:>10} msgs/s   (publishing alone: {} / {})",
            group(ours[0]),
            group(theirs[0]),
            group(our_publishing),
            group(raw_publishing)
        );
        if ours[0] > best.ours.0 {
            best.ours = (ours[0], k);
        }
        if theirs[0] > best.theirs.0 {
            best.theirs = (theirs[0], k);
        }
    }
    Ok(best)
}

pub(super) fn bench_amqp(settings: &Settings) -> Result<Vec<Row>, String> {
    let url = broker_url();
    let runtime = multi_thread_runtime(2)?;
    if let Err(why) = runtime.block_on(reachable(&url)) {
        println!("   skipped: {why}");
        return Ok(Vec::new());
    }
    let bench = settings.amqp.clone();
    let n = (settings.n / N_DIVISOR).max(1000);
    let prefix = format!("fe-bench-{}", std::process::id());
    println!(
        "   broker {}; {} events per repetition; in flight {} (fastevent: dispatching tasks; raw: confirms \
         outstanding); {WORKERS} workers x {} (raw: {WORKERS} consumers, prefetch {}); persistent messages, durable queues",
        AmqpOptions::new(url.clone()).shown_url(),
        group(n as f64),
        bench.in_flight,
        bench.prefetch,
        bench.prefetch,
    );
    runtime.block_on(async move {
        let rig = Rig::open(&url, &prefix, bench.prefetch).await?;
        // Warm-up: connections, queue declarations, code paths.
        rig.measure(n / 10, bench.in_flight, 1).await?;
        let (ours, theirs) = rig.measure(n, bench.in_flight, settings.reps).await?;
        let (ours_spread, theirs_spread) = (Spread::of(&ours), Spread::of(&theirs));
        let ratio = 100.0 * ours_spread.median / theirs_spread.median;
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
            "   ratio, equal settings (in flight {}, prefetch {}): {ratio:.1}% of raw lapin (target >= {TARGET_RATIO_PERCENT}%)",
            bench.in_flight, bench.prefetch
        );
        let (our_publishing, raw_publishing) = rig.publishing(settings.reps);
        println!(
            "   publishing phase alone (until the last confirm): fastevent {} events/s, raw lapin {} msgs/s: {:.1}%",
            group(our_publishing),
            group(raw_publishing),
            100.0 * our_publishing / raw_publishing
        );
        let best = sweep(&rig, n, &bench, (ours_spread.median, theirs_spread.median)).await?;
        let best_ratio = 100.0 * best.ours.0 / best.theirs.0;
        println!(
            "   ratio, each at its best in flight: fastevent {} events/s (in flight {}) / raw {} msgs/s (in flight {}) = {best_ratio:.1}%",
            group(best.ours.0),
            best.ours.1,
            group(best.theirs.0),
            best.theirs.1
        );
        let our_latency = fastevent_latency(&rig.driver).await?;
        let raw_latency = rig.raw.latency().await?;
        rig.close().await;
        let tls = match &bench.amqps_url {
            Some(tls_url) => Some(
                tls_figures(tls_url, &format!("{prefix}-tls"), n, &bench, settings.reps, (ours_spread.median, theirs_spread.median))
                    .await?,
            ),
            None => {
                println!("   TLS: skipped (no amqps:// URL: give --amqps-url or FASTEVENT_AMQPS_URL)");
                None
            }
        };
        let failed = fastevent::stats().failed;
        if failed != 0 {
            return Err(format!("{failed} fastevent job(s) failed"));
        }
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
        let mut rows = vec![
            Row {
                what: "amqp end to end, vs raw lapin (equal settings)".into(),
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
        ];
        if let Some((median, best)) = tls {
            rows.push(Row {
                what: "amqp over TLS, vs plain".into(),
                median,
                best,
                unit: "%".into(),
                target: Target::AtLeast(TARGET_TLS_PERCENT),
            });
        }
        Ok(rows)
    })
}

/// Both sides again over `url` (amqps), at equal settings: fastevent's
/// median as a percentage of its plain median, and its best likewise.
async fn tls_figures(
    url: &str,
    prefix: &str,
    n: u64,
    bench: &AmqpBench,
    reps: usize,
    plain: (f64, f64),
) -> Result<(f64, f64), String> {
    reachable(url).await?;
    let rig = Rig::open(url, prefix, bench.prefetch).await?;
    rig.measure(n / 10, bench.in_flight, 1).await?;
    let (ours_all, theirs_all) = rig.measure(n, bench.in_flight, reps).await?;
    rig.close().await;
    let (ours, theirs) = (Spread::of(&ours_all), Spread::of(&theirs_all));
    let percent = 100.0 * ours.median / plain.0;
    let raw_percent = 100.0 * theirs.median / plain.1;
    println!(
        "   over TLS ({}): fastevent median {:>10} events/s = {percent:.1}% of plain (target >= {TARGET_TLS_PERCENT}%); \
         raw lapin {:>10} msgs/s = {raw_percent:.1}% of plain; fastevent/raw over TLS {:.1}%",
        AmqpOptions::new(url).shown_url(),
        group(ours.median),
        group(theirs.median),
        100.0 * ours.median / theirs.median
    );
    Ok((percent, 100.0 * Spread::max_of(&ours_all) / plain.0))
}
