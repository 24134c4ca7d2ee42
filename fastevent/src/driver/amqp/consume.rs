//! The worker side: each worker gets its own channel and a consumer per
//! queue, with a prefetch equal to its concurrency (the `limit` of its
//! first claim, which is its free capacity), so RabbitMQ never hands one
//! worker more unacknowledged jobs than it can run. Deliveries wait in a
//! buffer until the worker claims them; `wait_for_jobs` wakes the worker as
//! soon as one arrives. A job is acked only once it is settled.
//!
//! Attempts: a delivery's attempt is its `x-fastevent-attempts` header plus
//! one. A delivery the broker marks *redelivered* was handed to a worker
//! before and never settled: that worker died, lost its connection, or was
//! too slow for the broker's `consumer_timeout`. Such a delivery is not run
//! at once: it is first published again with the interrupted attempt
//! counted, and the redelivered copy acked (a "checkpoint"). So a job that
//! kills its worker every time reaches its last attempt and the failed
//! store instead of crashing worker after worker for ever.
//! Two redeliveries are recognised instead of checkpointed:
//! - one of a job still running in this process, whose delivery was lost
//!   with a connection: the new delivery replaces the lost one (no second
//!   run);
//! - one of a job this process settled while its connection was down: the
//!   settlement is applied to the new delivery (no second run either).
//!
//! A worker that stops hands its unclaimed deliveries back (published
//! again without an attempt counted, then acked). A worker that is not
//! heard from for its lease (it hung, or was dropped without stopping) has
//! its channel closed: the broker then gives its jobs to other workers.

use super::Inner;
use super::connection::BrokerError;
use super::message::{self, JobMeta};
use super::publish::{Outgoing, Route};
use crate::driver::durable::{ClaimedJob, QueueError, Settled, StoredJob};
use futures_util::FutureExt;
use futures_util::StreamExt;
use futures_util::future::select_all;
use lapin::Acker;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long a settlement made while the connection was down is remembered,
/// waiting for the job's redelivery.
const LOST_SETTLEMENT_MEMORY: Duration = Duration::from_secs(30 * 60);
/// The wait for a (re)connection inside a claim: short, the worker claims
/// again soon anyway.
const CLAIM_CONNECT_WAIT: Duration = Duration::from_secs(1);

/// What a worker decided about a job.
#[derive(Debug, Clone)]
pub(super) enum Settlement {
    /// Done (or a copy of it is already where it must go): ack.
    Ack,
    /// Run again after the delay; the error of this attempt.
    Retry(Duration, String),
    /// To the failed store, with the error.
    Fail(String),
}

/// Every worker's consumer and the jobs they hold.
#[derive(Default)]
pub(super) struct Workers {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    held: Mutex<HashMap<i64, Held>>,
    next_receipt: AtomicI64,
    /// job id -> a settlement whose ack was lost with its connection.
    lost: Mutex<HashMap<String, (Settlement, Instant)>>,
    /// Jobs being moved (copy published, original not acked yet), with
    /// what their copies wait for: see [`Inner::admit`].
    moving: Mutex<HashMap<String, tokio::sync::watch::Sender<()>>>,
}

/// While it lives, the job it names is being moved; a copy delivered to
/// this process meanwhile waits until it is dropped.
struct Moving<'a> {
    workers: &'a Workers,
    job_id: String,
}

impl Drop for Moving<'_> {
    fn drop(&mut self) {
        // Dropping the sender wakes every copy waiting for this move.
        let mut moving = self
            .workers
            .moving
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        moving.remove(&self.job_id);
    }
}

impl Workers {
    fn moving(&self, job_id: &str) -> Moving<'_> {
        if !job_id.is_empty() {
            let (done, _) = tokio::sync::watch::channel(());
            let mut moving = self.moving.lock().unwrap_or_else(|e| e.into_inner());
            moving.insert(job_id.to_string(), done);
        }
        Moving {
            workers: self,
            job_id: job_id.to_string(),
        }
    }
}

/// A claimed, unsettled delivery.
struct Held {
    worker: String,
    job_id: String,
    acker: Acker,
}

