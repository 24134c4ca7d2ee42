//! The supervisor: a pool of worker processes, each this same binary run as
//! `work --worker`, kept between `MIN_WORKERS` and `MAX_WORKERS` by the
//! queue's depth, watched through the reports they send on a channel of
//! their own, and replaced when they crash, hang, or run a listener past its
//! hard timeout.
//!
//! Everything happens in one loop that never waits for a worker: a stop is
//! a signal plus a deadline checked on the next housekeeping tick (so one
//! slow worker never stalls the others' supervision), the queue depth is
//! read by a task of its own (a locked database delays the scaling, never
//! the heartbeat checks or the minimum), and exits are
//! noticed on SIGCHLD.
//!
//! - `settings`: what it reads from the environment and the flags
//!   ([`SupervisorSettings`]);
//! - `scaling`: the scaling decision, a pure function;
//! - `process`: starting, signalling and reading one worker process;
//! - `state`: the snapshot a dashboard reads ([`Supervisor::subscribe`]);
//! - `control`: what a dashboard asks of it ([`Supervisor::handle`]);
//! - `member`: one worker's tracked state; `restart`: the delay after
//!   workers that die young; `account`: the lines it prints (or hands to a
//!   dashboard: [`Supervisor::account_to`]).

mod account;
mod control;
mod member;
mod process;
mod restart;
mod scaling;
mod settings;
mod state;

pub use account::{AccountLine, LineSource};
pub use control::{ControlError, SupervisorHandle, check_pool};
pub use process::WorkerCommand;
pub use scaling::Backlog;
pub use settings::{KILL_MARGIN, SupervisorSettings};
pub use state::{
    JobSnapshot, Phase, SupervisorCounters, SupervisorState, WorkerSnapshot, WorkerState,
};

use crate::driver::durable::{DurableQueue, IntoDurableQueue};
use crate::job::now_ms;
use crate::worker::report::WorkerMessage;
use account::Account;
use control::Control;
use member::{Change, Kill, Member};
use process::{Output, WorkerProcess, describe_exit};
use restart::{RestartBackoff, STARTUP_WINDOW};
use scaling::{Decision, IdleClock, Limits, StartReason};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How often deadlines (hard timeouts, heartbeats, grace periods) are
/// checked and the minimum is enforced.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_millis(100);

/// How long the output and reports of an exited worker are still awaited;
/// something it started may hold its standard output open for ever.
const OUTPUT_DRAIN: Duration = Duration::from_secs(1);

/// A depth reading that takes longer is a failed one.
const DEPTH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why [`Supervisor::run`] returned: for the program's exit code, or its
/// last log line.
///
/// ```
/// use fastevent::supervisor::SupervisorExit;
///
/// fn describe(exit: SupervisorExit) -> &'static str {
///     match exit {
///         SupervisorExit::Shutdown => "stopped by a signal; the workers drained",
///         SupervisorExit::Finished => "every worker reached its limits",
///     }
/// }
/// assert_eq!(describe(SupervisorExit::Finished), "every worker reached its limits");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorExit {
    /// SIGTERM or SIGINT: its workers were stopped.
    Shutdown,
    /// Every worker stopped by its own limits (`--stop-when-empty`,
    /// `--max-jobs`, `--max-time`).
    Finished,
}

