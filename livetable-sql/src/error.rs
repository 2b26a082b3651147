//! Maps sqlx errors (and SQLSTATE codes) onto livetable's [`ErrorKind`]s.

use livetable_core::{Error, ErrorKind};

/// The `backend` context value of every error of this crate.
pub(crate) const BACKEND: &str = "postgres";

// Kept apart from `mysql::error::map` on purpose: the arms look alike, but database
// errors are classified by SQLSTATE here and by server error number there, the hints
// differ per server (sslmode against ssl-mode) and a protocol error is `Unexpected`
// here but a retryable `Unavailable` on MySQL, where it means a cut connection.
/// Converts a sqlx error into a livetable error with a message that says what to do.
pub(crate) fn map(err: sqlx::Error) -> Error {
    let (kind, message, retryable) = match &err {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let (kind, hint, retryable) = classify_sqlstate(&code);
            let error = Error::new(kind, format!("{}{hint}", db.message()))
                .with_retryable(retryable)
                .with_context("backend", BACKEND);
            let error = if code.is_empty() {
                error
            } else {
                error.with_context("sqlstate", code)
            };
            return error.with_source(err);
        }
        sqlx::Error::Io(io) => (
            ErrorKind::Unavailable,
            format!(
                "cannot reach PostgreSQL: {io}; check that the server runs and the URL's host and port"
            ),
            true,
        ),
        sqlx::Error::Tls(e) => (
            ErrorKind::Unavailable,
            format!(
                "TLS with PostgreSQL failed: {e}; check the URL's sslmode and the server's certificate"
            ),
            true,
        ),
        sqlx::Error::PoolTimedOut => (
            ErrorKind::Unavailable,
            "no PostgreSQL connection within the connect timeout; the server may be down, \
             unreachable or out of connections"
                .to_owned(),
            true,
        ),
        sqlx::Error::PoolClosed => (
            ErrorKind::Unavailable,
            "the PostgreSQL pool was closed".to_owned(),
            false,
        ),
        sqlx::Error::Configuration(e) => (
            ErrorKind::InvalidSpec,
            format!("invalid PostgreSQL configuration: {e}"),
            false,
        ),
        sqlx::Error::Protocol(e) => (
            ErrorKind::Unexpected,
            format!("PostgreSQL protocol error: {e}"),
            true,
        ),
        other => (
            ErrorKind::Unexpected,
            format!("PostgreSQL query failed: {other}"),
            false,
        ),
    };
    Error::new(kind, message)
        .with_retryable(retryable)
        .with_context("backend", BACKEND)
        .with_source(err)
}

/// Kind, a hint appended to the server's message, and retryability of a SQLSTATE.
fn classify_sqlstate(code: &str) -> (ErrorKind, &'static str, bool) {
    match code {
        // query_canceled: what `statement_timeout` raises.
        "57014" => (
            ErrorKind::Timeout,
            "; the statement ran longer than the statement timeout",
            true,
        ),
        "42P01" => (
            ErrorKind::InvalidSpec,
            "; check the table name (schema-qualify it if it is not on the search path)",
            false,
        ),
        "42703" => (
            ErrorKind::InvalidSpec,
            "; check the spec's column names against the table",
            false,
        ),
        // numeric_value_out_of_range: a sum that does not fit 64 bits, mostly.
        "22003" => (
            ErrorKind::Unexpected,
            "; an integer sum exceeds the 64-bit range (declare the field as float to sum it)",
            false,
        ),
        "28000" | "28P01" | "42501" => (ErrorKind::PermissionDenied, "", false),
        // Other syntax or access rule violations (wrong types in the spec, bad raw SQL),
        // unknown database or schema: fix the spec or the configuration.
        c if c.starts_with("42") || c == "3D000" || c == "3F000" => {
            (ErrorKind::InvalidSpec, "", false)
        }
        // Connection exceptions, shutdown / starting up, insufficient resources,
        // serialization failures and deadlocks: try again later.
        c if c.starts_with("08")
            || c.starts_with("53")
            || c.starts_with("57P")
            || c == "40001"
            || c == "40P01" =>
        {
            (ErrorKind::Unavailable, "", true)
        }
        _ => (ErrorKind::Unexpected, "", false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_kinds() {
        assert_eq!(classify_sqlstate("57014").0, ErrorKind::Timeout);
        assert_eq!(classify_sqlstate("42P01").0, ErrorKind::InvalidSpec);
        assert!(!classify_sqlstate("42703").2);
        assert_eq!(classify_sqlstate("42601").0, ErrorKind::InvalidSpec);
        assert_eq!(classify_sqlstate("57P01").0, ErrorKind::Unavailable);
        assert!(classify_sqlstate("08006").2);
        assert_eq!(classify_sqlstate("28P01").0, ErrorKind::PermissionDenied);
        assert_eq!(classify_sqlstate("XX000").0, ErrorKind::Unexpected);
    }

    #[test]
    fn io_errors_are_retryable_unavailable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = map(sqlx::Error::Io(io));
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_retryable());
        assert_eq!(e.context_value("backend"), Some("postgres"));
        assert_eq!(
            map(sqlx::Error::PoolTimedOut).kind(),
            ErrorKind::Unavailable
        );
    }
}
