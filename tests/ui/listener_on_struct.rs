#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent {
    chat_id: u64,
}

#[derive(Default)]
#[listener(on = NewChatEvent)]
struct GenerateChatTitle;

fn main() {}
