//! [`PgAggregate`]: an [`Aggregate`] over a PostgreSQL table as a [`TableQuery`].

use std::sync::Arc;

use livetable_core::{Aggregate, FetchContext, Fetched, Result, Schema, TableQuery};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPool;

use crate::decode::decode_row;
use crate::statement::AggregateStatement;

/// An [`Aggregate`] computed by PostgreSQL: each fetch runs one `SELECT … GROUP BY …
/// ORDER BY … LIMIT …` with the window, the filters and the limit bound as parameters.
/// Made by [`PgBackend::aggregate`](crate::PgBackend::aggregate).
#[derive(Debug, Clone)]
pub struct PgAggregate {
    pool: PgPool,
    spec: Arc<Aggregate>,
    statement: Arc<AggregateStatement>,
    table: Arc<str>,
}

impl PgAggregate {
    pub(crate) fn new(pool: PgPool, table: &str, spec: Aggregate) -> Result<Self> {
        let statement = AggregateStatement::new(table, &spec)?;
        Ok(PgAggregate {
            pool,
            spec: Arc::new(spec),
            statement: Arc::new(statement),
            table: table.into(),
        })
    }

    /// The spec.
    pub fn spec(&self) -> &Aggregate {
        &self.spec
    }

    /// The SQL text a fetch with `ctx` runs (for logs and `EXPLAIN`).
    pub fn sql(&self, ctx: &FetchContext) -> Result<String> {
        Ok(self.statement.render(ctx)?.0)
    }
}

impl TableQuery for PgAggregate {
    fn schema(&self) -> &Schema {
        self.spec.schema()
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let (sql, args) = self.statement.render(ctx)?;
        tracing::trace!(table = %self.table, %sql, "fetching");
        // The text holds only identifiers quoted by `statement`; values are parameters.
        let rows = sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| crate::error::map(e).with_context("table", &self.table))?;
        let schema = self.spec.schema();
        let rows = rows
            .iter()
            .map(|r| decode_row(r, schema))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| e.with_context("table", &self.table))?;
        Ok(Fetched::new(rows))
    }
}
