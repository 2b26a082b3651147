//! PostgreSQL test support: a fresh schema per test, and loading events.
//!
//! Each test gets its own schema (`lt_<name>_<pid>_<n>`) in the `DATABASE_URL`
//! database, rather than `#[sqlx::test]`'s database per test: that attribute needs
//! sqlx's `macros` and `migrate` features (proc-macro build time for every build of the
//! crate), and a schema is cheaper to create than a database while isolating tests
//! just as well. The schema is dropped when the test ends well and kept for inspection
//! when it fails.
//!
//! When the database cannot be reached the test prints a notice and passes, unless
//! `LIVETABLE_REQUIRE_SERVICES=1` (CI), where it fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use livetable_core::{Aggregate, DataType, Result, Value};
use livetable_sql::{PgAggregate, PgBackend};
use livetable_testkit::private_server::PrivatePostgres;
use sqlx::{Arguments, AssertSqlSafe, postgres::PgArguments};

use super::{Dialect, TestStore};

/// The database URL (`DATABASE_URL`, default `postgres://root@127.0.0.1/test`).
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1/test".into())
}

/// A schema of its own in the test database.
pub struct TestDb {
    pub pg: PgBackend,
    pub schema: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    /// Creates `table` with `columns` and inserts `events` with one `INSERT … SELECT
    /// FROM UNNEST(…)` per 5,000 rows (one typed array parameter per column).
    pub async fn load(&self, table: &str, columns: &[(&str, DataType)], events: &[Vec<Value>]) {
        let defs: Vec<String> = columns
            .iter()
            .map(|(n, t)| format!("\"{n}\" {}", pg_type(*t)))
            .collect();
        self.exec(&format!("CREATE TABLE {table} ({})", defs.join(", ")))
            .await;
        self.insert(table, columns, events).await;
    }

    /// Inserts `events` into an existing `table` of `columns`, as [`TestDb::load`] does.
    pub async fn insert(&self, table: &str, columns: &[(&str, DataType)], events: &[Vec<Value>]) {
        let names: Vec<String> = columns.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        let arrays: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, t))| format!("${}::{}[]", i + 1, pg_type(*t)))
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT * FROM UNNEST({})",
            names.join(", "),
            arrays.join(", ")
        );
        for chunk in events.chunks(5_000) {
            let mut args = PgArguments::default();
            for (i, (_, t)) in columns.iter().enumerate() {
                let cells = chunk.iter().map(|e| &e[i]);
                let added = match t {
                    DataType::Bool => args.add(
                        cells
                            .map(|v| match v {
                                Value::Bool(b) => Some(*b),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    DataType::Int => args.add(cells.map(Value::as_i64).collect::<Vec<_>>()),
                    DataType::Float => args.add(
                        cells
                            .map(|v| match v {
                                Value::Float(f) => Some(*f),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    DataType::Text => args.add(
                        cells
                            .map(|v| v.as_str().map(str::to_owned))
                            .collect::<Vec<_>>(),
                    ),
                    DataType::Timestamp => args.add(
                        cells
                            .map(|v| match v {
                                Value::Timestamp(t) => Some(*t),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    DataType::Ip => args.add(
                        cells
                            .map(|v| match v {
                                Value::Ip(ip) => Some(*ip),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    other => panic!("no PostgreSQL type for {other}"),
                };
                added.expect("encode a column");
            }
            sqlx::query_with(AssertSqlSafe(sql.clone()), args)
                .execute(self.pg.pool())
                .await
                .unwrap_or_else(|e| panic!("load {table}: {e}"));
        }
    }
}

/// The PostgreSQL type a livetable type is stored as.
pub fn pg_type(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "bool",
        DataType::Int => "int8",
        DataType::Float => "float8",
        DataType::Text => "text",
        DataType::Timestamp => "timestamptz",
        DataType::Ip => "inet",
        other => panic!("no PostgreSQL type for {other}"),
    }
}

impl TestStore for TestDb {
    type Backend = PgBackend;

    async fn new(name: &str) -> Option<Self> {
        let url = database_url();
        let pg = PgBackend::builder()
            .url(&url)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("a valid DATABASE_URL");
        if let Err(e) = sqlx::query("SELECT 1").execute(pg.pool()).await {
            livetable_testkit::services::missing(
                "PostgreSQL",
                format_args!("{url} is unreachable ({e}); set DATABASE_URL ({name})"),
            );
            return None;
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let schema = format!("lt_{name}_{}_{n}", std::process::id());
        for sql in [
            format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
            format!("CREATE SCHEMA {schema}"),
        ] {
            sqlx::query(AssertSqlSafe(sql))
                .execute(pg.pool())
                .await
                .expect("create the test schema");
        }
        Some(TestDb { pg, schema })
    }

    fn backend(&self) -> &PgBackend {
        &self.pg
    }

    fn namespace(&self) -> &str {
        &self.schema
    }

    async fn drop(self) {
        self.exec(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await;
        self.pg.pool().close().await;
    }
}

impl Dialect for PgBackend {
    type Query = PgAggregate;
    type Server = PrivatePostgres;

    const NAME: &'static str = "postgres";
    const TIMESTAMP: &'static str = "timestamptz";
    const TEXT: &'static str = "text";
    const BIGINT: &'static str = "int8";
    const INT: &'static str = "int4";
    const QUOTE: char = '"';
    const CODE: &'static str = "sqlstate";
    const UNKNOWN_TABLE: &'static str = "42P01";
    const UNKNOWN_COLUMN: &'static str = "42703";

    fn ago(n: u32, unit: &str) -> String {
        format!("now() - interval '{n} {unit}'")
    }

    fn connect(url: &str, connect_timeout: Duration, statement_timeout: Duration) -> Self {
        PgBackend::builder()
            .url(url)
            .connect_timeout(connect_timeout)
            .statement_timeout(statement_timeout)
            .build()
            .expect("a valid PostgreSQL URL")
    }

    fn query(&self, table: &str, spec: Aggregate) -> Result<PgAggregate> {
        self.aggregate(table, spec)
    }

    async fn exec(&self, sql: &str) {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(self.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(self.pool())
            .await
            .unwrap_or_else(|e| panic!("count {table}: {e}"))
    }

    async fn close(&self) {
        self.pool().close().await;
    }
}
