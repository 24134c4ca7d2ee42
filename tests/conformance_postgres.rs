//! The driver conformance suite on the PostgreSQL driver, unchanged. Each
//! test works in a schema of its own, dropped when it ends. The tests need
//! a server: they run when `FASTEVENT_POSTGRES_URL` is set (`.ci/run` sets
//! it); otherwise each test says it was skipped and passes.

mod postgres_support;

use fastevent::driver::durable::durable_queue_of;
use fastevent::job::JobSigner;
use fastevent_conformance::{Queue, Target};
use postgres_support::{DropSchema, URL_ENV, url};
use std::sync::Arc;

/// The schema of the queue a child worker process reopens.
const SCHEMA_ENV: &str = "FASTEVENT_CONFORMANCE_POSTGRES_SCHEMA";

struct Postgres;

fn open(schema: String, signing_key: Option<&str>, cleanup: Option<DropSchema>) -> Queue {
    let url = std::env::var(URL_ENV).unwrap();
    let signer = signing_key.map(|k| JobSigner::new(k).unwrap());
    let driver = Arc::new(postgres_support::driver(&url, &schema, signer.clone()));
    Queue {
        driver: driver.clone(),
        durable: durable_queue_of(driver),
        signer,
        child_env: vec![(SCHEMA_ENV.into(), schema), (URL_ENV.into(), url)],
        cleanup: cleanup.map(|guard| Arc::new(guard) as Arc<dyn Send + Sync>),
    }
}

impl Target for Postgres {
    fn open(&self, signing_key: Option<&str>) -> Queue {
        let schema = postgres_support::fresh_schema("conformance");
        let url = std::env::var(URL_ENV).unwrap();
        let guard = DropSchema {
            url,
            schema: schema.clone(),
        };
        open(schema, signing_key, Some(guard))
    }

    fn open_from_env(&self) -> Queue {
        // The parent test drops the schema, not this child.
        open(std::env::var(SCHEMA_ENV).unwrap(), None, None)
    }

    fn inject_raw(&self, queue: &Queue, body: &[u8], signature: Option<&str>) {
        let schema = &queue.child_env[0].1;
        // The tables exist once the driver has been used: forget a failed
        // job that does not exist.
        let durable = queue.durable.clone();
        fastevent_conformance::block_on(async move {
            durable
                .forget_failed(fastevent::driver::durable::Selection::One(-1))
                .await
        })
        .unwrap();
        let hex: String = body.iter().map(|b| format!("{b:02x}")).collect();
        let signature = signature.map_or("NULL".into(), |s| format!("'{s}'"));
        let sql = format!(
            "INSERT INTO {schema}.fastevent_jobs
                (job_id, queue, event, listener, body, signature, max_attempts)
             VALUES ('raw', 'default', '?', '?', '\\x{hex}', {signature}, 3)"
        );
        postgres_support::execute(&queue.child_env[1].1, &sql).unwrap();
    }
}

// Each test returns at once, after saying so, when no server is configured.
fastevent_conformance::conformance_suite!({
    if url().is_none() {
        return;
    }
    Postgres
});
