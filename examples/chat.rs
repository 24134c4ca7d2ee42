//! A chat application (fast-app's documentation example), on the embedded durable queue.
//!
//! `cargo run --example chat` plays a few HTTP requests of a chat app. Each
//! request stores its data in SQLite and dispatches events; the events'
//! jobs are stored durably in the SQLite queue, and a worker farm (this same
//! binary, re-executed as `chat work`) runs them in other processes:
//!
//! - `NewChatEvent { chat_id }` -> `GenerateChatTitle` titles the chat;
//! - `NewUserMessage { chat_id, message_id }` -> `NewMessageListener` writes
//!   the assistant's reply (the first try fails, as a busy model would, and
//!   the job is retried), and `ScanLinks` checks the message's links (one
//!   fails every try and ends in the failed-job store).
//!
//! The user id and request id set in each request travel with its jobs, and
//! the listeners print them. The binary also embeds fastevent's commands:
//! `cargo run --example chat -- status | failed list | events | work`.

use fastevent::context::{self, ContextKey};
use fastevent::driver::sqlite::rusqlite::{self, params};
use fastevent::{BoxError, Config, Event, QueueDriver, listener};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

// ---------------------------------------------------------------- context

/// Set by the request middleware; travels with every job dispatched there.
static USER_ID: ContextKey<u64> = ContextKey::new("user_id");
static REQUEST_ID: ContextKey<String> = ContextKey::new("request_id");

/// "req-1 by user 42, worker 4711": who asked, and which process runs it.
fn who() -> String {
    let request = context::get(&REQUEST_ID).unwrap_or_else(|| "no request".into());
    let user = context::get(&USER_ID).map_or("no user".into(), |u| format!("user {u}"));
    format!("{request} by {user}, in process {}", std::process::id())
}

// ----------------------------------------------------------------- events

/// A chat was created.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct NewChatEvent {
    pub chat_id: i64,
}

/// A user posted a message in a chat.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct NewUserMessage {
    pub chat_id: i64,
    pub message_id: i64,
}

// -------------------------------------------------------------- listeners

/// Titles a chat after the first words of its first message.
#[derive(Default)]
pub struct GenerateChatTitle;

#[listener(on = NewChatEvent, timeout = "5s")]
impl GenerateChatTitle {
    async fn handle(&self, event: &NewChatEvent) -> Result<(), BoxError> {
        let store = fastevent::state::<ChatStore>()?;
        let first = store.first_message(event.chat_id)?;
        let title: String = first
            .split_whitespace()
            .take(5)
            .collect::<Vec<_>>()
            .join(" ")
            .trim_end_matches([',', '.', '?', '!'])
            .to_string();
        store.set_title(event.chat_id, &title)?;
        println!(
            "  new_chat -> GenerateChatTitle ({}): titled chat {} \"{title}\"",
            who(),
            event.chat_id
        );
        Ok(())
    }
}

/// Answers a user's message. The model is busy on the first try of each
/// message: the job fails, waits for its backoff, and succeeds on the next.
#[derive(Default)]
pub struct NewMessageListener;

#[listener(on = NewUserMessage, tries = 3, backoff = "300ms", timeout = "5s")]
impl NewMessageListener {
    async fn handle(&self, event: &NewUserMessage) -> Result<(), BoxError> {
        let store = fastevent::state::<ChatStore>()?;
        if store.count_try(event.message_id)? == 1 {
            println!(
                "  new_user_message -> NewMessageListener ({}): the model is busy, message {} will be retried",
                who(),
                event.message_id
            );
            return Err("the model is busy (503)".into());
        }
        let text = store.message(event.message_id)?;
        let reply = format!(
            "You wrote {} words; here is my answer.",
            text.split_whitespace().count()
        );
        let reply_id = store.add_message(event.chat_id, None, &reply)?;
        println!(
            "  new_user_message -> NewMessageListener ({}): answered message {} with message {reply_id}",
            who(),
            event.message_id
        );
        Ok(())
    }
}

/// Checks the links of a message; a link to an unreachable host fails
/// every try, and the job ends in the failed-job store.
#[derive(Default)]
pub struct ScanLinks;

#[listener(on = NewUserMessage, tries = 2, backoff = "200ms")]
impl ScanLinks {
    async fn handle(&self, event: &NewUserMessage) -> Result<(), BoxError> {
        let text = fastevent::state::<ChatStore>()?.message(event.message_id)?;
        if let Some(link) = text
            .split_whitespace()
            .find(|w| w.starts_with("http://unreachable"))
        {
            println!(
                "  new_user_message -> ScanLinks ({}): cannot reach {link}; this try fails",
                who()
            );
            return Err(format!("cannot reach {link}").into());
        }
        println!(
            "  new_user_message -> ScanLinks ({}): message {} is clean",
            who(),
            event.message_id
        );
        Ok(())
    }
}

