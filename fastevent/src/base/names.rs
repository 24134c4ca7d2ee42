//! The rule every registered name follows (events, listeners, queues and
//! the prefixes of broker queue names): non-empty, at most
//! [`MAX_NAME_LEN`] characters, each an ASCII letter or digit or one of
//! `_ . - :`. The macros check names written in code by the same rule, so
//! a driver that checks a configured name with [`valid_name`] or
//! [`check_name`] accepts exactly the names a listener can be given.
//!
//! ```
//! use fastevent::names::{check_name, valid_name};
//!
//! assert!(valid_name("billing.emails"));
//! let problem = check_name("my queue").unwrap_err();
//! assert_eq!(
//!     format!("the name {problem}"),
//!     "the name contains ' ': use only letters, digits, `_`, `.`, `-` and `:`"
//! );
//! ```

pub use fastevent_names::{MAX_NAME_LEN, NAME_ALPHABET, NameProblem, check_name, valid_name};
