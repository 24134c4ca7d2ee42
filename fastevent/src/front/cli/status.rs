//! `status`: the jobs of each queue by state, and the failed store's size.
//! `work --tui` shows the same figures, read by the same function
//! ([`queue_status`]), so a script and the dashboard never disagree.

use super::format::{Table, escape};
use super::{CommandResult, print_json};
use crate::config::durable_queue;
use crate::driver::durable::{QueueAdmin, QueueDepth, QueueError};
use crate::registry::registry;
use std::collections::BTreeMap;
use std::process::ExitCode;

/// Flags of `status`: the jobs of each queue by state, and the failed
/// store's size.
///
/// ```
/// use clap::Parser;
/// use fastevent::cli::StatusArgs;
///
/// #[derive(Parser)]
/// struct Status {
///     #[command(flatten)]
///     flags: StatusArgs,
/// }
///
/// assert!(Status::parse_from(["status", "--json"]).flags.json);
/// ```
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "The queues and `failed` (the failed store's size) are the figures \
`work --tui` shows. Throughput and failures per minute are not: the queue keeps no \
record of the jobs that succeeded, and counting recent failures would read the whole \
failed store (a scan, on AMQP). Only a running supervisor counts them, from its \
workers' reports: `work --tui` shows its own."
)]
pub struct StatusArgs {
    /// Print JSON: {"queues": [{"queue", "ready", "running", "delayed"}], "failed": N}
    #[arg(long)]
    pub json: bool,
}

/// The jobs of each queue, and the failed store's size.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub(super) struct Status {
    /// Every queue a listener of this program sends to, and every other
    /// queue the driver reports, by name.
    pub queues: Vec<QueueDepth>,
    /// Jobs in the failed store.
    pub failed: u64,
}

/// Reads the status: cheap on every driver (counts, no scan of the failed
/// store), so a dashboard may read it every second.
pub(super) async fn queue_status(queue: &dyn QueueAdmin) -> Result<Status, QueueError> {
    let depths = queue.depth().await?;
    let failed = queue.failed_count().await?;
    // Every queue a listener of this program sends to is listed, empty
    // ones too: "0 ready" is an answer, a missing row is a question.
    let mut queues: BTreeMap<String, QueueDepth> = registry()
        .events()
        .iter()
        .flat_map(|e| &e.listeners)
        .map(|l| l.options.queue.unwrap_or("default").to_string())
        .map(|name| {
            let depth = QueueDepth {
                queue: name.clone(),
                ..QueueDepth::default()
            };
            (name, depth)
        })
        .collect();
    for depth in depths {
        queues.insert(depth.queue.clone(), depth);
    }
    Ok(Status {
        queues: queues.into_values().collect(),
        failed,
    })
}

impl StatusArgs {
    pub(super) async fn run(self) -> CommandResult {
        let queue = durable_queue()?;
        let status = queue_status(&*queue).await?;
        if self.json {
            return print_json(&status);
        }
        let mut table = Table::new(&["QUEUE", "READY", "RUNNING", "DELAYED"]);
        for q in &status.queues {
            table.row(vec![
                escape(&q.queue),
                q.ready.to_string(),
                q.running.to_string(),
                q.delayed.to_string(),
            ]);
        }
        if table.is_empty() {
            println!("No queues and no jobs.");
        } else {
            print!("{}", table.render());
        }
        println!("\nFailed jobs: {}", status.failed);
        Ok(ExitCode::SUCCESS)
    }
}
