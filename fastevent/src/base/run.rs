//! Running one listener on one event, whatever the path: its soft timeout
//! applies and a panic becomes that listener's failure instead of unwinding
//! into the dispatcher or the worker.

use crate::listener::BoxError;
use crate::registry::{AnyEvent, ListenerEntry};
use futures_util::FutureExt;
use std::any::Any;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

/// Why one listener did not succeed: in [`ListenerFailure`](crate::ListenerFailure)
/// after a `dispatch_now`, and in the logs and failed store of queued jobs.
/// Its `Display` is the one line those show.
///
/// ```
/// use fastevent::FailureReason;
/// use std::time::Duration;
///
/// let reasons = [
///     FailureReason::Error("card declined".into()),
///     FailureReason::Panic("index out of bounds".into()),
///     FailureReason::TimedOut(Duration::from_secs(30)),
/// ];
/// let lines: Vec<String> = reasons.iter().map(ToString::to_string).collect();
/// assert_eq!(lines, ["card declined", "panicked: index out of bounds", "timed out after 30s"]);
/// ```
#[derive(Debug)]
pub enum FailureReason {
    /// `handle` returned this error.
    Error(BoxError),
    /// `handle` panicked with this message.
    Panic(String),
    /// `handle` ran past its soft timeout and was cancelled.
    TimedOut(Duration),
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Error(error) => write!(f, "{error}"),
            FailureReason::Panic(message) => write!(f, "panicked: {message}"),
            FailureReason::TimedOut(after) => write!(f, "timed out after {after:?}"),
        }
    }
}

/// Runs `listener` on an in-process event.
pub(crate) async fn run_typed(
    listener: &'static ListenerEntry,
    event: &AnyEvent,
) -> Result<(), FailureReason> {
    guarded(listener.options.timeout, listener.run_typed(event)).await
}

/// Runs `listener` on an in-process event in its own copy of the caller's
/// context: the scope wraps only the boxed listener future, so the
/// task-local future stays small.
pub(crate) async fn run_typed_scoped(
    listener: &'static ListenerEntry,
    event: &AnyEvent,
) -> Result<(), FailureReason> {
    guarded(
        listener.options.timeout,
        crate::context::scope(listener.run_typed(event)),
    )
    .await
}

/// Awaits a listener's future under a soft timeout, catching panics.
pub(crate) async fn guarded(
    timeout: Option<Duration>,
    future: impl Future<Output = Result<(), BoxError>>,
) -> Result<(), FailureReason> {
    let caught = AssertUnwindSafe(future).catch_unwind();
    let outcome = match timeout {
        // Boxed: a listener without a timeout does not carry a Sleep.
        Some(limit) => match Box::pin(tokio::time::timeout(limit, caught)).await {
            Ok(outcome) => outcome,
            Err(_) => return Err(FailureReason::TimedOut(limit)),
        },
        None => caught.await,
    };
    self::outcome(outcome)
}

/// What a listener's caught future ended with.
pub(crate) fn outcome(
    caught: Result<Result<(), BoxError>, Box<dyn Any + Send>>,
) -> Result<(), FailureReason> {
    match caught {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(FailureReason::Error(error)),
        Err(panic) => Err(FailureReason::Panic(panic_message(&*panic))),
    }
}

/// The text of a panic payload (`panic!` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}
