//! [`MySqlBackend`], its [`MySqlBuilder`] and [`MySqlConfig`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use livetable_core::{Aggregate, Result};
use serde::{Deserialize, Serialize};
use sqlx::Executor as _;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};

use super::aggregate::MySqlAggregate;
use super::raw::MySqlRawBuilder;
use crate::config::redact_url;
use crate::pool;

// The fields match `PgConfig`'s but stay in their own public struct: both are public
// API read field by field, `PgConfig` also has `application_name`, and each documents
// its server's meaning of `statement_timeout`. The checks are shared (`crate::pool`).
/// Connection settings for [`MySqlBackend`], e.g. from a config file.
///
/// Every field has a default, so a file only names what it changes. `Debug` hides the
/// password.
///
/// ```
/// use livetable_sql::MySqlConfig;
/// let config: MySqlConfig = serde_json::from_str(
///     r#"{"url": "mysql://app:s3cret@db/metrics", "statement_timeout": 5}"#,
/// ).unwrap();
/// assert_eq!(config.max_connections, 4);
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MySqlConfig {
    /// A `mysql://user:password@host:port/database` URL (MariaDB too).
    pub url: String,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// How long a fetch waits for a connection (including connecting) before failing
    /// as unavailable, in seconds.
    #[serde(with = "crate::config::secs")]
    pub connect_timeout: Duration,
    /// The server-side statement timeout in seconds (MariaDB's `max_statement_time`,
    /// MySQL's `max_execution_time`); `None` keeps the server's.
    #[serde(with = "crate::config::opt_secs")]
    pub statement_timeout: Option<Duration>,
}

impl Default for MySqlConfig {
    fn default() -> Self {
        MySqlConfig {
            url: String::new(),
            max_connections: 4,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
        }
    }
}

impl fmt::Debug for MySqlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// A MySQL or MariaDB database for live tables: a cheap-to-clone handle around a pool.
///
/// Make one with [`MySqlBackend::builder`], then turn an [`Aggregate`] over a table into
/// a source with [`aggregate`](MySqlBackend::aggregate), or your own SQL with
/// [`raw`](MySqlBackend::raw). Every connection runs with the session time zone set to
/// UTC (`time_zone = '+00:00'`), so `TIMESTAMP` columns read and compare as UTC and
/// `DATETIME` columns are taken to hold UTC.
#[derive(Clone, Debug)]
pub struct MySqlBackend {
    pool: MySqlPool,
}

impl MySqlBackend {
    /// A builder; see [`MySqlBuilder`].
    pub fn builder() -> MySqlBuilder {
        MySqlBuilder::default()
    }

    /// The pool, e.g. to load data.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// A source computing `spec` over `table` (`name` or `database.name`) with one
    /// parameterised statement per fetch. Fails when a name cannot be a MySQL
    /// identifier; unknown tables and columns are reported by the first fetch.
    pub fn aggregate(&self, table: &str, spec: Aggregate) -> Result<MySqlAggregate> {
        MySqlAggregate::new(self.pool.clone(), table, spec)
    }

    /// A source running your own statement; the first `?` is the window's start and
    /// the second its end (UTC `DATETIME`s). See [`MySqlRawBuilder`].
    pub fn raw(&self, sql: impl Into<String>) -> MySqlRawBuilder {
        MySqlRawBuilder::new(self.pool.clone(), sql.into())
    }
}

/// Builds a [`MySqlBackend`] from a URL (with pool settings) or from an existing pool.
///
/// [`build`](MySqlBuilder::build) checks every setting and names the bad one; it does
/// not connect (the pool connects on first use). It must be called inside a tokio
/// runtime.
///
/// ```
/// use std::time::Duration;
/// use livetable_sql::MySqlBackend;
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # rt.block_on(async {
/// let db = MySqlBackend::builder()
///     .url("mysql://root@127.0.0.1/test")
///     .max_connections(4)
///     .statement_timeout(Duration::from_secs(10))
///     .build()?;
///
/// let err = MySqlBackend::builder().url("postgres://x/y").build().unwrap_err();
/// assert_eq!(err.context_value("field"), Some("url"));
/// # Ok::<(), livetable_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MySqlBuilder {
    config: MySqlConfig,
    pool: Option<MySqlPool>,
    set: Vec<&'static str>,
}

impl MySqlBuilder {
    /// Starts from a whole [`MySqlConfig`].
    pub fn config(mut self, config: MySqlConfig) -> Self {
        self.config = config;
        self
    }

    /// The connection URL, `mysql://user:password@host:port/database`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.config.url = url.into();
        self
    }

    /// Uses an existing pool instead of a URL; its own settings apply (keep its
    /// session time zone UTC, sqlx's default).
    pub fn pool(mut self, pool: MySqlPool) -> Self {
        self.pool = Some(pool);
        self
    }

    crate::pool::pool_setters!();

    /// Validates the settings and creates the (lazily connecting) pool.
    pub fn build(self) -> Result<MySqlBackend> {
        let backend = super::error::BACKEND;
        if let Some(pool) = self.pool {
            pool::check_existing_pool(
                backend,
                &self.set,
                "MySqlPoolOptions / MySqlConnectOptions",
            )?;
            return Ok(MySqlBackend { pool });
        }
        let c = &self.config;
        pool::check_url_given(backend, &c.url, "mysql://user@host/database")?;
        if !(c.url.starts_with("mysql://") || c.url.starts_with("mariadb://")) {
            return Err(pool::invalid(
                backend,
                "url",
                format!(
                    "`url` {} is not a MySQL URL; it must start with mysql://",
                    redact_url(&c.url)
                ),
            ));
        }
        let options = match MySqlConnectOptions::from_str(&c.url) {
            // UTC sessions: TIMESTAMPs convert to UTC, DATETIMEs are bound as UTC.
            Ok(o) => o.timezone(Some("+00:00".to_owned())),
            Err(e) => {
                return Err(pool::invalid(
                    backend,
                    "url",
                    format!("`url` {} is not a valid MySQL URL: {e}", redact_url(&c.url)),
                ));
            }
        };
        let timeout_ms = pool::check_limits(
            backend,
            c.max_connections,
            c.connect_timeout,
            c.statement_timeout,
        )?;
        pool::check_runtime(backend, "MySqlBackend::builder().build()")?;
        let pool = MySqlPoolOptions::new()
            .max_connections(c.max_connections)
            .acquire_timeout(c.connect_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if let Some(ms) = timeout_ms {
                        // MariaDB: max_statement_time in seconds; MySQL (which lacks
                        // it, error 1193): max_execution_time in ms, SELECT only.
                        let secs = format!("{:.3}", ms as f64 / 1000.0);
                        let mariadb = format!("SET SESSION max_statement_time = {secs}");
                        if conn.execute(sqlx::AssertSqlSafe(mariadb)).await.is_err() {
                            let mysql = format!("SET SESSION max_execution_time = {ms}");
                            conn.execute(sqlx::AssertSqlSafe(mysql)).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        Ok(MySqlBackend { pool })
    }
}
