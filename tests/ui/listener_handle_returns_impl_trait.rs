#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent {
    chat_id: u64,
}

#[derive(Default)]
struct GenerateChatTitle;

#[listener(on = NewChatEvent)]
impl GenerateChatTitle {
    async fn handle(&self, event: &NewChatEvent) -> impl std::fmt::Debug {
        event.chat_id
    }
}

fn main() {}
