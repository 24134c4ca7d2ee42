//! Drawing the dashboard: one function per pane, each reading the
//! [`App`] only, so a known state renders to a known screen (tested with
//! ratatui's `TestBackend`).
//!
//! ```text
//! ┌ fastevent work · pid 4100 ───────────────────── 2026-05-01 12:00:03 UTC ┐
//! │● running   workers 3   pool min 1 · max 10   capacity 30 jobs   queues… │
//! │last minute: 120 done · 3 retried · 1 failed   total: 900 done · …       │
//! └──────────────────────────────────────────────────────────────────────────┘
//! ┌ Workers (3) · started 3, crashed 0, killed 0 ────────────────────────────┐
//! ┌ Running jobs (2) ──────────────────────────┐┌ Queues ────────────────────┐
//! ┌ Failed jobs (4) ─────────────────────────────────────────────────────────┐
//! ┌ Log ─────────────────────────────────────────────────────────────────────┐
//!  the outcome of the last key
//!  q quit  +/- min  ]/[ max  ↑/↓ select  r retry  f refresh failed
//! ```

use super::app::{App, FAILED_SHOWN, Rates};
use crate::cli::format::{escape, first_line, utc};
use crate::supervisor::{LineSource, Phase, SupervisorState, WorkerSnapshot, WorkerState};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use std::time::Duration;

/// Rows a table pane shows at most (the log takes the rest).
const TABLE_ROWS: usize = 8;

const HEADER: Style = Style::new().add_modifier(Modifier::BOLD);
const DIM: Style = Style::new().fg(Color::DarkGray);
const GOOD: Style = Style::new().fg(Color::Green);
const WARN: Style = Style::new().fg(Color::Yellow);
const BAD: Style = Style::new().fg(Color::Red);

/// Draws the whole dashboard.
pub(super) fn draw(frame: &mut Frame, app: &App) {
    let workers = app.supervisor.as_ref().map_or(0, |s| s.workers.len());
    let jobs = running_jobs(app).len();
    let queues = app.status.as_ref().map_or(0, |s| s.queues.len());
    let failed = app.failed_jobs.len();
    // A table's height: its rows (at least one line for "none"), a header
    // and two borders.
    let table = |rows: usize| Constraint::Length(rows.clamp(1, TABLE_ROWS) as u16 + 3);
    let [
        header_area,
        workers_area,
        middle,
        failed_area,
        log_area,
        footer_area,
    ] = Layout::vertical([
        Constraint::Length(4),
        table(workers),
        table(jobs.max(queues)),
        table(failed),
        Constraint::Min(3),
        Constraint::Length(2),
    ])
    .areas(frame.area());
    let [jobs_area, queues_area] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(middle);
    header(frame, header_area, app);
    workers_pane(frame, workers_area, app);
    jobs_pane(frame, jobs_area, app);
    queues_pane(frame, queues_area, app);
    failed_pane(frame, failed_area, app);
    log_pane(frame, log_area, app);
    footer(frame, footer_area, app);
}

// ------------------------------------------------------------ header

fn header(frame: &mut Frame, area: Rect, app: &App) {
    let title = match &app.supervisor {
        Some(state) => format!(" fastevent work · pid {} ", state.pid),
        None => " fastevent work ".to_string(),
    };
    let block = Block::bordered()
        .title(Span::styled(title, HEADER))
        .title_top(Line::from(format!(" {} ", utc(app.clock_ms))).right_aligned());
    let Some(state) = &app.supervisor else {
        let text = Paragraph::new("starting the supervisor…").block(block);
        return frame.render_widget(text, area);
    };
    let (phase, phase_style) = match (state.phase, app.quitting()) {
        (Phase::Running, false) => ("● running", GOOD),
        (Phase::Running, true) | (Phase::ShuttingDown, _) => ("■ stopping: workers drain", WARN),
        (Phase::WindingDown, _) => ("◐ winding down", WARN),
    };
    let active = state
        .workers
        .iter()
        .filter(|w| matches!(w.state, WorkerState::Starting | WorkerState::Ready))
        .count();
    let starting = state
        .workers
        .iter()
        .filter(|w| w.state == WorkerState::Starting)
        .count();
    let stopping = state.workers.len() - active;
    let mut workers = format!("workers {active}");
    if starting > 0 || stopping > 0 {
        workers.push_str(&format!(" ({starting} starting, {stopping} stopping)"));
    }
    let (min, max) = app.pool().unwrap_or((state.min_workers, state.max_workers));
    let pending = if app.pool_pending() { " (asked)" } else { "" };
    let first = Line::from(vec![
        Span::styled(phase, phase_style.add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            "   {workers}   pool min {min} · max {max}{pending}   capacity {} jobs   queues {}",
            active * state.concurrency,
            escape(&state.queues.join(",")),
        )),
    ]);
    frame.render_widget(
        Paragraph::new(vec![first, throughput_line(state, app.rates())]).block(block),
        area,
    );
}

