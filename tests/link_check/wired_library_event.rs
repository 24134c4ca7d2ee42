// The application listens to the library's event: it links.
use fastevent::listener;

#[derive(Default)]
struct ShipOrder;

#[listener(on = shop::OrderPlaced)]
impl ShipOrder {
    async fn handle(&self, event: &shop::OrderPlaced) {
        println!("shipping {}", event.order_id);
    }
}

#[tokio::main]
async fn main() {
    shop::place_order(9).await.unwrap();
    fastevent::drain().await;
}
