//! [`MySqlAggregate`]: an [`Aggregate`] over a MySQL / MariaDB table as a
//! [`TableQuery`] and a [`BucketQuery`].

use std::sync::Arc;

use livetable_core::{
    Aggregate, BucketQuery, BucketRequest, BucketRow, DataType, Error, FetchContext, Fetched,
    Result, Schema, SourceProfile, TableQuery,
};
use sqlx::mysql::MySqlPool;
use sqlx::{AssertSqlSafe, Row as _};
use tokio::sync::OnceCell;

use super::decode::{decode_row, decode_value};
use super::dialect::MySql;
use super::encode::arguments;
use crate::dialect::{Storage, Storages};
use crate::statements::Statements;

/// An [`Aggregate`] computed by MySQL or MariaDB: each fetch runs one `SELECT … GROUP
/// BY … ORDER BY … LIMIT ?` with the window, the filters and the limit bound as `?`
/// parameters. Made by [`MySqlBackend::aggregate`](crate::MySqlBackend::aggregate).
///
/// Results follow [`Aggregate`]'s semantics exactly, as on PostgreSQL: text is grouped,
/// matched and ordered by its UTF-8 bytes (not by the column's collation, which by
/// default ignores case, accents and trailing spaces), `Null` sorts first ascending and
/// last descending, an integer `sum` that does not fit 64 bits is an error, and
/// `eq` / `in` match `Null` to `Null`.
///
/// IP address columns may be MariaDB `INET6`, text, or 4/16-byte binary strings
/// (`INET6_ATON`); the first fetch of a spec with an IP column reads which from
/// `information_schema` so that filters and the order use the right form. Store each
/// address one way (IPv4 as 4 bytes or as text `a.b.c.d`; text in canonical form).
///
/// It also answers per time bucket ([`BucketQuery`]): `FLOOR(TIMESTAMPDIFF(SECOND,
/// '1970-01-01', ts) / ?) * ?` epoch seconds grouped with the dimensions, in a UTC
/// session. A `DATETIME` time column is taken to hold UTC. `count_distinct` cannot be
/// answered per bucket: use the direct mode for it.
///
/// It groups ([`supports_grouping`](TableQuery::supports_grouping)): a fetch with
/// [`FetchContext::group_by`] runs the statement of [`Aggregate::grouped`] — fewer
/// `GROUP BY` columns, viewer filters on every dimension still in the `WHERE` —
/// built once per grouping and kept.
#[derive(Debug, Clone)]
pub struct MySqlAggregate {
    pool: MySqlPool,
    spec: Arc<Aggregate>,
    table: Arc<str>,
    /// The statements once the storage of IP columns is known (at once when the spec
    /// has none).
    statements: Arc<OnceCell<Statements>>,
}

impl MySqlAggregate {
    pub(crate) fn new(pool: MySqlPool, table: &str, spec: Aggregate) -> Result<Self> {
        let spec = Arc::new(spec);
        // Validates every identifier now, whatever the storage turns out to be.
        let draft = Statements::new(&MySql, table, spec.clone(), Storages::default())?;
        let statements = if ip_columns(&spec).is_empty() {
            OnceCell::new_with(Some(draft))
        } else {
            OnceCell::new()
        };
        Ok(MySqlAggregate {
            pool,
            spec,
            table: table.into(),
            statements: Arc::new(statements),
        })
    }

    /// The aggregate this source translates into one `GROUP BY` statement.
    pub fn spec(&self) -> &Aggregate {
        &self.spec
    }

    /// The SQL text a fetch with `ctx` runs (for logs and `EXPLAIN`); may read the
    /// table's column types first.
    pub async fn sql(&self, ctx: &FetchContext) -> Result<String> {
        let statement = self.statements().await?.direct(ctx.group_by.as_deref())?;
        Ok(statement.render(ctx)?.sql)
    }

    /// The SQL text a [`fetch_buckets`](BucketQuery::fetch_buckets) runs, or the
    /// error saying why this spec cannot be answered per bucket.
    pub async fn bucket_sql(&self) -> Result<String> {
        Ok(self.statements().await?.bucket()?.sql().to_owned())
    }

