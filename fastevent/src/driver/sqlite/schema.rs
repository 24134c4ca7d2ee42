//! The tables of the SQLite queue, and opening a connection to them.

use super::connection::{SqliteOptions, StoreError, Synchronous};
use rusqlite::{Connection, OptionalExtension};

/// Bumped when the tables change. A database of an older version is
/// migrated; one of a newer version is refused.
const SCHEMA_VERSION: i64 = 2;

/// The tables of the current version. Ids are `AUTOINCREMENT`: never
/// reused, so a handle to a finished job can never name a newer one.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS fastevent_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id       TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    event        TEXT    NOT NULL,
    listener     TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    signature    TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    -- When the job may be claimed. A claim sets it to the end of the lease,
    -- so the job of a worker that died becomes claimable again by itself.
    available_at INTEGER NOT NULL,
    leased_by    TEXT,
    last_error   TEXT,
    -- The fencing token: bumped by every claim, never lowered. Settles and
    -- renewals name the token of their claim and match nothing once the
    -- job has been claimed again.
    claims       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS fastevent_jobs_ready ON fastevent_jobs (queue, available_at);
CREATE TABLE IF NOT EXISTS fastevent_failed_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id       TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    event        TEXT    NOT NULL,
    listener     TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    signature    TEXT,
    attempts     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    error        TEXT    NOT NULL,
    failed_at    INTEGER NOT NULL
);
";

/// Opens the database: WAL, the chosen durability, the schema. Two
/// processes opening a fresh file at once can find it locked while the other
/// switches it to WAL (SQLite does not wait on that lock): retried until the
/// busy timeout has passed.
pub(super) fn open(options: &SqliteOptions) -> Result<Connection, StoreError> {
    let deadline = std::time::Instant::now() + options.busy_timeout;
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        match open_once(options) {
            Err(Busy(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(200));
            }
            Err(Busy(error)) => return Err(error),
            Ok(connection) => return Ok(connection),
            Err(Other(error)) => return Err(error),
        }
    }
}

enum OpenError {
    Busy(StoreError),
    Other(StoreError),
}
use OpenError::{Busy, Other};

impl From<rusqlite::Error> for OpenError {
    fn from(error: rusqlite::Error) -> Self {
        let busy = matches!(
            error.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        if busy {
            Busy(error.into())
        } else {
            Other(error.into())
        }
    }
}

impl From<StoreError> for OpenError {
    fn from(error: StoreError) -> Self {
        Other(error)
    }
}

/// Opens a connection for reading only: no schema change, no write lock
/// taken, so it opens while another process holds the write lock.
pub(super) fn open_for_reading(options: &SqliteOptions) -> Result<Connection, StoreError> {
    create_parent(options)?;
    let connection = Connection::open(&options.path)?;
    connection.busy_timeout(options.busy_timeout)?;
    Ok(connection)
}

/// Whether the queue's tables are there to read (a database nobody
/// dispatched to yet has none: no jobs), refusing a newer schema.
pub(super) fn readable(connection: &Connection) -> Result<bool, StoreError> {
    let version: Option<i64> = match connection
        .query_row(
            "SELECT value FROM fastevent_meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()
    {
        Ok(version) => version,
        Err(error) if error.to_string().contains("no such table") => None,
        Err(error) => return Err(error.into()),
    };
    match version {
        Some(version) if version > SCHEMA_VERSION => Err(newer_schema(version)),
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

fn create_parent(options: &SqliteOptions) -> Result<(), StoreError> {
    if let Some(parent) = options.path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError(format!("cannot create {}: {e}", parent.display())))?;
    }
    Ok(())
}

fn open_once(options: &SqliteOptions) -> Result<Connection, OpenError> {
    create_parent(options)?;
    let connection = Connection::open(&options.path)?;
    connection.busy_timeout(options.busy_timeout)?;
    let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Other(StoreError(format!(
            "the database refused WAL mode (journal_mode is {mode})"
        ))));
    }
    let synchronous = match options.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    connection.execute_batch(&format!("PRAGMA synchronous = {synchronous}"))?;
    connection.execute_batch("BEGIN IMMEDIATE")?;
    match ensure(&connection) {
        Ok(()) => connection.execute_batch("COMMIT")?,
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            return Err(Other(error));
        }
    }
    Ok(connection)
}

/// Creates the tables if they are missing, inside the caller's transaction;
/// refuses a database written by another schema version.
pub(super) fn ensure(connection: &Connection) -> Result<(), StoreError> {
    // The version lives in a table of ours, not in `PRAGMA user_version`:
    // the database may be the application's own (see `dispatch_in`).
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS fastevent_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    )?;
    let version: Option<i64> = connection
        .query_row(
            "SELECT value FROM fastevent_meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    match version {
        None => {
            connection.execute_batch(SCHEMA)?;
            set_version(connection)
        }
        Some(1) => {
            migrate_from_v1(connection)?;
            set_version(connection)
        }
        Some(SCHEMA_VERSION) => Ok(()),
        Some(other) => Err(newer_schema(other)),
    }
}

fn newer_schema(version: i64) -> StoreError {
    StoreError(format!(
        "the database has fastevent schema version {version}, newer than this build's \
         {SCHEMA_VERSION}: run a build at least as new as the one that wrote it"
    ))
}

