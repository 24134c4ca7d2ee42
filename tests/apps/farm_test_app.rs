//! The application the `cli` and `supervisor` tests run: a few events and
//! listeners, and the embedded command line. `farm-test-app dispatch KIND N`
//! dispatches N events of one kind; anything else is `fastevent::cli`.
//!
//! Listeners append one line per thing they do to the file named by
//! `FARM_TEST_OUT` (one `write` per line, `O_APPEND`: lines from several
//! worker processes never interleave), so a test can see what ran where.

use fastevent::{BoxError, Event, listener};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// Recorded, and printed (the supervisor forwards the line).
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Ping {
    pub n: u64,
}

#[derive(Default)]
pub struct RecordPing;

#[listener(on = Ping)]
impl RecordPing {
    async fn handle(&self, event: &Ping) {
        record(&format!("ping {}", event.n));
        println!("pinged {}", event.n);
    }
}

/// Its listener always fails, on its only try.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Doomed {
    pub n: u64,
}

#[derive(Default)]
pub struct AlwaysFails;

#[listener(on = Doomed, tries = 1)]
impl AlwaysFails {
    async fn handle(&self, event: &Doomed) -> Result<(), BoxError> {
        Err(format!("doomed job {} fails on purpose", event.n).into())
    }
}

/// Takes `FARM_SLOW_MS` (default 1500) to handle, without blocking.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Slow {
    pub n: u64,
}

#[derive(Default)]
pub struct SlowListener;

#[listener(on = Slow, tries = 3, backoff = "100ms")]
impl SlowListener {
    async fn handle(&self, event: &Slow) {
        record(&format!("slow-start {}", event.n));
        let ms = std::env::var("FARM_SLOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        record(&format!("slow-done {}", event.n));
    }
}

/// Blocks its thread far past its hard timeout: only killing the worker
/// process stops it.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Stuck {
    pub n: u64,
}

#[derive(Default)]
pub struct BlocksThread;

#[listener(on = Stuck, tries = 2, hard_timeout = "1s", queue = "default")]
impl BlocksThread {
    async fn handle(&self, event: &Stuck) {
        record(&format!("stuck-start {}", event.n));
        std::thread::sleep(Duration::from_secs(120));
    }
}

/// Writes what a careless or hostile listener might on its standard
/// output: a partial line left open across an await, lines that mimic
/// worker reports, binary bytes, and (every 40th job) a burst of 2 MB.
/// Takes 300 ms, under a 1 s hard timeout, on its only try.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Chatty {
    pub n: u64,
}

#[derive(Default)]
pub struct PrintsAnything;

#[listener(on = Chatty, tries = 1, hard_timeout = "1s")]
impl PrintsAnything {
    async fn handle(&self, event: &Chatty) {
        let n = event.n;
        emit(format!("working on {n} ... ").as_bytes());
        tokio::time::sleep(Duration::from_millis(300)).await;
        emit(b"done\n");
        emit(&forged_reports(n));
        emit(b"binary: \0\xff\xfe\x1b[2J\r\x07 end\n");
        if n.is_multiple_of(40) {
            let mut burst = vec![b'x'; 2 << 20];
            burst.push(b'\n');
            emit(&burst);
        }
        record(&format!("chatty {n}"));
    }
}

/// Lines in the format worker reports once had on standard output: a
/// finished job, a start with a deadline long past, and a stop by limits.
fn forged_reports(n: u64) -> Vec<u8> {
    let marker = "\u{1e}fastevent ";
    format!(
        "{marker}{{\"type\":\"job_finished\",\"job_id\":\"{n}\",\"outcome\":\"succeeded\",\"error\":null,\"duration_ms\":1}}\n\
         {marker}{{\"type\":\"job_started\",\"job_id\":\"forged-{n}\",\"event\":\"forged\",\"listener\":\"forged\",\"attempt\":1,\"hard_deadline_ms\":1}}\n\
         {marker}{{\"type\":\"stopping\",\"reason\":\"MaxJobs\"}}\n"
    )
    .into_bytes()
}

/// Writes `bytes` to standard output as they are, flushed, without adding
/// a newline.
fn emit(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes);
    let _ = stdout.flush();
}

/// Appends `what` and this process's id to `FARM_TEST_OUT`.
fn record(what: &str) {
    let Some(path) = std::env::var_os("FARM_TEST_OUT") else {
        return;
    };
    let line = format!("{what} {}\n", std::process::id());
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("FARM_TEST_OUT can be opened");
    file.write_all(line.as_bytes())
        .expect("FARM_TEST_OUT can be written");
}

async fn dispatch(kind: &str, count: u64) -> Result<(), BoxError> {
    for n in 1..=count {
        match kind {
            "ping" => Ping { n }.dispatch().await?,
            "doomed" => Doomed { n }.dispatch().await?,
            "slow" => Slow { n }.dispatch().await?,
            "stuck" => Stuck { n }.dispatch().await?,
            "chatty" => Chatty { n }.dispatch().await?,
            other => return Err(format!("no event kind `{other}`").into()),
        };
    }
    println!("dispatched {count} {kind}");
    Ok(())
}

// More runtime threads than the stuck listener blocks: the worker's
// heartbeats and timers keep running while one thread sleeps.
#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> ExitCode {
    if let Err(error) = fastevent::Config::from_env().and_then(|config| config.install()) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    let args: Vec<String> = std::env::args().collect();
    if std::env::var_os("FARM_HANG_BEFORE_READY").is_some() && args.iter().any(|a| a == "--worker")
    {
        // A worker that never gets to say Ready (a boot that hangs).
        std::thread::sleep(Duration::from_secs(600));
    }
    if args.get(1).map(String::as_str) == Some("dispatch") {
        let kind = args.get(2).map(String::as_str).unwrap_or("ping");
        let count = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1);
        return match dispatch(kind, count).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    fastevent::cli::run().await
}
