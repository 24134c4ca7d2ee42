#![allow(unused_imports)]

//! One mistake in an event's options is one error: where the type is
//! dispatched, listened to and asserted on, it still is an event.

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
#[event(nmae = "chat.created")]
struct NewChatEvent {
    chat_id: u64,
}

#[derive(Default)]
struct GenerateChatTitle;

#[listener(on = NewChatEvent)]
impl GenerateChatTitle {
    async fn handle(&self, event: &NewChatEvent) {
        let _ = event.chat_id;
    }
}

async fn send() -> Result<(), fastevent::DispatchError> {
    NewChatEvent { chat_id: 1 }.dispatch().await?;
    NewChatEvent { chat_id: 2 }.dispatch_now().await?;
    fastevent::dispatch(NewChatEvent { chat_id: 3 }).await?;
    Ok(())
}

fn main() {
    let _ = send();
    let _ = NewChatEvent::NAME;
    fastevent::testing::assert_listening::<NewChatEvent, GenerateChatTitle>();
    fastevent::testing::fake().assert_dispatched::<NewChatEvent>();
}
