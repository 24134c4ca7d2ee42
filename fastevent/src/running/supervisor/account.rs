//! How the supervisor speaks: one readable line per thing that happened, on
//! its standard output (always, not only with `--verbose`: an operator
//! must see why a worker was killed or restarted), and the same line to `tracing` for log collectors. Workers' own
//! lines are passed through, prefixed with the worker's number.
//!
//! A dashboard that owns the terminal takes the lines instead
//! ([`super::Supervisor::account_to`]): written to the screen they would
//! scroll it apart, so they go to a channel the dashboard shows in a pane.

use std::cell::Cell;
use std::fmt::Display;
use std::io::Write;
use tokio::sync::mpsc;

/// One line of the supervisor's account, for a dashboard that took the
/// account with [`Supervisor::account_to`](super::Supervisor::account_to).
/// Its `Display` is the line as printed on standard output.
///
/// ```
/// use fastevent::supervisor::{AccountLine, LineSource};
///
/// let line = AccountLine { source: LineSource::Worker(3), text: "sent 12 mails".into() };
/// assert_eq!(line.to_string(), "[worker 3] sent 12 mails");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLine {
    /// Who says it.
    pub source: LineSource,
    /// The line, without the `[supervisor]` / `[worker N]` prefix.
    pub text: String,
}

/// Who a line of the account comes from, in [`AccountLine::source`]: how a
/// dashboard styles or filters it.
///
/// ```
/// use fastevent::supervisor::LineSource;
///
/// fn colour(source: LineSource) -> &'static str {
///     match source {
///         LineSource::Supervisor => "blue",
///         LineSource::Warning | LineSource::Stderr => "red",
///         LineSource::Worker(_) => "default",
///     }
/// }
/// assert_eq!(colour(LineSource::Warning), "red");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineSource {
    /// The supervisor: something that happened to the pool.
    Supervisor,
    /// The supervisor: something that went wrong.
    Warning,
    /// A worker's own output (its listeners' `println!`).
    Worker(u32),
    /// Standard error (the supervisor's and its workers'), which a
    /// dashboard captures too; the supervisor itself never sends these.
    Stderr,
}

impl std::fmt::Display for AccountLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.source {
            LineSource::Supervisor | LineSource::Warning => write!(f, "[supervisor] {}", self.text),
            LineSource::Worker(number) => write!(f, "[worker {number}] {}", self.text),
            LineSource::Stderr => write!(f, "[stderr] {}", self.text),
        }
    }
}

/// Where the account goes.
#[derive(Debug, Default)]
pub(super) struct Account {
    /// `None`: standard output.
    channel: Option<mpsc::Sender<AccountLine>>,
    /// Lines the channel had no room for since the last one it took.
    dropped: Cell<u64>,
}

impl Account {
    /// To a dashboard's channel instead of standard output.
    pub(super) fn to_channel(channel: mpsc::Sender<AccountLine>) -> Self {
        Self {
            channel: Some(channel),
            dropped: Cell::new(0),
        }
    }

    /// Something that happened to the pool.
    pub(super) fn say(&self, message: impl Display) {
        let text = message.to_string();
        tracing::debug!(target: "fastevent::supervisor", "{text}");
        self.write(LineSource::Supervisor, text);
    }

    /// Something that went wrong.
    pub(super) fn warn(&self, message: impl Display) {
        let text = message.to_string();
        tracing::warn!(target: "fastevent::supervisor", "{text}");
        self.write(LineSource::Warning, text);
    }

    /// A line a worker printed (its listeners' output).
    pub(super) fn forward(&self, number: u32, line: &str) {
        self.write(LineSource::Worker(number), line.to_string());
    }

    fn write(&self, source: LineSource, text: String) {
        let line = AccountLine { source, text };
        let Some(channel) = &self.channel else {
            return write_line(&line);
        };
        // Never waits: the supervisor's loop must not stall behind a
        // dashboard that draws slowly, nor behind a chatty listener. What
        // does not fit is counted, and the count is said once there is room.
        let dropped = self.dropped.get();
        if dropped > 0 {
            let notice = AccountLine {
                source: LineSource::Warning,
                text: format!("({dropped} lines dropped: the dashboard fell behind)"),
            };
            if channel.try_send(notice).is_err() {
                self.dropped.set(dropped + 1);
                return;
            }
            self.dropped.set(0);
        }
        if channel.try_send(line).is_err() {
            self.dropped.set(self.dropped.get() + 1);
        }
    }
}

/// "1 worker", "3 workers".
pub(super) fn workers(n: usize) -> String {
    format!("{n} worker{}", if n == 1 { "" } else { "s" })
}

/// Writes errors away: a closed standard output (`work | head`) must not
/// bring the supervisor down with its workers.
fn write_line(line: &AccountLine) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_channel_drops_lines_and_says_so_once_there_is_room() {
        let (tx, mut rx) = mpsc::channel(2);
        let account = Account::to_channel(tx);
        account.say("one");
        account.forward(3, "two");
        account.warn("three");
        account.say("four");
        assert_eq!(rx.try_recv().unwrap().to_string(), "[supervisor] one");
        assert_eq!(rx.try_recv().unwrap().to_string(), "[worker 3] two");
        assert!(rx.try_recv().is_err());
        account.say("five");
        let notice = rx.try_recv().unwrap();
        assert_eq!(notice.source, LineSource::Warning);
        assert!(notice.text.contains("2 lines dropped"), "{notice:?}");
        assert_eq!(rx.try_recv().unwrap().text, "five");
    }
}
