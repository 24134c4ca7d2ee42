//! The broker objects of the driver, their names and shapes. All are
//! durable, and every message is persistent.
//!
//! Per fastevent queue:
//! - its work queue, `{prefix}.{queue}` (an existing plain durable queue,
//!   fast-app's `async_farm.jobs` through
//!   `ASYNC_FARM_JOBS_QUEUE`, can serve as the default queue when classic);
//! - a binding from the prefix's delivery exchange to it.
//!
//! Per prefix, shared by all its work queues:
//! - the delay levels (binary: a retry of d × 10 ms waits in the level of
//!   each bit of d): 26 topic exchanges and 26 queues
//!   `{prefix}~delay.{ttl}ms`, from 10 ms to 2²⁵ × 10 ms;
//! - the delivery exchange `{prefix}~delivery`, where retries leave the
//!   last level for their work queue;
//! - the failed store, `{prefix}~failed`: jobs out of attempts, or that
//!   cannot run, with their bytes and the error, for the `failed` commands.
//!
//! Queues are classic or quorum ([`QueueType`]). With quorum queues the
//! delay levels dead-letter at least once (`x-dead-letter-strategy`, which
//! needs `x-overflow=reject-publish`): a retry is kept by its level until
//! the next one has it, never dropped on the way.
//!
//! `~` is the separator of the driver's own objects because fastevent
//! queue names cannot contain it: no user queue can collide with them.

use super::connection::Link;
use super::delay::{self, LEVELS};
use super::publish::Route;
use futures_util::future::try_join_all;
use lapin::options::{ExchangeBindOptions, ExchangeDeclareOptions, QueueBindOptions};
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{ErrorKind, ExchangeKind};
use std::time::Duration;

/// `x-delivery-limit` of quorum queues: see [`Topology::arguments`].
const QUORUM_DELIVERY_LIMIT: i64 = 1_000_000;

/// The kind of queue the driver declares (`FASTEVENT_AMQP_QUEUE_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueType {
    /// A queue on one node: cheap, what a single broker runs best.
    Classic,
    /// A replicated queue (Raft): survives the loss of a minority of a
    /// cluster's nodes.
    Quorum,
}

impl QueueType {
    /// `classic` or `quorum`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "classic" => Some(Self::Classic),
            "quorum" => Some(Self::Quorum),
            _ => None,
        }
    }

    /// The default for a `RABBITMQ_URL`: quorum when it names several nodes
    /// (a cluster, where replication is the point), classic for one node
    /// (where a quorum queue replicates nothing and costs more).
    ///
    /// ```
    /// use fastevent::driver::amqp::topology::QueueType;
    ///
    /// assert_eq!(QueueType::default_for("amqp://mq:5672/%2f"), QueueType::Classic);
    /// assert_eq!(QueueType::default_for("amqp://a:5672,amqp://b:5672"), QueueType::Quorum);
    /// ```
    pub fn default_for(url: &str) -> Self {
        match url.trim().trim_end_matches(',').contains(',') {
            true => Self::Quorum,
            false => Self::Classic,
        }
    }

    /// The `x-queue-type` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Quorum => "quorum",
        }
    }
}

/// Where the driver's objects live: the AMQP names of the work queues, the
/// delay levels and the failed store, for a program or an operator that
/// looks at the broker directly. [`AmqpDriver::topology`](super::AmqpDriver::topology)
/// gives the driver's.
///
/// ```
/// use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
/// use fastevent::job::JobDefaults;
///
/// let mut options = AmqpOptions::new(AmqpOptions::DEFAULT_URL);
/// options.default_queue = Some("async_farm.jobs".into());
/// let driver = AmqpDriver::new(options, JobDefaults::default(), None); // connects on first use
///
/// let topology = driver.topology();
/// assert_eq!(topology.work_queue("emails"), "fastevent.emails");
/// assert_eq!(topology.work_queue("default"), "async_farm.jobs");
/// assert_eq!(topology.delay_level(7), "fastevent~delay.1280ms");
/// assert_eq!(topology.failed_queue(), "fastevent~failed");
/// ```
#[derive(Debug, Clone)]
pub struct Topology {
    /// The prefix of every name.
    pub prefix: String,
    /// The AMQP name of the `default` queue, when it is not `{prefix}.default`.
    pub default_queue: Option<String>,
    /// `x-expires` of every queue: unused queues vanish after this long.
    /// For tests, which make fresh queues every run; never in production,
    /// where an idle queue may still hold jobs.
    pub expires: Option<Duration>,
    /// Classic or quorum, for every queue.
    pub queue_type: QueueType,
}

