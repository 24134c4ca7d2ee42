//! The chat application of the reference docs, in one file.
//!
//! Two events and their listeners:
//!
//! - `NewChatEvent { chat_id }` -> `GenerateChatTitle` titles the chat after
//!   its first message;
//! - `NewUserMessage { chat_id, message_id }` -> `NewMessageListener` writes
//!   the assistant's reply.
//!
//! The chat store is application state (`fastevent::provide`), the request
//! handlers run inside a context scope holding the request id and the user
//! id, and the listeners read both back. Run it with
//! `cargo run --example chat`.

use fastevent::context::{self, ContextKey};
use fastevent::{BoxError, Event, listener};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

// ---------------------------------------------------------------- context

/// Set by the request middleware; travels with every job dispatched there.
static USER_ID: ContextKey<u64> = ContextKey::new("user_id");
static REQUEST_ID: ContextKey<String> = ContextKey::new("request_id");

/// "req-1 by user 42", as seen from wherever this runs.
fn who() -> String {
    let request = context::get(&REQUEST_ID).unwrap_or_else(|| "no request".into());
    match context::get(&USER_ID) {
        Some(user) => format!("{request} by user {user}"),
        None => format!("{request}, no user"),
    }
}

// ----------------------------------------------------------------- events

/// A chat was created.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct NewChatEvent {
    pub chat_id: u64,
}

/// A user posted a message in a chat.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct NewUserMessage {
    pub chat_id: u64,
    pub message_id: u64,
}

// -------------------------------------------------------------- listeners

/// Titles a chat after the first words of its first message.
#[derive(Default)]
pub struct GenerateChatTitle;

#[listener(on = NewChatEvent, timeout = "5s")]
impl GenerateChatTitle {
    async fn handle(&self, event: &NewChatEvent) -> Result<(), BoxError> {
        let store = fastevent::state::<ChatStore>()?;
        let Some(first) = store.first_user_message(event.chat_id) else {
            println!(
                "    {} -> GenerateChatTitle ({}): chat {} has no message yet, nothing to title",
                NewChatEvent::NAME,
                who(),
                event.chat_id
            );
            return Ok(());
        };
        let title = title_from(&first);
        store.set_title(event.chat_id, &title)?;
        println!(
            "    {} -> GenerateChatTitle ({}): titled chat {} \"{title}\"",
            NewChatEvent::NAME,
            who(),
            event.chat_id
        );
        Ok(())
    }
}

/// Writes the assistant's reply to a user's message.
#[derive(Default)]
pub struct NewMessageListener;

#[listener(on = NewUserMessage, tries = 3, backoff = "1s")]
impl NewMessageListener {
    async fn handle(&self, event: &NewUserMessage) -> Result<(), BoxError> {
        let store = fastevent::state::<ChatStore>()?;
        let text = store
            .message_text(event.chat_id, event.message_id)
            .ok_or_else(|| {
                format!(
                    "message {} is not in chat {}",
                    event.message_id, event.chat_id
                )
            })?;
        let words = text.split_whitespace().count();
        let reply = format!("You wrote {words} words; here is my answer.");
        let reply_id = store.add_message(event.chat_id, Author::Assistant, &reply)?;
        println!(
            "    {} -> NewMessageListener ({}): answered message {} of chat {} with message {reply_id}",
            NewUserMessage::NAME,
            who(),
            event.message_id,
            event.chat_id
        );
        Ok(())
    }
}

/// The first five words of `message`, without the trailing punctuation.
fn title_from(message: &str) -> String {
    let words: Vec<&str> = message.split_whitespace().take(5).collect();
    words
        .join(" ")
        .trim_end_matches(['?', '!', '.', ','])
        .to_string()
}

// ------------------------------------------------------------------ store

/// The application's data: an in-memory chat store, shared with the
/// listeners through `fastevent::provide` / `fastevent::state`.
#[derive(Default)]
pub struct ChatStore {
    data: Mutex<Chats>,
}

#[derive(Default)]
struct Chats {
    chats: BTreeMap<u64, Chat>,
    last_chat_id: u64,
    last_message_id: u64,
}

