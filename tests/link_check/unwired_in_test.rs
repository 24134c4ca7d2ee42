// The same test without `allow_unwired!` does not link.
#[tokio::test]
async fn place_order_dispatches() {
    let events = fastevent::testing::fake();
    shop::place_order(3).await.unwrap();
    events.assert_dispatched_times::<shop::OrderPlaced>(1);
}
