//! The PostgreSQL driver's listening connection killed while the server
//! stays up (`pg_terminate_backend`, as an operator, an idle-connection
//! reaper or a failover proxy does): it is made again, and idle workers are
//! woken by the next dispatch as before, not only at their polls.

mod postgres_support;

use fastevent::driver::durable::WorkQueue;
use fastevent::driver::postgres::sqlx::{self, Connection, PgConnection};
use fastevent::{Event, listener};
use postgres_support::{DropSchema, claim_all, url, woken_after};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize, Event)]
struct Rang {
    n: u64,
}

#[derive(Default)]
struct Door;
#[listener(on = Rang)]
impl Door {
    async fn handle(&self, _: &Rang) {}
}

/// The server processes listening on `channel`, once there is one.
async fn listeners(admin: &mut PgConnection, channel: &str) -> Vec<i32> {
    for _ in 0..100 {
        let pids: Vec<i32> =
            sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND strpos(query, $1) > 0")
                .bind(channel)
                .fetch_all(&mut *admin)
                .await
                .unwrap();
        if !pids.is_empty() {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no connection listens on {channel}");
}

#[tokio::test]
async fn a_listening_connection_the_server_killed_is_made_again() {
    let Some(url) = url() else { return };
    let schema = postgres_support::fresh_schema("rekill");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let channel = format!("{schema}.fastevent_jobs");
    let mut admin = PgConnection::connect(&url).await.unwrap();
    let worker = postgres_support::driver(&url, &schema, None);
    worker.wait_for_jobs("w1", Duration::from_millis(10)).await;
    let killed = listeners(&mut admin, &channel).await;
    for pid in &killed {
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let started = Instant::now();
    let remade = loop {
        let pids = listeners(&mut admin, &channel).await;
        if pids.iter().all(|pid| !killed.contains(pid)) {
            break pids;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "listener {killed:?} killed, {remade:?} after {:?}",
        started.elapsed()
    );
    assert_eq!(claim_all(&worker).await, 0);
    let other = postgres_support::driver(&url, &schema, None);
    let dispatch = async move {
        fastevent::dispatch_to(&other, Rang { n: 1 }).await.unwrap();
        other
    };
    let took = woken_after(&worker, dispatch).await;
    assert!(
        took < Duration::from_secs(5),
        "the worker slept {took:?}: no notification reached it"
    );
    admin.close().await.unwrap();
}
