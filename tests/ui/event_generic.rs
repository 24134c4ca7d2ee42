use fastevent::{listener, Event};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent<T> {
    chat_id: T,
}

fn main() {}
