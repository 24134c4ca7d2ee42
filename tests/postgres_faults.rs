//! The PostgreSQL driver against a server it cannot use: unreachable,
//! refusing the login, denying the tables; and against tables another
//! version of fastevent made. Each says what is wrong, quickly, and
//! changes nothing it should not.

mod postgres_support;

use fastevent::driver::durable::{QueueAdmin, WorkQueue};
use fastevent::driver::postgres::{PostgresDriver, PostgresOptions};
use fastevent::job::JobDefaults;
use fastevent::{Event, listener};
use postgres_support::{DropSchema, execute, url};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize, Event)]
struct Pinged {
    n: u64,
}

#[derive(Default)]
struct Pong;
#[listener(on = Pinged)]
impl Pong {
    async fn handle(&self, _: &Pinged) {}
}

fn driver_at(url: &str, schema: &str, timeout: Duration) -> PostgresDriver {
    let options = PostgresOptions {
        schema: schema.into(),
        timeout,
        ..PostgresOptions::new(url)
    };
    PostgresDriver::new(options, JobDefaults::default(), None)
}

/// The error of one dispatch to `driver`, and how long it took.
async fn dispatch_error(driver: &PostgresDriver) -> (String, Duration) {
    let started = Instant::now();
    let error = fastevent::dispatch_to(driver, Pinged { n: 1 })
        .await
        .unwrap_err();
    (error.to_string(), started.elapsed())
}

