//! Dispatch in the application's own PostgreSQL transaction: a rolled-back
//! transaction leaves no job, a committed one leaves one job per listener,
//! and an idle worker is woken by the commit's notification rather than
//! by its poll. Alone in its test binary: it installs the configuration.

mod postgres_support;

use fastevent::driver::postgres::sqlx::{self, Connection, PgConnection};
use fastevent::driver::postgres::{PostgresOptions, dispatch_in};
use fastevent::worker::{Worker, WorkerOptions};
use fastevent::{Config, Event, QueueDriver, listener};
use postgres_support::{DropSchema, url};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize, Event)]
struct UserCreated {
    id: i64,
}

/// When each user's welcome ran.
static WELCOMED: Mutex<Vec<(i64, Instant)>> = Mutex::new(Vec::new());

#[derive(Default)]
struct Welcome;
#[listener(on = UserCreated)]
impl Welcome {
    async fn handle(&self, event: &UserCreated) {
        WELCOMED.lock().unwrap().push((event.id, Instant::now()));
    }
}

#[derive(Default)]
struct AddToNewsletter;
#[listener(on = UserCreated)]
impl AddToNewsletter {
    async fn handle(&self, _: &UserCreated) {}
}

/// Inserts user `id` and dispatches its event in one transaction, then
/// commits it or rolls it back.
async fn sign_up(db: &mut PgConnection, schema: &str, id: i64, commit: bool) -> Instant {
    let mut tx = db.begin().await.unwrap();
    sqlx::query(&format!("INSERT INTO {schema}.users (id) VALUES ($1)"))
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let dispatched = dispatch_in(&mut tx, UserCreated { id }).await.unwrap();
    assert_eq!(dispatched.jobs, 2);
    if commit {
        tx.commit().await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
    Instant::now()
}

async fn jobs_waiting() -> u64 {
    let depth = fastevent::durable_queue().unwrap().depth().await.unwrap();
    depth.iter().map(|d| d.ready + d.running + d.delayed).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_exist_if_and_only_if_the_transaction_commits_and_the_commit_wakes_a_worker() {
    let Some(url) = url() else { return };
    let schema = postgres_support::fresh_schema("outbox");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    Config::new()
        .queue_driver(QueueDriver::Postgres)
        .postgres(PostgresOptions {
            schema: schema.clone(),
            ..PostgresOptions::new(&url)
        })
        .install()
        .unwrap();
    // Makes the tables (and the schema) before the application's own.
    assert_eq!(jobs_waiting().await, 0);
    let mut db = PgConnection::connect(&url).await.unwrap();
    let users = format!("CREATE TABLE {schema}.users (id bigint PRIMARY KEY)");
    sqlx::Executor::execute(&mut db, users.as_str())
        .await
        .unwrap();

    sign_up(&mut db, &schema, 1, false).await;
    assert_eq!(
        jobs_waiting().await,
        0,
        "a rolled-back transaction leaves no job"
    );

    // A worker that would poll only every 30 s: a job it runs sooner was
    // announced by the commit.
    let options = WorkerOptions {
        poll_interval: Duration::from_secs(30),
        ..WorkerOptions::default()
    };
    let worker = Worker::from_config(options).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(500)).await; // idle, listening

    let committed = sign_up(&mut db, &schema, 2, true).await;
    let deadline = committed + Duration::from_secs(10);
    let welcomed = loop {
        if let Some(&(_, at)) = WELCOMED.lock().unwrap().iter().find(|(id, _)| *id == 2) {
            break at;
        }
        assert!(Instant::now() < deadline, "the committed job never ran");
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    println!(
        "commit to listener: {:.1} ms (the worker's poll interval is 30 s)",
        welcomed.duration_since(committed).as_secs_f64() * 1000.0
    );
    stop.send(()).unwrap();
    let report = running.await.unwrap();
    assert_eq!(report.succeeded, 2, "{report:?}");
    assert!(WELCOMED.lock().unwrap().iter().all(|(id, _)| *id == 2));
    assert_eq!(jobs_waiting().await, 0);
}
