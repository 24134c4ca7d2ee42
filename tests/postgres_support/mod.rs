//! What the PostgreSQL tests share: the server's URL (the tests are off
//! without it), a schema of each test's own, dropped when the test ends
//! (also when it fails), and a driver on it.

#![allow(dead_code)]

use fastevent::driver::postgres::sqlx::{self, Connection, PgConnection};
use fastevent::driver::postgres::{PostgresDriver, PostgresOptions};
use fastevent::job::{JobDefaults, JobSigner};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The variable that turns the PostgreSQL tests on: the server's URL.
pub const URL_ENV: &str = "FASTEVENT_POSTGRES_URL";

/// The server's URL, or `None` (after saying so) when the tests are off.
pub fn url() -> Option<String> {
    let url = std::env::var(URL_ENV).ok().filter(|u| !u.trim().is_empty());
    if url.is_none() {
        eprintln!(
            "skipped: needs PostgreSQL; set {URL_ENV} (e.g. postgres://postgres@127.0.0.1:5432/postgres)"
        );
    }
    url
}

/// A schema name no other test (nor another run) uses.
pub fn fresh_schema(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "fe_{name}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A driver on `schema` of the server at `url`.
pub fn driver(url: &str, schema: &str, signer: Option<JobSigner>) -> PostgresDriver {
    let options = PostgresOptions {
        schema: schema.to_string(),
        pool_size: 4,
        timeout: Duration::from_secs(10),
        ..PostgresOptions::new(url)
    };
    PostgresDriver::new(options, JobDefaults::default(), signer)
}

/// Runs `sql` on a connection of its own, on a runtime of its own (it is
/// called from `Drop` and from synchronous test code).
pub fn execute(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut connection = PgConnection::connect(&url).await?;
            sqlx::Executor::execute(&mut connection, sql.as_str()).await?;
            connection.close().await
        })
    })
    .join()
    .unwrap()
}

/// Drops its schema, with everything in it, when dropped.
pub struct DropSchema {
    pub url: String,
    pub schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        if let Err(error) = execute(&self.url, &sql) {
            eprintln!("could not drop schema {}: {error}", self.schema);
        }
    }
}

/// Claims every ready job (ten at most) for worker `w1` of `driver`, as a
/// worker does before it waits, and says how many it took.
pub async fn claim_all(driver: &PostgresDriver) -> usize {
    use fastevent::driver::durable::WorkQueue;
    let queues = vec!["default".to_string()];
    let claimed = driver.claim(&queues, 10, "w1", Duration::from_secs(30));
    claimed.await.unwrap().len()
}

/// How long worker `w1` of `driver`, idle after [`claim_all`], waits for
/// jobs (20 s at most) while `dispatch` runs 300 ms after it began. What
/// `dispatch` returns (its driver) is kept until the wait is over: a
/// driver dropped at once might not send its notification.
pub async fn woken_after<F, T>(driver: &PostgresDriver, dispatch: F) -> Duration
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    use fastevent::driver::durable::WorkQueue;
    let dispatch = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        dispatch.await
    });
    let started = std::time::Instant::now();
    driver.wait_for_jobs("w1", Duration::from_secs(20)).await;
    let took = started.elapsed();
    drop(dispatch.await.unwrap());
    println!("woken {took:?} after it began waiting (the dispatch at 300 ms)");
    took
}
