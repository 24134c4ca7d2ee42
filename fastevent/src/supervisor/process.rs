//! One worker process: started from this very binary (so it runs the same
//! listeners, and a fresh image of it: no state inherited from a live
//! runtime, W28), in its own process group (a terminal's Ctrl+C reaches the
//! supervisor only, which then drains its workers), its standard output read
//! line by line on a task of its own.
//!
//! The child is reaped only by [`WorkerProcess::try_exit`], called from the
//! supervisor's loop: until then its pid cannot be reused, so a signal the
//! loop sends can only ever reach this worker (or its process group).

use crate::worker::report::SUPERVISED_ENV;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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

/// What a worker's output reader reports to the supervisor's loop, by
/// worker number.
#[derive(Debug)]
pub enum Output {
    /// One line of its standard output, without the newline.
    Line(u32, String),
    /// Its standard output closed: every line has been sent.
    Closed(u32),
}

/// A running worker process, as the supervisor starts and watches it.
#[derive(Debug)]
pub struct WorkerProcess {
    child: Child,
    pid: u32,
    reader: JoinHandle<()>,
}

impl WorkerProcess {
    /// Starts worker `number` for supervisor `supervisor_id`; its output
    /// lines arrive on `output`.
    pub fn spawn(
        command: &WorkerCommand,
        number: u32,
        supervisor_id: &str,
        output: mpsc::Sender<Output>,
    ) -> std::io::Result<Self> {
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .env(SUPERVISED_ENV, supervisor_id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| std::io::Error::other("the worker exited before it could be watched"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let reader = tokio::spawn(read_lines(number, stdout, output));
        Ok(Self { child, pid, reader })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Asks it to stop gracefully (it drains, then exits).
    pub fn terminate(&self) {
        self.signal(Signal::SIGTERM, false);
    }

    /// Kills it, and whatever it started in its process group.
    pub fn kill(&self) {
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
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        match self.child.try_wait() {
            Ok(status) => status,
            Err(error) => {
                tracing::warn!(target: "fastevent::supervisor", pid = self.pid, %error, "could not check a worker");
                None
            }
        }
    }

    /// Stops reading its output (something it started still holds the
    /// pipe open after it exited).
    pub fn stop_reading(&self) {
        self.reader.abort();
    }
}

/// Sends every line until the pipe closes. Bytes are read, not UTF-8 lines:
/// one invalid byte from a listener must not stop the reading, or the worker
/// would block on a full pipe.
async fn read_lines(
    number: u32,
    stdout: tokio::process::ChildStdout,
    output: mpsc::Sender<Output>,
) {
    let mut reader = BufReader::new(stdout);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer).await {
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

/// How an exit status reads in the account: "exit code 1", "signal SIGKILL".
pub fn describe_exit(status: &ExitStatus) -> String {
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
