//! `work --tui`: the supervisor, shown as a live dashboard (in the manner of
//! fast-app's Textual TUI and Laravel Horizon): its workers, the jobs
//! they run, throughput, the queues, the failed jobs; keys scale the pool,
//! retry a failed job, and quit (the workers drain, as on SIGTERM).
//!
//! - [`app`]: the state, pure and unit-tested (snapshots in, actions out);
//! - [`view`]: the drawing, tested against ratatui's `TestBackend`;
//! - here: the terminal (raw mode and the alternate screen, given back on
//!   exit and on a panic), and one loop that feeds the app from the
//!   supervisor's snapshots and account, the keys, and a task that reads
//!   the queue, and performs the app's actions.
//!
//! What it reads works on every durable driver: the supervisor's snapshot
//! and [`QueueAdmin`] (`depth`, `failed_count`, `failed_jobs`,
//! `retry_failed`). A supervisor that fails is reported, not swallowed,
//! and the TUI exits only once its workers are gone.

mod app;
mod view;

use super::status::{Status, queue_status};
use super::{CliError, CommandResult};
use crate::driver::durable::{DurableQueue, FailedJob, QueueAdmin, QueueError, Selection};
use crate::job::now_ms;
use crate::supervisor::{
    AccountLine, LineSource, Supervisor, SupervisorExit, SupervisorHandle, SupervisorState,
};
use app::{Action, App, FAILED_SHOWN};
use crossterm::cursor::{Hide, Show};
use crossterm::event::{Event, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::future::Future;
use std::io::{BufRead, BufReader, IsTerminal, Stdout};
use std::os::fd::{AsFd, OwnedFd};
use std::panic::PanicHookInfo;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Account lines waiting for the dashboard; more are dropped (and counted)
/// by the supervisor rather than waited for.
const ACCOUNT_BUFFER: usize = 4096;

/// How often the queues are read (the supervisor's snapshots come every
/// 100 ms on their own).
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// A queue reading that takes longer is a failed one.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);

/// Reading or retrying the failed store: on AMQP a scan of the whole store,
/// which may take long on a big one.
const SCAN_TIMEOUT: Duration = Duration::from_secs(120);

/// The screen is redrawn at most this often (a chatty listener must not
/// make it redraw per line); keys redraw at once.
const FRAME_EVERY: Duration = Duration::from_millis(100);

/// Log lines printed after the screen is given back: how it ended.
const TAIL_LINES: usize = 20;

/// What the supervisor's task returns.
type Ended = Result<std::io::Result<SupervisorExit>, tokio::task::JoinError>;

/// The supervisor, running in a task of its own.
type Running = tokio::task::JoinHandle<std::io::Result<SupervisorExit>>;

/// Runs `supervisor` with the dashboard until it returns (quit, SIGTERM,
/// SIGINT, or every worker done by its limits).
pub(super) async fn run(supervisor: Supervisor, queue: Arc<dyn DurableQueue>) -> CommandResult {
    if !std::io::stdout().is_terminal() {
        return Err(CliError::new(
            "--tui needs a terminal on standard output (without --tui the supervisor prints its log)",
        ));
    }
    let (lines_tx, lines) = mpsc::channel(ACCOUNT_BUFFER);
    let supervisor = supervisor.account_to(lines_tx.clone());
    let handle = supervisor.handle();
    let snapshots = supervisor.subscribe();
    let console = Console::enter(lines_tx)?;

    let mut running = tokio::spawn(supervisor.run(Arc::clone(&queue)));
    let (requests, requests_rx) = mpsc::unbounded_channel();
    let (readings_tx, readings) = mpsc::channel(16);
    let reader = tokio::spawn(read_queue(queue, requests_rx, readings_tx));
    let mut dashboard = Dashboard::new(console, snapshots, lines, readings, handle, requests);
    let exit = dashboard.until_exit(&mut running).await?;
    reader.abort();
    let (handle, lines) = dashboard.give_back_screen();
    conclude(exit, running, &handle, lines).await
}

/// The dashboard's loop: the app, the console it draws on, and every
/// source that feeds it.
struct Dashboard {
    app: App,
    console: Console,
    keys: Option<EventStream>,
    snapshots: Option<tokio::sync::watch::Receiver<SupervisorState>>,
    lines: mpsc::Receiver<AccountLine>,
    readings: mpsc::Receiver<Reading>,
    frame: tokio::time::Interval,
    handle: SupervisorHandle,
    requests: mpsc::UnboundedSender<Request>,
    /// Something changed since the last frame was drawn.
    dirty: bool,
}

/// One thing the loop woke up for.
enum Input {
    Exited(Ended),
    Key(Option<std::io::Result<Event>>),
    /// A new snapshot, or `false`: the supervisor returned.
    Snapshot(bool),
    Line(AccountLine),
    Reading(Reading),
    Frame,
}

impl Dashboard {
    fn new(
        console: Console,
        mut snapshots: tokio::sync::watch::Receiver<SupervisorState>,
        lines: mpsc::Receiver<AccountLine>,
        readings: mpsc::Receiver<Reading>,
        handle: SupervisorHandle,
        requests: mpsc::UnboundedSender<Request>,
    ) -> Self {
        let mut frame = tokio::time::interval(FRAME_EVERY);
        frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut app = App::new();
        app.on_clock(now_ms());
        app.on_snapshot(snapshots.borrow_and_update().clone(), Instant::now());
        Dashboard {
            app,
            console,
            keys: Some(EventStream::new()),
            snapshots: Some(snapshots),
            lines,
            readings,
            frame,
            handle,
            requests,
            dirty: true,
        }
    }

    /// Feeds the app and draws until the supervisor returns (`Some`) or a
    /// panic elsewhere gave the terminal back (`None`).
    async fn until_exit(&mut self, running: &mut Running) -> std::io::Result<Option<Ended>> {
        loop {
            let input = self.next_input(running).await;
            if let Input::Exited(exit) = input {
                return Ok(Some(exit));
            }
            let draw_now = self.take(input);
            if self.console.given_back() {
                return Ok(None);
            }
            if draw_now {
                self.console.draw(&self.app)?;
                self.dirty = false;
            }
        }
    }

    async fn next_input(&mut self, running: &mut Running) -> Input {
        tokio::select! {
            exit = running => Input::Exited(exit),
            event = next_key(&mut self.keys), if self.keys.is_some() => Input::Key(event),
            changed = changed(&mut self.snapshots), if self.snapshots.is_some() => {
                Input::Snapshot(changed)
            }
            Some(line) = self.lines.recv() => Input::Line(line),
            Some(reading) = self.readings.recv() => Input::Reading(reading),
            _ = self.frame.tick() => Input::Frame,
        }
    }

    /// Hands `input` to the app and performs what it asks; whether to draw
    /// at once (a key, or a frame with something new).
    fn take(&mut self, input: Input) -> bool {
        let app = &mut self.app;
        let mut action = None;
        let mut draw_now = false;
        match input {
            Input::Exited(_) => {}
            Input::Key(Some(Ok(Event::Key(key)))) => {
                action = app.on_key(key);
                draw_now = true;
            }
            // A resize: draw again at the new size.
            Input::Key(Some(Ok(_))) => self.dirty = true,
            Input::Key(Some(Err(error))) => {
                self.keys = None;
                app.on_log(stderr_line(format!(
                    "cannot read keys any more ({error}); stop the supervisor with SIGTERM"
                )));
            }
            Input::Key(None) => self.keys = None,
            Input::Snapshot(true) => {
                if let Some(snapshots) = &mut self.snapshots {
                    app.on_snapshot(snapshots.borrow_and_update().clone(), Instant::now());
                }
                self.dirty = true;
            }
            // The supervisor returned: `running` is ready too.
            Input::Snapshot(false) => self.snapshots = None,
            Input::Line(line) => {
                app.on_log(line);
                self.dirty = true;
            }
            Input::Reading(reading) => {
                action = match reading {
                    Reading::Status(status) => app.on_status(status, Instant::now()),
                    Reading::Failed(jobs) => {
                        app.on_failed_jobs(jobs);
                        None
                    }
                    Reading::Retried(id, outcome) => Some(app.on_retried(id, outcome)),
                };
                self.dirty = true;
            }
            Input::Frame => {
                app.on_clock(now_ms());
                draw_now = self.dirty;
            }
        }
        if let Some(action) = action {
            perform(action, &self.handle, &self.requests, &mut self.app);
        }
        draw_now
    }

    /// Gives the terminal back and prints the log's last lines (how it
    /// ended); what is still needed to finish.
    fn give_back_screen(mut self) -> (SupervisorHandle, mpsc::Receiver<AccountLine>) {
        drop(self.keys.take());
        self.console.leave();
        while let Ok(line) = self.lines.try_recv() {
            self.app.on_log(line);
        }
        let tail = self.app.log.len().saturating_sub(TAIL_LINES);
        for line in self.app.log.iter().skip(tail) {
            println!("{line}");
        }
        (self.handle, self.lines)
    }
}

async fn next_key(keys: &mut Option<EventStream>) -> Option<std::io::Result<Event>> {
    match keys {
        Some(keys) => keys.next().await,
        None => std::future::pending().await,
    }
}

async fn changed(snapshots: &mut Option<tokio::sync::watch::Receiver<SupervisorState>>) -> bool {
    match snapshots {
        Some(snapshots) => snapshots.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// The command's result from how the supervisor ended. After a panic the
/// screen is gone but the workers are not: they drain as on a quit, and
/// the plain output says what happens.
async fn conclude(
    exit: Option<Ended>,
    mut running: Running,
    handle: &SupervisorHandle,
    mut lines: mpsc::Receiver<AccountLine>,
) -> CommandResult {
    match exit {
        Some(Ok(Ok(_))) => Ok(ExitCode::SUCCESS),
        Some(Ok(Err(error))) => Err(error.into()),
        Some(Err(error)) => Err(CliError::new(format!(
            "the supervisor stopped unexpectedly: {error}"
        ))),
        None => {
            let _ = handle.shut_down();
            println!("[dashboard] it stopped after a panic; stopping the workers");
            loop {
                tokio::select! {
                    _ = &mut running => break,
                    Some(line) = lines.recv() => println!("{line}"),
                }
            }
            Err(CliError::new("the dashboard stopped after a panic"))
        }
    }
}

/// Does what a key or a reading asked for. Nothing here waits: requests
/// to the supervisor and to the queue reader are channel sends.
fn perform(
    action: Action,
    supervisor: &SupervisorHandle,
    queue: &mpsc::UnboundedSender<Request>,
    app: &mut App,
) {
    match action {
        Action::SetPool { min, max } => {
            if let Err(error) = supervisor.set_pool(min, max) {
                app.on_pool_refused(error);
            }
        }
        Action::Shutdown => {
            // Refused only once the supervisor returned, which ends the
            // loop anyway.
            let _ = supervisor.shut_down();
        }
        Action::Retry(id) => {
            let _ = queue.send(Request::Retry(id));
        }
        Action::RefreshFailed => {
            let _ = queue.send(Request::RefreshFailed);
        }
    }
}

// ------------------------------------------------------------ the queue

/// What the dashboard asks of the queue, besides the periodic status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    RefreshFailed,
    Retry(i64),
}

/// What the queue reader brings back.
#[derive(Debug)]
enum Reading {
    Status(Result<Status, String>),
    Failed(Result<Vec<FailedJob>, String>),
    Retried(i64, Result<u64, String>),
}

/// Reads the status every [`STATUS_EVERY`] and serves requests, one
/// operation at a time: on AMQP a failed-store scan hides the failed jobs
/// while it runs, so a count read meanwhile would be low, and two scans at
/// once would each see part of the store. A slow queue delays the
/// dashboard's figures, never its keys or the supervisor.
async fn read_queue(
    queue: Arc<dyn QueueAdmin>,
    mut requests: mpsc::UnboundedReceiver<Request>,
    readings: mpsc::Sender<Reading>,
) {
    let mut tick = tokio::time::interval(STATUS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let reading = tokio::select! {
            // Asked by a key: before the next periodic reading.
            biased;
            request = requests.recv() => match request {
                None => return,
                Some(Request::RefreshFailed) => Reading::Failed(
                    within(SCAN_TIMEOUT, queue.failed_jobs(FAILED_SHOWN)).await,
                ),
                Some(Request::Retry(id)) => Reading::Retried(
                    id,
                    within(SCAN_TIMEOUT, queue.retry_failed(Selection::One(id))).await,
                ),
            },
            _ = tick.tick() => Reading::Status(within(STATUS_TIMEOUT, queue_status(&*queue)).await),
        };
        if readings.send(reading).await.is_err() {
            return;
        }
    }
}

/// `operation`'s result, its error as text, or a timeout.
async fn within<T>(
    limit: Duration,
    operation: impl Future<Output = Result<T, QueueError>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {}s", limit.as_secs())),
    }
}

fn stderr_line(text: String) -> AccountLine {
    AccountLine {
        source: LineSource::Stderr,
        text,
    }
}

// ---------------------------------------------------------- the terminal

/// The terminal while the dashboard owns it: raw mode, the alternate
/// screen, and standard error captured into the log pane. Given back by
/// [`Console::leave`], on drop, and by a panic hook, whichever comes first.
struct Console {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    restore: Arc<Restore>,
    previous_hook: Arc<PanicHook>,
}

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

impl Console {
    /// Takes the terminal; standard error's lines go to `log` meanwhile.
    fn enter(log: mpsc::Sender<AccountLine>) -> std::io::Result<Self> {
        let restore = Arc::new(Restore::default());
        // The panic hook first: a panic from here on must not leave the
        // terminal in raw mode, and its message must reach the real
        // standard error, after the terminal is back.
        let previous_hook: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        {
            let restore = Arc::clone(&restore);
            let previous_hook = Arc::clone(&previous_hook);
            std::panic::set_hook(Box::new(move |info| {
                restore.run();
                previous_hook(info);
            }));
        }
        let console = |terminal| Self {
            terminal,
            restore: Arc::clone(&restore),
            previous_hook: Arc::clone(&previous_hook),
        };
        let entered = (|| {
            capture_stderr(&restore, log)?;
            enable_raw_mode()?;
            execute!(std::io::stdout(), EnterAlternateScreen, Hide)?;
            Terminal::new(CrosstermBackend::new(std::io::stdout()))
        })();
        match entered {
            Ok(terminal) => Ok(console(terminal)),
            Err(error) => {
                restore.run();
                restore_hook(&previous_hook);
                Err(error)
            }
        }
    }

    /// Draws `app`, unless the terminal was given back meanwhile.
    fn draw(&mut self, app: &App) -> std::io::Result<()> {
        if !self.given_back() {
            self.terminal.draw(|frame| view::draw(frame, app))?;
        }
        Ok(())
    }

    /// Whether the terminal was given back (by a panic, if not by `leave`).
    fn given_back(&self) -> bool {
        self.restore.done.load(Ordering::SeqCst)
    }

    /// Gives the terminal back, and standard error, and the panic hook.
    fn leave(&mut self) {
        self.restore.run();
        restore_hook(&self.previous_hook);
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.leave();
    }
}

fn restore_hook(previous: &Arc<PanicHook>) {
    let previous = Arc::clone(previous);
    // `take_hook` drops ours (which holds the terminal's restore).
    let _ = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| previous(info)));
}

