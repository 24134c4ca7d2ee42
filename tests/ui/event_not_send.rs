#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent {
    #[serde(skip)]
    owner: std::rc::Rc<u64>,
}

fn main() {}