/// A supervisor of worker processes: what the `work` command runs. Use it
/// directly for a command line of your own; its workers are this program
/// run again with the given arguments, so its `main` must start a worker
/// for them (as `fastevent::cli`, feature `cli`, does for `work --worker`).
///
/// ```no_run
/// use fastevent::supervisor::{Supervisor, SupervisorSettings, WorkerCommand};
/// use fastevent::worker::WorkerOptions;
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let worker = WorkerOptions::from_env()?;
/// let settings = SupervisorSettings::from_env(&worker)?.with_workers(Some(2), Some(8), &worker)?;
/// // Workers run `<this program> work --worker`.
/// let command = WorkerCommand::current_exe(["work".into()])?;
/// let supervisor = Supervisor::new(settings, command);
/// let mut state = supervisor.subscribe();
/// tokio::spawn(async move {
///     while state.changed().await.is_ok() {
///         let workers = state.borrow().workers.len();
///         println!("{workers} workers");
///     }
/// });
/// // Until SIGTERM or SIGINT: the workers drain, then it returns.
/// let exit = supervisor.run(fastevent::durable_queue()?).await?;
/// println!("{exit:?}");
/// # Ok(()) }
/// ```
pub struct Supervisor {
    settings: SupervisorSettings,
    command: WorkerCommand,
    id: String,
    state: watch::Sender<SupervisorState>,
    account: Account,
    requests: mpsc::UnboundedSender<Control>,
    controls: mpsc::UnboundedReceiver<Control>,
}

impl Supervisor {
    /// A supervisor that starts workers with `command` (see
    /// [`WorkerCommand::current_exe`]).
    pub fn new(settings: SupervisorSettings, command: WorkerCommand) -> Self {
        let id = format!(
            "supervisor-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        let (state, _) = watch::channel(SupervisorState {
            id: id.clone(),
            pid: std::process::id(),
            min_workers: settings.min_workers,
            max_workers: settings.max_workers,
            concurrency: settings.concurrency,
            queues: settings.queues.clone(),
            heartbeat_timeout: settings.heartbeat_timeout,
            ..SupervisorState::default()
        });
        let (requests, controls) = mpsc::unbounded_channel();
        Self {
            settings,
            command,
            id,
            state,
            account: Account::default(),
            requests,
            controls,
        }
    }

    /// Its id, which its workers get in `FASTEVENT_SUPERVISOR`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Snapshots of its state, refreshed every housekeeping tick.
    pub fn subscribe(&self) -> watch::Receiver<SupervisorState> {
        self.state.subscribe()
    }

    /// A handle to change its pool's bounds or stop it while it runs.
    pub fn handle(&self) -> SupervisorHandle {
        SupervisorHandle {
            requests: self.requests.clone(),
        }
    }

    /// Sends its account (and its workers' forwarded output) to `lines`
    /// instead of standard output: for a dashboard that owns the terminal.
    /// Lines that do not fit in the channel are dropped, never waited for;
    /// the next line that fits says how many.
    ///
    /// ```no_run
    /// use fastevent::supervisor::{LineSource, Supervisor, SupervisorSettings, WorkerCommand};
    /// use fastevent::worker::WorkerOptions;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let worker = WorkerOptions::from_env()?;
    /// let settings = SupervisorSettings::from_env(&worker)?;
    /// let (lines, mut account) = tokio::sync::mpsc::channel(1024);
    /// let supervisor = Supervisor::new(settings, WorkerCommand::current_exe(["work".into()])?)
    ///     .account_to(lines);
    /// tokio::spawn(async move {
    ///     while let Some(line) = account.recv().await {
    ///         if line.source == LineSource::Warning {
    ///             eprintln!("{line}"); // a dashboard would show it in a pane
    ///         }
    ///     }
    /// });
    /// supervisor.run(fastevent::durable_queue()?).await?;
    /// # Ok(()) }
    /// ```
    pub fn account_to(mut self, lines: mpsc::Sender<AccountLine>) -> Self {
        self.account = Account::to_channel(lines);
        self
    }

    /// Runs the pool until SIGTERM/SIGINT (its workers drain, then it
    /// returns) or until every worker stopped by its own limits. Errors only
    /// when the signal handlers cannot be installed.
    pub async fn run(self, queue: impl IntoDurableQueue) -> std::io::Result<SupervisorExit> {
        let queue = queue.into_durable_queue();
        // Handlers first: a signal that arrives once workers exist must
        // drain them, not kill the supervisor and orphan them.
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut child_exited = signal(SignalKind::child())?;
        let (output_tx, mut output_rx) = mpsc::channel(1024);
        let (depth_tx, mut depth_rx) = mpsc::channel(1);
        let poller = spawn_depth_poller(
            queue,
            self.settings.queues.clone(),
            self.settings.scale_check_interval,
            depth_tx,
        );
        // Only handles keep the request channel open: with none left, its
        // branch below is disabled instead of waiting for ever.
        let Supervisor {
            settings,
            command,
            id,
            state,
            account,
            requests,
            mut controls,
        } = self;
        drop(requests);
        let mut pool = Pool {
            settings,
            command,
            id,
            state,
            account,
            output: output_tx,
            poller,
            members: BTreeMap::new(),
            next_number: 1,
            phase: Phase::Running,
            idle: IdleClock::default(),
            restart: RestartBackoff::default(),
            backlog: None,
            backlog_error: None,
            counters: SupervisorCounters::default(),
        };
        pool.announce();
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let exit = loop {
            tokio::select! {
                _ = terminate.recv() => pool.shut_down("SIGTERM", Instant::now()),
                _ = interrupt.recv() => pool.shut_down("SIGINT", Instant::now()),
                Some(output) = output_rx.recv() => pool.on_output(output, Instant::now()),
                _ = child_exited.recv() => pool.reap(Instant::now()),
                Some(reading) = depth_rx.recv() => pool.on_reading(reading, Instant::now()),
                Some(control) = controls.recv() => pool.on_control(control, Instant::now()),
                _ = housekeeping.tick() => pool.housekeeping(Instant::now()),
            }
            if let Some(exit) = pool.finished() {
                break exit;
            }
        };
        pool.poller.abort();
        pool.publish(Instant::now());
        Ok(exit)
    }
}