/// One worker's channel and consumers.
pub(super) struct Slot {
    pub(super) worker: String,
    /// Its fastevent queues, in priority order.
    pub queues: Vec<String>,
    prefetch: u16,
    pub(super) session: tokio::sync::Mutex<Option<Session>>,
    /// Deliveries not claimed yet, per queue (same order as `queues`).
    buffer: Mutex<Vec<VecDeque<Delivery>>>,
    notify: Notify,
    /// When the worker was last heard from, and its lease.
    activity: Mutex<(Instant, Duration)>,
    stopping: AtomicBool,
}

/// A worker's channel on one connection.
pub(super) struct Session {
    pub(super) channel: Channel,
    pub(super) consumers: Vec<Consumer>,
}

impl Session {
    pub(super) fn alive(&self) -> bool {
        self.channel.status().connected()
    }
}

impl Slot {
    fn touch(&self, lease: Option<Duration>) {
        let mut activity = self.activity.lock().unwrap_or_else(|e| e.into_inner());
        activity.0 = Instant::now();
        if let Some(lease) = lease {
            activity.1 = lease;
        }
    }

    fn silent_for(&self) -> Option<Duration> {
        let (seen, lease) = *self.activity.lock().unwrap_or_else(|e| e.into_inner());
        let silent = seen.elapsed();
        (silent > lease).then_some(silent)
    }

    fn buffered(&self) -> usize {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        buffer.iter().map(VecDeque::len).sum()
    }

    /// Unclaimed deliveries of fastevent queue `queue`.
    pub(super) fn buffered_in(&self, queue: &str) -> u64 {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        self.queues
            .iter()
            .zip(buffer.iter())
            .filter(|(q, _)| *q == queue)
            .map(|(_, b)| b.len() as u64)
            .sum()
    }

    pub(super) fn clear_buffer(&self) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        buffer.iter_mut().for_each(VecDeque::clear);
    }

    fn push(&self, index: usize, delivery: Delivery) {
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())[index].push_back(delivery);
        self.notify.notify_waiters();
    }
}

impl Inner {
    /// Every worker's slot now.
    pub(super) fn slots(&self) -> Vec<Arc<Slot>> {
        let slots = self.workers.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.values().cloned().collect()
    }

    fn slot_of(&self, worker: &str) -> Option<Arc<Slot>> {
        let slots = self.workers.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.get(worker).cloned()
    }

    /// Jobs of fastevent queue `queue` held by this process's workers.
    pub(super) fn held_in(&self, queue: &str) -> u64 {
        let slots = self.slots();
        let held = self.workers.held.lock().unwrap_or_else(|e| e.into_inner());
        held.values()
            .filter(|h| {
                slots
                    .iter()
                    .any(|s| s.worker == h.worker && s.queues.iter().any(|q| q == queue))
            })
            .count() as u64
    }

    fn held_by(&self, worker: &str) -> usize {
        let held = self.workers.held.lock().unwrap_or_else(|e| e.into_inner());
        held.values().filter(|h| h.worker == worker).count()
    }

