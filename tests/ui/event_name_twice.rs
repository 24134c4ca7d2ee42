#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
#[event(name = "a", name = "b")]
struct NewChatEvent {
    chat_id: u64,
}

fn main() {}
