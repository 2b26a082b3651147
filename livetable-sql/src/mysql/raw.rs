//! [`MySqlRawQuery`]: the user's own MySQL statement as a [`TableQuery`].

use std::sync::Arc;

use livetable_core::{Error, FetchContext, Fetched, Result, Schema, TableQuery};
use sqlx::mysql::{MySqlArguments, MySqlPool};
use sqlx::{
    Arguments as _, AssertSqlSafe, Column as _, Executor as _, SqlSafeStr as _, Statement as _,
};

use super::decode::{decode_row, infer_type, unsupported_type};

/// Configures a [`MySqlRawQuery`]: declare its schema with [`schema`](Self::schema)
/// and [`build`](Self::build), or let [`infer`](Self::infer) read it from the
/// statement's result columns.
///
/// ```no_run
/// use livetable_sql::MySqlBackend;
/// # async fn run(db: MySqlBackend) -> livetable_core::Result<()> {
/// let per_host = db
///     .raw("SELECT host, COUNT(*) AS requests FROM access_log \
///           WHERE ts >= ? AND ts < ? GROUP BY host")
///     .dimensions(["host"])
///     .infer()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MySqlRawBuilder {
    pool: MySqlPool,
    sql: String,
    schema: Option<Schema>,
    dimensions: Option<Vec<String>>,
}

impl MySqlRawBuilder {
    pub(crate) fn new(pool: MySqlPool, sql: String) -> Self {
        MySqlRawBuilder {
            pool,
            sql,
            schema: None,
            dimensions: None,
        }
    }

    crate::shared::raw_setters!();

    /// Builds with the declared schema, without contacting the database. Cells are
    /// converted to the declared types on each fetch.
    pub fn build(self) -> Result<MySqlRawQuery> {
        let schema = crate::shared::declared_schema(self.schema)?;
        MySqlRawQuery::new(self.pool, self.sql, schema)
    }

    /// Prepares the statement and infers the schema from its result columns (names and
    /// types; see [`dimensions`](Self::dimensions) for roles). A declared schema is
    /// checked against the statement instead.
    pub async fn infer(self) -> Result<MySqlRawQuery> {
        let statement = self
            .pool
            .prepare(AssertSqlSafe(self.sql.as_str()).into_sql_str())
            .await
            .map_err(super::error::map)?;
        let described: Vec<(String, sqlx::mysql::MySqlTypeInfo)> = statement
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
        MySqlRawQuery::new(self.pool, self.sql, schema)
    }
}

/// A statement written by the user, run on each fetch with the window's start and end
/// bound to its two `?` placeholders, in that order (UTC `DATETIME`s). Viewer filters
/// and limits are left to the runtime. Made by
/// [`MySqlBackend::raw`](crate::MySqlBackend::raw).
#[derive(Debug, Clone)]
pub struct MySqlRawQuery {
    pool: MySqlPool,
    sql: Arc<str>,
    schema: Schema,
}

impl MySqlRawQuery {
    fn new(pool: MySqlPool, sql: String, schema: Schema) -> Result<Self> {
        let placeholders = count_placeholders(&sql);
        if placeholders != 2 {
            return Err(Error::invalid_spec(format!(
                "a raw MySQL statement takes the window as two `?` placeholders (start, then \
                 end); this one has {placeholders}"
            )));
        }
        Ok(MySqlRawQuery {
            pool,
            sql: sql.into(),
            schema,
        })
    }

    /// The SQL text run on every fetch, with its window placeholders.
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

/// The `?` placeholders outside quotes and comments.
fn count_placeholders(sql: &str) -> usize {
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                // Skips to the closing quote; a doubled quote or a backslash escape
                // stays inside.
                while let Some(d) = chars.next() {
                    if d == '\\' && c != '`' {
                        chars.next();
                    } else if d == c {
                        if chars.peek() == Some(&c) {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '#' => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
            }
            '?' => n += 1,
            _ => {}
        }
    }
    n
}

impl TableQuery for MySqlRawQuery {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    // Looks like `PgRawQuery::fetch` but binds the window as UTC `DATETIME`s
    // (`NaiveDateTime`) to `?`s, where PostgreSQL binds `timestamptz` to `$1`/`$2`.
    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let mut args = MySqlArguments::default();
        let bound = args
            .add(ctx.window.start.naive_utc())
            .and_then(|()| args.add(ctx.window.end.naive_utc()));
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
            .map_err(super::error::map)?;
        let rows = rows
            .iter()
            .map(|r| decode_row(r, &self.schema))
            .collect::<Result<Vec<_>>>()?;
        Ok(Fetched::new(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_placeholders_outside_quotes_and_comments() {
        assert_eq!(
            count_placeholders("SELECT a FROM t WHERE ts >= ? AND ts < ?"),
            2
        );
        assert_eq!(
            count_placeholders("SELECT '?', `a?`, \"?\" -- ?\n FROM t /* ? */ WHERE x = ? # ?"),
            1
        );
        assert_eq!(count_placeholders("SELECT 'it''s ?' , ?, ?"), 2);
    }
}
