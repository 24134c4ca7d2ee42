//! The queues of the driver, their names and shapes. All are durable and
//! classic, and every message is persistent.
//!
//! - One work queue per fastevent queue, `{prefix}.{queue}`, without
//!   arguments: an existing plain durable queue (the reference system's
//!   `async_farm.jobs`, through `ASYNC_FARM_JOBS_QUEUE`) can serve as the
//!   default queue.
//! - Its delay buckets, `{work}~delay.{ms}ms`: queues nobody consumes, whose
//!   queue-wide TTL (`x-message-ttl`) dead-letters every message back to the
//!   work queue once it has waited that long. This is how a retry waits its
//!   backoff with no broker plugin. One TTL per queue, rather than a TTL per
//!   message in one delay queue, because RabbitMQ expires messages only at
//!   the head of a queue: a 10-minute retry would hold back every 1-second
//!   retry queued behind it. A delay is rounded *up* to the next bucket
//!   (each about 41% longer than the one before, from 10ms to 7 days), so a
//!   retry never runs early and at most 41% late. Every bucket is declared
//!   with its work queue, so anyone (the `status` command, a supervisor)
//!   can count delayed jobs without knowing which delays were used.
//! - The failed store, `{prefix}~failed`: jobs out of attempts, or that
//!   cannot run, with their bytes and the error, for the `failed` commands.
//!
//! `~` is the separator of the driver's own queues because fastevent queue
//! names cannot contain it: no user queue can collide with them.

use super::connection::Link;
use futures_util::future::try_join_all;
use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};
use std::sync::LazyLock;
use std::time::Duration;

/// The shortest delay bucket.
const FIRST_BUCKET_MS: f64 = 10.0;
/// The longest delay a retry can wait; longer backoffs are cut to it.
pub const MAX_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);

/// The delay buckets in milliseconds, ascending: 10ms × √2ⁿ up to 7 days.
pub static DELAY_BUCKETS_MS: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let max = MAX_DELAY.as_millis() as u64;
    let mut buckets = Vec::new();
    for n in 0.. {
        let ms = (FIRST_BUCKET_MS * 2f64.powf(n as f64 / 2.0)).ceil() as u64;
        if ms >= max {
            buckets.push(max);
            break;
        }
        buckets.push(ms);
    }
    buckets
});

/// The bucket a retry after `delay` waits in: the shortest not shorter, so
/// that a retry never runs early, and at most 41% late.
///
/// ```
/// use fastevent::driver::amqp::topology::{bucket_for, DELAY_BUCKETS_MS, MAX_DELAY};
/// use std::time::Duration;
///
/// let bucket = bucket_for(Duration::from_secs(1));
/// assert!((1000..=1415).contains(&bucket));
/// assert!(DELAY_BUCKETS_MS.contains(&bucket));
/// // Longer delays are cut to the longest bucket.
/// assert_eq!(bucket_for(Duration::from_secs(30 * 24 * 3600)), MAX_DELAY.as_millis() as u64);
/// ```
pub fn bucket_for(delay: Duration) -> u64 {
    let ms = delay.as_millis().min(u64::MAX as u128) as u64;
    DELAY_BUCKETS_MS
        .iter()
        .copied()
        .find(|bucket| *bucket >= ms)
        .unwrap_or(MAX_DELAY.as_millis() as u64)
}

/// Where the driver's queues live: the AMQP names of the work queues, their
/// delay buckets and the failed store, for a program or an operator that
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
/// assert_eq!(topology.delay_queue("emails", 1280), "fastevent.emails~delay.1280ms");
/// assert_eq!(topology.failed_queue(), "fastevent~failed");
/// ```
#[derive(Debug, Clone)]
pub struct Topology {
    /// The prefix of every queue name.
    pub prefix: String,
    /// The AMQP name of the `default` queue, when it is not `{prefix}.default`.
    pub default_queue: Option<String>,
    /// `x-expires` of every queue: unused queues vanish after this long.
    /// For tests, which make fresh queues every run; never in production,
    /// where an idle queue may still hold jobs.
    pub expires: Option<Duration>,
}

impl Topology {
    /// The work queue of fastevent queue `queue`.
    pub fn work_queue(&self, queue: &str) -> String {
        match (&self.default_queue, queue) {
            (Some(name), "default") => name.clone(),
            _ => format!("{}.{queue}", self.prefix),
        }
    }