    /// `claim` of the trait.
    pub(super) async fn claim(
        self: &Arc<Self>,
        queues: &[String],
        limit: usize,
        worker: &str,
        lease: Duration,
    ) -> Result<Vec<ClaimedJob<i64>>, QueueError> {
        self.reap();
        let slot = {
            let mut slots = self.workers.slots.lock().unwrap_or_else(|e| e.into_inner());
            let slot = slots.entry(worker.to_string()).or_insert_with(|| {
                Arc::new(Slot {
                    worker: worker.to_string(),
                    queues: queues.to_vec(),
                    // The first claim asks for the worker's whole capacity.
                    prefetch: limit.clamp(1, u16::MAX as usize) as u16,
                    session: tokio::sync::Mutex::new(None),
                    buffer: Mutex::new(queues.iter().map(|_| VecDeque::new()).collect()),
                    notify: Notify::new(),
                    activity: Mutex::new((Instant::now(), lease)),
                    stopping: AtomicBool::new(false),
                })
            });
            slot.clone()
        };
        slot.touch(Some(lease));
        if slot.stopping.load(Ordering::Acquire) || limit == 0 {
            return Ok(Vec::new());
        }
        {
            let mut session = slot.session.lock().await;
            if !session.as_ref().is_some_and(Session::alive) {
                *session = None;
                // Their deliveries died with their channel: the broker has
                // them back.
                slot.clear_buffer();
                match self.open_session(&slot).await {
                    Ok(opened) => *session = Some(opened),
                    // The broker is known to be down; say nothing until an
                    // attempt to reach it fails.
                    Err(error) if !error.attempted => return Ok(Vec::new()),
                    Err(error) => return Err(self.queue_error(error.message)),
                }
            }
            if let Some(open) = session.as_mut()
                && let Err(broken) = self.pull(&slot, &mut open.consumers)
            {
                self.session_lost(&slot, &broken);
                *session = None;
                slot.clear_buffer();
                return Ok(Vec::new());
            }
        }
        Ok(self.take(&slot, limit))
    }

