//! The supervisor, run as `farm-test-app work` on a SQLite queue: it keeps
//! its pool, scales it, replaces workers that die or hang, enforces hard
//! timeouts by killing the worker, and drains on SIGTERM.
//!
//! Leases are 2 s and heartbeats 0.2 s here, so a killed worker's job is
//! claimable again quickly. What happened is read from the supervisor's
//! account lines and from the record the listeners write (one line per
//! start and end, with the worker's pid).

#[path = "apps/harness.rs"]
mod harness;

use harness::{App, pid_in, process_exists, wait_until};

/// The pids of the record lines starting with `prefix`.
fn pids_of(record: &[String], prefix: &str) -> Vec<u32> {
    record
        .iter()
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn stop_when_empty_drains_the_queue_with_the_minimum_of_workers_then_exits_0() {
    let app = App::new("drain");
    app.dispatch("ping", 20);
    let supervisor = app.start(&["work", "--stop-when-empty", "--min-workers", "2"]);
    let (status, lines) = supervisor.wait();
    assert!(status.success(), "{status}");

    let mut pinged: Vec<u64> = app
        .record()
        .iter()
        .filter_map(|l| l.strip_prefix("ping "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    pinged.sort();
    assert_eq!(pinged, (1..=20).collect::<Vec<_>>(), "every job ran once");
    assert_eq!(app.depth(), (0, 0, 0));

    let said = |text: &str| lines.iter().filter(|l| l.contains(text)).count();
    assert_eq!(said("[supervisor] worker 1 ready"), 1, "{lines:#?}");
    assert_eq!(said("[supervisor] worker 2 ready"), 1, "{lines:#?}");
    // 20 jobs fit in 2 × 10: no scale-up, and a worker that stops because
    // the queue is empty is not replaced.
    assert_eq!(said("started (pid"), 2, "{lines:#?}");
    assert_eq!(
        said("finished: the queue is empty"),
        said("started (pid"),
        "{lines:#?}"
    );
    assert_eq!(said("every worker finished; exiting"), 1, "{lines:#?}");
    // The listeners' own output is forwarded, prefixed with the worker.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("[worker ") && l.contains("] pinged "))
            .count(),
        20,
        "{lines:#?}"
    );
    for line in lines.iter().filter(|l| l.contains("started (pid")) {
        assert!(
            !process_exists(pid_in(line)),
            "no worker outlives it: {line}"
        );
    }
}

#[test]
fn a_worker_killed_while_running_a_job_is_replaced_and_the_job_completes() {
    let mut app = App::new("sigkill");
    app.set("FARM_SLOW_MS", "3000");
    let supervisor = app.start(&["work", "--max-workers", "1"]);
    supervisor.wait_for("worker 1 ready", 1);
    app.dispatch("slow", 1);
    wait_until("the job to start", || {
        !pids_of(&app.record(), "slow-start").is_empty()
    });
    let first = pids_of(&app.record(), "slow-start")[0];
    harness::send_signal(first, "KILL");

    supervisor.wait_for("exited unexpectedly with signal SIGKILL", 1);
    supervisor.wait_for("worker 2 ready", 1);
    wait_until("the job to complete", || {
        !pids_of(&app.record(), "slow-done").is_empty()
    });
    let record = app.record();
    assert_eq!(pids_of(&record, "slow-done").len(), 1, "{record:?}");
    let done_by = pids_of(&record, "slow-done")[0];
    assert_ne!(
        done_by, first,
        "the killed worker did not finish it: {record:?}"
    );
    assert_eq!(
        pids_of(&record, "slow-start"),
        [first, done_by],
        "{record:?}"
    );
    wait_until("the job to be settled", || app.depth() == (0, 0, 0));

    supervisor.signal("TERM");
    let (status, lines) = supervisor.wait();
    assert!(status.success(), "{status}");
    assert!(!process_exists(first));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("0 of a minimum of 1 worker alive; starting 1")),
        "{lines:#?}"
    );
}