/// Gives the terminal back once, from wherever it is called first.
#[derive(Default)]
struct Restore {
    done: AtomicBool,
    /// The real standard error, while fd 2 is the capture pipe.
    saved_stderr: Mutex<Option<OwnedFd>>,
}

impl Restore {
    fn run(&self) {
        if self.done.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = execute!(std::io::stdout(), LeaveAlternateScreen, Show);
        let _ = disable_raw_mode();
        let saved = self
            .saved_stderr
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(saved) = saved {
            let _ = nix::unistd::dup2_stderr(saved);
        }
    }
}

/// Points fd 2 at a pipe whose lines go to `log`, when it is the terminal:
/// the supervisor's own standard error (tracing, warnings) and its
/// workers' (they inherit fd 2) would otherwise write over the screen.
/// Standard error sent elsewhere (`2>file`) is left there.
fn capture_stderr(restore: &Restore, log: mpsc::Sender<AccountLine>) -> std::io::Result<()> {
    let stderr = std::io::stderr();
    if !stderr.is_terminal() {
        return Ok(());
    }
    let (reader, writer) = std::io::pipe()?;
    // std's clone is close-on-exec: workers inherit the pipe as their
    // fd 2, never this copy of the terminal.
    let saved = stderr.as_fd().try_clone_to_owned()?;
    nix::unistd::dup2_stderr(&writer)?;
    *restore
        .saved_stderr
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(saved);
    // fd 2 (and the workers' copies) keep the pipe open; this end closes.
    drop(writer);
    std::thread::Builder::new()
        .name("fastevent-tui-stderr".into())
        .spawn(move || forward_lines(reader, &log))?;
    Ok(())
}

