//! Configuration: from the environment (fast-app's variable names where
//! they exist, so its deployments keep working) or in code, installed once per process. A bad value is an
//! error at start-up or at the first dispatch, never a silent fallback.

#[cfg(feature = "amqp")]
use crate::driver::amqp::{AmqpDriver, AmqpOptions};
use crate::driver::durable::DurableQueue;
use crate::driver::durable::{QueueAdmin, WorkQueue, durable_queue_of};
#[cfg(feature = "postgres")]
use crate::driver::postgres::{PostgresDriver, PostgresOptions};
#[cfg(feature = "sqlite")]
use crate::driver::sqlite::{SqliteDriver, SqliteOptions, Synchronous};
use crate::driver::sync::SyncDriver;
use crate::driver::{Driver, JobEncoder};
pub(crate) mod env;

pub(crate) use crate::error::ConfigError;
use crate::job::{JobDefaults, JobSigner};
use env::Env;
#[cfg(feature = "sqlite")]
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The shortest expiry of signed jobs accepted, in seconds: below it, jobs
/// would expire on their way to a worker.
const MIN_SIGNED_JOB_TTL_S: f64 = 1.0;

/// The installed drivers, or why none could be.
static INSTALLED: OnceLock<Result<Installed, ConfigError>> = OnceLock::new();

/// What `install` fixed for the process.
pub(crate) struct Installed {
    pub(crate) driver: Arc<dyn Driver>,
    /// The same driver's consumer side, for durable drivers.
    pub(crate) durable: Option<Arc<dyn DurableQueue>>,
    /// What workers verify jobs with: the dispatchers' key.
    pub(crate) signer: Option<JobSigner>,
    /// Defaults for jobs written outside the driver (`dispatch_in`).
    pub(crate) job_defaults: JobDefaults,
    /// The `postgres` driver, for its `dispatch_in`.
    #[cfg(feature = "postgres")]
    pub(crate) postgres: Option<PostgresDriver>,
}

/// A built-in driver, as `QUEUE_DRIVER` names it: pick one in code with
/// [`Config::queue_driver`], or parse a value read elsewhere.
///
/// ```
/// use fastevent::{Config, QueueDriver};
///
/// let driver: QueueDriver = "async_farm".parse()?; // fast-app's name
/// assert_eq!(driver, QueueDriver::Amqp);
/// assert!("redis".parse::<QueueDriver>().is_err());
///
/// let config = Config::new().queue_driver(QueueDriver::Sqlite);
/// # let _ = config;
/// # Ok::<(), fastevent::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum QueueDriver {
    /// Jobs run as background tasks in the dispatching process (the
    /// default, as in fast-app): at-most-once, nothing stored.
    #[default]
    Sync,
    /// Jobs are stored in a local SQLite database and run by workers
    /// (`work`): durable on one machine, no server needed.
    Sqlite,
    /// Jobs go to RabbitMQ and are run by workers on any number of machines
    /// (`async_farm`, fast-app's name, is accepted too).
    Amqp,
    /// Jobs are stored in PostgreSQL and run by workers on any number of
    /// machines; they can be written in the application's transaction.
    Postgres,
}

impl QueueDriver {
    /// Every accepted `QUEUE_DRIVER` value.
    pub const NAMES: &'static [&'static str] =
        &["sync", "sqlite", "amqp", "async_farm", "postgres"];

    /// The error for this driver when it is compiled out: each durable
    /// driver is a Cargo feature of the same name, so a program can leave
    /// out the ones it does not use.
    fn not_built(self) -> Option<ConfigError> {
        let feature = match self {
            QueueDriver::Sqlite if cfg!(not(feature = "sqlite")) => "sqlite",
            QueueDriver::Amqp if cfg!(not(feature = "amqp")) => "amqp",
            QueueDriver::Postgres if cfg!(not(feature = "postgres")) => "postgres",
            _ => return None,
        };
        Some(ConfigError::DriverNotBuilt { feature })
    }
}

impl FromStr for QueueDriver {
    type Err = ConfigError;

    /// Case-insensitive, surrounding spaces ignored, as fast-app reads it.
    fn from_str(value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "sync" => Ok(QueueDriver::Sync),
            "sqlite" => Ok(QueueDriver::Sqlite),
            "amqp" | "async_farm" => Ok(QueueDriver::Amqp),
            "postgres" | "postgresql" => Ok(QueueDriver::Postgres),
            _ => Err(ConfigError::Invalid {
                variable: "QUEUE_DRIVER",
                value: value.to_string(),
                expected: format!("one of: {}", QueueDriver::NAMES.join(", ")),
            }),
        }
    }
}