/// Reads the depth of `queues` every `every`, on its own task.
fn spawn_depth_poller(
    queue: Arc<dyn DurableQueue>,
    queues: Vec<String>,
    every: Duration,
    readings: mpsc::Sender<Result<Backlog, String>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let reading = match tokio::time::timeout(DEPTH_TIMEOUT, queue.depth()).await {
                Ok(Ok(depths)) => Ok(depths.iter().filter(|d| queues.contains(&d.queue)).fold(
                    Backlog::default(),
                    |sum, d| Backlog {
                        ready: sum.ready + d.ready,
                        running: sum.running + d.running,
                        delayed: sum.delayed + d.delayed,
                    },
                )),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(format!("no answer within {}s", DEPTH_TIMEOUT.as_secs())),
            };
            if readings.send(reading).await.is_err() {
                return;
            }
        }
    })
}

/// The supervisor loop's state.
struct Pool {
    settings: SupervisorSettings,
    command: WorkerCommand,
    id: String,
    state: watch::Sender<SupervisorState>,
    account: Account,
    output: mpsc::Sender<Output>,
    poller: JoinHandle<()>,
    members: BTreeMap<u32, Member>,
    next_number: u32,
    phase: Phase,
    idle: IdleClock,
    restart: RestartBackoff,
    backlog: Option<Backlog>,
    backlog_error: Option<String>,
    counters: SupervisorCounters,
}

impl Pool {
    fn announce(&self) {
        let s = &self.settings;
        self.account.say(format_args!(
            "{} (pid {}) starting: {}..{} workers, {} jobs each, queues {}, scale check every {}s",
            self.id,
            std::process::id(),
            s.min_workers,
            s.max_workers,
            s.concurrency,
            s.queues.join(","),
            secs(s.scale_check_interval)
        ));
    }

    fn limits(&self) -> Limits {
        let s = &self.settings;
        Limits {
            min: s.min_workers,
            max: s.max_workers,
            concurrency: s.concurrency,
            up_batch: s.scale_up_batch,
            down_batch: s.scale_down_batch,
            cooldown: s.scale_down_cooldown,
        }
    }