fn throughput_line(state: &SupervisorState, rates: Option<Rates>) -> Line<'static> {
    let c = &state.counters;
    let mut spans = Vec::new();
    if let Some(rates) = rates {
        let window = if rates.window >= super::app::RATE_WINDOW {
            "last minute".to_string()
        } else {
            format!("last {}s", rates.window.as_secs())
        };
        spans.push(Span::raw(format!("{window}: ")));
        spans.push(Span::styled(format!("{} done", rates.jobs.succeeded), GOOD));
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            format!("{} retried", rates.jobs.retried),
            if rates.jobs.retried > 0 { WARN } else { DIM },
        ));
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            format!("{} failed", rates.jobs.failed),
            if rates.jobs.failed > 0 { BAD } else { DIM },
        ));
        spans.push(Span::raw("   "));
    }
    spans.push(Span::styled(
        format!(
            "total: {} done · {} retried · {} failed",
            c.jobs_succeeded, c.jobs_retried, c.jobs_failed,
        ),
        DIM,
    ));
    Line::from(spans)
}

// ------------------------------------------------------------ workers

fn workers_pane(frame: &mut Frame, area: Rect, app: &App) {
    let workers: &[WorkerSnapshot] = app.supervisor.as_ref().map_or(&[], |s| &s.workers);
    let timeout = app
        .supervisor
        .as_ref()
        .map_or(Duration::ZERO, |s| s.heartbeat_timeout);
    let concurrency = app.supervisor.as_ref().map_or(0, |s| s.concurrency);
    let rows: Vec<Row> = workers
        .iter()
        .map(|w| {
            let (state, style) = worker_state(&w.state);
            Row::new(vec![
                Span::raw(w.number.to_string()),
                Span::raw(w.pid.to_string()),
                Span::styled(state, style),
                Span::styled(age(w.heartbeat_age), heartbeat_style(w, timeout)),
                Span::raw(age(w.uptime)),
                Span::raw(format!("{}/{concurrency}", w.jobs.len().max(w.running))),
                Span::raw(w.succeeded.to_string()),
                Span::raw(w.retried.to_string()),
                Span::styled(w.failed.to_string(), if w.failed > 0 { BAD } else { DIM }),
            ])
        })
        .collect();
    let empty = rows.is_empty();
    let table = Table::new(
        rows,
        [
            Constraint::Length(3),
            Constraint::Length(8),
            Constraint::Fill(1),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(7),
        ],
    )
    .header(
        Row::new([
            "#",
            "PID",
            "STATE",
            "HEARTBEAT",
            "UPTIME",
            "JOBS",
            "DONE",
            "RETRIED",
            "FAILED",
        ])
        .style(HEADER),
    )
    .block(Block::bordered().title(workers_title(app)));
    frame.render_widget(table, area);
    if empty {
        placeholder(frame, area, "no workers");
    }
}

/// " Workers (3) · started 4, crashed 1, killed 0 ".
fn workers_title(app: &App) -> String {
    let Some(state) = &app.supervisor else {
        return " Workers ".into();
    };
    let c = &state.counters;
    format!(
        " Workers ({}) · started {}, crashed {}, killed {} ",
        state.workers.len(),
        c.started,
        c.crashed,
        c.killed_unresponsive + c.killed_hard_timeout + c.killed_after_grace
    )
}

