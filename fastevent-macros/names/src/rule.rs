//! Which registered names (events, listeners, queues, queue prefixes) are
//! valid. They travel in job envelopes, log lines, metric labels, SQL rows
//! and broker queue names, so they keep to an alphabet that none of those
//! needs to quote or escape, and to a bounded length.

use std::fmt;

/// The longest valid name, in characters (all of them ASCII, so bytes too).
pub const MAX_NAME_LEN: usize = 200;

/// The characters a name may use, as error messages say it.
pub const NAME_ALPHABET: &str = "letters, digits, `_`, `.`, `-` and `:`";

/// Whether `name` is a valid registered name: non-empty, at most
/// [`MAX_NAME_LEN`] characters, each an ASCII letter or digit or one of
/// `_ . - :`.
///
/// ```
/// assert!(fastevent_names::valid_name("billing.invoice_paid"));
/// assert!(!fastevent_names::valid_name("invoice paid"));
/// ```
pub fn valid_name(name: &str) -> bool {
    check_name(name).is_ok()
}

/// [`valid_name`], saying what is wrong with an invalid name.
pub fn check_name(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if let Some(character) = name.chars().find(|&c| !in_alphabet(c)) {
        return Err(NameProblem::Character(character));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameProblem::TooLong(name.len()));
    }
    Ok(())
}

fn in_alphabet(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':')
}

/// Why a name is not valid. Its text completes "the name ...":
/// "the name is empty".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    /// The name is empty.
    Empty,
    /// The first character outside the alphabet.
    Character(char),
    /// The name's length, over [`MAX_NAME_LEN`].
    TooLong(usize),
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Empty => write!(f, "is empty"),
            NameProblem::Character(c) => {
                write!(f, "contains {c:?}: use only {NAME_ALPHABET}")
            }
            NameProblem::TooLong(len) => {
                write!(f, "is {len} characters long: the limit is {MAX_NAME_LEN}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_alphabet_up_to_the_limit_are_valid() {
        for name in ["a", "new_chat", "billing.invoice_paid", "q-1:high", "A9"] {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
        assert!(valid_name(&"x".repeat(MAX_NAME_LEN)));
    }

    #[test]
    fn each_problem_is_named() {
        assert_eq!(check_name(""), Err(NameProblem::Empty));
        assert_eq!(check_name("new chat"), Err(NameProblem::Character(' ')));
        assert_eq!(check_name("jobs~x"), Err(NameProblem::Character('~')));
        assert_eq!(check_name("événement"), Err(NameProblem::Character('é')));
        assert_eq!(check_name("a/b"), Err(NameProblem::Character('/')));
        let long = "x".repeat(MAX_NAME_LEN + 1);
        assert_eq!(check_name(&long), Err(NameProblem::TooLong(201)));
        assert!(!valid_name(&long));
    }

    #[test]
    fn problems_read_as_the_end_of_a_sentence() {
        assert_eq!(NameProblem::Empty.to_string(), "is empty");
        assert_eq!(
            NameProblem::Character(' ').to_string(),
            "contains ' ': use only letters, digits, `_`, `.`, `-` and `:`"
        );
        assert_eq!(
            NameProblem::TooLong(201).to_string(),
            "is 201 characters long: the limit is 200"
        );
    }
}
