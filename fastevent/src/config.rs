//! Choosing the queue driver: from the environment (`QUEUE_DRIVER`, as in
//! the reference system) or in code, installed once per process. A bad
//! value is an error at start-up or at the first dispatch, never a silent
//! fallback to another driver.

use crate::driver::Driver;
use crate::driver::sync::SyncDriver;
use std::str::FromStr;
use std::sync::OnceLock;

/// The installed driver, or why none could be.
static INSTALLED: OnceLock<Result<Box<dyn Driver>, ConfigError>> = OnceLock::new();

/// A driver `QUEUE_DRIVER` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum QueueDriver {
    /// Jobs run as background tasks in the dispatching process.
    #[default]
    Sync,
}

impl QueueDriver {
    /// Every accepted `QUEUE_DRIVER` value.
    pub const NAMES: &'static [&'static str] = &["sync"];
}

impl FromStr for QueueDriver {
    type Err = ConfigError;

    /// Case-insensitive, surrounding spaces ignored, as the reference reads it.
    fn from_str(value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "sync" => Ok(QueueDriver::Sync),
            _ => Err(ConfigError::Invalid {
                variable: "QUEUE_DRIVER",
                value: value.to_string(),
                expected: format!("one of: {}", QueueDriver::NAMES.join(", ")),
            }),
        }
    }
}

/// The configuration of fastevent in this process.
///
/// ```
/// use fastevent::{Config, QueueDriver};
///
/// // In code:
/// let config = Config::new().queue_driver(QueueDriver::Sync);
/// // Or from the environment (QUEUE_DRIVER; unset means sync):
/// let from_env = Config::from_env()?;
/// # let _ = (config, from_env);
/// # Ok::<(), fastevent::ConfigError>(())
/// ```
pub struct Config {
    driver: DriverChoice,
}

enum DriverChoice {
    Named(QueueDriver),
    Custom(Box<dyn Driver>),
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// The defaults: the `sync` driver.
    pub fn new() -> Self {
        Self {
            driver: DriverChoice::Named(QueueDriver::Sync),
        }
    }

    /// The defaults overridden by the environment: `QUEUE_DRIVER`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name))
    }

    fn from_lookup(
        lookup: impl Fn(&str) -> Result<String, std::env::VarError>,
    ) -> Result<Self, ConfigError> {
        let mut config = Self::new();
        match lookup("QUEUE_DRIVER") {
            Ok(value) => config.driver = DriverChoice::Named(value.parse()?),
            Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(ConfigError::Invalid {
                    variable: "QUEUE_DRIVER",
                    value: "(not valid unicode)".into(),
                    expected: format!("one of: {}", QueueDriver::NAMES.join(", ")),
                });
            }
        }
        Ok(config)
    }

    /// Uses one of the built-in drivers.
    pub fn queue_driver(mut self, driver: QueueDriver) -> Self {
        self.driver = DriverChoice::Named(driver);
        self
    }

    /// Uses a driver of your own.
    pub fn driver(mut self, driver: impl Driver) -> Self {
        self.driver = DriverChoice::Custom(Box::new(driver));
        self
    }

    /// Makes this the configuration of the process. Call it once at start-up,
    /// before the first dispatch (which otherwise reads the environment).
    pub fn install(self) -> Result<(), ConfigError> {
        let driver = match self.driver {
            DriverChoice::Named(QueueDriver::Sync) => Box::new(SyncDriver) as Box<dyn Driver>,
            DriverChoice::Custom(driver) => driver,
        };
        let mut installed = Some(driver);
        INSTALLED.get_or_init(|| Ok(installed.take().expect("runs once")));
        match installed {
            None => Ok(()),
            Some(_) => Err(ConfigError::AlreadyInstalled),
        }
    }
}

/// The installed driver; on first use without `install`, the one the
/// environment names.
pub(crate) fn driver() -> Result<&'static dyn Driver, ConfigError> {
    let installed = INSTALLED.get_or_init(|| {
        Config::from_env().map(|config| match config.driver {
            DriverChoice::Named(QueueDriver::Sync) => Box::new(SyncDriver) as Box<dyn Driver>,
            DriverChoice::Custom(driver) => driver,
        })
    });
    match installed {
        Ok(driver) => Ok(driver.as_ref()),
        Err(error) => Err(error.clone()),
    }
}

/// Waits until every job running in this process (the `sync` driver's
/// background listeners) has finished; call it before the program exits.
pub async fn drain() {
    if let Some(Ok(driver)) = INSTALLED.get() {
        driver.drain().await;
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An environment variable (or builder value) with a value we refuse.
    #[error("{variable}={value:?} is not valid: expected {expected}")]
    Invalid {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// `install` was called after the configuration was fixed.
    #[error(
        "fastevent is already configured: Config::install must run once, before the first dispatch"
    )]
    AlreadyInstalled,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::env::VarError;

    fn lookup(value: &'static str) -> impl Fn(&str) -> Result<String, VarError> {
        move |_| Ok(value.to_string())
    }

    #[test]
    fn queue_driver_is_read_case_insensitively() {
        for value in ["sync", "SYNC", " Sync "] {
            let config = Config::from_lookup(lookup(value)).unwrap();
            assert!(matches!(
                config.driver,
                DriverChoice::Named(QueueDriver::Sync)
            ));
        }
    }

    #[test]
    fn unset_queue_driver_means_sync() {
        let config = Config::from_lookup(|_| Err(VarError::NotPresent)).unwrap();
        assert!(matches!(
            config.driver,
            DriverChoice::Named(QueueDriver::Sync)
        ));
    }

    #[test]
    fn unknown_queue_driver_is_a_clear_error() {
        let error = Config::from_lookup(lookup("redis")).err().unwrap();
        assert_eq!(
            error.to_string(),
            "QUEUE_DRIVER=\"redis\" is not valid: expected one of: sync"
        );
    }
}
