#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Event)]
struct NewChatEvent {
    chat_id: u64,
}

fn main() {}
