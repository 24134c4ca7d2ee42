//! The errors that cross layers: a configuration refused
//! ([`ConfigError`]), a driver that did not take a batch ([`DriverError`]),
//! and what a dispatch returns when it fails ([`DispatchError`]).

use crate::listener::BoxError;
use crate::registry::RegistryError;
use crate::run::FailureReason;
use std::fmt;

/// Why a dispatch did not happen, or (for `dispatch_now`) which listeners
/// failed. `Registry` and `Config` errors are set-up mistakes that every
/// dispatch of the program hits; `Driver` errors are of the moment (the
/// broker is down), and the caller may try again.
///
/// ```rust,standalone_crate
/// use fastevent::{listener, DispatchError, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct CommentPosted {
///     comment_id: u64,
/// }
///
/// #[derive(Default)]
/// struct NotifyAuthor;
///
/// #[listener(on = CommentPosted)]
/// impl NotifyAuthor {
///     async fn handle(&self, _: &CommentPosted) -> Result<(), String> {
///         Err("the mail server is down".into())
///     }
/// }
///
/// /// The HTTP status a request handler answers with.
/// fn status(error: &DispatchError) -> u16 {
///     match error {
///         DispatchError::Driver(_) => 503, // try again later
///         DispatchError::Registry(_)
///         | DispatchError::Config(_)
///         | DispatchError::ListenersFailed(_) => 500,
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let error = CommentPosted { comment_id: 1 }.dispatch_now().await.unwrap_err();
///     assert_eq!(status(&error), 500);
///     assert!(error.to_string().contains("notify_author: the mail server is down"));
/// }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The wiring linked into the program is invalid.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The configuration (environment or builder) is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The driver did not accept the jobs; none of them counts as dispatched.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// `dispatch_now`: these listeners failed (the others ran to the end).
    #[error(transparent)]
    ListenersFailed(#[from] ListenerFailures),
}

/// The listeners of one [`dispatch_now`](crate::dispatch_now) that failed, each with its reason;
/// the others ran to the end. Inside [`DispatchError::ListenersFailed`].
///
/// ```rust,standalone_crate
/// use fastevent::{listener, DispatchError, Event, FailureReason};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct SignupCompleted {
///     user_id: u64,
/// }
///
/// #[derive(Default)]
/// struct CreateProfile;
/// #[listener(on = SignupCompleted)]
/// impl CreateProfile {
///     async fn handle(&self, _: &SignupCompleted) {}
/// }
///
/// #[derive(Default)]
/// struct SyncCrm;
/// #[listener(on = SignupCompleted)]
/// impl SyncCrm {
///     async fn handle(&self, _: &SignupCompleted) -> Result<(), std::io::Error> {
///         Err(std::io::Error::other("CRM unreachable"))
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let Err(DispatchError::ListenersFailed(failed)) =
///         SignupCompleted { user_id: 1 }.dispatch_now().await
///     else {
///         panic!("sync_crm fails");
///     };
///     assert_eq!(failed.event, "signup_completed");
///     assert_eq!(failed.listeners, 2);
///     assert_eq!(failed.failures.len(), 1);
///     assert_eq!(failed.failures[0].listener, "sync_crm");
///     assert!(matches!(failed.failures[0].reason, FailureReason::Error(_)));
/// }
/// ```
#[derive(Debug, thiserror::Error)]
pub struct ListenerFailures {
    /// The event's registered name.
    pub event: &'static str,
    /// How many listeners ran.
    pub listeners: usize,
    /// One entry per failed listener.
    pub failures: Vec<ListenerFailure>,
}

/// One failed listener of a [`dispatch_now`](crate::dispatch_now), in [`ListenerFailures`]:
/// its registered name, for logs and alerts, and why it failed.
///
/// ```
/// use fastevent::{FailureReason, ListenerFailure, ListenerFailures};
///
/// fn log(failures: &ListenerFailures) -> Vec<String> {
///     failures
///         .failures
///         .iter()
///         .map(|failure| format!("{}: {}", failure.listener, failure.reason))
///         .collect()
/// }
///
/// let failures = ListenerFailures {
///     event: "signup_completed",
///     listeners: 2,
///     failures: vec![ListenerFailure {
///         listener: "sync_crm",
///         reason: FailureReason::Panic("index out of bounds".into()),
///     }],
/// };
/// assert_eq!(log(&failures), ["sync_crm: panicked: index out of bounds"]);
/// ```
#[derive(Debug)]
pub struct ListenerFailure {
    /// The listener's registered name.
    pub listener: &'static str,
    /// What went wrong.
    pub reason: FailureReason,
}

