#![allow(unused_imports)]

//! A generic event is refused once: where it is dispatched, it still is
//! an event.

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent<T> {
    chat_id: T,
}

async fn send() {
    let _ = NewChatEvent { chat_id: 1_u64 }.dispatch().await;
    let _ = fastevent::dispatch_now(NewChatEvent { chat_id: 2_u64 }).await;
}

fn main() {
    let _ = send();
}
