//! The RabbitMQ driver (`QUEUE_DRIVER=amqp`, or `async_farm` as
//! fast-app names it): the distributed queue, for when one machine
//! is not enough. Workers on any number of machines share its queues.
//!
//! # Delivery guarantee: at least once
//!
//! | situation | what happens |
//! | --- | --- |
//! | `dispatch()` returns `Ok` | the broker confirmed every job of the event: each is a persistent message on a durable queue, on disk |
//! | the broker is down or does not confirm in time | `dispatch()` returns an error naming the broker (its URL without the password). Jobs of that event confirmed before the failure stay queued: retrying the dispatch may run them twice |
//! | listener succeeds | the job is acked: gone |
//! | listener fails, tries left | a copy waits its backoff in the prefix's delay levels (queues whose TTLs dead-letter it on, then back; a backoff is cut to 7 days), then the delivery is acked |
//! | last try fails, or the job cannot run (bad signature, undecodable, unknown listener) | moved, bytes untouched, with the error, to the failed store (`{prefix}~failed`): `failed list / retry / forget` |
//! | the failed store refuses the job (a length limit with `reject-publish`) | the job is parked in the delay queues (30 s) with its error, then offered to the store again, without running; the worker logs why |
//! | a move or an acknowledgement fails (the channel closed under it, the broker refused the copy) | the worker's channel is closed, so the broker takes back every delivery it held and redelivers them; the interrupted attempt counts. No delivery stays unacknowledged holding a prefetch slot |
//! | the worker process dies (crash, SIGKILL, OOM, power) | the broker requeues its unacked jobs at once; each counts the interrupted attempt before it runs again, so a job that kills its worker every time reaches the failed store after `tries` crashes instead of looping (a job merely prefetched by the dead worker counts one too) |
//! | soft timeout | the listener is cancelled; a failed attempt (retried or failed as above) |
//! | hard timeout | the supervisor kills the worker: as a crash |
//! | a listener outruns RabbitMQ's `consumer_timeout` | refused at start-up: every listener's timeouts must be shorter than `RABBITMQ_CONSUMER_TIMEOUT_S`; a listener without a timeout gets a warning. If it happens anyway, the broker closes the worker's channel and redelivers its jobs; the error is logged, and a job still running in the same process is taken back, not run twice |
//! | the connection drops (broker restart, network) | publishers and workers reconnect with backoff. Unacked jobs are redelivered; one still running here keeps running (its new delivery replaces the lost one), one settled here while disconnected is settled again on redelivery. A redelivery that reaches another process runs there too: a duplicate |
//! | worker stops (SIGTERM, scale-down) | no new jobs; jobs prefetched but not started are handed back at once, without an attempt counted; running ones get the grace period, then are handed back (the attempt counts) |
//!
//! So a job runs at least once, and may run more than once after a crash,
//! a connection loss or a lost acknowledgement: listeners must be
//! idempotent, as with any at-least-once queue.
//!
//! # Shape
//!
//! `endpoint`: the nodes and TLS settings of `RABBITMQ_URL`. `connect`:
//! opening a connection to one node. `connection`: two connections per
//! process (publishing, consuming), reconnected with backoff across the
//! nodes, a pool of publisher channels. [`topology`]: the queues. `publish`:
//! persistent, pipelined, confirmed. `consume`: a consumer per worker with
//! prefetch = concurrency, feeding `claim`. `failed`: the failed store.
//! `depth`: counts for scaling. `timeouts`: the start-up check against
//! `consumer_timeout`. `message`: the wire format (body = the envelope,
//! untouched; the rest in headers).

mod connect;
mod connection;
mod consume;
mod delay;
mod depth;
mod endpoint;
mod failed;
mod message;
mod publish;
mod refusal;
mod timeouts;
pub mod topology;

