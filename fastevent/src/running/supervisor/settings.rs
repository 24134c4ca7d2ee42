//! How the supervisor runs its pool: from the environment (fast-app's
//! variable names, so existing deployments keep working), then the `work` command's flags. Read and checked once,
//! before any worker starts, so a bad value stops the supervisor at once
//! instead of every worker it would spawn.

use crate::config::ConfigError;
use crate::env::Env;
use crate::worker::WorkerOptions;
use std::time::Duration;

/// The supervisor's settings: how many workers it keeps, and how it scales
/// and watches them. Read them with [`SupervisorSettings::from_env`], then
/// apply flags with [`SupervisorSettings::with_workers`].
///
/// | variable | default | meaning |
/// | --- | --- | --- |
/// | `MIN_WORKERS` | `1` | workers kept alive, whatever the queue |
/// | `MAX_WORKERS` | `10` | most workers at once |
/// | `SCALE_CHECK_INTERVAL_S` | `1` | how often the queue depth is read |
/// | `SCALE_UP_BATCH_SIZE` | `2` | workers added per scale-up |
/// | `SCALE_DOWN_BATCH_SIZE` | `1` | idle workers stopped per scale-down |
/// | `SCALE_DOWN_COOLDOWN_S` | `10` | how long the queue must stay idle (and since the last scaling) before a scale-down |
/// | `HEARTBEAT_TIMEOUT_S` | max(10, 7 × `HEARTBEAT_INTERVAL_S`) | silence after which a worker is killed and replaced |
///
/// The concurrency, queues and shutdown grace are the workers' own
/// ([`WorkerOptions`]): the supervisor computes capacity and kill deadlines
/// from the same values its workers run with.
///
/// ```
/// use fastevent::supervisor::SupervisorSettings;
/// use fastevent::supervisor::KILL_MARGIN;
/// use fastevent::worker::WorkerOptions;
///
/// let worker = WorkerOptions::default();
/// // The environment, then `--min-workers 2 --max-workers 8`.
/// let settings = SupervisorSettings::from_env(&worker)?.with_workers(Some(2), Some(8), &worker)?;
/// assert_eq!((settings.min_workers, settings.max_workers), (2, 8));
/// assert_eq!(settings.stop_timeout, worker.shutdown_grace + KILL_MARGIN);
///
/// // The minimum cannot exceed the maximum.
/// assert!(settings.with_workers(Some(9), None, &worker).is_err());
/// # Ok::<(), fastevent::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorSettings {
    /// Workers kept alive.
    pub min_workers: usize,
    /// Most workers at once.
    pub max_workers: usize,
    /// How often the queue depth is read.
    pub scale_check_interval: Duration,
    /// Workers added per scale-up.
    pub scale_up_batch: usize,
    /// Idle workers stopped per scale-down.
    pub scale_down_batch: usize,
    /// Idle time of the queue before a scale-down.
    pub scale_down_cooldown: Duration,
    /// Silence after which a worker counts as hung.
    pub heartbeat_timeout: Duration,
    /// Time a stopping worker gets before it is killed: its own grace
    /// period plus [`KILL_MARGIN`].
    pub stop_timeout: Duration,
    /// Jobs one worker runs at once.
    pub concurrency: usize,
    /// The queues the workers take jobs from (the depth that counts).
    pub queues: Vec<String>,
}

/// Added to `WORKER_SHUTDOWN_GRACE_S` before a stopping worker is killed:
/// after its grace period a worker still hands unfinished jobs back, which
/// takes a moment, and killing it then would leave them to their leases.
pub const KILL_MARGIN: Duration = Duration::from_secs(5);

/// The most workers one supervisor accepts; a guard against a typo such as
/// `MAX_WORKERS=1000000`, not a tuned limit.
pub(super) const WORKER_LIMIT: u64 = 1000;

