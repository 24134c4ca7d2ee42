//! The dashboard's state, as plain data: what the supervisor's snapshots,
//! the queue's readings and the account lines bring in, and what a key
//! asks for. No terminal, no clock, no queue here: every input arrives as
//! an argument (times included) and every effect leaves as an [`Action`]
//! the runtime performs, so all of it is unit-tested.

use crate::cli::status::Status;
use crate::driver::durable::FailedJob;
use crate::supervisor::{AccountLine, ControlError, Phase, SupervisorState, check_pool};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Lines the log pane keeps.
pub(super) const LOG_LINES: usize = 500;

/// Failed jobs read for the failed pane (the newest).
pub(super) const FAILED_SHOWN: usize = 50;

/// The window rates are counted over.
pub(super) const RATE_WINDOW: Duration = Duration::from_secs(60);

/// One throughput sample per this much time is kept: a minute of them is
/// 60 values, not the 600 snapshots the supervisor publishes.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The failed list is read again by itself (when the failed store's size
/// changed) at most this often: on AMQP a read is a scan that briefly hides
/// the failed jobs from other commands, so a stream of failures must not
/// turn into a stream of scans. A key (`f`) or a retry reads it at once.
pub(super) const FAILED_REFRESH_EVERY: Duration = Duration::from_secs(5);

/// What the runtime does for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// Ask the supervisor for these bounds.
    SetPool {
        /// Workers kept alive.
        min: usize,
        /// Most workers at once.
        max: usize,
    },
    /// Put this failed job back on its queue.
    Retry(i64),
    /// Read the failed list again.
    RefreshFailed,
    /// Stop the supervisor as SIGTERM does (again: kill the workers).
    Shutdown,
}

/// A short message in the footer: the outcome of the last key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Notice {
    /// The message.
    pub text: String,
    /// Whether it reports a failure or a refusal.
    pub error: bool,
}

/// Jobs finished by outcome, as the supervisor counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct JobTotals {
    /// Succeeded.
    pub succeeded: u64,
    /// Failed attempts scheduled again.
    pub retried: u64,
    /// Moved to the failed store.
    pub failed: u64,
}

impl JobTotals {
    fn of(state: &SupervisorState) -> Self {
        Self {
            succeeded: state.counters.jobs_succeeded,
            retried: state.counters.jobs_retried,
            failed: state.counters.jobs_failed,
        }
    }
}

/// Jobs finished within the last `window` (a minute, or less since the
/// dashboard started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rates {
    /// The counts.
    pub jobs: JobTotals,
    /// The time they were counted over.
    pub window: Duration,
}

/// A minute of totals, one sample a second.
#[derive(Debug, Default)]
struct Throughput {
    samples: VecDeque<(Instant, JobTotals)>,
    current: Option<(Instant, JobTotals)>,
}

impl Throughput {
    fn record(&mut self, now: Instant, totals: JobTotals) {
        self.current = Some((now, totals));
        if self
            .samples
            .back()
            .is_none_or(|(at, _)| now.saturating_duration_since(*at) >= SAMPLE_EVERY)
        {
            self.samples.push_back((now, totals));
        }
        // Keep the newest sample at least a window old: it is the base.
        while self
            .samples
            .get(1)
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    fn rates(&self) -> Option<Rates> {
        let (now, current) = self.current?;
        let (since, base) = self.samples.front()?;
        Some(Rates {
            jobs: JobTotals {
                succeeded: current.succeeded.saturating_sub(base.succeeded),
                retried: current.retried.saturating_sub(base.retried),
                failed: current.failed.saturating_sub(base.failed),
            },
            window: now.saturating_duration_since(*since).min(RATE_WINDOW),
        })
    }
}

/// Everything the dashboard shows.
#[derive(Debug, Default)]
pub(super) struct App {
    /// The supervisor's last snapshot.
    pub supervisor: Option<SupervisorState>,
    /// Bounds asked for and not yet seen in a snapshot: the base of the
    /// next key press, so two quick presses make two steps.
    pending_pool: Option<(usize, usize)>,
    throughput: Throughput,
    /// The last queue reading (what `status --json` prints).
    pub status: Option<Status>,
    /// Why the last queue reading failed.
    pub status_error: Option<String>,
    /// The newest failed jobs, newest first.
    pub failed_jobs: Vec<FailedJob>,
    /// Why the last failed-list read failed.
    pub failed_error: Option<String>,
    /// The failed store's size the shown list reflects; `None` before the
    /// first list, after a failed read, or when it cannot be known.
    failed_listed: Option<u64>,
    /// When the list was last asked for by a queue reading.
    failed_asked_at: Option<Instant>,
    /// The selected failed job, by id: a refresh keeps it selected.
    selected: Option<i64>,
    /// The supervisor's account, oldest first.
    pub log: VecDeque<AccountLine>,
    /// The outcome of the last key.
    pub notice: Option<Notice>,
    /// Quit was asked (the workers drain).
    quitting: bool,
    /// The wall clock, in milliseconds since the Unix epoch (the header).
    pub clock_ms: u64,
}

impl App {
    /// A dashboard that has seen nothing yet.
    pub(super) fn new() -> Self {
        Self::default()
    }

