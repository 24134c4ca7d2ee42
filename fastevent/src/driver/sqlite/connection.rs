//! One SQLite connection per process, owned by a thread that runs every
//! operation sent to it. Operations that arrive while a transaction is being
//! written wait and then share the next one (group commit): with durable
//! commits, one fsync then serves many dispatches and acknowledgements.
//! Each operation runs under its own savepoint, so one that fails is undone
//! alone, while a failed commit fails every operation of the transaction.

use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// How many operations one transaction takes at most.
const MAX_OPERATIONS_PER_TRANSACTION: usize = 1024;

/// How writes reach the disk: the trade between durability and speed of
/// the SQLite queue (`FASTEVENT_SQLITE_SYNCHRONOUS`).
///
/// ```
/// use fastevent::Config;
/// use fastevent::driver::sqlite::Synchronous;
///
/// // A queue whose jobs may be lost with the machine, not with the process.
/// let config = Config::new().sqlite_synchronous(Synchronous::Normal);
/// # let _ = config;
/// assert_eq!(Synchronous::default(), Synchronous::Full);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync at every commit: a committed job survives a power loss.
    #[default]
    Full,
    /// fsync at checkpoints only: survives a crash of the process, not of
    /// the machine; faster.
    Normal,
}

/// Where and how to open the SQLite queue's database: for a
/// [`SqliteDriver`](super::SqliteDriver) built in code. The installed
/// driver takes them from [`Config`](crate::Config).
///
/// ```
/// use fastevent::driver::sqlite::{SqliteDriver, SqliteOptions, Synchronous};
/// use fastevent::job::JobDefaults;
/// use std::time::Duration;
///
/// let options = SqliteOptions {
///     path: "storage/queue.db".into(),
///     synchronous: Synchronous::Full,
///     // Below the supervisor's heartbeat timeout: a worker waiting on the
///     // lock must not look hung.
///     busy_timeout: Duration::from_secs(5),
/// };
/// let driver = SqliteDriver::new(options, JobDefaults::default(), None); // opens nothing yet
/// # let _ = driver;
/// ```
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file.
    pub path: PathBuf,
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// How long to wait for another process's write lock.
    pub busy_timeout: Duration,
}

/// An operation failed, or the transaction holding it did.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(super) struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError(error.to_string())
    }
}

trait Operation: Send {
    /// Runs inside the open transaction; returns what to do once the
    /// transaction's outcome is known.
    fn run(
        self: Box<Self>,
        connection: &Connection,
    ) -> Box<dyn FnOnce(Result<(), StoreError>) + Send>;
    fn reject(self: Box<Self>, error: StoreError);
}

struct Typed<T, F> {
    work: F,
    /// Whether `work` runs several statements that must succeed together.
    atomic: bool,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Operation for Typed<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(
        self: Box<Self>,
        connection: &Connection,
    ) -> Box<dyn FnOnce(Result<(), StoreError>) + Send> {
        let Typed {
            work,
            atomic,
            reply,
        } = *self;
        // A single statement is atomic by itself (SQLite undoes a failed
        // statement alone), and savepoints cost a statement journal per page.
        let outcome = if atomic {
            in_savepoint(connection, work)
        } else {
            work(connection)
        };
        Box::new(move |committed| {
            let _ = reply.send(match (outcome, committed) {
                (Ok(value), Ok(())) => Ok(value),
                (Ok(_), Err(error)) => Err(error),
                (Err(error), _) => Err(error),
            });
        })
    }

    fn reject(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

fn in_savepoint<T>(
    connection: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    connection
        .prepare_cached("SAVEPOINT operation")?
        .execute([])?;
    match work(connection) {
        Ok(value) => {
            connection
                .prepare_cached("RELEASE operation")?
                .execute([])?;
            Ok(value)
        }
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK TO operation; RELEASE operation");
            Err(error)
        }
    }
}

/// A handle to the connection's thread; cheap to clone.
#[derive(Clone)]
pub(super) struct SqliteConnection {
    sender: mpsc::Sender<Box<dyn Operation>>,
}

impl SqliteConnection {
    /// Starts the thread. The database is opened (and its schema created)
    /// on first use, and again after a failure, so a file that cannot be
    /// opened now is an error for the operations of now only.
    pub(super) fn start(options: SqliteOptions) -> Self {
        let (sender, receiver) = mpsc::channel::<Box<dyn Operation>>();
        std::thread::Builder::new()
            .name("fastevent-sqlite".into())
            .spawn(move || serve(options, receiver))
            .expect("the OS can start a thread");
        Self { sender }
    }