    async fn statements(&self) -> Result<&Statements> {
        self.statements
            .get_or_try_init(|| async {
                let storage = Storages::new(self.ip_storage().await?, Storage::IpText);
                Statements::new(&MySql, &self.table, self.spec.clone(), storage)
            })
            .await
            .map_err(|e| e.with_context("table", &self.table))
    }

    /// How the table stores each IP column, from `information_schema`.
    async fn ip_storage(&self) -> Result<Vec<(String, Storage)>> {
        let (schema, name) = match self.table.split_once('.') {
            Some((s, n)) => (Some(s), n),
            None => (None, &*self.table),
        };
        let rows = sqlx::query(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
        )
        .bind(schema)
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(super::error::map)?;
        if rows.is_empty() {
            return Err(Error::invalid_spec(format!(
                "table `{}` does not exist (or the user cannot see it); check the table name \
                 and qualify it as database.table if it is in another database",
                self.table
            )));
        }
        let ips = ip_columns(&self.spec);
        let mut out = Vec::new();
        for row in rows {
            let column: String = row.try_get(0).map_err(super::error::map)?;
            let data_type: String = row.try_get(1).map_err(super::error::map)?;
            if !ips.iter().any(|n| n.eq_ignore_ascii_case(&column)) {
                continue;
            }
            let storage = match data_type.to_ascii_lowercase().as_str() {
                "inet6" => Storage::Inet6,
                "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                    Storage::IpBinary
                }
                _ => Storage::IpText,
            };
            out.push((column, storage));
        }
        Ok(out)
    }
}

/// The spec's input columns of type IP.
fn ip_columns(spec: &Aggregate) -> Vec<String> {
    spec.event_columns()
        .filter(|(_, t)| *t == DataType::Ip)
        .map(|(n, _)| n.to_owned())
        .collect()
}

impl TableQuery for MySqlAggregate {
    fn schema(&self) -> &Schema {
        self.spec.schema()
    }

    fn profile(&self) -> SourceProfile {
        SourceProfile::of_aggregate(&self.spec)
    }

    // `fetch` and `fetch_buckets` look like PostgreSQL's but run on other driver types
    // (pool, arguments, and a statement chosen per server flavour on first use); the
    // row decoding they share lives in `crate::shared`.
    fn supports_grouping(&self) -> bool {
        true
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let with_table = |e: Error| e.with_context("table", &self.table);
        let statement = self
            .statements()
            .await?
            .direct(ctx.group_by.as_deref())
            .map_err(with_table)?;
        let rendered = statement.render(ctx)?;
        let args = arguments(&rendered.params)?;
        tracing::trace!(table = %self.table, sql = %rendered.sql, "fetching");
        // The text holds only identifiers quoted by `statement`; values are parameters.
        let rows = sqlx::query_with(AssertSqlSafe(rendered.sql), args)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| with_table(super::error::map(e)))?;
        let rows = rows
            .iter()
            .map(|r| decode_row(r, statement.schema()))
            .collect::<Result<Vec<_>>>()
            .map_err(with_table)?;
        Ok(Fetched::new(rows))
    }
}

impl BucketQuery for MySqlAggregate {
    fn spec(&self) -> &Aggregate {
        &self.spec
    }

    async fn fetch_buckets(&self, request: &BucketRequest) -> Result<Vec<BucketRow>> {
        let with_table = |e: Error| e.with_context("table", &self.table);
        let statement = self.statements().await?.bucket().map_err(with_table)?;
        let rendered = statement.render(request).map_err(with_table)?;
        let args = arguments(&rendered.params)?;
        tracing::trace!(table = %self.table, sql = %rendered.sql, "fetching buckets");
        // The text holds only identifiers quoted by `statement`; values are parameters.
        let rows = sqlx::query_with(AssertSqlSafe(rendered.sql), args)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| with_table(super::error::map(e)))?;
        crate::shared::decode_bucket_rows(
            &rows,
            statement,
            with_table,
            super::error::map,
            decode_value,
        )
    }
}
