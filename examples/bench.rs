//! Throughput and overhead figures for fastevent.
//!
//! ```text
//! cargo run --release --example bench                          # every section
//! cargo run --release --example bench -- --quick               # small N, a few seconds
//! cargo run --release --example bench -- --only dispatch_now   # one section
//! BENCH_N=2000000 BENCH_REPS=9 cargo run --release --example bench
//! cargo run --release --example bench -- --only amqp --in-flight 64 --prefetch 32 \
//!     --sweep 16,64,256,1024 --amqps-url 'amqps://guest:guest@localhost:5691/%2f?cacertfile=ca.pem'
//! ```
//!
//! It prints figures and ratios and never asserts on timing: the PASS/MISS
//! column of the summary is informational and the exit code stays 0. It
//! does check correctness: every listener counts its calls, and a lost or
//! failed job is an error (exit code 1).
//!
//! Each section is one `fn bench_...(&Settings) -> Result<Vec<Row>, String>`
//! listed in [`SECTIONS`]; a new driver gets its own function there. A full
//! run starts this program once per section (`--only <section>`), because
//! a process installs one fastevent configuration (one driver) for good,
//! and so that one section's heap and counters do not colour the next; the
//! child reports its summary rows to the parent as `@row` lines.

// The driver sections live beside this file, one file each.
#[path = "bench/amqp.rs"]
mod amqp;
#[path = "bench/latency.rs"]
mod latency;
#[path = "bench/postgres.rs"]
mod postgres;
// The tests' fresh schema names and the guard that drops them.
#[path = "../tests/postgres_support/mod.rs"]
mod postgres_support;
#[path = "bench/sqlite.rs"]
mod sqlite;

use fastevent::{Event, Listener, listener};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

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

/// Marks a summary row a child process hands to its parent.
const ROW_TAG: &str = "@row";

struct Settings {
    /// Events (or calls) per repetition.
    n: u64,
    /// Timed repetitions, after one untimed warm-up.
    reps: usize,
    /// The `amqp` section's parallelism and TLS URL.
    amqp: amqp::AmqpBench,
}

struct Section {
    /// For `--only`.
    name: &'static str,
    /// What it measures, printed above its figures.
    measures: &'static str,
    run: fn(&Settings) -> Result<Vec<Row>, String>,
}

/// Every section, in run order.
const SECTIONS: &[Section] = &[
    Section {
        name: "dispatch_now",
        measures: "dispatch_now() of an event with 1 and with 4 trivial listeners vs calling \
                   Listener::handle directly, in a loop on a current_thread runtime",
        run: bench_dispatch_now,
    },
    Section {
        name: "sync",
        measures: "dispatch() on the sync driver of an event with 1 trivial listener: N events, \
                   then fastevent::drain().await, timed together; on a current_thread runtime \
                   (1 dispatching task) and a multi_thread runtime (2 workers, 2 dispatching \
                   tasks); bare tokio::spawn of a trivial task, same pattern, for reference",
        run: bench_sync_dispatch,
    },
    Section {
        name: "sqlite",
        measures: "fastevent on the embedded SQLite queue end to end, durable commits: dispatch() \
                   from 64 tasks while in-process workers run the jobs, until the last listener \
                   call; and the latency of each dispatch().await (its commit)",
        run: sqlite::bench_sqlite,
    },
    Section {
        name: "amqp",
        measures: "fastevent on RabbitMQ end to end (dispatch with confirms, in-process workers \
                   run the jobs) vs the raw broker through lapin alone (persistent, confirmed, \
                   pipelined publish; consumers with manual ack), same run, same broker; then \
                   dispatch-to-listener latency, one event at a time; skipped when the broker \
                   is unreachable",
        run: amqp::bench_amqp,
    },
    Section {
        name: "postgres",
        measures: "fastevent on PostgreSQL end to end, durable commits (dispatch() from 64 tasks, \
                   in-process workers run the jobs) vs a hand-written sqlx queue doing the same \
                   work (insert, SKIP LOCKED claim with a lease, delete), same run, same server; \
                   dispatch latency under load; dispatch and dispatch-to-listener latency of one \
                   event on idle workers; skipped when the server is unreachable",
        run: postgres::bench_postgres,
    },
];

/// One line of the summary table.
struct Row {
    what: String,
    median: f64,
    best: f64,
    unit: String,
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

impl Row {
    /// The `@row` line a child prints for its parent.
    fn encode(&self) -> String {
        let (kind, limit) = match self.target {
            Target::AtMost(limit) => ("le", limit),
            Target::AtLeast(limit) => ("ge", limit),
        };
        format!(
            "{ROW_TAG}\t{}\t{}\t{}\t{}\t{kind}\t{limit}",
            self.what, self.median, self.best, self.unit
        )
    }

