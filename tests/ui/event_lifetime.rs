use fastevent::{listener, Event};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct NewChatEvent<'a> {
    title: &'a str,
}

fn main() {}
