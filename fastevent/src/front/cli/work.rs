//! `work`: the supervisor, or with `--worker` one worker in this process
//! (what the supervisor starts; handy for debugging a listener too).

use super::{CliError, CommandResult};
use crate::config::{ConfigError, durable_queue};
use crate::driver::durable::DurableQueue;
use crate::registry::registry;
use crate::supervisor::{Supervisor, SupervisorExit, SupervisorSettings, WorkerCommand};
use crate::worker::report::{SUPERVISED_ENV, SUPERVISOR_PID_ENV};
use crate::worker::{Worker, WorkerOptions};
use std::env::VarError;
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

/// Flags of `work`, in the spirit of Laravel's `queue:work`. Everything not
/// given here comes from the environment (see [`WorkerOptions`] and
/// [`SupervisorSettings`]). Flatten it into a command of your own to offer
/// the same flags.
///
/// ```
/// use clap::Parser;
/// use fastevent::cli::WorkArgs;
///
/// #[derive(Parser)]
/// struct Work {
///     #[command(flatten)]
///     flags: WorkArgs,
/// }
///
/// let work = Work::parse_from(["work", "--queue", "high,default", "--concurrency", "4", "--once"]);
/// let options = work.flags.worker_options()?;
/// assert_eq!(options.queues, ["high", "default"]);
/// assert_eq!((options.concurrency, options.max_jobs), (4, Some(1)));
/// # Ok::<(), fastevent::ConfigError>(())
/// ```
#[derive(Debug, Clone, clap::Args)]
pub struct WorkArgs {
    /// Queues to take jobs from, comma separated, highest priority first
    /// [default: $FASTEVENT_QUEUES, else "default"]
    #[arg(long, value_name = "QUEUES")]
    pub queue: Option<String>,

    /// Jobs one worker runs at once [default: $PREFETCH_PER_WORKER, else 10]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub concurrency: Option<u64>,

    /// Run one job, then stop (--max-jobs 1 --stop-when-empty)
    #[arg(long)]
    pub once: bool,

    /// Stop when no job is ready and none runs
    #[arg(long)]
    pub stop_when_empty: bool,

    /// Stop each worker after it took N jobs
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_jobs: Option<u64>,

    /// Stop each worker after it ran this long
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub max_time: Option<Duration>,

    /// Workers kept alive, whatever the queue [default: $MIN_WORKERS, else 1]
    #[arg(long, value_name = "N")]
    pub min_workers: Option<usize>,

    /// Most workers at once [default: $MAX_WORKERS, else 10]
    #[arg(long, value_name = "N")]
    pub max_workers: Option<usize>,

    /// Show a live dashboard instead of the supervisor's log: workers,
    /// running jobs, throughput, queues, failed jobs; keys change the pool
    /// and retry failed jobs (needs a terminal)
    #[arg(long)]
    pub tui: bool,

    /// Run one worker in this process instead of a supervisor
    #[arg(long, hide = true)]
    pub worker: bool,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 1.0e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("`{text}` is not a positive number of seconds")),
    }
}

impl WorkArgs {
    /// Runs the supervisor, or one worker with `--worker`; `args` are this
    /// process's arguments, which the supervisor's workers get too.
    pub(super) async fn run(self, args: Vec<OsString>) -> CommandResult {
        if self.worker {
            self.run_worker().await
        } else {
            self.supervise(args).await
        }
    }

    /// The workers' options: the environment, then these flags (see
    /// [`WorkArgs`] for an example).
    pub fn worker_options(&self) -> Result<WorkerOptions, ConfigError> {
        self.worker_options_from(&|name| std::env::var(name))
    }

    pub(super) fn worker_options_from(
        &self,
        lookup: &dyn Fn(&str) -> Result<String, VarError>,
    ) -> Result<WorkerOptions, ConfigError> {
        // `--queue` is read as FASTEVENT_QUEUES would be: one parser, one
        // set of rules; only the error names the flag.
        let with_flags = |name: &str| match (name, &self.queue) {
            ("FASTEVENT_QUEUES", Some(queues)) => Ok(queues.clone()),
            _ => lookup(name),
        };
        let mut options = WorkerOptions::from_lookup(&with_flags).map_err(|error| match error {
            ConfigError::Invalid {
                variable: "FASTEVENT_QUEUES",
                value,
                expected,
            } if self.queue.is_some() => ConfigError::Invalid {
                variable: "--queue",
                value,
                expected,
            },
            other => other,
        })?;
        if let Some(n) = self.concurrency {
            options.concurrency = n as usize;
        }
        if self.once {
            options.max_jobs = Some(1);
            options.stop_when_empty = true;
        }
        if self.stop_when_empty {
            options.stop_when_empty = true;
        }
        if let Some(n) = self.max_jobs {
            options.max_jobs = Some(n);
        }
        if let Some(d) = self.max_time {
            options.max_time = Some(d);
        }
        options.check()?;
        Ok(options)
    }