/// The configuration of fastevent in this process: which driver takes the
/// jobs, and the defaults of jobs whose listener sets none. Read it from the
/// environment ([`Config::from_env`]) or build it in code, then
/// [`install`](Config::install) it at start-up; without that, the first
/// dispatch reads the environment.
///
/// | variable | default | meaning |
/// | --- | --- | --- |
/// | `QUEUE_DRIVER` | `sync` | `sync`, `sqlite`, `amqp` (alias `async_farm`) or `postgres` |
/// | `FASTEVENT_SQLITE_PATH` | `fastevent.db` | the SQLite queue's file |
/// | `FASTEVENT_SQLITE_SYNCHRONOUS` | `full` | `full` (fsync each commit) or `normal` |
/// | `RABBITMQ_URL` | `amqp://guest:guest@127.0.0.1:5672/%2f` | the broker of the `amqp` driver: `amqp://` or `amqps://` (TLS: `cacertfile`, `certfile`, `keyfile` in the query), several nodes comma separated |
/// | `FASTEVENT_AMQP_PREFIX` | `fastevent` | prefix of its queue names (`fastevent.default`, ...) |
/// | `ASYNC_FARM_JOBS_QUEUE` | none | AMQP name of the `default` queue, instead of `{prefix}.default` |
/// | `RABBITMQ_CONSUMER_TIMEOUT_S` | `1800` | the broker's `consumer_timeout` (`0`: disabled there); listeners' timeouts must be shorter |
/// | `FASTEVENT_AMQP_TIMEOUT_S` | `10` | how long a dispatch waits for the broker (reconnect, confirms, a publishing block) before it fails |
/// | `FASTEVENT_AMQP_QUEUE_TYPE` | `classic` for one node URL, `quorum` for several | the type of every queue the `amqp` driver declares: `classic` or `quorum` |
/// | `FASTEVENT_POSTGRES_URL` | `DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/postgres` | the database of the `postgres` driver |
/// | `FASTEVENT_POSTGRES_POOL` | `10` | connections in its pool |
/// | `FASTEVENT_POSTGRES_SCHEMA` | `public` | the schema of its tables (created if missing) |
/// | `FASTEVENT_POSTGRES_TABLE_PREFIX` | `fastevent_` | the start of its tables' names |
/// | `FASTEVENT_POSTGRES_TIMEOUT_S` | `5` | how long an operation waits for a connection before it fails |
/// | `FASTEVENT_TRIES` | `3` | attempts of a job whose listener sets no `tries` |
/// | `SOFT_TIMEOUT_S` | none | soft timeout of a listener that sets none |
/// | `HARD_TIMEOUT_S` | none | hard timeout of a listener that sets none |
/// | `MAX_PAYLOAD_BYTES` | `262144` | largest job accepted at dispatch (`ASYNC_FARM_MAX_PAYLOAD_BYTES` too) |
/// | `FASTEVENT_SIGNING_KEY` | none | HMAC key (16+ bytes): sign jobs, refuse unsigned ones |
/// | `FASTEVENT_SIGNED_JOB_TTL_S` | `604800` (7 days) | how long after its dispatch a signed job may run |
///
/// The `sqlite` and `amqp` drivers are Cargo features of those names (on by
/// default): in a program built without one, its variables are ignored and
/// choosing it is a [`ConfigError::DriverNotBuilt`] that names the feature.
///
/// ```
/// use fastevent::{Config, QueueDriver};
///
/// let config = Config::new()
///     .queue_driver(QueueDriver::Sqlite)
///     .sqlite_path("storage/queue.db")
///     .tries(5);
/// let from_env = Config::from_env()?;
/// # let _ = (config, from_env);
/// # Ok::<(), fastevent::ConfigError>(())
/// ```
pub struct Config {
    driver: DriverChoice,
    #[cfg(feature = "sqlite")]
    sqlite: SqliteOptions,
    #[cfg(feature = "amqp")]
    amqp: AmqpOptions,
    #[cfg(feature = "postgres")]
    postgres: PostgresOptions,
    job_defaults: JobDefaults,
    signing_key: Option<Vec<u8>>,
}

enum DriverChoice {
    Named(QueueDriver),
    Custom(Arc<dyn Driver>),
    /// A durable driver of the user's, made at `install` from the
    /// configuration's job defaults and key.
    CustomDurable(Box<MakeDurable>),
}

