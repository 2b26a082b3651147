//! Maps sqlx's MySQL errors (server error numbers) onto livetable's [`ErrorKind`]s.

use livetable_core::{Error, ErrorKind};
use sqlx::mysql::MySqlDatabaseError;

/// The `backend` context value of every MySQL error of this crate.
pub(crate) const BACKEND: &str = "mysql";

// Kept apart from `crate::error::map` on purpose: see the note there (error numbers
// against SQLSTATEs, per-server hints, protocol errors retryable here).
/// Converts a sqlx error into a livetable error with a message that says what to do.
pub(crate) fn map(err: sqlx::Error) -> Error {
    let (kind, message, retryable) = match &err {
        sqlx::Error::Database(db) => {
            let number = db
                .try_downcast_ref::<MySqlDatabaseError>()
                .map(MySqlDatabaseError::number);
            let (kind, hint, retryable) =
                number.map_or((ErrorKind::Unexpected, "", false), classify);
            let error = Error::new(kind, format!("{}{hint}", db.message()))
                .with_retryable(retryable)
                .with_context("backend", BACKEND);
            let error = match number {
                Some(n) => error.with_context("mysql_error", n.to_string()),
                None => error,
            };
            return error.with_source(err);
        }
        // A connection reset or closed mid-statement: the server went away (2006 / 2013
        // in the C client) or is restarting.
        sqlx::Error::Io(io) => (
            ErrorKind::Unavailable,
            format!(
                "cannot reach MySQL (the server went away or refused the connection): {io}; \
                 check that the server runs and the URL's host and port"
            ),
            true,
        ),
        sqlx::Error::Tls(e) => (
            ErrorKind::Unavailable,
            format!("TLS with MySQL failed: {e}; check the URL's ssl-mode and the certificate"),
            true,
        ),
        sqlx::Error::PoolTimedOut => (
            ErrorKind::Unavailable,
            "no MySQL connection within the connect timeout; the server may be down, \
             unreachable or out of connections"
                .to_owned(),
            true,
        ),
        sqlx::Error::PoolClosed => (
            ErrorKind::Unavailable,
            "the MySQL pool was closed".to_owned(),
            false,
        ),
        sqlx::Error::Configuration(e) => (
            ErrorKind::InvalidSpec,
            format!("invalid MySQL configuration: {e}"),
            false,
        ),
        sqlx::Error::Protocol(e) => (
            ErrorKind::Unavailable,
            format!("MySQL protocol error (the connection may have been cut): {e}"),
            true,
        ),
        other => (
            ErrorKind::Unexpected,
            format!("MySQL query failed: {other}"),
            false,
        ),
    };
    Error::new(kind, message)
        .with_retryable(retryable)
        .with_context("backend", BACKEND)
        .with_source(err)
}

/// Kind, a hint appended to the server's message, and retryability of a server error
/// number (MySQL's and MariaDB's share these).
fn classify(number: u16) -> (ErrorKind, &'static str, bool) {
    match number {
        // ER_DBACCESS_DENIED, ER_ACCESS_DENIED, ER_TABLEACCESS_DENIED,
        // ER_COLUMNACCESS_DENIED, ER_SPECIFIC_ACCESS_DENIED.
        1044 | 1045 | 1142 | 1143 | 1227 => (
            ErrorKind::PermissionDenied,
            "; check the user, password and grants in the URL",
            false,
        ),
        // ER_NO_SUCH_TABLE.
        1146 => (
            ErrorKind::InvalidSpec,
            "; check the table name (qualify it as database.table if it is in another \
             database)",
            false,
        ),
        // ER_BAD_FIELD_ERROR.
        1054 => (
            ErrorKind::InvalidSpec,
            "; check the spec's column names against the table",
            false,
        ),
        // ER_BAD_DB_ERROR, ER_PARSE_ERROR, ER_WRONG_ARGUMENTS and other statement errors.
        1049 | 1064 | 1210 | 1052 | 1055 | 1056 | 1247 => (ErrorKind::InvalidSpec, "", false),
        // ER_LOCK_WAIT_TIMEOUT.
        1205 => (
            ErrorKind::Timeout,
            "; another transaction holds a lock the statement waits for",
            true,
        ),
        // MariaDB's max_statement_time (ER_STATEMENT_TIMEOUT), MySQL's
        // max_execution_time (ER_QUERY_TIMEOUT).
        1969 | 3024 => (
            ErrorKind::Timeout,
            "; the statement ran longer than the statement timeout",
            true,
        ),
        // ER_LOCK_DEADLOCK, ER_CON_COUNT_ERROR, ER_TOO_MANY_USER_CONNECTIONS,
        // ER_SERVER_SHUTDOWN, ER_QUERY_INTERRUPTED, ER_CONNECTION_KILLED,
        // ER_NET_READ_ERROR …: try again later.
        1213 | 1040 | 1203 | 1053 | 1317 | 1927 | 1152 | 1158..=1161 | 2006 | 2013 => {
            (ErrorKind::Unavailable, "", true)
        }
        // ER_DATA_OUT_OF_RANGE, ER_WARN_DATA_OUT_OF_RANGE.
        1690 | 1264 => (
            ErrorKind::Unexpected,
            "; a value exceeds the 64-bit range (declare the field as float to sum it)",
            false,
        ),
        _ => (ErrorKind::Unexpected, "", false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_numbers_map_to_kinds() {
        assert_eq!(classify(1045).0, ErrorKind::PermissionDenied);
        assert_eq!(classify(1146).0, ErrorKind::InvalidSpec);
        assert_eq!(classify(1054).0, ErrorKind::InvalidSpec);
        assert_eq!(classify(1205).0, ErrorKind::Timeout);
        assert!(classify(1205).2);
        assert_eq!(classify(1969).0, ErrorKind::Timeout);
        assert_eq!(classify(1927).0, ErrorKind::Unavailable);
        assert_eq!(classify(9999).0, ErrorKind::Unexpected);
    }

    #[test]
    fn io_errors_are_retryable_unavailable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let e = map(sqlx::Error::Io(io));
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_retryable());
        assert_eq!(e.context_value("backend"), Some("mysql"));
    }
}
