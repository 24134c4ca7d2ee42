//! Queue types against a real broker: a queue that exists with another
//! type (an older fastevent's classic queues, or another
//! `FASTEVENT_AMQP_QUEUE_TYPE`) is a clear error that says how to migrate,
//! in both directions; and retries come back through the delay levels of
//! either type.
//!
//! Runs when `FASTEVENT_AMQP_URL` names a broker (`.ci/run` sets it).

mod amqp_support;

use amqp_support::{Tidy, fresh_prefix};
use fastevent::driver::amqp::topology::QueueType;
use fastevent::driver::amqp::{AmqpDriver, AmqpOptions};
use fastevent::job::JobDefaults;
use std::time::Duration;

use amqp_support::url;

fn driver(url: &str, prefix: &str, queue_type: QueueType) -> AmqpDriver {
    let options = AmqpOptions {
        prefix: prefix.to_string(),
        queue_type: Some(queue_type),
        operation_timeout: Duration::from_secs(2),
        ..AmqpOptions::new(url)
    };
    AmqpDriver::new(options, JobDefaults::default(), None)
}

async fn mismatch(existing: QueueType, wanted: QueueType) {
    let Some(url) = url() else { return };
    let prefix = fresh_prefix("types");
    let _tidy = Tidy::new(&url, &prefix);
    driver(&url, &prefix, existing)
        .declare("default")
        .await
        .unwrap();
    let error = driver(&url, &prefix, wanted)
        .declare("default")
        .await
        .unwrap_err()
        .to_string();
    println!("{error}");
    for expected in [
        "already exists with other arguments",
        "FASTEVENT_AMQP_QUEUE_TYPE",
        "migrate",
        "delete_queue",
        &format!("{prefix}~delay.10ms"),
    ] {
        assert!(
            error.contains(expected),
            "`{expected}` missing from: {error}"
        );
    }
}

#[tokio::test]
async fn classic_queues_met_by_a_quorum_driver_say_how_to_migrate() {
    mismatch(QueueType::Classic, QueueType::Quorum).await;
}

#[tokio::test]
async fn quorum_queues_met_by_a_classic_driver_say_how_to_migrate() {
    mismatch(QueueType::Quorum, QueueType::Classic).await;
}

#[tokio::test]
async fn an_old_classic_work_queue_met_by_a_quorum_driver_is_named() {
    let Some(url) = url() else { return };
    let prefix = fresh_prefix("types-old");
    let _tidy = Tidy::new(&url, &prefix);
    let quorum = driver(&url, &prefix, QueueType::Quorum);
    let work = quorum.topology().work_queue("default");
    // What an older fastevent left: a plain durable classic work queue.
    let connection = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .queue_declare(
            work.as_str().into(),
            lapin::options::QueueDeclareOptions::durable(),
            Default::default(),
        )
        .await
        .unwrap();
    let error = quorum.declare("default").await.unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "queue `{work}` already exists with other arguments"
        )) && error.contains("x-queue-type"),
        "{error}"
    );
    let _ = connection.close(200, "done".into()).await;
}
