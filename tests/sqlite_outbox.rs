//! Dispatch inside the application's own SQLite transaction: jobs exist if
//! and only if the transaction commits, and workers then run them.

use fastevent::driver::sqlite::{dispatch_in, rusqlite};
use fastevent::worker::{Worker, WorkerOptions};
use fastevent::{Config, Event, QueueDriver, listener};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct AccountOpened {
    account: i64,
}

static WELCOMED: Mutex<Vec<i64>> = Mutex::new(Vec::new());

#[derive(Default)]
struct WelcomeAccount;

#[listener(on = AccountOpened)]
impl WelcomeAccount {
    async fn handle(&self, event: &AccountOpened) {
        WELCOMED.lock().unwrap().push(event.account);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_written_in_the_applications_transaction_exist_only_if_it_commits() {
    let dir = std::env::temp_dir().join(format!("fastevent-outbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.db");
    Config::new()
        .queue_driver(QueueDriver::Sqlite)
        .sqlite_path(&path)
        .install()
        .unwrap();

    let mut db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
        .unwrap();

    let rolled_back = db.transaction().unwrap();
    rolled_back
        .execute("INSERT INTO accounts (id) VALUES (1)", [])
        .unwrap();
    assert_eq!(
        dispatch_in(&rolled_back, AccountOpened { account: 1 })
            .unwrap()
            .jobs,
        1
    );
    rolled_back.rollback().unwrap();

    let committed = db.transaction().unwrap();
    committed
        .execute("INSERT INTO accounts (id) VALUES (2)", [])
        .unwrap();
    assert_eq!(
        dispatch_in(&committed, AccountOpened { account: 2 })
            .unwrap()
            .jobs,
        1
    );
    committed.commit().unwrap();
    drop(db);

    let options = WorkerOptions {
        stop_when_empty: true,
        poll_interval: Duration::from_millis(5),
        ..WorkerOptions::default()
    };
    let report = Worker::from_config(options)
        .unwrap()
        .run(std::future::pending())
        .await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(WELCOMED.lock().unwrap().clone(), vec![2]);
    let _ = std::fs::remove_dir_all(dir);
}
