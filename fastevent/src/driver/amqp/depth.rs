//! Queue depth, for the supervisor's scaling, `status`, and a worker's
//! `--stop-when-empty`. From the broker: a passive declare's message count
//! of each work queue (ready) and of the prefix's delay levels (delayed:
//! the levels are shared by all work queues of the prefix, and the broker
//! cannot say for which queue a retry waits, so each queue shows the
//! prefix's total, an upper bound: a worker stopping when empty waits for
//! every retry of the prefix to come back). From this
//! process: the jobs its workers hold (running), since AMQP does not count
//! unacknowledged messages for anyone but the management plugin.
//!
//! A worker stopping when empty must not stop while a job is on its way to
//! it, so the reading is ordered: for each worker consuming a queue, the
//! count is read *on the worker's own channel*, then a second round trip on
//! that channel makes sure that every delivery the broker made before the
//! count has reached this process (RabbitMQ answers a channel's methods in
//! order, after the deliveries it sent that channel before them). A job is
//! then either counted ready, or here. Jobs this process moved a moment ago
//! (a retry into the delay levels, a checkpoint) are counted from its own
//! records until they are surely visible to the broker's counts.

use super::Inner;
use super::delay::LEVELS;
use crate::driver::durable::{QueueDepth, QueueError};
use crate::registry::registry;
use futures_util::future::join_all;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a moved job stays counted from this process's records after
/// its move was confirmed (or its delay passed).
const LINGER: Duration = Duration::from_millis(500);

/// Jobs in transit in this process, and the queues it touched.
#[derive(Default)]
pub(super) struct Local {
    moves: Mutex<Vec<Move>>,
    next: AtomicU64,
    touched: Mutex<BTreeSet<String>>,
}

struct Move {
    id: u64,
    queue: String,
    delayed: bool,
    /// Until when it counts; `None` while still in progress.
    until: Option<Instant>,
}

impl Local {
    /// A move of a job of `queue` starts; counted until `finish` + linger.
    pub(super) fn start(&self, queue: &str, delayed: bool) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.moves
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Move {
                id,
                queue: queue.to_string(),
                delayed,
                until: None,
            });
        id
    }

    /// The move `id` is done.
    pub(super) fn finish(&self, id: u64) {
        let mut moves = self.moves.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = moves.iter_mut().find(|m| m.id == id) {
            m.until = Some(Instant::now() + LINGER);
        }
    }

    /// A job of `queue` now waits `delay` in the delay levels.
    pub(super) fn delayed(&self, queue: &str, delay: Duration) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.moves
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Move {
                id,
                queue: queue.to_string(),
                delayed: true,
                until: Some(Instant::now() + delay + LINGER),
            });
    }

    /// Notes a queue this process sent to or consumed from.
    pub(super) fn touch(&self, queue: &str) {
        let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        if !touched.contains(queue) {
            touched.insert(queue.to_string());
        }
    }

    pub(super) fn touched(&self) -> BTreeSet<String> {
        self.touched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// (in progress or just moved, delayed) moves of `queue`.
    fn counts(&self, queue: &str) -> (u64, u64) {
        let mut moves = self.moves.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        moves.retain(|m| m.until.is_none_or(|until| until > now));
        moves
            .iter()
            .filter(|m| m.queue == queue)
            .fold((0, 0), |(moving, delayed), m| match m.delayed {
                true => (moving, delayed + 1),
                false => (moving + 1, delayed),
            })
    }
}

impl Inner {
    /// `depth` of the trait: every queue a listener of this program uses,
    /// `default`, and every queue this process touched.
    pub(super) async fn depth(self: &std::sync::Arc<Self>) -> Result<Vec<QueueDepth>, QueueError> {
        let mut queues = self.local.touched();
        queues.insert("default".into());
        for event in registry().events() {
            for listener in &event.listeners {
                queues.insert(listener.options.queue.unwrap_or("default").to_string());
            }
        }
        let link = self.operator_link().await?;

        // Workers' channels first: count, then the barrier, then what arrived.
        let mut ready: BTreeMap<String, u64> = BTreeMap::new();
        for slot in self.slots() {
            let mut session = slot.session.lock().await;
            let Some(open) = session.as_mut().filter(|s| s.alive()) else {
                continue;
            };
            let mut counted = true;
            for round in 0..2 {
                for queue in &slot.queues {
                    match open
                        .channel
                        .queue_declare(
                            self.topology.work_queue(queue).into(),
                            QueueDeclareOptions::default().passive(),
                            FieldTable::default(),
                        )
                        .await
                    {
                        Ok(declared) if round == 0 => {
                            let n = ready.entry(queue.clone()).or_default();
                            *n = (*n).max(declared.message_count() as u64);
                        }
                        Ok(_) => {}
                        Err(_) => counted = false,
                    }
                }
            }
            if !counted || self.pull(&slot, &mut open.consumers).is_err() {
                // The channel broke while we read it: the next claim opens
                // another; until then this reading cannot be trusted.
                return Err(self.queue_error(
                    "a worker's channel closed while reading the queue depth".into(),
                ));
            }
        }

        let delayed_in_levels = self.delayed_count(&link).await;
        let mut depths = Vec::with_capacity(queues.len());
        for queue in queues {
            let work = self.topology.work_queue(&queue);
            let counted = match ready.get(&queue) {
                Some(n) => Some(*n),
                None => link
                    .message_count(&work)
                    .await
                    .map_err(|e| self.queue_error(format!("reading the depth of {work}: {e}")))?,
            };
            let Some(ready) = counted else {
                // Never declared: no job was ever sent to it.
                continue;
            };
            let delayed = delayed_in_levels;
            let (moving, moved_delayed) = self.local.counts(&queue);
            let running = self.held_in(&queue)
                + self
                    .slots()
                    .iter()
                    .map(|s| s.buffered_in(&queue))
                    .sum::<u64>()
                + moving;
            depths.push(QueueDepth {
                queue,
                ready,
                running,
                delayed: delayed.max(moved_delayed),
            });
        }
        Ok(depths)
    }

    /// Messages in the prefix's delay levels (0 for levels that are missing).
    async fn delayed_count(&self, link: &super::connection::Link) -> u64 {
        let Ok(channel) = link.utility().await else {
            return 0;
        };
        // Back to back on one channel: one round trip's wait for all levels.
        let counts = join_all((0..LEVELS).map(|level| {
            channel.queue_declare(
                self.topology.delay_level(level).into(),
                QueueDeclareOptions::default().passive(),
                FieldTable::default(),
            )
        }))
        .await;
        counts
            .into_iter()
            .filter_map(Result::ok)
            .map(|q| q.message_count() as u64)
            .sum()
    }
}
