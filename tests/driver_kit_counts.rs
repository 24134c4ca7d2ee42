//! A driver of another crate counts its dispatched jobs as the built-in
//! ones do: `fastevent::stats()` (and the dispatched-jobs metric, recorded
//! by the same call) see the jobs `FileQueue` stored. Alone in its test
//! binary, so that no other test's dispatches move the counter.

mod kit_driver;

use fastevent::driver::JobEncoder;
use fastevent::job::JobDefaults;
use fastevent::{Event, listener};
use kit_driver::FileQueue;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct Counted {
    n: u64,
}

#[derive(Default)]
struct First;
#[listener(on = Counted)]
impl First {
    async fn handle(&self, _: &Counted) {}
}

#[derive(Default)]
struct Second;
#[listener(on = Counted)]
impl Second {
    async fn handle(&self, _: &Counted) {}
}

#[tokio::test]
async fn jobs_a_kit_driver_stored_are_counted_as_dispatched() {
    let dir = std::env::temp_dir().join(format!("fastevent-kit-counts-{}", std::process::id()));
    let queue = FileQueue::open(&dir, JobEncoder::new(JobDefaults::default(), None));
    let before = fastevent::stats().dispatched;
    for n in 0..3 {
        let dispatched = fastevent::dispatch_to(&queue, Counted { n }).await.unwrap();
        assert_eq!(dispatched.jobs, 2);
    }
    let counted = fastevent::stats().dispatched - before;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(counted, 6, "3 events, 2 listeners each");
}
