//! MySQL / MariaDB test support: a fresh database per test, and loading events.
//!
//! Each test gets its own database (`lt_<name>_<pid>_<n>`) on the server of `MYSQL_URL`
//! (default `mysql://root@127.0.0.1/test`), dropped when the test ends well and kept
//! for inspection when it fails. When the server cannot be reached the test prints a
//! notice and passes, unless `LIVETABLE_REQUIRE_SERVICES=1` (CI), where it fails.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use livetable_core::{Aggregate, DataType, Result, Value};
use livetable_sql::sqlx::mysql::MySqlArguments;
use livetable_sql::sqlx::{self, Arguments as _, AssertSqlSafe};
use livetable_sql::{MySqlAggregate, MySqlBackend};
use livetable_testkit::private_server::PrivateMariaDb;

use super::{Dialect, TestStore};

/// The server URL (`MYSQL_URL`, default `mysql://root@127.0.0.1/test`).
pub fn mysql_url() -> String {
    std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1/test".into())
}

/// How a test table stores IP addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpAs {
    /// MariaDB's INET6.
    Inet6,
    /// VARBINARY(16) holding INET6_ATON bytes.
    Binary,
    /// VARCHAR(45) text.
    Text,
}

/// A database of its own on the test server.
pub struct TestDb {
    pub db: MySqlBackend,
    pub name: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    /// Creates `table` with `columns` (IPs stored as `ip`) and inserts `events`, 500
    /// rows per statement.
    pub async fn load(
        &self,
        table: &str,
        columns: &[(&str, DataType)],
        events: &[Vec<Value>],
        ip: IpAs,
    ) {
        let defs: Vec<String> = columns
            .iter()
            .map(|(n, t)| format!("`{n}` {}", mysql_type(*t, ip)))
            .collect();
        self.exec(&format!("CREATE TABLE {table} ({})", defs.join(", ")))
            .await;
        let names: Vec<String> = columns.iter().map(|(n, _)| format!("`{n}`")).collect();
        let row = format!("({})", vec!["?"; columns.len()].join(", "));
        for chunk in events.chunks(500) {
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES {}",
                names.join(", "),
                vec![row.as_str(); chunk.len()].join(", ")
            );
            let mut args = MySqlArguments::default();
            for event in chunk {
                for v in event {
                    bind(&mut args, v, ip);
                }
            }
            sqlx::query_with(AssertSqlSafe(sql), args)
                .execute(self.db.pool())
                .await
                .unwrap_or_else(|e| panic!("load {table}: {e}"));
        }
    }
}

/// Binds one value as the test tables store it.
pub fn bind(args: &mut MySqlArguments, v: &Value, ip: IpAs) {
    let added = match v {
        // A typeless NULL: a string NULL converts to every column type, INET6 too.
        Value::Null => args.add(Option::<String>::None),
        Value::Bool(b) => args.add(*b),
        Value::Int(i) => args.add(*i),
        Value::Float(f) => args.add(*f),
        Value::Text(s) => args.add(s.to_string()),
        Value::Timestamp(t) => args.add(t.naive_utc()),
        Value::Ip(addr) => match (ip, addr) {
            (IpAs::Binary, IpAddr::V4(a)) => args.add(a.octets().to_vec()),
            (IpAs::Binary, IpAddr::V6(a)) => args.add(a.octets().to_vec()),
            (IpAs::Inet6, IpAddr::V4(a)) => args.add(format!("::ffff:{a}")),
            (_, a) => args.add(a.to_string()),
        },
    };
    added.expect("encode a value");
}

/// The MySQL type a livetable type is stored as in the test tables.
pub fn mysql_type(t: DataType, ip: IpAs) -> &'static str {
    match (t, ip) {
        (DataType::Bool, _) => "BOOLEAN",
        (DataType::Int, _) => "BIGINT",
        (DataType::Float, _) => "DOUBLE",
        (DataType::Text, _) => "VARCHAR(255)",
        (DataType::Timestamp, _) => "DATETIME(3)",
        (DataType::Ip, IpAs::Inet6) => "INET6",
        (DataType::Ip, IpAs::Binary) => "VARBINARY(16)",
        (DataType::Ip, IpAs::Text) => "VARCHAR(45)",
        (other, _) => panic!("no MySQL type for {other}"),
    }
}

impl TestStore for TestDb {
    type Backend = MySqlBackend;

    async fn new(name: &str) -> Option<Self> {
        let url = mysql_url();
        let db = MySqlBackend::builder()
            .url(&url)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("a valid MYSQL_URL");
        if let Err(e) = sqlx::query("SELECT 1").execute(db.pool()).await {
            livetable_testkit::services::missing(
                "MySQL",
                format_args!("{url} is unreachable ({e}); set MYSQL_URL ({name})"),
            );
            return None;
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let database = format!("lt_{name}_{}_{n}", std::process::id());
        for sql in [
            format!("DROP DATABASE IF EXISTS {database}"),
            // The server's default collation (case- and accent-insensitive), on purpose.
            format!("CREATE DATABASE {database}"),
        ] {
            sqlx::query(AssertSqlSafe(sql))
                .execute(db.pool())
                .await
                .expect("create the test database");
        }
        Some(TestDb { db, name: database })
    }

    fn backend(&self) -> &MySqlBackend {
        &self.db
    }

    fn namespace(&self) -> &str {
        &self.name
    }

    async fn drop(self) {
        self.exec(&format!("DROP DATABASE {}", self.name)).await;
        self.db.pool().close().await;
    }
}

impl Dialect for MySqlBackend {
    type Query = MySqlAggregate;
    type Server = PrivateMariaDb;

    const NAME: &'static str = "mysql";
    const TIMESTAMP: &'static str = "DATETIME(3)";
    const TEXT: &'static str = "TEXT";
    const BIGINT: &'static str = "BIGINT";
    const INT: &'static str = "INT";
    const QUOTE: char = '`';
    const CODE: &'static str = "mysql_error";
    const UNKNOWN_TABLE: &'static str = "1146";
    const UNKNOWN_COLUMN: &'static str = "1054";

    fn ago(n: u32, unit: &str) -> String {
        // DATETIME holds UTC wall-clock times (the backend's sessions are in UTC).
        format!("UTC_TIMESTAMP(3) - INTERVAL {n} {unit}")
    }

    fn connect(url: &str, connect_timeout: Duration, statement_timeout: Duration) -> Self {
        MySqlBackend::builder()
            .url(url)
            .connect_timeout(connect_timeout)
            .statement_timeout(statement_timeout)
            .build()
            .expect("a valid MySQL URL")
    }

    fn query(&self, table: &str, spec: Aggregate) -> Result<MySqlAggregate> {
        self.aggregate(table, spec)
    }

    async fn exec(&self, sql: &str) {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(self.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(self.pool())
            .await
            .unwrap_or_else(|e| panic!("count {table}: {e}"))
    }

    async fn close(&self) {
        self.pool().close().await;
    }
}
