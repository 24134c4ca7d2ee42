//! Throughput and overhead figures for fastevent.
//!
//! ```text
//! cargo run --release --example bench                          # every section
//! cargo run --release --example bench -- --quick               # small N, a few seconds
//! cargo run --release --example bench -- --only dispatch_now   # one section
//! BENCH_N=2000000 BENCH_REPS=9 cargo run --release --example bench
//! ```
//!
//! It prints figures and ratios and never asserts on timing: the PASS/MISS
//! column of the summary is informational and the exit code stays 0. It
//! does check correctness: every listener counts its calls, and a lost or
//! failed job is an error (exit code 1).
//!
//! Each section is one `fn bench_...(&Settings) -> Vec<Row>` listed in
//! [`SECTIONS`]; a new driver gets its own function there.

use fastevent::{Event, Listener, listener};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Events and listeners under test: each listener only counts its calls.
// ---------------------------------------------------------------------------

/// Calls of every benchmark listener, to check that no job was lost.
static CALLS: AtomicU64 = AtomicU64::new(0);

fn count_call(id: u64) {
    CALLS.fetch_add(1, Ordering::Relaxed);
    black_box(id);
}

/// An event with exactly one listener, for `dispatch_now`.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct OneListenerEvent {
    id: u64,
}

#[derive(Default)]
struct OnlyListener;

#[listener(on = OneListenerEvent)]
impl OnlyListener {
    async fn handle(&self, event: &OneListenerEvent) {
        count_call(event.id);
    }
}

/// An event with four listeners, for `dispatch_now`.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct FourListenersEvent {
    id: u64,
}

#[derive(Default)]
struct FirstOfFour;

#[listener(on = FourListenersEvent)]
impl FirstOfFour {
    async fn handle(&self, event: &FourListenersEvent) {
        count_call(event.id);
    }
}

#[derive(Default)]
struct SecondOfFour;

#[listener(on = FourListenersEvent)]
impl SecondOfFour {
    async fn handle(&self, event: &FourListenersEvent) {
        count_call(event.id);
    }
}

#[derive(Default)]
struct ThirdOfFour;

#[listener(on = FourListenersEvent)]
impl ThirdOfFour {
    async fn handle(&self, event: &FourListenersEvent) {
        count_call(event.id);
    }
}

#[derive(Default)]
struct FourthOfFour;

#[listener(on = FourListenersEvent)]
impl FourthOfFour {
    async fn handle(&self, event: &FourListenersEvent) {
        count_call(event.id);
    }
}

/// An event with one listener, for `dispatch` on the queue drivers.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct QueuedEvent {
    id: u64,
}

#[derive(Default)]
struct QueuedListener;

#[listener(on = QueuedEvent)]
impl QueuedListener {
    async fn handle(&self, event: &QueuedEvent) {
        count_call(event.id);
    }
}

// ---------------------------------------------------------------------------
// Settings, sections, results.
// ---------------------------------------------------------------------------

const DEFAULT_N: u64 = 500_000;
const QUICK_N: u64 = 50_000;
const DEFAULT_REPS: usize = 5;
const QUICK_REPS: usize = 3;

/// The `dispatch_now` loops are cheap per call, so they run this many
/// times N calls per repetition.
const DISPATCH_NOW_FACTOR: u64 = 4;

const TARGET_OVERHEAD_NS: f64 = 100.0;
const TARGET_EVENTS_PER_SEC: f64 = 1_000_000.0;

struct Settings {
    /// Events (or calls) per repetition.
    n: u64,
    /// Timed repetitions, after one untimed warm-up.
    reps: usize,
}

type Section = (
    &'static str,
    &'static str,
    fn(&Settings) -> Result<Vec<Row>, String>,
);

/// Every section, in run order: name (for `--only`), what it measures, code.
const SECTIONS: &[Section] = &[
    (
        "dispatch_now",
        "dispatch_now() of an event with 1 and with 4 trivial listeners vs calling \
         Listener::handle directly, in a loop on a current_thread runtime",
        bench_dispatch_now,
    ),
    (
        "sync",
        "dispatch() on the sync driver of an event with 1 trivial listener, N events \
         then fastevent::drain().await, on a current_thread runtime and on a \
         multi_thread runtime (2 workers, 2 dispatching tasks)",
        bench_sync_dispatch,
    ),
];

