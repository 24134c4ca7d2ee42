#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent {
    chat_id: u64,
}

#[derive(Default)]
struct GenerateChatTitle;

// 201 characters: the limit of a registered name is 200.
#[listener(
    on = NewChatEvent,
    queue = "titles.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)]
impl GenerateChatTitle {
    async fn handle(&self, event: &NewChatEvent) {
        let _ = event.chat_id;
    }
}

fn main() {}
