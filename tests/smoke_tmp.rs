use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct NewChatEvent {
    pub chat_id: u64,
}

#[derive(Default)]
pub struct GenerateChatTitle;

#[listener(on = NewChatEvent, tries = 3, backoff = ["1s", "5s"], timeout = "2s")]
impl GenerateChatTitle {
    async fn handle(&self, event: &NewChatEvent) -> Result<(), std::io::Error> {
        println!("handled {}", event.chat_id);
        Ok(())
    }
    fn helper(&self) -> u8 {
        1
    }
}

#[tokio::test]
async fn smoke() {
    NewChatEvent { chat_id: 7 }.dispatch_now().await.unwrap();
    let d = NewChatEvent { chat_id: 8 }.dispatch().await.unwrap();
    assert_eq!(d.jobs, 1);
    fastevent::drain().await;
    assert_eq!(GenerateChatTitle.helper(), 1);
    println!("{:#?}", fastevent::registry::registry());
}
