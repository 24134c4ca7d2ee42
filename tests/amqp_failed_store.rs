//! The failed store on RabbitMQ (`failed list/show/retry/forget`): two
//! commands at once neither hide nor duplicate jobs, a retry cut short
//! leaves no copies behind, and (ignored, run by `.ci/run`) 50,000 failed
//! jobs are listed and retried in bounded memory.
//!
//! Runs when `FASTEVENT_AMQP_URL` names a broker; the policy test needs
//! `rabbitmqctl` (root).

mod amqp_support;

use amqp_support::{Tidy, fresh_prefix};
use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
use fastevent::driver::durable::{QueueAdmin, Selection};
use fastevent::job::JobDefaults;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use std::collections::BTreeSet;
use std::time::Duration;

const CHILD_ENV: &str = "FASTEVENT_FAILED_STORE_CHILD";

use amqp_support::url;

fn driver(url: &str, prefix: &str, timeout: Duration) -> AmqpDriver {
    let options = AmqpOptions {
        prefix: prefix.to_string(),
        operation_timeout: timeout,
        ..AmqpOptions::new(url)
    };
    AmqpDriver::new(options, JobDefaults::default(), None)
}

/// Puts `n` failed jobs of queue `default` in the store, as workers would.
async fn fill(url: &str, driver: &AmqpDriver, n: u64, body_bytes: usize) {
    driver.failed_jobs(1).await.unwrap(); // declares the store
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    let body = vec![b'x'; body_bytes];
    let store = driver.topology().failed_queue();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut confirms = Vec::new();
        for &i in chunk {
            let properties = failed_properties(i, "boom", 1_700_000_000_000 + i);
            let confirm = channel
                .basic_publish(
                    "".into(),
                    store.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    properties,
                )
                .await
                .unwrap();
            confirms.push(confirm);
        }
        for confirm in confirms {
            assert!(confirm.await.unwrap().is_ack());
        }
    }
    let _ = connection.close(200, "filled".into()).await;
}

/// The properties of job `i` of queue `default` in the failed store, after
/// its one attempt failed with `error`: the driver's message format (its
/// headers), as a worker writes it.
fn failed_properties(i: u64, error: &str, failed_at_ms: u64) -> BasicProperties {
    let text = |value: &str| AMQPValue::LongString(LongString::from(value.as_bytes().to_vec()));
    let mut headers = FieldTable::default();
    headers.insert("x-fastevent-event".into(), text("e"));
    headers.insert("x-fastevent-listener".into(), text("l"));
    headers.insert("x-fastevent-max-attempts".into(), AMQPValue::LongLongInt(1));
    headers.insert("x-fastevent-attempts".into(), AMQPValue::LongLongInt(1));
    headers.insert("x-fastevent-queue".into(), text("default"));
    headers.insert("x-fastevent-error".into(), text(error));
    let failed_at = AMQPValue::LongLongInt(failed_at_ms as i64);
    headers.insert("x-fastevent-failed-at".into(), failed_at);
    // One id per job, as the driver derives it from the job's own id.
    let id = AMQPValue::LongLongInt(i as i64 + 1);
    headers.insert("x-fastevent-failed-id".into(), id);
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("application/json"))
        .with_message_id(ShortString::from(format!("job-{i:08}")))
        .with_headers(headers)
}