    async fn run_worker(self) -> CommandResult {
        let options = self.worker_options()?;
        registry().validate()?;
        // Opens the database now: a queue that cannot be reached is an
        // error at start, not a worker that retries its claims for ever.
        durable_queue()?.depth().await?;
        let worker = Worker::from_config(options)?.reporting_to_supervisor();
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let shutdown = async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
                () = supervisor_gone() => {}
            }
        };
        let report = worker.run(shutdown).await;
        // Not `println!`: with its supervisor gone, standard output is a
        // broken pipe, and the worker must still exit 0 after its drain.
        let _ = writeln!(
            std::io::stdout(),
            "worker stopped ({:?}): {} succeeded, {} retried, {} failed, {} handed back, {} lost to another claim",
            report.stopped,
            report.succeeded,
            report.retried,
            report.failed,
            report.released,
            report.lease_lost
        );
        Ok(ExitCode::SUCCESS)
    }

    async fn supervise(self, args: Vec<OsString>) -> CommandResult {
        dashboard_built(self.tui)?;
        let options = self.worker_options()?;
        registry().validate()?;
        let settings = SupervisorSettings::from_env(&options)?.with_workers(
            self.min_workers,
            self.max_workers,
            &options,
        )?;
        let queue = durable_queue()?;
        queue.depth().await?;
        let command = WorkerCommand::current_exe(args).map_err(|e| {
            CliError::new(format!("cannot find this program to start workers: {e}"))
        })?;
        let supervisor = Supervisor::new(settings, command);
        if self.tui {
            // Workers get `--tui` too (they run with this process's
            // arguments); `--worker` comes first in `run`, so they ignore it.
            return dashboard(supervisor, queue).await;
        }
        match supervisor.run(queue).await? {
            SupervisorExit::Shutdown | SupervisorExit::Finished => Ok(ExitCode::SUCCESS),
        }
    }
}

/// `--tui`: the supervisor shown as the dashboard.
#[cfg(feature = "tui")]
async fn dashboard(supervisor: Supervisor, queue: Arc<dyn DurableQueue>) -> CommandResult {
    super::tui::run(supervisor, queue).await
}

/// Whether `--tui` can be honoured: in a program built without the
/// dashboard, an error that names the feature, before the queue is read or
/// any worker starts.
fn dashboard_built(tui: bool) -> Result<(), CliError> {
    if tui && !cfg!(feature = "tui") {
        return Err(CliError::new(
            "`work --tui` needs the dashboard, which this program was built without: enable the \
             `tui` feature of fastevent",
        ));
    }
    Ok(())
}

#[cfg(not(feature = "tui"))]
async fn dashboard(_: Supervisor, _: Arc<dyn DurableQueue>) -> CommandResult {
    unreachable!("refused by dashboard_built before the supervisor was made")
}

/// Resolves when this worker was started by a supervisor that is no longer
/// its parent (it died, even by SIGKILL): the worker then drains and exits
/// instead of running on unsupervised, with no one to enforce its hard
/// timeouts. Never resolves for a worker started by hand.
async fn supervisor_gone() {
    if std::env::var_os(SUPERVISED_ENV).is_none() {
        return std::future::pending().await;
    }
    // The supervisor's pid as it said, not this process's parent when it
    // first looks: the supervisor may have died before that.
    let parent = std::env::var(SUPERVISOR_PID_ENV)
        .ok()
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(std::os::unix::process::parent_id);
    let mut check = tokio::time::interval(Duration::from_millis(500));
    loop {
        check.tick().await;
        if std::os::unix::process::parent_id() != parent {
            eprintln!("worker: its supervisor (pid {parent}) is gone; stopping");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::dashboard_built;

    #[test]
    fn tui_is_refused_only_where_the_dashboard_is_not_built() {
        assert!(dashboard_built(false).is_ok());
        let outcome = dashboard_built(true);
        if cfg!(feature = "tui") {
            assert!(outcome.is_ok());
        } else {
            let error = outcome.unwrap_err().0;
            assert!(error.contains("enable the `tui` feature"), "{error}");
        }
    }
}
