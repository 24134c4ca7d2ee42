#![allow(unused_imports)]

//! A wrong value is one error too, and so are several mistakes in one
//! declaration: each is reported, nothing follows from them.

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
#[event(name = "chat created", version = 0)]
enum ChatEvent {
    Created { chat_id: u64 },
}

#[derive(Default)]
struct Audit;

#[listener(on = ChatEvent)]
impl Audit {
    async fn handle(&self, event: &ChatEvent) -> Result<(), fastevent::BoxError> {
        let ChatEvent::Created { chat_id } = event;
        let _ = chat_id;
        Ok(())
    }
}

fn main() {
    let events = fastevent::testing::fake();
    let _ = ChatEvent::Created { chat_id: 1 }.dispatch();
    events.assert_dispatched_with(|e: &ChatEvent| matches!(e, ChatEvent::Created { .. }));
    let _ = <ChatEvent as Event>::VERSION;
}
