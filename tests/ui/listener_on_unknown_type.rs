#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Default)]
struct GenerateChatTitle;

#[listener(on = NewChatEvnt)]
impl GenerateChatTitle {
    async fn handle(&self, event: &NewChatEvent) {
        let _ = event.chat_id;
    }
}

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent {
    chat_id: u64,
}

fn main() {}