// ------------------------------------------------------------ chat store

/// The chat app's own data, in SQLite; every process of the demo opens it.
pub struct ChatStore(Mutex<rusqlite::Connection>);

impl ChatStore {
    fn open(path: &Path) -> rusqlite::Result<Self> {
        let db = rusqlite::Connection::open(path)?;
        db.busy_timeout(Duration::from_secs(10))?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS chats (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title TEXT);
             CREATE TABLE IF NOT EXISTS messages (
                 id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, user_id INTEGER, text TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS tries (message_id INTEGER PRIMARY KEY, count INTEGER NOT NULL);",
        )?;
        Ok(Self(Mutex::new(db)))
    }

    fn db(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn create_chat(&self, user: u64) -> rusqlite::Result<i64> {
        let db = self.db();
        db.execute("INSERT INTO chats (user_id) VALUES (?1)", [user])?;
        Ok(db.last_insert_rowid())
    }

    fn add_message(&self, chat: i64, user: Option<u64>, text: &str) -> rusqlite::Result<i64> {
        let db = self.db();
        db.execute(
            "INSERT INTO messages (chat_id, user_id, text) VALUES (?1, ?2, ?3)",
            params![chat, user, text],
        )?;
        Ok(db.last_insert_rowid())
    }

    fn message(&self, id: i64) -> rusqlite::Result<String> {
        self.db()
            .query_row("SELECT text FROM messages WHERE id = ?1", [id], |r| {
                r.get(0)
            })
    }

    fn first_message(&self, chat: i64) -> rusqlite::Result<String> {
        self.db().query_row(
            "SELECT text FROM messages WHERE chat_id = ?1 ORDER BY id LIMIT 1",
            [chat],
            |r| r.get(0),
        )
    }

    fn set_title(&self, chat: i64, title: &str) -> rusqlite::Result<()> {
        self.db().execute(
            "UPDATE chats SET title = ?2 WHERE id = ?1",
            params![chat, title],
        )?;
        Ok(())
    }

    /// Counts one more try at answering `message`, returns the count.
    fn count_try(&self, message: i64) -> rusqlite::Result<i64> {
        self.db().query_row(
            "INSERT INTO tries (message_id, count) VALUES (?1, 1)
             ON CONFLICT (message_id) DO UPDATE SET count = count + 1 RETURNING count",
            [message],
            |r| r.get(0),
        )
    }

    fn print(&self) -> rusqlite::Result<()> {
        let db = self.db();
        let mut chats = db.prepare("SELECT id, user_id, title FROM chats ORDER BY id")?;
        let mut messages =
            db.prepare("SELECT id, user_id, text FROM messages WHERE chat_id = ?1 ORDER BY id")?;
        for chat in chats.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })? {
            let (id, user, title) = chat?;
            println!(
                "  chat {id} \"{}\", owned by user {user}:",
                title.as_deref().unwrap_or("(untitled)")
            );
            for message in messages.query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })? {
                let (id, user, text) = message?;
                let author = user.map_or("assistant".to_string(), |u| format!("user {u}"));
                println!("    #{id} {author}: {text}");
            }
        }
        Ok(())
    }
}

// --------------------------------------------------------------- requests

/// The request middleware: a context scope holding who is asking.
async fn serve<T>(
    request: &str,
    user: u64,
    handler: impl Future<Output = Result<T, BoxError>>,
) -> Result<T, BoxError> {
    context::scope(async {
        context::set(&REQUEST_ID, request.to_string())?;
        context::set(&USER_ID, user)?;
        handler.await
    })
    .await
}

/// POST /chats: a chat with its first message.
async fn create_chat(user: u64, text: &str) -> Result<i64, BoxError> {
    let store = fastevent::state::<ChatStore>()?;
    let chat_id = store.create_chat(user)?;
    let message_id = store.add_message(chat_id, Some(user), text)?;
    let a = NewChatEvent { chat_id }.dispatch().await?;
    let b = NewUserMessage {
        chat_id,
        message_id,
    }
    .dispatch()
    .await?;
    println!(
        "  stored chat {chat_id} with message {message_id}; {} jobs stored in the queue",
        a.jobs + b.jobs
    );
    Ok(chat_id)
}