struct Chat {
    owner: u64,
    title: Option<String>,
    messages: Vec<Message>,
}

struct Message {
    id: u64,
    author: Author,
    text: String,
}

#[derive(Clone, Copy)]
pub enum Author {
    User(u64),
    Assistant,
}

impl ChatStore {
    fn lock(&self) -> MutexGuard<'_, Chats> {
        self.data
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn create_chat(&self, owner: u64) -> u64 {
        let mut data = self.lock();
        data.last_chat_id += 1;
        let id = data.last_chat_id;
        let chat = Chat {
            owner,
            title: None,
            messages: Vec::new(),
        };
        data.chats.insert(id, chat);
        id
    }

    fn add_message(&self, chat_id: u64, author: Author, text: &str) -> Result<u64, String> {
        let mut data = self.lock();
        data.last_message_id += 1;
        let id = data.last_message_id;
        let chat = data
            .chats
            .get_mut(&chat_id)
            .ok_or_else(|| format!("no chat {chat_id}"))?;
        chat.messages.push(Message {
            id,
            author,
            text: text.to_string(),
        });
        Ok(id)
    }

    fn owner(&self, chat_id: u64) -> Option<u64> {
        self.lock().chats.get(&chat_id).map(|chat| chat.owner)
    }

    fn first_user_message(&self, chat_id: u64) -> Option<String> {
        let data = self.lock();
        let chat = data.chats.get(&chat_id)?;
        chat.messages
            .iter()
            .find(|m| matches!(m.author, Author::User(_)))
            .map(|m| m.text.clone())
    }

    fn message_text(&self, chat_id: u64, message_id: u64) -> Option<String> {
        let data = self.lock();
        let chat = data.chats.get(&chat_id)?;
        chat.messages
            .iter()
            .find(|m| m.id == message_id)
            .map(|m| m.text.clone())
    }

    fn title(&self, chat_id: u64) -> Option<String> {
        self.lock().chats.get(&chat_id)?.title.clone()
    }

    fn set_title(&self, chat_id: u64, title: &str) -> Result<(), String> {
        let mut data = self.lock();
        let chat = data
            .chats
            .get_mut(&chat_id)
            .ok_or_else(|| format!("no chat {chat_id}"))?;
        chat.title = Some(title.to_string());
        Ok(())
    }

    fn print(&self) {
        for (id, chat) in &self.lock().chats {
            let title = chat.title.as_deref().unwrap_or("(untitled)");
            println!("  chat {id} \"{title}\", owned by user {}:", chat.owner);
            for message in &chat.messages {
                let author = match message.author {
                    Author::User(user) => format!("user {user}"),
                    Author::Assistant => "assistant".to_string(),
                };
                println!("    #{} {author}: {}", message.id, message.text);
            }
        }
    }
}

// --------------------------------------------------------------- requests

