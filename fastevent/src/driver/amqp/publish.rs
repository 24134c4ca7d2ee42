//! Publishing with publisher confirms, pipelined: every message of a call
//! is sent before any confirm is awaited, so `n` jobs cost one round trip
//! (plus the broker's disk write), not `n`. A call succeeds only once the
//! broker confirmed every message: persistent messages on a durable queue
//! are confirmed once written to disk. Messages are `mandatory`, so one
//! that no queue takes comes back instead of vanishing.
//!
//! What is not confirmed (a nack, a returned message, a connection lost
//! mid-way) is published again until the caller's deadline, on a new
//! connection if need be; only the unconfirmed ones, so a retry adds no
//! copy of a confirmed message. A message whose confirm was lost with the
//! connection may be stored twice: the guarantee is at least once.

use super::connection::{Broker, BrokerError, Link};
use super::topology::Topology;
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Confirmation};
use std::time::Duration;
use tokio::time::Instant;

/// What a nack says.
const REFUSED: &str = "the broker refused it (nack)";
/// Pause before publishing again what was not confirmed.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// How often a publisher checks whether the broker still blocks it.
const BLOCKED_POLL: Duration = Duration::from_millis(50);

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The work queue of a fastevent queue.
    Work(String),
    /// The delay levels, for the work queue of a fastevent queue after a
    /// delay in ms.
    Delay(String, u64),
    /// The failed store.
    Failed,
}

/// A message to publish.
#[derive(Debug, Clone)]
pub(super) struct Outgoing {
    /// Its queue.
    pub route: Route,
    /// Its properties and headers.
    pub properties: BasicProperties,
    /// Its body.
    pub body: Vec<u8>,
}

/// Publishes `messages` and waits for the broker to confirm all of them,
/// until `deadline`.
pub(super) async fn publish(
    broker: &Broker,
    topology: &Topology,
    messages: &[Outgoing],
    deadline: Instant,
) -> Result<(), BrokerError> {
    publish_with(broker, topology, messages, deadline, true).await
}

/// As [`publish`], but a refusal (a nack: the queue is at its length limit
/// with `reject-publish`, or cannot store the message) is final at once:
/// for a caller that has somewhere else to put the message.
pub(super) async fn publish_unless_refused(
    broker: &Broker,
    topology: &Topology,
    messages: &[Outgoing],
    deadline: Instant,
) -> Result<(), BrokerError> {
    publish_with(broker, topology, messages, deadline, false).await
}

async fn publish_with(
    broker: &Broker,
    topology: &Topology,
    messages: &[Outgoing],
    deadline: Instant,
    again_if_refused: bool,
) -> Result<(), BrokerError> {
    let mut pending: Vec<usize> = (0..messages.len()).collect();
    let not_confirmed = |pending: &[usize], why: String| {
        broker.error(format!(
            "{} of {} message(s) not confirmed in time: {why}",
            pending.len(),
            messages.len()
        ))
    };
    loop {
        let link = broker.link(deadline).await?;
        if let Err(reason) = unblocked(&link, deadline).await {
            return Err(not_confirmed(&pending, blocking(&reason)));
        }
        // Under the deadline as a whole: on a connection the broker blocks,
        // even a declaration or a publish never completes.
        let outcome = tokio::time::timeout_at(
            deadline,
            attempt(&link, topology, messages, &pending, deadline),
        )
        .await;
        let error = match outcome {
            Ok(Ok(())) => return Ok(()),
            Ok(Err((left, error))) => {
                pending = left;
                error
            }
            Err(_) => "no confirm before the deadline".into(),
        };
        // The broker says it blocks a connection only once it holds a
        // publish from it: that is why nothing was confirmed.
        let error = link.blocked().map_or(error, |reason| blocking(&reason));
        if Instant::now() + RETRY_PAUSE >= deadline || (!again_if_refused && error == REFUSED) {
            return Err(not_confirmed(&pending, error));
        }
        tracing::debug!(target: "fastevent", %error, left = pending.len(), "publishing again");
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Waits while the broker blocks `link`'s publishing, until `deadline`;
/// the broker's reason if it still does then.
async fn unblocked(link: &Link, deadline: Instant) -> Result<(), String> {
    loop {
        let Some(reason) = link.blocked() else {
            return Ok(());
        };
        if Instant::now() + BLOCKED_POLL >= deadline {
            return Err(reason);
        }
        tokio::time::sleep(BLOCKED_POLL).await;
    }
}

/// What a publish refused by a blocking broker reports.
fn blocking(reason: &str) -> String {
    format!(
        "the broker is blocking publishers (a memory or disk alarm: {reason}); jobs flow again once the \
         alarm clears"
    )
}

/// One try on `link`; on failure, the messages still unconfirmed and why.
async fn attempt(
    link: &Link,
    topology: &Topology,
    messages: &[Outgoing],
    pending: &[usize],
    deadline: Instant,
) -> Result<(), (Vec<usize>, String)> {
    let fail = |error: String| (pending.to_vec(), error);
    for (i, &index) in pending.iter().enumerate() {
        // Each queue once per call (and once per connection, see `Link`).
        let route = &messages[index].route;
        if pending[..i].iter().any(|&j| messages[j].route == *route) {
            continue;
        }
        match route {
            Route::Work(queue) | Route::Delay(queue, _) => {
                topology.declare_work_queue(link, queue).await
            }
            Route::Failed => topology.declare_failed_queue(link).await,
        }
        .map_err(|e| fail(format!("declaring queues: {e}")))?;
    }
    let channel = link
        .publisher()
        .await
        .map_err(|e| fail(format!("opening a channel: {e}")))?;

    let mut sent = Vec::with_capacity(pending.len());
    let mut left = Vec::new();
    let mut error = None;
    for &index in pending {
        let message = &messages[index];
        let (exchange, routing_key) = topology.address(&message.route);
        if error.is_some() {
            left.push(index);
            continue;
        }
        match channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                &message.body,
                message.properties.clone(),
            )
            .await
        {
            Ok(confirm) => sent.push((index, confirm)),
            Err(e) => {
                error = Some(format!("publishing: {e}"));
                left.push(index);
            }
        }
    }
    for (index, confirm) in sent {
        let outcome = match tokio::time::timeout_at(deadline, confirm).await {
            Ok(Ok(Confirmation::Ack(None))) => continue,
            Ok(Ok(Confirmation::Ack(Some(returned)))) => {
                // No queue took it: declared on this connection, then deleted?
                if let Route::Work(queue) | Route::Delay(queue, _) = &messages[index].route {
                    link.set_declared(&topology.work_queue(queue), false);
                } else {
                    link.set_declared(&topology.failed_queue(), false);
                }
                format!(
                    "the broker returned it ({} {})",
                    returned.reply_code, returned.reply_text
                )
            }
            Ok(Ok(Confirmation::Nack(_))) => REFUSED.to_string(),
            Ok(Ok(Confirmation::NotRequested)) => "the channel is not in confirm mode".into(),
            Ok(Err(e)) => format!("waiting for its confirm: {e}"),
            Err(_) => "no confirm before the deadline".to_string(),
        };
        error.get_or_insert(outcome);
        left.push(index);
    }
    match error {
        None => Ok(()),
        Some(error) => Err((left, error)),
    }
}
