// The generated code must not trip the user's own `forbid(unsafe_code)`.
#![forbid(unsafe_code)]

use fastevent::{listener, Event};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct SafeEvent;

#[derive(Default)]
struct SafeListener;

#[listener(on = SafeEvent)]
impl SafeListener {
    async fn handle(&self, _: &SafeEvent) {
        println!("safe");
    }
}

#[tokio::main]
async fn main() {
    SafeEvent.dispatch_now().await.unwrap();
}
