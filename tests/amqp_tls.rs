//! The amqp driver over TLS, against a real TLS endpoint on loopback that
//! `tests/tls/endpoint.sh` makes in front of the broker: a CA and
//! certificates generated at run time, one port per case (see the script).
//!
//! Runs when `FASTEVENT_AMQP_URL` names the broker and `FASTEVENT_TLS_DIR`
//! the endpoint's directory (`.ci/run` sets both); otherwise each test says
//! it was skipped and passes. Queues get a unique prefix and expire 20 s
//! after their last use, so nothing is left on the broker.

mod amqp_support;

use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
use fastevent::job::JobDefaults;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(3);
const PASSWORD_MARK: &str = "pw-never-shown";

/// The endpoint's directory, or `None` (after saying so).
fn tls_dir() -> Option<String> {
    let broker = std::env::var("FASTEVENT_AMQP_URL").ok();
    let dir = std::env::var("FASTEVENT_TLS_DIR").ok();
    if broker.is_none() || dir.is_none() {
        eprintln!(
            "skipped: needs RabbitMQ (FASTEVENT_AMQP_URL) and a TLS endpoint in front of it \
             (FASTEVENT_TLS_DIR, made by tests/tls/endpoint.sh start DIR)"
        );
    }
    dir.filter(|_| broker.is_some())
}

fn driver(url: &str, prefix: &str) -> AmqpDriver {
    let options = AmqpOptions {
        prefix: prefix.to_string(),
        operation_timeout: TIMEOUT,
        ..AmqpOptions::new(url)
    };
    assert_eq!(options.check(), Ok(()), "{url}");
    AmqpDriver::new(options, JobDefaults::default(), None)
}

/// Declaring a queue needs a connection: the driver's error, and how long
/// it took to come.
async fn declare(url: &str) -> (Result<(), String>, Duration) {
    let prefix = amqp_support::fresh_prefix("tls");
    let started = Instant::now();
    let outcome = driver(url, &prefix).declare("default").await;
    let took = started.elapsed();
    if outcome.is_ok() {
        // What it declared goes at once, through the same endpoint.
        drop(amqp_support::Tidy::new(url, &prefix));
    }
    (outcome.map_err(|e| e.to_string()), took)
}

/// Declaring fails within the timeout, with an error that names the node
/// (no password) and contains `meaning`.
async fn refused(url: &str, node: &str, meaning: &str) {
    let (outcome, took) = declare(url).await;
    let error = outcome.expect_err("the connection must be refused");
    println!("{took:?}: {error}");
    assert!(error.contains(meaning), "{error}");
    assert!(error.contains(node), "the node must be named: {error}");
    assert!(!error.contains(PASSWORD_MARK), "{error}");
    assert!(took < TIMEOUT + Duration::from_secs(1), "took {took:?}");
}

fn url(port: u16, host: &str, query: &str) -> String {
    format!("amqps://guest:{PASSWORD_MARK}@{host}:{port}/%2f?{query}")
}

#[tokio::test]
async fn the_test_ca_makes_amqps_work() {
    let Some(dir) = tls_dir() else { return };
    let url = format!("amqps://guest:guest@localhost:5691/%2f?cacertfile={dir}/ca.pem");
    let (outcome, took) = declare(&url).await;
    outcome.unwrap();
    println!("connected and declared over TLS in {took:?}");
    // By IP address too: the certificate names 127.0.0.1.
    let url = format!("amqps://guest:guest@127.0.0.1:5691/%2f?cacertfile={dir}/ca.pem");
    declare(&url).await.0.unwrap();
}

#[tokio::test]
async fn a_client_certificate_is_sent_when_given_and_missed_when_not() {
    let Some(dir) = tls_dir() else { return };
    let with = format!(
        "amqps://guest:guest@localhost:5695/%2f?cacertfile={dir}/ca.pem&certfile={dir}/client.pem&keyfile={dir}/client.key"
    );
    declare(&with).await.0.unwrap();
    let without = url(5695, "localhost", &format!("cacertfile={dir}/ca.pem"));
    refused(&without, "localhost:5695", "requires a client certificate").await;
}

#[tokio::test]
async fn a_certificate_of_an_unknown_ca_is_refused() {
    let Some(dir) = tls_dir() else { return };
    let node = "localhost:5694";
    let other = url(5694, "localhost", &format!("cacertfile={dir}/ca.pem"));
    refused(&other, node, "not signed by a trusted CA").await;
    // Without cacertfile, the system's roots do not know the test CA either.
    refused(
        &url(5691, "localhost", ""),
        "localhost:5691",
        "not signed by a trusted CA",
    )
    .await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let Some(dir) = tls_dir() else { return };
    let expired = url(5692, "localhost", &format!("cacertfile={dir}/ca.pem"));
    refused(&expired, "localhost:5692", "has expired").await;
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused() {
    let Some(dir) = tls_dir() else { return };
    let wrong = url(5693, "localhost", &format!("cacertfile={dir}/ca.pem"));
    refused(&wrong, "localhost:5693", "not valid for the host name").await;
}

#[tokio::test]
async fn amqps_to_a_plain_port_is_refused_not_sent_in_clear() {
    let Some(dir) = tls_dir() else { return };
    // The broker's own plain port: a client without TLS would log in there.
    let plain = url(5672, "127.0.0.1", &format!("cacertfile={dir}/ca.pem"));
    refused(&plain, "127.0.0.1:5672", "did not answer in TLS").await;
}

#[tokio::test]
async fn a_silent_endpoint_is_an_error_within_the_timeout_not_a_hang() {
    let Some(dir) = tls_dir() else { return };
    // Accepts connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let node = format!("127.0.0.1:{port}");
    let quiet = url(port, "127.0.0.1", &format!("cacertfile={dir}/ca.pem"));
    refused(&quiet, &node, "no answer within").await;
    silent.abort();
}
