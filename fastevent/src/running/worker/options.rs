//! How a worker runs: from the environment (fast-app's variable
//! names where they exist, so existing deployments keep working), then the `work` command's flags, or in code.

use super::backoff::BackoffDefaults;
use crate::config::ConfigError;
use crate::env::Env;
use std::time::Duration;

/// A worker's settings: which queues it takes jobs from, how many it runs
/// at once, its leases, retries and limits.
///
/// | variable | default | meaning |
/// | --- | --- | --- |
/// | `PREFETCH_PER_WORKER` | `10` | jobs one worker runs at once |
/// | `FASTEVENT_QUEUES` | `default` | queues to take jobs from, comma separated, in priority order |
/// | `FASTEVENT_LEASE_S` | `30` | how long a claimed job stays reserved without a heartbeat |
/// | `FASTEVENT_POLL_INTERVAL_MS` | `50` | pause between claims when the queue is empty |
/// | `HEARTBEAT_INTERVAL_S` | `1` | heartbeat and lease renewal interval |
/// | `WORKER_SHUTDOWN_GRACE_S` | `15` | time in-flight jobs get to finish at shutdown |
/// | `FASTEVENT_BACKOFF_S` | `1` | first retry delay of listeners without `backoff` |
/// | `FASTEVENT_BACKOFF_MAX_S` | `600` | longest retry delay |
///
/// Start from [`WorkerOptions::from_env`] (what the `work` command does)
/// or from the defaults, and set what the code decides:
///
/// ```
/// use fastevent::worker::WorkerOptions;
/// use std::time::Duration;
///
/// let options = WorkerOptions {
///     queues: vec!["high".into(), "default".into()], // "high" first
///     concurrency: 4,
///     max_jobs: Some(1000), // then exit, and let the supervisor start a fresh one
///     ..WorkerOptions::default()
/// };
/// assert!(options.check().is_ok());
///
/// let broken = WorkerOptions { lease: Duration::from_secs(1), ..WorkerOptions::default() };
/// assert!(broken.check().is_err()); // leases would expire under running jobs
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerOptions {
    /// Queues in priority order.
    pub queues: Vec<String>,
    /// Jobs run at once.
    pub concurrency: usize,
    /// Reservation of a claimed job, renewed every heartbeat.
    pub lease: Duration,
    /// Pause between claims when nothing is ready.
    pub poll_interval: Duration,
    /// Heartbeat and lease renewal interval.
    pub heartbeat_interval: Duration,
    /// Time in-flight jobs get at shutdown.
    pub shutdown_grace: Duration,
    /// Retry delays of listeners without `backoff`.
    pub backoff: BackoffDefaults,
    /// Stop when no job is ready and none runs.
    pub stop_when_empty: bool,
    /// Stop after taking this many jobs.
    pub max_jobs: Option<u64>,
    /// Stop after running this long.
    pub max_time: Option<Duration>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            queues: vec!["default".into()],
            concurrency: 10,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(50),
            heartbeat_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(15),
            backoff: BackoffDefaults::default(),
            stop_when_empty: false,
            max_jobs: None,
            max_time: None,
        }
    }
}

