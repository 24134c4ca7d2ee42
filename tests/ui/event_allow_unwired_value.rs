#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
#[event(allow_unwired = true)]
struct NewChatEvent {
    chat_id: u64,
}

fn main() {}