    fn decode(line: &str) -> Option<Row> {
        let mut fields = line.strip_prefix(ROW_TAG)?.strip_prefix('\t')?.split('\t');
        let mut next = || fields.next();
        let what = next()?.to_string();
        let median = next()?.parse().ok()?;
        let best = next()?.parse().ok()?;
        let unit = next()?.to_string();
        let kind = next()?;
        let limit = next()?.parse().ok()?;
        let target = match kind {
            "le" => Target::AtMost(limit),
            "ge" => Target::AtLeast(limit),
            _ => return None,
        };
        Some(Row {
            what,
            median,
            best,
            unit,
            target,
        })
    }
}

/// What the command line asks for.
struct Args {
    settings: Settings,
    /// `--only <section>`: run that section in this process.
    only: Option<String>,
    /// `--child`: started by a full run; print rows as `@row` lines, no
    /// header or summary.
    child: bool,
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("bench: {message}");
            eprintln!(
                "usage: bench [--quick] [--only <{}>] [--n <N>] [--reps <R>]   (env: BENCH_N, BENCH_REPS, BENCH_QUICK)",
                SECTIONS
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join("|")
            );
            return ExitCode::from(2);
        }
    };

    if args.child {
        return match args.only.as_deref().and_then(section_named) {
            Some(section) => match run_section(section, &args.settings) {
                Ok(rows) => {
                    for row in rows {
                        println!("{}", row.encode());
                    }
                    ExitCode::SUCCESS
                }
                Err(()) => ExitCode::FAILURE,
            },
            None => ExitCode::from(2),
        };
    }

    print_header(&args.settings);
    let mut rows = Vec::new();
    let mut failed = false;
    match args.only.as_deref().and_then(section_named) {
        Some(section) => match run_section(section, &args.settings) {
            Ok(mut section_rows) => rows.append(&mut section_rows),
            Err(()) => failed = true,
        },
        None => {
            for section in SECTIONS {
                match run_child(section, &args.settings) {
                    Ok(mut section_rows) => rows.append(&mut section_rows),
                    Err(error) => {
                        eprintln!("bench: ERROR in section `{}`: {error}", section.name);
                        failed = true;
                    }
                }
            }
        }
    }
    print_summary(&rows);
    if failed {
        eprintln!(
            "bench: FAILED: see the errors above (timing never fails a run; these are correctness errors)"
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn section_named(name: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.name == name)
}

/// Runs `section` in this process, printing its figures; its error is
/// printed here.
fn run_section(section: &Section, settings: &Settings) -> Result<Vec<Row>, ()> {
    println!();
    println!("== {}: {}", section.name, section.measures);
    (section.run)(settings).map_err(|error| {
        eprintln!("bench: ERROR in section `{}`: {error}", section.name);
    })
}

/// Runs `section` in a child process of this program, passing its figures
/// through and collecting its rows.
fn run_child(section: &Section, settings: &Settings) -> Result<Vec<Row>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut child = Command::new(exe)
        .args(["--child", "--only", section.name])
        .args(["--n", &settings.n.to_string()])
        .args(["--reps", &settings.reps.to_string()])
        .args(settings.amqp.args())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start a child process: {e}"))?;
    let mut rows = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading the child's output: {e}"))?;
            match line.starts_with(ROW_TAG) {
                true => rows.push(Row::decode(&line).ok_or(format!("bad row line `{line}`"))?),
                false => println!("{line}"),
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for the child: {e}"))?;
    match status.success() {
        true => Ok(rows),
        false => Err(format!("the section's process ended with {status}")),
    }
}

fn parse_args() -> Result<Args, String> {
    let mut quick = std::env::var_os("BENCH_QUICK").is_some();
    let mut n = env_number("BENCH_N")?;
    let mut reps = env_number("BENCH_REPS")?.map(|r| r as usize);
    let mut only = None;
    let mut child = false;
    let mut amqp = amqp::AmqpBench::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if amqp.parse(&arg, || args.next())? {
            continue;
        }
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => only = Some(args.next().ok_or("--only needs a section name")?),
            "--n" => n = Some(parse_number("--n", args.next())?),
            "--reps" => reps = Some(parse_number("--reps", args.next())? as usize),
            "--child" => child = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if let Some(name) = &only
        && section_named(name).is_none()
    {
        return Err(format!("no section named `{name}`"));
    }
    if child && only.is_none() {
        return Err("--child needs --only".into());
    }
    let settings = Settings {
        n: n.unwrap_or(if quick { QUICK_N } else { DEFAULT_N }).max(1),
        reps: reps
            .unwrap_or(if quick { QUICK_REPS } else { DEFAULT_REPS })
            .max(1),
        amqp,
    };
    Ok(Args {
        settings,
        only,
        child,
    })
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
        "build: {}; allocator: {}",
        if cfg!(debug_assertions) {
            "DEBUG (figures are meaningless; use --release)"
        } else {
            "release"
        },
        match std::env::var("LD_PRELOAD") {
            Ok(preload) if !preload.is_empty() => format!("system, LD_PRELOAD={preload}"),
            _ => "system (the platform's malloc)".into(),
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
    println!("== summary (median; best repetition in parentheses)");
    let what_width = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    let figures: Vec<String> = rows
        .iter()
        .map(|r| format!("{} ({}) {}", group(r.median), group(r.best), r.unit))
        .collect();
    let figure_width = figures.iter().map(String::len).max().unwrap_or(0);
    let targets: Vec<String> = rows.iter().map(|r| r.target.describe(&r.unit)).collect();
    let target_width = targets.iter().map(String::len).max().unwrap_or(0);
    for ((row, figure), target) in rows.iter().zip(&figures).zip(&targets) {
        let verdict = if row.target.met_by(row.median) {
            "PASS"
        } else if row.target.met_by(row.best) {
            "MISS (best repetition passes)"
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
        let median = if sorted.len().is_multiple_of(2) {
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
                unit: "ns/listener".into(),
                target: Target::AtMost(TARGET_OVERHEAD_NS),
            },
            Row {
                what: "dispatch_now overhead, 4 listeners".into(),
                median: w4.median - d4.median,
                best: w4.min - d4.min,
                unit: "ns/listener".into(),
                target: Target::AtMost(TARGET_OVERHEAD_NS),
            },
        ])
    })
}