    async fn open_session(self: &Arc<Self>, slot: &Slot) -> Result<Session, BrokerError> {
        let link = self
            .broker
            .link(tokio::time::Instant::now() + CLAIM_CONNECT_WAIT)
            .await?;
        let fail = |e: lapin::Error| self.broker.error(format!("starting to consume: {e}"));
        for queue in &slot.queues {
            self.topology
                .declare_work_queue(&link, queue)
                .await
                .map_err(|e| self.broker.error(format!("starting to consume: {e}")))?;
        }
        let channel = link.connection.create_channel().await.map_err(fail)?;
        // One consumer: a per-consumer limit (RabbitMQ's cheaper kind); several
        // queues: one limit shared by the channel, so the worker's total stays
        // its concurrency.
        let global = slot.queues.len() > 1;
        channel
            .basic_qos(slot.prefetch, BasicQosOptions { global })
            .await
            .map_err(fail)?;
        let mut consumers = Vec::with_capacity(slot.queues.len());
        for queue in &slot.queues {
            let consumer = channel
                .basic_consume(
                    self.topology.work_queue(queue).into(),
                    format!("{}/{queue}", slot.worker).into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(fail)?;
            consumers.push(consumer);
        }
        Ok(Session { channel, consumers })
    }

    /// Moves what the consumers received into the slot; an error when the
    /// channel is gone.
    pub(super) fn pull(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        consumers: &mut [Consumer],
    ) -> Result<(), String> {
        for (index, consumer) in consumers.iter_mut().enumerate() {
            loop {
                match consumer.next().now_or_never() {
                    None => break,
                    Some(Some(Ok(delivery))) => self.admit(slot, index, delivery),
                    Some(Some(Err(error))) => return Err(error.to_string()),
                    Some(None) => return Err("the broker cancelled the consumer".into()),
                }
            }
        }
        Ok(())
    }

    fn session_lost(&self, slot: &Slot, error: &str) {
        let held = self.held_by(&slot.worker);
        if error.contains("PRECONDITION_FAILED") || error.contains("acknowledg") {
            tracing::error!(
                target: "fastevent", worker = %slot.worker, %error, held,
                "RabbitMQ closed this worker's channel because a job was not acknowledged within its \
                 consumer_timeout; its jobs are redelivered (those still running here are taken back \
                 without a second run). Raise consumer_timeout in rabbitmq.conf and \
                 RABBITMQ_CONSUMER_TIMEOUT_S, or give the listener a shorter timeout"
            );
        } else {
            tracing::warn!(
                target: "fastevent", worker = %slot.worker, %error, held,
                "lost the worker's channel; the broker redelivers its unsettled jobs"
            );
        }
    }

    /// Where a delivery goes: the buffer, or one of the redelivery paths.
    fn admit(self: &Arc<Self>, slot: &Arc<Slot>, index: usize, delivery: Delivery) {
        let queue = &slot.queues[index];
        let meta = JobMeta::read(&delivery.properties, queue, self.encoder.defaults().tries);
        // A copy this process published can arrive before the confirm that
        // lets it ack the original: running it now, the original's ack could
        // die with the process (a crash job), and the job would run twice.
        let moving = match meta.job_id.is_empty() {
            true => None,
            false => {
                let moving = self
                    .workers
                    .moving
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                moving.get(&meta.job_id).map(|done| done.subscribe())
            }
        };
        if let Some(mut done) = moving {
            let (this, slot) = (self.clone(), slot.clone());
            tokio::spawn(async move {
                // Resolves (with an error) when the move's sender is dropped.
                let _ = done.changed().await;
                this.admit(&slot, index, delivery);
            });
            return;
        }
        if !meta.job_id.is_empty() {
            let lost = {
                let mut lost = self.workers.lost.lock().unwrap_or_else(|e| e.into_inner());
                lost.remove(&meta.job_id)
            };
            if let Some((settlement, _)) = lost {
                tracing::info!(target: "fastevent", job = %meta.job_id, "redelivered job was already settled here; applying that");
                let (this, slot) = (self.clone(), slot.clone());
                tokio::spawn(async move {
                    let attempts = meta.attempts.saturating_add(1);
                    this.apply(&slot, meta, attempts, delivery, settlement)
                        .await
                });
                return;
            }
        }
        if let Some(error) = message::parked_error(&delivery.properties) {
            // Parked on its way to the failed store: offered to it again,
            // not run.
            let (this, slot) = (self.clone(), slot.clone());
            let transit = self.local.start(queue, false);
            tokio::spawn(async move {
                let attempts = meta.attempts;
                this.apply(&slot, meta, attempts, delivery, Settlement::Fail(error))
                    .await;
                this.local.finish(transit);
            });
            return;
        }
        if !delivery.redelivered {
            slot.push(index, delivery);
            return;
        }
        if !meta.job_id.is_empty() && self.adopt(&meta.job_id, &delivery.acker) {
            tracing::info!(target: "fastevent", job = %meta.job_id, "redelivered job still runs here; keeping its new delivery");
            return;
        }
        // Interrupted before it was settled: count that attempt first.
        let (this, slot) = (self.clone(), slot.clone());
        let transit = self.local.start(queue, false);
        tokio::spawn(async move {
            let attempts = meta.attempts.saturating_add(1);
            this.checkpoint(&slot, meta, attempts, delivery).await;
            this.local.finish(transit);
        });
    }

    /// Replaces the lost delivery of a job that still runs here.
    fn adopt(&self, job_id: &str, acker: &Acker) -> bool {
        let mut held = self.workers.held.lock().unwrap_or_else(|e| e.into_inner());
        match held
            .values_mut()
            .find(|h| h.job_id == job_id && h.acker.poisoned())
        {
            Some(lost) => {
                lost.acker = acker.clone();
                true
            }
            None => false,
        }
    }

    /// Publishes the job again with `attempts` counted, then acks this
    /// delivery; on failure hands the delivery back.
    async fn checkpoint(&self, slot: &Slot, meta: JobMeta, attempts: u32, delivery: Delivery) {
        let meta = JobMeta { attempts, ..meta };
        let copy = Outgoing {
            route: Route::Work(meta.queue.clone()),
            properties: meta.properties(),
            body: delivery.data,
        };
        self.publish_then_ack(slot, copy, &delivery.acker, &meta.job_id)
            .await;
    }

    /// Applies a settlement to `delivery`: the same moves as `settle`.
    async fn apply(
        &self,
        slot: &Slot,
        meta: JobMeta,
        attempts: u32,
        delivery: Delivery,
        how: Settlement,
    ) {
        let meta = JobMeta { attempts, ..meta };
        let _moving = self.workers.moving(&meta.job_id);
        let moved = self.move_copy(&meta, &how, delivery.data).await;
        self.ack_or_hand_back(slot, moved, &delivery.acker, &meta.job_id)
            .await;
    }

    async fn publish_then_ack(&self, slot: &Slot, copy: Outgoing, acker: &Acker, job_id: &str) {
        let _moving = self.workers.moving(job_id);
        let moved = self.publish(std::slice::from_ref(&copy)).await;
        self.ack_or_hand_back(slot, moved, acker, job_id).await;
    }

    /// Acks a delivery whose move is done, or hands it back (requeued)
    /// when the move failed. When the channel does not take that, the
    /// channel is closed: the delivery must not stay unacknowledged.
    async fn ack_or_hand_back(
        &self,
        slot: &Slot,
        moved: Result<(), BrokerError>,
        acker: &Acker,
        job_id: &str,
    ) {
        let settled = match moved {
            Ok(()) => acker.ack(BasicAckOptions::default()).await,
            Err(error) => {
                tracing::warn!(target: "fastevent", job = %job_id, %error, "could not move a redelivered job; handing it back");
                // Not at once: the broker would hand it straight back.
                tokio::time::sleep(Duration::from_secs(1)).await;
                acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        multiple: false,
                    })
                    .await
            }
        };
        if !matches!(settled, Ok(true)) && !acker.poisoned() {
            self.break_session(slot, "an ack or nack did not get through")
                .await;
        }
    }

    /// Publishes (confirmed) the copy a settlement needs: none for an ack,
    /// a retry into the delay queues, or the job to the failed store
    /// (parked if the store refuses it).
    async fn move_copy(
        &self,
        meta: &JobMeta,
        how: &Settlement,
        body: Vec<u8>,
    ) -> Result<(), BrokerError> {
        match how {
            Settlement::Ack => Ok(()),
            Settlement::Retry(delay, error) => {
                let copy = Outgoing {
                    route: Route::Delay(
                        meta.queue.clone(),
                        delay.as_millis().min(u64::MAX as u128) as u64,
                    ),
                    properties: meta.retry_properties(error),
                    body,
                };
                self.publish(std::slice::from_ref(&copy)).await
            }
            Settlement::Fail(error) => self.fail_or_park(meta, body, error).await,
        }
    }

    fn take(&self, slot: &Slot, limit: usize) -> Vec<ClaimedJob<i64>> {
        let mut taken = Vec::new();
        {
            let mut buffer = slot.buffer.lock().unwrap_or_else(|e| e.into_inner());
            for (index, deliveries) in buffer.iter_mut().enumerate() {
                while taken.len() < limit {
                    match deliveries.pop_front() {
                        Some(delivery) => taken.push((index, delivery)),
                        None => break,
                    }
                }
            }
        }
        let mut held = self.workers.held.lock().unwrap_or_else(|e| e.into_inner());
        taken
            .into_iter()
            .map(|(index, delivery)| {
                let queue = &slot.queues[index];
                let meta =
                    JobMeta::read(&delivery.properties, queue, self.encoder.defaults().tries);
                let receipt = self.workers.next_receipt.fetch_add(1, Ordering::Relaxed) + 1;
                held.insert(
                    receipt,
                    Held {
                        worker: slot.worker.clone(),
                        job_id: meta.job_id.clone(),
                        acker: delivery.acker,
                    },
                );
                // Receipts are never reused in a process, and a delivery can
                // only be acked on the channel that brought it: the receipt
                // is the claim's fencing token too.
                let job = StoredJob {
                    job_id: meta.job_id,
                    queue: queue.clone(),
                    event: meta.event,
                    listener: meta.listener,
                    body: delivery.data,
                    signature: meta.signature,
                    attempt: meta.attempts.saturating_add(1),
                    max_attempts: meta.max_attempts,
                };
                ClaimedJob::new(receipt, job)
            })
            .collect()
    }

    /// `wait_for_jobs` of the trait.
    pub(super) async fn wait_for_jobs(self: &Arc<Self>, worker: &str, at_most: Duration) {
        let Some(slot) = self.slot_of(worker) else {
            return tokio::time::sleep(at_most).await;
        };
        slot.touch(None);
        if slot.buffered() > 0 {
            return;
        }
        let consumers = match slot.session.try_lock() {
            Ok(session) => session
                .as_ref()
                .filter(|s| s.alive())
                .map(|s| s.consumers.clone()),
            Err(_) => None,
        };
        let Some(mut consumers) = consumers.filter(|c| !c.is_empty()) else {
            return tokio::time::sleep(at_most).await;
        };
        let next = select_all(
            consumers
                .iter_mut()
                .enumerate()
                .map(|(index, consumer)| Box::pin(async move { (index, consumer.next().await) })),
        );
        let woken = slot.notify.notified();
        tokio::select! {
            ((index, Some(Ok(delivery))), _, _) = next => self.admit(&slot, index, delivery),
            // Another task moved a delivery into the buffer.
            () = woken => {}
            // An error or the end of the stream: the next claim finds out.
            () = tokio::time::sleep(at_most) => {}
        }
    }

    /// Settles a claimed job: the copy it needs first (confirmed), then the
    /// ack. A crash between the two leaves both, and the job runs again:
    /// at least once, never lost.
    pub(super) async fn settle(
        self: &Arc<Self>,
        job: &ClaimedJob<i64>,
        worker: &str,
        how: Settlement,
    ) -> Result<Settled, QueueError> {
        if let Some(slot) = self.slot_of(worker) {
            slot.touch(None);
        }
        let acker = {
            let held = self.workers.held.lock().unwrap_or_else(|e| e.into_inner());
            held.get(&job.receipt).map(|h| h.acker.clone())
        };
        // Settled already (an earlier try of this settlement got through).
        let Some(acker) = acker else {
            return Ok(Settled::Done);
        };
        if acker.poisoned() {
            self.forget_held(job.receipt);
            self.remember_lost(&job.job_id, how);
            tracing::warn!(
                target: "fastevent", job = %job.job_id,
                "the connection that delivered this job is gone; the broker redelivers it, and \
                 this outcome is applied if it comes back here"
            );
            self.after_settle(worker).await;
            return Ok(Settled::Done);
        }
        let meta = JobMeta::claimed(job, job.attempt);
        let _moving = self.workers.moving(&job.job_id);
        if let Err(error) = self.move_copy(&meta, &how, job.body.clone()).await {
            // Nowhere to put the job now: back to the broker, attempt counted.
            self.forget_held(job.receipt);
            tracing::warn!(
                target: "fastevent", job = %job.job_id, %error,
                "could not settle this job; the broker takes it back and redelivers it"
            );
            if let Some(slot) = self.slot_of(worker) {
                self.break_session(&slot, "a settle's move failed").await;
            }
            self.after_settle(worker).await;
            return Ok(Settled::LeaseLost);
        }
        if let Settlement::Retry(delay, _) = &how {
            let units = super::delay::units_for(*delay);
            let waits = Duration::from_millis(units * super::delay::UNIT_MS);
            self.local.delayed(&job.queue, waits);
        }
        let acked = acker.ack(BasicAckOptions::default()).await;
        if !matches!(acked, Ok(true)) {
            // The copy exists: if the broker redelivers the original here,
            // ack it and nothing more.
            self.remember_lost(&job.job_id, Settlement::Ack);
            if !acker.poisoned()
                && let Some(slot) = self.slot_of(worker)
            {
                self.break_session(&slot, "an ack did not get through")
                    .await;
            }
        }
        self.forget_held(job.receipt);
        self.after_settle(worker).await;
        Ok(Settled::Done)
    }

    /// `release` of the trait: back to the queue at once. The broker marks
    /// it redelivered, so the interrupted attempt counts, as with SQLite.
    pub(super) async fn release(self: &Arc<Self>, job: &ClaimedJob<i64>, worker: &str) {
        let held = {
            let mut held = self.workers.held.lock().unwrap_or_else(|e| e.into_inner());
            held.remove(&job.receipt)
        };
        if let Some(held) = held {
            let handed_back = held
                .acker
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await;
            if !matches!(handed_back, Ok(true))
                && !held.acker.poisoned()
                && let Some(slot) = self.slot_of(worker)
            {
                self.break_session(&slot, "a nack did not get through")
                    .await;
            }
        }
        self.after_settle(worker).await;
    }

    fn forget_held(&self, receipt: i64) {
        let mut held = self.workers.held.lock().unwrap_or_else(|e| e.into_inner());
        held.remove(&receipt);
    }

    fn remember_lost(&self, job_id: &str, how: Settlement) {
        if job_id.is_empty() {
            return;
        }
        let mut lost = self.workers.lost.lock().unwrap_or_else(|e| e.into_inner());
        lost.retain(|_, (_, at)| at.elapsed() < LOST_SETTLEMENT_MEMORY);
        lost.insert(job_id.to_string(), (how, Instant::now()));
    }

    /// `extend_leases` of the trait: the worker is alive.
    pub(super) fn heard_from(&self, worker: &str, lease: Duration) {
        if let Some(slot) = self.slot_of(worker) {
            slot.touch(Some(lease));
        }
    }

    /// `stop_claiming` of the trait.
    pub(super) async fn stop_claiming(self: &Arc<Self>, worker: &str) {
        let Some(slot) = self.slot_of(worker) else {
            return;
        };
        slot.stopping.store(true, Ordering::Release);
        {
            let mut session = slot.session.lock().await;
            if let Some(open) = session.as_mut().filter(|s| s.alive()) {
                for consumer in &open.consumers {
                    let _ = open
                        .channel
                        .basic_cancel(consumer.tag(), BasicCancelOptions::default())
                        .await;
                }
                // Cancelled: the streams now end after what they hold.
                let _ = self.pull(&slot, &mut open.consumers);
            }
        }
        let unclaimed: Vec<(usize, Delivery)> = {
            let mut buffer = slot.buffer.lock().unwrap_or_else(|e| e.into_inner());
            buffer
                .iter_mut()
                .enumerate()
                .flat_map(|(index, deliveries)| deliveries.drain(..).map(move |d| (index, d)))
                // Those of a lost channel are back in the queue already.
                .filter(|(_, delivery)| delivery.acker.usable())
                .collect()
        };
        // Published again as they were, not requeued: a requeued message
        // comes back marked redelivered and would count an attempt it never
        // made.
        let handed_back = unclaimed.into_iter().map(|(index, delivery)| {
            let meta = JobMeta::read(
                &delivery.properties,
                &slot.queues[index],
                self.encoder.defaults().tries,
            );
            let copy = Outgoing {
                route: Route::Work(meta.queue.clone()),
                properties: meta.properties(),
                body: delivery.data.clone(),
            };
            let slot = &slot;
            async move {
                self.publish_then_ack(slot, copy, &delivery.acker, &meta.job_id)
                    .await
            }
        });
        futures_util::future::join_all(handed_back).await;
        self.after_settle(worker).await;
    }

    /// Closes a stopping worker's channel once it holds nothing.
    async fn after_settle(&self, worker: &str) {
        let Some(slot) = self.slot_of(worker) else {
            return;
        };
        if !slot.stopping.load(Ordering::Acquire) || self.held_by(worker) > 0 {
            return;
        }
        self.workers
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(worker);
        if let Some(session) = slot.session.lock().await.take() {
            let _ = session.channel.close(200, "worker stopped".into()).await;
        }
    }

    /// Closes the channels of workers not heard from for their lease: the
    /// broker gives their jobs to others, as an expired lease does in SQLite.
    fn reap(self: &Arc<Self>) {
        let silent: Vec<(Arc<Slot>, Duration)> = {
            let mut slots = self.workers.slots.lock().unwrap_or_else(|e| e.into_inner());
            let silent: Vec<_> = slots
                .values()
                .filter_map(|s| s.silent_for().map(|d| (s.clone(), d)))
                .collect();
            for (slot, _) in &silent {
                slots.remove(&slot.worker);
            }
            silent
        };
        for (slot, silent) in silent {
            tracing::warn!(
                target: "fastevent", worker = %slot.worker, silent_s = silent.as_secs_f64(),
                "worker not heard from within its lease; its jobs go back to the queue"
            );
            tokio::spawn(async move {
                if let Some(session) = slot.session.lock().await.take() {
                    let _ = session.channel.close(200, "worker silent".into()).await;
                }
            });
        }
    }
}