/// Makes a durable driver: the driver dispatches hand jobs to, and the same
/// driver as the worker and the commands hold it.
type MakeDurable =
    dyn FnOnce(JobEncoder) -> Result<(Arc<dyn Driver>, Arc<dyn DurableQueue>), ConfigError> + Send;

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
            #[cfg(feature = "sqlite")]
            sqlite: SqliteOptions {
                path: PathBuf::from("fastevent.db"),
                synchronous: Synchronous::Full,
                // Below the supervisor's heartbeat timeout (10 s by default): a
                // worker waiting on the lock must not look hung.
                busy_timeout: Duration::from_secs(5),
            },
            #[cfg(feature = "amqp")]
            amqp: AmqpOptions::new(AmqpOptions::DEFAULT_URL),
            #[cfg(feature = "postgres")]
            postgres: PostgresOptions::new(PostgresOptions::DEFAULT_URL),
            job_defaults: JobDefaults::default(),
            signing_key: None,
        }
    }

    /// The defaults overridden by the environment (see the table above).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name))
    }

    pub(crate) fn from_lookup(
        lookup: &dyn Fn(&str) -> Result<String, std::env::VarError>,
    ) -> Result<Self, ConfigError> {
        let env = Env::new(lookup);
        let mut config = Self::new();
        if let Some(driver) = env.parse::<QueueDriver>(
            "QUEUE_DRIVER",
            &format!("one of: {}", QueueDriver::NAMES.join(", ")),
        )? {
            if let Some(error) = driver.not_built() {
                return Err(error);
            }
            config.driver = DriverChoice::Named(driver);
        }
        #[cfg(feature = "sqlite")]
        config.read_sqlite(&env)?;
        #[cfg(feature = "amqp")]
        config.read_amqp(&env)?;
        #[cfg(feature = "postgres")]
        config.read_postgres(&env)?;
        if let Some(tries) = env.number("FASTEVENT_TRIES", 1, 1000)? {
            config.job_defaults.tries = tries as u32;
        }
        if let Some(timeout) = env.seconds("SOFT_TIMEOUT_S", 0.001)? {
            config.job_defaults.timeout = Some(timeout);
        }
        if let Some(timeout) = env.seconds("HARD_TIMEOUT_S", 0.001)? {
            config.job_defaults.hard_timeout = Some(timeout);
        }
        let max_payload = match env.number("MAX_PAYLOAD_BYTES", 1024, 1 << 30)? {
            Some(bytes) => Some(bytes),
            None => env.number("ASYNC_FARM_MAX_PAYLOAD_BYTES", 1024, 1 << 30)?,
        };
        if let Some(bytes) = max_payload {
            config.job_defaults.max_payload_bytes = bytes as usize;
        }
        if let Some(key) = env.string("FASTEVENT_SIGNING_KEY")? {
            if key.len() < JobSigner::MIN_KEY_BYTES {
                return Err(ConfigError::Invalid {
                    variable: "FASTEVENT_SIGNING_KEY",
                    value: "(redacted)".into(),
                    expected: format!("a secret of at least {} bytes", JobSigner::MIN_KEY_BYTES),
                });
            }
            config.signing_key = Some(key.into_bytes());
        }
        if let Some(ttl) = env.seconds("FASTEVENT_SIGNED_JOB_TTL_S", MIN_SIGNED_JOB_TTL_S)? {
            config.job_defaults.signed_job_ttl = ttl;
        }
        Ok(config)
    }

    /// The `sqlite` driver's variables.
    #[cfg(feature = "sqlite")]
    fn read_sqlite(&mut self, env: &Env) -> Result<(), ConfigError> {
        if let Some(path) = env.string("FASTEVENT_SQLITE_PATH")? {
            self.sqlite.path = PathBuf::from(path);
        }
        if let Some(mode) = env.string("FASTEVENT_SQLITE_SYNCHRONOUS")? {
            self.sqlite.synchronous = match mode.to_ascii_lowercase().as_str() {
                "full" => Synchronous::Full,
                "normal" => Synchronous::Normal,
                _ => {
                    return Err(ConfigError::Invalid {
                        variable: "FASTEVENT_SQLITE_SYNCHRONOUS",
                        value: mode,
                        expected: "full or normal".into(),
                    });
                }
            };
        }
        Ok(())
    }

    /// The `postgres` driver's variables.
    #[cfg(feature = "postgres")]
    fn read_postgres(&mut self, env: &Env) -> Result<(), ConfigError> {
        let url = match env.string("FASTEVENT_POSTGRES_URL")? {
            Some(url) => Some(url),
            None => env.string("DATABASE_URL")?,
        };
        if let Some(url) = url {
            self.postgres.url = url;
        }
        if let Some(size) = env.number("FASTEVENT_POSTGRES_POOL", 1, 1000)? {
            self.postgres.pool_size = size as u32;
        }
        if let Some(schema) = env.string("FASTEVENT_POSTGRES_SCHEMA")? {
            self.postgres.schema = schema;
        }
        if let Some(prefix) = env.string("FASTEVENT_POSTGRES_TABLE_PREFIX")? {
            self.postgres.table_prefix = prefix;
        }
        if let Some(timeout) = env.seconds("FASTEVENT_POSTGRES_TIMEOUT_S", 0.1)? {
            self.postgres.timeout = timeout;
        }
        Ok(())
    }

    /// The PostgreSQL options of the `postgres` driver (URL, pool, schema).
    #[cfg(feature = "postgres")]
    pub fn postgres(mut self, options: PostgresOptions) -> Self {
        self.postgres = options;
        self
    }

    /// The `amqp` driver's variables.
    #[cfg(feature = "amqp")]
    fn read_amqp(&mut self, env: &Env) -> Result<(), ConfigError> {
        if let Some(url) = env.string("RABBITMQ_URL")? {
            self.amqp.url = url;
        }
        if let Some(prefix) = env.string("FASTEVENT_AMQP_PREFIX")? {
            self.amqp.prefix = prefix;
        }
        if let Some(queue) = env.string("ASYNC_FARM_JOBS_QUEUE")? {
            self.amqp.default_queue = Some(queue);
        }
        if let Some(timeout) = env.seconds("RABBITMQ_CONSUMER_TIMEOUT_S", 0.0)? {
            self.amqp.consumer_timeout = (!timeout.is_zero()).then_some(timeout);
        }
        if let Some(timeout) = env.seconds("FASTEVENT_AMQP_TIMEOUT_S", 0.1)? {
            self.amqp.operation_timeout = timeout;
        }
        if let Some(kind) = env.string("FASTEVENT_AMQP_QUEUE_TYPE")? {
            let parsed = crate::driver::amqp::topology::QueueType::parse(&kind);
            self.amqp.queue_type = Some(parsed.ok_or(ConfigError::Invalid {
                variable: "FASTEVENT_AMQP_QUEUE_TYPE",
                value: kind,
                expected: "classic or quorum".into(),
            })?);
        }
        // Checked only for the driver that uses them: a stray RABBITMQ_URL
        // does not stop a SQLite app.
        if matches!(self.driver, DriverChoice::Named(QueueDriver::Amqp)) {
            self.amqp.check()?;
        }
        Ok(())
    }

    /// Uses one of the built-in drivers.
    pub fn queue_driver(mut self, driver: QueueDriver) -> Self {
        self.driver = DriverChoice::Named(driver);
        self
    }

    /// Uses a driver of your own (see [`Driver`] for an example).
    pub fn driver(mut self, driver: impl Driver) -> Self {
        self.driver = DriverChoice::Custom(Arc::new(driver));
        self
    }

    /// Uses a durable driver of your own, made by `make` at
    /// [`install`](Self::install) with a [`JobEncoder`] that holds this
    /// configuration's job defaults and signing key; an error it returns
    /// fails `install` ([`ConfigError::DriverFailed`]). Dispatches hand it
    /// their jobs, and `work`, `failed`, `status`, the dashboard and
    /// [`durable_queue`] use it like a built-in durable driver. See
    /// [`WorkQueue`](crate::driver::durable::WorkQueue) for what it
    /// implements.
    pub fn durable_driver<D, E, F>(mut self, make: F) -> Self
    where
        D: Driver + WorkQueue + QueueAdmin,
        E: std::fmt::Display,
        F: FnOnce(JobEncoder) -> Result<D, E> + Send + 'static,
    {
        self.driver = DriverChoice::CustomDurable(Box::new(|encoder| {
            let driver = Arc::new(make(encoder).map_err(|e| ConfigError::DriverFailed {
                message: e.to_string(),
            })?);
            Ok((driver.clone() as Arc<dyn Driver>, durable_queue_of(driver)))
        }));
        self
    }

    /// The SQLite queue's file.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.sqlite.path = path.into();
        self
    }

    /// The RabbitMQ options of the `amqp` driver (URL, queue prefix, ...).
    #[cfg(feature = "amqp")]
    pub fn amqp(mut self, options: AmqpOptions) -> Self {
        self.amqp = options;
        self
    }

    /// Whether every commit is fsynced (`Full`, the default) or not.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_synchronous(mut self, synchronous: Synchronous) -> Self {
        self.sqlite.synchronous = synchronous;
        self
    }

    /// Attempts of a job whose listener sets no `tries`.
    pub fn tries(mut self, tries: u32) -> Self {
        self.job_defaults.tries = tries.max(1);
        self
    }

    /// Soft timeout of a listener that sets none: its future is cancelled,
    /// and the attempt fails.
    ///
    /// ```
    /// use fastevent::Config;
    /// use std::time::Duration;
    ///
    /// // No listener runs for ever: cancelled after 30 s, its worker killed after 2 min.
    /// let config = Config::new()
    ///     .soft_timeout(Duration::from_secs(30))
    ///     .hard_timeout(Duration::from_secs(120));
    /// # let _ = config;
    /// ```
    pub fn soft_timeout(mut self, timeout: Duration) -> Self {
        self.job_defaults.timeout = Some(timeout);
        self
    }

    /// Hard timeout of a listener that sets none: the supervisor kills the
    /// worker process running it (see [`Config::soft_timeout`]).
    pub fn hard_timeout(mut self, timeout: Duration) -> Self {
        self.job_defaults.hard_timeout = Some(timeout);
        self
    }

    /// The largest job accepted at dispatch.
    pub fn max_payload_bytes(mut self, bytes: usize) -> Self {
        self.job_defaults.max_payload_bytes = bytes;
        self
    }

    /// Signs jobs with this HMAC key, and makes workers refuse unsigned or
    /// altered ones. Refused when shorter than 16 bytes. Set the same key
    /// in every process that dispatches or works, when others can write to
    /// the queue (a shared broker).
    ///
    /// ```
    /// use fastevent::Config;
    ///
    /// let config = Config::new().signing_key("a secret of 16+ bytes")?;
    /// assert!(Config::new().signing_key("short").is_err());
    /// # let _ = config;
    /// # Ok::<(), fastevent::ConfigError>(())
    /// ```
    pub fn signing_key(mut self, key: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let key = key.into();
        if key.len() < JobSigner::MIN_KEY_BYTES {
            return Err(ConfigError::Invalid {
                variable: "signing_key",
                value: "(redacted)".into(),
                expected: format!("a secret of at least {} bytes", JobSigner::MIN_KEY_BYTES),
            });
        }
        self.signing_key = Some(key);
        Ok(self)
    }

    /// How long after its dispatch a signed job may still run; past it, a
    /// worker sends the job to the failed store. This bounds how long a copy
    /// of a signed job can be replayed. Keep it well above the longest
    /// backoff times the attempts, plus any outage the jobs should wait
    /// out. Refused under one second. Jobs are only given an expiry when a
    /// [signing key](Config::signing_key) is set.
    ///
    /// ```
    /// use fastevent::Config;
    /// use std::time::Duration;
    ///
    /// let config = Config::new()
    ///     .signing_key("a secret of 16+ bytes")?
    ///     .signed_job_ttl(Duration::from_secs(2 * 24 * 3600))?;
    /// assert!(Config::new().signed_job_ttl(Duration::ZERO).is_err());
    /// # let _ = config;
    /// # Ok::<(), fastevent::ConfigError>(())
    /// ```
    pub fn signed_job_ttl(mut self, ttl: Duration) -> Result<Self, ConfigError> {
        if ttl.as_secs_f64() < MIN_SIGNED_JOB_TTL_S {
            return Err(ConfigError::Invalid {
                variable: "signed_job_ttl",
                value: format!("{}s", ttl.as_secs_f64()),
                expected: format!("at least {MIN_SIGNED_JOB_TTL_S} second"),
            });
        }
        self.job_defaults.signed_job_ttl = ttl;
        Ok(self)
    }

    /// The signer of this configuration, if a key is set.
    pub(crate) fn signer(&self) -> Option<JobSigner> {
        self.signing_key.clone().and_then(JobSigner::new)
    }

    fn build(self) -> Result<Installed, ConfigError> {
        let signer = self.signer();
        let encoder = JobEncoder::new(self.job_defaults, signer.clone());
        #[cfg(feature = "postgres")]
        let mut postgres_installed = None;
        let (driver, durable): (Arc<dyn Driver>, _) = match self.driver {
            DriverChoice::Named(QueueDriver::Sync) => (Arc::new(SyncDriver), None),
            #[cfg(feature = "sqlite")]
            DriverChoice::Named(QueueDriver::Sqlite) => durable(SqliteDriver::new(
                self.sqlite,
                self.job_defaults,
                signer.clone(),
            )),
            #[cfg(feature = "amqp")]
            DriverChoice::Named(QueueDriver::Amqp) => {
                durable(amqp_driver(self.amqp, self.job_defaults, signer.clone())?)
            }
            #[cfg(feature = "postgres")]
            DriverChoice::Named(QueueDriver::Postgres) => {
                let postgres = postgres_driver(self.postgres, self.job_defaults, signer.clone())?;
                postgres_installed = Some(postgres.clone());
                durable(postgres)
            }
            // A driver compiled out, chosen in code (`from_env` refuses it
            // already).
            #[cfg(not(all(feature = "sqlite", feature = "amqp", feature = "postgres")))]
            DriverChoice::Named(driver) => {
                return Err(driver
                    .not_built()
                    .expect("the built drivers have arms above"));
            }
            DriverChoice::Custom(driver) => (driver, None),
            DriverChoice::CustomDurable(make) => {
                let (driver, durable) = make(encoder)?;
                (driver, Some(durable))
            }
        };
        Ok(Installed {
            driver,
            durable,
            signer,
            job_defaults: self.job_defaults,
            #[cfg(feature = "postgres")]
            postgres: postgres_installed,
        })
    }

    /// Makes this the configuration of the process. Call it once at start-up,
    /// before the first dispatch (which otherwise reads the environment).
    /// The driver is built here, so a setting that cannot work (a listener
    /// timeout longer than the broker's `consumer_timeout`) is an error now.
    ///
    /// ```
    /// use fastevent::{Config, ConfigError};
    ///
    /// fn main() -> Result<(), ConfigError> {
    ///     // First thing in `main`: the environment, with a default of the code.
    ///     Config::from_env()?.tries(5).install()?;
    ///
    ///     // The configuration is fixed for the rest of the process.
    ///     assert_eq!(Config::new().install(), Err(ConfigError::AlreadyInstalled));
    ///     Ok(())
    /// }
    /// ```
    pub fn install(self) -> Result<(), ConfigError> {
        let mut config = Some(self);
        let installed = INSTALLED.get_or_init(|| config.take().expect("runs once").build());
        match (config, installed) {
            (None, Ok(_)) => Ok(()),
            (None, Err(error)) => Err(error.clone()),
            (Some(_), _) => Err(ConfigError::AlreadyInstalled),
        }
    }
}

