//! `failed list|show|retry|forget`: the failed store, through the
//! installed driver's [`DurableQueue`](crate::driver::durable::DurableQueue).

use super::format::{Table, count, escape, escape_bytes, first_line, utc};
use super::{CliError, CommandResult, print_json};
use crate::config::durable_queue;
use crate::driver::durable::{FailedJob, Selection};
use std::process::ExitCode;
use std::str::FromStr;

/// The `failed` commands: list, show, retry or forget jobs in the failed
/// store, as `app failed ...`; [`Command::Failed`](super::Command::Failed)
/// holds one.
///
/// ```
/// use clap::Parser;
/// use fastevent::cli::FailedCommand;
///
/// #[derive(Parser)]
/// struct Failed {
///     #[command(subcommand)]
///     command: FailedCommand,
/// }
///
/// let parsed = Failed::parse_from(["failed", "list", "--limit", "10", "--json"]).command;
/// assert!(matches!(parsed, FailedCommand::List { limit: 10, json: true }));
/// ```
#[derive(Debug, Clone, clap::Subcommand)]
pub enum FailedCommand {
    /// List failed jobs, newest first.
    List {
        /// Show at most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON (an array of jobs, without their envelopes).
        #[arg(long)]
        json: bool,
    },
    /// Show one failed job: every field, and its raw envelope as text.
    Show {
        /// Its id in the failed store (see `failed list`).
        id: i64,
        /// Print JSON (the envelope as a string).
        #[arg(long)]
        json: bool,
    },
    /// Put failed jobs back on their queue with fresh attempts.
    Retry {
        /// A failed job's id, or `all`.
        target: Target,
    },
    /// Delete failed jobs for good.
    Forget {
        /// A failed job's id, or `all`.
        target: Target,
    },
}

/// Which failed jobs `retry` and `forget` act on: an id, or `all`. It
/// becomes the queue's [`Selection`].
///
/// ```
/// use fastevent::cli::Target;
/// use fastevent::driver::durable::Selection;
///
/// assert_eq!("12".parse::<Target>(), Ok(Target::One(12)));
/// assert_eq!("ALL".parse::<Target>(), Ok(Target::All));
/// assert!("twelve".parse::<Target>().is_err());
/// assert_eq!(Selection::from(Target::One(12)), Selection::One(12));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The job with this id.
    One(i64),
    /// Every failed job.
    All,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("all") {
            return Ok(Target::All);
        }
        text.parse()
            .map(Target::One)
            .map_err(|_| format!("`{text}` is neither a failed job's id nor `all`"))
    }
}

impl From<Target> for Selection {
    fn from(target: Target) -> Self {
        match target {
            Target::One(id) => Selection::One(id),
            Target::All => Selection::All,
        }
    }
}

impl FailedCommand {
    pub(super) async fn run(self) -> CommandResult {
        let queue = durable_queue()?;
        match self {
            FailedCommand::List { limit, json } => {
                let jobs = queue.failed_jobs(limit).await?;
                if json {
                    return print_json(&jobs);
                }
                if jobs.is_empty() {
                    println!("No failed jobs.");
                    return Ok(ExitCode::SUCCESS);
                }
                let mut table = Table::new(&[
                    "ID",
                    "FAILED AT",
                    "QUEUE",
                    "EVENT",
                    "LISTENER",
                    "ATTEMPTS",
                    "ERROR",
                ]);
                for job in &jobs {
                    table.row(vec![
                        job.id.to_string(),
                        utc(job.failed_at_ms),
                        escape(&job.queue),
                        escape(&job.event),
                        escape(&job.listener),
                        job.attempts.to_string(),
                        escape(&first_line(&job.error, 80)),
                    ]);
                }
                print!("{}", table.render());
                Ok(ExitCode::SUCCESS)
            }
            FailedCommand::Show { id, json } => {
                let job = queue.failed_job(id).await?.ok_or_else(|| unknown(id))?;
                if json {
                    return print_json(&ShownJob {
                        envelope: String::from_utf8_lossy(&job.body).into_owned(),
                        job: &job,
                    });
                }
                print!("{}", show(&job));
                Ok(ExitCode::SUCCESS)
            }
            FailedCommand::Retry { target } => {
                let retried = queue.retry_failed(target.into()).await?;
                match target {
                    Target::One(id) if retried == 0 => Err(unknown(id)),
                    Target::One(id) => {
                        println!("Retried failed job {id}: it is back on its queue.");
                        Ok(ExitCode::SUCCESS)
                    }
                    Target::All => {
                        println!("Retried {}.", count(retried, "failed job", "failed jobs"));
                        Ok(ExitCode::SUCCESS)
                    }
                }
            }
            FailedCommand::Forget { target } => {
                let forgotten = queue.forget_failed(target.into()).await?;
                match target {
                    Target::One(id) if forgotten == 0 => Err(unknown(id)),
                    Target::One(id) => {
                        println!("Forgot failed job {id}.");
                        Ok(ExitCode::SUCCESS)
                    }
                    Target::All => {
                        println!("Forgot {}.", count(forgotten, "failed job", "failed jobs"));
                        Ok(ExitCode::SUCCESS)
                    }
                }
            }
        }
    }
}

/// What `failed show` prints: every field, and the envelope as text,
/// escaped (they come from whoever could write to the queue).
fn show(job: &FailedJob) -> String {
    // An error of several lines keeps them, indented under its first.
    let error = job
        .error
        .split('\n')
        .map(escape)
        .collect::<Vec<_>>()
        .join("\n            ");
    format!(
        "id:         {}\njob id:     {}\nqueue:      {}\nevent:      {}\nlistener:   {}\n\
         attempts:   {}\nfailed at:  {}\nerror:      {error}\nenvelope ({} bytes):\n{}\n",
        job.id,
        escape(&job.job_id),
        escape(&job.queue),
        escape(&job.event),
        escape(&job.listener),
        job.attempts,
        utc(job.failed_at_ms),
        job.body.len(),
        escape_bytes(&job.body),
    )
}

fn unknown(id: i64) -> CliError {
    CliError::new(format!("no failed job has id {id} (see `failed list`)"))
}

#[derive(serde::Serialize)]
struct ShownJob<'a> {
    #[serde(flatten)]
    job: &'a FailedJob,
    /// The raw envelope, lossy UTF-8.
    envelope: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_keeps_the_lines_of_an_error_indented_and_escapes_each() {
        let job = FailedJob {
            id: 3,
            job_id: "j".into(),
            queue: "default".into(),
            event: "e".into(),
            listener: "l".into(),
            attempts: 1,
            error: "first\nsecond\x1b[2K\r\nthird".into(),
            failed_at_ms: 0,
            body: b"{}".to_vec(),
        };
        let shown = show(&job);
        assert!(
            shown.contains("error:      first\n            second\\x1b[2K\\r\n            third\n"),
            "{shown}"
        );
        assert!(shown.ends_with("envelope (2 bytes):\n{}\n"), "{shown}");
    }
}
