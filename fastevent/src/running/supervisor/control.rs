//! Steering a running supervisor from the same process (the `work --tui`
//! dashboard): change the pool's bounds, or stop it as SIGTERM would.
//!
//! A [`SupervisorHandle`] sends requests on a channel the supervisor's loop
//! reads beside its signals and reports, so a request never waits for the
//! loop, and the loop never waits for whoever sent it. Bounds are checked
//! here, before sending: a request the supervisor would refuse is refused
//! to its sender, with the reason, so that no key or request can push the
//! minimum past the maximum.

use super::settings::WORKER_LIMIT;
use tokio::sync::mpsc;

/// A request to the supervisor's loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Control {
    /// Keep between `min` and `max` workers from now on.
    SetPool { min: usize, max: usize },
    /// Stop the pool as SIGTERM does; a second request kills the workers.
    Shutdown,
}

/// Why a request to a running supervisor was refused.
///
/// ```
/// use fastevent::supervisor::{check_pool, ControlError};
///
/// let refused = check_pool(4, 2).unwrap_err();
/// assert!(matches!(&refused, ControlError::Bounds(why) if why.contains("cannot exceed")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The bounds cannot work.
    #[error("{0}")]
    Bounds(String),
    /// The supervisor has returned.
    #[error("the supervisor has stopped")]
    Stopped,
}

/// Sends requests to a running supervisor ([`super::Supervisor::handle`]),
/// from the same process: a dashboard's keys, an admin endpoint. Cheap to
/// clone.
///
/// ```
/// use fastevent::supervisor::{ControlError, Supervisor, SupervisorSettings, WorkerCommand};
/// use fastevent::worker::WorkerOptions;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let worker = WorkerOptions::default();
/// let supervisor = Supervisor::new(SupervisorSettings::from_env(&worker)?, WorkerCommand::current_exe([])?);
/// let handle = supervisor.handle();
///
/// handle.set_pool(2, 6)?; // applied by its loop
/// assert!(matches!(handle.set_pool(6, 2), Err(ControlError::Bounds(_))));
///
/// drop(supervisor); // it returned
/// assert_eq!(handle.shut_down(), Err(ControlError::Stopped));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SupervisorHandle {
    pub(super) requests: mpsc::UnboundedSender<Control>,
}

impl SupervisorHandle {
    /// Keeps between `min` and `max` workers from now on: the minimum is
    /// started at once, and workers past a lowered maximum are stopped
    /// (idle ones first; each finishes its jobs). Refused unless
    /// `1 <= min <= max <= 1000`. In memory only: a restart reads the
    /// environment and the flags again.
    pub fn set_pool(&self, min: usize, max: usize) -> Result<(), ControlError> {
        check_pool(min, max)?;
        self.send(Control::SetPool { min, max })
    }

    /// Stops the pool as SIGTERM does: the workers drain, then the
    /// supervisor returns. Called again while they drain, kills them.
    pub fn shut_down(&self) -> Result<(), ControlError> {
        self.send(Control::Shutdown)
    }

    fn send(&self, control: Control) -> Result<(), ControlError> {
        self.requests
            .send(control)
            .map_err(|_| ControlError::Stopped)
    }
}

/// Whether `min..=max` workers can be kept: the same rules as
/// `MIN_WORKERS` and `MAX_WORKERS`. [`SupervisorHandle::set_pool`] checks
/// it; a form can check before asking.
///
/// ```
/// use fastevent::supervisor::check_pool;
///
/// assert!(check_pool(1, 10).is_ok());
/// assert!(check_pool(0, 10).is_err());
/// assert!(check_pool(1, 5000).is_err());
/// ```
pub fn check_pool(min: usize, max: usize) -> Result<(), ControlError> {
    let limit = WORKER_LIMIT as usize;
    if min < 1 {
        return Err(ControlError::Bounds(
            "the minimum is at least 1 worker".into(),
        ));
    }
    if max > limit {
        return Err(ControlError::Bounds(format!(
            "the maximum is at most {limit} workers"
        )));
    }
    if min > max {
        return Err(ControlError::Bounds(format!(
            "the minimum ({min}) cannot exceed the maximum ({max})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_before_anything_is_sent() {
        let (requests, mut rx) = mpsc::unbounded_channel();
        let handle = SupervisorHandle { requests };
        assert!(matches!(
            handle.set_pool(0, 3),
            Err(ControlError::Bounds(_))
        ));
        assert!(matches!(
            handle.set_pool(4, 3),
            Err(ControlError::Bounds(_))
        ));
        assert!(matches!(
            handle.set_pool(1, 1001),
            Err(ControlError::Bounds(_))
        ));
        assert!(rx.try_recv().is_err(), "nothing refused was sent");
        handle.set_pool(3, 3).unwrap();
        handle.shut_down().unwrap();
        assert_eq!(rx.try_recv(), Ok(Control::SetPool { min: 3, max: 3 }));
        assert_eq!(rx.try_recv(), Ok(Control::Shutdown));
        drop(rx);
        assert_eq!(handle.shut_down(), Err(ControlError::Stopped));
    }
}
