use fastevent::Event;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct OrphanedSignupEvent {
    pub user_id: u64,
}

#[tokio::main]
async fn main() {
    OrphanedSignupEvent { user_id: 1 }.dispatch().await.unwrap();
}
