#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct NotAnEvent {
    chat_id: u64,
}

async fn send() {
    let _ = fastevent::dispatch_now(NotAnEvent { chat_id: 1 }).await;
}

fn main() {}
