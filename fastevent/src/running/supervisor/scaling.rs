//! The scaling decision, as a pure function of what the supervisor knows:
//! no clock, no processes, no queue, so every rule is unit-tested.
//!
//! Rules, in order:
//! 1. fewer than `min` workers alive: start the missing ones, whatever the
//!    queue says (a depth reading that failed, say on a locked database,
//!    must never keep the pool below its minimum);
//! 2. more than `max` alive (the maximum was lowered at run time): stop the
//!    excess, idle workers first, whatever the queue says;
//! 3. no reading this tick (the queue could not be read): nothing more;
//! 4. more jobs ready than the pool can hold (`alive × concurrency`): start
//!    up to `up_batch` more, never past `max`;
//! 5. nothing ready, more than `min` alive, and the queue idle for the
//!    whole cooldown (counted from the last scaling too, so one cooldown
//!    passes between two scale-downs): stop up to `down_batch` idle workers.
//!
//! Once a worker has stopped by its own limits (`--stop-when-empty`,
//! `--max-jobs`, `--max-time`) the pool is winding down: it only shrinks.

use std::time::{Duration, Instant};

/// The pool's bounds and step sizes, as `decide` reads them: the
/// supervisor makes them from its [`SupervisorSettings`](super::SupervisorSettings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    /// Workers kept alive.
    pub min: usize,
    /// Most workers at once.
    pub max: usize,
    /// Jobs one worker runs at once.
    pub concurrency: usize,
    /// Workers added per scale-up.
    pub up_batch: usize,
    /// Idle workers stopped per scale-down.
    pub down_batch: usize,
    /// Idle time of the queue before a scale-down.
    pub cooldown: Duration,
}

/// The supervisor's queues' jobs, summed: [`SupervisorState::backlog`](super::SupervisorState::backlog),
/// and what `decide` scales on.
///
/// ```
/// use fastevent::driver::durable::QueueDepth;
/// use fastevent::supervisor::Backlog;
///
/// fn backlog(depths: &[QueueDepth]) -> Backlog {
///     depths.iter().fold(Backlog::default(), |sum, d| Backlog {
///         ready: sum.ready + d.ready,
///         running: sum.running + d.running,
///         delayed: sum.delayed + d.delayed,
///     })
/// }
///
/// let depths = [
///     QueueDepth { queue: "high".into(), ready: 3, running: 1, delayed: 0 },
///     QueueDepth { queue: "default".into(), ready: 7, running: 4, delayed: 2 },
/// ];
/// assert_eq!(backlog(&depths), Backlog { ready: 10, running: 5, delayed: 2 });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Backlog {
    /// Waiting to run now.
    pub ready: u64,
    /// Held by a worker.
    pub running: u64,
    /// Waiting for a retry's backoff.
    pub delayed: u64,
}

/// The pool as `decide` sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Pool {
    /// Workers starting or taking jobs (not those already stopping).
    pub alive: usize,
    /// Workers that run nothing, in the order they should be stopped.
    pub idle: Vec<u32>,
    /// The other alive workers (starting, or running jobs), in the order
    /// they should be stopped when the pool is over its maximum.
    pub busy: Vec<u32>,
    /// A worker stopped by its own limits: never grow again.
    pub winding_down: bool,
}

/// What to do this tick, from `decide`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Decision {
    /// Nothing.
    Hold,
    /// Start `count` workers.
    Start {
        /// How many.
        count: usize,
        /// Why.
        reason: StartReason,
    },
    /// Stop these idle workers (SIGTERM; they drain).
    Stop {
        /// Their numbers.
        workers: Vec<u32>,
        /// How long the queue has been idle.
        idle_for: Duration,
    },
    /// More workers are alive than the maximum (lowered at run time): stop
    /// these (SIGTERM; they drain).
    Trim {
        /// Their numbers.
        workers: Vec<u32>,
    },
}

/// Why workers are started, in [`Decision::Start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StartReason {
    /// Fewer than the minimum are alive (start-up, or replacing one that
    /// exited or was killed).
    BelowMin {
        /// Workers alive.
        alive: usize,
    },
    /// More jobs are ready than the pool can hold.
    Backlog {
        /// Jobs ready.
        ready: u64,
        /// Jobs the alive workers can hold.
        capacity: u64,
    },
}