/// A durable driver, as dispatches and as workers hold it.
#[cfg(any(feature = "sqlite", feature = "amqp", feature = "postgres"))]
fn durable<D>(driver: D) -> (Arc<dyn Driver>, Option<Arc<dyn DurableQueue>>)
where
    D: Driver + WorkQueue + QueueAdmin,
{
    let driver = Arc::new(driver);
    (driver.clone(), Some(durable_queue_of(driver)))
}

/// The `postgres` driver, once its options are checked.
#[cfg(feature = "postgres")]
fn postgres_driver(
    options: PostgresOptions,
    defaults: JobDefaults,
    signer: Option<JobSigner>,
) -> Result<PostgresDriver, ConfigError> {
    options.check()?;
    Ok(PostgresDriver::new(options, defaults, signer))
}

/// The `amqp` driver, once its options and the listeners' timeouts are
/// checked: at start-up, not when the broker kills a channel at 3 a.m.
#[cfg(feature = "amqp")]
fn amqp_driver(
    options: AmqpOptions,
    defaults: JobDefaults,
    signer: Option<JobSigner>,
) -> Result<AmqpDriver, ConfigError> {
    options.check()?;
    let consumer_timeout = options.consumer_timeout;
    let amqp = AmqpDriver::new(options, defaults, signer);
    amqp.check_listener_timeouts()
        .map_err(|expected| ConfigError::Invalid {
            variable: "RABBITMQ_CONSUMER_TIMEOUT_S",
            value: consumer_timeout.map_or("0".into(), |t| t.as_secs_f64().to_string()),
            expected,
        })?;
    Ok(amqp)
}