#[test]
fn a_job_past_its_hard_timeout_gets_its_worker_killed_until_it_is_dead_lettered() {
    let app = App::new("hard-timeout");
    let supervisor = app.start(&["work", "--max-workers", "1"]);
    supervisor.wait_for("worker 1 ready", 1);
    app.dispatch("stuck", 1);

    // tries = 2: two workers killed, then the third claim finds the job out
    // of attempts and moves it to the failed store. It is never acked.
    wait_until("the stuck job to reach the failed store", || {
        app.depth().2 == 1
    });
    let failed = app.json(&["failed", "list", "--json"]);
    let job = &failed[0];
    assert_eq!(job["listener"], "blocks_thread");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("killed during each of its 2 attempts"),
        "{job}"
    );
    let kills = supervisor.lines_with("ran past its hard timeout");
    assert_eq!(kills.len(), 2, "{kills:#?}");
    assert!(
        kills[0].contains("stuck -> blocks_thread, attempt 1"),
        "{kills:#?}"
    );
    assert!(
        kills[1].contains("stuck -> blocks_thread, attempt 2"),
        "{kills:#?}"
    );
    let started = pids_of(&app.record(), "stuck-start");
    assert_eq!(started.len(), 2, "{started:?}");
    assert_ne!(started[0], started[1], "a fresh worker each attempt");
    for pid in started {
        assert!(!process_exists(pid), "worker {pid} was killed");
    }
    assert_eq!(app.depth(), (0, 0, 1));

    supervisor.signal("TERM");
    let (status, _) = supervisor.wait();
    assert!(status.success(), "{status}");
}

#[test]
fn sigterm_drains_the_workers_and_exits_0() {
    let mut app = App::new("sigterm");
    app.set("FARM_SLOW_MS", "1000");
    let supervisor = app.start(&["work", "--min-workers", "2"]);
    let ready = supervisor.wait_for("ready (pid", 2);
    app.dispatch("slow", 1);
    wait_until("the job to start", || {
        !pids_of(&app.record(), "slow-start").is_empty()
    });

    supervisor.signal("TERM");
    let (status, lines) = supervisor.wait();
    assert!(status.success(), "{status}: {lines:#?}");
    // The running job was finished, not cut off: the grace period is 3 s.
    assert_eq!(
        pids_of(&app.record(), "slow-done").len(),
        1,
        "{:?}",
        app.record()
    );
    assert_eq!(app.depth(), (0, 0, 0));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("SIGTERM received: stopping 2 workers")),
        "{lines:#?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("stopped after shutdown (exit code 0)"))
            .count(),
        2,
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("killing worker")),
        "{lines:#?}"
    );
    for line in ready {
        assert!(!process_exists(pid_in(&line)), "worker left behind: {line}");
    }
}

