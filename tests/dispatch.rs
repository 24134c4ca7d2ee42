//! dispatch and dispatch_now on the sync driver: every listener runs, every
//! failure is reported with its listener, nothing is lost before `drain`.

use fastevent::{DispatchError, Event, FailureReason, listener};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A plain `std::error::Error` of the user's own.
#[derive(Debug)]
struct TitleError(&'static str);

impl std::fmt::Display for TitleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "title error: {}", self.0)
    }
}

impl std::error::Error for TitleError {}

// --- dispatch_now: every listener runs, all failures are named -------------

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct ChatClosed {
    chat_id: u64,
}

static CLOSED_SEEN: Mutex<Vec<(&str, u64)>> = Mutex::new(Vec::new());

#[derive(Default)]
struct ArchiveChat;

#[listener(on = ChatClosed)]
impl ArchiveChat {
    async fn handle(&self, event: &ChatClosed) {
        // Yields first, so the others are known to run concurrently with it.
        tokio::task::yield_now().await;
        CLOSED_SEEN.lock().unwrap().push(("archive", event.chat_id));
    }
}

#[derive(Default)]
struct RefuseToClose;

#[listener(on = ChatClosed)]
impl RefuseToClose {
    async fn handle(&self, event: &ChatClosed) -> Result<(), TitleError> {
        CLOSED_SEEN.lock().unwrap().push(("refuse", event.chat_id));
        Err(TitleError("chat is pinned"))
    }
}

#[derive(Default)]
struct PanicOnClose;

#[listener(on = ChatClosed)]
impl PanicOnClose {
    async fn handle(&self, _event: &ChatClosed) -> Result<(), fastevent::BoxError> {
        panic!("close handler exploded");
    }
}

#[tokio::test]
async fn dispatch_now_runs_every_listener_and_names_every_failure() {
    let error = ChatClosed { chat_id: 3 }.dispatch_now().await.unwrap_err();
    let DispatchError::ListenersFailed(failures) = &error else {
        panic!("expected ListenersFailed, got {error:?}");
    };
    assert_eq!(failures.event, "chat_closed");
    assert_eq!(failures.listeners, 3);
    let mut failed: Vec<(&str, String)> = failures
        .failures
        .iter()
        .map(|f| (f.listener, f.reason.to_string()))
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        vec![
            (
                "panic_on_close",
                "panicked: close handler exploded".to_string()
            ),
            ("refuse_to_close", "title error: chat is pinned".to_string()),
        ]
    );
    assert!(matches!(
        failures
            .failures
            .iter()
            .find(|f| f.listener == "refuse_to_close")
            .unwrap()
            .reason,
        FailureReason::Error(_)
    ));
    let mut seen = CLOSED_SEEN.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, vec![("archive", 3), ("refuse", 3)]);
    assert_eq!(
        error.to_string(),
        "2 of 3 listeners of event `chat_closed` failed; panic_on_close: panicked: close handler exploded; refuse_to_close: title error: chat is pinned"
    );
}

// --- dispatch: one background job per listener -----------------------------

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct MessagePosted {
    words: u64,
}

static WORDS_COUNTED: AtomicU64 = AtomicU64::new(0);
static WORDS_INDEXED: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct CountWords;

