//! A connection to RabbitMQ, one per purpose and process: the publishers'
//! and the workers' (so that a broker blocking publishers under a memory
//! or disk alarm does not stop the workers' acknowledgements, which share
//! nothing with the blocked connection). Opened on first use, shared by
//! every dispatch or every worker of the process, and opened again when it
//! drops (a broker restart, a network cut), with exponential backoff
//! between attempts so that a broker that is down is not hammered. With
//! several nodes, each attempt tries them in turn, beginning after the one
//! last connected to. On it: a small pool of publisher channels in confirm
//! mode (several, because the broker runs each channel as one process, and
//! one channel would serialise every publisher of the process), and one
//! utility channel for declarations and depth readings.
//!
//! A connection is one [`Link`] with a generation number; whoever holds
//! state tied to a connection (a worker's consumer, a delivery to ack)
//! compares generations to know it is gone.

use super::connect;
use super::endpoint::{self, Endpoint};
use futures_util::StreamExt;
use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ErrorKind, Event};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// Publisher channels per connection.
const PUBLISHER_CHANNELS: usize = 4;
/// The first pause after a failed connection attempt; it doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The longest one connection attempt to one node may take (unless its
/// URL sets `connection_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest: below it even a healthy TLS handshake may not finish.
const MIN_CONNECT_TIME: Duration = Duration::from_millis(500);

/// Why the broker could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(super) struct BrokerError {
    /// What went wrong, naming the broker (without its password).
    pub message: String,
    /// Whether this call tried to reach the broker (false: it is known to be
    /// down and the next attempt is not due yet).
    pub attempted: bool,
}

/// What a connection is for; it names the connection on the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Dispatches, and the copies workers publish (retries, failures).
    Publish,
    /// Consumers, acknowledgements, declarations and queue readings.
    Consume,
}

/// The broker, and the process's connection to it for one purpose.
pub(super) struct Broker {
    nodes: Result<Vec<Endpoint>, String>,
    shown: String,
    purpose: Purpose,
    current: RwLock<Option<Arc<Link>>>,
    connecting: tokio::sync::Mutex<Reconnect>,
    generation: AtomicU64,
}

#[derive(Default)]
struct Reconnect {
    failures: u32,
    next_attempt: Option<Instant>,
    last_error: Option<String>,
    /// The node to try first: the one after the node last connected to.
    first_node: usize,
}

