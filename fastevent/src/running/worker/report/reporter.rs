//! The worker's end of the report channel: the descriptor its supervisor
//! passed in [`REPORT_FD_ENV`], taken once per process and closed at exec,
//! so that processes a listener starts cannot write reports.

use super::{REPORT_FD_ENV, SUPERVISED_ENV, WorkerMessage};
#[cfg(unix)]
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
#[cfg(unix)]
use nix::libc;
#[cfg(unix)]
use nix::sys::stat::{SFlag, fstat};
use std::fs::File;
use std::io::Write;
#[cfg(unix)]
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, OnceLock};

/// Sends messages to the supervisor, when there is one: a worker started by
/// a supervisor (which passes the channel in [`REPORT_FD_ENV`]) reports,
/// any other says nothing. [`Worker::reporting_to_supervisor`](crate::worker::Worker::reporting_to_supervisor)
/// uses one. Clones share the channel; each message is written whole.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reporter {
    channel: Option<Arc<Mutex<File>>>,
}

impl Reporter {
    /// Reports on the channel this process's supervisor passed, if any.
    /// The descriptor is taken on the first call; later calls share it.
    pub(crate) fn from_env() -> Self {
        static CHANNEL: OnceLock<Option<Arc<Mutex<File>>>> = OnceLock::new();
        let channel = CHANNEL.get_or_init(|| {
            let fd = std::env::var(REPORT_FD_ENV).ok()?;
            match adopt(&fd) {
                Ok(file) => Some(Arc::new(Mutex::new(file))),
                Err(error) => {
                    if std::env::var_os(SUPERVISED_ENV).is_some() {
                        tracing::error!(target: "fastevent", %error, "started by a supervisor, but cannot report to it ({REPORT_FD_ENV}={fd})");
                    }
                    None
                }
            }
        });
        Self {
            channel: channel.clone(),
        }
    }

    /// A reporter that says nothing (a worker run in-process).
    pub(crate) fn silent() -> Self {
        Self { channel: None }
    }

    /// Sends `message`. A supervisor that is gone is no error here: the
    /// worker notices it by its parent (see `work --worker`).
    pub(crate) fn send(&self, message: &WorkerMessage) {
        let Some(channel) = &self.channel else { return };
        let frame = message.to_frame();
        // A task that panicked while writing left at worst a cut frame,
        // which the supervisor's decoder skips.
        let mut file = channel
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = file.write_all(&frame);
    }
}

/// Inherited descriptors are a Unix notion, and so is the supervisor that
/// passes one: elsewhere a worker has no supervisor to report to.
#[cfg(not(unix))]
fn adopt(_fd: &str) -> std::io::Result<File> {
    Err(std::io::Error::other("report channels need Unix"))
}

/// Takes ownership of the inherited report descriptor named by `fd`, once
/// it is known to be an open pipe, and marks it close-on-exec.
#[cfg(unix)]
fn adopt(fd: &str) -> std::io::Result<File> {
    let raw: RawFd = fd
        .parse()
        .ok()
        .filter(|n| *n > 2)
        .ok_or_else(|| std::io::Error::other("not a descriptor number above 2"))?;
    // SAFETY: fcntl(F_GETFD) only reads the descriptor table; any number is
    // a valid argument, a closed one fails with EBADF.
    if unsafe { libc::fcntl(raw, libc::F_GETFD) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is open (checked just above) and nothing in this
    // process closes it while this borrow lives: only `adopt` uses it, once
    // per process (behind a OnceLock).
    let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
    let mode = SFlag::from_bits_truncate(fstat(borrowed)?.st_mode);
    if mode & SFlag::S_IFMT != SFlag::S_IFIFO {
        return Err(std::io::Error::other("not a pipe"));
    }
    // SAFETY: `raw` is open and owned by no other object of this process:
    // the supervisor created it for this process's reports alone, the
    // standard library and the runtime only use descriptors they opened
    // themselves, and this runs once per process (behind a OnceLock), so
    // the OwnedFd made here is its only owner and closes it once.
    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
    fcntl(&owned, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    debug_assert_eq!(owned.as_raw_fd(), raw);
    Ok(File::from(owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_reporter_and_its_clones_send_nothing() {
        let reporter = Reporter::silent();
        let heartbeats = reporter.clone(); // for a task of its own
        let stopping = WorkerMessage::Stopping {
            reason: "max jobs".into(),
        };
        std::thread::spawn(move || heartbeats.send(&stopping))
            .join()
            .unwrap();
        assert!(reporter.channel.is_none());
    }
}
