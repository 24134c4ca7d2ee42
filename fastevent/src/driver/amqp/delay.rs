//! Retries that wait their backoff on the broker, with no plugin, in a few
//! queues shared by every work queue of a prefix: binary delay levels.
//!
//! RabbitMQ expires messages only at the head of a queue, so one queue with
//! a TTL per message would hold a 1-second retry behind a 10-minute one.
//! Each level is therefore a queue with one queue-wide TTL, and a delay is
//! its binary decomposition: level `n` waits `UNIT_MS × 2ⁿ`, and a retry
//! of `d` units waits in the level of every bit set in `d`, from the
//! highest down, hopping from one level to the next by dead-lettering.
//! [`LEVELS`] levels of [`UNIT_MS`] cover [`MAX_DELAY`] exactly, rounded up
//! to the unit (never early).
//!
//! The path is written in the routing key: the delay's bits, highest level
//! first, then the work queue, e.g. `0.….0.1.1.0.0.1.0.0.fastevent.emails`
//! for 1 s (100 units). Each level has a topic exchange: a key whose bit is
//! set goes to the level's queue, one whose bit is clear passes on to the
//! next level's exchange. A level's queue dead-letters (keeping the key) to
//! the next level's exchange, the last to the delivery exchange, which
//! routes by the work queue at the end of the key.

use std::time::Duration;

/// The delay of level 0; every delay is a multiple of it.
pub(crate) const UNIT_MS: u64 = 10;
/// Levels per prefix: 2²⁶ − 1 units of 10 ms is 7.7 days.
pub(crate) const LEVELS: u32 = 26;
/// The longest delay a retry can wait; longer backoffs are cut to it.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);

/// `delay` in units: rounded up (a retry never runs early), at least one
/// (it always goes through the levels), at most [`MAX_DELAY`].
pub(crate) fn units_for(delay: Duration) -> u64 {
    let max = MAX_DELAY.as_millis() as u64 / UNIT_MS;
    let ms = delay.as_millis().min(u64::MAX as u128) as u64;
    ms.div_ceil(UNIT_MS).clamp(1, max)
}

/// The TTL of level `level`, in ms.
pub(crate) fn level_ttl_ms(level: u32) -> u64 {
    UNIT_MS << level
}

/// The level a retry of `units` enters: its highest set bit.
pub(crate) fn first_level(units: u64) -> u32 {
    63 - units.max(1).leading_zeros()
}

/// The routing key of a retry of `units` to `work_queue`.
pub(crate) fn routing_key(units: u64, work_queue: &str) -> String {
    let mut key = String::with_capacity(2 * LEVELS as usize + work_queue.len());
    for level in (0..LEVELS).rev() {
        key.push(if units >> level & 1 == 1 { '1' } else { '0' });
        key.push('.');
    }
    key.push_str(work_queue);
    key
}

/// The binding pattern on level `level`'s exchange that matches keys whose
/// bit for that level is `bit`.
fn level_pattern(level: u32, bit: char) -> String {
    let mut pattern = String::with_capacity(2 * LEVELS as usize + 1);
    for l in (0..LEVELS).rev() {
        pattern.push(if l == level { bit } else { '*' });
        pattern.push('.');
    }
    pattern.push('#');
    pattern
}

/// Keys that wait at `level`: bound from its exchange to its queue.
pub(crate) fn wait_pattern(level: u32) -> String {
    level_pattern(level, '1')
}

/// Keys that pass `level` by: bound from its exchange to the next level's.
pub(crate) fn pass_pattern(level: u32) -> String {
    level_pattern(level, '0')
}

/// Keys bound for `work_queue`: bound from the delivery exchange to it.
pub(crate) fn delivery_pattern(work_queue: &str) -> String {
    format!("{}{work_queue}", "*.".repeat(LEVELS as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Follows a key through the levels as the bindings route it: the total
    /// wait and where it ends.
    fn travel(key: &str) -> (u64, String) {
        let words: Vec<&str> = key.splitn(LEVELS as usize + 1, '.').collect();
        let mut waited = 0;
        for level in (0..LEVELS).rev() {
            let bit = words[(LEVELS - 1 - level) as usize];
            assert!(bit == "0" || bit == "1");
            if bit == "1" {
                waited += level_ttl_ms(level);
            }
        }
        (waited, words[LEVELS as usize].to_string())
    }

    #[test]
    fn every_delay_is_waited_exactly_to_the_unit() {
        for ms in [0u64, 1, 10, 11, 57, 100, 999, 1000, 60_000, 3_600_000] {
            let units = units_for(Duration::from_millis(ms));
            let (waited, queue) = travel(&routing_key(units, "p.q"));
            assert_eq!(queue, "p.q");
            assert!(waited >= ms, "{ms}ms: early ({waited})");
            assert!(
                waited < ms.max(UNIT_MS) + UNIT_MS,
                "{ms}ms: late ({waited})"
            );
            assert!(units >> first_level(units) == 1);
        }
        let longest = units_for(MAX_DELAY);
        assert!(longest < 1 << LEVELS, "the levels cover the longest delay");
        assert_eq!(
            travel(&routing_key(longest, "q")).0,
            MAX_DELAY.as_millis() as u64
        );
    }

    #[test]
    fn units_round_up_and_stop_at_the_longest_delay() {
        assert_eq!(units_for(Duration::from_millis(1000)), 100);
        assert_eq!(units_for(Duration::from_millis(1001)), 101);
        assert_eq!(units_for(Duration::ZERO), 1);
        let month = Duration::from_secs(30 * 24 * 3600);
        assert_eq!(units_for(month) * UNIT_MS, 7 * 24 * 3600 * 1000);
    }

    #[test]
    fn a_key_holds_the_bits_highest_first_then_the_queue() {
        let key = routing_key(5, "fastevent.emails");
        assert!(key.ends_with(".0.1.0.1.fastevent.emails"));
        assert_eq!(key.split('.').count(), 26 + 2);
    }

    #[test]
    fn patterns_pick_one_bit() {
        let wait = wait_pattern(0);
        assert!(wait.ends_with("*.1.#") && wait.starts_with("*.*."));
        assert!(pass_pattern(LEVELS - 1).starts_with("0.*."));
        assert_eq!(
            delivery_pattern("a.b").split('.').count(),
            LEVELS as usize + 2
        );
    }
}
