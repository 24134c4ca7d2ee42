//! An application on `FileQueue` (tests/kit_driver), the durable driver
//! written outside fastevent against its driver kit: installed with
//! `Config::durable_driver`, it serves `dispatch`, `work` (the supervisor
//! and its worker processes), `status` and `failed`. `kit-test-app
//! dispatch KIND N` dispatches N events of one kind (`ping` or `doomed`);
//! anything else is `fastevent::cli`.
//!
//! The queue lives in the directory `KIT_QUEUE_DIR`; the ping listener
//! appends one line per job to `KIT_TEST_OUT` (one `write` per line,
//! `O_APPEND`: lines from several worker processes never interleave).

#[path = "../kit_driver/mod.rs"]
mod kit_driver;

use fastevent::{BoxError, Config, Event, listener};
use kit_driver::FileQueue;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Ping {
    pub n: u64,
}

#[derive(Default)]
pub struct RecordPing;

#[listener(on = Ping)]
impl RecordPing {
    async fn handle(&self, event: &Ping) -> Result<(), BoxError> {
        let path = std::env::var_os("KIT_TEST_OUT").ok_or("KIT_TEST_OUT is not set")?;
        let line = format!("ping {} {}\n", event.n, std::process::id());
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        file.write_all(line.as_bytes())?;
        Ok(())
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

/// The environment's configuration, with `FileQueue` as the durable driver.
fn install() -> Result<(), BoxError> {
    let dir = std::env::var_os("KIT_QUEUE_DIR").ok_or("KIT_QUEUE_DIR is not set")?;
    Config::from_env()?
        .durable_driver(move |encoder| Ok::<_, String>(FileQueue::open(dir, encoder)))
        .install()?;
    Ok(())
}

async fn dispatch(kind: &str, count: u64) -> Result<(), BoxError> {
    for n in 1..=count {
        match kind {
            "ping" => Ping { n }.dispatch().await?,
            "doomed" => Doomed { n }.dispatch().await?,
            other => return Err(format!("no event kind `{other}`").into()),
        };
    }
    println!("dispatched {count} {kind}");
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    if let Err(error) = install() {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("dispatch") {
        let kind = args.get(2).map(String::as_str).unwrap_or("ping");
        let count = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1);
        if let Err(error) = dispatch(kind, count).await {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
        return ExitCode::SUCCESS;
    }
    fastevent::cli::run().await
}
