#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Event)]
union NewChatEvent {
    chat_id: u64,
    code: u32,
}

fn main() {}