use super::durable::{
    ClaimedJob, FailedJob, QueueAdmin, QueueDepth, QueueError, Selection, Settled, WorkQueue,
};
use super::{Driver, DriverError, JobBatch, JobEncoder};
use crate::batch::Dispatched;
use crate::error::ConfigError;
use crate::job::{JobDefaults, JobSigner};
use crate::registry::registry;
use connection::{Broker, BrokerError, Link, Purpose};
use consume::{Settlement, Workers};
use depth::Local;
use futures_util::future::BoxFuture;
use message::JobMeta;
use publish::{Outgoing, Route};
use std::sync::Arc;
use std::time::Duration;
use topology::{QueueType, Topology};

/// How to reach the broker and name the queues: the settings of the `amqp`
/// driver, read from the environment by [`Config::from_env`](crate::Config::from_env)
/// or given in code with [`Config::amqp`](crate::Config::amqp).
///
/// ```
/// use fastevent::driver::amqp::AmqpOptions;
/// use fastevent::{Config, QueueDriver};
/// use std::time::Duration;
///
/// let mut options = AmqpOptions::new("amqp://app:s3cret@mq.internal:5672/shop");
/// options.prefix = "shop".into(); // queues shop.default, shop.emails, ...
/// options.consumer_timeout = Some(Duration::from_secs(3600)); // as set on the broker
/// assert_eq!(options.check(), Ok(()));
/// assert_eq!(options.shown_url(), "amqp://app:***@mq.internal:5672/shop");
///
/// let config = Config::new().queue_driver(QueueDriver::Amqp).amqp(options);
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct AmqpOptions {
    /// `amqp://user:password@host:port/vhost`, or `amqps://` with
    /// `cacertfile`, `certfile`, `keyfile` in the query; several nodes
    /// separated by commas (`RABBITMQ_URL`).
    pub url: String,
    /// Prefix of every queue name (`FASTEVENT_AMQP_PREFIX`).
    pub prefix: String,
    /// The AMQP name of the `default` queue, if not `{prefix}.default`
    /// (`ASYNC_FARM_JOBS_QUEUE`).
    pub default_queue: Option<String>,
    /// RabbitMQ's `consumer_timeout`, as configured on the broker
    /// (`RABBITMQ_CONSUMER_TIMEOUT_S`; `None`: disabled there).
    pub consumer_timeout: Option<Duration>,
    /// How long a dispatch (or a queue command) waits for the broker:
    /// reconnecting and confirming (`FASTEVENT_AMQP_TIMEOUT_S`).
    pub operation_timeout: Duration,
    /// `x-expires` of every queue: for tests, whose fresh queues should
    /// vanish by themselves. Never set it in production: an idle queue may
    /// still hold jobs.
    pub queue_expires: Option<Duration>,
    /// Classic or quorum queues (`FASTEVENT_AMQP_QUEUE_TYPE`); `None`: the
    /// default for the URL ([`QueueType::default_for`]).
    pub queue_type: Option<QueueType>,
    /// How long a job the failed store refused (at its length limit with
    /// `reject-publish`, say) waits in the delay queues before it is
    /// offered to the store again.
    pub park_delay: Duration,
}

impl AmqpOptions {
    /// The default URL: a local broker with the default account.
    pub const DEFAULT_URL: &'static str = "amqp://guest:guest@127.0.0.1:5672/%2f";
    /// The default prefix.
    pub const DEFAULT_PREFIX: &'static str = "fastevent";
    /// RabbitMQ's default `consumer_timeout`.
    pub const DEFAULT_CONSUMER_TIMEOUT: Duration = Duration::from_secs(1800);

