//! The command line an application embeds: `work` (the supervisor and its
//! workers), `failed list|show|retry|forget`, `status` and `events`. The
//! listeners are compiled into the application, so the application is the
//! binary that runs them:
//!
//! ```no_run
//! # #[derive(Clone)] struct Db;
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     fastevent::provide(Db);
//!     fastevent::cli::run().await
//! }
//! ```
//!
//! An application with its own clap command line nests [`Command`]:
//!
//! ```
//! #[derive(clap::Parser)]
//! enum AppCommand {
//!     Serve,
//!     /// The queue: work, failed, status, events.
//!     #[command(subcommand)]
//!     Queue(fastevent::cli::Command),
//! }
//! # use clap::Parser;
//! # let AppCommand::Queue(_) = AppCommand::parse_from(["app", "queue", "status"]) else { panic!() };
//! ```
//! and runs it with `command.run().await` (`app queue work` then starts its
//! workers as `app queue work --worker`).
//!
//! Exit codes scripts can rely on: 0 when the command did what it says, 1
//! when it failed (the reason is one line on standard error), 2 for a usage
//! error.

mod events;
mod failed;
mod format;
mod status;
#[cfg(feature = "tui")]
mod tui;
mod work;

pub use events::EventsArgs;
pub use failed::{FailedCommand, Target};
pub use status::StatusArgs;
pub use work::WorkArgs;

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;

/// The command line of an application that uses fastevent.
#[derive(Debug, Parser)]
#[command(about = "Run and inspect this application's fastevent queue")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The fastevent commands, for an application's own clap command line
/// (see the [module](self) for nesting it); [`Command::run`] runs one.
///
/// ```
/// use clap::Parser;
/// use fastevent::cli::{Command, FailedCommand, Target};
///
/// #[derive(Parser)]
/// struct App {
///     #[command(subcommand)]
///     queue: Command,
/// }
///
/// let app = App::parse_from(["app", "failed", "retry", "all"]);
/// assert!(matches!(app.queue, Command::Failed(FailedCommand::Retry { target: Target::All })));
/// ```
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Run workers: a supervisor that keeps a pool of worker processes
    /// sized to the queue (Ctrl+C or SIGTERM drains them); `--tui` shows
    /// it as a live dashboard.
    Work(WorkArgs),
    /// List, show, retry or forget jobs in the failed store.
    #[command(subcommand)]
    Failed(FailedCommand),
    /// Show the jobs of each queue (ready, running, delayed) and the
    /// number of failed jobs.
    Status(StatusArgs),
    /// List every event of this program with its listeners and their
    /// options.
    Events(EventsArgs),
}

impl Command {
    /// Runs the command; `work` starts its workers with this process's
    /// arguments plus `--worker`, so the application's `main` must route
    /// those arguments back here. Returns the exit code to end with.
    ///
    /// ```no_run
    /// use clap::Parser;
    /// use std::process::ExitCode;
    ///
    /// #[derive(Parser)]
    /// enum App {
    ///     Serve,
    ///     #[command(subcommand)]
    ///     Queue(fastevent::cli::Command),
    /// }
    ///
    /// #[tokio::main]
    /// async fn main() -> ExitCode {
    ///     match App::parse() {
    ///         App::Serve => ExitCode::SUCCESS, // the web server
    ///         // `app queue work` starts `app queue work --worker` processes,
    ///         // which come back here.
    ///         App::Queue(command) => command.run().await,
    ///     }
    /// }
    /// ```
    pub async fn run(self) -> ExitCode {
        self.run_with(std::env::args_os().skip(1).collect()).await
    }

    /// Runs the command; `args` (without the program name) are what `work`
    /// starts its workers with, plus `--worker`.
    async fn run_with(self, args: Vec<OsString>) -> ExitCode {
        let result = match self {
            Command::Work(work) => work.run(args).await,
            Command::Failed(failed) => failed.run().await,
            Command::Status(status) => status.run().await,
            Command::Events(events) => events.run(),
        };
        match result {
            Ok(code) => code,
            Err(error) => {
                eprintln!("error: {}", error.0);
                ExitCode::FAILURE
            }
        }
    }
}

