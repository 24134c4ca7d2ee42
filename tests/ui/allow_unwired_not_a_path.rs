#![allow(unused_imports)]

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

fastevent::allow_unwired!("NewChatEvent");

fn main() {}