/// Sends every line to `log` until the pipe closes. Always reads on, even
/// when the dashboard is gone or behind: a full pipe would block every
/// process that writes to standard error, the supervisor included.
fn forward_lines(reader: impl std::io::Read, log: &mpsc::Sender<AccountLine>) {
    let mut reader = BufReader::new(reader);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                while buffer.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                    buffer.pop();
                }
                let text = String::from_utf8_lossy(&buffer).into_owned();
                let _ = log.try_send(stderr_line(text));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::durable::QueueDepth;

    type QueueFuture<'a, T> = futures_util::future::BoxFuture<'a, Result<T, QueueError>>;

    /// A queue with a failed store; its slow operations (`depth`, the
    /// scans) note when one starts while another runs, which the reader
    /// must never let happen.
    #[derive(Default)]
    struct FakeQueue {
        failed: Mutex<Vec<i64>>,
        scanning: AtomicBool,
        overlapped: AtomicBool,
    }

    impl FakeQueue {
        fn scan(&self) {
            if self.scanning.swap(true, Ordering::SeqCst) {
                self.overlapped.store(true, Ordering::SeqCst);
            }
        }
        fn done(&self) {
            self.scanning.store(false, Ordering::SeqCst);
        }
    }

    fn nothing<'a, T: Send + 'a>(value: T) -> QueueFuture<'a, T> {
        Box::pin(std::future::ready(Ok(value)))
    }

    impl QueueAdmin for FakeQueue {
        fn depth(&self) -> QueueFuture<'_, Vec<QueueDepth>> {
            Box::pin(async move {
                self.scan();
                tokio::time::sleep(Duration::from_millis(5)).await;
                self.done();
                Ok(vec![QueueDepth {
                    queue: "default".into(),
                    ready: 3,
                    ..QueueDepth::default()
                }])
            })
        }
        fn failed_jobs(&self, _: usize) -> QueueFuture<'_, Vec<FailedJob>> {
            Box::pin(async move {
                self.scan();
                tokio::time::sleep(Duration::from_millis(5)).await;
                self.done();
                let ids = self.failed.lock().unwrap().clone();
                Ok(ids.into_iter().map(app::tests::failed_job).collect())
            })
        }
        fn failed_job(&self, _: i64) -> QueueFuture<'_, Option<FailedJob>> {
            nothing(None)
        }
        fn retry_failed(&self, which: Selection) -> QueueFuture<'_, u64> {
            Box::pin(async move {
                self.scan();
                tokio::time::sleep(Duration::from_millis(5)).await;
                self.done();
                let mut failed = self.failed.lock().unwrap();
                let before = failed.len();
                failed.retain(|id| which != Selection::One(*id));
                Ok((before - failed.len()) as u64)
            })
        }
        fn forget_failed(&self, _: Selection) -> QueueFuture<'_, u64> {
            nothing(0)
        }
        fn failed_count(&self) -> QueueFuture<'_, u64> {
            Box::pin(async move { Ok(self.failed.lock().unwrap().len() as u64) })
        }
    }

    #[tokio::test]
    async fn the_queue_reader_serves_requests_one_at_a_time_beside_its_status_readings() {
        let queue = Arc::new(FakeQueue::default());
        queue.failed.lock().unwrap().extend([7, 8]);
        let (requests, requests_rx) = mpsc::unbounded_channel();
        let (readings_tx, mut readings) = mpsc::channel(16);
        let reader = tokio::spawn(read_queue(
            Arc::clone(&queue) as Arc<dyn QueueAdmin>,
            requests_rx,
            readings_tx,
        ));
        let mut app = App::new();
        // The first status reading asks for the failed list.
        let mut retried = false;
        let mut actions = 0;
        while !retried {
            let reading = tokio::time::timeout(Duration::from_secs(10), readings.recv())
                .await
                .expect("a reading")
                .expect("the reader runs");
            let action = match reading {
                Reading::Status(status) => {
                    let status = status.unwrap();
                    assert!(
                        status
                            .queues
                            .iter()
                            .any(|q| q.queue == "default" && q.ready == 3)
                    );
                    app.on_status(Ok(status), Instant::now())
                }
                Reading::Failed(jobs) => {
                    app.on_failed_jobs(jobs);
                    assert_eq!(app.selected_index(), Some(0));
                    (actions == 1).then_some(Action::Retry(7))
                }
                Reading::Retried(id, outcome) => {
                    assert_eq!((id, outcome), (7, Ok(1)));
                    retried = true;
                    Some(app.on_retried(id, Ok(1)))
                }
            };
            if let Some(action) = action {
                actions += 1;
                let request = match action {
                    Action::RefreshFailed => Request::RefreshFailed,
                    Action::Retry(id) => Request::Retry(id),
                    other => panic!("{other:?}"),
                };
                requests.send(request).unwrap();
            }
        }
        assert_eq!(*queue.failed.lock().unwrap(), [8]);
        assert!(!queue.overlapped.load(Ordering::SeqCst));
        drop(requests);
        tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .expect("the reader stops when the dashboard does")
            .unwrap();
    }

    #[test]
    fn captured_lines_are_forwarded_whole_and_reading_goes_on_without_a_reader() {
        let (log, mut lines) = mpsc::channel(1);
        let input: &[u8] = b"first\r\nbad \xff byte\nlast without newline";
        forward_lines(input, &log);
        let line = lines.try_recv().unwrap();
        assert_eq!(
            (line.source, line.text.as_str()),
            (LineSource::Stderr, "first")
        );
        assert!(
            lines.try_recv().is_err(),
            "the rest did not fit and was dropped"
        );
        drop(lines);
        forward_lines(&b"more\nlines\n"[..], &log);
    }
}
