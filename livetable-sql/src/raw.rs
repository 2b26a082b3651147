//! [`PgRawQuery`]: the user's own SQL statement as a [`TableQuery`].

use std::sync::Arc;

use livetable_core::{Error, FetchContext, Fetched, Result, Schema, TableQuery};
use sqlx::postgres::{PgArguments, PgPool, PgTypeInfo};
use sqlx::{
    Arguments as _, AssertSqlSafe, Column as _, Executor as _, SqlSafeStr as _, Statement as _,
};

use crate::decode::{decode_row, infer_type, unsupported_type};

/// Configures a [`PgRawQuery`]: declare its schema with [`schema`](Self::schema) and
/// [`build`](Self::build), or let [`infer`](Self::infer) read it from the statement's
/// result columns.
///
/// ```no_run
/// use livetable_sql::PgBackend;
/// # async fn run(pg: PgBackend) -> livetable_core::Result<()> {
/// let per_host = pg
///     .raw("SELECT host, count(*) AS requests FROM access_log \
///           WHERE ts >= $1 AND ts < $2 GROUP BY host")
///     .dimensions(["host"])
///     .infer()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PgRawBuilder {
    pool: PgPool,
    sql: String,
    schema: Option<Schema>,
    dimensions: Option<Vec<String>>,
}

impl PgRawBuilder {
    pub(crate) fn new(pool: PgPool, sql: String) -> Self {
        PgRawBuilder {
            pool,
            sql,
            schema: None,
            dimensions: None,
        }
    }

    crate::shared::raw_setters!();

    /// Builds with the declared schema, without contacting the database. Cells are
    /// converted to the declared types on each fetch.
    pub fn build(self) -> Result<PgRawQuery> {
        let schema = crate::shared::declared_schema(self.schema)?;
        Ok(PgRawQuery::new(self.pool, self.sql, schema))
    }

    /// Prepares the statement and infers the schema from its result columns (names and
    /// types; see [`dimensions`](Self::dimensions) for roles). A declared schema is
    /// checked against the statement instead.
    pub async fn infer(self) -> Result<PgRawQuery> {
        // `$1`/`$2` are declared timestamptz so the server need not guess their type.
        let params = [
            PgTypeInfo::with_name("timestamptz"),
            PgTypeInfo::with_name("timestamptz"),
        ];
        let statement = self
            .pool
            .prepare_with(AssertSqlSafe(self.sql.as_str()).into_sql_str(), &params)
            .await
            .map_err(crate::error::map)?;
        let described: Vec<(String, PgTypeInfo)> = statement
            .columns()
            .iter()
            .map(|c| (c.name().to_owned(), c.type_info().clone()))
            .collect();
        let schema = crate::shared::raw_schema(
            &described,
            self.schema,
            self.dimensions.as_deref(),
            infer_type,
            unsupported_type,
        )?;
        Ok(PgRawQuery::new(self.pool, self.sql, schema))
    }
}

/// A statement written by the user, run on each fetch with the window's start and end
/// bound as `$1` and `$2`. Viewer filters and limits are left to the runtime. Made by
/// [`PgBackend::raw`](crate::PgBackend::raw).
#[derive(Debug, Clone)]
pub struct PgRawQuery {
    pool: PgPool,
    sql: Arc<str>,
    schema: Schema,
}

impl PgRawQuery {
    fn new(pool: PgPool, sql: String, schema: Schema) -> Self {
        PgRawQuery {
            pool,
            sql: sql.into(),
            schema,
        }
    }

    /// The SQL text run on every fetch, with its window placeholders.
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

impl TableQuery for PgRawQuery {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let mut args = PgArguments::default();
        let bound = args
            .add(ctx.window.start)
            .and_then(|()| args.add(ctx.window.end));
        bound.map_err(|e| {
            Error::new(
                livetable_core::ErrorKind::Unexpected,
                format!("cannot bind the window: {e}"),
            )
        })?;
        // The user wrote this statement; it is theirs to audit. Values are parameters.
        let rows = sqlx::query_with(AssertSqlSafe(self.sql.clone()), args)
            .fetch_all(&self.pool)
            .await
            .map_err(crate::error::map)?;
        let rows = rows
            .iter()
            .map(|r| decode_row(r, &self.schema))
            .collect::<Result<Vec<_>>>()?;
        Ok(Fetched::new(rows))
    }
}
