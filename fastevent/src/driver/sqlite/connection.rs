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
pub struct StoreError(pub String);

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
pub struct SqliteConnection {
    sender: mpsc::Sender<Box<dyn Operation>>,
}

impl SqliteConnection {
    /// Starts the thread. The database is opened (and its schema created)
    /// on first use, and again after a failure, so a file that cannot be
    /// opened now is an error for the operations of now only.
    pub fn start(options: SqliteOptions) -> Self {
        let (sender, receiver) = mpsc::channel::<Box<dyn Operation>>();
        std::thread::Builder::new()
            .name("fastevent-sqlite".into())
            .spawn(move || serve(options, receiver))
            .expect("the OS can start a thread");
        Self { sender }
    }

    /// Runs `work`, one SQL statement, in the next transaction; resolves
    /// once it is committed.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(work, false).await
    }

    /// Runs `work`, several statements, all or none of them.
    pub async fn run_atomic<T, F>(&self, work: F) -> Result<T, StoreError>
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
                    let error = StoreError(format!(
                        "cannot open the SQLite queue at {}: {error}",
                        options.path.display()
                    ));
                    operations
                        .into_iter()
                        .for_each(|op| op.reject(error.clone()));
                    continue;
                }
            }
        }
        let Some(open) = &connection else { continue };
        if let Err(error) = open.execute_batch("BEGIN IMMEDIATE") {
            let error = StoreError::from(error);
            operations
                .into_iter()
                .for_each(|op| op.reject(error.clone()));
            continue;
        }
        let finishes: Vec<_> = operations.into_iter().map(|op| op.run(open)).collect();
        let committed = open.execute_batch("COMMIT").map_err(|error| {
            let _ = open.execute_batch("ROLLBACK");
            StoreError(format!("the transaction could not be committed: {error}"))
        });
        if committed.is_err() {
            // Reopen next time: the connection may be in a state we cannot see.
            connection = None;
        }
        for finish in finishes {
            finish(committed.clone());
        }
    }
}
