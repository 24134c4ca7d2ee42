//! What a settle did, and what a failed queue operation says.

/// What a settle ([`WorkQueue::complete`](super::WorkQueue::complete), `retry`, `fail`, `release`)
/// did.
///
/// ```
/// use fastevent::driver::durable::Settled;
///
/// fn log(settled: Settled, job: &str) {
///     if settled == Settled::LeaseLost {
///         eprintln!("job {job}: lease lost, another claim owns the job; nothing changed");
///     }
/// }
/// log(Settled::Done, "0190a7c2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The job was settled as asked.
    Done,
    /// This claim no longer owns the job (its lease lapsed and the job was
    /// claimed again, or it was settled already): nothing changed.
    LeaseLost,
}

/// A queue operation that failed; the job stays where it was (a claimed
/// job's lease runs out, and another worker takes it). What every
/// queue method returns on failure.
///
/// ```
/// use fastevent::driver::durable::QueueError;
///
/// let error = QueueError { driver: "sqlite", message: "database is locked".into() };
/// assert_eq!(error.to_string(), "sqlite queue: database is locked");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{driver} queue: {message}")]
pub struct QueueError {
    /// The driver.
    pub driver: &'static str,
    /// What went wrong.
    pub message: String,
}
