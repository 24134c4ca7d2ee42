//! The embedded command line, run as a real program (`farm-test-app`, an
//! application with four events) on a SQLite queue in a private directory:
//! `events`, `status`, `failed list|show|retry|forget`, and the exit codes
//! scripts rely on (0 done, 1 failed with one line on stderr, 2 usage).

#[path = "apps/harness.rs"]
mod harness;

use harness::App;

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn events_lists_the_wiring_with_listener_options() {
    let app = App::new("events");
    let events = app.json(&["events", "--json"]);
    let events = events.as_array().unwrap();
    let names: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
    // Only the app's own: the conformance suite, a dev-dependency of this
    // package, is linked into its test binaries, never into the app.
    assert_eq!(
        names,
        ["chatty", "doomed", "ping", "slow", "stuck"],
        "sorted by name"
    );
    let event = |name: &str| &events[names.iter().position(|n| *n == name).unwrap()];

    let stuck = event("stuck");
    assert_eq!(stuck["type"], "farm_test_app::Stuck");
    assert_eq!(stuck["version"], 1);
    let listener = &stuck["listeners"][0];
    assert_eq!(listener["name"], "blocks_thread");
    assert_eq!(listener["type"], "farm_test_app::BlocksThread");
    assert_eq!(listener["queue"], "default");
    assert_eq!(listener["tries"], 2);
    assert_eq!(listener["hard_timeout_ms"], 1000);
    assert_eq!(listener["timeout_ms"], serde_json::Value::Null);

    let slow = &event("slow")["listeners"][0];
    assert_eq!(slow["backoff"]["kind"], "exponential");
    assert_eq!(slow["backoff"]["first_ms"], 100);
    assert_eq!(event("doomed")["listeners"][0]["tries"], 1);
    assert_eq!(
        event("ping")["listeners"][0]["tries"],
        serde_json::Value::Null
    );

    let table = app.ok(&["events"]);
    assert!(
        table.contains("stuck (farm_test_app::Stuck, v1)"),
        "{table}"
    );
    assert!(
        table.lines().any(
            |l| l.contains("-> blocks_thread (farm_test_app::BlocksThread)") && l.contains("1s")
        ),
        "{table}"
    );
}

#[test]
fn status_shows_the_depth_of_each_queue() {
    let app = App::new("status");
    assert_eq!(app.depth(), (0, 0, 0));
    app.dispatch("ping", 3);
    assert_eq!(app.depth(), (3, 0, 0));
    let table = app.ok(&["status"]);
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["default", "3", "0", "0"]),
        "{table}"
    );
    assert!(table.contains("Failed jobs: 0"), "{table}");
}

