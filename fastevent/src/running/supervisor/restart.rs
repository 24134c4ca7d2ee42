//! The delay before starting workers again when they keep dying young: a
//! worker that cannot start (a bad deployment, a database it cannot open)
//! would otherwise be re-spawned in a tight loop. A worker that lived past
//! the start-up window proves the program can run, and resets the delay.

use std::time::{Duration, Instant};

/// A worker that exits sooner than this after it was spawned died young.
pub(super) const STARTUP_WINDOW: Duration = Duration::from_secs(5);

/// The first delay; it doubles with every further young death.
const FIRST_DELAY: Duration = Duration::from_millis(500);

/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(30);

/// Young deaths in a row, and when starting workers is allowed again.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RestartBackoff {
    young_deaths: u32,
    not_before: Option<Instant>,
}

impl RestartBackoff {
    /// A worker died (crashed, or was killed as hung) after living `lived`;
    /// returns the delay before the next start.
    pub(super) fn died(&mut self, lived: Duration, now: Instant) -> Duration {
        if lived >= STARTUP_WINDOW {
            self.young_deaths = 0;
            self.not_before = None;
            return Duration::ZERO;
        }
        self.young_deaths += 1;
        let doublings = (self.young_deaths - 1).min(16);
        let delay = (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY);
        self.not_before = Some(now + delay);
        delay
    }

    /// A worker outlived the start-up window: the program can run.
    pub(super) fn healthy(&mut self) {
        self.young_deaths = 0;
    }

    /// Whether workers may be started at `now`.
    pub(super) fn allows(&self, now: Instant) -> bool {
        self.not_before.is_none_or(|at| now >= at)
    }

    /// Young deaths in a row.
    pub(super) fn young_deaths(&self) -> u32 {
        self.young_deaths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn young_deaths_double_the_delay_up_to_a_cap() {
        let now = Instant::now();
        let mut backoff = RestartBackoff::default();
        assert!(backoff.allows(now));
        let delays: Vec<Duration> = (0..10)
            .map(|_| backoff.died(Duration::from_millis(100), now))
            .collect();
        assert_eq!(delays[0], Duration::from_millis(500));
        assert_eq!(delays[1], Duration::from_secs(1));
        assert_eq!(delays[2], Duration::from_secs(2));
        assert_eq!(delays[9], MAX_DELAY);
        assert!(!backoff.allows(now + Duration::from_secs(29)));
        assert!(backoff.allows(now + MAX_DELAY));
    }

    #[test]
    fn a_worker_that_lived_resets_the_delay() {
        let now = Instant::now();
        let mut backoff = RestartBackoff::default();
        backoff.died(Duration::ZERO, now);
        backoff.died(Duration::ZERO, now);
        assert_eq!(backoff.young_deaths(), 2);
        assert_eq!(backoff.died(STARTUP_WINDOW, now), Duration::ZERO);
        assert!(backoff.allows(now));
        backoff.died(Duration::ZERO, now);
        backoff.healthy();
        assert_eq!(
            backoff.died(Duration::ZERO, now),
            FIRST_DELAY,
            "counting starts again"
        );
    }
}