    // --------------------------------------------------------- inputs

    /// A snapshot of the supervisor, taken at about `now`.
    pub(super) fn on_snapshot(&mut self, state: SupervisorState, now: Instant) {
        self.throughput.record(now, JobTotals::of(&state));
        if self.pending_pool == Some((state.min_workers, state.max_workers)) {
            self.pending_pool = None;
        }
        self.supervisor = Some(state);
    }

    /// A queue reading at `now`; asks for the failed list when the failed
    /// store's size is not the list's (at most every
    /// [`FAILED_REFRESH_EVERY`]). Sizes, not changes, are compared: a job
    /// retried and failed again between two readings leaves the size as
    /// it was, but not the list read in between.
    pub(super) fn on_status(
        &mut self,
        reading: Result<Status, String>,
        now: Instant,
    ) -> Option<Action> {
        match reading {
            Ok(status) => {
                let failed = status.failed;
                self.status = Some(status);
                self.status_error = None;
                let stale = self.failed_listed != Some(failed)
                    && self
                        .failed_asked_at
                        .is_none_or(|at| now.saturating_duration_since(at) >= FAILED_REFRESH_EVERY);
                stale.then(|| {
                    self.failed_asked_at = Some(now);
                    Action::RefreshFailed
                })
            }
            Err(error) => {
                self.status_error = Some(error);
                None
            }
        }
    }

    /// The failed list, newest first. The selection stays on the same job,
    /// or, when that one left the store, on the row where it was.
    pub(super) fn on_failed_jobs(&mut self, jobs: Result<Vec<FailedJob>, String>) {
        match jobs {
            Ok(jobs) => {
                let row = self.selected_index();
                // A full list is the newest part of a bigger store: its
                // size is the last reading's.
                self.failed_listed = if jobs.len() < FAILED_SHOWN {
                    Some(jobs.len() as u64)
                } else {
                    self.status.as_ref().map(|s| s.failed)
                };
                self.failed_jobs = jobs;
                self.failed_error = None;
                if self.selected_index().is_none() {
                    self.selected = row
                        .map(|row| row.min(self.failed_jobs.len().saturating_sub(1)))
                        .or(Some(0))
                        .and_then(|row| self.failed_jobs.get(row))
                        .map(|job| job.id);
                }
            }
            Err(error) => {
                self.failed_error = Some(error);
                // Read it again, after the usual pause.
                self.failed_listed = None;
            }
        }
    }

    /// The outcome of retrying failed job `id`: how many jobs went back.
    pub(super) fn on_retried(&mut self, id: i64, outcome: Result<u64, String>) -> Action {
        self.notice = Some(match outcome {
            Ok(0) => Notice {
                text: format!("failed job {id} is no longer in the failed store"),
                error: true,
            },
            Ok(_) => Notice {
                text: format!("retried failed job {id}: it is back on its queue"),
                error: false,
            },
            Err(error) => Notice {
                text: format!("could not retry failed job {id}: {error}"),
                error: true,
            },
        });
        Action::RefreshFailed
    }