/// The installed configuration; on first use without `install`, the one the
/// environment gives.
pub(crate) fn installed() -> Result<&'static Installed, ConfigError> {
    let installed = INSTALLED.get_or_init(|| Config::from_env().and_then(Config::build));
    match installed {
        Ok(installed) => Ok(installed),
        Err(error) => Err(error.clone()),
    }
}

/// The installed driver.
pub(crate) fn driver() -> Result<&'static dyn Driver, ConfigError> {
    installed().map(|i| i.driver.as_ref())
}

/// The installed driver's queue, for workers and the `failed` and `status`
/// commands; an error when the driver is not durable. Use it to inspect or
/// manage the queue from code: its depth, the failed store.
///
/// ```
/// use fastevent::{Config, QueueDriver};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("fastevent-doc-durable-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// Config::new()
///     .queue_driver(QueueDriver::Sqlite)
///     .sqlite_path(dir.join("queue.db"))
///     .install()?;
///
/// let queue = fastevent::durable_queue()?;
/// assert_eq!(queue.name(), "sqlite");
/// for depth in queue.depth().await? {
///     println!("{}: {} ready, {} running", depth.queue, depth.ready, depth.running);
/// }
/// assert_eq!(queue.failed_count().await?, 0);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
pub fn durable_queue() -> Result<Arc<dyn DurableQueue>, ConfigError> {
    let installed = installed()?;
    installed
        .durable
        .clone()
        .ok_or_else(|| ConfigError::NotDurable {
            driver: installed.driver.name(),
        })
}

