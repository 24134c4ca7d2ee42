//! Dispatch-to-listener latency, shared by the driver sections: the
//! dispatcher stamps an event with [`now_ns`], its listener hands the stamp
//! to [`record_latency`], and the section takes the samples afterwards.

use std::sync::{LazyLock, Mutex};
use std::time::Instant;

/// Since when the stamps count, in this process.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
/// The latencies recorded since the last [`take_latencies`], in ns.
static LATENCIES: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// A stamp for an event about to be dispatched (never 0 after the first
/// call's first nanosecond: 0 means "not measured").
pub(crate) fn now_ns() -> u64 {
    EPOCH.elapsed().as_nanos() as u64
}

/// In a listener: the event stamped `sent_ns` arrived now.
pub(crate) fn record_latency(sent_ns: u64) {
    let latency = now_ns().saturating_sub(sent_ns);
    LATENCIES.lock().unwrap().push(latency);
}

/// The latencies recorded so far, sorted, in ms; starts a new set.
pub(crate) fn take_latencies() -> Vec<f64> {
    let mut samples = std::mem::take(&mut *LATENCIES.lock().unwrap());
    samples.sort_unstable();
    samples.into_iter().map(|ns| ns as f64 / 1e6).collect()
}

/// The `p` quantile of sorted samples (NaN when there are none).
pub(crate) fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return f64::NAN;
    }
    sorted_ms[((sorted_ms.len() - 1) as f64 * p).round() as usize]
}