/// A declaration the broker refused.
#[derive(Debug)]
pub struct DeclareError {
    message: String,
}

impl std::fmt::Display for DeclareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl DeclareError {
    /// Whether the broker refused because the object exists with other
    /// arguments: declaring again cannot help.
    pub fn is_mismatch(&self) -> bool {
        self.message.contains("already exists with other arguments")
    }
}

/// Whether the broker answered "exists with other arguments" (406).
fn is_precondition_failed(error: &lapin::Error) -> bool {
    matches!(error.kind(), ErrorKind::ProtocolError(amqp)
        if matches!(amqp.kind(), AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)))
}

impl Topology {
    /// The work queue of fastevent queue `queue`.
    pub fn work_queue(&self, queue: &str) -> String {
        match (&self.default_queue, queue) {
            (Some(name), "default") => name.clone(),
            _ => format!("{}.{queue}", self.prefix),
        }
    }

    /// The queue (and exchange) of delay level `level`.
    pub fn delay_level(&self, level: u32) -> String {
        format!("{}~delay.{}ms", self.prefix, delay::level_ttl_ms(level))
    }

    /// The exchange retries leave the delay levels by.
    pub fn delivery_exchange(&self) -> String {
        format!("{}~delivery", self.prefix)
    }

    /// The failed store.
    pub fn failed_queue(&self) -> String {
        format!("{}~failed", self.prefix)
    }

    /// The exchange and routing key a message of `route` is published with.
    pub fn address(&self, route: &Route) -> (String, String) {
        match route {
            Route::Work(queue) => (String::new(), self.work_queue(queue)),
            Route::Delay(queue, ms) => {
                let units = delay::units_for(Duration::from_millis(*ms));
                let key = delay::routing_key(units, &self.work_queue(queue));
                (self.delay_level(delay::first_level(units)), key)
            }
            Route::Failed => (String::new(), self.failed_queue()),
        }
    }

    /// Where level `level` hands its messages on: the next level down, or
    /// the delivery exchange after level 0.
    fn next_after(&self, level: u32) -> String {
        match level {
            0 => self.delivery_exchange(),
            _ => self.delay_level(level - 1),
        }
    }

