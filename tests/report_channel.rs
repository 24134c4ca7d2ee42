//! Worker reports travel on a channel of their own: whatever the listeners
//! print (partial lines, lines in the old report format, binary bytes,
//! megabytes) is forwarded as their output and never changes what the
//! supervisor believes about its workers.

#[path = "apps/harness.rs"]
mod harness;

use harness::App;

/// The job numbers in record lines `chatty N <pid>`, sorted, repeats kept.
fn chatty_jobs(record: &[String]) -> Vec<u64> {
    let mut jobs: Vec<u64> = record
        .iter()
        .filter_map(|l| l.strip_prefix("chatty "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    jobs.sort();
    jobs
}

#[test]
fn listener_output_of_any_shape_does_not_disturb_supervision() {
    let app = App::new("chatty");
    // 300 ms each under a 1 s hard timeout, one try: a report the
    // supervisor misses kills a healthy worker and fails its jobs.
    app.dispatch("chatty", 80);
    let supervisor = app.start(&[
        "work",
        "--stop-when-empty",
        "--min-workers",
        "2",
        "--max-workers",
        "2",
    ]);
    let (status, lines) = supervisor.wait();
    assert!(status.success(), "{status}");

    let killed: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("killing worker"))
        .collect();
    assert!(killed.is_empty(), "{killed:#?}");
    let forged_stop: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("[supervisor]") && l.contains("--max-jobs"))
        .collect();
    assert!(forged_stop.is_empty(), "{forged_stop:#?}");
    assert_eq!(app.depth(), (0, 0, 0), "nothing left, nothing failed");
    let mut handled = chatty_jobs(&app.record());
    handled.dedup();
    assert_eq!(handled, (1..=80).collect::<Vec<_>>());

    // Their output is still theirs, forwarded line by line (partial lines
    // of jobs running at once share a line, as they did on the terminal).
    let worker_lines = || lines.iter().filter(|l| l.starts_with("[worker "));
    let forwarded = |text: &str| {
        worker_lines()
            .map(|l| l.matches(text).count())
            .sum::<usize>()
    };
    assert!(forwarded("working on ") >= 80, "partial lines forwarded");
    assert!(
        forwarded("fastevent {\"type\":\"stopping\",\"reason\":\"MaxJobs\"}") >= 80,
        "lines in the report format are output like any other"
    );
    assert!(forwarded("binary: ") >= 80);
    let burst: usize = worker_lines()
        .map(|l| l.bytes().filter(|b| *b == b'x').count())
        .sum();
    assert!(
        burst >= 2 * (2 << 20),
        "both bursts forwarded: {burst} bytes"
    );
}
