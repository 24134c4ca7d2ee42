//! The event fake: records instead of running, per test, with assertions that
//! say what happened when they fail.

use fastevent::testing::{self, Mode};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
struct OrderPlaced {
    order_id: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct OrderCancelled {
    order_id: u64,
}

/// Runs of the listeners, per event: tests run in parallel, and only
/// `without_a_fake_listeners_run` lets `OrderCancelled` listeners run.
static PLACED_RUNS: AtomicU64 = AtomicU64::new(0);
static CANCELLED_RUNS: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct ReserveStock;

#[listener(on = OrderPlaced)]
impl ReserveStock {
    async fn handle(&self, _: &OrderPlaced) {
        PLACED_RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[listener(on = OrderCancelled)]
impl ReserveStock {
    async fn handle(&self, _: &OrderCancelled) {
        CANCELLED_RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Unrelated;

#[listener(on = OrderCancelled)]
impl Unrelated {
    async fn handle(&self, _: &OrderCancelled) {}
}

/// Implements the trait by hand, so it is a listener type that no
/// `#[listener]` registered.
#[derive(Default)]
struct NotRegistered;

impl fastevent::Listener<OrderPlaced> for NotRegistered {
    type Output = ();
    async fn handle(&self, _: &OrderPlaced) {}
}

fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the assertion should fail");
    payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_else(|| payload.downcast_ref::<&str>().unwrap().to_string())
}

#[tokio::test]
async fn the_fake_records_events_and_runs_no_listener() {
    let events = testing::fake();
    OrderPlaced { order_id: 1 }.dispatch().await.unwrap();
    OrderPlaced { order_id: 2 }.dispatch_now().await.unwrap();
    // Also from a task spawned on the same runtime.
    tokio::spawn(async { fastevent::dispatch(OrderPlaced { order_id: 3 }).await })
        .await
        .unwrap()
        .unwrap();
    fastevent::drain().await;

    events.assert_dispatched::<OrderPlaced>();
    events.assert_dispatched_times::<OrderPlaced>(3);
    events.assert_dispatched_with(|e: &OrderPlaced| e.order_id == 2);
    events.assert_not_dispatched::<OrderCancelled>();
    assert_eq!(
        events.dispatched::<OrderPlaced>(),
        vec![
            OrderPlaced { order_id: 1 },
            OrderPlaced { order_id: 2 },
            OrderPlaced { order_id: 3 }
        ]
    );
    assert_eq!(
        events.modes::<OrderPlaced>(),
        vec![Mode::Queued, Mode::Now, Mode::Queued]
    );
    assert_eq!(PLACED_RUNS.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn failed_assertions_say_what_was_dispatched() {
    let events = testing::fake();
    events.assert_nothing_dispatched();
    let message = panic_message(|| events.assert_dispatched::<OrderPlaced>());
    assert_eq!(
        message,
        "expected event `order_placed` to be dispatched, but it was not (nothing was dispatched)"
    );

    OrderCancelled { order_id: 9 }.dispatch().await.unwrap();
    let message = panic_message(|| events.assert_nothing_dispatched());
    assert_eq!(
        message,
        "expected no event to be dispatched, but dispatched were: order_cancelled"
    );
    let message = panic_message(|| events.assert_dispatched_times::<OrderCancelled>(2));
    assert!(
        message.contains("to be dispatched 2 times, but it was dispatched 1 times"),
        "{message}"
    );
    let message = panic_message(|| events.assert_not_dispatched::<OrderCancelled>());
    assert!(
        message.contains("not to be dispatched, but it was dispatched 1 times"),
        "{message}"
    );
    let message =
        panic_message(|| events.assert_dispatched_with(|e: &OrderCancelled| e.order_id == 1));
    assert!(
        message.contains("none of the 1 dispatched matched"),
        "{message}"
    );
}

#[test]
fn fakes_of_parallel_tests_never_see_each_others_events() {
    // Eight tests at once, each on its own thread and runtime, as the test
    // harness runs #[tokio::test]s.
    let threads: Vec<_> = (1..=8u64)
        .map(|n| {
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let events = testing::fake();
                    for i in 0..n * 10 {
                        OrderPlaced {
                            order_id: n * 1000 + i,
                        }
                        .dispatch()
                        .await
                        .unwrap();
                        tokio::task::yield_now().await;
                    }
                    events.assert_dispatched_times::<OrderPlaced>((n * 10) as usize);
                    assert!(
                        events
                            .dispatched::<OrderPlaced>()
                            .iter()
                            .all(|e| e.order_id / 1000 == n)
                    );
                })
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[tokio::test]
async fn without_a_fake_listeners_run() {
    let before = CANCELLED_RUNS.load(Ordering::SeqCst);
    OrderCancelled { order_id: 1 }.dispatch_now().await.unwrap();
    assert!(CANCELLED_RUNS.load(Ordering::SeqCst) > before);
}

#[test]
fn assert_listening_checks_the_registry() {
    testing::assert_listening::<OrderPlaced, ReserveStock>();
    testing::assert_listening::<OrderCancelled, ReserveStock>();
    let message = panic_message(testing::assert_listening::<OrderPlaced, NotRegistered>);
    assert!(
        message.contains(
            "to listen to event `order_placed`, but its listeners are: [testing_fake::ReserveStock]"
        ),
        "{message}"
    );
}