    fn arguments(&self) -> FieldTable {
        let mut arguments = FieldTable::default();
        if let Some(expires) = self.expires {
            arguments.insert(
                "x-expires".into(),
                AMQPValue::LongLongInt(expires.as_millis() as i64),
            );
        }
        if self.queue_type == QueueType::Quorum {
            put(&mut arguments, "x-queue-type", "quorum");
            // fastevent counts attempts itself and gives up after `tries`;
            // a broker limit could only drop jobs it has not given up on
            // (RabbitMQ 4 limits to 20 by default, with no dead-letter
            // target: dropped), and every listing of the failed store hands
            // its messages back, which counts as a delivery. So: explicit,
            // and out of reach.
            arguments.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(QUORUM_DELIVERY_LIMIT),
            );
        }
        arguments
    }

    fn level_arguments(&self, level: u32) -> FieldTable {
        let mut arguments = self.arguments();
        let ttl = delay::level_ttl_ms(level) as i64;
        arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
        // The routing key is kept: it carries the rest of the path.
        put(
            &mut arguments,
            "x-dead-letter-exchange",
            &self.next_after(level),
        );
        if self.queue_type == QueueType::Quorum {
            put(&mut arguments, "x-dead-letter-strategy", "at-least-once");
            put(&mut arguments, "x-overflow", "reject-publish");
        }
        arguments
    }

    /// Turns a refusal into an error that names the object, and for a 406
    /// says how to migrate.
    fn refused(&self, what: &str, error: lapin::Error) -> DeclareError {
        if !is_precondition_failed(&error) {
            return DeclareError {
                message: format!("declaring {what}: {error}"),
            };
        }
        let wanted = self.queue_type.name();
        DeclareError {
            message: format!(
                "{what} already exists with other arguments than this fastevent declares ({wanted} \
                 queues, shared delay levels): {error}. It was made by an older fastevent (53 delay \
                 queues per work queue, classic) or with another FASTEVENT_AMQP_QUEUE_TYPE. Either set \
                 FASTEVENT_AMQP_QUEUE_TYPE to the type the broker has, or migrate: stop dispatching, let \
                 the workers empty the queues, delete them (rabbitmqctl delete_queue NAME) and start \
                 again; the README's RabbitMQ section lists every object and the steps"
            ),
        }
    }

    /// Declares the prefix's delay levels and delivery exchange, once per
    /// connection.
    pub async fn declare_delay_levels(&self, link: &Link) -> Result<(), DeclareError> {
        let marker = format!("{}~levels", self.prefix);
        if link.is_declared(&marker) {
            return Ok(());
        }
        let channel = link
            .utility()
            .await
            .map_err(|e| self.refused("a channel", e))?;
        let topic = |name: String| {
            let channel = channel.clone();
            async move {
                let options = ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                };
                channel
                    .exchange_declare(
                        name.as_str().into(),
                        ExchangeKind::Topic,
                        options,
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| self.refused(&format!("exchange `{name}`"), e))
            }
        };
        // Sent back to back on one channel: one round trip's wait per step.
        let exchanges = (0..LEVELS).map(|l| self.delay_level(l));
        try_join_all(exchanges.chain([self.delivery_exchange()]).map(topic)).await?;
        try_join_all((0..LEVELS).map(|level| {
            let name = self.delay_level(level);
            let channel = channel.clone();
            async move {
                channel
                    .queue_declare(
                        name.as_str().into(),
                        QueueDeclareOptions::durable(),
                        self.level_arguments(level),
                    )
                    .await
                    .map_err(|e| self.refused(&format!("queue `{name}`"), e))
            }
        }))
        .await?;
        try_join_all((0..LEVELS).map(|level| {
            let (name, channel) = (self.delay_level(level), channel.clone());
            async move {
                let wait = channel.queue_bind(
                    name.as_str().into(),
                    name.as_str().into(),
                    delay::wait_pattern(level).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                );
                let pass = channel.exchange_bind(
                    self.next_after(level).into(),
                    name.as_str().into(),
                    delay::pass_pattern(level).into(),
                    ExchangeBindOptions::default(),
                    FieldTable::default(),
                );
                tokio::try_join!(wait, pass)
                    .map_err(|e| self.refused(&format!("bindings of `{name}`"), e))
            }
        }))
        .await?;
        link.set_declared(&marker, true);
        Ok(())
    }

    /// Declares `queue`'s work queue and its binding from the delay levels,
    /// once per connection. The levels come first, so a work queue that
    /// exists can take retries.
    pub async fn declare_work_queue(&self, link: &Link, queue: &str) -> Result<(), DeclareError> {
        let name = self.work_queue(queue);
        if link.is_declared(&name) {
            return Ok(());
        }
        self.declare_delay_levels(link).await?;
        let what = format!("queue `{name}`");
        let channel = link.utility().await.map_err(|e| self.refused(&what, e))?;
        channel
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions::durable(),
                self.arguments(),
            )
            .await
            .map_err(|e| self.refused(&what, e))?;
        channel
            .queue_bind(
                name.as_str().into(),
                self.delivery_exchange().into(),
                delay::delivery_pattern(&name).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| self.refused(&what, e))?;
        link.set_declared(&name, true);
        Ok(())
    }

    /// Declares the failed store, once per connection.
    pub async fn declare_failed_queue(&self, link: &Link) -> Result<(), DeclareError> {
        let name = self.failed_queue();
        if link.is_declared(&name) {
            return Ok(());
        }
        let what = format!("queue `{name}`");
        link.utility()
            .await
            .map_err(|e| self.refused(&what, e))?
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions::durable(),
                self.arguments(),
            )
            .await
            .map_err(|e| self.refused(&what, e))?;
        link.set_declared(&name, true);
        Ok(())
    }

    /// Deletes the work queues of `queues`, the delay levels, the delivery
    /// exchange and the failed store, with whatever they hold. Missing
    /// objects are no error.
    pub async fn delete(&self, link: &Link, queues: &[String]) -> Result<(), lapin::Error> {
        let channel = link.utility().await?;
        let mut names: Vec<String> = queues.iter().map(|q| self.work_queue(q)).collect();
        names.extend((0..LEVELS).map(|l| self.delay_level(l)));
        names.push(self.failed_queue());
        try_join_all(
            names.iter().map(|name| {
                channel.queue_delete(name.as_str().into(), QueueDeleteOptions::default())
            }),
        )
        .await?;
        let exchanges = (0..LEVELS).map(|l| self.delay_level(l));
        let exchanges: Vec<String> = exchanges.chain([self.delivery_exchange()]).collect();
        try_join_all(
            exchanges
                .iter()
                .map(|name| channel.exchange_delete(name.as_str().into(), Default::default())),
        )
        .await?;
        for name in names.iter().chain(&exchanges) {
            link.set_declared(name, false);
        }
        link.set_declared(&format!("{}~levels", self.prefix), false);
        Ok(())
    }
}

