#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

// Their registered names, derived from the types, would be 201 characters
// long.
#[derive(Serialize, Deserialize, Event)]
#[event(allow_unwired)]
struct AaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaEvent {
    chat_id: u64,
}

#[derive(Default)]
struct Lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll;

#[listener(on = Short)]
impl Lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll {
    async fn handle(&self, event: &Short) {
        let _ = event.chat_id;
    }
}

#[derive(Serialize, Deserialize, Event)]
struct Short {
    chat_id: u64,
}

// Named explicitly, a long type is fine.
#[derive(Serialize, Deserialize, Event)]
#[event(name = "long", allow_unwired)]
struct Bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb {
    chat_id: u64,
}

fn main() {}
