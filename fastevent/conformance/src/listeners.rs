//! The events and listeners the suite dispatches and runs, and what each
//! listener records (per run id, so that tests running at once in one
//! process never read each other's records).

use fastevent::context::{self, ContextKey};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// (run, n) -> how many times it was handled.
pub(super) static HANDLED: LazyLock<Mutex<HashMap<(String, u64), u32>>> =
    LazyLock::new(Default::default);

pub(super) fn handled(run: &str) -> HashMap<u64, u32> {
    HANDLED
        .lock()
        .unwrap()
        .iter()
        .filter(|((r, _), _)| r == run)
        .map(|((_, n), count)| (*n, *count))
        .collect()
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
#[event(name = "fastevent_conformance.counted")]
pub(super) struct Counted {
    pub(super) run: String,
    pub(super) n: u64,
}

#[derive(Default)]
pub(super) struct Count;

#[listener(on = Counted, name = "fastevent_conformance.count")]
impl Count {
    async fn handle(&self, event: &Counted) {
        *HANDLED
            .lock()
            .unwrap()
            .entry((event.run.clone(), event.n))
            .or_default() += 1;
    }
}

/// run -> the instants of each attempt; and the runs that should now succeed.
pub(super) static ATTEMPTS: LazyLock<Mutex<HashMap<String, Vec<Instant>>>> =
    LazyLock::new(Default::default);
pub(super) static HEALED: LazyLock<Mutex<Vec<String>>> = LazyLock::new(Default::default);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
#[event(name = "fastevent_conformance.flaky")]
pub(super) struct Flaky {
    pub(super) run: String,
}

#[derive(Default)]
pub(super) struct FlakyListener;

#[listener(on = Flaky, name = "fastevent_conformance.flaky_listener", tries = 3, backoff = "100ms")]
impl FlakyListener {
    async fn handle(&self, event: &Flaky) -> Result<(), String> {
        ATTEMPTS
            .lock()
            .unwrap()
            .entry(event.run.clone())
            .or_default()
            .push(Instant::now());
        if HEALED.lock().unwrap().contains(&event.run) {
            Ok(())
        } else {
            Err(format!("upstream refused run {}", event.run))
        }
    }
}

/// How many times a slow job started and finished.
pub(super) type StartsAndFinishes = (u32, u32);

/// (run, n) -> its starts and finishes.
pub(super) static SLOW: LazyLock<Mutex<HashMap<(String, u64), StartsAndFinishes>>> =
    LazyLock::new(Default::default);

/// Set in a child worker process: its slow jobs never finish, until killed.
pub(super) const BLOCK_ENV: &str = "FASTEVENT_CONFORMANCE_BLOCK";

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
#[event(name = "fastevent_conformance.slow")]
pub(super) struct Slow {
    pub(super) run: String,
    pub(super) n: u64,
    pub(super) millis: u64,
    /// A file the job touches when it starts (seen across processes).
    pub(super) started_file: Option<String>,
}

#[derive(Default)]
pub(super) struct SlowListener;

#[listener(on = Slow, name = "fastevent_conformance.slow_listener")]
impl SlowListener {
    async fn handle(&self, event: &Slow) {
        SLOW.lock()
            .unwrap()
            .entry((event.run.clone(), event.n))
            .or_default()
            .0 += 1;
        if let Some(file) = &event.started_file {
            std::fs::write(file, b"started").unwrap();
        }
        let millis = if std::env::var_os(BLOCK_ENV).is_some() {
            600_000
        } else {
            event.millis
        };
        tokio::time::sleep(Duration::from_millis(millis)).await;
        SLOW.lock()
            .unwrap()
            .entry((event.run.clone(), event.n))
            .or_default()
            .1 += 1;
    }
}

/// A job that kills its worker process when it runs in a child worker
/// (`BLOCK_ENV`); each start is a line in `started_file`, seen across
/// processes.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
#[event(name = "fastevent_conformance.crash")]
pub(super) struct Crash {
    pub(super) run: String,
    pub(super) started_file: String,
}

#[derive(Default)]
pub(super) struct CrashListener;

#[listener(on = Crash, name = "fastevent_conformance.crash_listener", tries = 2)]
impl CrashListener {
    async fn handle(&self, event: &Crash) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&event.started_file)
            .unwrap();
        file.write_all(b"started\n").unwrap();
        if std::env::var_os(BLOCK_ENV).is_some() {
            std::process::abort();
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
#[event(name = "fastevent_conformance.stuck")]
pub(super) struct Stuck {
    pub(super) run: String,
}

#[derive(Default)]
pub(super) struct StuckListener;

#[listener(on = Stuck, name = "fastevent_conformance.stuck_listener", timeout = "100ms", tries = 2, backoff = "10ms")]
impl StuckListener {
    async fn handle(&self, _: &Stuck) {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

pub(super) static USER_ID: ContextKey<u64> = ContextKey::new("conformance_user_id");
pub(super) static SEEN_USERS: LazyLock<Mutex<HashMap<String, Option<u64>>>> =
    LazyLock::new(Default::default);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
#[event(name = "fastevent_conformance.with_context")]
pub(super) struct WithContext {
    pub(super) run: String,
}

#[derive(Default)]
pub(super) struct SeeContext;

#[listener(on = WithContext, name = "fastevent_conformance.see_context")]
impl SeeContext {
    async fn handle(&self, event: &WithContext) {
        SEEN_USERS
            .lock()
            .unwrap()
            .insert(event.run.clone(), context::get(&USER_ID));
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
#[event(name = "fastevent_conformance.pair")]
pub(super) struct Pair {
    pub(super) run: String,
    pub(super) blob: String,
}

#[derive(Default)]
pub(super) struct PairFirst;

#[listener(on = Pair, name = "fastevent_conformance.pair_first")]
impl PairFirst {
    async fn handle(&self, event: &Pair) {
        *HANDLED
            .lock()
            .unwrap()
            .entry((event.run.clone(), 1))
            .or_default() += 1;
    }
}

#[derive(Default)]
pub(super) struct PairSecond;

#[listener(on = Pair, name = "fastevent_conformance.pair_second")]
impl PairSecond {
    async fn handle(&self, event: &Pair) {
        *HANDLED
            .lock()
            .unwrap()
            .entry((event.run.clone(), 2))
            .or_default() += 1;
    }
}