impl fmt::Display for ListenerFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} listeners of event `{}` failed",
            self.failures.len(),
            self.listeners,
            self.event
        )?;
        for failure in &self.failures {
            write!(f, "; {}: {}", failure.listener, failure.reason)?;
        }
        Ok(())
    }
}

/// A driver could not take the jobs of a dispatch; none of them counts as
/// dispatched. What a [`Driver`](crate::driver::Driver) returns, and what the caller sees inside
/// [`DispatchError::Driver`](crate::DispatchError::Driver).
///
/// ```
/// use fastevent::driver::DriverError;
///
/// let error = DriverError {
///     driver: "webhook",
///     event: "user_banned",
///     message: "the endpoint answered 503".into(),
///     source: None,
/// };
/// assert_eq!(
///     error.to_string(),
///     "queue driver `webhook` could not take the jobs of event `user_banned`: the endpoint answered 503"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[error("queue driver `{driver}` could not take the jobs of event `{event}`: {message}")]
pub struct DriverError {
    /// The driver's name.
    pub driver: &'static str,
    /// The event's registered name.
    pub event: &'static str,
    /// What went wrong.
    pub message: String,
    /// The underlying error, where there is one.
    #[source]
    pub source: Option<BoxError>,
}

/// A configuration value that cannot be used, or a configuration step out
/// of order. Its message names the variable and what it accepts, so
/// printing it is enough at start-up.
///
/// ```
/// use fastevent::{Config, ConfigError};
///
/// match Config::new().signing_key("too short") {
///     Err(ConfigError::Invalid { variable, expected, .. }) => {
///         assert_eq!(variable, "signing_key");
///         assert!(expected.contains("16 bytes"));
///     }
///     _ => unreachable!("a short key is refused"),
/// }
///
/// // Workers need a durable driver; the default `sync` driver stores nothing.
/// Config::new().install()?;
/// assert!(matches!(
///     fastevent::durable_queue(),
///     Err(ConfigError::NotDurable { driver: "sync" })
/// ));
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An environment variable (or builder value) with a value we refuse.
    #[error("{variable}={value:?} is not valid: expected {expected}")]
    Invalid {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// `install` was called after the configuration was fixed.
    #[error(
        "fastevent is already configured: Config::install must run once, before the first dispatch"
    )]
    AlreadyInstalled,
    /// A worker or queue command on a driver that stores nothing.
    #[error(
        "the `{driver}` driver keeps no queue: workers and the failed-job store need a durable driver (QUEUE_DRIVER=sqlite, amqp or postgres, or Config::durable_driver)"
    )]
    NotDurable {
        /// The installed driver.
        driver: &'static str,
    },
    /// A built-in driver this program was compiled without.
    #[error(
        "the `{feature}` queue driver is not built into this program: enable the `{feature}` feature of fastevent (features = [\"{feature}\"] in Cargo.toml)"
    )]
    DriverNotBuilt {
        /// The Cargo feature that builds it, also the driver's name.
        feature: &'static str,
    },
    /// The application's durable driver could not be made
    /// ([`Config::durable_driver`](crate::Config::durable_driver)).
    #[error("the durable driver could not be made: {message}")]
    DriverFailed {
        /// What its constructor said.
        message: String,
    },
}

impl ConfigError {
    /// `Ok` without a problem; with one (the variable, its value, what it
    /// accepts, as the drivers' option checks find them), its error.
    #[cfg(any(feature = "amqp", feature = "postgres"))]
    pub(crate) fn refuse(problem: Option<(&'static str, String, String)>) -> Result<(), Self> {
        match problem {
            Some((variable, value, expected)) => Err(ConfigError::Invalid {
                variable,
                value,
                expected,
            }),
            None => Ok(()),
        }
    }
}
