//! [`PgBuilder`]: validates the settings and opens a [`PgBackend`].

use std::str::FromStr;
use std::time::Duration;

use livetable_core::{Error, ErrorKind, Result};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::backend::PgBackend;
use crate::config::{PgConfig, redact_url};

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

    /// The most connections the pool opens (default 4).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.config.max_connections = n;
        self.set.push("max_connections");
        self
    }

    /// How long a fetch waits for a connection before failing as unavailable
    /// (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self.set.push("connect_timeout");
        self
    }

    /// The server-side statement timeout (default 30 s); a statement running longer
    /// fails with [`ErrorKind::Timeout`].
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.config.statement_timeout = Some(timeout);
        self.set.push("statement_timeout");
        self
    }

    /// Validates the settings and creates the (lazily connecting) pool.
    pub fn build(self) -> Result<PgBackend> {
        let bad = |field: &'static str, why: String| {
            Err(Error::new(ErrorKind::InvalidSpec, why)
                .with_context("field", field)
                .with_context("backend", crate::error::BACKEND))
        };
        if let Some(pool) = self.pool {
            if let Some(field) = self.set.first() {
                return bad(
                    field,
                    format!(
                        "`{field}` cannot be set with an existing pool; configure it on the \
                         pool's PgPoolOptions / PgConnectOptions instead"
                    ),
                );
            }
            return Ok(PgBackend::new(pool));
        }
        let c = &self.config;
        if c.url.is_empty() {
            return bad(
                "url",
                "no connection URL; set `url` (postgres://user@host/database) or give a pool"
                    .into(),
            );
        }
        let mut options = match PgConnectOptions::from_str(&c.url) {
            Ok(o) => o,
            // The message never echoes the URL, which may hold a password.
            Err(e) => {
                return bad(
                    "url",
                    format!(
                        "`url` {} is not a valid PostgreSQL URL: {e}",
                        redact_url(&c.url)
                    ),
                );
            }
        };
        if c.max_connections == 0 {
            return bad(
                "max_connections",
                "`max_connections` is 0; give at least 1".into(),
            );
        }
        if c.connect_timeout.is_zero() {
            return bad(
                "connect_timeout",
                "`connect_timeout` is zero; give a duration such as 5 s".into(),
            );
        }
        if let Some(t) = c.statement_timeout {
            let ms = t.as_millis();
            if ms == 0 {
                return bad(
                    "statement_timeout",
                    "`statement_timeout` is under 1 ms (0 would disable it); give a duration or leave it unset".into(),
                );
            }
            options = options.options([("statement_timeout", ms.to_string())]);
        }
        if !c.application_name.is_empty() {
            options = options.application_name(&c.application_name);
        }
        // The pool spawns its maintenance task on the current runtime; without one
        // sqlx would panic, so say what to do instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return bad(
                "runtime",
                "PgBackend::builder().build() must run inside a tokio runtime".into(),
            );
        }
        let pool = PgPoolOptions::new()
            .max_connections(c.max_connections)
            .acquire_timeout(c.connect_timeout)
            .connect_lazy_with(options);
        Ok(PgBackend::new(pool))
    }
}