#[test]
fn the_pool_scales_up_on_a_backlog_and_back_down_when_idle() {
    let mut app = App::new("scaling");
    app.set("SCALE_DOWN_COOLDOWN_S", "0.5");
    let supervisor = app.scale_up_on_a_backlog();
    wait_until("every job to complete", || {
        pids_of(&app.record(), "slow-done").len() == 8
    });

    // Idle: back to the minimum, one worker per cooldown.
    supervisor.wait_for("stopped after scale-down", 2);
    let downs = supervisor.lines_with("scaling down");
    assert_eq!(downs.len(), 2, "{downs:#?}");
    assert!(
        supervisor.lines_with("worker 4 started").is_empty(),
        "never past the maximum"
    );

    supervisor.signal("TERM");
    let (status, lines) = supervisor.wait();
    assert!(status.success(), "{status}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("stopped after shutdown"))
            .count(),
        1,
        "{lines:#?}"
    );
    let mut done: Vec<u64> = app
        .record()
        .iter()
        .filter_map(|l| l.strip_prefix("slow-done "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    done.sort();
    assert_eq!(
        done,
        (1..=8).collect::<Vec<_>>(),
        "each job ran to its end once"
    );
}

#[test]
fn a_worker_that_stops_heartbeating_is_killed_and_replaced() {
    let mut app = App::new("hung");
    app.set("HEARTBEAT_TIMEOUT_S", "2");
    let supervisor = app.start(&["work", "--max-workers", "1"]);
    let ready = supervisor.wait_for("worker 1 ready", 1);
    let hung = pid_in(&ready[0]);
    // Stopped, the process is alive but says nothing: a hang.
    harness::send_signal(hung, "STOP");

    let killed = supervisor.wait_for("killing worker 1", 1);
    assert!(killed[0].contains("no heartbeat for"), "{killed:#?}");
    supervisor.wait_for("worker 2 ready", 1);
    wait_until("the hung worker to be gone", || !process_exists(hung));

    supervisor.signal("TERM");
    let (status, _) = supervisor.wait();
    assert!(status.success(), "{status}");
}

#[test]
fn a_worker_that_never_becomes_ready_is_killed_and_restarts_slow_down() {
    let mut app = App::new("never-ready");
    app.set("HEARTBEAT_TIMEOUT_S", "2");
    app.set("FARM_HANG_BEFORE_READY", "1");
    let supervisor = app.start(&["work", "--max-workers", "1"]);

    let killed = supervisor.wait_for("did not become ready within", 2);
    assert!(killed[0].contains("killing worker 1"), "{killed:#?}");
    assert!(killed[1].contains("killing worker 2"), "{killed:#?}");
    // Each young death doubles the pause before the next start.
    supervisor.wait_for(
        "2 workers in a row died within 5s of starting; starting workers again in 1s",
        1,
    );
    assert_eq!(supervisor.lines_with("worker 1 ready").len(), 0);

    supervisor.signal("TERM");
    let (status, lines) = supervisor.wait();
    assert!(status.success(), "{status}");
    for line in lines.iter().filter(|l| l.contains("started (pid")) {
        wait_until("no worker left behind", || !process_exists(pid_in(line)));
    }
}

#[test]
fn a_supervisor_stops_only_its_own_workers() {
    let app = App::new("two-supervisors");
    // The database exists before both open it: two processes creating a
    // fresh SQLite file at once can fail with "database is locked".
    assert_eq!(app.depth(), (0, 0, 0));
    let first = app.start(&["work", "--max-workers", "1"]);
    let second = app.start(&["work", "--max-workers", "1"]);
    let first_worker = pid_in(&first.wait_for("worker 1 ready", 1)[0]);
    let second_worker = pid_in(&second.wait_for("worker 1 ready", 1)[0]);

    first.signal("TERM");
    let (status, _) = first.wait();
    assert!(status.success(), "{status}");
    assert!(!process_exists(first_worker));
    assert!(
        process_exists(second_worker),
        "a supervisor stops only its own workers: the other one's runs on"
    );
    assert!(second.lines_with("stopping").is_empty());

    // Still working: a job dispatched now is run by the second pool.
    app.dispatch("ping", 1);
    second.wait_for("] pinged 1", 1);
    second.signal("TERM");
    let (status, _) = second.wait();
    assert!(status.success(), "{status}");
}

#[test]
fn workers_stop_when_their_supervisor_dies() {
    let app = App::new("orphans");
    let supervisor = app.start(&["work", "--min-workers", "2"]);
    let workers: Vec<u32> = supervisor
        .wait_for("ready (pid", 2)
        .iter()
        .map(|l| pid_in(l))
        .collect();
    supervisor.signal("KILL");
    let (status, _) = supervisor.wait();
    assert!(!status.success());
    // In their own process groups, the workers got no signal: they notice
    // that their parent is gone, drain and exit.
    for worker in workers {
        wait_until("the orphaned worker to stop", || !process_exists(worker));
    }
}

/// A worker whose supervisor died before the worker first looked (its
/// parent already another process) stops too.
#[test]
fn a_worker_whose_supervisor_died_before_it_started_stops() {
    let app = App::new("orphan-at-start");
    let mut command = app.command(&["work", "--worker"]);
    // Its parent is this test, not the supervisor it names.
    command.env("FASTEVENT_SUPERVISOR", "supervisor-gone");
    command.env("FASTEVENT_SUPERVISOR_PID", "1");
    let mut worker = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut status = None;
    wait_until("the orphaned worker to stop", || {
        status = worker.try_wait().unwrap();
        status.is_some()
    });
    let output = worker.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("its supervisor (pid 1) is gone"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_snapshot_follows_the_pool() {
    use fastevent::driver::sqlite::{SqliteDriver, SqliteOptions, Synchronous};
    use fastevent::job::JobDefaults;
    use fastevent::supervisor::{
        Phase, Supervisor, SupervisorExit, SupervisorSettings, WorkerCommand, WorkerState,
    };
    use std::sync::Arc;
    use std::time::Duration;

    let app = App::new("state");
    app.dispatch("ping", 5);
    let queue = Arc::new(SqliteDriver::new(
        SqliteOptions {
            path: app.dir().join("queue.db"),
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(10),
        },
        JobDefaults::default(),
        None,
    ));
    // The workers: farm-test-app with this test's environment.
    let mut args: Vec<std::ffi::OsString> =
        app.env_assignments().into_iter().map(Into::into).collect();
    args.extend(
        [
            env!("CARGO_BIN_EXE_farm-test-app"),
            "work",
            "--worker",
            // Long enough to be seen ready in many snapshots, then done.
            "--max-time",
            "2",
        ]
        .map(Into::into),
    );
    let command = WorkerCommand {
        program: "env".into(),
        args,
    };
    let settings = SupervisorSettings {
        min_workers: 2,
        max_workers: 2,
        scale_check_interval: Duration::from_millis(100),
        scale_up_batch: 1,
        scale_down_batch: 1,
        scale_down_cooldown: Duration::from_secs(10),
        heartbeat_timeout: Duration::from_secs(10),
        stop_timeout: Duration::from_secs(5),
        concurrency: 10,
        queues: vec!["default".into()],
    };
    let supervisor = Supervisor::new(settings, command);
    let id = supervisor.id().to_string();
    let mut state = supervisor.subscribe();
    let run = tokio::spawn(supervisor.run(queue));

    let mut seen = Vec::new();
    let watching = async {
        while state.changed().await.is_ok() {
            seen.push(state.borrow_and_update().clone());
        }
    };
    // The sender lives in the supervisor: the stream ends when it returns.
    tokio::time::timeout(harness::PATIENCE, watching)
        .await
        .expect("the supervisor finishes");
    let exit = run.await.unwrap().unwrap();
    assert_eq!(exit, SupervisorExit::Finished);

    assert!(
        seen.iter()
            .all(|s| s.id == id && s.min_workers == 2 && s.queues == ["default"])
    );
    let both_ready = seen
        .iter()
        .find(|s| s.workers.len() == 2 && s.workers.iter().all(|w| w.state == WorkerState::Ready));
    let both_ready = both_ready.unwrap_or_else(|| {
        let states: Vec<Vec<&WorkerState>> = seen
            .iter()
            .map(|s| s.workers.iter().map(|w| &w.state).collect())
            .collect();
        panic!("no snapshot with both workers ready: {states:?}")
    });
    for (worker, number) in both_ready.workers.iter().zip(1..) {
        assert_eq!(worker.number, number);
        assert!(worker.pid > 0);
        assert!(worker.heartbeat_age < Duration::from_secs(10), "{worker:?}");
        assert!(
            worker.worker_id.as_deref().unwrap().starts_with("worker-"),
            "{worker:?}"
        );
    }
    let last = seen.last().unwrap();
    assert_eq!(last.phase, Phase::WindingDown);
    assert!(last.workers.is_empty(), "{last:?}");
    assert_eq!(last.counters.started, 2);
    assert_eq!(last.counters.crashed, 0);
    assert!(last.backlog.is_some(), "the depth was read: {last:?}");
    assert!(
        app.record()
            .iter()
            .filter(|l| l.starts_with("ping "))
            .count()
            == 5
    );
}

#[test]
fn a_second_sigint_kills_the_workers_and_the_interrupted_job_is_not_lost() {
    let mut app = App::new("sigint");
    app.set("FARM_SLOW_MS", "60000");
    let supervisor = app.start(&["work", "--max-workers", "1"]);
    let worker = pid_in(&supervisor.wait_for("worker 1 ready", 1)[0]);
    app.dispatch("slow", 1);
    wait_until("the job to start", || {
        !pids_of(&app.record(), "slow-start").is_empty()
    });

    // Ctrl+C: the job gets its grace period...
    supervisor.signal("INT");
    supervisor.wait_for("SIGINT received: stopping 1 worker", 1);
    assert!(process_exists(worker), "draining, not killed");
    // ...unless Ctrl+C comes again.
    supervisor.signal("INT");
    let (status, lines) = supervisor.wait();
    assert!(status.success(), "{status}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("killing worker 1") && l.contains("forced shutdown")),
        "{lines:#?}"
    );
    assert!(!process_exists(worker));
    assert!(pids_of(&app.record(), "slow-done").is_empty());
    // Never acked: once its lease runs out the job is ready again.
    wait_until("the job to be ready again", || app.depth() == (1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_changes_the_pool_bounds_at_run_time_and_stops_it_like_sigterm() {
    use fastevent::driver::sqlite::{SqliteDriver, SqliteOptions, Synchronous};
    use fastevent::job::JobDefaults;
    use fastevent::supervisor::{
        ControlError, Supervisor, SupervisorExit, SupervisorSettings, SupervisorState,
        WorkerCommand, WorkerState,
    };
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::{mpsc, watch};

    /// The first snapshot for which `holds` is true.
    async fn until(
        state: &mut watch::Receiver<SupervisorState>,
        what: &str,
        holds: impl Fn(&SupervisorState) -> bool,
    ) -> SupervisorState {
        let wait = async {
            loop {
                {
                    let now = state.borrow_and_update();
                    if holds(&now) {
                        return now.clone();
                    }
                }
                state.changed().await.expect("the supervisor runs");
            }
        };
        tokio::time::timeout(harness::PATIENCE, wait)
            .await
            .unwrap_or_else(|_| panic!("gave up waiting for {what}: {:?}", state.borrow()))
    }
    fn ready(state: &SupervisorState) -> usize {
        state
            .workers
            .iter()
            .filter(|w| w.state == WorkerState::Ready)
            .count()
    }

    let app = App::new("control");
    let queue = Arc::new(SqliteDriver::new(
        SqliteOptions {
            path: app.dir().join("queue.db"),
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(10),
        },
        JobDefaults::default(),
        None,
    ));
    let mut args: Vec<std::ffi::OsString> =
        app.env_assignments().into_iter().map(Into::into).collect();
    args.extend([env!("CARGO_BIN_EXE_farm-test-app"), "work", "--worker"].map(Into::into));
    let command = WorkerCommand {
        program: "env".into(),
        args,
    };
    let settings = SupervisorSettings {
        min_workers: 1,
        max_workers: 1,
        scale_check_interval: Duration::from_millis(100),
        scale_up_batch: 1,
        scale_down_batch: 1,
        scale_down_cooldown: Duration::from_secs(60),
        heartbeat_timeout: Duration::from_secs(10),
        stop_timeout: Duration::from_secs(5),
        concurrency: 10,
        queues: vec!["default".into()],
    };
    // The account to a channel, as the dashboard takes it.
    let (lines_tx, mut lines) = mpsc::channel(1024);
    let supervisor = Supervisor::new(settings, command).account_to(lines_tx);
    let handle = supervisor.handle();
    let mut state = supervisor.subscribe();
    let run = tokio::spawn(supervisor.run(queue));

    until(&mut state, "worker 1 ready", |s| ready(s) == 1).await;
    assert!(matches!(
        handle.set_pool(3, 2),
        Err(ControlError::Bounds(why)) if why.contains("cannot exceed the maximum")
    ));
    assert!(matches!(
        handle.set_pool(0, 2),
        Err(ControlError::Bounds(_))
    ));

    // A higher minimum is started at once, past the old maximum.
    handle.set_pool(3, 3).unwrap();
    until(&mut state, "3 workers ready", |s| {
        (s.min_workers, s.max_workers) == (3, 3) && ready(s) == 3
    })
    .await;
    // A lower maximum stops the excess (the newest), which drain.
    handle.set_pool(1, 1).unwrap();
    let trimmed = until(&mut state, "the pool back to 1 worker", |s| {
        s.max_workers == 1 && s.workers.len() == 1
    })
    .await;
    assert_eq!(trimmed.workers[0].number, 1, "the oldest stays");
    assert_eq!(trimmed.counters.crashed, 0);

    handle.shut_down().unwrap();
    let exit = tokio::time::timeout(harness::PATIENCE, run)
        .await
        .expect("the supervisor stops")
        .unwrap()
        .unwrap();
    assert_eq!(exit, SupervisorExit::Shutdown);
    assert_eq!(handle.set_pool(1, 1), Err(ControlError::Stopped));

    let mut said = Vec::new();
    while let Ok(line) = lines.try_recv() {
        said.push(line.to_string());
    }
    for expected in [
        "[supervisor] pool bounds changed to 3..3 workers (were 1..1)",
        "[supervisor] 1 of a minimum of 3 workers alive; starting 2",
        "[supervisor] pool bounds changed to 1..1 workers (were 3..3)",
        "[supervisor] 3 alive, more than the maximum of 1; stopping worker 3, 2",
        "[supervisor] worker 3 stopped after scale-down (exit code 0)",
        "[supervisor] worker 2 stopped after scale-down (exit code 0)",
        "[supervisor] quit received: stopping 1 worker",
        "[supervisor] worker 1 stopped after shutdown (exit code 0)",
    ] {
        assert!(
            said.iter().any(|l| l.starts_with(expected)),
            "no {expected:?} in {said:#?}"
        );
    }
}
