//! One scenario, both dialects: [`Dialect`] is what PostgreSQL and MySQL / MariaDB spell
//! differently (column types, identifier quoting, "a minute ago", error codes) and how
//! to reach a backend; [`TestStore`] is a test's own database, whichever the dialect.
//!
//! Only what the shared scenarios need is here. What really differs between the two
//! (type mappings, error texts, dialect-only features) stays in each dialect's tests.

use std::time::Duration;

use livetable_core::{Aggregate, BucketQuery, Result, TableQuery};
use livetable_testkit::private_server::PrivateServer;

/// A SQL backend as the shared scenarios use it.
pub trait Dialect: Sized {
    /// The backend's aggregate query.
    type Query: TableQuery + BucketQuery + Clone + std::fmt::Debug;
    /// A private server of this dialect, for the fault scenario.
    type Server: PrivateServer;

    /// The backend's name in error contexts (`backend`), also its URL scheme.
    const NAME: &'static str;
    /// The column type of a UTC time column.
    const TIMESTAMP: &'static str;
    /// The column type of a text dimension.
    const TEXT: &'static str;
    /// The column type of a 64-bit integer.
    const BIGINT: &'static str;
    /// The column type of a 32-bit integer.
    const INT: &'static str;
    /// The quote around an identifier (doubled inside it).
    const QUOTE: char;
    /// The error context key holding the server's own error code.
    const CODE: &'static str;
    /// The server's code for an unknown table.
    const UNKNOWN_TABLE: &'static str;
    /// The server's code for an unknown column.
    const UNKNOWN_COLUMN: &'static str;

    /// An expression for the UTC time `n` `unit`s (`minute`, `second`) ago, in this
    /// dialect's [`TIMESTAMP`](Dialect::TIMESTAMP) column.
    fn ago(n: u32, unit: &str) -> String;

    /// A backend at `url` with these timeouts.
    fn connect(url: &str, connect_timeout: Duration, statement_timeout: Duration) -> Self;

    /// The aggregate query of `spec` over `table`.
    fn query(&self, table: &str, spec: Aggregate) -> Result<Self::Query>;

    /// Runs a statement with no parameter; panics naming it when it fails.
    async fn exec(&self, sql: &str);

    /// A `SELECT COUNT(*)` of `table`.
    async fn count(&self, table: &str) -> i64;

    /// Closes the backend's connections.
    async fn close(&self);

    /// `name` quoted as one identifier.
    fn quote(name: &str) -> String {
        let q = Self::QUOTE;
        format!("{q}{}{q}", name.replace(q, &format!("{q}{q}")))
    }
}

/// A string literal, quotes doubled: the same in both dialects (PostgreSQL's standard
/// strings, MySQL without backslashes in `s`).
pub fn literal(s: &str) -> String {
    assert!(
        !s.contains('\\'),
        "MySQL reads a backslash as an escape: {s}"
    );
    format!("'{}'", s.replace('\'', "''"))
}

/// A test's own database on the shared server, dropped by a passing test.
pub trait TestStore: Sized {
    /// Its dialect.
    type Backend: Dialect;

    /// Connects and creates a fresh namespace; `None` (after a notice) when the server
    /// is unreachable and services are not required.
    async fn new(name: &str) -> Option<Self>;

    /// The backend, connected to the shared server.
    fn backend(&self) -> &Self::Backend;

    /// The schema (PostgreSQL) or database (MySQL) holding the test's tables.
    fn namespace(&self) -> &str;

    /// Drops the namespace (call at the end of a passing test).
    async fn drop(self);

    /// `namespace.table`.
    fn table(&self, name: &str) -> String {
        format!("{}.{name}", self.namespace())
    }

    /// [`Dialect::exec`] on the backend.
    async fn exec(&self, sql: &str) {
        self.backend().exec(sql).await;
    }

    /// [`Dialect::count`] on the backend.
    async fn count(&self, table: &str) -> i64 {
        self.backend().count(table).await
    }

    /// [`Dialect::query`] on the backend.
    fn query(&self, table: &str, spec: Aggregate) -> Result<<Self::Backend as Dialect>::Query> {
        self.backend().query(table, spec)
    }
}