fn worker_state(state: &WorkerState) -> (String, Style) {
    match state {
        WorkerState::Starting => ("starting".into(), WARN),
        WorkerState::Ready => ("ready".into(), GOOD),
        // A stopping worker's reason is its own report: escaped with the rest.
        WorkerState::Stopping(reason) => (format!("stopping: {}", escape(reason)), WARN),
        WorkerState::Terminating(why) => (format!("terminating: {}", escape(why)), WARN),
        WorkerState::Killed(why) => (format!("killed: {}", escape(why)), BAD),
        WorkerState::Exited(how) => (format!("exited: {}", escape(how)), DIM),
    }
}

/// Green within a third of the timeout (a few beats), yellow past it, red
/// past two thirds: a worker turns red well before it is killed.
fn heartbeat_style(worker: &WorkerSnapshot, timeout: Duration) -> Style {
    if !matches!(worker.state, WorkerState::Starting | WorkerState::Ready) || timeout.is_zero() {
        return DIM;
    }
    let age = worker.heartbeat_age;
    if age < timeout / 3 {
        GOOD
    } else if age < timeout * 2 / 3 {
        WARN
    } else {
        BAD
    }
}

// ------------------------------------------------------- running jobs

/// (worker number, job), longest running first.
fn running_jobs(app: &App) -> Vec<(u32, &crate::supervisor::JobSnapshot)> {
    let mut jobs: Vec<_> = app
        .supervisor
        .iter()
        .flat_map(|s| &s.workers)
        .flat_map(|w| w.jobs.iter().map(move |job| (w.number, job)))
        .collect();
    jobs.sort_by_key(|(_, job)| std::cmp::Reverse(job.running_for));
    jobs
}

fn jobs_pane(frame: &mut Frame, area: Rect, app: &App) {
    let jobs = running_jobs(app);
    let count = jobs.len();
    let rows: Vec<Row> = jobs
        .into_iter()
        .map(|(worker, job)| {
            Row::new(vec![
                worker.to_string(),
                escape(&short_id(&job.job_id)),
                format!("{} → {}", escape(&job.event), escape(&job.listener)),
                job.attempt.to_string(),
                age(job.running_for),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Length(JOB_ID_WIDTH as u16),
            Constraint::Fill(1),
            Constraint::Length(7),
            Constraint::Length(6),
        ],
    )
    .header(Row::new(["WORKER", "ID", "JOB", "ATTEMPT", "FOR"]).style(HEADER))
    .block(Block::bordered().title(format!(" Running jobs ({count}) ")));
    frame.render_widget(table, area);
    if count == 0 {
        placeholder(frame, area, "no job runs");
    }
}

/// Characters of a job id shown.
const JOB_ID_WIDTH: usize = 9;

/// The end of a job id: ids are UUIDv7, whose start is a timestamp that
/// jobs dispatched together share, and whose end is random.
fn short_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= JOB_ID_WIDTH {
        return id.to_string();
    }
    let tail: String = chars[chars.len() - (JOB_ID_WIDTH - 1)..].iter().collect();
    format!("…{tail}")
}

// ------------------------------------------------------------ queues

fn queues_pane(frame: &mut Frame, area: Rect, app: &App) {
    let block = Block::bordered().title(" Queues ");
    let Some(status) = &app.status else {
        let text = app.status_error.as_deref().map_or_else(
            || Line::styled("reading…", DIM),
            |error| Line::styled(format!("cannot read: {}", escape(error)), BAD),
        );
        return frame.render_widget(Paragraph::new(text).block(block), area);
    };
    let rows: Vec<Row> = status
        .queues
        .iter()
        .map(|q| {
            Row::new(vec![
                Span::raw(escape(&q.queue)),
                Span::styled(q.ready.to_string(), if q.ready > 0 { WARN } else { DIM }),
                Span::raw(q.running.to_string()),
                Span::raw(q.delayed.to_string()),
            ])
        })
        .collect();
    let block = match &app.status_error {
        // The last good reading stays, marked as old.
        Some(error) => block.title_bottom(Line::styled(format!(" stale: {} ", escape(error)), BAD)),
        None => block,
    };
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(7),
        ],
    )
    .header(Row::new(["QUEUE", "READY", "RUNNING", "DELAYED"]).style(HEADER))
    .block(block);
    frame.render_widget(table, area);
    if status.queues.is_empty() {
        placeholder(frame, area, "no queues");
    }
}

// ------------------------------------------------------------ failed

