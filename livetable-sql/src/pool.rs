//! What [`PgBuilder`](crate::PgBuilder) and [`MySqlBuilder`](crate::MySqlBuilder)
//! share: the pool setters and the checks of the common settings. The URL parsing and
//! the way the statement timeout reaches the server stay with each backend (a
//! PostgreSQL startup option against a MySQL / MariaDB session variable).

use std::time::Duration;

use livetable_core::{Error, ErrorKind, Result};

/// The setters of the pool settings both builders take; each records the setting in
/// `self.set`, since they conflict with an existing pool. The builder needs the fields
/// `config` (with `max_connections`, `connect_timeout`, `statement_timeout`) and
/// `set: Vec<&'static str>`.
macro_rules! pool_setters {
    () => {
        /// The most connections the pool opens (default 4).
        pub fn max_connections(mut self, n: u32) -> Self {
            self.config.max_connections = n;
            self.set.push("max_connections");
            self
        }

        /// How long a fetch waits for a connection before failing as unavailable
        /// (default 5 s).
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.config.connect_timeout = timeout;
            self.set.push("connect_timeout");
            self
        }

        /// The server-side statement timeout (default 30 s); a statement running longer
        /// fails with [`ErrorKind::Timeout`](livetable_core::ErrorKind::Timeout).
        pub fn statement_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.config.statement_timeout = Some(timeout);
            self.set.push("statement_timeout");
            self
        }
    };
}
pub(crate) use pool_setters;

/// The builder's error for the bad setting `field` of `backend`.
pub(crate) fn invalid(backend: &'static str, field: &'static str, why: String) -> Error {
    Error::new(ErrorKind::InvalidSpec, why)
        .with_context("field", field)
        .with_context("backend", backend)
}

/// Fails when a pool setting was `set` together with an existing pool, naming the
/// driver's `options` types where it belongs instead.
pub(crate) fn check_existing_pool(
    backend: &'static str,
    set: &[&'static str],
    options: &str,
) -> Result<()> {
    match set.first() {
        Some(field) => Err(invalid(
            backend,
            field,
            format!(
                "`{field}` cannot be set with an existing pool; configure it on the pool's \
                 {options} instead"
            ),
        )),
        None => Ok(()),
    }
}

/// Fails when there is no URL; `example` shows the form one takes.
pub(crate) fn check_url_given(backend: &'static str, url: &str, example: &str) -> Result<()> {
    if url.is_empty() {
        return Err(invalid(
            backend,
            "url",
            format!("no connection URL; set `url` ({example}) or give a pool"),
        ));
    }
    Ok(())
}

/// Checks the pool size and the timeouts; returns the statement timeout in whole
/// milliseconds (`None`: keep the server's).
pub(crate) fn check_limits(
    backend: &'static str,
    max_connections: u32,
    connect_timeout: Duration,
    statement_timeout: Option<Duration>,
) -> Result<Option<u128>> {
    if max_connections == 0 {
        return Err(invalid(
            backend,
            "max_connections",
            "`max_connections` is 0; give at least 1".into(),
        ));
    }
    if connect_timeout.is_zero() {
        return Err(invalid(
            backend,
            "connect_timeout",
            "`connect_timeout` is zero; give a duration such as 5 s".into(),
        ));
    }
    match statement_timeout {
        Some(t) if t.as_millis() == 0 => Err(invalid(
            backend,
            "statement_timeout",
            "`statement_timeout` is under 1 ms (0 would disable it); give a duration or \
             leave it unset"
                .into(),
        )),
        Some(t) => Ok(Some(t.as_millis())),
        None => Ok(None),
    }
}

/// Fails outside a tokio runtime: the pool spawns its maintenance task on the current
/// one, and without one sqlx would panic. `call` names what the user called.
pub(crate) fn check_runtime(backend: &'static str, call: &str) -> Result<()> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(invalid(
            backend,
            "runtime",
            format!("{call} must run inside a tokio runtime"),
        ));
    }
    Ok(())
}