    /// A line of the supervisor's account.
    pub(super) fn on_log(&mut self, line: AccountLine) {
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(line);
    }

    /// The supervisor refused bounds (it stopped meanwhile).
    pub(super) fn on_pool_refused(&mut self, error: ControlError) {
        self.pending_pool = None;
        self.notice = Some(Notice {
            text: format!("pool not changed: {error}"),
            error: true,
        });
    }

    /// The wall clock, for the header.
    pub(super) fn on_clock(&mut self, now_ms: u64) {
        self.clock_ms = now_ms;
    }

    /// A key: what it changes here, and what the runtime must do.
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        // Terminals that report releases would act twice on every key.
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if control => Some(self.quit()),
            _ if control => None,
            KeyCode::Char('q') => Some(self.quit()),
            KeyCode::Char('+' | '=') => self.change_pool(1, 0),
            KeyCode::Char('-' | '_') => self.change_pool(-1, 0),
            KeyCode::Char(']') => self.change_pool(0, 1),
            KeyCode::Char('[') => self.change_pool(0, -1),
            KeyCode::Up | KeyCode::Char('k') => {
                self.move_selection(-1);
                None
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.move_selection(1);
                None
            }
            KeyCode::Char('r') | KeyCode::Enter => self.retry_selected(),
            KeyCode::Char('f') => {
                self.notice = Some(Notice {
                    text: "reading the failed store…".into(),
                    error: false,
                });
                Some(Action::RefreshFailed)
            }
            _ => None,
        }
    }

    // -------------------------------------------------------- queries

    /// The bounds to show: those asked for, until a snapshot has them.
    pub(super) fn pool(&self) -> Option<(usize, usize)> {
        self.pending_pool.or_else(|| {
            self.supervisor
                .as_ref()
                .map(|s| (s.min_workers, s.max_workers))
        })
    }

    /// Whether bounds were asked for and not yet applied.
    pub(super) fn pool_pending(&self) -> bool {
        self.pending_pool.is_some()
    }

    /// Jobs finished in the last minute (or since the start, if shorter).
    pub(super) fn rates(&self) -> Option<Rates> {
        self.throughput.rates()
    }

    /// The row of the selected failed job.
    pub(super) fn selected_index(&self) -> Option<usize> {
        let id = self.selected?;
        self.failed_jobs.iter().position(|job| job.id == id)
    }

    /// Whether quit was asked.
    pub(super) fn quitting(&self) -> bool {
        self.quitting
    }

    // -------------------------------------------------------- keys

    fn quit(&mut self) -> Action {
        self.notice = Some(if self.quitting {
            Notice {
                text: "killing the workers now".into(),
                error: true,
            }
        } else {
            Notice {
                text: "stopping: the workers finish their jobs (q again kills them now)".into(),
                error: false,
            }
        });
        self.quitting = true;
        Action::Shutdown
    }

    /// A step of the minimum or the maximum, refused (with the reason)
    /// when it would break `1 <= min <= max`.
    fn change_pool(&mut self, min_step: isize, max_step: isize) -> Option<Action> {
        let Some((min, max)) = self.pool() else {
            return self.refuse("the supervisor has not started yet".into());
        };
        if self.quitting
            || self
                .supervisor
                .as_ref()
                .is_some_and(|s| s.phase != Phase::Running)
        {
            return self.refuse("the pool no longer changes: it is stopping".into());
        }
        let new_min = min.saturating_add_signed(min_step);
        let new_max = max.saturating_add_signed(max_step);
        if let Err(error) = check_pool(new_min, new_max) {
            let hint = match (min_step, max_step) {
                (1, _) => " (raise the maximum with ] first)",
                (_, -1) if new_max >= 1 => " (lower the minimum with - first)",
                _ => "",
            };
            return self.refuse(format!("{error}{hint}"));
        }
        self.pending_pool = Some((new_min, new_max));
        self.notice = Some(Notice {
            text: format!("pool: min {new_min}, max {new_max}"),
            error: false,
        });
        Some(Action::SetPool {
            min: new_min,
            max: new_max,
        })
    }

    fn refuse(&mut self, text: String) -> Option<Action> {
        self.notice = Some(Notice { text, error: true });
        None
    }

    fn move_selection(&mut self, step: isize) {
        if self.failed_jobs.is_empty() {
            return;
        }
        let last = self.failed_jobs.len() - 1;
        let row = match self.selected_index() {
            Some(row) => row.saturating_add_signed(step).min(last),
            None => 0,
        };
        self.selected = Some(self.failed_jobs[row].id);
    }

    fn retry_selected(&mut self) -> Option<Action> {
        let Some(row) = self.selected_index() else {
            self.notice = Some(Notice {
                text: "no failed job selected".into(),
                error: true,
            });
            return None;
        };
        let id = self.failed_jobs[row].id;
        self.notice = Some(Notice {
            text: format!("retrying failed job {id}…"),
            error: false,
        });
        Some(Action::Retry(id))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::supervisor::LineSource;

    pub(crate) fn state(min: usize, max: usize) -> SupervisorState {
        SupervisorState {
            id: "supervisor-1".into(),
            pid: 1,
            min_workers: min,
            max_workers: max,
            concurrency: 10,
            queues: vec!["default".into()],
            ..SupervisorState::default()
        }
    }

    pub(crate) fn failed_job(id: i64) -> FailedJob {
        FailedJob {
            id,
            job_id: format!("job-{id}"),
            queue: "default".into(),
            event: "doomed".into(),
            listener: "always_fails".into(),
            attempts: 1,
            error: format!("doomed job {id} fails on purpose"),
            failed_at_ms: 1_700_000_000_000,
            body: Vec::new(),
        }
    }

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn app(min: usize, max: usize) -> App {
        let mut app = App::new();
        app.on_snapshot(state(min, max), Instant::now());
        app
    }

    fn notice(app: &App) -> &str {
        &app.notice.as_ref().expect("a notice").text
    }

    #[test]
    fn plus_and_minus_step_the_minimum_within_one_and_the_maximum() {
        let mut app = app(1, 3);
        assert_eq!(
            app.on_key(key('+')),
            Some(Action::SetPool { min: 2, max: 3 })
        );
        // The second press builds on the first, before any snapshot.
        assert_eq!(
            app.on_key(key('+')),
            Some(Action::SetPool { min: 3, max: 3 })
        );
        assert_eq!(app.on_key(key('+')), None, "min never exceeds max");
        assert!(notice(&app).contains("cannot exceed the maximum (3)"));
        assert!(app.notice.as_ref().unwrap().error);
        assert_eq!(app.pool(), Some((3, 3)));

        let mut app = self::app(1, 3);
        assert_eq!(app.on_key(key('-')), None, "min never goes below 1");
        assert!(notice(&app).contains("at least 1"));
        assert_eq!(app.pool(), Some((1, 3)));
    }

    #[test]
    fn brackets_step_the_maximum_never_below_the_minimum_nor_past_the_limit() {
        let mut app = app(2, 3);
        assert_eq!(
            app.on_key(key('[')),
            Some(Action::SetPool { min: 2, max: 2 })
        );
        assert_eq!(app.on_key(key('[')), None);
        assert!(notice(&app).contains("lower the minimum with - first"));
        assert_eq!(
            app.on_key(key(']')),
            Some(Action::SetPool { min: 2, max: 3 })
        );

        let mut app = self::app(1, 1000);
        assert_eq!(app.on_key(key(']')), None);
        assert!(notice(&app).contains("at most 1000"));
    }

    #[test]
    fn asked_bounds_show_until_a_snapshot_has_them_or_they_are_refused() {
        let now = Instant::now();
        let mut app = app(1, 3);
        app.on_key(key(']'));
        assert!(app.pool_pending());
        app.on_snapshot(state(1, 3), now);
        assert_eq!(app.pool(), Some((1, 4)), "the snapshot predates the ask");
        app.on_snapshot(state(1, 4), now);
        assert!(!app.pool_pending());
        assert_eq!(app.pool(), Some((1, 4)));

        app.on_key(key(']'));
        app.on_pool_refused(ControlError::Stopped);
        assert_eq!(app.pool(), Some((1, 4)));
        assert!(notice(&app).contains("the supervisor has stopped"));
    }

    #[test]
    fn the_pool_does_not_change_before_the_first_snapshot_nor_while_stopping() {
        let mut app = App::new();
        assert_eq!(app.on_key(key('+')), None);
        assert!(notice(&app).contains("not started yet"));

        let mut app = self::app(1, 3);
        app.on_snapshot(
            SupervisorState {
                phase: Phase::ShuttingDown,
                ..state(1, 3)
            },
            Instant::now(),
        );
        assert_eq!(app.on_key(key(']')), None);
        assert!(notice(&app).contains("it is stopping"));
    }

    #[test]
    fn q_and_ctrl_c_shut_down_and_a_second_one_says_it_kills() {
        let mut app = app(1, 3);
        assert!(!app.quitting());
        assert_eq!(app.on_key(key('q')), Some(Action::Shutdown));
        assert!(app.quitting());
        assert!(notice(&app).contains("q again kills them now"));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.on_key(ctrl_c), Some(Action::Shutdown));
        assert_eq!(notice(&app), "killing the workers now");
        assert_eq!(app.on_key(key('+')), None, "no scaling while quitting");

        let mut app = self::app(1, 3);
        assert_eq!(app.on_key(ctrl_c), Some(Action::Shutdown));
        let ctrl_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert_eq!(self::app(1, 3).on_key(ctrl_q), None);
    }

    #[test]
    fn released_keys_are_ignored() {
        let mut app = app(1, 3);
        let mut release = key('q');
        release.kind = KeyEventKind::Release;
        assert_eq!(app.on_key(release), None);
        assert!(!app.quitting());
    }

    #[test]
    fn retry_takes_the_selected_failed_job_and_reports_the_outcome() {
        let mut app = app(1, 3);
        assert_eq!(app.on_key(key('r')), None);
        assert_eq!(notice(&app), "no failed job selected");

        app.on_failed_jobs(Ok(vec![failed_job(9), failed_job(7), failed_job(4)]));
        assert_eq!(app.selected_index(), Some(0), "the newest is selected");
        app.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
        app.on_key(key('j'));
        app.on_key(key('j'));
        assert_eq!(app.selected_index(), Some(2), "stops at the last row");
        app.on_key(key('k'));
        assert_eq!(app.on_key(key('r')), Some(Action::Retry(7)));
        assert_eq!(notice(&app), "retrying failed job 7…");
        let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(app.on_key(enter), Some(Action::Retry(7)));

        assert_eq!(app.on_retried(7, Ok(1)), Action::RefreshFailed);
        assert_eq!(
            notice(&app),
            "retried failed job 7: it is back on its queue"
        );
        assert!(!app.notice.as_ref().unwrap().error);
        // Job 7 left the store: the selection stays on its row.
        app.on_failed_jobs(Ok(vec![failed_job(9), failed_job(4)]));
        assert_eq!(app.selected_index(), Some(1));
        assert_eq!(app.on_key(key('r')), Some(Action::Retry(4)));

        app.on_retried(4, Ok(0));
        assert!(notice(&app).contains("no longer in the failed store"));
        app.on_retried(4, Err("sqlite queue: locked".into()));
        assert_eq!(
            notice(&app),
            "could not retry failed job 4: sqlite queue: locked"
        );
        assert!(app.notice.as_ref().unwrap().error);
        // A refresh keeps the selection on the same job when it moved.
        app.on_failed_jobs(Ok(vec![failed_job(12), failed_job(9), failed_job(4)]));
        assert_eq!(app.selected_index(), Some(2));
        app.on_failed_jobs(Ok(vec![]));
        assert_eq!(app.selected_index(), None);
        assert_eq!(app.on_key(key('r')), None);
    }

    #[test]
    fn the_failed_list_is_read_at_start_and_when_the_store_changes_at_most_every_few_seconds() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let status = |failed| {
            Ok(Status {
                queues: Vec::new(),
                failed,
            })
        };
        let jobs = |n: i64| Ok((1..=n).rev().map(failed_job).collect());
        let mut app = App::new();
        assert_eq!(app.on_status(status(2), at(0)), Some(Action::RefreshFailed));
        assert_eq!(app.on_status(status(2), at(1)), None, "asked already");
        app.on_failed_jobs(jobs(2));
        assert_eq!(
            app.on_status(status(2), at(10)),
            None,
            "the list is current"
        );
        assert_eq!(
            app.on_status(status(3), at(11)),
            Some(Action::RefreshFailed)
        );
        app.on_failed_jobs(jobs(3));
        assert_eq!(app.on_status(status(4), at(12)), None, "too soon");
        assert_eq!(
            app.on_status(status(4), at(16)),
            Some(Action::RefreshFailed)
        );
        // A retry's refresh read the store while the retried job was out
        // of it; it failed again: same size as before, yet the list is old.
        app.on_failed_jobs(jobs(3));
        assert_eq!(
            app.on_status(status(4), at(21)),
            Some(Action::RefreshFailed)
        );
        app.on_failed_jobs(Err("broker gone".into()));
        assert_eq!(app.failed_error.as_deref(), Some("broker gone"));
        assert_eq!(
            app.on_status(status(4), at(26)),
            Some(Action::RefreshFailed),
            "a failed read is tried again"
        );
        // A full list: the store may hold more than it shows.
        app.on_failed_jobs(jobs(FAILED_SHOWN as i64));
        assert_eq!(app.on_status(status(4), at(40)), None);
        assert_eq!(app.on_status(Err("locked".into()), at(41)), None);
        assert_eq!(app.status_error.as_deref(), Some("locked"));
        assert_eq!(app.status.as_ref().map(|s| s.failed), Some(4), "kept");
        assert_eq!(app.on_key(key('f')), Some(Action::RefreshFailed));
    }

    #[test]
    fn rates_count_the_jobs_of_the_last_minute() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let totals = |succeeded, failed| {
            let mut s = state(1, 3);
            s.counters.jobs_succeeded = succeeded;
            s.counters.jobs_failed = failed;
            s
        };
        let mut app = App::new();
        assert_eq!(app.rates(), None);
        app.on_snapshot(totals(100, 1), at(0));
        app.on_snapshot(totals(130, 1), at(30));
        let rates = app.rates().unwrap();
        assert_eq!(rates.jobs.succeeded, 30);
        assert_eq!(rates.window, Duration::from_secs(30));
        for s in 31..=90 {
            app.on_snapshot(totals(130 + (s - 30) * 2, 1 + (s - 30) / 30), at(s));
        }
        // At 90 s: the base is the sample of 30 s.
        let rates = app.rates().unwrap();
        assert_eq!(rates.window, RATE_WINDOW);
        assert_eq!(rates.jobs.succeeded, 120);
        assert_eq!(rates.jobs.failed, 2);
        // Snapshots come every 100 ms: one sample a second is kept.
        app.on_snapshot(totals(400, 3), at(90) + Duration::from_millis(100));
        assert_eq!(app.rates().unwrap().jobs.succeeded, 270);
        assert!(app.throughput.samples.len() <= 62);
    }

    #[test]
    fn the_log_keeps_the_newest_lines() {
        let mut app = App::new();
        for n in 0..LOG_LINES + 5 {
            app.on_log(AccountLine {
                source: LineSource::Supervisor,
                text: n.to_string(),
            });
        }
        assert_eq!(app.log.len(), LOG_LINES);
        assert_eq!(app.log.front().unwrap().text, "5");
    }
}
