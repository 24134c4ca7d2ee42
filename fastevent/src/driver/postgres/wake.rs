//! Waking idle workers: one `LISTEN` connection per process, outside the
//! pool, turns each `NOTIFY` of a committed dispatch into a wake-up, so an
//! idle worker claims a new job within milliseconds instead of at its next
//! poll. Notifications are a hint, never the truth: one can be lost while
//! the connection is re-made, so every (re)connection wakes the workers
//! too, and they still poll now and then.

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// How long an idle worker waits for a notification before it looks
/// anyway: jobs whose delay or lease ran out are not announced.
const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// The wake-ups of one driver's workers in this process.
pub(super) struct Wake {
    /// Counts notifications (and reconnections).
    count: watch::Sender<u64>,
    /// The count each worker saw when it last claimed: a notification
    /// since then means there may be a job its claim did not see.
    seen: Mutex<HashMap<String, u64>>,
    listener: Mutex<Option<AbortHandle>>,
}

impl Wake {
    pub(super) fn new() -> Self {
        Self {
            count: watch::Sender::new(0),
            seen: Mutex::new(HashMap::new()),
            listener: Mutex::new(None),
        }
    }

    /// `worker` is about to claim: what it sees now is what it has seen.
    pub(super) fn claiming(&self, worker: &str) {
        let count = *self.count.borrow();
        self.seen().insert(worker.to_string(), count);
    }

    /// Something may be ready at once (a retry without delay, a job this
    /// process put back): wakes this process's workers.
    pub(super) fn wake(&self) {
        self.count.send_modify(|count| *count += 1);
    }

    /// Resolves on a notification `worker` has not seen, or after its poll
    /// interval (at least `at_most`, at most a second apart).
    pub(super) async fn wait(&self, pool: &PgPool, channel: &str, worker: &str, at_most: Duration) {
        self.listen(pool, channel);
        let mut counts = self.count.subscribe();
        let seen = self.seen().get(worker).copied();
        if seen != Some(*counts.borrow_and_update()) {
            return;
        }
        let _ = tokio::time::timeout(at_most.max(FALLBACK_POLL), counts.changed()).await;
    }

    /// `worker` stopped: forgets what it saw.
    pub(super) fn forget(&self, worker: &str) {
        self.seen().remove(worker);
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the listening task, once, and again when the runtime it ran
    /// on has ended (its tasks end with it).
    fn listen(&self, pool: &PgPool, channel: &str) {
        let mut listener = self.listener.lock().unwrap_or_else(|e| e.into_inner());
        if listener.as_ref().is_none_or(AbortHandle::is_finished) {
            let task = tokio::spawn(listen(
                pool.clone(),
                channel.to_string(),
                self.count.clone(),
            ));
            *listener = Some(task.abort_handle());
        }
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        if let Some(task) = self
            .listener
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

/// Listens on `channel` for as long as the driver lives, reconnecting
/// after a failure with a growing pause.
async fn listen(pool: PgPool, channel: String, count: watch::Sender<u64>) {
    let mut pause = Duration::from_millis(100);
    loop {
        match listen_once(&pool, &channel, &count).await {
            Ok(()) => pause = Duration::from_millis(100),
            Err(error) => {
                tracing::debug!(target: "fastevent", %error, "postgres: LISTEN connection lost; workers poll until it is back");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// One listening connection, until it fails. Each (re)connection wakes the
/// workers: notifications sent while it was down are lost.
async fn listen_once(
    pool: &PgPool,
    channel: &str,
    count: &watch::Sender<u64>,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    count.send_modify(|count| *count += 1);
    loop {
        // `None`: the connection was lost and is made again on the next
        // call; whatever was notified meanwhile is lost.
        let _ = listener.try_recv().await?;
        count.send_modify(|count| *count += 1);
    }
}
