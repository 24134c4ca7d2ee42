#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct NotAnEvent {
    chat_id: u64,
}

fastevent::allow_unwired!(NotAnEvent);

fn main() {}
