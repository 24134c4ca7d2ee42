//! The naming rules of fastevent, in one place: which registered names are
//! valid, and how a type's name becomes an event or listener name.
//!
//! Three crates apply these rules: the procedural macros (they check
//! `#[event(name = ...)]` and `#[listener(queue = ...)]` at compile time and
//! derive default names), the runtime (it checks queue names read from the
//! environment) and the `fastevent make` scaffold (it names files as the
//! macros name events). A proc-macro crate can export nothing but macros, so
//! the rules cannot live in `fastevent-macros` and be called from
//! `fastevent`; and `fastevent-macros` cannot depend on `fastevent`, which
//! depends on it. This small crate, without dependencies, is what both
//! depend on, so the rules exist once and the three cannot drift apart.
//! Users never depend on it directly.

#![warn(missing_docs)]
// Public is what users and driver authors reach; the rest is `pub(crate)`.
#![warn(unreachable_pub)]

mod rule;
mod snake;

pub use rule::{MAX_NAME_LEN, NAME_ALPHABET, NameProblem, check_name, valid_name};
pub use snake::{event_name, snake_case};
