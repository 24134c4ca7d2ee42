//! Telling the listening workers of every process about jobs a pool
//! dispatch committed, after the commit, with one `NOTIFY` statement in
//! flight at a time per driver.
//!
//! Why not in the inserting statement (as the outbox still does, since its
//! notification must come when the application commits): PostgreSQL
//! serializes every committing transaction that notified on one global
//! lock, taken before the commit record and held until its WAL flush
//! returns. Dispatches that notify therefore commit one after the other,
//! each waiting for its own flush, and group commit cannot batch them.
//! Inserts without the notification are flushed together; the
//! notification goes out afterwards in a transaction of its own, one
//! statement per driver at a time, so that the lock is held by one
//! dispatching driver's commit at a time instead of by every dispatch; the
//! queues of the dispatches that arrive meanwhile are gathered for the
//! next one.
//!
//! If the process dies between an insert and its notification, the
//! workers of other processes find the job at their fallback poll (a
//! second): notifications are a hint, never the truth.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// The queues poked since the last notification was sent, and whether a
/// sender is running.
#[derive(Default)]
pub(super) struct Notifier {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    sending: bool,
    queues: BTreeSet<String>,
}

impl Notifier {
    /// Jobs of `queues` were committed: returns `true` when no sender is
    /// running, so that the caller must start one (which then takes
    /// [`next`](Self::next) until it returns `None`).
    pub(super) fn poke<'a>(&self, queues: impl IntoIterator<Item = &'a str>) -> bool {
        let mut state = self.state();
        for queue in queues {
            if !state.queues.contains(queue) {
                state.queues.insert(queue.to_string());
            }
        }
        !std::mem::replace(&mut state.sending, true)
    }

    /// The queues the sender announces next; `None` when nothing was poked
    /// since its last statement, and then the sender is done (the next
    /// poke starts another).
    pub(super) fn next(&self) -> Option<Vec<String>> {
        let mut state = self.state();
        if state.queues.is_empty() {
            state.sending = false;
            return None;
        }
        Some(std::mem::take(&mut state.queues).into_iter().collect())
    }

    /// The sender was dropped before it was done: the next poke starts
    /// another, which sends what this one had not taken.
    pub(super) fn abandoned(&self) {
        self.state().sending = false;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sender_at_a_time_takes_every_queue_poked_meanwhile() {
        let notifier = Notifier::default();
        assert!(notifier.poke(["a"]), "the first poke starts a sender");
        assert_eq!(notifier.next(), Some(vec!["a".to_string()]));
        assert!(!notifier.poke(["b", "a"]), "one is running");
        assert!(!notifier.poke(["b"]));
        assert_eq!(notifier.next(), Some(vec!["a".to_string(), "b".into()]));
        assert_eq!(notifier.next(), None, "nothing new: the sender stops");
        assert!(notifier.poke(["c"]), "the next poke starts another");
    }

    /// Seeded random runs of dispatches poking queues and a sender taking
    /// them, finishing or dropped midway, against what must hold: one
    /// sender at most, each statement announces exactly the queues poked
    /// since the last one, and a poked queue never waits without a sender
    /// that will take it.
    #[test]
    fn model_one_sender_and_no_poked_queue_is_left_behind() {
        for seed in 0..2000u64 {
            let mut state = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut draw = |n: u64| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 33) % n
            };
            let notifier = Notifier::default();
            let (mut sender, mut pending) = (false, BTreeSet::new());
            for step in 0..40 {
                let at = format!("seed {seed} step {step}");
                match draw(3) {
                    0 => {
                        let queues: Vec<&str> = ["a", "b", "c"]
                            .into_iter()
                            .filter(|_| draw(2) == 0)
                            .collect();
                        pending.extend(queues.iter().map(|q| q.to_string()));
                        let starts = notifier.poke(queues);
                        assert_eq!(starts, !sender, "{at}: a sender starts iff none runs");
                        sender = true;
                    }
                    1 if sender => {
                        let expected = (!pending.is_empty())
                            .then(|| std::mem::take(&mut pending).into_iter().collect());
                        sender = expected.is_some();
                        assert_eq!(
                            notifier.next(),
                            expected,
                            "{at}: what the statement announces"
                        );
                    }
                    2 if sender => {
                        notifier.abandoned();
                        sender = false;
                    }
                    _ => {}
                }
                // What a dropped sender had taken is lost (a hint); what it had
                // not taken waits for the next poke's sender, which then
                // announces it with its own.
                if !sender && !pending.is_empty() {
                    assert!(notifier.poke([]), "{at}: the next poke starts a sender");
                    sender = true;
                }
            }
        }
    }

    #[test]
    fn a_sender_dropped_before_it_was_done_lets_the_next_poke_start_another() {
        let notifier = Notifier::default();
        assert!(notifier.poke(["a"]));
        notifier.abandoned();
        assert!(notifier.poke(["b"]), "no sender runs any more");
        assert_eq!(notifier.next(), Some(vec!["a".to_string(), "b".into()]));
    }
}