    /// Starts a thread for read-only work, on a connection of its own. In
    /// WAL mode a reader never waits for a writer's lock, so reading the
    /// queue (status, the failed store, the supervisor's depth scan) goes on
    /// while another process holds the write lock. The connection is
    /// opened on first use.
    pub(super) fn start_reader(options: SqliteOptions) -> Self {
        let (sender, receiver) = mpsc::channel::<Box<dyn Operation>>();
        std::thread::Builder::new()
            .name("fastevent-sqlite-reader".into())
            .spawn(move || serve_reads(options, receiver))
            .expect("the OS can start a thread");
        Self { sender }
    }

    /// Runs `work`, one SQL statement, in the next transaction; resolves
    /// once it is committed. On a reader, runs it outside any transaction
    /// of ours.
    pub(super) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(work, false).await
    }

    /// Runs `work`, several statements, all or none of them.
    pub(super) async fn run_atomic<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(work, true).await
    }

    async fn submit<T, F>(&self, work: F, atomic: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, outcome) = oneshot::channel();
        self.sender
            .send(Box::new(Typed {
                work,
                atomic,
                reply,
            }))
            .map_err(|_| StoreError("the SQLite connection thread has stopped".into()))?;
        outcome.await.unwrap_or_else(|_| {
            Err(StoreError(
                "the SQLite connection thread has stopped".into(),
            ))
        })
    }
}

fn serve(options: SqliteOptions, receiver: mpsc::Receiver<Box<dyn Operation>>) {
    let mut connection: Option<Connection> = None;
    while let Ok(first) = receiver.recv() {
        let mut operations = vec![first];
        while operations.len() < MAX_OPERATIONS_PER_TRANSACTION {
            match receiver.try_recv() {
                Ok(operation) => operations.push(operation),
                Err(_) => break,
            }
        }
        if connection.is_none() {
            match super::schema::open(&options) {
                Ok(opened) => connection = Some(opened),
                Err(error) => {
                    reject_all(operations, &cannot_open(&options, error));
                    continue;
                }
            }
        }
        let Some(open) = &connection else { continue };
        if !run_batch(open, operations) {
            // Reopen next time: the connection may be in a state we cannot see.
            connection = None;
        }
    }
}

fn serve_reads(options: SqliteOptions, receiver: mpsc::Receiver<Box<dyn Operation>>) {
    let mut connection: Option<Connection> = None;
    while let Ok(operation) = receiver.recv() {
        if connection.is_none() {
            match super::schema::open_for_reading(&options) {
                Ok(opened) => connection = Some(opened),
                Err(error) => {
                    operation.reject(cannot_open(&options, error));
                    continue;
                }
            }
        }
        if let Some(open) = &connection {
            operation.run(open)(Ok(()));
        }
    }
}

fn cannot_open(options: &SqliteOptions, error: StoreError) -> StoreError {
    StoreError(format!(
        "cannot open the SQLite queue at {}: {error}",
        options.path.display()
    ))
}

fn reject_all(operations: impl IntoIterator<Item = Box<dyn Operation>>, error: &StoreError) {
    operations
        .into_iter()
        .for_each(|op| op.reject(error.clone()));
}