/// The routes of the simulated web application.
enum Route {
    /// POST /chats: a new chat with its first message; with
    /// `wait_for_title`, the response carries the chat's title.
    CreateChat {
        first_message: &'static str,
        wait_for_title: bool,
    },
    /// POST /chats/{id}/messages
    PostMessage { chat_id: u64, text: &'static str },
}

/// What a web framework's middleware does: one context scope per request,
/// holding who is asking. Everything dispatched inside sees it.
async fn serve(request_id: &str, user_id: u64, route: Route) -> Result<String, BoxError> {
    context::scope(async move {
        context::set(&REQUEST_ID, request_id.to_string())?;
        context::set(&USER_ID, user_id)?;
        match route {
            Route::CreateChat {
                first_message,
                wait_for_title,
            } => create_chat(first_message, wait_for_title).await,
            Route::PostMessage { chat_id, text } => post_message(chat_id, text).await,
        }
    })
    .await
}

/// The signed-in user, as the middleware set it.
fn current_user() -> Result<u64, BoxError> {
    context::get(&USER_ID).ok_or_else(|| "not signed in".into())
}

async fn create_chat(first_message: &str, wait_for_title: bool) -> Result<String, BoxError> {
    let user = current_user()?;
    let store = fastevent::state::<ChatStore>()?;
    let chat_id = store.create_chat(user);
    let message_id = store.add_message(chat_id, Author::User(user), first_message)?;
    println!("  stored chat {chat_id} and its first message {message_id}");

    if wait_for_title {
        // This response needs the listeners' work: run every listener of
        // the event now and wait for them. An error would name each
        // listener that failed.
        println!(
            "  dispatch_now(NewChatEvent {{ chat_id: {chat_id} }}): running its listeners now"
        );
        NewChatEvent { chat_id }.dispatch_now().await?;
    } else {
        // One job per listener, run in the background by the `sync` driver:
        // the response does not wait for them.
        let queued = NewChatEvent { chat_id }.dispatch().await?;
        println!(
            "  dispatch(NewChatEvent {{ chat_id: {chat_id} }}): {} job queued",
            queued.jobs
        );
    }
    let queued = NewUserMessage {
        chat_id,
        message_id,
    }
    .dispatch()
    .await?;
    println!(
        "  dispatch(NewUserMessage {{ chat_id: {chat_id}, message_id: {message_id} }}): {} job queued",
        queued.jobs
    );
    match store.title(chat_id) {
        Some(title) if wait_for_title => Ok(format!(
            "201 Created {{\"chat_id\": {chat_id}, \"title\": \"{title}\"}}"
        )),
        _ => Ok(format!("201 Created {{\"chat_id\": {chat_id}}}")),
    }
}

async fn post_message(chat_id: u64, text: &str) -> Result<String, BoxError> {
    let user = current_user()?;
    let store = fastevent::state::<ChatStore>()?;
    if store.owner(chat_id) != Some(user) {
        return Ok("404 Not Found".into());
    }
    let message_id = store.add_message(chat_id, Author::User(user), text)?;
    println!("  stored message {message_id} in chat {chat_id}");
    let queued = NewUserMessage {
        chat_id,
        message_id,
    }
    .dispatch()
    .await?;
    println!(
        "  dispatch(NewUserMessage {{ chat_id: {chat_id}, message_id: {message_id} }}): {} job queued",
        queued.jobs
    );
    Ok(format!("201 Created {{\"message_id\": {message_id}}}"))
}

// ------------------------------------------------------------------- main

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    // QUEUE_DRIVER (unset: `sync`) picks the driver; a bad value stops here.
    fastevent::Config::from_env()?.install()?;
    fastevent::provide(ChatStore::default());

    let requests = [
        (
            "req-1",
            42,
            "POST /chats",
            Route::CreateChat {
                first_message: "How do I cook rice without a rice cooker?",
                wait_for_title: false,
            },
        ),
        (
            "req-2",
            42,
            "POST /chats/1/messages",
            Route::PostMessage {
                chat_id: 1,
                text: "And brown rice?",
            },
        ),
        (
            "req-3",
            7,
            "POST /chats",
            Route::CreateChat {
                first_message: "Plan a weekend in Lisbon",
                wait_for_title: false,
            },
        ),
        (
            "req-4",
            42,
            "POST /chats?wait_for_title=true",
            Route::CreateChat {
                first_message: "Translate good morning into Portuguese, please",
                wait_for_title: true,
            },
        ),
    ];

    for (request_id, user_id, line, route) in requests {
        println!("{request_id}: {line} (user {user_id})");
        let response = serve(request_id, user_id, route).await?;
        println!("{request_id}: responded {response}");
        // A real server goes on serving here. The demo waits for the
        // background jobs instead, so that the story prints in order.
        let before = fastevent::stats();
        fastevent::drain().await;
        let ran = fastevent::stats().succeeded - before.succeeded;
        if ran > 0 {
            println!("{request_id}: {ran} background job(s) finished after the response");
        }
        println!();
    }

    // Before exit: wait for every job still running in this process. With
    // the `sync` driver, jobs not finished at exit are lost.
    fastevent::drain().await;

    println!("the store at exit:");
    fastevent::state::<ChatStore>()?.print();
    let stats = fastevent::stats();
    println!(
        "jobs: {} dispatched, {} succeeded, {} failed",
        stats.dispatched, stats.succeeded, stats.failed
    );
    Ok(())
}