    /// The defaults, with `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: Self::DEFAULT_PREFIX.into(),
            default_queue: None,
            consumer_timeout: Some(Self::DEFAULT_CONSUMER_TIMEOUT),
            operation_timeout: Duration::from_secs(10),
            queue_expires: None,
            queue_type: None,
            park_delay: Duration::from_secs(30),
        }
    }

    /// The queue type in force: the one set, or the URL's default.
    pub fn effective_queue_type(&self) -> QueueType {
        self.queue_type
            .unwrap_or_else(|| QueueType::default_for(&self.url))
    }

    /// The URL (each URL of a list) with its password hidden.
    pub fn shown_url(&self) -> String {
        self.url
            .split(',')
            .map(|url| connection::redact(url.trim()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether these options can work: the URL (each URL of a list), the
    /// prefix and the default queue name. The error names the variable at
    /// fault, its value (the URL without its password) and what it accepts;
    /// a `Config` with the `amqp` driver checks this when it is built.
    ///
    /// ```
    /// use fastevent::ConfigError;
    /// use fastevent::driver::amqp::AmqpOptions;
    ///
    /// let options = AmqpOptions::new("amqps://mq:5671/%2f?verify=verify_none");
    /// let Err(ConfigError::Invalid { variable, expected, .. }) = options.check() else {
    ///     panic!("an unverified TLS connection is refused");
    /// };
    /// assert_eq!(variable, "RABBITMQ_URL");
    /// assert!(expected.contains("always verified"));
    /// assert_eq!(AmqpOptions::new(AmqpOptions::DEFAULT_URL).check(), Ok(()));
    /// ```
    pub fn check(&self) -> Result<(), ConfigError> {
        ConfigError::refuse(self.problem())
    }

    /// What [`check`](Self::check) refuses: the variable, its value and
    /// what it accepts.
    fn problem(&self) -> Option<(&'static str, String, String)> {
        if let Err(why) = endpoint::parse_list(&self.url) {
            return Some((
                "RABBITMQ_URL",
                self.shown_url(),
                format!(
                    "amqp:// or amqps:// URLs (several nodes: comma separated), as in \
                     amqp://user:password@host:5672/vhost; {why}"
                ),
            ));
        }
        // Queue names are built from these: they follow the rule of every
        // registered name, so a listener's queue and the prefix combine into
        // a name the broker accepts.
        let named = |variable: &'static str, name: &str| {
            use crate::names::{MAX_NAME_LEN, NAME_ALPHABET, check_name};
            check_name(name).err().map(|problem| {
                let rule = format!("{NAME_ALPHABET}, at most {MAX_NAME_LEN} characters");
                (
                    variable,
                    name.to_string(),
                    format!("{rule} (this one {problem})"),
                )
            })
        };
        if let Some(problem) = named("FASTEVENT_AMQP_PREFIX", &self.prefix) {
            return Some(problem);
        }
        if let Some(name) = &self.default_queue {
            return named("ASYNC_FARM_JOBS_QUEUE", name);
        }
        None
    }
}

/// The RabbitMQ queue driver: both the [`Driver`] dispatch hands jobs to and
/// the [`DurableQueue`](crate::driver::durable::DurableQueue) workers take them from. Cheap to clone; clones share
/// the connection. The installed one comes from `QUEUE_DRIVER=amqp`; build
/// one in code for a deploy script, a second broker, or a test.
///
/// ```no_run
/// use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
/// use fastevent::job::JobDefaults;
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = AmqpOptions::new("amqp://guest:guest@127.0.0.1:5672/%2f");
/// let driver = AmqpDriver::new(options, JobDefaults::default(), None);
///
/// // A deploy step: refuse listeners that may outrun the broker's
/// // consumer_timeout, and create the queues before anything publishes.
/// driver.check_listener_timeouts()?;
/// driver.declare("default").await?;
/// driver.declare("emails").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AmqpDriver {
    inner: Arc<Inner>,
}

/// What every part of the driver shares.
pub(crate) struct Inner {
    /// The workers' connection (consumers, acks, declarations, readings).
    broker: Broker,
    /// The publishers' connection: dispatches, and workers' copies.
    publisher: Broker,
    topology: Topology,
    options: AmqpOptions,
    /// Makes the jobs of a dispatch; holds the job defaults.
    encoder: JobEncoder,
    workers: Workers,
    local: Local,
    /// Held by a scan of the failed store (one at a time per process).
    scans: tokio::sync::Mutex<()>,
}

