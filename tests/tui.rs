//! `work --tui` in a real terminal: tmux runs `farm-test-app work --tui`
//! on a SQLite queue, the test reads the screen (`capture-pane`) and types
//! keys (`send-keys`), as a person would. Skipped, with a note, where tmux
//! is not installed.
//!
//! Every wait is for a text on the screen, bounded by the harness's
//! patience: the dashboard redraws ten times a second, so nothing here
//! depends on timing.

#[path = "apps/harness.rs"]
mod harness;

use harness::{App, pid_in, process_exists, wait_until};
use std::process::{Command, Output};

/// A tmux server of this test's own (`-L`), killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|output| output.status.success())
    }

    /// Runs `farm-test-app ARGS` in a 150×45 terminal, in `app`'s
    /// environment only (`env -i`: none of the caller's queue settings).
    /// The shell then prints the exit code and stays, so that the screen
    /// after the dashboard can be read too.
    fn start(app: &App, args: &[&str]) -> Self {
        let socket = format!("fastevent-tui-{}", std::process::id());
        let mut words = vec![
            "env".to_string(),
            "-i".into(),
            format!("PATH={}", std::env::var("PATH").unwrap_or_default()),
            "TERM=xterm-256color".into(),
        ];
        words.extend(app.env_assignments());
        words.push(env!("CARGO_BIN_EXE_farm-test-app").into());
        words.extend(args.iter().map(|a| a.to_string()));
        let command = words
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ");
        let tmux = Self { socket };
        let shell = format!("{command}; echo \"EXIT=$?\"; sleep 120");
        tmux.run(&[
            "new-session",
            "-d",
            "-x",
            "150",
            "-y",
            "45",
            "sh",
            "-c",
            &shell,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            // Run from inside tmux, the test still starts its own server.
            .env_remove("TMUX")
            .output()
            .expect("tmux runs");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// Waits until the screen shows every one of `texts`; returns it.
    fn wait_for(&self, texts: &[&str]) -> String {
        let mut screen = String::new();
        let shown = |screen: &mut String| {
            *screen = self.screen();
            texts.iter().all(|t| screen.contains(t))
        };
        let start = std::time::Instant::now();
        while !shown(&mut screen) {
            assert!(
                start.elapsed() < harness::PATIENCE,
                "gave up waiting for {texts:?} on the screen:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        screen
    }

    /// Types `key` (tmux's names: `q`, `C-c`, `Down`, `]`).
    fn press(&self, key: &str) {
        self.run(&["send-keys", "--", key]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // A failed test must not leave the dashboard and its workers: the
        // supervisor gets SIGHUP, its workers see it gone and drain.
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[test]
fn the_dashboard_shows_the_pool_scales_it_retries_a_failed_job_and_quits_draining_the_workers() {
    if !Tmux::available() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let app = App::new("tui");
    app.dispatch("doomed", 1);
    let tmux = Tmux::start(&app, &["work", "--tui", "--max-workers", "3"]);

    // The panes, with the first worker and the failed job.
    let screen = tmux.wait_for(&[
        "● running",
        "pool min 1 · max 3",
        "Workers (1)",
        "Running jobs",
        "Queues",
        "[supervisor] worker 1 ready",
        "Failed jobs (1)",
        "doomed → always_fails",
        "doomed job 1 fails on purpose",
        "q quit",
    ]);
    assert!(
        screen.contains("▶ "),
        "the failed job is selected:\n{screen}"
    );

    // The minimum goes up only as far as the maximum, and never below 1.
    tmux.press("]");
    tmux.wait_for(&["pool min 1 · max 4"]);
    tmux.press("+");
    let screen = tmux.wait_for(&["pool min 2 · max 4", "[supervisor] worker 2 ready"]);
    let workers: Vec<u32> = screen
        .lines()
        .filter(|l| l.contains("started (pid"))
        .map(pid_in)
        .collect();
    assert_eq!(workers.len(), 2, "{screen}");
    tmux.press("-");
    tmux.wait_for(&["pool min 1 · max 4"]);
    tmux.press("-");
    tmux.wait_for(&["the minimum is at least 1 worker"]);

    // Retry the selected job: it is back on its queue, runs, fails again.
    tmux.press("r");
    tmux.wait_for(&["retried failed job"]);
    tmux.wait_for(&["total: 0 done · 0 retried · 2 failed"]);
    wait_until("the job to be back in the failed store", || {
        app.depth() == (0, 0, 1)
    });

    // Ctrl+C is a key in raw mode: the dashboard's quit, not SIGINT.
    tmux.press("C-c");
    let screen = tmux.wait_for(&["EXIT=0"]);
    assert!(screen.contains("quit received: stopping"), "{screen}");
    assert!(screen.contains("every worker stopped; exiting"), "{screen}");
    for pid in workers {
        assert!(!process_exists(pid), "worker {pid} outlived the supervisor");
    }
}
