use fastevent::{listener, Event};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
#[event(name)]
struct NewChatEvent {
    chat_id: u64,
}

fn main() {}