impl AmqpDriver {
    /// A driver for the broker `options` names; it connects on first use.
    /// Jobs get `defaults` where their listener sets nothing, and are signed
    /// with `signer` (which workers on this broker then require).
    pub fn new(options: AmqpOptions, defaults: JobDefaults, signer: Option<JobSigner>) -> Self {
        let topology = Topology {
            prefix: options.prefix.clone(),
            default_queue: options.default_queue.clone(),
            expires: options.queue_expires,
            queue_type: options.effective_queue_type(),
        };
        Self {
            inner: Arc::new(Inner {
                broker: Broker::new(options.url.trim(), Purpose::Consume),
                publisher: Broker::new(options.url.trim(), Purpose::Publish),
                topology,
                options,
                encoder: JobEncoder::new(defaults, signer),
                workers: Workers::default(),
                local: Local::default(),
                scans: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The queue layout (names of work, delay and failed queues).
    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// Declares the queues of fastevent queue `queue` now (its work queue,
    /// and the prefix's delay levels) rather than at first use: for deploy scripts, or
    /// before other programs publish to it.
    pub async fn declare(&self, queue: &str) -> Result<(), QueueError> {
        let inner = &self.inner;
        let link = inner.operator_link().await?;
        inner.local.touch(queue);
        inner
            .topology
            .declare_work_queue(&link, queue)
            .await
            .map_err(|e| inner.queue_error(format!("declaring queue `{queue}`: {e}")))
    }

    /// Deletes every object of this driver's prefix from the broker: the
    /// work queues of `queues`, of every queue this process used and of
    /// every listener linked into it, the
    /// delay levels, the delivery exchange and the failed store, with the
    /// jobs they hold. For tests and for tearing an environment down.
    pub async fn delete_topology(&self, queues: &[&str]) -> Result<(), QueueError> {
        let inner = &self.inner;
        let link = inner.operator_link().await?;
        let mut names = inner.local.touched();
        names.extend(queues.iter().map(|q| q.to_string()));
        names.insert("default".into());
        for event in registry().events() {
            for listener in &event.listeners {
                names.insert(listener.options.queue.unwrap_or("default").to_string());
            }
        }
        let names: Vec<String> = names.into_iter().collect();
        inner
            .topology
            .delete(&link, &names)
            .await
            .map_err(|e| inner.queue_error(format!("deleting the topology: {e}")))
    }

    /// Checks the listeners linked into this program against the broker's
    /// `consumer_timeout`: refused when a listener may run as long as the
    /// broker's limit; logs a warning per listener without any timeout.
    pub fn check_listener_timeouts(&self) -> Result<(), String> {
        let listeners = registry().events().iter().flat_map(|event| {
            event
                .listeners
                .iter()
                .map(move |l| timeouts::ListenerTimeouts {
                    event: event.event.name,
                    listener: l.name,
                    soft: l.options.timeout,
                    hard: l.options.hard_timeout,
                })
        });
        let warnings = timeouts::check(
            self.inner.options.consumer_timeout,
            self.inner.encoder.defaults(),
            listeners,
        )?;
        for warning in warnings {
            tracing::warn!(target: "fastevent", "{warning}");
        }
        Ok(())
    }
}

impl Inner {
    fn queue_error(&self, message: String) -> QueueError {
        QueueError {
            driver: "amqp",
            message,
        }
    }

    /// The consuming connection's link, for an operator's operation (a
    /// declaration, a reading of the queues or the failed store), within
    /// the operation timeout.
    async fn operator_link(&self) -> Result<Arc<Link>, QueueError> {
        let deadline = tokio::time::Instant::now() + self.options.operation_timeout;
        self.broker
            .link(deadline)
            .await
            .map_err(|e| self.queue_error(e.message))
    }

    /// Publishes and waits for the confirms, within the operation timeout.
    async fn publish(&self, messages: &[Outgoing]) -> Result<(), BrokerError> {
        let deadline = tokio::time::Instant::now() + self.options.operation_timeout;
        self.publish_until(messages, deadline).await
    }

    async fn publish_until(
        &self,
        messages: &[Outgoing],
        deadline: tokio::time::Instant,
    ) -> Result<(), BrokerError> {
        for message in messages {
            if let Route::Work(queue) | Route::Delay(queue, _) = &message.route {
                self.local.touch(queue);
            }
        }
        publish::publish(&self.publisher, &self.topology, messages, deadline).await
    }
}

impl Driver for AmqpDriver {
    fn name(&self) -> &'static str {
        "amqp"
    }

    fn enqueue(&self, batch: JobBatch) -> BoxFuture<'_, Result<Dispatched, DriverError>> {
        Box::pin(async move {
            let event = batch.event_name();
            let inner = &self.inner;
            let jobs = inner.encoder.encode(&batch, "amqp")?;
            let tally = inner.encoder.tally(&jobs);
            let messages: Vec<Outgoing> = jobs
                .into_iter()
                .map(|job| {
                    let properties = JobMeta::dispatched(&job).properties();
                    Outgoing {
                        route: Route::Work(job.queue),
                        properties,
                        body: job.body,
                    }
                })
                .collect();
            inner.publish(&messages).await.map_err(|e| DriverError {
                driver: "amqp",
                event,
                message: e.message.clone(),
                source: Some(Box::new(e)),
            })?;
            tally.record("amqp");
            Ok(Dispatched {
                jobs: messages.len(),
            })
        })
    }
}

/// Receipts are the process's own delivery numbers (a delivery is acked
/// on the channel that brought it, by its tag, which another channel
/// reuses).
impl WorkQueue for AmqpDriver {
    type Receipt = i64;

    fn name(&self) -> &'static str {
        "amqp"
    }

    fn claim<'a>(
        &'a self,
        queues: &'a [String],
        limit: usize,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<ClaimedJob<i64>>, QueueError>> {
        for queue in queues {
            self.inner.local.touch(queue);
        }
        Box::pin(self.inner.claim(queues, limit, worker, lease))
    }

    fn complete<'a>(
        &'a self,
        job: &'a ClaimedJob<i64>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        Box::pin(self.inner.settle(job, worker, Settlement::Ack))
    }

