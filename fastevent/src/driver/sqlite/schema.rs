//! The tables of the SQLite queue, and opening a connection to them.

use super::connection::{SqliteOptions, StoreError, Synchronous};
use rusqlite::{Connection, OptionalExtension};

/// Bumped when the tables change; a database of another version is refused.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS fastevent_jobs (
    id           INTEGER PRIMARY KEY,
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
    last_error   TEXT
);
CREATE INDEX IF NOT EXISTS fastevent_jobs_ready ON fastevent_jobs (queue, available_at);
CREATE TABLE IF NOT EXISTS fastevent_failed_jobs (
    id           INTEGER PRIMARY KEY,
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
pub fn open(options: &SqliteOptions) -> Result<Connection, StoreError> {
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

fn open_once(options: &SqliteOptions) -> Result<Connection, OpenError> {
    if let Some(parent) = options.path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError(format!("cannot create {}: {e}", parent.display())))?;
    }
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
pub fn ensure(connection: &Connection) -> Result<(), StoreError> {
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
            connection.execute(
                "INSERT INTO fastevent_meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION],
            )?;
            Ok(())
        }
        Some(SCHEMA_VERSION) => Ok(()),
        Some(other) => Err(StoreError(format!(
            "the database has fastevent schema version {other}; this build uses {SCHEMA_VERSION}"
        ))),
    }
}
