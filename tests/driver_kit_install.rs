//! A durable driver of the application's that cannot be made fails
//! `install` with its reason, and every later dispatch says why. Alone in
//! its test binary: the configuration is installed once per process.

mod kit_driver;

use fastevent::{Config, ConfigError, Event, listener};
use kit_driver::FileQueue;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
struct Signup {
    user: u64,
}

#[derive(Default)]
struct Welcome;
#[listener(on = Signup)]
impl Welcome {
    async fn handle(&self, _: &Signup) {}
}

#[tokio::test]
async fn a_driver_that_cannot_be_made_fails_install_and_each_dispatch_with_its_reason() {
    let config = Config::new()
        .durable_driver(|_| Err::<FileQueue, _>("cannot open /var/queue: permission denied"));
    let expected =
        "the durable driver could not be made: cannot open /var/queue: permission denied";
    let error = config.install().unwrap_err();
    assert!(matches!(error, ConfigError::DriverFailed { .. }));
    assert_eq!(error.to_string(), expected);
    let dispatched = Signup { user: 1 }.dispatch().await.unwrap_err();
    assert_eq!(dispatched.to_string(), expected);
}