    fn retry<'a>(
        &'a self,
        job: &'a ClaimedJob<i64>,
        worker: &'a str,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        Box::pin(
            self.inner
                .settle(job, worker, Settlement::Retry(delay, error.to_string())),
        )
    }

    fn fail<'a>(
        &'a self,
        job: &'a ClaimedJob<i64>,
        worker: &'a str,
        error: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        Box::pin(
            self.inner
                .settle(job, worker, Settlement::Fail(error.to_string())),
        )
    }

    fn release<'a>(
        &'a self,
        job: &'a ClaimedJob<i64>,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Settled, QueueError>> {
        Box::pin(async move {
            self.inner.release(job, worker).await;
            Ok(Settled::Done)
        })
    }

    fn extend_leases<'a>(
        &'a self,
        worker: &'a str,
        _claims: &'a [i64],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<i64>, QueueError>> {
        // A delivery is held for as long as the worker's channel lives; the
        // lease only tells that the worker is alive (see `consume`).
        self.inner.heard_from(worker, lease);
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn wait_for_jobs<'a>(&'a self, worker: &'a str, at_most: Duration) -> BoxFuture<'a, ()> {
        Box::pin(self.inner.wait_for_jobs(worker, at_most))
    }

    fn stop_claiming<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(self.inner.stop_claiming(worker))
    }
}

impl QueueAdmin for AmqpDriver {
    fn depth(&self) -> BoxFuture<'_, Result<Vec<QueueDepth>, QueueError>> {
        Box::pin(self.inner.depth())
    }

    fn failed_jobs(&self, limit: usize) -> BoxFuture<'_, Result<Vec<FailedJob>, QueueError>> {
        Box::pin(self.inner.failed_jobs(limit))
    }

    fn failed_job(&self, id: i64) -> BoxFuture<'_, Result<Option<FailedJob>, QueueError>> {
        Box::pin(self.inner.failed_job(id))
    }

    fn retry_failed(&self, which: Selection) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.inner.retry_failed(which))
    }

    fn forget_failed(&self, which: Selection) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.inner.forget_failed(which))
    }

    fn failed_count(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.inner.failed_count())
    }
}
