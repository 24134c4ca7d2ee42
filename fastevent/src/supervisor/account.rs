//! How the supervisor speaks: one readable line per thing that happened, on
//! its standard output (the reference printed nothing unless `--verbose`:
//! W29), and the same line to `tracing` for log collectors. Workers' own
//! lines are passed through, prefixed with the worker's number.

use std::fmt::Display;
use std::io::Write;

/// Something that happened to the pool.
pub(super) fn say(message: impl Display) {
    write_line(format_args!("[supervisor] {message}"));
    tracing::debug!(target: "fastevent::supervisor", "{message}");
}

/// Something that went wrong.
pub(super) fn warn(message: impl Display) {
    write_line(format_args!("[supervisor] {message}"));
    tracing::warn!(target: "fastevent::supervisor", "{message}");
}

/// A line a worker printed (its listeners' output).
pub(super) fn forward(number: u32, line: &str) {
    write_line(format_args!("[worker {number}] {line}"));
}

/// "1 worker", "3 workers".
pub(super) fn workers(n: usize) -> String {
    format!("{n} worker{}", if n == 1 { "" } else { "s" })
}

/// Writes errors away: a closed standard output (`work | head`) must not
/// bring the supervisor down with its workers.
fn write_line(line: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