#[test]
fn failed_jobs_can_be_listed_shown_retried_and_forgotten() {
    let app = App::new("failed");
    app.dispatch("doomed", 2);
    // One worker in this process, until the queue is empty.
    app.ok(&["work", "--worker", "--stop-when-empty"]);
    assert_eq!(app.depth(), (0, 0, 2));

    let list = app.json(&["failed", "list", "--json"]);
    let jobs = list.as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    for job in jobs {
        assert_eq!(job["event"], "doomed");
        assert_eq!(job["listener"], "always_fails");
        assert_eq!(job["attempts"], 1);
        assert!(
            job["error"].as_str().unwrap().contains("fails on purpose"),
            "{job}"
        );
    }
    let newest = jobs[0]["id"].as_i64().unwrap();
    let oldest = jobs[1]["id"].as_i64().unwrap();
    assert!(newest > oldest, "newest first");
    assert_eq!(
        app.json(&["failed", "list", "--json", "--limit", "1"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let table = app.ok(&["failed", "list"]);
    assert!(table.starts_with("ID"), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");

    let shown = app.ok(&["failed", "show", &oldest.to_string()]);
    assert!(shown.contains(&format!("id:         {oldest}")), "{shown}");
    assert!(shown.contains("listener:   always_fails"), "{shown}");
    // Which of the two failed first is up to the worker: read its number.
    let error = jobs[1]["error"].as_str().unwrap();
    let n = error
        .split("doomed job ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("the job's number in its error");
    assert!(shown.contains(&format!("error:      {error}")), "{shown}");
    assert!(
        shown.contains(&format!(r#""payload":{{"n":{n}}}"#)),
        "the raw envelope: {shown}"
    );
    let json = app.json(&["failed", "show", &oldest.to_string(), "--json"]);
    assert!(
        json["envelope"]
            .as_str()
            .unwrap()
            .contains(r#""listener":"always_fails""#)
    );

    let missing = app.run(&["failed", "show", "99999"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr_of(&missing).trim(),
        "error: no failed job has id 99999 (see `failed list`)"
    );

    let retried = app.ok(&["failed", "retry", &oldest.to_string()]);
    assert!(
        retried.contains(&format!("Retried failed job {oldest}")),
        "{retried}"
    );
    assert_eq!(app.depth(), (1, 0, 1), "back on its queue");
    assert_eq!(
        app.run(&["failed", "retry", &oldest.to_string()])
            .status
            .code(),
        Some(1),
        "already retried"
    );
    assert_eq!(
        app.run(&["failed", "forget", "99999"]).status.code(),
        Some(1)
    );

    let forgot = app.ok(&["failed", "forget", "all"]);
    assert_eq!(forgot.trim(), "Forgot 1 failed job.");
    assert_eq!(
        app.json(&["failed", "list", "--json"]),
        serde_json::json!([])
    );
    assert_eq!(app.ok(&["failed", "list"]).trim(), "No failed jobs.");
    assert_eq!(
        app.ok(&["failed", "retry", "all"]).trim(),
        "Retried 0 failed jobs."
    );

    // The retried job fails again, on a fresh attempt.
    app.ok(&["work", "--worker", "--once"]);
    assert_eq!(app.depth(), (0, 0, 1));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let app = App::new("usage");
    for args in [
        &["failed", "retry", "seven"][..],
        &["work", "--concurrency", "0"],
        &["work", "--max-time", "soon"],
        &["frobnicate"],
        &[],
    ] {
        let output = app.run(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr_of(&output)
        );
    }
    for args in [
        &["--help"][..],
        &["work", "--help"],
        &["failed", "retry", "--help"],
        &["status", "--help"],
    ] {
        let output = app.run(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
    let help = app.ok(&["work", "--help"]);
    for flag in [
        "--queue",
        "--concurrency",
        "--once",
        "--stop-when-empty",
        "--max-jobs",
        "--max-time",
        "--min-workers",
        "--max-workers",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    assert!(!help.contains("--worker "), "--worker is hidden: {help}");
}

/// (environment, arguments, the start of the error line)
type BadConfig = (
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
    &'static str,
);

#[test]
fn a_bad_configuration_is_one_clear_line_and_exit_1() {
    let cases: [BadConfig; 6] = [
        (
            &[("MIN_WORKERS", "abc")],
            &["work"],
            "error: MIN_WORKERS=\"abc\" is not valid: expected a whole number from 1 to 1000",
        ),
        (
            &[("MIN_WORKERS", "5"), ("MAX_WORKERS", "2")],
            &["work"],
            "error: MIN_WORKERS=\"5\" is not valid: expected at most MAX_WORKERS (2)",
        ),
        (
            &[],
            &["work", "--min-workers", "3", "--max-workers", "2"],
            "error: MIN_WORKERS=\"3\" is not valid: expected at most MAX_WORKERS (2)",
        ),
        (
            &[("PREFETCH_PER_WORKER", "lots")],
            &["work", "--worker"],
            "error: PREFETCH_PER_WORKER=\"lots\" is not valid",
        ),
        (
            &[("QUEUE_DRIVER", "sync")],
            &["status"],
            "error: the `sync` driver keeps no queue",
        ),
        (
            &[("FASTEVENT_SQLITE_PATH", "/dev/null/queue.db")],
            &["failed", "list"],
            "error: ",
        ),
    ];
    for (env, args, expected) in cases {
        let mut app = App::new("bad-config");
        for (name, value) in env {
            app.set(name, value);
        }
        let output = app.run(args);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(1), "{env:?} {args:?}: {stderr}");
        assert!(stderr.starts_with(expected), "{env:?} {args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("worker 1 started"),
            "no worker starts on a bad configuration"
        );
    }
}

/// What another program could have written into the queue: names, an
/// error and an envelope with terminal escape sequences, a carriage
/// return, a C1 control and a right-to-left override.
const HOSTILE_EVENT: &str = "paid\x1b]0;pwned\x07";
const HOSTILE_LISTENER: &str = "mail\u{202e}gnp.exe";
const HOSTILE_QUEUE: &str = "q\x1b[31mred";
const HOSTILE_ERROR: &str = "boom\r\x1b[2Kall good\u{9b}1A";

/// No raw control character, DEL or bidi override in `bytes`; newlines
/// and tabs only where the command's own layout puts them.
fn assert_no_raw_controls(bytes: &[u8], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    let raw: Vec<char> = text
        .chars()
        .filter(|c| {
            (c.is_control() && *c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(raw.is_empty(), "{what} prints {raw:?} raw:\n{text}");
}

#[test]
fn untrusted_text_is_escaped_in_failed_list_show_and_status() {
    let app = App::new("escape");
    app.dispatch("ping", 1); // the schema exists from here on
    let db = rusqlite::Connection::open(app.dir().join("queue.db")).unwrap();
    db.execute(
        "INSERT INTO fastevent_failed_jobs
            (job_id, queue, event, listener, body, signature, attempts, max_attempts, error, failed_at)
         VALUES ('job\x1b[8m', ?1, ?2, ?3, ?4, NULL, 1, 3, ?5, 0)",
        rusqlite::params![
            HOSTILE_QUEUE,
            HOSTILE_EVENT,
            HOSTILE_LISTENER,
            b"{\"x\":\"\x1b[5mblink\x7f\"}\xff".to_vec(),
            HOSTILE_ERROR
        ],
    )
    .unwrap();
    db.execute(
        "INSERT INTO fastevent_jobs
            (job_id, queue, event, listener, body, max_attempts, created_at, available_at)
         VALUES ('j', ?1, 'ping', 'pong', x'00', 3, 0, 0)",
        [HOSTILE_QUEUE],
    )
    .unwrap();

    let list = app.run(&["failed", "list"]);
    assert_no_raw_controls(&list.stdout, "failed list");
    let list = String::from_utf8_lossy(&list.stdout);
    for escaped in [
        r"paid\x1b]0;pwned\x07",
        r"mail\u{202e}gnp.exe",
        r"q\x1b[31mred",
    ] {
        assert!(list.contains(escaped), "{escaped} in\n{list}");
    }
    assert!(list.contains(r"boom\r\x1b[2Kall good\u{9b}1A"), "{list}");

    let id = app.json(&["failed", "list", "--json"])[0]["id"]
        .as_i64()
        .unwrap();
    let show = app.run(&["failed", "show", &id.to_string()]);
    assert_no_raw_controls(&show.stdout, "failed show");
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.contains(r"job id:     job\x1b[8m"), "{show}");
    assert!(show.contains(r"listener:   mail\u{202e}gnp.exe"), "{show}");
    assert!(show.contains(r#"{"x":"\x1b[5mblink\x7f"}\xff"#), "{show}");

    let status = app.run(&["status"]);
    assert_no_raw_controls(&status.stdout, "status");
    assert!(
        String::from_utf8_lossy(&status.stdout).contains(r"q\x1b[31mred"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );

    // JSON stays exact: the same text, escaped the JSON way.
    let json = app.json(&["failed", "list", "--json"]);
    assert_eq!(json[0]["event"], HOSTILE_EVENT);
    assert_eq!(json[0]["listener"], HOSTILE_LISTENER);
    assert_eq!(json[0]["error"], HOSTILE_ERROR);
    let status = app.json(&["status", "--json"]);
    let queues = status["queues"].as_array().unwrap();
    assert!(
        queues.iter().any(|q| q["queue"] == HOSTILE_QUEUE),
        "{status}"
    );
}
