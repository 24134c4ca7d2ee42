//! Dispatch inside the application's own SQLite transaction, with the
//! installed configuration's job defaults and signing key.

use crate::batch::Dispatched;
use crate::config;
use crate::dispatch::batch_for;
use crate::driver::sqlite::outbox::write_batch;
use crate::driver::sqlite::rusqlite;
use crate::error::DispatchError;
use crate::event::Event;

/// Writes one job per listener of `event` in `transaction`, which must be a
/// transaction on the queue's database file (`FASTEVENT_SQLITE_PATH`).
/// Uses the installed configuration's job defaults and signing key.
///
/// ```
/// # use fastevent::{listener, Event};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize, Event)] struct UserCreated { id: i64 }
/// # #[derive(Default)] struct Welcome;
/// # #[listener(on = UserCreated)] impl Welcome { async fn handle(&self, _: &UserCreated) {} }
/// use fastevent::driver::sqlite::{dispatch_in, rusqlite};
///
/// # let dir = std::env::temp_dir().join(format!("outbox-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let mut db = rusqlite::Connection::open(dir.join("app.db")).unwrap();
/// db.execute_batch("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY)").unwrap();
/// let tx = db.transaction().unwrap();
/// tx.execute("INSERT INTO users (id) VALUES (1)", []).unwrap();
/// dispatch_in(&tx, UserCreated { id: 1 }).unwrap();
/// tx.commit().unwrap(); // the user and its job, or neither
/// # drop(db);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn dispatch_in<E: Event>(
    transaction: &rusqlite::Transaction<'_>,
    event: E,
) -> Result<Dispatched, DispatchError> {
    let Some(batch) = batch_for(event)? else {
        return Ok(Dispatched { jobs: 0 });
    };
    let installed = config::installed()?;
    let signer = installed.signer.as_ref();
    Ok(write_batch(
        transaction,
        &batch,
        &installed.job_defaults,
        signer,
    )?)
}
