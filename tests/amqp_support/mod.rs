//! What the RabbitMQ tests share: leaving the broker as they found it.
//! Every test works under a prefix of its own, and a [`Tidy`] guard
//! deletes everything under that prefix when it is dropped (also when the
//! test fails), and every policy it set.

#![allow(dead_code)]

use fastevent::driver::amqp::topology::QueueType;
use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
use fastevent::job::JobDefaults;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The variable that turns the RabbitMQ tests on: the broker's URL.
pub const URL_ENV: &str = "FASTEVENT_AMQP_URL";

/// The broker's URL, or `None` (after saying so) when the tests are off.
pub fn url() -> Option<String> {
    let url = std::env::var(URL_ENV).ok().filter(|u| !u.trim().is_empty());
    if url.is_none() {
        eprintln!(
            "skipped: needs RabbitMQ; set {URL_ENV} (e.g. amqp://guest:guest@127.0.0.1:5672/%2f)"
        );
    }
    url
}

/// A prefix no other test (nor another run) uses.
pub fn fresh_prefix(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "fe-{name}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Deletes, when dropped, every object of `prefix` on the broker at `url`
/// and the policies named in `policies`.
pub struct Tidy {
    pub url: String,
    pub prefix: String,
    pub queue_type: Option<QueueType>,
    pub policies: Vec<String>,
}

impl Tidy {
    pub fn new(url: &str, prefix: &str) -> Self {
        Self {
            url: url.to_string(),
            prefix: prefix.to_string(),
            queue_type: None,
            policies: Vec::new(),
        }
    }

    /// Sets a policy on the broker, removed when this guard drops.
    pub fn set_policy(&mut self, name: &str, pattern: &str, definition: &str) {
        self.policies.push(name.to_string());
        let status = Command::new("rabbitmqctl")
            .args([
                "set_policy",
                "--apply-to",
                "queues",
                name,
                pattern,
                definition,
            ])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("rabbitmqctl");
        assert!(status.success(), "rabbitmqctl set_policy {name} failed");
    }
}

impl Drop for Tidy {
    fn drop(&mut self) {
        for policy in &self.policies {
            let _ = Command::new("rabbitmqctl")
                .args(["clear_policy", policy])
                .stdout(std::process::Stdio::null())
                .status();
        }
        let mut options = AmqpOptions {
            prefix: self.prefix.clone(),
            ..AmqpOptions::new(self.url.clone())
        };
        options.queue_type = self.queue_type;
        let driver = AmqpDriver::new(options, JobDefaults::default(), None);
        // A runtime of its own, on a thread of its own: drop may run inside
        // an async test.
        let deleted = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let result = driver.delete_topology(&[]).await;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    result
                })
        })
        .join();
        if let Ok(Err(error)) = deleted {
            eprintln!("could not delete the queues of {}: {error}", self.prefix);
        }
    }
}
