//! The driver's tables, created on first use and versioned: each version
//! is one step of SQL, applied in order under a lock, so that a database an
//! older fastevent made is brought up to date by the first process that
//! meets it, and one a newer fastevent made is refused rather than misread.

use super::errors;
use super::options::PostgresOptions;
use sqlx::{Executor, PgConnection, Row};

/// The tables of one driver: names qualified with the schema and prefix.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub schema: String,
    /// The queue: one row per job waiting, delayed or running.
    pub jobs: String,
    /// The failed store.
    pub failed: String,
    /// One row: the schema version.
    pub version: String,
}

impl Tables {
    pub(super) fn new(options: &PostgresOptions) -> Self {
        let (schema, prefix) = (&options.schema, &options.table_prefix);
        Self {
            schema: schema.clone(),
            jobs: format!("{schema}.{prefix}jobs"),
            failed: format!("{schema}.{prefix}failed_jobs"),
            version: format!("{schema}.{prefix}schema_version"),
        }
    }

    /// The `NOTIFY` channel workers listen on: one per set of tables,
    /// named after the jobs table.
    pub(crate) fn channel(&self) -> &str {
        &self.jobs
    }
}

/// The steps, in order: version N is the first N steps applied.
fn steps(t: &Tables) -> [String; 2] {
    let (jobs, failed) = (&t.jobs, &t.failed);
    [
        // 1: the queue and the failed store. A claimed job's `available_at`
        // is the end of its lease, so one condition (`available_at <=
        // now()`) finds ready jobs and jobs whose worker died, and one
        // index serves every claim. `claims` is the fencing token.
        format!(
            "CREATE TABLE {jobs} (
                id bigserial PRIMARY KEY,
                job_id text NOT NULL,
                queue text NOT NULL,
                event text NOT NULL,
                listener text NOT NULL,
                body bytea NOT NULL,
                signature text,
                attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                max_attempts integer NOT NULL CHECK (max_attempts >= 1),
                claims bigint NOT NULL DEFAULT 0,
                leased_by text,
                available_at timestamptz NOT NULL DEFAULT now(),
                created_at timestamptz NOT NULL DEFAULT now(),
                last_error text
             );
             CREATE INDEX ON {jobs} (queue, available_at, id);
             CREATE TABLE {failed} (
                id bigserial PRIMARY KEY,
                job_id text NOT NULL,
                queue text NOT NULL,
                event text NOT NULL,
                listener text NOT NULL,
                body bytea NOT NULL,
                signature text,
                attempts integer NOT NULL,
                max_attempts integer NOT NULL,
                error text NOT NULL,
                failed_at timestamptz NOT NULL DEFAULT now()
             );"
        ),
        // 2: every job is a row inserted, updated and deleted within
        // seconds; autovacuum's defaults wait for 20% of the table to be
        // dead rows, which lets a busy queue's table and index bloat.
        format!(
            "ALTER TABLE {jobs} SET (autovacuum_vacuum_scale_factor = 0,
                                      autovacuum_vacuum_threshold = 1000,
                                      autovacuum_analyze_scale_factor = 0,
                                      autovacuum_analyze_threshold = 1000);"
        ),
    ]
}

/// The version this build writes.
pub(super) const LATEST: i32 = 2;

/// Brings the tables to [`LATEST`], or says why not. Runs in one
/// transaction on `connection`, under a lock that makes processes starting
/// together take turns.
pub(super) async fn ensure(
    connection: &mut PgConnection,
    t: &Tables,
    options: &PostgresOptions,
) -> Result<(), String> {
    let said = |e: sqlx::Error| errors::describe(&e, &options.url, options.timeout);
    let mut tx = sqlx::Connection::begin(connection).await.map_err(said)?;
    match migrate(&mut tx, t, options).await {
        Ok(()) => tx.commit().await.map_err(said),
        Err(refused) => {
            // Now, not when the pool next uses the connection: until then
            // it would sit in the pool holding the lock and the tables.
            let _ = tx.rollback().await;
            Err(refused)
        }
    }
}

async fn migrate(
    tx: &mut PgConnection,
    t: &Tables,
    options: &PostgresOptions,
) -> Result<(), String> {
    let said = |e: sqlx::Error| errors::describe(&e, &options.url, options.timeout);
    let lock = format!("SELECT pg_advisory_xact_lock(hashtext('{}'))", t.version);
    run(tx, &lock).await.map_err(said)?;
    create_schema(tx, &t.schema).await.map_err(said)?;
    let table = format!(
        "CREATE TABLE IF NOT EXISTS {} (version integer NOT NULL)",
        t.version
    );
    run(tx, &table).await.map_err(said)?;
    let found = current_version(tx, t).await.map_err(said)?;
    if found > LATEST {
        return Err(format!(
            "the tables in schema `{}` are at version {found}, newer than this build of fastevent knows (version {LATEST}): upgrade fastevent, or give this program another schema or table prefix",
            t.schema
        ));
    }
    for (step, sql) in steps(t).into_iter().enumerate().skip(found as usize) {
        let migrated = run(tx, &sql).await;
        migrated
            .map_err(|e| format!("migrating the tables to version {}: {}", step + 1, said(e)))?;
    }
    if found < LATEST {
        let version = format!(
            "DELETE FROM {v}; INSERT INTO {v} (version) VALUES ({LATEST})",
            v = t.version
        );
        run(tx, &version).await.map_err(said)?;
    }
    Ok(())
}

/// Runs `sql`, which may hold several statements and no parameters.
async fn run(connection: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    connection.execute(sql).await.map(drop)
}

/// Creates `schema` unless it exists: only then is the permission to
/// create one needed.
async fn create_schema(connection: &mut PgConnection, schema: &str) -> Result<(), sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut *connection)
            .await?;
    if !exists {
        run(connection, &format!("CREATE SCHEMA {schema}")).await?;
    }
    Ok(())
}

async fn current_version(connection: &mut PgConnection, t: &Tables) -> Result<i32, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT max(version) FROM {}", t.version))
        .fetch_one(&mut *connection)
        .await?;
    let version: Option<i32> = row.try_get(0)?;
    Ok(version.unwrap_or(0))
}