/// Decides whether to start or stop workers this tick, by the rules of the
/// [module](self); the supervisor acts on the [`Decision`]. `backlog` is
/// `None` when the queue could not be read (or was not read this tick);
/// `idle_for` is how long the queue has been idle, per [`IdleClock`].
pub(super) fn decide(
    limits: &Limits,
    pool: &Pool,
    backlog: Option<Backlog>,
    idle_for: Option<Duration>,
) -> Decision {
    let alive = pool.alive;
    if !pool.winding_down && alive < limits.min {
        return Decision::Start {
            count: limits.min - alive,
            reason: StartReason::BelowMin { alive },
        };
    }
    if alive > limits.max {
        let workers: Vec<u32> = pool
            .idle
            .iter()
            .chain(&pool.busy)
            .take(alive - limits.max)
            .copied()
            .collect();
        if !workers.is_empty() {
            return Decision::Trim { workers };
        }
    }
    let Some(backlog) = backlog else {
        return Decision::Hold;
    };
    if pool.winding_down {
        return Decision::Hold;
    }
    let capacity = (alive * limits.concurrency.max(1)) as u64;
    if backlog.ready > capacity && alive < limits.max {
        return Decision::Start {
            count: limits.up_batch.min(limits.max - alive),
            reason: StartReason::Backlog {
                ready: backlog.ready,
                capacity,
            },
        };
    }
    if backlog.ready == 0
        && alive > limits.min
        && let Some(idle_for) = idle_for.filter(|idle| *idle >= limits.cooldown)
    {
        let count = limits
            .down_batch
            .min(alive - limits.min)
            .min(pool.idle.len());
        if count > 0 {
            return Decision::Stop {
                workers: pool.idle[..count].to_vec(),
                idle_for,
            };
        }
    }
    Decision::Hold
}

/// How long the queue has been idle (nothing ready), restarted by every
/// scaling action, so that a scale-down waits a full cooldown after the last
/// change of the pool: no flapping between up and down.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct IdleClock {
    idle_since: Option<Instant>,
    last_scaling: Option<Instant>,
}

impl IdleClock {
    /// Records a depth reading; `None` is a failed one, which proves nothing
    /// about idleness and so restarts the clock.
    pub(super) fn observe(&mut self, backlog: Option<Backlog>, now: Instant) {
        match backlog {
            Some(b) if b.ready == 0 => {
                self.idle_since.get_or_insert(now);
            }
            _ => self.idle_since = None,
        }
    }

    /// Records that the pool was scaled (up or down) at `now`.
    pub(super) fn scaled(&mut self, now: Instant) {
        self.last_scaling = Some(now);
    }

