//! The `fastevent` command-line tool, for the developer rather than the
//! running application: `fastevent make event NewChatEvent` and
//! `fastevent make listener GenerateChatTitle --event NewChatEvent` write
//! skeletons into the crate in the current directory. (The commands that run
//! and inspect queues are compiled into the application itself: see
//! `fastevent::cli`.)
//!
//! Exit codes: 0 done, 1 failed (one line on standard error says why), 2
//! usage error.

#![warn(unreachable_pub)]

// The binary's own part of the front layer (the library's is `cli`).
mod front {
    pub(crate) mod scaffold;
}

fn main() -> std::process::ExitCode {
    front::scaffold::run(std::env::args_os())
}