/// POST /chats/{id}/messages.
async fn post_message(user: u64, chat_id: i64, text: &str) -> Result<(), BoxError> {
    let message_id = fastevent::state::<ChatStore>()?.add_message(chat_id, Some(user), text)?;
    let jobs = NewUserMessage {
        chat_id,
        message_id,
    }
    .dispatch()
    .await?
    .jobs;
    println!("  stored message {message_id} in chat {chat_id}; {jobs} jobs stored in the queue");
    Ok(())
}

// ------------------------------------------------------------------ main

struct Paths {
    queue: PathBuf,
    chats: PathBuf,
}

fn paths() -> Paths {
    let dir = std::env::var_os("CHAT_DEMO_DIR")
        .map_or_else(|| PathBuf::from("target/chat-demo"), PathBuf::from);
    Paths {
        queue: std::env::var_os("FASTEVENT_SQLITE_PATH")
            .map_or_else(|| dir.join("queue.db"), PathBuf::from),
        chats: dir.join("chats.db"),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let paths = paths();
    let embedded_command = std::env::args().len() > 1;
    if !embedded_command {
        // A fresh demo each run: forget the previous run's queue and chats.
        for base in [&paths.queue, &paths.chats] {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", base.display()));
            }
        }
    }
    if let Some(dir) = paths.chats.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // Every process of the demo (this one, the supervisor, its workers) runs
    // this: the same queue and the same application state.
    let configured = Config::from_env().and_then(|c| {
        c.queue_driver(QueueDriver::Sqlite)
            .sqlite_path(&paths.queue)
            .install()
    });
    if let Err(error) = configured {
        eprintln!("chat: {error}");
        return ExitCode::FAILURE;
    }
    match ChatStore::open(&paths.chats) {
        Ok(store) => fastevent::provide(store),
        Err(error) => {
            eprintln!("chat: cannot open {}: {error}", paths.chats.display());
            return ExitCode::FAILURE;
        }
    }
    if embedded_command {
        return fastevent::cli::run().await;
    }
    match demo(&paths).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("chat: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn demo(paths: &Paths) -> Result<ExitCode, BoxError> {
    println!(
        "fastevent chat demo: jobs go to the SQLite queue at {}\n",
        paths.queue.display()
    );
    println!("req-1: POST /chats (user 42)");
    let rice = serve(
        "req-1",
        42,
        create_chat(42, "How do I cook rice without a rice cooker?"),
    )
    .await?;
    println!("req-2: POST /chats (user 7)");
    serve(
        "req-2",
        7,
        create_chat(
            7,
            "Plan a weekend in Lisbon, see http://unreachable.example/lisbon",
        ),
    )
    .await?;
    println!("req-3: POST /chats/{rice}/messages (user 42)");
    serve("req-3", 42, post_message(42, rice, "And brown rice?")).await?;

    let queue = fastevent::durable_queue()?;
    let waiting: u64 = queue.depth().await?.iter().map(|d| d.ready).sum();
    println!("\nThe requests are answered; {waiting} jobs wait in the queue.");
    println!("Starting the worker farm: `chat work --stop-when-empty` with 2 worker processes\n");
    let mut farm = tokio::process::Command::new(std::env::current_exe()?)
        .args([
            "work",
            "--stop-when-empty",
            "--min-workers",
            "2",
            "--max-workers",
            "2",
        ])
        .env("HEARTBEAT_INTERVAL_S", "0.2")
        .env("FASTEVENT_POLL_INTERVAL_MS", "20")
        .spawn()?;

    // Progress while the farm works: the queue as the dispatcher sees it.
    let mut last = String::new();
    let status = loop {
        tokio::select! {
            status = farm.wait() => break status?,
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                let depth = queue.depth().await?;
                let sum = |f: fn(&fastevent::driver::durable::QueueDepth) -> u64| depth.iter().map(f).sum::<u64>();
                let failed = queue.failed_jobs(100).await?.len();
                let line = format!(
                    "  [queue] ready {}, running {}, waiting to retry {}, failed {failed}",
                    sum(|d| d.ready), sum(|d| d.running), sum(|d| d.delayed)
                );
                if line != last {
                    println!("{line}");
                    last = line;
                }
            }
        }
    };

    println!("\nThe farm stopped ({status}): the queue is empty.\n\nThe chat store now:");
    fastevent::state::<ChatStore>()?.print()?;
    let failed = queue.failed_jobs(10).await?;
    println!(
        "\nFailed jobs ({}), kept with their error for `chat failed retry <id>`:",
        failed.len()
    );
    for job in &failed {
        println!(
            "  #{} {} -> {} after {} tries: {}",
            job.id, job.event, job.listener, job.attempts, job.error
        );
    }
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
