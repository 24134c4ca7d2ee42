#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

mod chats {
    use super::*;

    #[derive(Serialize, Deserialize)]
    pub struct NotAnEvent {
        pub chat_id: u64,
    }
}

#[derive(Default)]
struct GenerateChatTitle;

#[listener(on = crate::chats::NotAnEvent)]
impl GenerateChatTitle {
    async fn handle(&self, event: &chats::NotAnEvent) {
        let _ = event.chat_id;
    }
}

fn main() {}