#[tokio::test]
async fn a_server_that_does_not_answer_fails_the_dispatch_within_the_timeout() {
    if url().is_none() {
        return;
    }
    // Nothing listens on port 9 of loopback.
    let driver = driver_at(
        "postgres://app:secret@127.0.0.1:9/app",
        "public",
        Duration::from_secs(1),
    );
    let (error, took) = dispatch_error(&driver).await;
    println!("{error} (after {took:?})");
    assert!(error.contains("127.0.0.1:9"), "{error}");
    assert!(!error.contains("secret"), "the password is masked: {error}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn a_refused_login_is_named_as_such() {
    let Some(url) = url() else { return };
    let stranger = url.replacen("postgres@", "fe_nobody@", 1);
    assert_ne!(stranger, url, "the test URL names its user");
    let driver = driver_at(&stranger, "public", Duration::from_secs(5));
    let (error, _) = dispatch_error(&driver).await;
    println!("{error}");
    assert!(error.contains("refused the login"), "{error}");
    assert!(error.contains("fe_nobody"), "{error}");
}

#[tokio::test]
async fn a_user_that_may_not_create_the_tables_is_told_what_to_grant() {
    let Some(url) = url() else { return };
    let role = format!("fe_limited_{}", std::process::id());
    execute(&url, &format!("CREATE ROLE {role} LOGIN")).unwrap();
    let limited = url.replacen("postgres@", &format!("{role}@"), 1);
    let schema = postgres_support::fresh_schema("denied");
    let driver = driver_at(&limited, &schema, Duration::from_secs(5));
    let (error, _) = dispatch_error(&driver).await;
    let depth = driver.depth().await.map(|_| ()).unwrap_err();
    execute(&url, &format!("DROP ROLE {role}")).unwrap();
    println!("{error}");
    assert!(error.contains("permission denied"), "{error}");
    assert!(error.contains("grant the user CREATE"), "{error}");
    assert!(depth.message.contains("permission denied"), "{depth}");
}

/// What the first release of the driver made: version 1 of the tables.
fn version_one(schema: &str) -> String {
    format!(
        "CREATE SCHEMA {schema};
         CREATE TABLE {schema}.fastevent_schema_version (version integer NOT NULL);
         INSERT INTO {schema}.fastevent_schema_version VALUES (1);
         CREATE TABLE {schema}.fastevent_jobs (
            id bigserial PRIMARY KEY, job_id text NOT NULL, queue text NOT NULL,
            event text NOT NULL, listener text NOT NULL, body bytea NOT NULL, signature text,
            attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            max_attempts integer NOT NULL CHECK (max_attempts >= 1),
            claims bigint NOT NULL DEFAULT 0, leased_by text,
            available_at timestamptz NOT NULL DEFAULT now(),
            created_at timestamptz NOT NULL DEFAULT now(), last_error text);
         CREATE INDEX ON {schema}.fastevent_jobs (queue, available_at, id);
         CREATE TABLE {schema}.fastevent_failed_jobs (
            id bigserial PRIMARY KEY, job_id text NOT NULL, queue text NOT NULL,
            event text NOT NULL, listener text NOT NULL, body bytea NOT NULL, signature text,
            attempts integer NOT NULL, max_attempts integer NOT NULL, error text NOT NULL,
            failed_at timestamptz NOT NULL DEFAULT now());
         INSERT INTO {schema}.fastevent_jobs (job_id, queue, event, listener, body, max_attempts)
            VALUES ('old', 'default', 'pinged', 'pong', '\\x7b7d', 3);"
    )
}

#[tokio::test]
async fn tables_of_an_older_version_are_migrated_and_keep_their_jobs() {
    let Some(url) = url() else { return };
    let schema = postgres_support::fresh_schema("older");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    execute(&url, &version_one(&schema)).unwrap();
    let driver = postgres_support::driver(&url, &schema, None);
    let queues = ["default".to_string()];
    let jobs = driver
        .claim(&queues, 10, "w", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        jobs.len(),
        1,
        "the job written before the migration is kept"
    );
    assert_eq!(jobs[0].job_id, "old");
    let pool = driver.pool().await.unwrap();
    let version: i32 = fastevent::driver::postgres::sqlx::query_scalar(&format!(
        "SELECT version FROM {schema}.fastevent_schema_version"
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(version, 2);
}

#[tokio::test]
async fn tables_of_a_newer_version_are_refused_and_left_alone() {
    let Some(url) = url() else { return };
    let schema = postgres_support::fresh_schema("newer");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    execute(&url, &version_one(&schema)).unwrap();
    let newer = format!("UPDATE {schema}.fastevent_schema_version SET version = 7");
    execute(&url, &newer).unwrap();
    let driver = postgres_support::driver(&url, &schema, None);
    let (error, _) = dispatch_error(&driver).await;
    println!("{error}");
    assert!(
        error.contains("at version 7, newer than this build"),
        "{error}"
    );
    // Left as they were, and not held: another program can still take
    // every lock on them (a refusal that kept its transaction open would
    // block this until `lock_timeout`).
    let kept = format!(
        "SET lock_timeout = '5s';
         SELECT 1 / count(*) FROM {schema}.fastevent_jobs WHERE job_id = 'old';
         LOCK TABLE {schema}.fastevent_jobs, {schema}.fastevent_schema_version IN ACCESS EXCLUSIVE MODE"
    );
    execute(&url, &kept).unwrap();
}

#[tokio::test]
async fn two_table_prefixes_in_one_schema_are_two_queues() {
    let Some(url) = url() else { return };
    let schema = postgres_support::fresh_schema("prefixes");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let with_prefix = |prefix: &str| {
        let options = PostgresOptions {
            schema: schema.clone(),
            table_prefix: prefix.into(),
            ..PostgresOptions::new(&url)
        };
        PostgresDriver::new(options, JobDefaults::default(), None)
    };
    let (billing, mail) = (with_prefix("billing_"), with_prefix("mail_"));
    fastevent::dispatch_to(&billing, Pinged { n: 1 })
        .await
        .unwrap();
    let ready = |depth: Vec<fastevent::driver::durable::QueueDepth>| {
        depth.iter().map(|d| d.ready).sum::<u64>()
    };
    assert_eq!(ready(billing.depth().await.unwrap()), 1);
    assert_eq!(ready(mail.depth().await.unwrap()), 0);
}