/// One line of the summary table.
struct Row {
    what: String,
    median: f64,
    best: f64,
    unit: &'static str,
    target: Target,
}

enum Target {
    /// Lower is better; at most this.
    AtMost(f64),
    /// Higher is better; at least this.
    AtLeast(f64),
}

impl Target {
    fn met_by(&self, value: f64) -> bool {
        match *self {
            Target::AtMost(limit) => value <= limit,
            Target::AtLeast(limit) => value >= limit,
        }
    }

    fn describe(&self, unit: &str) -> String {
        match *self {
            Target::AtMost(limit) => format!("< {} {unit}", group(limit)),
            Target::AtLeast(limit) => format!(">= {} {unit}", group(limit)),
        }
    }
}

fn main() -> ExitCode {
    let (settings, only) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("bench: {message}");
            eprintln!(
                "usage: bench [--quick] [--only <{}>] [--n <N>] [--reps <R>]   (env: BENCH_N, BENCH_REPS)",
                SECTIONS.iter().map(|s| s.0).collect::<Vec<_>>().join("|")
            );
            return ExitCode::from(2);
        }
    };

    print_header(&settings);
    let mut rows = Vec::new();
    for (name, description, run) in SECTIONS {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        println!();
        println!("== {name}: {description}");
        match run(&settings) {
            Ok(mut section_rows) => rows.append(&mut section_rows),
            Err(error) => {
                eprintln!("bench: ERROR in section `{name}`: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    print_summary(&rows);
    ExitCode::SUCCESS
}

fn parse_args() -> Result<(Settings, Option<String>), String> {
    let mut quick = std::env::var_os("BENCH_QUICK").is_some();
    let mut n = env_number("BENCH_N")?;
    let mut reps = env_number("BENCH_REPS")?.map(|r| r as usize);
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => only = Some(args.next().ok_or("--only needs a section name")?),
            "--n" => n = Some(parse_number("--n", args.next())?),
            "--reps" => reps = Some(parse_number("--reps", args.next())? as usize),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if let Some(name) = &only
        && !SECTIONS.iter().any(|s| s.0 == name)
    {
        return Err(format!("no section named `{name}`"));
    }
    let settings = Settings {
        n: n.unwrap_or(if quick { QUICK_N } else { DEFAULT_N }).max(1),
        reps: reps
            .unwrap_or(if quick { QUICK_REPS } else { DEFAULT_REPS })
            .max(1),
    };
    Ok((settings, only))
}

fn env_number(name: &str) -> Result<Option<u64>, String> {
    match std::env::var(name) {
        Ok(value) => parse_number(name, Some(value)).map(Some),
        Err(_) => Ok(None),
    }
}

fn parse_number(what: &str, value: Option<String>) -> Result<u64, String> {
    let value = value.ok_or_else(|| format!("{what} needs a number"))?;
    value
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{what}: `{value}` is not a number"))
}

fn print_header(settings: &Settings) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("fastevent benchmark");
    println!(
        "machine: {cores} cores available{}",
        cpu_model().map_or(String::new(), |m| format!(" ({m})"))
    );
    println!(
        "build: {}",
        if cfg!(debug_assertions) {
            "DEBUG (figures are meaningless; use --release)"
        } else {
            "release"
        }
    );
    println!(
        "N = {} per repetition; {} timed repetitions after 1 warm-up; median and min (best) reported",
        group(settings.n as f64),
        settings.reps
    );
    println!("timing is informational: PASS/MISS never changes the exit code");
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

fn print_summary(rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
    println!();
    println!("== summary (median; best in parentheses)");
    let what_width = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    let figures: Vec<String> = rows
        .iter()
        .map(|r| format!("{} ({}) {}", group(r.median), group(r.best), r.unit))
        .collect();
    let figure_width = figures.iter().map(String::len).max().unwrap_or(0);
    let targets: Vec<String> = rows.iter().map(|r| r.target.describe(r.unit)).collect();
    let target_width = targets.iter().map(String::len).max().unwrap_or(0);
    for ((row, figure), target) in rows.iter().zip(&figures).zip(&targets) {
        let verdict = if row.target.met_by(row.median) {
            "PASS"
        } else if row.target.met_by(row.best) {
            "MISS (best run passes)"
        } else {
            "MISS"
        };
        println!(
            "{:<what_width$}  {:>figure_width$}  target {:<target_width$}  {verdict}",
            row.what, figure, target
        );
    }
}

// ---------------------------------------------------------------------------
// Measuring.
// ---------------------------------------------------------------------------

/// Median and minimum of some samples.
#[derive(Clone, Copy)]
struct Spread {
    median: f64,
    min: f64,
}

impl Spread {
    fn of(samples: &[f64]) -> Spread {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 0 {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        } else {
            sorted[mid]
        };
        Spread {
            median,
            min: sorted[0],
        }
    }

    fn max_of(samples: &[f64]) -> f64 {
        samples.iter().copied().fold(f64::MIN, f64::max)
    }
}

fn ns_per(elapsed: Duration, count: u64) -> f64 {
    elapsed.as_nanos() as f64 / count as f64
}

/// Checks that exactly `expected` listener calls happened since `before`.
fn check_calls(before: u64, expected: u64, what: &str) -> Result<(), String> {
    let ran = CALLS.load(Ordering::SeqCst) - before;
    if ran == expected {
        Ok(())
    } else {
        Err(format!(
            "{what}: {expected} listener calls expected, {ran} happened (jobs lost or run twice)"
        ))
    }
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build a current_thread runtime: {e}"))
}

fn multi_thread_runtime(workers: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build a multi_thread runtime: {e}"))
}

/// Peak resident memory of this process so far, from /proc (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

// ---------------------------------------------------------------------------
// Section: dispatch_now vs a direct call.
// ---------------------------------------------------------------------------

/// `dispatch_now` of `OneListenerEvent`, `n` times; ns per call.
async fn time_dispatch_now_one(n: u64) -> Result<f64, String> {
    let before = CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    for i in 0..n {
        let event = black_box(OneListenerEvent { id: i });
        event.dispatch_now().await.map_err(|e| e.to_string())?;
    }
    let elapsed = start.elapsed();
    check_calls(before, n, "dispatch_now, 1 listener")?;
    Ok(ns_per(elapsed, n))
}

/// `Listener::handle` of the one listener called directly, `n` times; ns per call.
async fn time_direct_one(n: u64) -> Result<f64, String> {
    let before = CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    for i in 0..n {
        let event = black_box(OneListenerEvent { id: i });
        let listener = black_box(&OnlyListener);
        Listener::handle(listener, &event).await;
        black_box(&event);
    }
    let elapsed = start.elapsed();
    check_calls(before, n, "direct handle, 1 listener")?;
    Ok(ns_per(elapsed, n))
}

/// `dispatch_now` of `FourListenersEvent`, `n` times; ns per listener run.
async fn time_dispatch_now_four(n: u64) -> Result<f64, String> {
    let before = CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    for i in 0..n {
        let event = black_box(FourListenersEvent { id: i });
        event.dispatch_now().await.map_err(|e| e.to_string())?;
    }
    let elapsed = start.elapsed();
    check_calls(before, 4 * n, "dispatch_now, 4 listeners")?;
    Ok(ns_per(elapsed, 4 * n))
}

/// The four listeners' `handle` called directly one after another, `n`
/// times; ns per listener call.
async fn time_direct_four(n: u64) -> Result<f64, String> {
    let before = CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    for i in 0..n {
        let event = black_box(FourListenersEvent { id: i });
        Listener::handle(black_box(&FirstOfFour), &event).await;
        Listener::handle(black_box(&SecondOfFour), &event).await;
        Listener::handle(black_box(&ThirdOfFour), &event).await;
        Listener::handle(black_box(&FourthOfFour), &event).await;
        black_box(&event);
    }
    let elapsed = start.elapsed();
    check_calls(before, 4 * n, "direct handle, 4 listeners")?;
    Ok(ns_per(elapsed, 4 * n))
}

fn bench_dispatch_now(settings: &Settings) -> Result<Vec<Row>, String> {
    let n = settings.n * DISPATCH_NOW_FACTOR;
    println!(
        "   {} calls per repetition; direct and dispatch_now loops alternate within each repetition",
        group(n as f64)
    );
    let runtime = current_thread_runtime()?;
    runtime.block_on(async {
        // Warm-up: builds the registry, faults in code and allocator pages.
        time_direct_one(n / 4).await?;
        time_dispatch_now_one(n / 4).await?;
        time_direct_four(n / 4).await?;
        time_dispatch_now_four(n / 4).await?;

        let (mut direct1, mut now1, mut direct4, mut now4) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..settings.reps {
            direct1.push(time_direct_one(n).await?);
            now1.push(time_dispatch_now_one(n).await?);
            direct4.push(time_direct_four(n).await?);
            now4.push(time_dispatch_now_four(n).await?);
        }

        let report = |label: &str, direct: &[f64], now: &[f64]| -> (Spread, Spread) {
            let (d, w) = (Spread::of(direct), Spread::of(now));
            println!("   {label}");
            println!(
                "     direct Listener::handle : median {:>8.2} ns/listener   min {:>8.2}   max {:>8.2}",
                d.median,
                d.min,
                Spread::max_of(direct)
            );
            println!(
                "     dispatch_now            : median {:>8.2} ns/listener   min {:>8.2}   max {:>8.2}",
                w.median,
                w.min,
                Spread::max_of(now)
            );
            println!(
                "     overhead                : median {:>8.2} ns/listener   min-min {:>6.2}   ratio dispatch_now/direct {:.1}x",
                w.median - d.median,
                w.min - d.min,
                w.median / d.median
            );
            (d, w)
        };
        let (d1, w1) = report("1 listener:", &direct1, &now1);
        let (d4, w4) = report("4 listeners (ns per listener = per call / 4):", &direct4, &now4);
        Ok(vec![
            Row {
                what: "dispatch_now overhead, 1 listener".into(),
                median: w1.median - d1.median,
                best: w1.min - d1.min,
                unit: "ns/listener",
                target: Target::AtMost(TARGET_OVERHEAD_NS),
            },
            Row {
                what: "dispatch_now overhead, 4 listeners".into(),
                median: w4.median - d4.median,
                best: w4.min - d4.min,
                unit: "ns/listener",
                target: Target::AtMost(TARGET_OVERHEAD_NS),
            },
        ])
    })
}

// ---------------------------------------------------------------------------
// Section: dispatch() on the sync driver.
// ---------------------------------------------------------------------------

/// Times of one burst: dispatching, then draining.
struct Burst {
    dispatch: Duration,
    total: Duration,
}

/// Dispatches `n` events from this task, then drains.
async fn burst_one_task(n: u64) -> Result<Burst, String> {
    let before = CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    dispatch_range(0..n).await?;
    let dispatched = start.elapsed();
    fastevent::drain().await;
    let total = start.elapsed();
    check_calls(before, n, "sync driver, current_thread")?;
    Ok(Burst {
        dispatch: dispatched,
        total,
    })
}

/// Dispatches `n` events from `tasks` spawned tasks, then drains.
async fn burst_spawned_tasks(n: u64, tasks: u64) -> Result<Burst, String> {
    let before = CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| tokio::spawn(dispatch_range(t * n / tasks..(t + 1) * n / tasks)))
        .collect();
    for handle in handles {
        handle
            .await
            .map_err(|e| format!("a dispatching task failed: {e}"))??;
    }
    let dispatched = start.elapsed();
    fastevent::drain().await;
    let total = start.elapsed();
    check_calls(before, n, "sync driver, multi_thread")?;
    Ok(Burst {
        dispatch: dispatched,
        total,
    })
}

async fn dispatch_range(ids: std::ops::Range<u64>) -> Result<(), String> {
    for i in ids {
        let dispatched = black_box(QueuedEvent { id: i })
            .dispatch()
            .await
            .map_err(|e| e.to_string())?;
        if dispatched.jobs != 1 {
            return Err(format!(
                "dispatch queued {} jobs, 1 expected",
                dispatched.jobs
            ));
        }
    }
    Ok(())
}

fn report_bursts(label: &str, n: u64, bursts: &[Burst]) -> Row {
    let per_sec: Vec<f64> = bursts
        .iter()
        .map(|b| n as f64 / b.total.as_secs_f64())
        .collect();
    let ns_total: Vec<f64> = bursts.iter().map(|b| ns_per(b.total, n)).collect();
    let ns_dispatch: Vec<f64> = bursts.iter().map(|b| ns_per(b.dispatch, n)).collect();
    let ns_drain: Vec<f64> = bursts
        .iter()
        .map(|b| ns_per(b.total - b.dispatch, n))
        .collect();
    let (rate, total, dispatch, drain) = (
        Spread::of(&per_sec),
        Spread::of(&ns_total),
        Spread::of(&ns_dispatch),
        Spread::of(&ns_drain),
    );
    println!("   {label}");
    println!(
        "     throughput           : median {:>12} events/s   best {:>12}   worst {:>12}",
        group(rate.median),
        group(Spread::max_of(&per_sec)),
        group(rate.min)
    );
    println!(
        "     per event, all       : median {:>8.1} ns   min {:>8.1}",
        total.median, total.min
    );
    println!(
        "       of which dispatch  : median {:>8.1} ns   min {:>8.1}   (dispatch().await returned)",
        dispatch.median, dispatch.min
    );
    println!(
        "       of which drain     : median {:>8.1} ns   min {:>8.1}   (jobs still running after the last dispatch)",
        drain.median, drain.min
    );
    Row {
        what: format!("sync dispatch, {label}"),
        median: rate.median,
        best: Spread::max_of(&per_sec),
        unit: "events/s",
        target: Target::AtLeast(TARGET_EVENTS_PER_SEC),
    }
}

fn bench_sync_dispatch(settings: &Settings) -> Result<Vec<Row>, String> {
    let n = settings.n;
    println!(
        "   {} events per repetition, all dispatched before drain().await; timed until drain returns",
        group(n as f64)
    );
    let stats_before = fastevent::stats();
    let mut rows = Vec::new();

    let runtime = current_thread_runtime()?;
    let bursts = runtime.block_on(async {
        burst_one_task(n).await?; // warm-up
        let mut bursts = Vec::new();
        for _ in 0..settings.reps {
            bursts.push(burst_one_task(n).await?);
        }
        Ok::<_, String>(bursts)
    })?;
    drop(runtime);
    rows.push(report_bursts("current_thread, 1 task", n, &bursts));

    let runtime = multi_thread_runtime(2)?;
    let bursts = runtime.block_on(async {
        burst_spawned_tasks(n, 2).await?; // warm-up
        let mut bursts = Vec::new();
        for _ in 0..settings.reps {
            bursts.push(burst_spawned_tasks(n, 2).await?);
        }
        Ok::<_, String>(bursts)
    })?;
    drop(runtime);
    rows.push(report_bursts("multi_thread 2 workers, 2 tasks", n, &bursts));

    let stats = fastevent::stats();
    let expected = (2 * (settings.reps as u64 + 1)) * n;
    let (dispatched, succeeded, failed) = (
        stats.dispatched - stats_before.dispatched,
        stats.succeeded - stats_before.succeeded,
        stats.failed - stats_before.failed,
    );
    if dispatched != expected || succeeded != expected || failed != 0 {
        return Err(format!(
            "fastevent::stats(): {expected} jobs expected, {dispatched} dispatched, {succeeded} succeeded, {failed} failed"
        ));
    }
    println!(
        "   checked: {} jobs dispatched, all ran once and succeeded; peak RSS {}",
        group(expected as f64),
        peak_rss_mib().map_or("unknown".into(), |m| format!("{m:.0} MiB"))
    );
    Ok(rows)
}

// ---------------------------------------------------------------------------
// Formatting.
// ---------------------------------------------------------------------------

/// A number with thousands separators: 1234567.8 -> "1,234,568"; small
/// values keep one decimal.
fn group(value: f64) -> String {
    if value.abs() < 1000.0 {
        return format!("{value:.1}");
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}