impl WorkerOptions {
    /// The defaults overridden by the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name))
    }

    pub(crate) fn from_lookup(
        lookup: &dyn Fn(&str) -> Result<String, std::env::VarError>,
    ) -> Result<Self, ConfigError> {
        let env = Env::new(lookup);
        let mut options = Self::default();
        if let Some(n) = env.number("PREFETCH_PER_WORKER", 1, 10_000)? {
            options.concurrency = n as usize;
        }
        if let Some(queues) = env.string("FASTEVENT_QUEUES")? {
            options.queues = parse_queues(&queues).map_err(|expected| ConfigError::Invalid {
                variable: "FASTEVENT_QUEUES",
                value: queues.clone(),
                expected,
            })?;
        }
        if let Some(d) = env.seconds("FASTEVENT_LEASE_S", 1.0)? {
            options.lease = d;
        }
        if let Some(ms) = env.number("FASTEVENT_POLL_INTERVAL_MS", 1, 60_000)? {
            options.poll_interval = Duration::from_millis(ms);
        }
        if let Some(d) = env.seconds("HEARTBEAT_INTERVAL_S", 0.05)? {
            options.heartbeat_interval = d;
        }
        if let Some(d) = env.seconds("WORKER_SHUTDOWN_GRACE_S", 0.0)? {
            options.shutdown_grace = d;
        }
        if let Some(d) = env.seconds("FASTEVENT_BACKOFF_S", 0.0)? {
            options.backoff.first = d;
        }
        if let Some(d) = env.seconds("FASTEVENT_BACKOFF_MAX_S", 0.0)? {
            options.backoff.max = d;
        }
        options.check()?;
        Ok(options)
    }

    /// Refuses combinations that cannot work.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.lease <= self.heartbeat_interval * 2 {
            return Err(ConfigError::Invalid {
                variable: "FASTEVENT_LEASE_S",
                value: format!("{}", self.lease.as_secs_f64()),
                expected: format!(
                    "more than twice HEARTBEAT_INTERVAL_S ({}s), or leases expire under running jobs",
                    self.heartbeat_interval.as_secs_f64()
                ),
            });
        }
        if self.queues.is_empty() {
            return Err(ConfigError::Invalid {
                variable: "FASTEVENT_QUEUES",
                value: String::new(),
                expected: "at least one queue".into(),
            });
        }
        Ok(())
    }
}

/// `"high, default"` -> `["high", "default"]`.
pub(crate) fn parse_queues(text: &str) -> Result<Vec<String>, String> {
    let queues: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_string)
        .collect();
    if queues.is_empty() || !queues.iter().all(|q| crate::names::valid_name(q)) {
        return Err(format!(
            "queue names ({}, at most {} each) separated by commas",
            crate::names::NAME_ALPHABET,
            crate::names::MAX_NAME_LEN
        ));
    }
    Ok(queues)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(vars: &[(&str, &str)]) -> Result<WorkerOptions, ConfigError> {
        WorkerOptions::from_lookup(&crate::env::fixed(vars))
    }

    #[test]
    fn reads_the_reference_names() {
        let o = options(&[
            ("PREFETCH_PER_WORKER", "4"),
            ("FASTEVENT_QUEUES", "high, default"),
            ("HEARTBEAT_INTERVAL_S", "0.5"),
            ("WORKER_SHUTDOWN_GRACE_S", "3"),
        ])
        .unwrap();
        assert_eq!(o.concurrency, 4);
        assert_eq!(o.queues, ["high", "default"]);
        assert_eq!(o.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(o.shutdown_grace, Duration::from_secs(3));
        assert_eq!(options(&[]).unwrap(), WorkerOptions::default());
    }

    #[test]
    fn refuses_bad_values_by_name() {
        for (variable, value) in [
            ("PREFETCH_PER_WORKER", "0"),
            ("PREFETCH_PER_WORKER", "many"),
            ("FASTEVENT_QUEUES", "a b"),
            ("FASTEVENT_LEASE_S", "1.5"),
            ("WORKER_SHUTDOWN_GRACE_S", "-2"),
        ] {
            let error = options(&[(variable, value)]).unwrap_err().to_string();
            assert!(error.starts_with(variable), "{variable}={value}: {error}");
        }
    }

    #[test]
    fn queue_names_follow_the_rule_of_registered_names() {
        // A listener's queue is a registered name (at most 200 characters),
        // so a longer queue could never hold a job.
        let longest = "q".repeat(200);
        assert_eq!(parse_queues(&longest), Ok(vec![longest.clone()]));
        let error = parse_queues(&format!("default, {longest}q")).unwrap_err();
        assert!(error.contains("at most 200"), "{error}");
    }
}