    fn view(&self) -> scaling::Pool {
        scaling::Pool {
            alive: self.members.values().filter(|m| m.is_active()).count(),
            // Newest first: the oldest workers keep their numbers.
            idle: self
                .members
                .values()
                .rev()
                .filter(|m| m.is_idle())
                .map(|m| m.number)
                .collect(),
            busy: self
                .members
                .values()
                .rev()
                .filter(|m| m.is_active() && !m.is_idle())
                .map(|m| m.number)
                .collect(),
            winding_down: self.phase == Phase::WindingDown,
        }
    }

    fn finished(&self) -> Option<SupervisorExit> {
        if !self.members.is_empty() {
            return None;
        }
        match self.phase {
            Phase::Running => None,
            Phase::WindingDown => {
                self.account.say("every worker finished; exiting");
                Some(SupervisorExit::Finished)
            }
            Phase::ShuttingDown => {
                self.account.say("every worker stopped; exiting");
                Some(SupervisorExit::Shutdown)
            }
        }
    }

    // ------------------------------------------------------------ scaling

    fn on_reading(&mut self, reading: Result<Backlog, String>, now: Instant) {
        if self.phase == Phase::ShuttingDown {
            return;
        }
        let backlog = match reading {
            Ok(backlog) => {
                if self.backlog_error.take().is_some() {
                    self.account
                        .say("the queue depth can be read again; scaling resumes");
                }
                Some(backlog)
            }
            Err(error) => {
                if self.backlog_error.is_none() {
                    self.account.warn(format_args!(
                        "could not read the queue depth ({error}); scaling is paused, the minimum of {} is still kept",
                        account::workers(self.settings.min_workers)
                    ));
                }
                self.backlog_error = Some(error);
                None
            }
        };
        self.backlog = backlog;
        self.idle.observe(backlog, now);
        let decision = scaling::decide(
            &self.limits(),
            &self.view(),
            backlog,
            self.idle.idle_for(now),
        );
        self.apply(decision, now);
    }

    fn apply(&mut self, decision: Decision, now: Instant) {
        match decision {
            Decision::Hold => {}
            Decision::Start { count, reason } => {
                // After workers died young, wait before starting any more,
                // whatever the reason: a broken build must not fork-bomb.
                if !self.restart.allows(now) {
                    return;
                }
                match reason {
                    StartReason::BelowMin { .. } if self.counters.started == 0 => {
                        self.account.say(format_args!(
                            "starting {} (the minimum)",
                            account::workers(count)
                        ));
                    }
                    StartReason::BelowMin { alive } => self.account.say(format_args!(
                        "{alive} of a minimum of {} alive; starting {count}",
                        account::workers(self.settings.min_workers)
                    )),
                    StartReason::Backlog { ready, capacity } => {
                        self.counters.scaled_up += 1;
                        self.idle.scaled(now);
                        self.account.say(format_args!(
                            "scaling up: {ready} jobs ready{}, more than {} can hold ({capacity}); starting {count} more",
                            self.others(),
                            account::workers(self.view().alive)
                        ));
                    }
                }
                for _ in 0..count {
                    if !self.spawn(now) {
                        break;
                    }
                }
            }
            Decision::Stop { workers, idle_for } => {
                self.counters.scaled_down += 1;
                self.idle.scaled(now);
                let names: Vec<String> = workers.iter().map(u32::to_string).collect();
                self.account.say(format_args!(
                    "scaling down: no job ready for {}s{}; stopping idle worker {}",
                    secs(idle_for),
                    self.others(),
                    names.join(", ")
                ));
                for number in workers {
                    self.terminate(number, "scale-down", now);
                }
            }
            Decision::Trim { workers } => {
                let names: Vec<String> = workers.iter().map(u32::to_string).collect();
                self.account.say(format_args!(
                    "{} alive, more than the maximum of {}; stopping worker {} (running jobs finish first)",
                    self.view().alive,
                    self.settings.max_workers,
                    names.join(", ")
                ));
                for number in workers {
                    self.terminate(number, "scale-down", now);
                }
            }
        }
    }

