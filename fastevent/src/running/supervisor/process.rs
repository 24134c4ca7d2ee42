//! One worker process: started from this very binary (so it runs the same
//! listeners, and a fresh image of it: no state inherited from a live
//! runtime), in its own process group (a terminal's Ctrl+C reaches the
//! supervisor only, which then drains its workers). Two streams are read,
//! each on a task of its own: its reports, on a pipe made for them alone
//! (see [`crate::worker::report`]), and its standard output, the listeners'
//! lines, forwarded as they are.
//!
//! The child is reaped only by [`WorkerProcess::try_exit`], called from the
//! supervisor's loop: until then its pid cannot be reused, so a signal the
//! loop sends can only ever reach this worker (or its process group).

use crate::worker::report::{
    REPORT_FD_ENV, ReportDecoder, ReportError, SUPERVISED_ENV, SUPERVISOR_PID_ENV, WorkerMessage,
};
use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The longest line of a worker's output forwarded as one; a longer one
/// (megabytes without a newline) is forwarded in pieces of this size.
const MAX_LINE: u64 = 64 * 1024;

/// How to start a worker: the program and its arguments. Usually this very
/// program, from [`WorkerCommand::current_exe`].
///
/// ```
/// use fastevent::supervisor::WorkerCommand;
///
/// // In `app work --concurrency 4`:
/// let command = WorkerCommand::current_exe(["work".into(), "--concurrency".into(), "4".into()])?;
/// assert_eq!(command.program, std::env::current_exe()?);
/// assert_eq!(command.args, ["work", "--concurrency", "4", "--worker"]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    /// The program (this binary).
    pub program: PathBuf,
    /// Its arguments, `--worker` included.
    pub args: Vec<OsString>,
}

impl WorkerCommand {
    /// This binary, run with `args` (this process's own, without the program
    /// name) plus `--worker`.
    pub fn current_exe(args: impl IntoIterator<Item = OsString>) -> std::io::Result<Self> {
        let mut args: Vec<OsString> = args.into_iter().collect();
        args.push("--worker".into());
        Ok(Self {
            program: std::env::current_exe()?,
            args,
        })
    }
}

/// What a worker's readers tell the supervisor's loop, by worker number.
#[derive(Debug)]
pub(super) enum Output {
    /// One line of its standard output, without the newline.
    Line(u32, String),
    /// Its standard output closed: every line has been sent.
    Closed(u32),
    /// One report, or why a frame of its report channel was unreadable.
    Report(u32, Result<WorkerMessage, ReportError>),
    /// Its report channel closed: every report has been sent.
    ReportsClosed(u32),
}

/// A running worker process, as the supervisor starts and watches it.
#[derive(Debug)]
pub(super) struct WorkerProcess {
    child: Child,
    pid: u32,
    readers: [JoinHandle<()>; 2],
}

