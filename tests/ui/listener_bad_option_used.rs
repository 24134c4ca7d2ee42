#![allow(unused_imports)]

//! One mistake in a listener's options is one error: its methods, and the
//! code that calls them or asserts it listens, report nothing more.

use fastevent::{Event, Listener, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent {
    chat_id: u64,
}

#[derive(Default)]
struct GenerateChatTitle;

#[listener(on = NewChatEvent, tries = 0)]
impl GenerateChatTitle {
    async fn handle(&self, event: &NewChatEvent) {
        let _ = self.title(event.chat_id);
    }

    fn title(&self, chat_id: u64) -> String {
        format!("chat {chat_id}")
    }
}

async fn run() {
    let listener = GenerateChatTitle;
    let _ = listener.title(1);
    listener.handle(&NewChatEvent { chat_id: 1 }).await;
}

fn main() {
    let _ = run();
    fastevent::testing::assert_listening::<NewChatEvent, GenerateChatTitle>();
}