/// Waits until every job running in this process (the `sync` driver's
/// background listeners) has finished; call it before the program exits,
/// or the jobs still running are lost with it. Returns at once on durable
/// drivers, whose jobs wait in the queue.
///
/// ```rust,standalone_crate
/// use fastevent::{listener, Event};
/// use serde::{Deserialize, Serialize};
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// static SENT: AtomicBool = AtomicBool::new(false);
///
/// #[derive(Serialize, Deserialize, Event)]
/// struct PasswordReset {
///     user_id: u64,
/// }
///
/// #[derive(Default)]
/// struct SendResetMail;
///
/// #[listener(on = PasswordReset)]
/// impl SendResetMail {
///     async fn handle(&self, _: &PasswordReset) {
///         tokio::time::sleep(std::time::Duration::from_millis(20)).await;
///         SENT.store(true, Ordering::SeqCst);
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), fastevent::DispatchError> {
///     // The default `sync` driver runs the job as a task of this process,
///     PasswordReset { user_id: 7 }.dispatch().await?;
///     // which `drain` waits for.
///     fastevent::drain().await;
///     assert!(SENT.load(Ordering::SeqCst));
///     Ok(())
/// }
/// ```
pub async fn drain() {
    if let Some(Ok(installed)) = INSTALLED.get() {
        installed.driver.drain().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(&crate::env::fixed(vars))
    }

    #[test]
    fn queue_driver_is_read_case_insensitively() {
        for value in ["sync", "SYNC", " Sync "] {
            let config = config(&[("QUEUE_DRIVER", value)]).unwrap();
            assert!(matches!(
                config.driver,
                DriverChoice::Named(QueueDriver::Sync)
            ));
        }
        #[cfg(feature = "sqlite")]
        {
            let config = config(&[("QUEUE_DRIVER", "SQLite")]).unwrap();
            assert!(matches!(
                config.driver,
                DriverChoice::Named(QueueDriver::Sqlite)
            ));
        }
    }

    #[test]
    fn unset_queue_driver_means_sync() {
        let config = config(&[]).unwrap();
        assert!(matches!(
            config.driver,
            DriverChoice::Named(QueueDriver::Sync)
        ));
        #[cfg(feature = "sqlite")]
        assert_eq!(config.sqlite.path, PathBuf::from("fastevent.db"));
        assert_eq!(config.job_defaults, JobDefaults::default());
    }

    #[test]
    fn unknown_queue_driver_is_a_clear_error() {
        let error = config(&[("QUEUE_DRIVER", "redis")]).err().unwrap();
        assert_eq!(
            error.to_string(),
            "QUEUE_DRIVER=\"redis\" is not valid: expected one of: sync, sqlite, amqp, async_farm, postgres"
        );
    }

    #[cfg(feature = "amqp")]
    #[test]
    fn amqp_and_its_alias_async_farm_select_rabbitmq() {
        for value in ["amqp", "AMQP", "async_farm", " Async_Farm "] {
            let config = config(&[("QUEUE_DRIVER", value)]).unwrap();
            assert!(
                matches!(config.driver, DriverChoice::Named(QueueDriver::Amqp)),
                "{value}"
            );
        }
    }

    #[cfg(feature = "amqp")]
    #[test]
    fn rabbitmq_settings_have_fast_apps_defaults() {
        let amqp = config(&[("QUEUE_DRIVER", "amqp")]).unwrap().amqp;
        assert_eq!(amqp.url, "amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(amqp.prefix, "fastevent");
        assert_eq!(amqp.default_queue, None);
        assert_eq!(amqp.consumer_timeout, Some(Duration::from_secs(1800)));
        assert_eq!(amqp.operation_timeout, Duration::from_secs(10));
        assert_eq!(amqp.queue_expires, None);
        assert_eq!(amqp.queue_type, None);
    }

    #[cfg(feature = "amqp")]
    #[test]
    fn the_queue_type_is_read_and_checked() {
        use crate::driver::amqp::topology::QueueType;
        let amqp = config(&[("FASTEVENT_AMQP_QUEUE_TYPE", " Quorum ")])
            .unwrap()
            .amqp;
        assert_eq!(amqp.queue_type, Some(QueueType::Quorum));
        let error = config(&[("FASTEVENT_AMQP_QUEUE_TYPE", "stream")])
            .err()
            .unwrap();
        assert!(
            error.to_string().contains("FASTEVENT_AMQP_QUEUE_TYPE"),
            "{error}"
        );
    }

    #[cfg(feature = "amqp")]
    #[test]
    fn rabbitmq_settings_are_read() {
        let amqp = config(&[
            ("QUEUE_DRIVER", "async_farm"),
            ("RABBITMQ_URL", "amqp://app:s3cret@mq.internal:5673/jobs"),
            ("FASTEVENT_AMQP_PREFIX", "shop"),
            ("ASYNC_FARM_JOBS_QUEUE", "async_farm.jobs"),
            ("RABBITMQ_CONSUMER_TIMEOUT_S", "3600"),
            ("FASTEVENT_AMQP_TIMEOUT_S", "2.5"),
        ])
        .unwrap()
        .amqp;
        assert_eq!(amqp.url, "amqp://app:s3cret@mq.internal:5673/jobs");
        assert_eq!(amqp.prefix, "shop");
        assert_eq!(amqp.default_queue.as_deref(), Some("async_farm.jobs"));
        assert_eq!(amqp.consumer_timeout, Some(Duration::from_secs(3600)));
        assert_eq!(amqp.operation_timeout, Duration::from_millis(2500));
        let disabled = config(&[("RABBITMQ_CONSUMER_TIMEOUT_S", "0")]).unwrap();
        assert_eq!(disabled.amqp.consumer_timeout, None);
    }

    #[cfg(feature = "amqp")]
    #[test]
    fn bad_rabbitmq_settings_are_named_without_the_password() {
        for (variable, value, expected) in [
            ("RABBITMQ_URL", "http://guest:pw@host", "an AMQP URL"),
            (
                "RABBITMQ_URL",
                "amqps://guest:pw@host?verify=verify_none",
                "always verified",
            ),
            (
                "RABBITMQ_URL",
                "amqp://guest:pw@a, http://guest:pw@b",
                "http://guest:***@b: not an AMQP URL",
            ),
            ("FASTEVENT_AMQP_PREFIX", "my queues", "letters, digits"),
            ("ASYNC_FARM_JOBS_QUEUE", "jobs~x", "letters, digits"),
            ("RABBITMQ_CONSUMER_TIMEOUT_S", "-5", "a number of seconds"),
            ("FASTEVENT_AMQP_TIMEOUT_S", "0", "a number of seconds"),
        ] {
            let error = config(&[("QUEUE_DRIVER", "amqp"), (variable, value)])
                .err()
                .unwrap()
                .to_string();
            assert!(
                error.starts_with(variable) && error.contains(expected),
                "{variable}={value}: {error}"
            );
            assert!(!error.contains("pw"), "the password must not show: {error}");
        }
        // Another driver does not care about a broken RABBITMQ_URL.
        #[cfg(feature = "sqlite")]
        assert!(config(&[("QUEUE_DRIVER", "sqlite"), ("RABBITMQ_URL", "nope")]).is_ok());
    }

    #[test]
    fn every_setting_is_read_and_bad_values_are_named() {
        let read = config(&[
            ("FASTEVENT_TRIES", "7"),
            ("SOFT_TIMEOUT_S", "2.5"),
            ("HARD_TIMEOUT_S", "10"),
            ("ASYNC_FARM_MAX_PAYLOAD_BYTES", "4096"),
            ("FASTEVENT_SIGNING_KEY", "0123456789abcdef"),
            ("FASTEVENT_SIGNED_JOB_TTL_S", "86400"),
        ])
        .unwrap();
        assert_eq!(read.job_defaults.tries, 7);
        assert_eq!(read.job_defaults.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(
            read.job_defaults.hard_timeout,
            Some(Duration::from_secs(10))
        );
        assert_eq!(read.job_defaults.max_payload_bytes, 4096);
        assert!(read.signer().is_some());
        assert_eq!(
            read.job_defaults.signed_job_ttl,
            Duration::from_secs(86_400)
        );

        for (variable, value, expected) in [
            ("FASTEVENT_TRIES", "0", "a whole number from 1 to 1000"),
            ("SOFT_TIMEOUT_S", "-1", "a number of seconds"),
            ("MAX_PAYLOAD_BYTES", "10", "a whole number from 1024"),
            ("FASTEVENT_SIGNING_KEY", "short", "at least 16 bytes"),
            (
                "FASTEVENT_SIGNED_JOB_TTL_S",
                "0",
                "a number of seconds, at least 1",
            ),
            (
                "FASTEVENT_SIGNED_JOB_TTL_S",
                "a week",
                "a number of seconds",
            ),
        ] {
            let error = config(&[(variable, value)]).err().unwrap().to_string();
            assert!(
                error.starts_with(variable) && error.contains(expected),
                "{variable}={value}: {error}"
            );
            assert!(
                !error.contains("short"),
                "the key must not be echoed: {error}"
            );
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_settings_are_read_and_bad_values_are_named() {
        let read = config(&[
            ("FASTEVENT_SQLITE_PATH", "/tmp/q.db"),
            ("FASTEVENT_SQLITE_SYNCHRONOUS", "Normal"),
        ])
        .unwrap();
        assert_eq!(read.sqlite.path, PathBuf::from("/tmp/q.db"));
        assert_eq!(read.sqlite.synchronous, Synchronous::Normal);
        let error = config(&[("FASTEVENT_SQLITE_SYNCHRONOUS", "off")])
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.starts_with("FASTEVENT_SQLITE_SYNCHRONOUS") && error.contains("full or normal"),
            "{error}"
        );
    }

    /// A driver compiled out is refused by name, whether the environment or
    /// the code picks it, with the feature that would build it.
    #[cfg(not(all(feature = "sqlite", feature = "amqp")))]
    fn assert_not_built(values: &[&str], driver: QueueDriver, feature: &'static str) {
        for value in values {
            let error = config(&[("QUEUE_DRIVER", value)]).err();
            assert_eq!(
                error,
                Some(ConfigError::DriverNotBuilt { feature }),
                "{value}"
            );
        }
        let error = Config::new().queue_driver(driver).build().err();
        assert_eq!(error, Some(ConfigError::DriverNotBuilt { feature }));
        assert_eq!(
            error.unwrap().to_string(),
            format!(
                "the `{feature}` queue driver is not built into this program: enable the `{feature}` feature of fastevent (features = [\"{feature}\"] in Cargo.toml)"
            )
        );
    }

    #[cfg(not(feature = "amqp"))]
    #[test]
    fn amqp_without_its_feature_names_the_feature() {
        assert_not_built(&["amqp", "async_farm"], QueueDriver::Amqp, "amqp");
    }

    #[cfg(not(feature = "sqlite"))]
    #[test]
    fn sqlite_without_its_feature_names_the_feature() {
        assert_not_built(&["sqlite"], QueueDriver::Sqlite, "sqlite");
    }
}