/// Parses this process's arguments and runs the command: the whole `main`
/// of a program that is only a worker farm (or of a binary next to the
/// web server's). Set up what listeners need first, since the workers run
/// this `main` too.
///
/// ```no_run
/// use std::process::ExitCode;
///
/// #[tokio::main]
/// async fn main() -> ExitCode {
///     if let Err(error) = fastevent::Config::from_env().and_then(|config| config.install()) {
///         eprintln!("error: {error}");
///         return ExitCode::FAILURE;
///     }
///     fastevent::cli::run().await
/// }
/// ```
pub async fn run() -> ExitCode {
    run_from(std::env::args_os()).await
}

/// Parses `args` (the program name first, as `std::env::args`) and runs
/// the command: for a program that rewrites its arguments first, and for
/// tests.
///
/// ```
/// use fastevent::cli::run_from;
/// use std::process::ExitCode;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// assert_eq!(run_from(["app", "events", "--json"]).await, ExitCode::SUCCESS);
/// assert_eq!(run_from(["app", "no-such-command"]).await, ExitCode::from(2)); // usage error
/// # }
/// ```
pub async fn run_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    match Cli::try_parse_from(&args) {
        Ok(cli) => {
            cli.command
                .run_with(args.into_iter().skip(1).collect())
                .await
        }
        Err(error) => {
            // --help and --version are "errors" that exit 0.
            let _ = error.print();
            ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
        }
    }
}

/// Why a command failed: printed as one line, exit code 1.
#[derive(Debug)]
pub(crate) struct CliError(pub(crate) String);

impl CliError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

// Any error converts (`?`), as with anyhow: this type is no
// `std::error::Error` itself, so the blanket impl does not overlap.
impl<E: std::error::Error> From<E> for CliError {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

type CommandResult = Result<ExitCode, CliError>;

/// Writes `value` as pretty JSON on standard output.
fn print_json(value: &impl serde::Serialize) -> CommandResult {
    let json = serde_json::to_string_pretty(value)?;
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn usage_errors_are_exit_code_2_and_help_is_0() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(args)
                .map(|_| ())
                .map_err(|e| e.exit_code())
        };
        assert_eq!(parse(&["app", "work", "--concurrency", "0"]), Err(2));
        assert_eq!(parse(&["app", "failed", "retry", "seven"]), Err(2));
        assert_eq!(parse(&["app", "bogus"]), Err(2));
        assert_eq!(parse(&["app", "work", "--help"]), Err(0));
        assert_eq!(parse(&["app", "failed", "show", "--help"]), Err(0));
        assert_eq!(parse(&["app", "work", "--max-time", "-1"]), Err(2));
    }

    #[test]
    fn work_flags_parse() {
        let cli = Cli::try_parse_from([
            "app",
            "work",
            "--queue",
            "high,default",
            "--concurrency",
            "4",
            "--once",
            "--max-time",
            "1.5",
            "--min-workers",
            "2",
            "--worker",
        ])
        .unwrap();
        let Command::Work(work) = cli.command else {
            panic!("{cli:?}")
        };
        assert!(work.worker && work.once);
        let options = work
            .worker_options_from(&|_| Err(std::env::VarError::NotPresent))
            .unwrap();
        assert_eq!(options.queues, ["high", "default"]);
        assert_eq!(options.concurrency, 4);
        assert_eq!(options.max_jobs, Some(1));
        assert!(options.stop_when_empty);
        assert_eq!(
            options.max_time,
            Some(std::time::Duration::from_millis(1500))
        );
    }

    #[test]
    fn failed_targets_parse() {
        let cli = Cli::try_parse_from(["app", "failed", "forget", "all"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Failed(FailedCommand::Forget {
                target: Target::All
            })
        ));
        let cli = Cli::try_parse_from(["app", "failed", "retry", "12"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Failed(FailedCommand::Retry {
                target: Target::One(12)
            })
        ));
    }
}