    // ------------------------------------------------------------ control

    fn on_control(&mut self, control: Control, now: Instant) {
        match control {
            Control::SetPool { min, max } => self.set_pool(min, max, now),
            Control::Shutdown => self.shut_down("quit", now),
        }
    }

    /// New bounds, applied now rather than on the next tick: the minimum is
    /// started, the excess over the maximum stopped, and the snapshot shows
    /// them at once to whoever asked.
    fn set_pool(&mut self, min: usize, max: usize, now: Instant) {
        let (was_min, was_max) = (self.settings.min_workers, self.settings.max_workers);
        if (min, max) == (was_min, was_max) {
            return;
        }
        // The handle checked them; checked again so that the loop never
        // runs with bounds the settings would refuse.
        if let Err(error) = control::check_pool(min, max) {
            self.account
                .warn(format_args!("pool bounds {min}..{max} refused: {error}"));
            return;
        }
        self.settings.min_workers = min;
        self.settings.max_workers = max;
        self.account.say(format_args!(
            "pool bounds changed to {min}..{max} workers (were {was_min}..{was_max})"
        ));
        if self.phase != Phase::ShuttingDown {
            let decision = scaling::decide(&self.limits(), &self.view(), None, None);
            self.apply(decision, now);
        }
        self.publish(now);
    }

    /// " (3 running, 1 delayed)" from the last reading, for the account.
    fn others(&self) -> String {
        self.backlog.map_or_else(String::new, |b| {
            format!(" ({} running, {} delayed)", b.running, b.delayed)
        })
    }

    /// Starts one worker; false when it could not be started.
    fn spawn(&mut self, now: Instant) -> bool {
        let number = self.next_number;
        self.next_number += 1;
        match WorkerProcess::spawn(&self.command, number, &self.id, self.output.clone()) {
            Ok(process) => {
                self.account.say(format_args!(
                    "worker {number} started (pid {})",
                    process.pid()
                ));
                self.counters.started += 1;
                self.members
                    .insert(number, Member::new(number, process, now));
                true
            }
            Err(error) => {
                let delay = self.restart.died(Duration::ZERO, now);
                self.account.warn(format_args!(
                    "could not start worker {number} ({}): {error}; trying again in {}s",
                    self.command.program.display(),
                    secs(delay)
                ));
                false
            }
        }
    }

    fn terminate(&mut self, number: u32, why: &str, now: Instant) {
        let stop_timeout = self.settings.stop_timeout;
        if let Some(member) = self.members.get_mut(&number)
            && member.is_signalable()
        {
            member.process.terminate();
            member.stage = member::Stage::Terminating {
                why: why.to_string(),
                deadline: now + stop_timeout,
            };
        }
    }

    fn kill(&mut self, number: u32, kill: Kill) {
        let Some(member) = self.members.get_mut(&number) else {
            return;
        };
        if !member.is_signalable() {
            return;
        }
        match &kill {
            Kill::Unresponsive(_) => self.counters.killed_unresponsive += 1,
            Kill::HardTimeout(_) => self.counters.killed_hard_timeout += 1,
            Kill::AfterGrace => self.counters.killed_after_grace += 1,
            Kill::Forced => {}
        }
        self.account.warn(format_args!(
            "killing worker {number} (pid {}): {kill}",
            member.process.pid()
        ));
        member.process.kill();
        member.stage = member::Stage::Killed(kill);
    }

    // ---------------------------------------------------------- reports

    fn on_output(&mut self, output: Output, now: Instant) {
        match output {
            Output::Line(number, line) => self.account.forward(number, &line),
            Output::Report(number, Ok(message)) => self.on_message(number, message, now),
            Output::Report(number, Err(error)) => self
                .account
                .warn(format_args!("worker {number}'s report channel: {error}")),
            Output::Closed(number) => {
                if let Some(member) = self.members.get_mut(&number) {
                    member.output_closed = true;
                }
                self.reap(now);
            }
            Output::ReportsClosed(number) => {
                if let Some(member) = self.members.get_mut(&number) {
                    member.reports_closed = true;
                }
                self.reap(now);
            }
        }
    }

