#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent {
    chat_id: u64,
}

#[listener(on = NewChatEvent)]
async fn handle(event: &NewChatEvent) {
    let _ = event.chat_id;
}

fn main() {}
