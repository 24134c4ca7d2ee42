//! What the chaos tests of the durable drivers share: worker processes
//! (the test binary started again, running only its `chaos_worker` test),
//! the files in which they record the jobs they start and finish, and the
//! reading of those files. A file per worker process, written by the
//! process itself, survives its SIGKILL: what it says is what the process
//! did.

#![allow(dead_code)]

use fastevent::driver::durable::IntoDurableQueue;
use fastevent::worker::{BackoffDefaults, Worker, WorkerOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// In a worker process: appends `line` to this process's record file, in
/// the directory the variable `dir_env` names (nothing when it is unset).
/// A job writes `+n` when it starts and `n` when it is done, so a job
/// killed mid-way leaves only its `+n`.
pub fn record(dir_env: &str, line: &str) -> std::io::Result<()> {
    let Some(dir) = std::env::var_os(dir_env) else {
        return Ok(());
    };
    let path = Path::new(&dir).join(format!("{}.log", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(format!("{line}\n").as_bytes())
}

/// In a worker process: a worker of 4 slots with quick retries on `queue`,
/// until SIGTERM.
pub async fn work_until_terminated(
    queue: impl IntoDurableQueue,
    heartbeat: Duration,
    lease: Duration,
) {
    let options = WorkerOptions {
        concurrency: 4,
        heartbeat_interval: heartbeat,
        lease,
        shutdown_grace: Duration::from_secs(2),
        backoff: BackoffDefaults {
            first: Duration::from_millis(50),
            max: Duration::from_secs(1),
        },
        ..WorkerOptions::default()
    };
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    Worker::new(queue, options, None)
        .run(async move {
            terminate.recv().await;
        })
        .await;
}

/// The worker processes of one run and their record files, in a directory
/// of the run's own; dropping it kills them and deletes the files.
pub struct WorkerProcesses {
    pub dir: PathBuf,
    /// What every worker process is started with: the record directory's
    /// variable and the queue's settings.
    env: Vec<(String, String)>,
    pub children: Vec<Child>,
}

impl WorkerProcesses {
    /// No process yet; `name` names the record directory, `dir_env` the
    /// variable that gives it to [`record`], `env` the rest of the
    /// processes' settings.
    pub fn new(name: &str, dir_env: &str, env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        env.push((dir_env.into(), dir.to_string_lossy().into_owned()));
        Self {
            dir,
            env,
            children: Vec::new(),
        }
    }

    /// Starts one more worker process.
    pub fn spawn(&mut self) {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "chaos_worker", "--nocapture"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .spawn()
            .unwrap();
        self.children.push(child);
    }

    /// Kills the first worker with SIGKILL once it is running a job (or
    /// after 10 s); its process id, and the jobs it was running.
    pub fn kill_first_mid_job(&mut self) -> (u32, BTreeSet<u64>) {
        let pid = self.children[0].id();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.running(pid).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let _ = self.children.remove(0).wait();
        (pid, self.running(pid))
    }

    /// The jobs worker `pid` started and has not finished.
    pub fn running(&self, pid: u32) -> BTreeSet<u64> {
        let path = self.dir.join(format!("{pid}.log"));
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut running = BTreeSet::new();
        for line in text.lines() {
            match line.strip_prefix('+') {
                Some(n) => running.extend(n.parse::<u64>().ok()),
                None => {
                    line.parse::<u64>().ok().map(|n| running.remove(&n));
                }
            }
        }
        running
    }

    /// Job number -> times handled, and job numbers per worker process.
    pub fn handled(&self) -> (BTreeMap<u64, u32>, BTreeMap<u32, Vec<u64>>) {
        let mut counts = BTreeMap::new();
        let mut per_worker: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        for entry in std::fs::read_dir(&self.dir).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.trim_end_matches(".log").parse().unwrap_or(0);
            let done = text.lines().filter(|l| !l.starts_with('+'));
            for n in done.filter_map(|l| l.trim().parse::<u64>().ok()) {
                *counts.entry(n).or_insert(0) += 1;
                per_worker.entry(pid).or_default().push(n);
            }
        }
        (counts, per_worker)
    }

    /// Waits until every job of `accepted` was handled, or `limit` passes;
    /// returns the ones never handled.
    pub async fn wait_handled(&self, accepted: &BTreeSet<u64>, limit: Duration) -> Vec<u64> {
        let deadline = Instant::now() + limit;
        loop {
            let (counts, _) = self.handled();
            let missing: Vec<u64> = accepted
                .iter()
                .filter(|n| !counts.contains_key(n))
                .copied()
                .collect();
            if missing.is_empty() || Instant::now() > deadline {
                return missing;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for WorkerProcesses {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
