//! The driver kit, proved: `FileQueue` (tests/kit_driver), a durable driver
//! written only against fastevent's public API, passes the conformance
//! suite unchanged.

// The suite's bookkeeping statics are spelled out on purpose (one line each).
#[allow(clippy::type_complexity)]
mod conformance;
mod kit_driver;

use conformance::{Queue, Target};
use fastevent::driver::JobEncoder;
use fastevent::driver::durable::durable_queue_of;
use fastevent::job::{JobDefaults, JobSigner};
use kit_driver::FileQueue;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const DIR_ENV: &str = "FASTEVENT_CONFORMANCE_FILE_QUEUE";

struct FileTarget;

fn fresh_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("fastevent-kit-{}-{n}", std::process::id()))
}

/// Removes a test's queue directory once the test drops its queue.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: PathBuf, signing_key: Option<&str>) -> Queue {
    let signer = signing_key.map(|k| JobSigner::new(k).unwrap());
    let encoder = JobEncoder::new(JobDefaults::default(), signer.clone());
    let driver = Arc::new(FileQueue::open(&dir, encoder));
    Queue {
        driver: driver.clone(),
        durable: durable_queue_of(driver),
        signer,
        child_env: vec![(DIR_ENV.into(), dir.display().to_string())],
        cleanup: None,
    }
}

impl Target for FileTarget {
    fn open(&self, signing_key: Option<&str>) -> Queue {
        let dir = fresh_dir();
        Queue {
            cleanup: Some(Arc::new(RemoveDir(dir.clone()))),
            ..open(dir, signing_key)
        }
    }

    fn open_from_env(&self) -> Queue {
        open(std::env::var(DIR_ENV).unwrap().into(), None)
    }

    fn inject_raw(&self, queue: &Queue, body: &[u8], signature: Option<&str>) {
        let encoder = JobEncoder::new(JobDefaults::default(), None);
        let queue = FileQueue::open(&queue.child_env[0].1, encoder);
        queue.push_raw(body, signature).unwrap();
    }
}

conformance_suite!(FileTarget);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_loses_nothing() {
    conformance::a_worker_killed_mid_job_loses_nothing(&FileTarget, &conformance::spawn_child)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_kills_its_worker_every_time_is_dead_lettered() {
    conformance::a_job_that_kills_its_worker_every_time_is_dead_lettered(
        &FileTarget,
        &conformance::spawn_child,
    )
    .await;
}

/// The worker process that the tests above kill; does nothing otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_worker() {
    if conformance::is_child() {
        conformance::run_child_worker(&FileTarget).await;
    }
}