fn set_version(connection: &Connection) -> Result<(), StoreError> {
    connection.execute(
        "INSERT OR REPLACE INTO fastevent_meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION],
    )?;
    Ok(())
}

/// Version 1 reused ids and had no fencing token. `AUTOINCREMENT` cannot be
/// added to a table, so both tables are rebuilt with their rows and ids;
/// the counter starts above the largest id kept. A job's claims so far are
/// its attempts.
fn migrate_from_v1(connection: &Connection) -> Result<(), StoreError> {
    const JOB_COLUMNS: &str = "id, job_id, queue, event, listener, body, signature, attempts, \
                               max_attempts, created_at, available_at, leased_by, last_error";
    const FAILED_COLUMNS: &str = "id, job_id, queue, event, listener, body, signature, \
                                  attempts, max_attempts, error, failed_at";
    connection.execute_batch(&format!(
        "DROP INDEX IF EXISTS fastevent_jobs_ready;
         ALTER TABLE fastevent_jobs RENAME TO fastevent_jobs_v1;
         ALTER TABLE fastevent_failed_jobs RENAME TO fastevent_failed_jobs_v1;
         {SCHEMA}
         INSERT INTO fastevent_jobs ({JOB_COLUMNS}, claims)
              SELECT {JOB_COLUMNS}, attempts FROM fastevent_jobs_v1;
         INSERT INTO fastevent_failed_jobs ({FAILED_COLUMNS})
              SELECT {FAILED_COLUMNS} FROM fastevent_failed_jobs_v1;
         DROP TABLE fastevent_jobs_v1;
         DROP TABLE fastevent_failed_jobs_v1;"
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables as version 1 made them.
    const SCHEMA_V1: &str = "
        CREATE TABLE fastevent_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT INTO fastevent_meta VALUES ('schema_version', 1);
        CREATE TABLE fastevent_jobs (
            id INTEGER PRIMARY KEY, job_id TEXT NOT NULL, queue TEXT NOT NULL,
            event TEXT NOT NULL, listener TEXT NOT NULL, body BLOB NOT NULL, signature TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
            created_at INTEGER NOT NULL, available_at INTEGER NOT NULL, leased_by TEXT,
            last_error TEXT);
        CREATE INDEX fastevent_jobs_ready ON fastevent_jobs (queue, available_at);
        CREATE TABLE fastevent_failed_jobs (
            id INTEGER PRIMARY KEY, job_id TEXT NOT NULL, queue TEXT NOT NULL,
            event TEXT NOT NULL, listener TEXT NOT NULL, body BLOB NOT NULL, signature TEXT,
            attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL, error TEXT NOT NULL,
            failed_at INTEGER NOT NULL);
        INSERT INTO fastevent_jobs
            (id, job_id, queue, event, listener, body, attempts, max_attempts, created_at,
             available_at, leased_by)
            VALUES (41, 'j41', 'default', 'e', 'l', X'7b7d', 2, 3, 1, 5, 'w');
        INSERT INTO fastevent_failed_jobs
            (id, job_id, queue, event, listener, body, attempts, max_attempts, error, failed_at)
            VALUES (7, 'f7', 'default', 'e', 'l', X'7b7d', 3, 3, 'boom', 9);";

    fn version(connection: &Connection) -> i64 {
        connection
            .query_row(
                "SELECT value FROM fastevent_meta WHERE key = 'schema_version'",
                [],
                |row| row.get(0),
            )
            .unwrap()
    }

    #[test]
    fn a_version_1_database_is_migrated_with_its_jobs_and_ids() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(SCHEMA_V1).unwrap();
        ensure(&connection).unwrap();
        assert_eq!(version(&connection), SCHEMA_VERSION);
        let kept: (i64, i64, i64, String) = connection
            .query_row(
                "SELECT id, attempts, claims, leased_by FROM fastevent_jobs",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .unwrap();
        assert_eq!(kept, (41, 2, 2, "w".to_string()));
        let failed: String = connection
            .query_row(
                "SELECT error FROM fastevent_failed_jobs WHERE id = 7",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(failed, "boom");
        // Ids go on above the largest kept one, and are not reused once
        // that row is gone.
        connection
            .execute("DELETE FROM fastevent_jobs", [])
            .unwrap();
        connection
            .execute(
                "INSERT INTO fastevent_jobs (job_id, queue, event, listener, body, max_attempts,
                                             created_at, available_at)
                 VALUES ('new', 'default', 'e', 'l', X'', 1, 1, 1)",
                [],
            )
            .unwrap();
        assert_eq!(connection.last_insert_rowid(), 42);
        ensure(&connection).unwrap(); // idempotent
    }

    #[test]
    fn a_database_of_a_newer_version_is_refused() {
        let connection = Connection::open_in_memory().unwrap();
        ensure(&connection).unwrap();
        connection
            .execute("UPDATE fastevent_meta SET value = 99", [])
            .unwrap();
        let error = ensure(&connection).unwrap_err().0;
        assert!(
            error.contains("schema version 99, newer than this build's 2"),
            "{error}"
        );
        assert!(readable(&connection).is_err());
    }
}
