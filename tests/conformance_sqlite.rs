//! The driver conformance suite on the SQLite driver.

use fastevent::driver::durable::{Selection, durable_queue_of};
use fastevent::driver::sqlite::{SqliteDriver, SqliteOptions, Synchronous};
use fastevent::job::{JobDefaults, JobSigner};
use fastevent_conformance::{Queue, Target};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const PATH_ENV: &str = "FASTEVENT_CONFORMANCE_SQLITE_PATH";

struct Sqlite;

fn fresh_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("fastevent-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("queue-{}.db", NEXT.fetch_add(1, Ordering::SeqCst)))
}

fn open(path: PathBuf, signing_key: Option<&str>) -> Queue {
    let signer = signing_key.map(|k| JobSigner::new(k).unwrap());
    let options = SqliteOptions {
        path: path.clone(),
        synchronous: Synchronous::Normal,
        busy_timeout: Duration::from_secs(10),
    };
    let driver = Arc::new(SqliteDriver::new(
        options,
        JobDefaults::default(),
        signer.clone(),
    ));
    Queue {
        driver: driver.clone(),
        durable: durable_queue_of(driver),
        signer,
        child_env: vec![(PATH_ENV.into(), path.display().to_string())],
        cleanup: None,
    }
}

impl Target for Sqlite {
    fn open(&self, signing_key: Option<&str>) -> Queue {
        open(fresh_path(), signing_key)
    }

    fn open_from_env(&self) -> Queue {
        open(std::env::var(PATH_ENV).unwrap().into(), None)
    }

    fn inject_raw(&self, queue: &Queue, body: &[u8], signature: Option<&str>) {
        let path = &queue.child_env[0].1;
        let connection = rusqlite::Connection::open(path).unwrap();
        connection.busy_timeout(Duration::from_secs(10)).unwrap();
        // The schema exists once the driver has written anything (reads
        // create nothing): forget a failed job that does not exist.
        let durable = queue.durable.clone();
        fastevent_conformance::block_on(
            async move { durable.forget_failed(Selection::One(-1)).await },
        )
        .unwrap();
        connection
            .execute(
                "INSERT INTO fastevent_jobs
                    (job_id, queue, event, listener, body, signature, max_attempts, created_at, available_at)
                 VALUES ('raw', 'default', '?', '?', ?1, ?2, 3, 0, 0)",
                rusqlite::params![body, signature],
            )
            .unwrap();
    }
}

fastevent_conformance::conformance_suite!(Sqlite);
