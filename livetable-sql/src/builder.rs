//! [`PgBuilder`]: validates the settings and opens a [`PgBackend`].

use std::str::FromStr;

use livetable_core::Result;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::backend::PgBackend;
use crate::config::{PgConfig, redact_url};
use crate::pool;

/// Builds a [`PgBackend`] from a URL (with pool settings) or from an existing pool.
///
/// [`build`](PgBuilder::build) checks every setting and names the bad one; it does not
/// connect (the pool connects on first use), so a table can be declared while the
/// database is still down. It must be called inside a tokio runtime.
///
/// ```
/// use std::time::Duration;
/// use livetable_sql::PgBackend;
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # rt.block_on(async {
/// let pg = PgBackend::builder()
///     .url("postgres://root@127.0.0.1/test")
///     .max_connections(4)
///     .connect_timeout(Duration::from_secs(2))
///     .statement_timeout(Duration::from_secs(10))
///     .build()?;
///
/// let err = PgBackend::builder().url("postgres://root@127.0.0.1/test").max_connections(0).build().unwrap_err();
/// assert_eq!(err.context_value("field"), Some("max_connections"));
/// # Ok::<(), livetable_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct PgBuilder {
    config: PgConfig,
    pool: Option<PgPool>,
    /// The pool settings set explicitly (they conflict with an existing pool).
    set: Vec<&'static str>,
}

impl PgBuilder {
    /// Starts from a whole [`PgConfig`].
    pub fn config(mut self, config: PgConfig) -> Self {
        self.config = config;
        self
    }

    /// The connection URL, `postgres://user:password@host:port/database`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.config.url = url.into();
        self
    }

    /// Uses an existing pool instead of a URL; its own settings apply.
    pub fn pool(mut self, pool: PgPool) -> Self {
        self.pool = Some(pool);
        self
    }

    crate::pool::pool_setters!();

    /// Validates the settings and creates the (lazily connecting) pool.
    pub fn build(self) -> Result<PgBackend> {
        let backend = crate::error::BACKEND;
        if let Some(pool) = self.pool {
            pool::check_existing_pool(backend, &self.set, "PgPoolOptions / PgConnectOptions")?;
            return Ok(PgBackend::new(pool));
        }
        let c = &self.config;
        pool::check_url_given(backend, &c.url, "postgres://user@host/database")?;
        let mut options = match PgConnectOptions::from_str(&c.url) {
            Ok(o) => o,
            // The message never echoes the URL, which may hold a password.
            Err(e) => {
                return Err(pool::invalid(
                    backend,
                    "url",
                    format!(
                        "`url` {} is not a valid PostgreSQL URL: {e}",
                        redact_url(&c.url)
                    ),
                ));
            }
        };
        let timeout_ms = pool::check_limits(
            backend,
            c.max_connections,
            c.connect_timeout,
            c.statement_timeout,
        )?;
        if let Some(ms) = timeout_ms {
            options = options.options([("statement_timeout", ms.to_string())]);
        }
        if !c.application_name.is_empty() {
            options = options.application_name(&c.application_name);
        }
        pool::check_runtime(backend, "PgBackend::builder().build()")?;
        let pool = PgPoolOptions::new()
            .max_connections(c.max_connections)
            .acquire_timeout(c.connect_timeout)
            .connect_lazy_with(options);
        Ok(PgBackend::new(pool))
    }
}
