//! The PostgreSQL driver relies on autovacuum to reuse the space of the
//! jobs it deleted: a server (or a jobs table) without it keeps every job
//! it ever ran on disk. The driver says so, once, when it first meets its
//! tables, instead of letting the table grow without a word.

mod postgres_own_cluster;
mod postgres_support;

use fastevent::driver::durable::QueueAdmin;
use fastevent::driver::postgres::sqlx::{self, Connection, PgConnection};
use postgres_own_cluster::OwnCluster;
use postgres_support::{DropSchema, url};
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const PORT_ENV: &str = "FASTEVENT_UPKEEP_PG_PORT";
const DEFAULT_PORT: u16 = 5482;

/// The warnings logged so far, by any thread.
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Warnings;

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if *event.metadata().level() == Level::WARN {
            let mut message = String::new();
            event.record(&mut Message(&mut message));
            WARNINGS.lock().unwrap().push(message);
        }
    }
}

/// The autovacuum warnings about the tables of `schema` logged so far,
/// taken out (tests running beside it leave theirs).
fn upkeep_warnings(schema: &str) -> Vec<String> {
    let mut all = WARNINGS.lock().unwrap();
    let (ours, others) = std::mem::take(&mut *all)
        .into_iter()
        .partition(|w: &String| w.contains("autovacuum") && w.contains(&format!("{schema}.")));
    *all = others;
    ours
}

fn capture_warnings() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(Warnings);
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

#[tokio::test]
async fn tables_without_autovacuum_are_named_in_a_warning() {
    let Some(url) = url() else { return };
    warnings_follow_the_settings(&url).await;
}

/// The shared server of this machine runs without autovacuum, so the
/// warning about a table of its own would never be seen there: a cluster of
/// the test's own, with PostgreSQL's defaults, shows it.
#[tokio::test]
#[ignore = "makes a PostgreSQL cluster of its own; run with --ignored"]
async fn on_a_server_with_autovacuum_only_a_table_without_it_is_named() {
    let Some(port) = postgres_own_cluster::port_if_on(PORT_ENV, DEFAULT_PORT) else {
        return;
    };
    let cluster = OwnCluster::start("upkeep", port, PORT_ENV);
    warnings_follow_the_settings(&cluster.url).await;
}

/// A driver on the server at `url` warns once when autovacuum is off on
/// the server, and once more (a second driver) when it is off for its jobs
/// table.
async fn warnings_follow_the_settings(url: &str) {
    capture_warnings();
    let schema = postgres_support::fresh_schema("upkeep");
    let _drop = DropSchema {
        url: url.to_string(),
        schema: schema.clone(),
    };
    let mut admin = PgConnection::connect(url).await.unwrap();
    let server_setting: String = sqlx::query_scalar("SHOW autovacuum")
        .fetch_one(&mut admin)
        .await
        .unwrap();

    // The server's own setting decides for the tables as made.
    let first = postgres_support::driver(url, &schema, None);
    first.depth().await.unwrap();
    let warned = upkeep_warnings(&schema);
    println!("autovacuum = {server_setting}: {warned:?}");
    assert_eq!(
        warned.len(),
        usize::from(server_setting == "off"),
        "{warned:?}"
    );

    // Turned off for the jobs table alone: a driver meeting it says so.
    let off = format!("ALTER TABLE {schema}.fastevent_jobs SET (autovacuum_enabled = false)");
    sqlx::query(&off).execute(&mut admin).await.unwrap();
    let second = postgres_support::driver(url, &schema, None);
    second.depth().await.unwrap();
    second.depth().await.unwrap();
    let warned = upkeep_warnings(&schema);
    println!("autovacuum_enabled = false on the table: {warned:?}");
    assert_eq!(warned.len(), 1, "once per driver: {warned:?}");
    assert!(
        warned[0].contains(&format!("{schema}.fastevent_jobs")),
        "{warned:?}"
    );
    assert!(warned[0].contains("VACUUM"), "says what to do: {warned:?}");
    let whose = if server_setting == "off" {
        "on the server"
    } else {
        "for the table"
    };
    assert!(warned[0].contains(whose), "{warned:?}");
    admin.close().await.unwrap();
}