impl WorkerProcess {
    /// Starts worker `number` for supervisor `supervisor_id`; its output
    /// lines and its reports arrive on `output`.
    pub(super) fn spawn(
        command: &WorkerCommand,
        number: u32,
        supervisor_id: &str,
        output: mpsc::Sender<Output>,
    ) -> std::io::Result<Self> {
        let (report_end, reports) = pipe::pipe()?;
        let report_end = above_stdio(report_end.into_blocking_fd()?)?;
        let mut child = worker_command(command, supervisor_id, &report_end).spawn()?;
        // The worker has its copy; ours must go, or the end of its reports
        // would never be seen.
        drop(report_end);
        let pid = child
            .id()
            .ok_or_else(|| std::io::Error::other("the worker exited before it could be watched"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let readers = [
            tokio::spawn(read_lines(number, stdout, output.clone())),
            tokio::spawn(read_reports(number, reports, output)),
        ];
        Ok(Self {
            child,
            pid,
            readers,
        })
    }

    /// Its process id.
    pub(super) fn pid(&self) -> u32 {
        self.pid
    }

    /// Asks it to stop gracefully (it drains, then exits).
    pub(super) fn terminate(&self) {
        self.signal(Signal::SIGTERM, false);
    }

    /// Kills it, and whatever it started in its process group.
    pub(super) fn kill(&self) {
        self.signal(Signal::SIGKILL, true);
    }

    fn signal(&self, signal: Signal, whole_group: bool) {
        let pid = Pid::from_raw(self.pid as i32);
        // The group id is the worker's pid (`process_group(0)`).
        let target = if whole_group {
            Pid::from_raw(-pid.as_raw())
        } else {
            pid
        };
        match kill(target, signal) {
            // Already gone (exited, not yet reaped): nothing to do.
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(error) => {
                tracing::warn!(target: "fastevent::supervisor", pid = self.pid, %error, "could not send {signal}")
            }
        }
    }

    /// Its exit status, once it has exited (this reaps it).
    pub(super) fn try_exit(&mut self) -> Option<ExitStatus> {
        match self.child.try_wait() {
            Ok(status) => status,
            Err(error) => {
                tracing::warn!(target: "fastevent::supervisor", pid = self.pid, %error, "could not check a worker");
                None
            }
        }
    }

    /// Stops reading its output and reports (something it started still
    /// holds its standard output open after it exited).
    pub(super) fn stop_reading(&self) {
        self.readers.iter().for_each(JoinHandle::abort);
    }
}

/// The command for one worker: in a process group of its own, its reports
/// written to `report_end`, which it inherits under the number it has here.
fn worker_command(command: &WorkerCommand, supervisor_id: &str, report_end: &OwnedFd) -> Command {
    let report_fd = report_end.as_raw_fd();
    let mut worker = Command::new(&command.program);
    worker
        .args(&command.args)
        .env(SUPERVISED_ENV, supervisor_id)
        .env(SUPERVISOR_PID_ENV, std::process::id().to_string())
        .env(REPORT_FD_ENV, report_fd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe calls are allowed: it makes one fcntl call and
    // reads errno, allocating nothing, taking no lock, touching no state
    // shared with other threads (`report_fd` is a copied integer).
    unsafe {
        worker.pre_exec(move || inherit(report_fd));
    }
    worker
}

/// In the child before exec: keeps `fd` open across the exec (it was
/// created close-on-exec, so that no other child inherits it). Only
/// async-signal-safe calls.
fn inherit(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl(F_SETFD) on a number changes only that descriptor's
    // flags; `fd` is the report pipe's write end, which `spawn` keeps open
    // until the child is started, so it is open in this child.
    match unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } {
        -1 => Err(std::io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// `fd`, or a close-on-exec copy numbered 3 or above when it is one of the
/// standard streams' numbers (a supervisor started with one closed): the
/// child's standard streams are set up before `inherit` runs and would
/// replace it.
fn above_stdio(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let copy = fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else
    // owns; this OwnedFd is its only owner.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(copy) })
}

/// Sends every line until the pipe closes. Bytes are read, not UTF-8 lines:
/// one invalid byte from a listener must not stop the reading, or the worker
/// would block on a full pipe. Lines are cut at [`MAX_LINE`] bytes.
async fn read_lines(
    number: u32,
    stdout: tokio::process::ChildStdout,
    output: mpsc::Sender<Output>,
) {
    let mut reader = BufReader::new(stdout);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let mut line = (&mut reader).take(MAX_LINE);
        match line.read_until(b'\n', &mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                while buffer.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                    buffer.pop();
                }
                let line = String::from_utf8_lossy(&buffer).into_owned();
                if output.send(Output::Line(number, line)).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = output.send(Output::Closed(number)).await;
}

/// Sends every report until the pipe closes; a frame that cannot be read
/// is sent as an error, and reading goes on with the next one.
async fn read_reports(number: u32, mut reports: pipe::Receiver, output: mpsc::Sender<Output>) {
    let mut decoder = ReportDecoder::new();
    let mut buffer = vec![0; 8192];
    loop {
        let decoded = match reports.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => decoder.push(&buffer[..read]),
        };
        for report in decoded {
            if output.send(Output::Report(number, report)).await.is_err() {
                return;
            }
        }
    }
    if let Some(error) = decoder.finish() {
        let _ = output.send(Output::Report(number, Err(error))).await;
    }
    let _ = output.send(Output::ReportsClosed(number)).await;
}

/// How an exit status reads in the account: "exit code 1", "signal SIGKILL".
pub(super) fn describe_exit(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    match status.signal() {
        Some(number) => match Signal::try_from(number) {
            Ok(signal) => format!("signal {signal}"),
            Err(_) => format!("signal {number}"),
        },
        None => "an unknown status".into(),
    }
}
