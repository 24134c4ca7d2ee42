#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct NotAnEvent {
    chat_id: u64,
}

#[derive(Default)]
struct GenerateChatTitle;

#[listener(on = NotAnEvent)]
impl GenerateChatTitle {
    async fn handle(&self, event: &NotAnEvent) {
        let _ = event.chat_id;
    }
}

fn main() {}
