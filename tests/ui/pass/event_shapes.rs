//! Every `#[event(...)]` option, on a struct and on an enum, and an event
//! whose listeners live elsewhere.

use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
#[event(name = "chat.created", version = 2)]
struct NewChatEvent {
    chat_id: u64,
}

#[derive(Serialize, Deserialize, Event)]
#[event(allow_unwired)]
enum ChatChanged {
    Renamed { title: String },
    Closed,
}

#[derive(Serialize, Deserialize, Event)]
struct UserJoinedEvent {
    user_id: u64,
}

fastevent::allow_unwired!(UserJoinedEvent);

#[derive(Default)]
struct GenerateChatTitle;

#[listener(on = NewChatEvent)]
impl GenerateChatTitle {
    async fn handle(&self, event: &NewChatEvent) {
        let _ = event.chat_id;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(NewChatEvent::NAME, "chat.created");
    assert_eq!(NewChatEvent::VERSION, 2);
    assert_eq!(ChatChanged::NAME, "chat_changed");
    assert_eq!(UserJoinedEvent::NAME, "user_joined");
    NewChatEvent { chat_id: 7 }.dispatch_now().await.unwrap();
    ChatChanged::Renamed { title: "t".into() }
        .dispatch_now()
        .await
        .unwrap();
    ChatChanged::Closed.dispatch_now().await.unwrap();
    UserJoinedEvent { user_id: 1 }.dispatch_now().await.unwrap();
}