    fn on_message(&mut self, number: u32, message: WorkerMessage, now: Instant) {
        if let WorkerMessage::JobStarted {
            job_id,
            listener,
            attempt,
            ..
        } = &message
        {
            tracing::debug!(target: "fastevent::supervisor", worker = number, job = %job_id, %listener, attempt, "job started");
        }
        if let WorkerMessage::JobFinished { outcome, .. } = &message {
            match outcome.as_str() {
                "succeeded" => self.counters.jobs_succeeded += 1,
                "retried" => self.counters.jobs_retried += 1,
                "failed" => self.counters.jobs_failed += 1,
                _ => {}
            }
        }
        let stop_timeout = self.settings.stop_timeout;
        let Some(member) = self.members.get_mut(&number) else {
            return;
        };
        match member.on_message(message, now, stop_timeout) {
            Change::Nothing => {}
            Change::Ready => self.account.say(format_args!(
                "worker {number} ready (pid {})",
                member.process.pid()
            )),
            Change::Stopping(reason) => {
                self.account.say(format_args!(
                    "worker {number} stopping: {}",
                    member::describe_stop(&reason)
                ));
                // Now, not at its exit: a stopping worker no longer counts
                // as alive, and the minimum must not replace it meanwhile.
                if member::stopped_by_limits(&reason) {
                    self.wind_down();
                }
            }
        }
    }

    /// A worker is done by its limits: the pool only shrinks from now on.
    fn wind_down(&mut self) {
        if self.phase == Phase::Running {
            self.phase = Phase::WindingDown;
            self.account
                .say("winding down: no worker is started any more; exiting when all have finished");
        }
    }

    // ------------------------------------------------------------ exits

    /// Notices exited workers; forgets them once their output has ended.
    fn reap(&mut self, now: Instant) {
        let mut gone = Vec::new();
        for member in self.members.values_mut() {
            if member.exit.is_none()
                && let Some(status) = member.process.try_exit()
            {
                member.exit = Some((status, now));
            }
            let drained = member.output_closed && member.reports_closed;
            if let Some((_, seen)) = member.exit
                && (drained || now.saturating_duration_since(seen) >= OUTPUT_DRAIN)
            {
                gone.push(member.number);
            }
        }
        for number in gone {
            if let Some(member) = self.members.remove(&number) {
                self.forget(member, now);
            }
        }
    }

    /// Accounts for a worker that exited, once its last lines are in:
    /// whether it was asked to stop, killed, done with its limits (the pool
    /// winds down), or crashed (the minimum replaces it, after a delay when
    /// workers keep dying young).
    fn forget(&mut self, member: Member, now: Instant) {
        if !(member.output_closed && member.reports_closed) {
            member.process.stop_reading();
        }
        let Some((status, seen)) = member.exit else {
            return;
        };
        let number = member.number;
        let pid = member.process.pid();
        let exit = describe_exit(&status);
        let lived = seen.saturating_duration_since(member.spawned_at);
        match &member.stage {
            member::Stage::Killed(kill) => {
                self.account
                    .say(format_args!("worker {number} (pid {pid}) is gone ({exit})"));
                if matches!(kill, Kill::Unresponsive(_)) && self.phase != Phase::ShuttingDown {
                    self.died(lived, now);
                }
            }
            member::Stage::Terminating { why, .. } => {
                self.account
                    .say(format_args!("worker {number} stopped after {why} ({exit})"));
            }
            _ if status.success()
                && member
                    .stop_reason
                    .as_deref()
                    .is_some_and(member::stopped_by_limits) =>
            {
                let reason = member.stop_reason.as_deref().unwrap_or_default();
                self.account.say(format_args!(
                    "worker {number} finished: {}",
                    member::describe_stop(reason)
                ));
                self.wind_down();
            }
            _ if status.success() => {
                let reason = member
                    .stop_reason
                    .as_deref()
                    .unwrap_or("without saying why");
                self.account.say(format_args!(
                    "worker {number} (pid {pid}) exited by itself: {}",
                    member::describe_stop(reason)
                ));
            }
            _ => {
                self.counters.crashed += 1;
                self.account.warn(format_args!(
                    "worker {number} (pid {pid}) exited unexpectedly with {exit} after {}s",
                    secs(lived)
                ));
                if self.phase != Phase::ShuttingDown {
                    self.died(lived, now);
                }
            }
        }
    }

