//! Reading typed settings from the environment: a value that does not parse
//! is an error naming the variable, what it holds and what would be accepted.

use crate::config::ConfigError;
use std::env::VarError;
use std::str::FromStr;
use std::time::Duration;

/// Where settings come from: the process environment, or a map in tests.
pub(crate) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Result<String, VarError>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(lookup: &'a dyn Fn(&str) -> Result<String, VarError>) -> Self {
        Self { lookup }
    }

    /// The raw value; unset and empty both mean "not given".
    pub(crate) fn string(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match (self.lookup)(name) {
            Ok(value) if value.trim().is_empty() => Ok(None),
            Ok(value) => Ok(Some(value.trim().to_string())),
            Err(VarError::NotPresent) => Ok(None),
            Err(VarError::NotUnicode(_)) => Err(ConfigError::Invalid {
                variable: name,
                value: "(not valid unicode)".into(),
                expected: "a unicode string".into(),
            }),
        }
    }

    /// A value parsed with `FromStr`; `expected` describes what parses.
    pub(crate) fn parse<T: FromStr>(
        &self,
        name: &'static str,
        expected: &str,
    ) -> Result<Option<T>, ConfigError> {
        match self.string(name)? {
            None => Ok(None),
            Some(value) => value.parse().map(Some).map_err(|_| ConfigError::Invalid {
                variable: name,
                value,
                expected: expected.to_string(),
            }),
        }
    }

    /// A whole number within `min..=max`.
    pub(crate) fn number(
        &self,
        name: &'static str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, ConfigError> {
        let expected = format!("a whole number from {min} to {max}");
        let value: Option<u64> = self.parse(name, &expected)?;
        match value {
            Some(n) if !(min..=max).contains(&n) => Err(ConfigError::Invalid {
                variable: name,
                value: n.to_string(),
                expected,
            }),
            other => Ok(other),
        }
    }

    /// A duration in seconds, fractions allowed (`0.5`), at least `min_s`.
    pub(crate) fn seconds(
        &self,
        name: &'static str,
        min_s: f64,
    ) -> Result<Option<Duration>, ConfigError> {
        let expected = format!("a number of seconds, at least {min_s}");
        let value: Option<f64> = self.parse(name, &expected)?;
        match value {
            Some(s) if !s.is_finite() || s < min_s || s > 1.0e9 => Err(ConfigError::Invalid {
                variable: name,
                value: s.to_string(),
                expected,
            }),
            Some(s) => Ok(Some(Duration::from_secs_f64(s))),
            None => Ok(None),
        }
    }
}

/// An environment of just these variables, for tests of settings.
#[cfg(test)]
pub(crate) fn fixed(vars: &[(&str, &str)]) -> impl Fn(&str) -> Result<String, VarError> + use<> {
    let vars: std::collections::HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.get(name).cloned().ok_or(VarError::NotPresent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(value: &'static str) -> impl Fn(&str) -> Result<String, VarError> {
        move |_| Ok(value.to_string())
    }

    #[test]
    fn numbers_are_checked_against_their_range() {
        let lookup = env_with("12");
        assert_eq!(Env::new(&lookup).number("N", 1, 100), Ok(Some(12)));
        let lookup = env_with("0");
        let error = Env::new(&lookup).number("N", 1, 100).unwrap_err();
        assert_eq!(
            error.to_string(),
            "N=\"0\" is not valid: expected a whole number from 1 to 100"
        );
        let lookup = env_with("ten");
        assert!(Env::new(&lookup).number("N", 1, 100).is_err());
        let lookup = env_with("  ");
        assert_eq!(Env::new(&lookup).number("N", 1, 100), Ok(None));
    }

    #[test]
    fn seconds_accept_fractions_and_refuse_nonsense() {
        let lookup = env_with("0.25");
        assert_eq!(
            Env::new(&lookup).seconds("S", 0.0),
            Ok(Some(Duration::from_millis(250)))
        );
        for bad in ["-1", "NaN", "inf", "soon"] {
            let lookup = move |_: &str| Ok(bad.to_string());
            assert!(Env::new(&lookup).seconds("S", 0.0).is_err(), "{bad}");
        }
    }
}
