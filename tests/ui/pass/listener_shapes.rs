//! What the compile-fail cases refuse must not catch valid listeners: every
//! accepted return type, `Self` in the return type, one type listening to two
//! events, and `handle` called directly through `Listener`.

use fastevent::{Event, Listener, listener};
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
struct ReturnsUnit;

#[listener(on = NewChatEvent)]
impl ReturnsUnit {
    async fn handle(&self, event: &NewChatEvent) {
        let _ = event.chat_id;
    }
}

#[derive(Default)]
struct ReturnsIoError;

#[listener(on = NewChatEvent, tries = 3, backoff = ["1s", "10s"], timeout = "30s", hard_timeout = "1m")]
impl ReturnsIoError {
    async fn handle(&self, event: &NewChatEvent) -> Result<(), std::io::Error> {
        let _ = event.chat_id;
        Ok(())
    }
}

#[derive(Default)]
struct ReturnsBoxError;

#[listener(on = NewChatEvent, backoff = "2s")]
impl ReturnsBoxError {
    async fn handle(&self, event: &NewChatEvent) -> Result<(), fastevent::BoxError> {
        Err(format!("chat {}", event.chat_id).into())
    }
}

#[derive(Default)]
struct ReturnsString;

#[listener(on = NewChatEvent)]
impl ReturnsString {
    async fn handle(&self, event: &NewChatEvent) -> Result<(), String> {
        Err(format!("chat {}", event.chat_id))
    }
}

trait HasError {
    type Error;
}

#[derive(Default)]
struct NamesSelf;

impl HasError for NamesSelf {
    type Error = std::fmt::Error;
}

#[listener(on = NewChatEvent)]
impl NamesSelf {
    async fn handle(&self, event: &NewChatEvent) -> Result<(), <Self as HasError>::Error> {
        let _ = event.chat_id;
        Ok(())
    }
}

#[derive(Default)]
struct Archive;

#[listener(on = NewChatEvent)]
impl Archive {
    async fn handle(&self, event: &NewChatEvent) {
        let _ = event.chat_id;
    }
}

#[listener(on = ChatDeletedEvent)]
impl Archive {
    async fn handle(&self, event: &ChatDeletedEvent) {
        let _ = event.chat_id;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let event = NewChatEvent { chat_id: 7 };
    <ReturnsUnit as Listener<NewChatEvent>>::handle(&ReturnsUnit, &event).await;
    assert!(ReturnsIoError.handle(&event).await.is_ok());
    assert!(ReturnsBoxError.handle(&event).await.is_err());
    assert!(ReturnsString.handle(&event).await.is_err());
    assert!(NamesSelf.handle(&event).await.is_ok());
    <Archive as Listener<ChatDeletedEvent>>::handle(&Archive, &ChatDeletedEvent { chat_id: 7 })
        .await;
}