async fn ready(url: &str, queue: &str) -> u64 {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::default().passive(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let _ = connection.close(200, "counted".into()).await;
    declared.message_count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_listings_at_once_see_every_job_once() {
    let Some(url) = url() else { return };
    let prefix = fresh_prefix("failed-two");
    let _tidy = Tidy::new(&url, &prefix);
    // Two drivers: two connections, as two processes have.
    let a = driver(&url, &prefix, Duration::from_secs(10));
    let b = driver(&url, &prefix, Duration::from_secs(10));
    fill(&url, &a, 300, 100).await;
    for round in 0..3 {
        let (seen_a, seen_b) = tokio::join!(a.failed_jobs(1000), b.failed_jobs(1000));
        for (name, seen) in [("a", seen_a.unwrap()), ("b", seen_b.unwrap())] {
            let ids: BTreeSet<i64> = seen.iter().map(|j| j.id).collect();
            assert_eq!(
                (seen.len(), ids.len()),
                (300, 300),
                "round {round}: listing {name} saw {} jobs, {} distinct",
                seen.len(),
                ids.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_cut_short_leaves_no_copies_behind() {
    let Some(url) = url() else { return };
    let prefix = fresh_prefix("failed-cut");
    let mut tidy = Tidy::new(&url, &prefix);
    // The retry ends at this timeout, refused by the full work queue; it
    // must be long enough for the 100 jobs the queue takes to go back (one
    // by one, each confirmed) even on a loaded machine.
    let driver = driver(&url, &prefix, Duration::from_secs(30));
    fill(&url, &driver, 300, 100).await;
    driver.declare("default").await.unwrap();
    let work = driver.topology().work_queue("default");
    // The work queue takes 100 jobs, then refuses: the retry cannot finish.
    tidy.set_policy(
        &format!("{prefix}-cut"),
        &format!("^{}$", work.replace('.', "\\.")),
        r#"{"max-length":100,"overflow":"reject-publish"}"#,
    );
    let retried = driver.retry_failed(Selection::All).await;
    println!("retry all: {retried:?}");
    let (in_work, in_store) = (
        ready(&url, &work).await,
        ready(&url, &driver.topology().failed_queue()).await,
    );
    println!("after: {in_work} in the work queue, {in_store} in the failed store");
    assert_eq!(in_work, 100, "the work queue took 100");
    assert_eq!(
        in_work + in_store,
        300,
        "each job is either put back or still failed, never both"
    );
    assert!(retried.is_err(), "a retry cut short says so: {retried:?}");
}

/// Peak resident memory of this process, from /proc, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// 50,000 failed jobs of 4 KiB (200 MB in all): a listing and a retry of
/// them all must not hold them in memory at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fills the broker with 200 MB; run by .ci/run"]
async fn fifty_thousand_failed_jobs_in_bounded_memory() {
    let Some(url) = url() else { return };
    let prefix = fresh_prefix("failed-50k");
    let _tidy = Tidy::new(&url, &prefix);
    let filler = driver(&url, &prefix, Duration::from_secs(30));
    fill(&url, &filler, 50_000, 4096).await;
    // The commands run in a process of their own, whose peak is theirs.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "failed_store_child",
            "--nocapture",
            "--include-ignored",
        ])
        .env(CHILD_ENV, &prefix)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success());
    let peak: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak RSS KiB: "))
        .expect("the child reports its peak")
        .trim()
        .parse()
        .unwrap();
    // Holding the jobs would take 200 MB.
    assert!(peak < 100 * 1024, "peak RSS {peak} KiB");
    let work = filler.topology().work_queue("default");
    assert_eq!(ready(&url, &work).await, 50_000, "every job was put back");
}

/// The process of the test above: lists, then retries, 50,000 jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of fifty_thousand_failed_jobs_in_bounded_memory"]
async fn failed_store_child() {
    let (Some(url), Ok(prefix)) = (url(), std::env::var(CHILD_ENV)) else {
        return;
    };
    let driver = driver(&url, &prefix, Duration::from_secs(30));
    let started = std::time::Instant::now();
    let listed = driver.failed_jobs(20).await.unwrap();
    assert_eq!(listed.len(), 20);
    println!(
        "listed 50,000 in {:?}; peak RSS so far {} KiB",
        started.elapsed(),
        peak_rss_kib()
    );
    let started = std::time::Instant::now();
    let retried = driver.retry_failed(Selection::All).await.unwrap();
    assert_eq!(retried, 50_000);
    println!("retried 50,000 in {:?}", started.elapsed());
    println!("peak RSS KiB: {}", peak_rss_kib());
}
