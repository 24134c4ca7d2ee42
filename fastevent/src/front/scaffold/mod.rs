//! `fastevent make event|listener NAME`: writes a skeleton into the crate
//! in the current directory and declares it in its folder's `mod.rs`. A
//! name or a place that would not work is refused before anything is
//! written.
//!
//! Exit codes scripts can rely on: 0 when the files were written, 1 when
//! nothing was (the reason is one line on standard error), 2 for a usage
//! error.

mod destination;
mod hints;
mod ident;
mod make;
mod module_file;
mod names;
mod templates;
mod write;

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_CODES: &str = "Exit codes: 0 done, 1 failed and nothing was written (one line on \
standard error says why), 2 usage error.";

const NAMES: &str = "\
Names: PascalCase is the type's name as given, and its file is the snake case of it \
(NewChatEvent -> new_chat_event.rs, HTTPServer -> http_server.rs). Other names are split at \
`_` and each part capitalized (generate_chat_title -> GenerateChatTitle in \
generate_chat_title.rs). A name that is not a Rust identifier after conversion, a Rust keyword, \
or contains `-` is refused, and so is an existing file.

--path DIR is relative to the current directory and must stay inside it. The folder's module \
file (DIR/mod.rs, or DIR.rs when the crate has one) is created if missing, and gets `pub mod \
<file>;` at its sorted place; for an event also `pub use <file>::<Type>;` (listeners are not \
re-exported: nothing names them, #[listener] wires them).";

/// The command line of the `fastevent` tool.
#[derive(Debug, Parser)]
#[command(
    name = "fastevent",
    version,
    about = "Write fastevent events and listeners into the crate in the current directory",
    after_help = EXIT_CODES,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a new event or listener skeleton into this crate.
    #[command(subcommand, arg_required_else_help = true, after_help = EXIT_CODES)]
    Make(Make),
}

#[derive(Debug, Subcommand)]
enum Make {
    /// Write src/events/<name>.rs, an event with no fields yet, and declare
    /// it in src/events/mod.rs.
    #[command(after_help = format!("{NAMES}\n\n{EXIT_CODES}"))]
    Event(EventArgs),
    /// Write src/listeners/<name>.rs, a listener of --event, and declare it
    /// in src/listeners/mod.rs.
    #[command(after_help = format!("{NAMES}\n\n{EXIT_CODES}"))]
    Listener(ListenerArgs),
}

#[derive(Debug, Args)]
struct EventArgs {
    /// The event's name: NewChatEvent or new_chat_event.
    name: String,
    /// The folder to write to, relative to the current directory.
    #[arg(long, value_name = "DIR", default_value = "src/events")]
    path: PathBuf,
}

#[derive(Debug, Args)]
struct ListenerArgs {
    /// The listener's name: GenerateChatTitle or generate_chat_title.
    name: String,
    /// The event it listens to, named as for `make event` (required: a
    /// listener without one does not compile). It is imported from
    /// crate::events::<its file>, where `make event` puts it.
    #[arg(long, value_name = "EVENT")]
    event: String,
    /// The folder to write to, relative to the current directory.
    #[arg(long, value_name = "DIR", default_value = "src/listeners")]
    path: PathBuf,
}

/// Parses `args` (the program name first) and runs the command in the
/// current directory.
pub(crate) fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are "errors" that exit 0.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let result = std::env::current_dir()
        .map_err(|error| MakeError(format!("cannot read the current directory: {error}")))
        .and_then(|cwd| match &cli.command {
            Command::Make(Make::Event(args)) => make::event(&cwd, &args.name, &args.path),
            Command::Make(Make::Listener(args)) => {
                make::listener(&cwd, &args.name, &args.event, &args.path)
            }
        });
    match result {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            // Every failure is found before writing, or undoes the writing.
            eprintln!("error: {error}; nothing was written");
            ExitCode::FAILURE
        }
    }
}

/// Why the command failed, and so wrote nothing: one line, exit code 1.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MakeError(String);

impl fmt::Display for MakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new, empty folder for one test.
#[cfg(test)]
fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fastevent-make-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn usage_errors_are_exit_code_2_and_help_is_0() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(args)
                .map(|_| ())
                .map_err(|e| e.exit_code())
        };
        assert_eq!(parse(&["fastevent"]), Err(2));
        assert_eq!(parse(&["fastevent", "make"]), Err(2));
        assert_eq!(parse(&["fastevent", "make", "model", "Chat"]), Err(2));
        assert_eq!(parse(&["fastevent", "make", "event"]), Err(2));
        assert_eq!(
            parse(&["fastevent", "make", "listener", "GenerateChatTitle"]),
            Err(2)
        );
        for help in [
            &["fastevent", "--help"][..],
            &["fastevent", "make", "--help"],
            &["fastevent", "make", "event", "--help"],
            &["fastevent", "make", "listener", "--help"],
            &["fastevent", "--version"],
        ] {
            assert_eq!(parse(help), Err(0), "{help:?}");
        }
        assert_eq!(
            parse(&["fastevent", "make", "event", "NewChatEvent"]),
            Ok(())
        );
    }

    #[test]
    fn an_event_and_its_listener_are_written_and_declared() {
        let cwd = test_dir("make-both");
        std::fs::create_dir_all(cwd.join("src")).unwrap();
        std::fs::write(cwd.join("src/main.rs"), "mod events;\nfn main() {}\n").unwrap();
        let lines = make::event(&cwd, "NewChatEvent", "src/events".as_ref()).unwrap();
        assert_eq!(
            lines,
            [
                "Created src/events/new_chat_event.rs",
                "Created src/events/mod.rs"
            ]
        );
        let lines = make::listener(
            &cwd,
            "generate_chat_title",
            "NewChatEvent",
            "src/listeners".as_ref(),
        )
        .unwrap();
        assert_eq!(
            lines,
            [
                "Created src/listeners/generate_chat_title.rs",
                "Created src/listeners/mod.rs",
                "hint: src/main.rs does not declare the module yet: add `mod listeners;` to it",
            ]
        );
        let listener =
            std::fs::read_to_string(cwd.join("src/listeners/generate_chat_title.rs")).unwrap();
        assert!(listener.contains("pub struct GenerateChatTitle;"));
    }

    #[test]
    fn refused_names_write_nothing() {
        let cwd = test_dir("make-refused");
        for name in [
            "",
            "type",
            "Self",
            "async",
            "user-registered",
            "2fa",
            "Event",
        ] {
            let error = make::event(&cwd, name, "src/events".as_ref()).unwrap_err();
            assert!(error.0.starts_with("invalid event name: "), "{error}");
        }
        let error = make::listener(&cwd, "Audit", "new-chat", "src/listeners".as_ref());
        assert!(error.unwrap_err().0.starts_with("invalid --event name: "));
        let error = make::listener(&cwd, "Ok", "NewChatEvent", "src/listeners".as_ref());
        assert!(
            error
                .unwrap_err()
                .0
                .contains("`Ok` is a name the listener's file")
        );
        assert_eq!(std::fs::read_dir(&cwd).unwrap().count(), 0);
    }
}
