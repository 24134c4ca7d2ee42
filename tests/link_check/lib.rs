//! A library whose events are listened to by the applications that use it.

use fastevent::Event;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: u64,
}

pub async fn place_order(order_id: u64) -> Result<(), fastevent::DispatchError> {
    OrderPlaced { order_id }.dispatch().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    // The library's own unit tests link without any listener.
    #[tokio::test]
    async fn place_order_dispatches() {
        let events = fastevent::testing::fake();
        super::place_order(7).await.unwrap();
        events.assert_dispatched_times::<super::OrderPlaced>(1);
    }
}
