//! The settings of the `postgres` driver, and the checks that refuse a bad
//! one at start-up.

use crate::error::ConfigError;
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;
use std::time::Duration;

/// Where and how the `postgres` driver keeps its jobs.
///
/// ```
/// use fastevent::ConfigError;
/// use fastevent::driver::postgres::PostgresOptions;
///
/// let options = PostgresOptions::new("postgres://app@db.internal/app");
/// assert_eq!((options.schema.as_str(), options.table_prefix.as_str()), ("public", "fastevent_"));
/// assert_eq!(options.check(), Ok(()));
///
/// let bad = PostgresOptions { schema: "jobs; DROP TABLE users".into(), ..options };
/// let Err(ConfigError::Invalid { variable, expected, .. }) = bad.check() else {
///     panic!("a schema name that would change the SQL is refused");
/// };
/// assert_eq!(variable, "FASTEVENT_POSTGRES_SCHEMA");
/// assert!(expected.contains("letters"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The database (`FASTEVENT_POSTGRES_URL`, else `DATABASE_URL`).
    pub url: String,
    /// Connections in the pool (`FASTEVENT_POSTGRES_POOL`).
    pub pool_size: u32,
    /// The schema of the tables (`FASTEVENT_POSTGRES_SCHEMA`), created if
    /// missing.
    pub schema: String,
    /// The start of every table's name (`FASTEVENT_POSTGRES_TABLE_PREFIX`).
    pub table_prefix: String,
    /// How long an operation waits for a connection before it fails
    /// (`FASTEVENT_POSTGRES_TIMEOUT_S`): a dispatch while the server is
    /// down returns this error instead of hanging.
    pub timeout: Duration,
}

impl PostgresOptions {
    /// The database when neither variable is set: the local server.
    pub const DEFAULT_URL: &'static str = "postgres://postgres@127.0.0.1:5432/postgres";

    /// The defaults, with `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 10,
            schema: "public".into(),
            table_prefix: "fastevent_".into(),
            timeout: Duration::from_secs(5),
        }
    }

    /// Refuses a setting that cannot work, naming its variable. The schema
    /// and prefix become parts of SQL statements, so only plain lower-case
    /// names are accepted.
    pub fn check(&self) -> Result<(), ConfigError> {
        ConfigError::refuse(self.problem())
    }

    /// What [`check`](Self::check) refuses: the variable, its value and
    /// what it accepts.
    fn problem(&self) -> Option<(&'static str, String, String)> {
        let plain = "lower-case letters, digits and `_`, starting with a letter or `_`";
        if !is_plain_name(&self.schema) {
            return Some((
                "FASTEVENT_POSTGRES_SCHEMA",
                self.schema.clone(),
                plain.into(),
            ));
        }
        if !self.table_prefix.is_empty() && !is_plain_name(&self.table_prefix) {
            let expected = format!("empty, or {plain}");
            return Some((
                "FASTEVENT_POSTGRES_TABLE_PREFIX",
                self.table_prefix.clone(),
                expected,
            ));
        }
        if self.pool_size == 0 {
            let expected = "at least 1 connection".to_string();
            return Some(("FASTEVENT_POSTGRES_POOL", "0".into(), expected));
        }
        let scheme = self.url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("postgres" | "postgresql")) {
            let expected = "a postgres:// or postgresql:// URL".to_string();
            return Some(("FASTEVENT_POSTGRES_URL", masked(&self.url), expected));
        }
        // Read here, not at the first dispatch: a port or `sslmode` sqlx
        // cannot read is a setting to fix before the service starts.
        if let Err(error) = PgConnectOptions::from_str(&self.url) {
            let expected = format!("a postgres:// URL sqlx can read ({error})");
            return Some(("FASTEVENT_POSTGRES_URL", masked(&self.url), expected));
        }
        None
    }
}

/// A name PostgreSQL takes unquoted, at most 40 bytes so that a table name
/// made of the prefix and a suffix stays under its 63-byte limit.
fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    first_ok
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `url` with its password replaced, for messages and logs.
pub(super) fn masked(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let user = user_info
        .split_once(':')
        .map_or(user_info, |(user, _)| user);
    let password = if user_info.contains(':') { ":***" } else { "" };
    let path = if rest.contains('/') {
        format!("/{path}")
    } else {
        String::new()
    };
    format!("{scheme}://{user}{password}@{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_and_everything_else_is_kept() {
        assert_eq!(
            masked("postgres://app:s3cret@db:5432/app?sslmode=require"),
            "postgres://app:***@db:5432/app?sslmode=require"
        );
        assert_eq!(masked("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(masked("postgres://db"), "postgres://db");
    }

    #[test]
    fn names_that_would_change_the_sql_are_refused() {
        for bad in ["", "Jobs", "1jobs", "jobs-x", "jobs\"", &"x".repeat(41)] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
        for good in ["public", "_jobs", "app_2"] {
            assert!(is_plain_name(good), "{good:?}");
        }
        let mut options = PostgresOptions::new("mysql://x");
        assert_eq!(options.problem().unwrap().0, "FASTEVENT_POSTGRES_URL");
        options.url = "postgresql://x".into();
        options.pool_size = 0;
        assert_eq!(options.problem().unwrap().0, "FASTEVENT_POSTGRES_POOL");
    }

    #[test]
    fn a_url_sqlx_cannot_read_is_refused_at_start_up_with_its_reason() {
        for bad in [
            "postgres://app:s3cret@db:notaport/app",
            "postgres://app@db/app?sslmode=sometimes",
        ] {
            let (variable, value, expected) = PostgresOptions::new(bad).problem().unwrap();
            assert_eq!(variable, "FASTEVENT_POSTGRES_URL");
            assert!(!value.contains("s3cret"), "{value}");
            assert!(
                expected.contains("a postgres:// URL sqlx can read ("),
                "{expected}"
            );
            assert!(!expected.contains("s3cret"), "{expected}");
            println!("{variable}={value}: expected {expected}");
        }
        assert!(
            PostgresOptions::new("postgres://app@db:5432/app?sslmode=require")
                .problem()
                .is_none()
        );
    }
}
