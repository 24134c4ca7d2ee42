use fastevent::Event;
use serde::{Deserialize, Serialize};

/// Listened to by another program, through a queue.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
#[event(allow_unwired)]
pub struct AuditEvent {
    pub line: String,
}

#[tokio::main]
async fn main() {
    let dispatched = AuditEvent { line: "x".into() }.dispatch().await.unwrap();
    println!("jobs: {}", dispatched.jobs);
}
