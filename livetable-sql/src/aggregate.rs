//! [`PgAggregate`]: an [`Aggregate`] over a PostgreSQL table as a [`TableQuery`] and a
//! [`BucketQuery`].

use std::sync::Arc;

use livetable_core::{
    Aggregate, BucketQuery, BucketRequest, BucketRow, FetchContext, Fetched, Result, Schema,
    SourceProfile, TableQuery,
};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPool;

use crate::decode::{decode_row, decode_value};
use crate::dialect::{Postgres, Storages};
use crate::encode::pg_arguments;
use crate::statements::Statements;

/// An [`Aggregate`] computed by PostgreSQL: each fetch runs one `SELECT … GROUP BY …
/// ORDER BY … LIMIT …` with the window, the filters and the limit bound as parameters.
/// Made by [`PgBackend::aggregate`](crate::PgBackend::aggregate).
///
/// It groups ([`supports_grouping`](TableQuery::supports_grouping)): a fetch with
/// [`FetchContext::group_by`] runs the statement of [`Aggregate::grouped`] — fewer
/// `GROUP BY` columns, viewer filters on every dimension still in the `WHERE` —
/// built once per grouping and kept.
///
/// It also answers per time bucket ([`BucketQuery`]), so a bucket cache can sit in
/// front of it: one statement,
///
/// ```sql
/// SELECT date_bin($1::interval, "ts", '1970-01-01 00:00:00+00'), dimensions…,
///        count(*), sum(x)::int8, count(x), min(y), …
/// FROM table WHERE "ts" >= $2 AND "ts" < $3 AND <static filters>
/// GROUP BY 1, dimensions…
/// ```
///
/// Buckets start at whole multiples of the width since the Unix epoch. The origin
/// literal takes the time column's type: for `timestamptz` it is the epoch; for
/// `timestamp` (without time zone) it is `1970-01-01 00:00:00` and the column's values
/// are taken as UTC, so such a column must hold UTC times (the window bounds are
/// compared with it in UTC too, the session time zone sqlx sets). A `sum` (or the sum
/// behind an `avg`) over integers is an `int8` per bucket and fails instead of
/// wrapping when one bucket's sum overflows; `count_distinct` cannot be answered per
/// bucket (distinct counts do not add up), so a spec with one is refused with an
/// [`Unsupported`](livetable_core::ErrorKind::Unsupported) error: use the direct mode
/// for it.
#[derive(Debug, Clone)]
pub struct PgAggregate {
    pool: PgPool,
    spec: Arc<Aggregate>,
    statements: Arc<Statements>,
    table: Arc<str>,
}

impl PgAggregate {
    pub(crate) fn new(pool: PgPool, table: &str, spec: Aggregate) -> Result<Self> {
        let spec = Arc::new(spec);
        let statements = Statements::new(&Postgres, table, spec.clone(), Storages::default())?;
        Ok(PgAggregate {
            pool,
            spec,
            statements: Arc::new(statements),
            table: table.into(),
        })
    }

    /// The aggregate this source translates into one `GROUP BY` statement.
    pub fn spec(&self) -> &Aggregate {
        &self.spec
    }

    /// The SQL text a fetch with `ctx` runs (for logs and `EXPLAIN`).
    pub fn sql(&self, ctx: &FetchContext) -> Result<String> {
        let statement = self.statements.direct(ctx.group_by.as_deref())?;
        Ok(statement.render(ctx)?.sql)
    }

    /// The SQL text a [`fetch_buckets`](BucketQuery::fetch_buckets) runs, or the
    /// error saying why this spec cannot be answered per bucket.
    pub fn bucket_sql(&self) -> Result<String> {
        Ok(self.statements.bucket()?.sql().to_owned())
    }
}

impl TableQuery for PgAggregate {
    fn schema(&self) -> &Schema {
        self.spec.schema()
    }

    fn profile(&self) -> SourceProfile {
        SourceProfile::of_aggregate(&self.spec)
    }

    fn supports_grouping(&self) -> bool {
        true
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let with_table = |e: livetable_core::Error| e.with_context("table", &self.table);
        let statement = self
            .statements
            .direct(ctx.group_by.as_deref())
            .map_err(with_table)?;
        let rendered = statement.render(ctx)?;
        let args = pg_arguments(&rendered.params)?;
        tracing::trace!(table = %self.table, sql = %rendered.sql, "fetching");
        // The text holds only identifiers quoted by `statement`; values are parameters.
        let rows = sqlx::query_with(AssertSqlSafe(rendered.sql), args)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| with_table(crate::error::map(e)))?;
        let rows = rows
            .iter()
            .map(|r| decode_row(r, statement.schema()))
            .collect::<Result<Vec<_>>>()
            .map_err(with_table)?;
        Ok(Fetched::new(rows))
    }
}

impl BucketQuery for PgAggregate {
    fn spec(&self) -> &Aggregate {
        &self.spec
    }

    async fn fetch_buckets(&self, request: &BucketRequest) -> Result<Vec<BucketRow>> {
        let with_table = |e: livetable_core::Error| e.with_context("table", &self.table);
        let statement = self.statements.bucket().map_err(with_table)?;
        let rendered = statement.render(request).map_err(with_table)?;
        let args = pg_arguments(&rendered.params)?;
        tracing::trace!(table = %self.table, sql = %rendered.sql, "fetching buckets");
        // The text holds only identifiers quoted by `statement`; values are parameters.
        let rows = sqlx::query_with(AssertSqlSafe(rendered.sql), args)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| with_table(crate::error::map(e)))?;
        crate::shared::decode_bucket_rows(
            &rows,
            statement,
            with_table,
            crate::error::map,
            decode_value,
        )
    }
}
