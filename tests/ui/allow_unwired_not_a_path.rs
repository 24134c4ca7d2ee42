use fastevent::{listener, Event};
use serde::{Deserialize, Serialize};

fastevent::allow_unwired!("NewChatEvent");

fn main() {}
