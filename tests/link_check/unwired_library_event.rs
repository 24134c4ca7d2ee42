// The application forgot the listener of the library's event.
#[tokio::main]
async fn main() {
    shop::place_order(1).await.unwrap();
}
