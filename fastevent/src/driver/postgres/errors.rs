//! What the driver says when PostgreSQL fails it: which server, and what
//! to do, not only the client's words.

use super::options::masked;
use std::time::Duration;

/// `error`, for a person reading a log, about the server at `url`.
pub(super) fn describe(error: &sqlx::Error, url: &str, timeout: Duration) -> String {
    let server = masked(url);
    match error {
        sqlx::Error::PoolTimedOut => format!(
            "no connection to PostgreSQL at {server} within {:.1} s (FASTEVENT_POSTGRES_TIMEOUT_S): is the server up and reachable?",
            timeout.as_secs_f64()
        ),
        // An established connection cut by the server's end (its process
        // died or restarts): the statement in flight may have committed.
        sqlx::Error::Io(io) if broke_off(io.kind()) => format!(
            "the connection to PostgreSQL at {server} broke off ({io}): is the server shutting down or restarting?"
        ),
        sqlx::Error::Io(io) => format!("cannot reach PostgreSQL at {server}: {io}"),
        sqlx::Error::Tls(tls) => format!("TLS with PostgreSQL at {server} failed: {tls}"),
        // Seen from a server going down mid-handshake (a crash on a full
        // disk): "unexpected response from SSLRequest: 0x00".
        sqlx::Error::Protocol(what) => format!(
            "the connection to PostgreSQL at {server} broke off ({what}): is the server shutting down or restarting?"
        ),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01" | "28000") => {
                format!("PostgreSQL at {server} refused the login: {}", db.message())
            }
            Some("3D000") => format!("PostgreSQL at {server}: {}", db.message()),
            // disk_full: the server's own text may not say so ("could not
            // extend file ...: wrote only 4096 of 8192 bytes at block 1126").
            Some("53100") => format!(
                "PostgreSQL at {server} is out of disk space: {} (free space on the server's disk)",
                db.message()
            ),
            Some("42501") => format!(
                "PostgreSQL at {server}: {} (the driver creates its tables on first use: grant the user CREATE on the schema, or run it once as a user that may)",
                db.message()
            ),
            _ => format!("PostgreSQL at {server}: {}", db.message()),
        },
        other => format!("PostgreSQL at {server}: {other}"),
    }
}

fn broke_off(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    matches!(
        kind,
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(error: sqlx::Error) -> String {
        let url = "postgres://app:s3cret@db:5432/app";
        describe(&error, url, Duration::from_secs(2))
    }

    #[test]
    fn each_kind_of_failure_names_the_server_without_its_password_and_says_what_happened() {
        let protocol = described(sqlx::Error::Protocol(
            "unexpected response from SSLRequest: 0x00".into(),
        ));
        assert_eq!(
            protocol,
            "the connection to PostgreSQL at postgres://app:***@db:5432/app broke off \
             (unexpected response from SSLRequest: 0x00): is the server shutting down or restarting?"
        );
        let timeout = described(sqlx::Error::PoolTimedOut);
        assert!(timeout.starts_with("no connection to PostgreSQL at postgres://app:***@db"));
        assert!(timeout.contains("within 2.0 s (FASTEVENT_POSTGRES_TIMEOUT_S)"));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let io = described(sqlx::Error::Io(refused));
        assert!(
            io.starts_with("cannot reach PostgreSQL at postgres://app:***@db"),
            "{io}"
        );
    }

    #[test]
    fn a_connection_cut_midway_is_not_called_unreachable() {
        // What rustls says when the server's process dies under it.
        let cut = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "peer closed connection without sending TLS close_notify",
        );
        for error in [
            cut,
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
            std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        ] {
            let said = described(sqlx::Error::Io(error));
            let broke_off =
                "the connection to PostgreSQL at postgres://app:***@db:5432/app broke off (";
            assert!(said.starts_with(broke_off), "{said}");
            assert!(
                said.ends_with("is the server shutting down or restarting?"),
                "{said}"
            );
        }
    }
}