#[listener(on = MessagePosted)]
impl CountWords {
    async fn handle(
        &self,
        event: &MessagePosted,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        WORDS_COUNTED.fetch_add(event.words, Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Default)]
struct IndexWords;

#[listener(on = MessagePosted, queue = "search", tries = 2)]
impl IndexWords {
    async fn handle(&self, event: &MessagePosted) -> Result<(), String> {
        WORDS_INDEXED.fetch_add(event.words, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_queues_one_job_per_listener_and_drain_waits_for_all() {
    let mut jobs = 0;
    for words in 1..=100 {
        jobs += MessagePosted { words }.dispatch().await.unwrap().jobs;
    }
    jobs += fastevent::dispatch(MessagePosted { words: 1000 })
        .await
        .unwrap()
        .jobs;
    assert_eq!(jobs, 202);
    fastevent::drain().await;
    assert_eq!(WORDS_COUNTED.load(Ordering::SeqCst), 5050 + 1000);
    assert_eq!(WORDS_INDEXED.load(Ordering::SeqCst), 5050 + 1000);
}

// --- background failures are counted, not lost ------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct ImportRequested;

#[derive(Default)]
struct FailingImport;

#[listener(on = ImportRequested)]
impl FailingImport {
    async fn handle(&self, _: &ImportRequested) -> Result<(), TitleError> {
        Err(TitleError("import source is gone"))
    }
}

#[tokio::test]
async fn background_failures_are_counted() {
    let before = fastevent::stats();
    assert_eq!(ImportRequested.dispatch().await.unwrap().jobs, 1);
    fastevent::drain().await;
    let after = fastevent::stats();
    assert!(after.failed > before.failed, "{before:?} -> {after:?}");
    assert!(
        after.dispatched > before.dispatched,
        "{before:?} -> {after:?}"
    );
}

// --- soft timeout --------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct ReportRequested;

#[derive(Default)]
struct SlowReport;

#[listener(on = ReportRequested, timeout = "50ms")]
impl SlowReport {
    async fn handle(&self, _: &ReportRequested) {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

#[tokio::test]
async fn a_listener_past_its_soft_timeout_is_cancelled_and_reported() {
    let error = fastevent::dispatch_now(ReportRequested).await.unwrap_err();
    let DispatchError::ListenersFailed(failures) = error else {
        panic!("expected ListenersFailed");
    };
    assert!(matches!(
        failures.failures[0].reason,
        FailureReason::TimedOut(d) if d == Duration::from_millis(50)
    ));
}

// --- one listener type on several events; helper methods stay inherent ------

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct UserJoined {
    name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
enum UserLeft {
    Voluntarily { name: String },
    Banned { name: String, reason: String },
}

static AUDIT_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Default)]
struct AuditTrail;

#[listener(on = UserJoined)]
impl AuditTrail {
    async fn handle(&self, event: &UserJoined) {
        self.write(format!("joined: {}", event.name));
    }

    fn write(&self, line: String) {
        AUDIT_LOG.lock().unwrap().push(line);
    }
}

#[listener(on = UserLeft)]
impl AuditTrail {
    async fn handle(&self, event: &UserLeft) -> anyhow_like::Result<()> {
        let line = match event {
            UserLeft::Voluntarily { name } => format!("left: {name}"),
            UserLeft::Banned { name, reason } => format!("banned: {name} ({reason})"),
        };
        self.write(line);
        Ok(())
    }
}

/// An error type shaped like anyhow's: not `std::error::Error` itself, but
/// convertible into `Box<dyn Error + Send + Sync>`.
mod anyhow_like {
    pub struct Error(String);
    pub type Result<T> = std::result::Result<T, Error>;
    impl From<Error> for Box<dyn std::error::Error + Send + Sync> {
        fn from(error: Error) -> Self {
            error.0.into()
        }
    }
}

#[tokio::test]
async fn one_listener_type_listens_to_several_events() {
    UserJoined { name: "ada".into() }
        .dispatch_now()
        .await
        .unwrap();
    UserLeft::Banned {
        name: "bob".into(),
        reason: "spam".into(),
    }
    .dispatch_now()
    .await
    .unwrap();
    let log = AUDIT_LOG.lock().unwrap().clone();
    assert_eq!(log, vec!["joined: ada", "banned: bob (spam)"]);
    fastevent::testing::assert_listening::<UserJoined, AuditTrail>();
    fastevent::testing::assert_listening::<UserLeft, AuditTrail>();
}

// --- application state reaches listeners --------------------------------------

struct Greeter {
    greeting: &'static str,
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Greeted {
    name: String,
}

static GREETINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Default)]
struct Greet;

#[listener(on = Greeted)]
impl Greet {
    async fn handle(&self, event: &Greeted) -> Result<(), fastevent::MissingState> {
        let greeter = fastevent::state::<Greeter>()?;
        GREETINGS
            .lock()
            .unwrap()
            .push(format!("{}, {}", greeter.greeting, event.name));
        Ok(())
    }
}

#[tokio::test]
async fn listeners_reach_application_state() {
    fastevent::provide(Greeter { greeting: "hello" });
    assert_eq!(
        Greeted { name: "ada".into() }
            .dispatch()
            .await
            .unwrap()
            .jobs,
        1
    );
    fastevent::drain().await;
    assert_eq!(GREETINGS.lock().unwrap().clone(), vec!["hello, ada"]);
}

#[test]
fn missing_state_is_a_clear_error() {
    struct NeverProvided;
    let error = fastevent::state::<NeverProvided>().err().unwrap();
    assert!(
        error
            .to_string()
            .contains("call fastevent::provide(value) at start-up"),
        "{error}"
    );
}

// --- names ---------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
#[event(name = "billing.invoice_paid", version = 3)]
struct InvoicePaidEvent;

#[derive(Default)]
struct MarkPaid;

#[listener(on = InvoicePaidEvent, name = "billing.mark_paid")]
impl MarkPaid {
    async fn handle(&self, _: &InvoicePaidEvent) {}
}

#[test]
fn names_follow_the_reference_unless_given() {
    assert_eq!(ChatClosed::NAME, "chat_closed");
    assert_eq!(InvoicePaidEvent::NAME, "billing.invoice_paid");
    assert_eq!(InvoicePaidEvent::VERSION, 3);
    assert_eq!(MessagePosted::VERSION, 1);
    let registry = fastevent::registry::registry();
    let listener = registry
        .listener("billing.invoice_paid", "billing.mark_paid")
        .unwrap();
    assert!(listener.type_path().ends_with("MarkPaid"));
    let index = registry.listener("message_posted", "index_words").unwrap();
    assert_eq!(index.options.queue, Some("search"));
    assert_eq!(index.options.tries, Some(2));
    assert!(registry.validate().is_ok(), "{:?}", registry.validate());
}

// --- the sync driver honours tries and backoff ------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct SyncFlaky;

static SYNC_FLAKY_ATTEMPTS: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct SucceedOnThirdTry;

#[listener(on = SyncFlaky, tries = 3, backoff = "10ms")]
impl SucceedOnThirdTry {
    async fn handle(&self, _: &SyncFlaky) -> Result<(), String> {
        match SYNC_FLAKY_ATTEMPTS.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => Err("not yet".into()),
            _ => Ok(()),
        }
    }
}

#[tokio::test]
async fn the_sync_driver_retries_a_listener_up_to_its_tries() {
    SyncFlaky.dispatch().await.unwrap();
    fastevent::drain().await;
    assert_eq!(SYNC_FLAKY_ATTEMPTS.load(Ordering::SeqCst), 3);
}