// ---------------------------------------------------------------------------
// Section: dispatch() on the sync driver.
// ---------------------------------------------------------------------------

/// What makes the jobs of a burst.
#[derive(Clone, Copy)]
enum Producer {
    /// `QueuedEvent::dispatch()` on the sync driver; waited for with
    /// `fastevent::drain()`.
    Fastevent,
    /// A bare `tokio::spawn` of a task that only counts, with an in-flight
    /// count and a `Notify` to wait for it: the floor under the sync driver.
    BareTokio,
}

/// Times of one burst: producing the jobs, then waiting for them.
struct Burst {
    produce: Duration,
    total: Duration,
}

/// Makes `n` jobs from this task, then waits for all of them.
async fn burst_one_task(producer: Producer, n: u64) -> Result<Burst, String> {
    let before = CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    produce(producer, 0..n).await?;
    let produced = start.elapsed();
    wait_all(producer).await;
    let total = start.elapsed();
    check_calls(before, n, "one dispatching task")?;
    Ok(Burst {
        produce: produced,
        total,
    })
}

/// Makes `n` jobs from `tasks` spawned tasks, then waits for all of them.
async fn burst_spawned_tasks(producer: Producer, n: u64, tasks: u64) -> Result<Burst, String> {
    let before = CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| tokio::spawn(produce(producer, t * n / tasks..(t + 1) * n / tasks)))
        .collect();
    for handle in handles {
        handle
            .await
            .map_err(|e| format!("a dispatching task failed: {e}"))??;
    }
    let produced = start.elapsed();
    wait_all(producer).await;
    let total = start.elapsed();
    check_calls(before, n, "spawned dispatching tasks")?;
    Ok(Burst {
        produce: produced,
        total,
    })
}

async fn produce(producer: Producer, ids: std::ops::Range<u64>) -> Result<(), String> {
    match producer {
        Producer::Fastevent => dispatch_range(ids).await,
        Producer::BareTokio => {
            for i in ids {
                spawn_bare(black_box(i));
            }
            Ok(())
        }
    }
}