    /// How long the queue has been idle and the pool unchanged, if idle.
    pub(super) fn idle_for(&self, now: Instant) -> Option<Duration> {
        let since = self.idle_since?;
        let from = self.last_scaling.map_or(since, |scaled| scaled.max(since));
        Some(now.saturating_duration_since(from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        min: 2,
        max: 6,
        concurrency: 10,
        up_batch: 2,
        down_batch: 1,
        cooldown: Duration::from_secs(10),
    };

    fn pool(alive: usize, idle: &[u32]) -> Pool {
        Pool {
            alive,
            idle: idle.to_vec(),
            busy: (1..=alive as u32)
                .rev()
                .filter(|n| !idle.contains(n))
                .collect(),
            winding_down: false,
        }
    }

    fn ready(ready: u64) -> Option<Backlog> {
        Some(Backlog {
            ready,
            ..Backlog::default()
        })
    }

    const LONG_IDLE: Option<Duration> = Some(Duration::from_secs(60));

    #[test]
    fn a_backlog_beyond_capacity_scales_up_by_a_batch() {
        // 3 workers hold 30 jobs: 31 ready is a backlog, 30 is not.
        assert_eq!(
            decide(&LIMITS, &pool(3, &[]), ready(31), None),
            Decision::Start {
                count: 2,
                reason: StartReason::Backlog {
                    ready: 31,
                    capacity: 30
                }
            }
        );
        assert_eq!(
            decide(&LIMITS, &pool(3, &[]), ready(30), None),
            Decision::Hold
        );
    }

    #[test]
    fn scaling_up_never_passes_max() {
        let up = |alive| match decide(&LIMITS, &pool(alive, &[]), ready(1000), None) {
            Decision::Start { count, .. } => count,
            other => panic!("{other:?}"),
        };
        assert_eq!(up(4), 2);
        assert_eq!(up(5), 1);
        assert_eq!(
            decide(&LIMITS, &pool(6, &[]), ready(1000), None),
            Decision::Hold
        );
    }

    #[test]
    fn an_idle_queue_scales_down_after_the_cooldown_only() {
        let idle = pool(4, &[4, 3]);
        assert_eq!(
            decide(&LIMITS, &idle, ready(0), LONG_IDLE),
            Decision::Stop {
                workers: vec![4],
                idle_for: Duration::from_secs(60)
            }
        );
        assert_eq!(
            decide(&LIMITS, &idle, ready(0), Some(Duration::from_secs(9))),
            Decision::Hold,
            "within the cooldown"
        );
        assert_eq!(decide(&LIMITS, &idle, ready(0), None), Decision::Hold);
        assert_eq!(
            decide(&LIMITS, &idle, ready(1), LONG_IDLE),
            Decision::Hold,
            "a job is ready"
        );
    }

    #[test]
    fn scaling_down_stops_only_idle_workers_and_never_below_min() {
        let limits = Limits {
            down_batch: 5,
            ..LIMITS
        };
        assert_eq!(
            decide(&limits, &pool(5, &[5, 4, 3, 2, 1]), ready(0), LONG_IDLE),
            Decision::Stop {
                workers: vec![5, 4, 3],
                idle_for: Duration::from_secs(60)
            }
        );
        assert_eq!(
            decide(&limits, &pool(5, &[2]), ready(0), LONG_IDLE),
            Decision::Stop {
                workers: vec![2],
                idle_for: Duration::from_secs(60)
            }
        );
        assert_eq!(
            decide(&limits, &pool(5, &[]), ready(0), LONG_IDLE),
            Decision::Hold
        );
        assert_eq!(
            decide(&limits, &pool(2, &[2, 1]), ready(0), LONG_IDLE),
            Decision::Hold
        );
    }

    #[test]
    fn below_min_starts_the_missing_workers_even_when_the_queue_cannot_be_read() {
        let expected = Decision::Start {
            count: 2,
            reason: StartReason::BelowMin { alive: 0 },
        };
        assert_eq!(decide(&LIMITS, &pool(0, &[]), None, None), expected);
        assert_eq!(
            decide(&LIMITS, &pool(0, &[]), ready(0), LONG_IDLE),
            expected
        );
        assert_eq!(
            decide(&LIMITS, &pool(1, &[]), ready(1000), None),
            Decision::Start {
                count: 1,
                reason: StartReason::BelowMin { alive: 1 }
            },
            "the minimum first; the backlog on the next tick"
        );
    }

    #[test]
    fn a_failed_reading_skips_the_scaling_decision() {
        assert_eq!(
            decide(&LIMITS, &pool(3, &[3]), None, LONG_IDLE),
            Decision::Hold
        );
    }

    #[test]
    fn a_winding_down_pool_never_grows() {
        let winding = Pool {
            winding_down: true,
            ..Pool::default()
        };
        assert_eq!(decide(&LIMITS, &winding, ready(1000), None), Decision::Hold);
    }

    #[test]
    fn a_lowered_maximum_stops_the_excess_idle_workers_first_whatever_the_queue() {
        let limits = Limits { max: 3, ..LIMITS };
        assert_eq!(
            decide(&limits, &pool(5, &[2]), None, None),
            Decision::Trim {
                workers: vec![2, 5]
            },
            "idle 2 first, then the newest busy one"
        );
        assert_eq!(
            decide(&limits, &pool(5, &[5, 4, 3]), ready(1000), None),
            Decision::Trim {
                workers: vec![5, 4]
            }
        );
        assert_eq!(decide(&limits, &pool(3, &[]), None, None), Decision::Hold);
    }

    #[test]
    fn the_idle_clock_counts_from_the_later_of_idleness_and_the_last_scaling() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut clock = IdleClock::default();
        clock.observe(ready(3), at(0));
        assert_eq!(clock.idle_for(at(0)), None);
        clock.observe(ready(0), at(1));
        clock.observe(ready(0), at(5));
        assert_eq!(clock.idle_for(at(5)), Some(Duration::from_secs(4)));
        clock.scaled(at(6));
        assert_eq!(clock.idle_for(at(8)), Some(Duration::from_secs(2)));
        clock.observe(None, at(9));
        assert_eq!(
            clock.idle_for(at(9)),
            None,
            "a failed reading proves nothing"
        );
        clock.observe(ready(0), at(10));
        clock.observe(ready(1), at(11));
        assert_eq!(clock.idle_for(at(12)), None);
    }
}
