//! One connection to RabbitMQ per driver, which is one per process: opened
//! on first use, shared by every dispatch and every worker of the process,
//! and opened again when it drops (a broker restart, a network cut), with
//! exponential backoff between attempts so that a broker that is down is
//! not hammered. On it: a small pool of publisher channels in confirm mode
//! (several, because the broker runs each channel as one process, and one
//! channel would serialise every publisher of the process), and one utility
//! channel for declarations and depth readings.
//!
//! A connection is one [`Link`] with a generation number; whoever holds
//! state tied to a connection (a worker's consumer, a delivery to ack)
//! compares generations to know it is gone.

use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ErrorKind};
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
/// The longest one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the broker could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BrokerError {
    /// What went wrong, naming the broker (without its password).
    pub message: String,
    /// Whether this call tried to reach the broker (false: it is known to be
    /// down and the next attempt is not due yet).
    pub attempted: bool,
}

/// The broker, and the process's connection to it.
pub struct Broker {
    url: String,
    shown: String,
    current: RwLock<Option<Arc<Link>>>,
    connecting: tokio::sync::Mutex<Reconnect>,
    generation: AtomicU64,
}

#[derive(Default)]
struct Reconnect {
    failures: u32,
    next_attempt: Option<Instant>,
    last_error: Option<String>,
}

impl Broker {
    /// A broker at `url`; nothing is opened yet.
    pub fn new(url: String) -> Self {
        Self {
            shown: redact(&url),
            url,
            current: RwLock::new(None),
            connecting: tokio::sync::Mutex::new(Reconnect::default()),
            generation: AtomicU64::new(0),
        }
    }

    /// An error naming the broker.
    pub fn error(&self, what: impl std::fmt::Display) -> BrokerError {
        BrokerError {
            message: format!("RabbitMQ at {}: {what}", self.shown),
            attempted: true,
        }
    }

    /// The live connection, if there is one now; never waits.
    pub fn current(&self) -> Option<Arc<Link>> {
        let link = self.current.read().unwrap_or_else(|e| e.into_inner());
        link.as_ref().filter(|l| l.alive()).cloned()
    }

    /// The live connection, opening one if needed and possible before
    /// `deadline`. Attempts are spaced by the backoff whoever asks: a
    /// caller whose deadline comes before the next attempt is due gets the
    /// last error at once.
    pub async fn link(&self, deadline: Instant) -> Result<Arc<Link>, BrokerError> {
        if let Some(link) = self.current() {
            return Ok(link);
        }
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
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(500), CONNECT_TIMEOUT);
            let name = format!("fastevent (pid {})", std::process::id());
            let properties = ConnectionProperties::default().with_connection_name(name.into());
            let error = match tokio::time::timeout(
                budget,
                Connection::connect(&self.url, properties),
            )
            .await
            {
                Ok(Ok(connection)) => {
                    let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
                    let link = Arc::new(Link::new(connection, generation));
                    if reconnect.failures > 0 {
                        tracing::info!(target: "fastevent", broker = %self.shown, "reconnected to RabbitMQ");
                    }
                    *reconnect = Reconnect::default();
                    *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(link.clone());
                    return Ok(link);
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("no answer within {}s", budget.as_secs_f64()),
            };
            reconnect.failures += 1;
            let backoff = FIRST_BACKOFF
                .saturating_mul(1 << reconnect.failures.min(16).saturating_sub(1))
                .min(MAX_BACKOFF);
            if reconnect.failures == 1 {
                tracing::warn!(target: "fastevent", broker = %self.shown, %error, "cannot reach RabbitMQ; retrying with backoff");
            }
            reconnect.next_attempt = Some(Instant::now() + backoff);
            reconnect.last_error = Some(error.clone());
            if Instant::now() + backoff > deadline {
                return Err(BrokerError {
                    message: format!("cannot reach RabbitMQ at {}: {error}", self.shown),
                    attempted: true,
                });
            }
        }
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
}

impl Link {
    fn new(connection: Connection, generation: u64) -> Self {
        Self {
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

/// Whether the broker answered "no such queue".
pub fn is_not_found(error: &lapin::Error) -> bool {
    matches!(error.kind(), ErrorKind::ProtocolError(amqp)
        if matches!(amqp.kind(), AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)))
}

/// `amqp://user:secret@host/vhost` -> `amqp://user:***@host/vhost`.
pub fn redact(url: &str) -> String {
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
        let broker = Broker::new("amqp://guest:hunter2@127.0.0.1:1/%2f".into());
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
