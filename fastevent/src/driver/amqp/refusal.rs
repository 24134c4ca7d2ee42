//! When the broker refuses a move, or a settle does not get through: the
//! delivery must not stay unacknowledged, holding a slot of the worker's
//! prefetch for as long as the channel lives (AMQP has no lease that would
//! hand it back by itself).
//!
//! - The failed store refusing a job (a length limit with
//!   `reject-publish`, a message over a size limit) is expected to last:
//!   the job is parked in the delay queues with its error, and offered to
//!   the store again after the park delay, without running again. It stays
//!   on the broker; nothing is lost, and the worker's slot is free.
//! - Anything else (the park refused too, an ack or a nack that the channel
//!   did not take) closes the worker's channel: the broker then takes back
//!   every delivery of that channel and redelivers them, each counting its
//!   interrupted attempt; the next claim opens a new channel.

use super::Inner;
use super::connection::BrokerError;
use super::consume::Slot;
use super::message::JobMeta;
use super::publish::{self, Outgoing, Route};
use std::time::Duration;

impl Inner {
    /// Moves a job to the failed store with `error`, or parks it when the
    /// store refuses it. An error when neither took it.
    pub(super) async fn fail_or_park(
        &self,
        meta: &JobMeta,
        body: Vec<u8>,
        error: &str,
    ) -> Result<(), BrokerError> {
        let failed_at = crate::job::now_ms();
        let copy = Outgoing {
            route: Route::Failed,
            properties: meta.failed_properties(
                error,
                failed_at,
                super::failed::failed_id(meta, failed_at),
            ),
            body: body.clone(),
        };
        let deadline = tokio::time::Instant::now() + self.options.operation_timeout;
        let refused = match publish::publish_unless_refused(
            &self.publisher,
            &self.topology,
            std::slice::from_ref(&copy),
            deadline,
        )
        .await
        {
            Ok(()) => return Ok(()),
            Err(refused) => refused,
        };
        let park = self.options.park_delay;
        tracing::warn!(
            target: "fastevent", job = %meta.job_id, queue = %meta.queue, %refused,
            park_s = park.as_secs_f64(),
            "the failed store refused this job: is `{}` at a length limit with reject-publish (a policy), \
             or the job larger than the broker accepts? It is parked in the delay queues and offered to \
             the failed store again after the park delay, without running again; nothing is lost",
            self.topology.failed_queue()
        );
        let parked = Outgoing {
            route: Route::Delay(meta.queue.clone(), park.as_millis() as u64),
            properties: meta.parked_properties(error),
            body,
        };
        self.publish(std::slice::from_ref(&parked)).await?;
        self.local.delayed(&meta.queue, park);
        Ok(())
    }

    /// Closes `slot`'s channel so that the broker takes back and
    /// redelivers every delivery it held; the next claim opens another.
    pub(super) async fn break_session(&self, slot: &Slot, why: &str) {
        let session = slot.session.lock().await.take();
        slot.clear_buffer();
        if let Some(session) = session {
            tracing::warn!(
                target: "fastevent", worker = %slot.worker, why,
                "closing the worker's channel: the broker redelivers what it held, each counting its interrupted attempt"
            );
            let closing = session
                .channel
                .close(200, "fastevent: a settle failed".into());
            // A broker that does not answer: the connection's end frees it.
            let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;
        }
    }
}
