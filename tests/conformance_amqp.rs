//! The driver conformance suite on the RabbitMQ driver, unchanged. Each test
//! gets queues of its own (a unique prefix), deleted when the test ends
//! (and, should the process die first, expiring 10 minutes after their
//! last use). `FASTEVENT_AMQP_QUEUE_TYPE` (`classic` or `quorum`) picks the
//! queue type; `.ci/run` runs the suite with both.
//!
//! Runs when `FASTEVENT_AMQP_URL` names a broker (`.ci/run` starts one and
//! sets it); otherwise each test says it was skipped and passes, so a plain
//! `cargo test` needs no server.

mod amqp_support;

use fastevent::driver::amqp::topology::QueueType;
use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
use fastevent::driver::durable::durable_queue_of;
use fastevent::job::{JobDefaults, JobSigner};
use fastevent_conformance::{Queue, Target};
use lapin::options::BasicPublishOptions;
use lapin::tcp::OwnedTLSConfig;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Connection, ConnectionProperties, DefaultConnectionBuilder};
use std::sync::Arc;
use std::time::Duration;

const PREFIX_ENV: &str = "FASTEVENT_CONFORMANCE_AMQP_PREFIX";

struct Amqp;

use amqp_support::{URL_ENV, url};

/// The queue type under test, from `FASTEVENT_AMQP_QUEUE_TYPE` (else the
/// driver's default).
fn queue_type() -> Option<QueueType> {
    let text = std::env::var("FASTEVENT_AMQP_QUEUE_TYPE").ok()?;
    Some(QueueType::parse(&text).expect("FASTEVENT_AMQP_QUEUE_TYPE: classic or quorum"))
}

fn driver(prefix: &str, signer: Option<JobSigner>) -> AmqpDriver {
    let url = std::env::var(URL_ENV).expect("checked by the test");
    let options = AmqpOptions {
        prefix: prefix.to_string(),
        queue_expires: Some(Duration::from_secs(600)),
        queue_type: queue_type(),
        ..AmqpOptions::new(url)
    };
    AmqpDriver::new(options, JobDefaults::default(), signer)
}

fn open(prefix: String, signing_key: Option<&str>, cleanup: Option<amqp_support::Tidy>) -> Queue {
    let signer = signing_key.map(|k| JobSigner::new(k).unwrap());
    let driver = Arc::new(driver(&prefix, signer.clone()));
    // Workers consume on a connection of their own, opened at their first
    // claim; over TLS (a handshake, the system's roots read) that takes
    // longer than some tests give a worker before they stop it. Open it
    // now, in the background, on the test's runtime, as a deployed worker
    // would have long before.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let early = driver.clone();
        runtime.spawn(async move { early.declare("default").await });
    }
    Queue {
        driver: driver.clone(),
        durable: durable_queue_of(driver),
        signer,
        child_env: vec![
            (PREFIX_ENV.into(), prefix),
            (URL_ENV.into(), std::env::var(URL_ENV).unwrap()),
        ],
        cleanup: cleanup.map(|tidy| Arc::new(tidy) as Arc<dyn Send + Sync>),
    }
}

impl Target for Amqp {
    fn open(&self, signing_key: Option<&str>) -> Queue {
        let prefix = amqp_support::fresh_prefix("conformance");
        let url = std::env::var(URL_ENV).unwrap();
        let mut tidy = amqp_support::Tidy::new(&url, &prefix);
        tidy.queue_type = queue_type();
        open(prefix, signing_key, Some(tidy))
    }

    fn open_from_env(&self) -> Queue {
        // The parent test deletes the queues, not this child.
        open(std::env::var(PREFIX_ENV).unwrap(), None, None)
    }

    fn inject_raw(&self, queue: &Queue, body: &[u8], signature: Option<&str>) {
        let prefix = queue.child_env[0].1.clone();
        let (body, signature) = (body.to_vec(), signature.map(str::to_string));
        fastevent_conformance::block_on(async move {
            // The queue exists with the driver's arguments, then the bytes
            // go in as any other AMQP client would put them.
            let driver = driver(&prefix, None);
            driver.declare("default").await.unwrap();
            let url = std::env::var(URL_ENV).unwrap();
            let connection = raw_connection(&url).await;
            let channel = connection.create_channel().await.unwrap();
            channel.confirm_select(Default::default()).await.unwrap();
            let mut headers = FieldTable::default();
            if let Some(signature) = signature {
                headers.insert(
                    "x-fastevent-signature".into(), // the driver's signature header
                    AMQPValue::LongString(LongString::from(signature.into_bytes())),
                );
            }
            let confirm = channel
                .basic_publish(
                    "".into(),
                    driver.topology().work_queue("default").into(),
                    BasicPublishOptions {
                        mandatory: true,
                        immediate: false,
                    },
                    &body,
                    BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_headers(headers),
                )
                .await
                .unwrap()
                .await
                .unwrap();
            assert!(confirm.is_ack() && confirm.take_message().is_none());
            let _ = connection.close(200, "done".into()).await;
        });
    }
}

/// A plain lapin connection to the broker of `url`; over TLS, trusting the
/// URL's `cacertfile` as the driver does (lapin alone ignores it).
async fn raw_connection(url: &str) -> Connection {
    let ca = url
        .split_once('?')
        .into_iter()
        .flat_map(|(_, query)| query.split('&'))
        .find_map(|pair| pair.strip_prefix("cacertfile="));
    let tls = OwnedTLSConfig {
        cert_chain: ca.map(|path| std::fs::read_to_string(path).unwrap()),
        identity: None,
    };
    DefaultConnectionBuilder::new()
        .unwrap()
        .with_uri_str(url.to_string())
        .with_properties(ConnectionProperties::default())
        .with_tls_config(tls)
        .connect()
        .await
        .unwrap()
}

// Each test returns at once, after saying so, when no broker is configured.
fastevent_conformance::conformance_suite!({
    if url().is_none() {
        return;
    }
    Amqp
});

/// Whether a queue named `name` exists on the broker (a passive declare on
/// a channel of its own: a missing queue closes the channel).
async fn queue_exists(connection: &Connection, name: &str) -> bool {
    let channel = connection.create_channel().await.unwrap();
    channel
        .queue_declare(
            name.into(),
            lapin::options::QueueDeclareOptions::default().passive(),
            FieldTable::default(),
        )
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_leaves_nothing_on_the_broker() {
    let Some(url) = url() else { return };
    let queue = Amqp.open(None);
    let prefix = queue.child_env[0].1.clone();
    // Every kind of object: a work queue, the delay levels, the failed store.
    let driver = driver(&prefix, None);
    driver.declare("default").await.unwrap();
    // Listing the failed store declares it.
    fastevent::driver::durable::QueueAdmin::failed_jobs(&driver, 1)
        .await
        .unwrap();
    let topology = driver.topology().clone();
    let names = [
        topology.work_queue("default"),
        topology.delay_level(0),
        topology.delay_level(25),
        topology.failed_queue(),
    ];
    let connection = raw_connection(&url).await;
    for name in &names {
        assert!(queue_exists(&connection, name).await, "{name} was declared");
    }
    drop(queue);
    for name in &names {
        assert!(
            !queue_exists(&connection, name).await,
            "{name} is left behind"
        );
    }
    let channel = connection.create_channel().await.unwrap();
    let exchange = channel
        .exchange_declare(
            topology.delivery_exchange().as_str().into(),
            lapin::ExchangeKind::Topic,
            lapin::options::ExchangeDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await;
    assert!(exchange.is_err(), "the delivery exchange is left behind");
    let _ = connection.close(200, "done".into()).await;
}