fn put(arguments: &mut FieldTable, name: &str, value: &str) {
    arguments.insert(
        name.into(),
        AMQPValue::LongString(LongString::from(value.as_bytes().to_vec())),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(default_queue: Option<&str>) -> Topology {
        Topology {
            prefix: "fastevent".into(),
            default_queue: default_queue.map(str::to_string),
            expires: None,
            queue_type: QueueType::Classic,
        }
    }

    #[test]
    fn names() {
        let t = topology(None);
        assert_eq!(t.work_queue("default"), "fastevent.default");
        assert_eq!(t.work_queue("emails"), "fastevent.emails");
        assert_eq!(t.delay_level(0), "fastevent~delay.10ms");
        assert_eq!(t.failed_queue(), "fastevent~failed");
        let legacy = topology(Some("async_farm.jobs"));
        assert_eq!(legacy.work_queue("default"), "async_farm.jobs");
        assert_eq!(legacy.work_queue("emails"), "fastevent.emails");
    }

    #[test]
    fn a_retry_enters_the_level_of_its_highest_bit() {
        let t = topology(None);
        let (exchange, key) = t.address(&Route::Delay("emails".into(), 1000));
        // 1000 ms = 100 units = 0b1100100: level 6 (640 ms) first.
        assert_eq!(exchange, "fastevent~delay.640ms");
        assert!(key.ends_with(".1.1.0.0.1.0.0.fastevent.emails"), "{key}");
        assert_eq!(
            t.address(&Route::Work("emails".into())),
            (String::new(), "fastevent.emails".into())
        );
    }

    #[test]
    fn quorum_levels_dead_letter_at_least_once() {
        let t = Topology {
            queue_type: QueueType::Quorum,
            ..topology(None)
        };
        let arguments = t.level_arguments(3);
        let get = |name: &str| arguments.inner().get(name).cloned();
        assert_eq!(get("x-message-ttl"), Some(AMQPValue::LongLongInt(80)));
        for (name, value) in [
            ("x-queue-type", "quorum"),
            ("x-dead-letter-strategy", "at-least-once"),
            ("x-overflow", "reject-publish"),
            ("x-dead-letter-exchange", "fastevent~delay.40ms"),
        ] {
            assert_eq!(
                get(name),
                Some(AMQPValue::LongString(value.into())),
                "{name}"
            );
        }
        let classic = topology(None).level_arguments(0);
        assert!(classic.inner().get("x-queue-type").is_none());
        assert_eq!(
            classic.inner().get("x-dead-letter-exchange"),
            Some(&AMQPValue::LongString("fastevent~delivery".into()))
        );
    }
}