impl Broker {
    /// A broker at `urls` (one URL, or several nodes separated by commas);
    /// nothing is opened yet.
    pub(super) fn new(urls: &str, purpose: Purpose) -> Self {
        let nodes = endpoint::parse_list(urls);
        let shown = match &nodes {
            Ok(nodes) => nodes
                .iter()
                .map(|n| n.shown.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            Err(_) => urls
                .split(',')
                .map(|u| redact(u.trim()))
                .collect::<Vec<_>>()
                .join(", "),
        };
        Self {
            nodes,
            shown,
            purpose,
            current: RwLock::new(None),
            connecting: tokio::sync::Mutex::new(Reconnect::default()),
            generation: AtomicU64::new(0),
        }
    }

    /// An error naming the broker.
    pub(super) fn error(&self, what: impl std::fmt::Display) -> BrokerError {
        BrokerError {
            message: format!("RabbitMQ at {}: {what}", self.shown),
            attempted: true,
        }
    }

    /// The live connection, if there is one now; never waits.
    pub(super) fn current(&self) -> Option<Arc<Link>> {
        let link = self.current.read().unwrap_or_else(|e| e.into_inner());
        link.as_ref().filter(|l| l.alive()).cloned()
    }

    /// The live connection, opening one if needed and possible before
    /// `deadline`. Attempts are spaced by the backoff whoever asks: a
    /// caller whose deadline comes before the next attempt is due gets the
    /// last error at once.
    pub(super) async fn link(&self, deadline: Instant) -> Result<Arc<Link>, BrokerError> {
        if let Some(link) = self.current() {
            return Ok(link);
        }
        let nodes = self.nodes.as_ref().map_err(|e| BrokerError {
            message: format!("RABBITMQ_URL refused: {e}"),
            attempted: false,
        })?;
        let mut reconnect = self.connecting.lock().await;
        loop {
            // Someone else may have connected while we waited for the lock.
            if let Some(link) = self.current() {
                return Ok(link);
            }
            let now = Instant::now();
            if let Some(next) = reconnect.next_attempt.filter(|next| *next > now) {
                if next > deadline {
                    return Err(BrokerError {
                        message: format!(
                            "cannot reach RabbitMQ at {}: {} (next attempt in {}ms)",
                            self.shown,
                            reconnect.last_error.as_deref().unwrap_or("not connected"),
                            (next - now).as_millis()
                        ),
                        attempted: false,
                    });
                }
                tokio::time::sleep_until(next).await;
            }
            let error = match self
                .connect_any(nodes, reconnect.first_node, deadline)
                .await
            {
                Ok((index, connection)) => {
                    let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
                    let link = Arc::new(Link::new(connection, generation));
                    if reconnect.failures > 0 || generation > 1 {
                        tracing::info!(target: "fastevent", broker = %nodes[index].shown, purpose = ?self.purpose, "connected to RabbitMQ again");
                    }
                    *reconnect = Reconnect {
                        first_node: (index + 1) % nodes.len(),
                        ..Reconnect::default()
                    };
                    *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(link.clone());
                    return Ok(link);
                }
                Err(error) => error,
            };
            reconnect.failures += 1;
            let backoff = FIRST_BACKOFF
                .saturating_mul(1 << reconnect.failures.min(16).saturating_sub(1))
                .min(MAX_BACKOFF);
            if reconnect.failures == 1 {
                tracing::warn!(target: "fastevent", %error, "cannot reach RabbitMQ; retrying with backoff");
            }
            reconnect.next_attempt = Some(Instant::now() + backoff);
            reconnect.last_error = Some(error.clone());
            if Instant::now() + backoff > deadline {
                return Err(BrokerError {
                    message: format!("cannot reach RabbitMQ at {error}"),
                    attempted: true,
                });
            }
        }
    }

    /// One round over the nodes from `first`, until one answers or the
    /// deadline passes: the node's index and connection, or what each node
    /// tried said (`{node}: {why}`, joined).
    async fn connect_any(
        &self,
        nodes: &[Endpoint],
        first: usize,
        deadline: Instant,
    ) -> Result<(usize, Connection), String> {
        let name = match self.purpose {
            Purpose::Publish => format!("fastevent (pid {}, publishing)", std::process::id()),
            Purpose::Consume => format!("fastevent (pid {}, consuming)", std::process::id()),
        };
        let mut failures = Vec::new();
        for index in (0..nodes.len()).map(|i| (first + i) % nodes.len()) {
            let node = &nodes[index];
            if !failures.is_empty() && Instant::now() >= deadline {
                failures.push(format!("{}: not tried before the deadline", node.shown));
                continue;
            }
            let budget = deadline.saturating_duration_since(Instant::now()).clamp(
                MIN_CONNECT_TIME,
                node.connect_timeout.unwrap_or(CONNECT_TIMEOUT),
            );
            match connect::open(node, name.clone(), budget).await {
                Ok(connection) => return Ok((index, connection)),
                Err(error) => failures.push(format!("{}: {error}", node.shown)),
            }
        }
        Err(failures.join("; "))
    }
}

/// One open connection and the channels on it.
pub struct Link {
    /// The connection.
    pub connection: Connection,
    /// Which connection of the process this is (1, 2, ... after reconnects).
    pub generation: u64,
    publishers: Vec<tokio::sync::Mutex<Option<Channel>>>,
    next_publisher: AtomicUsize,
    utility: tokio::sync::Mutex<Option<Channel>>,
    /// Queues declared on this connection (declaring is idempotent, but not
    /// free; after a reconnect they are declared again, in case the broker
    /// lost them).
    declared: Mutex<HashSet<String>>,
    /// Why the broker blocks this connection, as it said last.
    blocked_reason: Arc<Mutex<Option<String>>>,
    /// Follows the connection's events to keep `blocked_reason`.
    events: tokio::task::JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.events.abort();
    }
}

impl Link {
    fn new(connection: Connection, generation: u64) -> Self {
        let blocked_reason = Arc::new(Mutex::new(None));
        let events = tokio::spawn(follow_blocking(
            connection.events_listener(),
            blocked_reason.clone(),
        ));
        Self {
            blocked_reason,
            events,
            connection,
            generation,
            publishers: (0..PUBLISHER_CHANNELS)
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            next_publisher: AtomicUsize::new(0),
            utility: tokio::sync::Mutex::new(None),
            declared: Mutex::new(HashSet::new()),
        }
    }

    /// Whether the connection is open.
    pub fn alive(&self) -> bool {
        self.connection.status().connected()
    }

    /// Why the broker blocks this connection (a memory or disk alarm), if
    /// it does: nothing sent on it goes out until it lifts.
    pub fn blocked(&self) -> Option<String> {
        if !self.connection.status().blocked() {
            return None;
        }
        let reason = self
            .blocked_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Some(reason.clone().unwrap_or_else(|| "no reason given".into()))
    }

