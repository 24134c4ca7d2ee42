#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent {
    chat_id: u64,
}

#[derive(Default)]
struct GenerateChatTitle;

#[listener(on = NewChatEvent, trys = 3, timeout = "5 minutes", backoff = [])]
impl GenerateChatTitle {
    async fn handle(&self, event: &NewChatEvent) {
        let _ = event.chat_id;
    }
}

fn main() {}
