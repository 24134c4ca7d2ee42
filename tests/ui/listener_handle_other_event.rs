#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent {
    chat_id: u64,
}

#[derive(Serialize, Deserialize, Event)]
struct ChatDeletedEvent {
    chat_id: u64,
}

#[derive(Default)]
struct GenerateChatTitle;

#[listener(on = NewChatEvent)]
impl GenerateChatTitle {
    async fn handle(&self, event: &ChatDeletedEvent) {
        let _ = event.chat_id;
    }
}

#[derive(Default)]
struct ArchiveChat;

#[listener(on = ChatDeletedEvent)]
impl ArchiveChat {
    async fn handle(&self, event: &ChatDeletedEvent) {
        let _ = event.chat_id;
    }
}

fn main() {}
