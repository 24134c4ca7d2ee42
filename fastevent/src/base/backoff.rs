//! The delay before a failed job runs again: the listener's `backoff`, or
//! the worker's default (exponential from `first`), capped, with jitter so
//! a burst of failures does not come back as a burst.

use crate::listener::Backoff;
use std::cell::Cell;
use std::time::Duration;

/// The worker's default retry schedule, for listeners that set no
/// `backoff`: exponential from `first`, with jitter, at most `max`
/// (`FASTEVENT_BACKOFF_S`, `FASTEVENT_BACKOFF_MAX_S`).
///
/// ```
/// use fastevent::worker::{BackoffDefaults, WorkerOptions};
/// use std::time::Duration;
///
/// let options = WorkerOptions {
///     backoff: BackoffDefaults {
///         first: Duration::from_secs(5),
///         max: Duration::from_secs(3600),
///     },
///     ..WorkerOptions::default()
/// };
/// assert_eq!(BackoffDefaults::default().first, Duration::from_secs(1));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffDefaults {
    /// The delay before the first retry.
    pub first: Duration,
    /// No delay is longer than this.
    pub max: Duration,
}

impl Default for BackoffDefaults {
    /// 1 second, doubling, at most 10 minutes.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(600),
        }
    }
}

/// The delay after `failed_attempt` (1 for the first attempt) failed.
pub(crate) fn delay(backoff: Backoff, defaults: BackoffDefaults, failed_attempt: u32) -> Duration {
    let exponent = failed_attempt.saturating_sub(1).min(30);
    let base = match backoff {
        Backoff::Schedule(delays) if !delays.is_empty() => {
            // An explicit schedule is taken as written, without jitter.
            let index = (failed_attempt.saturating_sub(1) as usize).min(delays.len() - 1);
            return delays[index];
        }
        Backoff::Exponential { first } => first.saturating_mul(1 << exponent),
        Backoff::Default | Backoff::Schedule(_) => defaults.first.saturating_mul(1 << exponent),
    };
    jitter(base.min(defaults.max))
}

/// "Equal jitter": half the delay, plus a random part of the other half.
fn jitter(delay: Duration) -> Duration {
    let half = delay / 2;
    let random = next_random() as f64 / u64::MAX as f64;
    half + half.mul_f64(random)
}

/// xorshift64*, seeded per thread from the clock and the thread; jitter
/// needs spread, not unpredictability.
fn next_random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(&std::thread::current().id(), &mut hasher);
            (nanos ^ std::hash::Hasher::finish(&hasher)) | 1
        });
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: BackoffDefaults = BackoffDefaults {
        first: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };

    #[test]
    fn exponential_doubles_within_jitter_and_is_capped() {
        for attempt in 1..=10u32 {
            let d = delay(Backoff::Default, DEFAULTS, attempt);
            let full = Duration::from_secs(1 << (attempt - 1)).min(DEFAULTS.max);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
        let d = delay(
            Backoff::Exponential {
                first: Duration::from_millis(10),
            },
            DEFAULTS,
            3,
        );
        assert!(
            d >= Duration::from_millis(20) && d <= Duration::from_millis(40),
            "{d:?}"
        );
    }

    #[test]
    fn a_schedule_is_followed_and_its_last_delay_repeats() {
        static DELAYS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(10)];
        let schedule = Backoff::Schedule(&DELAYS);
        assert_eq!(delay(schedule, DEFAULTS, 1), Duration::from_secs(1));
        assert_eq!(delay(schedule, DEFAULTS, 2), Duration::from_secs(10));
        assert_eq!(delay(schedule, DEFAULTS, 9), Duration::from_secs(10));
    }

    #[test]
    fn jitter_spreads_delays() {
        let delays: std::collections::HashSet<Duration> = (0..50)
            .map(|_| delay(Backoff::Default, DEFAULTS, 5))
            .collect();
        assert!(delays.len() > 10, "{} distinct delays", delays.len());
    }
}
