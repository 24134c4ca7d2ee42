//! Whether PostgreSQL reuses the space of the jobs the driver deletes.
//! Every job is a row inserted, updated and deleted; only vacuum makes the
//! space of deleted rows reusable, and the driver leaves that to
//! autovacuum (with eager settings for its table, see `schema`). Without
//! autovacuum the table keeps every job it ever held, so the driver says so
//! when it first meets its tables.

use super::schema::Tables;
use sqlx::PgConnection;

/// The warning to log, if autovacuum will not visit `t`'s jobs table;
/// `server` names the server (password masked).
pub(super) async fn warning(
    connection: &mut PgConnection,
    t: &Tables,
    server: &str,
) -> Result<Option<String>, sqlx::Error> {
    let (server_on, table): (bool, Option<String>) = sqlx::query_as(
        "SELECT current_setting('autovacuum') = 'on',
                (SELECT option_value FROM pg_options_to_table(c.reloptions)
                 WHERE option_name = 'autovacuum_enabled')
         FROM pg_class c WHERE c.oid = $1::regclass",
    )
    .bind(&t.jobs)
    .fetch_one(connection)
    .await?;
    let table_on = table.as_deref().is_none_or(is_true);
    Ok(message(server_on, table_on, &t.jobs, server))
}

fn message(server_on: bool, table_on: bool, jobs: &str, server: &str) -> Option<String> {
    let whose = match (server_on, table_on) {
        (true, true) => return None,
        (false, _) => "on the server",
        (true, false) => "for the table",
    };
    Some(format!(
        "autovacuum is off {whose} (PostgreSQL at {server}): the space of the jobs deleted from \
         {jobs} is never reused, so the table grows with every job it ever held; turn autovacuum \
         on, or run `VACUUM {jobs}` regularly"
    ))
}

/// PostgreSQL's reading of a boolean storage parameter (`true`, `on`,
/// `yes`, `1` and their prefixes).
fn is_true(value: &str) -> bool {
    let value = value.to_ascii_lowercase();
    value == "on"
        || ["true", "yes", "1"]
            .iter()
            .any(|t| t.starts_with(&value) && !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_server_or_table_without_autovacuum_is_warned_about() {
        let warn = |server_on, table_on| message(server_on, table_on, "s.jobs", "postgres://db");
        assert_eq!(warn(true, true), None);
        assert!(
            warn(false, true)
                .unwrap()
                .starts_with("autovacuum is off on the server")
        );
        assert!(warn(true, false).unwrap().contains("off for the table"));
        assert!(warn(true, false).unwrap().contains("`VACUUM s.jobs`"));
        for on in ["true", "on", "yes", "1", "t", "TRUE"] {
            assert!(is_true(on), "{on}");
        }
        for off in ["false", "off", "no", "0", "f", ""] {
            assert!(!is_true(off), "{off}");
        }
    }
}