    fn died(&mut self, lived: Duration, now: Instant) {
        let delay = self.restart.died(lived, now);
        if !delay.is_zero() {
            self.account.warn(format_args!(
                "{} in a row died within {}s of starting; starting workers again in {}s",
                account::workers(self.restart.young_deaths() as usize),
                STARTUP_WINDOW.as_secs(),
                secs(delay)
            ));
        }
    }

    // ------------------------------------------------------ housekeeping

    fn housekeeping(&mut self, now: Instant) {
        self.reap(now);
        let clock_ms = now_ms();
        let timeout = self.settings.heartbeat_timeout;
        let overdue: Vec<(u32, Kill)> = self
            .members
            .values()
            .filter_map(|m| {
                m.overdue(now, clock_ms, timeout)
                    .map(|kill| (m.number, kill))
            })
            .collect();
        for (number, kill) in overdue {
            self.kill(number, kill);
        }
        if self.members.values().any(|m| {
            m.stage == member::Stage::Ready
                && now.saturating_duration_since(m.spawned_at) >= STARTUP_WINDOW
        }) {
            self.restart.healthy();
        }
        if self.phase != Phase::ShuttingDown {
            // The minimum only: scaling waits for the next depth reading.
            let decision = scaling::decide(&self.limits(), &self.view(), None, None);
            self.apply(decision, now);
        }
        self.publish(now);
    }

    fn shut_down(&mut self, signal: &str, now: Instant) {
        if self.phase == Phase::ShuttingDown {
            self.account
                .warn(format_args!("{signal} again: killing every worker now"));
            let numbers: Vec<u32> = self.members.keys().copied().collect();
            for number in numbers {
                if !matches!(self.members[&number].stage, member::Stage::Killed(_)) {
                    self.kill(number, Kill::Forced);
                }
            }
            return;
        }
        self.phase = Phase::ShuttingDown;
        self.poller.abort();
        let draining: Vec<u32> = self
            .members
            .values()
            .filter(|m| m.is_active())
            .map(|m| m.number)
            .collect();
        self.account.say(format_args!(
            "{signal} received: stopping {}; running jobs get {}s to finish (send it again to kill them now)",
            account::workers(self.members.len()),
            secs(
                self.settings
                    .stop_timeout
                    .saturating_sub(settings::KILL_MARGIN)
            )
        ));
        for number in draining {
            self.terminate(number, "shutdown", now);
        }
    }

    fn publish(&self, now: Instant) {
        self.state.send_replace(SupervisorState {
            id: self.id.clone(),
            pid: std::process::id(),
            min_workers: self.settings.min_workers,
            max_workers: self.settings.max_workers,
            concurrency: self.settings.concurrency,
            queues: self.settings.queues.clone(),
            heartbeat_timeout: self.settings.heartbeat_timeout,
            backlog: self.backlog,
            backlog_error: self.backlog_error.clone(),
            workers: self.members.values().map(|m| m.snapshot(now)).collect(),
            counters: self.counters,
            phase: self.phase,
        });
    }
}

/// Seconds for the account: `1.5`, `10`.
fn secs(duration: Duration) -> String {
    let s = duration.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}