/// Runs `operations` in as few transactions as possible and tells each
/// its outcome; returns whether the connection is still sound.
///
/// After some errors (a full disk, an I/O error) SQLite rolls back the
/// whole transaction, not just the failed statement. The operations run
/// in it so far are then undone, and are told so; the rest start a new
/// transaction. Without this check they would run outside any transaction,
/// each committed on its own, while their callers were told they failed.
fn run_batch(connection: &Connection, operations: Vec<Box<dyn Operation>>) -> bool {
    let mut pending = operations.into_iter();
    let mut sound = true;
    loop {
        let mut first = pending.next();
        if first.is_none() {
            return sound;
        }
        if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
            reject_all(first.into_iter().chain(pending), &error.into());
            return false;
        }
        let mut finishes = Vec::new();
        let mut rolled_back = false;
        while let Some(operation) = first.take().or_else(|| pending.next()) {
            finishes.push(operation.run(connection));
            if connection.is_autocommit() {
                rolled_back = true;
                break;
            }
        }
        let outcome = if rolled_back {
            sound = false;
            Err(StoreError(
                "SQLite rolled the transaction back after an error in it (disk full or I/O \
                 error): nothing of this operation was stored"
                    .into(),
            ))
        } else {
            commit(connection)
        };
        sound &= outcome.is_ok();
        for finish in finishes {
            finish(outcome.clone());
        }
    }
}

fn commit(connection: &Connection) -> Result<(), StoreError> {
    connection.execute_batch("COMMIT").map_err(|error| {
        let _ = connection.execute_batch("ROLLBACK");
        StoreError(format!("the transaction could not be committed: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// An operation inserting `bytes` bytes into `t`, marked `mark`; and the
    /// receiver of its outcome.
    fn insert(
        mark: i64,
        bytes: usize,
    ) -> (
        Box<dyn Operation>,
        oneshot::Receiver<Result<(), StoreError>>,
    ) {
        let (reply, outcome) = oneshot::channel();
        let work = move |c: &Connection| {
            c.execute(
                "INSERT INTO t (mark, b) VALUES (?1, zeroblob(?2))",
                rusqlite::params![mark, bytes as i64],
            )?;
            Ok(())
        };
        let atomic = true;
        (
            Box::new(Typed {
                work,
                atomic,
                reply,
            }),
            outcome,
        )
    }

    /// Fills the file system of `dir` but for about `left` bytes.
    fn fill_but(dir: &std::path::Path, left: u64) {
        let path = dir.join("filler");
        let mut filler = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while filler.write_all(&chunk).is_ok() {}
        let _ = filler.sync_all();
        let size = std::fs::metadata(&path).unwrap().len();
        filler.set_len(size.saturating_sub(left)).unwrap();
    }

    /// A real full disk (a small tmpfs: `FASTEVENT_SMALL_DISK`, mounted by
    /// `.ci/run`) in the middle of a group commit: an operation too large
    /// for the space left makes SQLite roll back the whole transaction. The
    /// operations before it are told so, and the one after it runs in a
    /// transaction of its own: each caller's outcome matches what is stored.
    #[test]
    fn after_sqlite_rolls_back_a_transaction_every_operation_is_told_the_truth() {
        let Some(disk) = std::env::var_os("FASTEVENT_SMALL_DISK") else {
            eprintln!("FASTEVENT_SMALL_DISK is not set: this test needs a small tmpfs");
            return;
        };
        let dir = PathBuf::from(disk).join(format!("group-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let connection = Connection::open(dir.join("queue.db")).unwrap();
        // WAL, and a small page cache: a large transaction spills to the
        // disk before its commit, where a full disk undoes all of it.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA cache_size = 50;
                 CREATE TABLE t (mark INTEGER, b BLOB)",
            )
            .unwrap();
        fill_but(&dir, 1 << 20);

        let (before, told_before) = insert(1, 1000);
        let (too_large, told_too_large) = insert(2, 4 << 20);
        let (after, told_after) = insert(3, 1000);
        run_batch(&connection, vec![before, too_large, after]);

        let stored: Vec<i64> = connection
            .prepare("SELECT mark FROM t ORDER BY mark")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let told: Vec<bool> = [told_before, told_too_large, told_after]
            .into_iter()
            .map(|mut outcome| outcome.try_recv().unwrap().is_ok())
            .collect();
        drop(connection);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!told[1], "the operation larger than the disk failed");
        for (mark, ok) in [1, 2, 3].into_iter().zip(told) {
            assert_eq!(
                stored.contains(&mark),
                ok,
                "operation {mark} was told {}, stored: {stored:?}",
                if ok { "Ok" } else { "Err" }
            );
        }
    }
}