    /// The delay bucket of `bucket_ms` for `queue`.
    pub fn delay_queue(&self, queue: &str, bucket_ms: u64) -> String {
        format!("{}~delay.{bucket_ms}ms", self.work_queue(queue))
    }

    /// The failed store.
    pub fn failed_queue(&self) -> String {
        format!("{}~failed", self.prefix)
    }

    fn arguments(&self) -> FieldTable {
        let mut arguments = FieldTable::default();
        if let Some(expires) = self.expires {
            arguments.insert(
                "x-expires".into(),
                AMQPValue::LongLongInt(expires.as_millis() as i64),
            );
        }
        arguments
    }

    fn delay_arguments(&self, queue: &str, bucket_ms: u64) -> FieldTable {
        let mut arguments = self.arguments();
        arguments.insert(
            "x-message-ttl".into(),
            AMQPValue::LongLongInt(bucket_ms as i64),
        );
        // The default exchange, routing by queue name: back to the work queue.
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(LongString::from("")),
        );
        arguments.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(LongString::from(self.work_queue(queue).into_bytes())),
        );
        arguments
    }

    /// Declares `queue`'s work queue and its delay buckets, once per
    /// connection. The buckets come first, so a work queue that exists has
    /// its buckets.
    pub async fn declare_work_queue(&self, link: &Link, queue: &str) -> Result<(), lapin::Error> {
        let name = self.work_queue(queue);
        if link.is_declared(&name) {
            return Ok(());
        }
        let channel = link.utility().await?;
        // Sent back to back on one channel: one round trip's wait in all.
        try_join_all(DELAY_BUCKETS_MS.iter().map(|bucket| {
            channel.queue_declare(
                self.delay_queue(queue, *bucket).into(),
                QueueDeclareOptions::durable(),
                self.delay_arguments(queue, *bucket),
            )
        }))
        .await?;
        channel
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions::durable(),
                self.arguments(),
            )
            .await?;
        link.set_declared(&name, true);
        Ok(())
    }

    /// Declares the failed store, once per connection.
    pub async fn declare_failed_queue(&self, link: &Link) -> Result<(), lapin::Error> {
        let name = self.failed_queue();
        if link.is_declared(&name) {
            return Ok(());
        }
        link.utility()
            .await?
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions::durable(),
                self.arguments(),
            )
            .await?;
        link.set_declared(&name, true);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(default_queue: Option<&str>) -> Topology {
        Topology {
            prefix: "fastevent".into(),
            default_queue: default_queue.map(str::to_string),
            expires: None,
        }
    }

    #[test]
    fn names() {
        let t = topology(None);
        assert_eq!(t.work_queue("default"), "fastevent.default");
        assert_eq!(t.work_queue("emails"), "fastevent.emails");
        assert_eq!(
            t.delay_queue("emails", 1280),
            "fastevent.emails~delay.1280ms"
        );
        assert_eq!(t.failed_queue(), "fastevent~failed");
        let legacy = topology(Some("async_farm.jobs"));
        assert_eq!(legacy.work_queue("default"), "async_farm.jobs");
        assert_eq!(legacy.work_queue("emails"), "fastevent.emails");
    }

    #[test]
    fn a_delay_is_rounded_up_to_a_bucket_at_most_41_percent_longer() {
        let buckets = &*DELAY_BUCKETS_MS;
        assert_eq!(buckets[0], 10);
        assert_eq!(*buckets.last().unwrap(), MAX_DELAY.as_millis() as u64);
        assert!(buckets.len() < 60, "{} buckets", buckets.len());
        for ms in [0u64, 1, 10, 11, 57, 100, 999, 1000, 60_000, 3_600_000] {
            let bucket = bucket_for(Duration::from_millis(ms));
            assert!(bucket >= ms, "{ms}ms -> {bucket}ms: early");
            assert!(
                bucket as f64 <= (ms.max(10) as f64) * 1.42 + 1.0,
                "{ms}ms -> {bucket}ms: too late"
            );
        }
        assert_eq!(
            bucket_for(Duration::from_secs(30 * 24 * 3600)),
            MAX_DELAY.as_millis() as u64
        );
    }
}
