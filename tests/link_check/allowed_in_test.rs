// A library's integration test reaches a dispatch whose listeners live in
// the application: `allow_unwired!` lets it link.
fastevent::allow_unwired!(shop::OrderPlaced);

#[tokio::test]
async fn place_order_dispatches() {
    let events = fastevent::testing::fake();
    shop::place_order(3).await.unwrap();
    events.assert_dispatched_times::<shop::OrderPlaced>(1);
}
