//! An application's commands on `QUEUE_DRIVER=postgres`: `farm-test-app`
//! (the application of the supervisor tests) dispatches, `work` runs the
//! jobs in worker processes and scales on the queue's depth, `status` and
//! `failed list/show/retry/forget` read and change the PostgreSQL tables.
//! Each test has a schema of its own; they run when
//! `FASTEVENT_POSTGRES_URL` is set.

#[path = "apps/harness.rs"]
mod harness;
mod postgres_support;

use harness::App;
use postgres_support::{DropSchema, URL_ENV};

/// The application on a schema of its own, dropped with the guard.
fn app(test: &str) -> Option<(App, DropSchema)> {
    let url = std::env::var(URL_ENV).ok()?;
    let schema = postgres_support::fresh_schema(test);
    let mut app = App::new(test);
    app.set("QUEUE_DRIVER", "postgres")
        .set("FASTEVENT_POSTGRES_URL", &url)
        .set("FASTEVENT_POSTGRES_SCHEMA", &schema);
    Some((app, DropSchema { url, schema }))
}

/// The numbers of the record lines `{kind} n pid`, sorted, and their pids.
fn handled(app: &App, kind: &str) -> (Vec<u64>, Vec<u32>) {
    let prefix = format!("{kind} ");
    let mut numbers = Vec::new();
    let mut pids = Vec::new();
    for line in app.record() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let mut words = rest.split(' ');
        numbers.push(words.next().unwrap().parse().unwrap());
        pids.push(words.next_back().unwrap().parse().unwrap());
    }
    numbers.sort();
    pids.sort();
    pids.dedup();
    (numbers, pids)
}

#[test]
fn work_runs_every_job_in_worker_processes_and_status_counts_them() {
    let Some((app, _drop)) = app("pgapp_work") else {
        return;
    };
    app.dispatch("ping", 30);
    app.dispatch("doomed", 1);
    assert_eq!(app.depth(), (31, 0, 0));
    let output = app.ok(&["work", "--stop-when-empty", "--min-workers", "2"]);
    assert!(output.contains("worker 2 ready"), "{output}");
    let (pinged, pids) = handled(&app, "ping");
    assert_eq!(pinged, (1..=30).collect::<Vec<_>>(), "every job ran once");
    println!("30 pings ran in worker processes {pids:?}");
    assert!(!pids.contains(&std::process::id()));
    assert_eq!(
        app.depth(),
        (0, 0, 1),
        "the doomed job is in the failed store"
    );
}

#[test]
fn failed_jobs_are_listed_shown_retried_and_forgotten() {
    let Some((app, _drop)) = app("pgapp_failed") else {
        return;
    };
    app.dispatch("doomed", 1);
    app.ok(&["work", "--stop-when-empty"]);
    let list = app.ok(&["failed", "list"]);
    assert!(list.contains("doomed job 1 fails on purpose"), "{list}");
    let failed = app.json(&["failed", "list", "--json"]);
    let id = failed[0]["id"].as_i64().unwrap().to_string();
    let shown = app.ok(&["failed", "show", &id]);
    assert!(
        shown.contains(r#"{"n":1}"#),
        "the envelope is kept: {shown}"
    );

    let retried = app.ok(&["failed", "retry", &id]);
    assert!(
        retried.contains(&format!("Retried failed job {id}")),
        "{retried}"
    );
    assert_eq!(app.depth(), (1, 0, 0), "back on its queue");
    app.ok(&["work", "--stop-when-empty"]);
    assert_eq!(app.depth(), (0, 0, 1), "and failed again");

    let id = app.json(&["failed", "list", "--json"])[0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let forgotten = app.ok(&["failed", "forget", &id]);
    println!("{}", forgotten.trim());
    assert_eq!(app.ok(&["failed", "list"]).trim(), "No failed jobs.");
    assert_eq!(app.depth(), (0, 0, 0));
}

#[test]
fn work_scales_up_on_the_depth_of_the_postgres_queue() {
    let Some((mut app, _drop)) = app("pgapp_scale") else {
        return;
    };
    let supervisor = app.scale_up_on_a_backlog();
    harness::wait_until("every job to complete", || {
        handled(&app, "slow-done").0.len() == 8
    });
    supervisor.signal("TERM");
    let (status, _) = supervisor.wait();
    assert!(status.success(), "{status}");
    let (done, pids) = handled(&app, "slow-done");
    assert_eq!(done, (1..=8).collect::<Vec<_>>(), "each job ran once");
    println!("8 slow jobs ran in worker processes {pids:?}");
    assert!(pids.len() > 1, "more than one worker took jobs: {pids:?}");
}