    /// A publisher channel (confirms on), taken in turn from the pool.
    pub async fn publisher(&self) -> Result<Channel, lapin::Error> {
        let slot = self.next_publisher.fetch_add(1, Ordering::Relaxed) % self.publishers.len();
        let mut channel = self.publishers[slot].lock().await;
        if let Some(open) = channel.as_ref().filter(|c| c.status().connected()) {
            return Ok(open.clone());
        }
        let fresh = self.connection.create_channel().await?;
        fresh
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        *channel = Some(fresh.clone());
        Ok(fresh)
    }

    /// The utility channel (no confirms), opened again after an error
    /// closed it.
    pub async fn utility(&self) -> Result<Channel, lapin::Error> {
        let mut channel = self.utility.lock().await;
        if let Some(open) = channel.as_ref().filter(|c| c.status().connected()) {
            return Ok(open.clone());
        }
        let fresh = self.connection.create_channel().await?;
        *channel = Some(fresh.clone());
        Ok(fresh)
    }

    /// Whether `queue` was declared on this connection.
    pub fn is_declared(&self, queue: &str) -> bool {
        self.declared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(queue)
    }

    /// Notes that `queue` was declared, or (`false`) must be again.
    pub fn set_declared(&self, queue: &str, declared: bool) {
        let mut set = self.declared.lock().unwrap_or_else(|e| e.into_inner());
        match declared {
            true => set.insert(queue.to_string()),
            false => set.remove(queue),
        };
    }

    /// The ready messages of `queue` (a passive declare, on its own channel
    /// since a missing queue closes the channel); `None` when the queue does
    /// not exist.
    pub async fn message_count(&self, queue: &str) -> Result<Option<u64>, lapin::Error> {
        let channel = self.utility().await?;
        match channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions::default().passive(),
                FieldTable::default(),
            )
            .await
        {
            Ok(declared) => Ok(Some(declared.message_count() as u64)),
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Keeps `reason` as the broker's last `connection.blocked` says.
async fn follow_blocking(
    events: impl futures_util::Stream<Item = Event> + Send + 'static,
    reason: Arc<Mutex<Option<String>>>,
) {
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        let now = match event {
            Event::ConnectionBlocked(why) => {
                tracing::warn!(target: "fastevent", reason = %why, "RabbitMQ blocks publishing (a memory or disk alarm)");
                Some(why)
            }
            Event::ConnectionUnblocked => {
                tracing::info!(target: "fastevent", "RabbitMQ no longer blocks publishing");
                None
            }
            _ => continue,
        };
        *reason.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }
}

/// Whether the broker answered "no such queue".
pub(super) fn is_not_found(error: &lapin::Error) -> bool {
    matches!(error.kind(), ErrorKind::ProtocolError(amqp)
        if matches!(amqp.kind(), AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)))
}

/// `amqp://user:secret@host/vhost` -> `amqp://user:***@host/vhost`.
pub(super) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split_once(':').map_or(credentials, |(u, _)| u);
            let hidden = if credentials.contains(':') {
                ":***"
            } else {
                ""
            };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            (
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                "amqp://guest:***@127.0.0.1:5672/%2f",
            ),
            (
                "amqps://app:p@ss:w0rd@mq.example:5671/prod?heartbeat=10",
                "amqps://app:***@mq.example:5671/prod?heartbeat=10",
            ),
            ("amqp://user@host", "amqp://user@host"),
            ("amqp://host:5672/%2f", "amqp://host:5672/%2f"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact(url), shown);
        }
    }

    #[tokio::test]
    async fn an_unreachable_broker_is_an_error_naming_it_without_its_password() {
        // Port 1 on loopback: nothing listens there, the refusal is immediate.
        let broker = Broker::new("amqp://guest:hunter2@127.0.0.1:1/%2f", Purpose::Consume);
        let error = broker
            .link(Instant::now() + Duration::from_millis(300))
            .await
            .err()
            .unwrap();
        assert!(error.attempted);
        assert!(
            error
                .message
                .starts_with("cannot reach RabbitMQ at amqp://guest:***@127.0.0.1:1/%2f"),
            "{}",
            error.message
        );
        assert!(!error.message.contains("hunter2"));
        // Within the backoff, a caller in a hurry gets the error at once.
        let started = std::time::Instant::now();
        let again = broker.link(Instant::now()).await.err().unwrap();
        assert!(!again.attempted && started.elapsed() < Duration::from_millis(50));
    }
}
