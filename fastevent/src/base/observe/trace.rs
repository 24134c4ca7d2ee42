//! Trace context: which dispatch a job comes from, across processes.
//!
//! A dispatch belongs to a trace. Its id is inherited from the context
//! ([`TRACE_ID`], a propagating key, so a listener's own dispatches stay in
//! the trace of the job that runs it) or made up at the dispatch. Each job
//! carries it in its envelope (`trace_id`), with the id of the `dispatch`
//! span that queued it (`parent_span_id`) when one was recorded. Ids are
//! fastevent's own, in W3C trace-context shape (32 and 16 hex digits),
//! because `tracing`'s span ids are local to one subscriber in one process.

use crate::context::{ContextKey, ContextSnapshot};
use std::num::NonZeroU64;

/// The trace id of the current dispatch chain. Set it (in a
/// [`context::scope`](crate::context::scope)) to put the jobs dispatched
/// there in your own trace, for instance the request's; read it in a
/// listener to log it. A job's envelope carries it in its `trace_id` field,
/// and the worker sets it again around the listener.
pub static TRACE_ID: ContextKey<String> = ContextKey::new("fastevent.trace_id");

/// The ids of a dispatch whose span a subscriber records: plain numbers,
/// cheap to carry (the trace id itself, when inherited, stays in the
/// context).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DispatchTrace {
    /// A trace id made up for this dispatch, when the context had none
    /// (two halves: a `u128` would double the alignment).
    made_up: Option<(u64, u64)>,
    /// The id of the `dispatch` span: fastevent's own, since `tracing`'s
    /// ids mean nothing outside the subscriber that made them.
    span_id: u64,
    /// That span's `tracing` id: what jobs in this process follow from.
    span: Option<NonZeroU64>,
}

impl DispatchTrace {
    /// The ids of a dispatch with this context, whose span is `span`.
    pub(crate) fn new(context: &ContextSnapshot, span: Option<tracing::Id>) -> Self {
        Self {
            made_up: match inherited(context) {
                Some(_) => None,
                None => Some(new_trace_id_halves()),
            },
            span_id: random_u64(),
            span: span.map(|id| id.into_non_zero_u64()),
        }
    }

    /// The trace id: the context's, or the one made up for this dispatch.
    pub(crate) fn trace_id(&self, context: &ContextSnapshot) -> String {
        match self.made_up {
            Some(halves) => hex_trace_id(halves),
            None => trace_id_for(context),
        }
    }

    /// Whether the trace id was made up here (so the context lacks it).
    pub(crate) fn is_new(&self) -> bool {
        self.made_up.is_some()
    }

    /// The dispatch span's id, as 16 hex digits.
    pub(crate) fn span_id(&self) -> String {
        format!("{:016x}", self.span_id)
    }

    /// The dispatch span, for `follows_from`.
    pub(crate) fn span(&self) -> Option<tracing::Id> {
        self.span.map(tracing::Id::from_non_zero_u64)
    }
}

/// The trace id a dispatch with this context belongs to, when one is set.
pub(crate) fn inherited(context: &ContextSnapshot) -> Option<String> {
    let json = context.json_of(TRACE_ID.name())?;
    // A value set through `context::set` is a JSON string; anything else
    // (written by hand into an envelope) does not name a trace.
    serde_json::from_str::<String>(json)
        .ok()
        .filter(|id| !id.is_empty())
}

/// The trace id of a job dispatched without a recorded span: inherited, or new.
pub(crate) fn trace_id_for(context: &ContextSnapshot) -> String {
    inherited(context).unwrap_or_else(new_trace_id)
}

/// `context` with the trace id set, for the listener of a job.
pub(crate) fn with_trace_id(context: &ContextSnapshot, trace_id: &str) -> ContextSnapshot {
    // Serializing a string cannot fail.
    let json = serde_json::to_string(trace_id).unwrap_or_default();
    context.with_json(TRACE_ID.name(), json)
}

/// A new trace id as 32 hex digits.
fn new_trace_id() -> String {
    hex_trace_id(new_trace_id_halves())
}

fn hex_trace_id((high, low): (u64, u64)) -> String {
    format!("{high:016x}{low:016x}")
}

/// 128 bits: the time in milliseconds (48 bits, so that traces sort by when
/// they started, as UUID v7 do) and 80 random ones.
fn new_trace_id_halves() -> (u64, u64) {
    let millis = crate::job::now_ms() & 0xffff_ffff_ffff;
    ((millis << 16) | (random_u64() & 0xffff), random_u64())
}

/// 64 random bits, never zero (W3C ids are not). Ids need to be unique, not
/// secret, and asking the operating system for each would cost a system
/// call per dispatch: so a SplitMix64 stream per thread, seeded from the
/// process's random hashing keys.
fn random_u64() -> u64 {
    use std::cell::Cell;
    use std::hash::BuildHasher;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::collections::hash_map::RandomState::new().hash_one(std::thread::current().id()),
        );
    }
    STATE.with(|state| {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)).max(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn ids_have_the_w3c_shape() {
        let context = ContextSnapshot::default();
        let trace = DispatchTrace::new(&context, None);
        assert!(trace.is_new());
        let (trace_id, span_id) = (trace.trace_id(&context), trace.span_id());
        assert_eq!(trace_id.len(), 32);
        assert_eq!(span_id.len(), 16);
        assert!(trace_id.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(span_id.chars().all(|c| c.is_ascii_hexdigit()));
        // The same dispatch always gives the same ids; another, others.
        assert_eq!(trace.trace_id(&context), trace_id);
        let other = DispatchTrace::new(&context, None);
        assert_ne!(other.span_id(), span_id);
        assert_ne!(other.trace_id(&context), trace_id);
    }

    #[test]
    fn a_trace_id_in_the_context_is_inherited() {
        let context = ContextSnapshot::from_json(BTreeMap::from([(
            "fastevent.trace_id".to_string(),
            "\"abc\"".to_string(),
        )]));
        let trace = DispatchTrace::new(&context, None);
        assert_eq!(trace.trace_id(&context), "abc");
        assert!(!trace.is_new());
        assert_eq!(trace_id_for(&context), "abc");
        let other = ContextSnapshot::from_json(BTreeMap::from([(
            "fastevent.trace_id".to_string(),
            "42".to_string(),
        )]));
        assert_eq!(inherited(&other), None);
    }

    #[test]
    fn the_trace_id_is_added_to_a_context() {
        let context = with_trace_id(&ContextSnapshot::default(), "abc");
        assert_eq!(context.json_of("fastevent.trace_id"), Some("\"abc\""));
    }
}
