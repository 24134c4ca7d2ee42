//! Running `farm-test-app` from the `cli` and `supervisor` tests: one
//! private directory (database, listener record) per test, the
//! environment of the queue knobs replaced by known values, and a
//! supervisor process whose output lines are collected as they come.
//!
//! Waits poll a condition and give up after [`PATIENCE`]: a bound against a
//! hang, never an assertion about speed.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a wait may take before the test fails as hung.
pub const PATIENCE: Duration = Duration::from_secs(45);

/// Polls `condition` until it holds; panics after [`PATIENCE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a process runs (or is a zombie nobody reaped).
pub fn process_exists(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Sends `signal` (`TERM`, `KILL`, `INT`) to `pid`.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -s {signal} {pid} failed");
}

/// The `pid N` in a line such as `worker 1 ready (pid 1234)`.
pub fn pid_in(line: &str) -> u32 {
    let (_, rest) = line.split_once("pid ").expect("a pid in the line");
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a pid")
}

/// One test's copy of the application: its database and record file.
pub struct App {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl App {
    pub fn new(test: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("fastevent-{test}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let env = [
            ("QUEUE_DRIVER", "sqlite".to_string()),
            (
                "FASTEVENT_SQLITE_PATH",
                dir.join("queue.db").display().to_string(),
            ),
            ("FASTEVENT_SQLITE_SYNCHRONOUS", "normal".into()),
            ("FARM_TEST_OUT", dir.join("record").display().to_string()),
            ("FASTEVENT_LEASE_S", "2".into()),
            ("HEARTBEAT_INTERVAL_S", "0.2".into()),
            ("SCALE_CHECK_INTERVAL_S", "0.2".into()),
            ("FASTEVENT_POLL_INTERVAL_MS", "20".into()),
            ("WORKER_SHUTDOWN_GRACE_S", "3".into()),
            ("FASTEVENT_BACKOFF_S", "0.1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self { dir, env }
    }

    /// Sets (or replaces) a variable for every later command.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This test's environment as `NAME=value` words (for `env`).
    pub fn env_assignments(&self) -> Vec<String> {
        self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// `farm-test-app ARGS` with this test's environment, and none of the
    /// caller's queue settings.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_farm-test-app"));
        command.args(args);
        for (name, _) in std::env::vars() {
            let knob = [
                "QUEUE_DRIVER",
                "FASTEVENT_",
                "MIN_WORKERS",
                "MAX_WORKERS",
                "SCALE_",
                "HEARTBEAT_",
                "PREFETCH_PER_WORKER",
                "SOFT_TIMEOUT_S",
                "HARD_TIMEOUT_S",
                "WORKER_SHUTDOWN_GRACE_S",
                "MAX_PAYLOAD_BYTES",
                "FARM_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix));
            if knob {
                command.env_remove(name);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs `farm-test-app ARGS` to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("farm-test-app runs")
    }

    /// Runs it and expects success; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?} failed with {}:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs it with `--json` output and parses that.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("JSON output")
    }

    /// Dispatches `count` events of `kind` (ping, doomed, slow, stuck, chatty).
    pub fn dispatch(&self, kind: &str, count: u64) {
        self.ok(&["dispatch", kind, &count.to_string()]);
    }

    /// Lines the listeners recorded: `ping 3 <pid>`, `slow-start 1 <pid>`...
    pub fn record(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("record"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The ready count of the default queue, and the failed count.
    pub fn depth(&self) -> (u64, u64, u64) {
        let status = self.json(&["status", "--json"]);
        let default = status["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["queue"] == "default")
            .cloned()
            .unwrap_or_default();
        (
            default["ready"].as_u64().unwrap_or(0),
            default["running"].as_u64().unwrap_or(0),
            status["failed"].as_u64().unwrap(),
        )
    }

    /// A backlog the pool must grow for: 8 slow jobs (400 ms each), then
    /// `work` with one job per worker and 1 to 3 workers; returns the
    /// supervisor once it has started the two more workers the backlog asks
    /// for, at once, and the third is ready.
    pub fn scale_up_on_a_backlog(&mut self) -> Running {
        self.set("FARM_SLOW_MS", "400");
        self.dispatch("slow", 8);
        let pool = [
            "--concurrency",
            "1",
            "--min-workers",
            "1",
            "--max-workers",
            "3",
        ];
        let supervisor = self.start(&[&["work"][..], &pool].concat());
        // One worker holds one job: a backlog of 7 adds two (the batch), not more.
        let up = supervisor.wait_for("scaling up", 1);
        assert!(
            up[0].contains("more than 1 worker can hold (1); starting 2 more"),
            "{up:#?}"
        );
        supervisor.wait_for("worker 3 ready", 1);
        supervisor
    }

    /// Starts `farm-test-app ARGS` in the background, collecting its
    /// standard output.
    pub fn start(&self, args: &[&str]) -> Running {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("farm-test-app starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("{line}");
                sink.lock().unwrap().push(line);
            }
        });
        Running {
            child,
            lines,
            reader: Some(reader),
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A process started in the background (the supervisor).
pub struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its output so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The output lines containing `text`.
    pub fn lines_with(&self, text: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.contains(text))
            .collect()
    }

    /// Waits for `count` lines containing `text`; returns them.
    pub fn wait_for(&self, text: &str, count: usize) -> Vec<String> {
        wait_until(&format!("{count} line(s) with {text:?}"), || {
            self.lines_with(text).len() >= count
        });
        self.lines_with(text)
    }

    pub fn signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }

    /// Waits for it to exit; returns its status and all its output.
    pub fn wait(mut self) -> (ExitStatus, Vec<String>) {
        let mut status = None;
        wait_until("the process to exit", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status.unwrap(), self.lines())
    }
}

impl Drop for Running {
    /// A failed test must not leave a supervisor (and its workers) behind:
    /// SIGTERM drains them; SIGKILL if that does not end it.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            send_signal(self.child.id(), "TERM");
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