async fn wait_all(producer: Producer) {
    match producer {
        Producer::Fastevent => fastevent::drain().await,
        Producer::BareTokio => bare_wait_idle().await,
    }
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

static BARE_RUNNING: AtomicUsize = AtomicUsize::new(0);
static BARE_IDLE: Notify = Notify::const_new();

/// Counts one bare task as finished when dropped.
struct BareGuard;

impl Drop for BareGuard {
    fn drop(&mut self) {
        if BARE_RUNNING.fetch_sub(1, Ordering::AcqRel) == 1 {
            BARE_IDLE.notify_waiters();
        }
    }
}

fn spawn_bare(id: u64) {
    BARE_RUNNING.fetch_add(1, Ordering::AcqRel);
    let guard = BareGuard;
    tokio::spawn(async move {
        let _guard = guard;
        count_call(id);
    });
}

async fn bare_wait_idle() {
    loop {
        let mut idle = std::pin::pin!(BARE_IDLE.notified());
        idle.as_mut().enable();
        if BARE_RUNNING.load(Ordering::Acquire) == 0 {
            return;
        }
        idle.await;
    }
}

/// Prints the figures of one runtime's bursts; the summary row of fastevent's.
fn report_bursts(label: &str, n: u64, fastevent: &[Burst], bare: &[Burst]) -> Row {
    let rate = |bursts: &[Burst]| -> Vec<f64> {
        bursts
            .iter()
            .map(|b| n as f64 / b.total.as_secs_f64())
            .collect()
    };
    let (per_sec, bare_per_sec) = (rate(fastevent), rate(bare));
    let ns = |bursts: &[Burst], part: fn(&Burst) -> Duration| -> Spread {
        Spread::of(
            &bursts
                .iter()
                .map(|b| ns_per(part(b), n))
                .collect::<Vec<_>>(),
        )
    };
    let total = ns(fastevent, |b| b.total);
    let dispatch = ns(fastevent, |b| b.produce);
    let drain = ns(fastevent, |b| b.total - b.produce);
    let bare_total = ns(bare, |b| b.total);
    let (spread, bare_spread) = (Spread::of(&per_sec), Spread::of(&bare_per_sec));
    println!("   {label}");
    println!(
        "     throughput           : median {:>12} events/s   best {:>12}   worst {:>12}",
        group(spread.median),
        group(Spread::max_of(&per_sec)),
        group(spread.min)
    );
    println!(
        "     per event, all       : median {:>8.1} ns   min {:>8.1}",
        total.median, total.min
    );
    println!(
        "       of which dispatch  : median {:>8.1} ns   min {:>8.1}   (until the last dispatch().await returned)",
        dispatch.median, dispatch.min
    );
    println!(
        "       of which drain     : median {:>8.1} ns   min {:>8.1}   (jobs still to run after that)",
        drain.median, drain.min
    );
    println!(
        "     bare tokio::spawn    : median {:>12} events/s   best {:>12}   {:.1} ns/event",
        group(bare_spread.median),
        group(Spread::max_of(&bare_per_sec)),
        bare_total.median
    );
    println!(
        "     fastevent vs bare    : +{:.1} ns/event, {:.2}x the time",
        total.median - bare_total.median,
        total.median / bare_total.median
    );
    Row {
        what: format!("sync dispatch, {label}"),
        median: spread.median,
        best: Spread::max_of(&per_sec),
        unit: "events/s".into(),
        target: Target::AtLeast(TARGET_EVENTS_PER_SEC),
    }
}

/// Warm-up, then `reps` repetitions of `burst` for fastevent and for bare
/// tokio in turn, so that both see the same noise.
async fn alternate<F, Fut>(reps: usize, burst: F) -> Result<(Vec<Burst>, Vec<Burst>), String>
where
    F: Fn(Producer) -> Fut,
    Fut: Future<Output = Result<Burst, String>>,
{
    burst(Producer::Fastevent).await?;
    burst(Producer::BareTokio).await?;
    let (mut fastevent, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        fastevent.push(burst(Producer::Fastevent).await?);
        bare.push(burst(Producer::BareTokio).await?);
    }
    Ok((fastevent, bare))
}

fn bench_sync_dispatch(settings: &Settings) -> Result<Vec<Row>, String> {
    // Whatever QUEUE_DRIVER says: this section measures the sync driver.
    fastevent::Config::new()
        .queue_driver(fastevent::QueueDriver::Sync)
        .install()
        .map_err(|e| format!("cannot install the sync driver: {e}"))?;
    let n = settings.n;
    println!(
        "   {} events per repetition, all dispatched before drain().await; timed until drain returns",
        group(n as f64)
    );
    let stats_before = fastevent::stats();
    let mut rows = Vec::new();

    let runtime = current_thread_runtime()?;
    let (fastevent, bare) = runtime.block_on(alternate(settings.reps, |p| burst_one_task(p, n)))?;
    drop(runtime);
    rows.push(report_bursts(
        "current_thread, 1 task",
        n,
        &fastevent,
        &bare,
    ));

    let runtime = multi_thread_runtime(2)?;
    let (fastevent, bare) =
        runtime.block_on(alternate(settings.reps, |p| burst_spawned_tasks(p, n, 2)))?;
    drop(runtime);
    rows.push(report_bursts(
        "multi_thread 2 workers, 2 tasks",
        n,
        &fastevent,
        &bare,
    ));

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
        "   checked: {} fastevent jobs dispatched, each ran once and succeeded; peak RSS {}",
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
