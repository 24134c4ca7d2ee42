//! `status`: the jobs of each queue by state, and the failed store's size.

use super::format::Table;
use super::{CommandResult, print_json};
use crate::config::durable_queue;
use crate::driver::durable::QueueDepth;
use crate::registry::registry;
use std::collections::BTreeMap;
use std::process::ExitCode;

/// Flags of `status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Print JSON: {"queues": [{"queue", "ready", "running", "delayed"}], "failed": N}
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Status {
    queues: Vec<QueueDepth>,
    failed: u64,
}

impl StatusArgs {
    pub(super) async fn run(self) -> CommandResult {
        let queue = durable_queue()?;
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
        let status = Status {
            queues: queues.into_values().collect(),
            failed,
        };
        if self.json {
            return print_json(&status);
        }
        let mut table = Table::new(&["QUEUE", "READY", "RUNNING", "DELAYED"]);
        for q in &status.queues {
            table.row(vec![
                q.queue.clone(),
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