impl SupervisorSettings {
    /// Settings from the environment, for workers running with `worker`.
    pub fn from_env(worker: &WorkerOptions) -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name), worker)
    }

    pub(crate) fn from_lookup(
        lookup: &dyn Fn(&str) -> Result<String, std::env::VarError>,
        worker: &WorkerOptions,
    ) -> Result<Self, ConfigError> {
        let env = Env::new(lookup);
        let count = |name, min, default: usize| -> Result<usize, ConfigError> {
            Ok(env
                .number(name, min, WORKER_LIMIT)?
                .map_or(default, |n| n as usize))
        };
        let seconds = |name, min_s, default: Duration| -> Result<Duration, ConfigError> {
            Ok(env.seconds(name, min_s)?.unwrap_or(default))
        };
        // 7 missed beats (fast-app's default), but never under 10 s: a
        // worker whose listener blocks a thread for a few seconds is busy,
        // not hung, and must not be killed for it.
        let default_heartbeat_timeout =
            (worker.heartbeat_interval * 7).max(Duration::from_secs(10));
        let settings = Self {
            min_workers: count("MIN_WORKERS", 1, 1)?,
            max_workers: count("MAX_WORKERS", 1, 10)?,
            scale_check_interval: seconds("SCALE_CHECK_INTERVAL_S", 0.05, Duration::from_secs(1))?,
            scale_up_batch: count("SCALE_UP_BATCH_SIZE", 1, 2)?,
            scale_down_batch: count("SCALE_DOWN_BATCH_SIZE", 1, 1)?,
            scale_down_cooldown: seconds("SCALE_DOWN_COOLDOWN_S", 0.0, Duration::from_secs(10))?,
            heartbeat_timeout: seconds("HEARTBEAT_TIMEOUT_S", 0.1, default_heartbeat_timeout)?,
            stop_timeout: worker.shutdown_grace + KILL_MARGIN,
            concurrency: worker.concurrency,
            queues: worker.queues.clone(),
        };
        settings.check(worker)?;
        Ok(settings)
    }

    /// Applies `--min-workers` / `--max-workers`, then checks again.
    pub fn with_workers(
        mut self,
        min: Option<usize>,
        max: Option<usize>,
        worker: &WorkerOptions,
    ) -> Result<Self, ConfigError> {
        if let Some(min) = min {
            self.min_workers = min;
        }
        if let Some(max) = max {
            self.max_workers = max;
        }
        self.check(worker)?;
        Ok(self)
    }

    /// Refuses combinations that cannot work.
    pub fn check(&self, worker: &WorkerOptions) -> Result<(), ConfigError> {
        let limit = WORKER_LIMIT as usize;
        if self.min_workers == 0 || self.min_workers > limit {
            return Err(ConfigError::Invalid {
                variable: "MIN_WORKERS",
                value: self.min_workers.to_string(),
                expected: format!("a whole number from 1 to {limit}"),
            });
        }
        if self.max_workers == 0 || self.max_workers > limit {
            return Err(ConfigError::Invalid {
                variable: "MAX_WORKERS",
                value: self.max_workers.to_string(),
                expected: format!("a whole number from 1 to {limit}"),
            });
        }
        if self.min_workers > self.max_workers {
            return Err(ConfigError::Invalid {
                variable: "MIN_WORKERS",
                value: self.min_workers.to_string(),
                expected: format!("at most MAX_WORKERS ({})", self.max_workers),
            });
        }
        if self.heartbeat_timeout <= worker.heartbeat_interval * 2 {
            return Err(ConfigError::Invalid {
                variable: "HEARTBEAT_TIMEOUT_S",
                value: self.heartbeat_timeout.as_secs_f64().to_string(),
                expected: format!(
                    "more than twice HEARTBEAT_INTERVAL_S ({}s), or healthy workers are killed",
                    worker.heartbeat_interval.as_secs_f64()
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::env::VarError;

    fn settings(vars: &[(&str, &str)]) -> Result<SupervisorSettings, ConfigError> {
        SupervisorSettings::from_lookup(&crate::env::fixed(vars), &WorkerOptions::default())
    }

    #[test]
    fn defaults_are_the_reference_ones() {
        let s = settings(&[]).unwrap();
        assert_eq!((s.min_workers, s.max_workers), (1, 10));
        assert_eq!(s.scale_check_interval, Duration::from_secs(1));
        assert_eq!((s.scale_up_batch, s.scale_down_batch), (2, 1));
        assert_eq!(s.scale_down_cooldown, Duration::from_secs(10));
        assert_eq!(s.heartbeat_timeout, Duration::from_secs(10));
        assert_eq!(s.stop_timeout, Duration::from_secs(15) + KILL_MARGIN);
        assert_eq!(s.concurrency, 10);
        assert_eq!(s.queues, ["default"]);
    }

    #[test]
    fn every_variable_is_read() {
        let s = settings(&[
            ("MIN_WORKERS", "2"),
            ("MAX_WORKERS", "4"),
            ("SCALE_CHECK_INTERVAL_S", "0.5"),
            ("SCALE_UP_BATCH_SIZE", "3"),
            ("SCALE_DOWN_BATCH_SIZE", "2"),
            ("SCALE_DOWN_COOLDOWN_S", "0"),
            ("HEARTBEAT_TIMEOUT_S", "30"),
        ])
        .unwrap();
        assert_eq!((s.min_workers, s.max_workers), (2, 4));
        assert_eq!(s.scale_check_interval, Duration::from_millis(500));
        assert_eq!((s.scale_up_batch, s.scale_down_batch), (3, 2));
        assert_eq!(s.scale_down_cooldown, Duration::ZERO);
        assert_eq!(s.heartbeat_timeout, Duration::from_secs(30));
    }

    #[test]
    fn the_heartbeat_timeout_follows_a_slow_heartbeat() {
        let worker = WorkerOptions {
            heartbeat_interval: Duration::from_secs(3),
            lease: Duration::from_secs(60),
            ..WorkerOptions::default()
        };
        let s = SupervisorSettings::from_lookup(&|_| Err(VarError::NotPresent), &worker).unwrap();
        assert_eq!(s.heartbeat_timeout, Duration::from_secs(21));
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for (vars, variable, expected) in [
            (
                &[("MIN_WORKERS", "abc")][..],
                "MIN_WORKERS",
                "a whole number",
            ),
            (&[("MIN_WORKERS", "0")], "MIN_WORKERS", "from 1"),
            (&[("MAX_WORKERS", "-3")], "MAX_WORKERS", "a whole number"),
            (
                &[("MIN_WORKERS", "5"), ("MAX_WORKERS", "3")],
                "MIN_WORKERS",
                "at most MAX_WORKERS (3)",
            ),
            (
                &[("SCALE_CHECK_INTERVAL_S", "0")],
                "SCALE_CHECK_INTERVAL_S",
                "at least 0.05",
            ),
            (
                &[("SCALE_UP_BATCH_SIZE", "0")],
                "SCALE_UP_BATCH_SIZE",
                "from 1",
            ),
            (
                &[("HEARTBEAT_TIMEOUT_S", "1")],
                "HEARTBEAT_TIMEOUT_S",
                "more than twice",
            ),
        ] {
            let error = settings(vars).unwrap_err().to_string();
            assert!(
                error.starts_with(variable) && error.contains(expected),
                "{vars:?}: {error}"
            );
        }
    }

    #[test]
    fn flags_override_the_environment_and_are_checked() {
        let worker = WorkerOptions::default();
        let s = settings(&[("MIN_WORKERS", "3")])
            .unwrap()
            .with_workers(Some(2), Some(2), &worker)
            .unwrap();
        assert_eq!((s.min_workers, s.max_workers), (2, 2));
        let error = settings(&[])
            .unwrap()
            .with_workers(Some(4), Some(2), &worker)
            .unwrap_err();
        assert!(
            error.to_string().contains("at most MAX_WORKERS (2)"),
            "{error}"
        );
    }
}
