//! [`PgBackend`]: a connection pool that turns specs and statements into sources.

use livetable_core::{Aggregate, Result};
use sqlx::postgres::PgPool;

use crate::aggregate::PgAggregate;
use crate::builder::PgBuilder;
use crate::raw::PgRawBuilder;

/// A PostgreSQL database for live tables: a cheap-to-clone handle around a pool.
///
/// Make one with [`PgBackend::builder`], then turn an [`Aggregate`] over a table into a
/// source with [`aggregate`](PgBackend::aggregate), or your own SQL with
/// [`raw`](PgBackend::raw). Every source shares the pool.
#[derive(Clone, Debug)]
pub struct PgBackend {
    pool: PgPool,
}

impl PgBackend {
    /// A builder; see [`PgBuilder`].
    pub fn builder() -> PgBuilder {
        PgBuilder::default()
    }

    pub(crate) fn new(pool: PgPool) -> Self {
        PgBackend { pool }
    }

    /// The pool, e.g. to load data or run migrations.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A source computing `spec` over `table` (`name` or `schema.name`) with one
    /// parameterised statement per fetch. Fails when a name cannot be a PostgreSQL
    /// identifier; unknown tables and columns are reported by the first fetch.
    pub fn aggregate(&self, table: &str, spec: Aggregate) -> Result<PgAggregate> {
        PgAggregate::new(self.pool.clone(), table, spec)
    }

    /// A source running your own statement; `$1` and `$2` are the window's start and
    /// end (`timestamptz`). See [`PgRawBuilder`].
    pub fn raw(&self, sql: impl Into<String>) -> PgRawBuilder {
        PgRawBuilder::new(self.pool.clone(), sql.into())
    }
}
