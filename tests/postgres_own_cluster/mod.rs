//! A PostgreSQL cluster of a test's own on another loopback port, for the
//! tests that must stop the server or need its defaults: never the
//! machine's shared one. Made and dropped by `tests/postgres/own-cluster.sh`
//! (root and the Debian `pg_createcluster` tools).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A cluster of this test's own, dropped with everything in it when this
/// is dropped (also when the test panics).
pub struct OwnCluster {
    pub name: String,
    /// `postgres://postgres@127.0.0.1:PORT/postgres` (trust auth).
    pub url: String,
}

impl OwnCluster {
    /// Makes and starts cluster `fe_{what}_{pid}` on `port`; `port_env`
    /// names the variable that moves it when the port is taken.
    pub fn start(what: &str, port: u16, port_env: &str) -> Self {
        Self::start_with(what, port, port_env, &[])
    }

    /// As [`start`](Self::start), with `settings` for the script when it
    /// makes the cluster (`OWN_CLUSTER_*`, see `own-cluster.sh`).
    pub fn start_with(what: &str, port: u16, port_env: &str, settings: &[(&str, &str)]) -> Self {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            panic!("port {port} is taken: set {port_env} to a free one");
        }
        let cluster = Self {
            name: format!("fe_{what}_{}", std::process::id()),
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        };
        let port = port.to_string();
        cluster.script_with(&["start", &cluster.name, &port], settings);
        cluster
    }

    /// The tmpfs its data directory is on, when it was made with
    /// `OWN_CLUSTER_DISK_MB`.
    pub fn disk(&self) -> PathBuf {
        PathBuf::from(format!("/tmp/fastevent-pg-{}", self.name))
    }

    /// Stops the server, ending its connections at once.
    pub fn stop(&self) {
        self.script(&["stop", &self.name]);
    }

    /// Starts the stopped server; returns once it takes connections.
    pub fn start_again(&self) {
        self.script(&["start", &self.name]);
    }

    fn script(&self, args: &[&str]) {
        self.script_with(args, &[]);
    }

    fn script_with(&self, args: &[&str], settings: &[(&str, &str)]) {
        let mut command = Command::new(script_path());
        command.args(args).envs(settings.iter().copied());
        let status = command.status().unwrap();
        assert!(status.success(), "own-cluster.sh {args:?} failed: {status}");
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let status = Command::new(script_path())
            .args(["drop", &self.name])
            .status();
        if !status.as_ref().is_ok_and(|s| s.success()) {
            eprintln!("could not drop cluster {}: {status:?}", self.name);
        }
    }
}

fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/postgres/own-cluster.sh")
}

/// Whether this machine can make clusters: root, and the Debian tools.
/// The port of a test's own cluster: the value of `port_env` when it is
/// set, else `default`.
pub fn port(port_env: &str, default: u16) -> u16 {
    std::env::var(port_env)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}

/// The port of a test's own cluster, or `None` when the test is off: the
/// PostgreSQL tests are (`FASTEVENT_POSTGRES_URL` unset), or this machine
/// cannot make clusters (it says so).
pub fn port_if_on(port_env: &str, default: u16) -> Option<u16> {
    std::env::var("FASTEVENT_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())?;
    if !can_make_clusters() {
        eprintln!("skipped: needs root and pg_createcluster to make a cluster of its own");
        return None;
    }
    Some(port(port_env, default))
}

pub fn can_make_clusters() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
    let tools = Command::new("pg_createcluster")
        .arg("--version")
        .output()
        .is_ok();
    root && tools
}