fn failed_pane(frame: &mut Frame, area: Rect, app: &App) {
    let in_store = app.status.as_ref().map(|s| s.failed);
    let title = match in_store {
        Some(n) if app.failed_jobs.len() == FAILED_SHOWN && n as usize > FAILED_SHOWN => {
            format!(" Failed jobs ({n} in the store, newest {FAILED_SHOWN}) ")
        }
        Some(n) => format!(" Failed jobs ({n}) "),
        None => " Failed jobs ".to_string(),
    };
    let mut block = Block::bordered().title(title);
    if let Some(error) = &app.failed_error {
        block = block.title_bottom(Line::styled(
            format!(" cannot read: {} ", escape(error)),
            BAD,
        ));
    }
    let id_width = app
        .failed_jobs
        .iter()
        .map(|job| job.id.to_string().len())
        .max()
        .unwrap_or(2)
        .max(2) as u16;
    let rows: Vec<Row> = app
        .failed_jobs
        .iter()
        .map(|job| {
            Row::new(vec![
                Span::raw(job.id.to_string()),
                // "2024-05-01 12:00:03 UTC" without the year and zone.
                Span::raw(
                    utc(job.failed_at_ms)
                        .get(5..19)
                        .unwrap_or_default()
                        .to_string(),
                ),
                Span::raw(escape(&job.queue)),
                Span::raw(format!(
                    "{} → {}",
                    escape(&job.event),
                    escape(&job.listener)
                )),
                Span::raw(job.attempts.to_string()),
                Span::styled(escape(&first_line(&job.error, 200)), BAD),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(id_width),
            Constraint::Length(14),
            Constraint::Length(10),
            Constraint::Fill(2),
            Constraint::Length(5),
            Constraint::Fill(3),
        ],
    )
    .header(Row::new(["ID", "FAILED AT", "QUEUE", "JOB", "TRIES", "ERROR"]).style(HEADER))
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
    .highlight_symbol("▶ ")
    .block(block);
    let mut selection = TableState::default().with_selected(app.selected_index());
    frame.render_stateful_widget(table, area, &mut selection);
    if app.failed_jobs.is_empty() && app.failed_error.is_none() {
        // The store's size is read every second, its list less often.
        let text = match in_store {
            Some(n) if n > 0 => "reading the failed store…",
            _ => "no failed jobs",
        };
        placeholder(frame, area, text);
    }
}

// --------------------------------------------------------------- log

fn log_pane(frame: &mut Frame, area: Rect, app: &App) {
    let height = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .log
        .iter()
        .skip(app.log.len().saturating_sub(height))
        .map(|line| {
            let style = match line.source {
                LineSource::Supervisor => Style::new(),
                LineSource::Warning | LineSource::Stderr => WARN,
                LineSource::Worker(_) => DIM,
            };
            // Listeners print what they like: shown, never obeyed.
            Line::styled(escape(&line.to_string()), style)
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Log ")),
        area,
    );
}

// ------------------------------------------------------------ footer

fn footer(frame: &mut Frame, area: Rect, app: &App) {
    let notice = match &app.notice {
        Some(notice) => Line::styled(
            format!(" {}", escape(&notice.text)),
            if notice.error { BAD } else { GOOD },
        ),
        None => Line::styled(
            " scale the pool, retry failed jobs, or quit (the workers finish their jobs first)",
            DIM,
        ),
    };
    let keys = Line::from(
        [
            ("q", "quit"),
            ("+/-", "min"),
            ("]/[", "max"),
            ("↑/↓", "select"),
            ("r", "retry"),
            ("f", "refresh failed"),
        ]
        .into_iter()
        .flat_map(|(key, what)| {
            [
                Span::styled(format!(" {key}"), HEADER),
                Span::raw(format!(" {what} ")),
            ]
        })
        .collect::<Vec<_>>(),
    );
    frame.render_widget(Paragraph::new(vec![notice, keys]), area);
}

// ------------------------------------------------------------ helpers

/// A dim line in the first row of an empty table.
fn placeholder(frame: &mut Frame, area: Rect, text: &str) {
    if area.height < 4 || area.width < 4 {
        return;
    }
    let row = Rect {
        x: area.x + 1,
        y: area.y + 2,
        width: area.width - 2,
        height: 1,
    };
    frame.render_widget(Paragraph::new(Line::styled(text.to_string(), DIM)), row);
}

/// `0.2s`, `12s`, `3m04s`, `2h05m`.
pub(super) fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..10 => format!("{:.1}s", d.as_secs_f64()),
        10..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::super::app::tests::{failed_job, state};
    use super::*;
    use crate::cli::status::Status;
    use crate::driver::durable::QueueDepth;
    use crate::supervisor::AccountLine;
    use crate::supervisor::JobSnapshot;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use std::time::Instant;

    /// The screen's rows as text.
    fn render(app: &App, width: u16, height: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| draw(frame, app)).unwrap();
        let buffer = terminal.backend().buffer();
        buffer
            .content
            .chunks(width as usize)
            .map(|row| row.iter().map(|cell| cell.symbol()).collect())
            .collect()
    }

    /// The row containing every one of `texts`; panics with the screen.
    fn row_with<'a>(screen: &'a [String], texts: &[&str]) -> &'a str {
        screen
            .iter()
            .find(|row| texts.iter().all(|t| row.contains(t)))
            .unwrap_or_else(|| panic!("no row with {texts:?} in\n{}", screen.join("\n")))
    }

    fn worker(number: u32, state: WorkerState, heartbeat_ms: u64) -> WorkerSnapshot {
        WorkerSnapshot {
            number,
            pid: 4000 + number,
            worker_id: Some(format!("worker-{number}")),
            state,
            uptime: Duration::from_secs(125),
            heartbeat_age: Duration::from_millis(heartbeat_ms),
            running: 0,
            jobs: Vec::new(),
            succeeded: 120,
            retried: 3,
            failed: 1,
        }
    }

    fn job(id: &str, listener: &str, attempt: u32, secs: u64) -> JobSnapshot {
        JobSnapshot {
            job_id: id.into(),
            event: "slow".into(),
            listener: listener.into(),
            attempt,
            running_for: Duration::from_secs(secs),
            hard_deadline_ms: None,
        }
    }

    /// A dashboard with two workers (one running two jobs), a queue
    /// reading, two failed jobs (the second selected), and a log.
    fn busy_app() -> App {
        let mut app = App::new();
        let mut state = state(1, 4);
        state.heartbeat_timeout = Duration::from_secs(10);
        let mut first = worker(1, WorkerState::Ready, 200);
        first.jobs = vec![
            job("a", "slow_listener", 2, 3),
            job("0196f3a8b7c47d1e9a0b1c2d9cd0e1f2", "other_listener", 1, 75),
        ];
        let second = worker(2, WorkerState::Terminating("scale-down".into()), 9000);
        state.workers = vec![first, second];
        state.counters.jobs_succeeded = 240;
        state.counters.jobs_failed = 2;
        state.counters.started = 2;
        let t0 = Instant::now();
        app.on_snapshot(
            SupervisorState {
                counters: Default::default(),
                ..state.clone()
            },
            t0,
        );
        app.on_snapshot(state, t0 + Duration::from_secs(20));
        app.on_status(
            Ok(Status {
                queues: vec![
                    QueueDepth {
                        queue: "default".into(),
                        ready: 12,
                        running: 2,
                        delayed: 1,
                    },
                    QueueDepth {
                        queue: "mail".into(),
                        ..QueueDepth::default()
                    },
                ],
                failed: 2,
            }),
            t0,
        );
        app.on_failed_jobs(Ok(vec![failed_job(42), failed_job(41)]));
        app.on_key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Down,
            crossterm::event::KeyModifiers::NONE,
        ));
        app.on_log(AccountLine {
            source: LineSource::Supervisor,
            text: "worker 1 ready (pid 4001)".into(),
        });
        app.on_log(AccountLine {
            source: LineSource::Worker(1),
            text: "pinged 3".into(),
        });
        app.on_clock(1_777_636_803_000);
        app
    }

    #[test]
    fn the_header_shows_the_pool_capacity_and_throughput() {
        let screen = render(&busy_app(), 160, 40);
        row_with(&screen, &["fastevent work", "2026-05-01 12:00:03 UTC"]);
        row_with(
            &screen,
            &[
                "● running",
                "workers 1 (0 starting, 1 stopping)",
                "pool min 1 · max 4",
                "capacity 10 jobs",
                "queues default",
            ],
        );
        row_with(&screen, &["fastevent work · pid 1"]);
        row_with(
            &screen,
            &[
                "last 20s: 240 done · 0 retried · 2 failed",
                "total: 240 done · 0 retried · 2 failed",
            ],
        );
    }

    #[test]
    fn the_header_says_when_the_pool_is_stopping_or_not_yet_started() {
        let screen = render(&App::new(), 100, 30);
        row_with(&screen, &["starting the supervisor…"]);
        let mut app = busy_app();
        app.on_key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('q'),
            crossterm::event::KeyModifiers::NONE,
        ));
        let screen = render(&app, 160, 40);
        row_with(&screen, &["■ stopping: workers drain"]);
        row_with(&screen, &["q again kills them now"]);
    }

    #[test]
    fn the_workers_pane_shows_each_worker_with_its_state_and_heartbeat_age() {
        let screen = render(&busy_app(), 160, 40);
        row_with(&screen, &["Workers (2) · started 2, crashed 0, killed 0"]);
        row_with(
            &screen,
            &[
                "PID",
                "STATE",
                "HEARTBEAT",
                "UPTIME",
                "JOBS",
                "DONE",
                "FAILED",
            ],
        );
        row_with(&screen, &["4001", "ready", "0.2s", "2m05s", "2/10", "120"]);
        row_with(
            &screen,
            &["4002", "terminating: scale-down", "9.0s", "0/10"],
        );
        let empty = render(&App::new(), 100, 30);
        row_with(&empty, &["no workers"]);
    }

    #[test]
    fn the_running_jobs_pane_lists_jobs_longest_running_first() {
        let screen = render(&busy_app(), 160, 40);
        row_with(&screen, &["Running jobs (2)"]);
        row_with(&screen, &["WORKER", "ID", "JOB", "ATTEMPT", "FOR"]);
        let long = screen
            .iter()
            .position(|r| r.contains("other_listener"))
            .unwrap();
        let short = screen
            .iter()
            .position(|r| r.contains("slow_listener"))
            .unwrap();
        assert!(long < short, "longest first");
        row_with(
            &screen,
            &["…9cd0e1f2", "slow → other_listener", "1", "1m15s"],
        );
        row_with(&screen, &["a", "slow → slow_listener", "2", "3.0s"]);
    }

    #[test]
    fn the_queues_pane_shows_every_queue_and_keeps_a_stale_reading() {
        let mut app = busy_app();
        let screen = render(&app, 160, 40);
        row_with(&screen, &["QUEUE", "READY", "RUNNING", "DELAYED"]);
        row_with(&screen, &["default", "12", "2", "1"]);
        row_with(&screen, &["mail", "0", "0", "0"]);
        app.on_status(
            Err("sqlite queue: database is locked".into()),
            Instant::now(),
        );
        let screen = render(&app, 160, 40);
        row_with(&screen, &["default", "12"]);
        row_with(&screen, &["stale: sqlite queue: database is locked"]);

        let mut app = App::new();
        app.on_status(Err("no broker".into()), Instant::now());
        let screen = render(&app, 160, 40);
        row_with(&screen, &["cannot read: no broker"]);
    }

    #[test]
    fn the_failed_pane_lists_failed_jobs_with_their_errors_and_marks_the_selection() {
        let screen = render(&busy_app(), 160, 40);
        row_with(&screen, &["Failed jobs (2)"]);
        row_with(
            &screen,
            &["ID", "FAILED AT", "QUEUE", "JOB", "TRIES", "ERROR"],
        );
        let first = row_with(&screen, &["42", "11-14 22:13:20", "doomed → always_fails"]);
        assert!(!first.contains('▶'), "{first}");
        let selected = row_with(&screen, &["41", "doomed job 41 fails on purpose"]);
        assert!(selected.contains("▶ 41"), "{selected}");

        let mut app = App::new();
        app.on_failed_jobs(Ok(vec![]));
        row_with(&render(&app, 120, 30), &["no failed jobs"]);
        // Jobs failed since the list was read: it is read again shortly.
        let status = Status {
            queues: Vec::new(),
            failed: 2,
        };
        app.on_status(Ok(status), Instant::now());
        let screen = render(&app, 120, 30);
        row_with(&screen, &["Failed jobs (2)"]);
        row_with(&screen, &["reading the failed store…"]);
        app.on_failed_jobs(Err("amqp queue: connection refused".into()));
        row_with(
            &render(&app, 120, 30),
            &["cannot read: amqp queue: connection refused"],
        );
    }

    #[test]
    fn the_log_pane_shows_the_newest_lines_with_their_source() {
        let mut app = busy_app();
        let screen = render(&app, 160, 40);
        row_with(&screen, &["Log"]);
        row_with(&screen, &["[supervisor] worker 1 ready (pid 4001)"]);
        row_with(&screen, &["[worker 1] pinged 3"]);
        for n in 0..100 {
            app.on_log(AccountLine {
                source: LineSource::Stderr,
                text: format!("line {n}"),
            });
        }
        let screen = render(&app, 160, 40);
        row_with(&screen, &["[stderr] line 99"]);
        assert!(!screen.iter().any(|r| r.contains("pinged 3")));
    }

    #[test]
    fn the_footer_lists_the_keys_and_the_last_outcome() {
        let mut app = busy_app();
        let screen = render(&app, 160, 40);
        row_with(
            &screen,
            &[
                "q quit",
                "+/- min",
                "]/[ max",
                "↑/↓ select",
                "r retry",
                "f refresh failed",
            ],
        );
        app.on_retried(41, Ok(1));
        let screen = render(&app, 160, 40);
        row_with(&screen, &["retried failed job 41: it is back on its queue"]);
    }

    #[test]
    fn a_small_terminal_still_renders() {
        let screen = render(&busy_app(), 80, 24);
        row_with(&screen, &["fastevent work"]);
        row_with(&screen, &["q quit"]);
        render(&busy_app(), 20, 5);
    }

    /// Escape sequences, a carriage return, a C1 control, DEL and a
    /// right-to-left override: what a job's names, errors and a listener's
    /// output may hold.
    const HOSTILE: &str = "a\x1b[2Jb\rc\u{9b}d\u{7f}e\u{202e}f";
    const ESCAPED: &str = r"a\x1b[2Jb\rc\u{9b}d\x7fe\u{202e}f";

    fn hostile_app() -> App {
        let mut app = App::new();
        let mut state = state(1, 4);
        let mut running = worker(1, WorkerState::Stopping(HOSTILE.into()), 100);
        let mut job = job(HOSTILE, HOSTILE, 1, 3);
        job.event = HOSTILE.into();
        running.jobs = vec![job];
        state.workers = vec![running];
        state.queues = vec![HOSTILE.into()];
        app.on_snapshot(state, Instant::now());
        let queue = QueueDepth {
            queue: HOSTILE.into(),
            ..QueueDepth::default()
        };
        let status = Status {
            queues: vec![queue],
            failed: 1,
        };
        app.on_status(Ok(status), Instant::now());
        let mut failed = failed_job(7);
        (failed.queue, failed.event, failed.listener, failed.error) = (
            HOSTILE.into(),
            HOSTILE.into(),
            HOSTILE.into(),
            HOSTILE.into(),
        );
        app.on_failed_jobs(Ok(vec![failed]));
        app.on_log(AccountLine {
            source: LineSource::Worker(1),
            text: HOSTILE.into(),
        });
        app
    }

    #[test]
    fn untrusted_text_is_shown_escaped_never_raw() {
        let screen = render(&hostile_app(), 400, 60);
        let raw: Vec<char> = screen
            .iter()
            .flat_map(|row| row.chars())
            .filter(|c| {
                c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .collect();
        assert!(raw.is_empty(), "{raw:?} on\n{}", screen.join("\n"));
        row_with(&screen, &[&format!("stopping: {ESCAPED}")]);
        row_with(&screen, &[&format!("{ESCAPED} → {ESCAPED}")]); // running, failed
        row_with(&screen, &[&format!("[worker 1] {ESCAPED}")]);
        row_with(&screen, &[&format!("queues {ESCAPED}")]);
        let queue_rows = screen.iter().filter(|r| r.contains(ESCAPED)).count();
        assert!(queue_rows >= 5, "{}", screen.join("\n"));
    }

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age(Duration::from_millis(230)), "0.2s");
        assert_eq!(age(Duration::from_secs(42)), "42s");
        assert_eq!(age(Duration::from_secs(184)), "3m04s");
        assert_eq!(age(Duration::from_secs(7500)), "2h05m");
    }
}
