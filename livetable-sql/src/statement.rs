//! Builds the SQL text and bind parameters of an [`Aggregate`] fetch, for any
//! [`Dialect`]: the direct statement (one row per group over the window) and the
//! bucketed one (one row per time bucket and group, for the bucket cache).
//!
//! Identifiers come only from the validated spec and are quoted by the dialect; every
//! value (window bounds, filter values, the limit, the bucket width) is a bind
//! parameter. The text depends only on the spec, the view's grouping and the *shape*
//! of the viewer's filters (which columns, which operators, whether a `Null` is
//! matched, and for dialects without array parameters how many values an `in` has), so
//! the drivers' per-connection caches of prepared statements, keyed by the text,
//! prepare each shape once.
//!
//! The statement reproduces [`Aggregate`]'s semantics exactly, in every dialect:
//! - `start <= time < end`;
//! - text keys are grouped, matched and sorted by bytes, `Null` first ascending and
//!   last descending;
//! - the dimensions break ties, ascending;
//! - `eq` / `in` match `Null` to `Null` (`IS NULL`), a range never matches `Null`;
//! - a `sum` over integers is a 64-bit integer and fails instead of wrapping when it
//!   overflows, an `avg` is a float.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::DateTime;
use livetable_core::{
    Aggregate, BucketRequest, BucketRow, DataType, Direction, Error, ErrorKind, FetchContext,
    Filter, MetricKind, Partial, Result, Schema, Value,
};

use crate::dialect::{Binder, Col, Dialect, Param, Slot, Storages};

/// Quotes a table name, `table` or `schema.table`, each part as an identifier.
pub(crate) fn quote_table(d: &dyn Dialect, name: &str) -> Result<String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 2 {
        return Err(Error::invalid_spec(format!(
            "table `{name}` has more than two parts; write `table` or `schema.table`"
        ))
        .with_context("table", name));
    }
    let quoted = parts
        .iter()
        .map(|p| d.quote_ident(p, "table name part"))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.with_context("table", name))?;
    Ok(quoted.join("."))
}

/// A statement's text and its parameters, in order.
#[derive(Debug)]
pub(crate) struct Rendered {
    pub(crate) sql: String,
    pub(crate) params: Vec<Param>,
}

/// A dimension: its name and column.
#[derive(Debug)]
struct Dim {
    name: String,
    col: Col,
}

/// The column `name` of `spec`'s inputs (a dimension or a field), quoted, with its
/// type and storage.
fn column(d: &dyn Dialect, spec: &Aggregate, name: &str, storage: &Storages) -> Result<Col> {
    let t = spec.input_type(name).ok_or_else(|| {
        Error::invalid_spec(format!("unknown column `{name}`")).with_context("column", name)
    })?;
    Ok(Col {
        q: d.quote_ident(name, "column")?,
        t,
        storage: storage.of(name),
    })
}

/// `spec`'s dimensions, in key order.
fn dimension_columns(d: &dyn Dialect, spec: &Aggregate, storage: &Storages) -> Result<Vec<Dim>> {
    spec.dimensions()
        .iter()
        .map(|dim| {
            Ok(Dim {
                name: dim.name.clone(),
                col: column(d, spec, &dim.name, storage)?,
            })
        })
        .collect()
}

/// The direct statement of one grouping of a spec (one row per group over the window),
/// with what does not depend on the view already written.
#[derive(Debug)]
pub(crate) struct DirectStatement {
    dialect: &'static dyn Dialect,
    /// `SELECT … FROM … WHERE time >= ? AND time < ?`, then the static filters.
    head: String,
    /// The parameters of `head`.
    head_params: Binder,
    /// ` GROUP BY … ORDER BY …`.
    tail: String,
    /// The columns viewer filters may name: the source spec's dimensions, also those a
    /// grouping leaves out (filters apply before the roll-up).
    filterable: Vec<Dim>,
    spec_limit: Option<usize>,
    /// The schema of the rows.
    schema: Arc<Schema>,
}

impl DirectStatement {
    /// The statement of `source` over `table`, grouped by the dimensions at `group_by`
    /// when given (the statement of [`Aggregate::grouped`]: fewer `GROUP BY` columns);
    /// `storage` says how the store holds a column, for dialects with several ways.
    pub(crate) fn new(
        dialect: &'static dyn Dialect,
        table: &str,
        source: &Aggregate,
        group_by: Option<&[usize]>,
        storage: &Storages,
    ) -> Result<Self> {
        let d = dialect;
        let grouped;
        let spec = match group_by {
            Some(positions) => {
                grouped = source.grouped(positions)?;
                &grouped
            }
            None => source,
        };
        let table = quote_table(d, table)?;
        let time = d.quote_ident(spec.time_column(), "time column")?;
        let col = |name: &str| column(d, spec, name, storage);

        let dimensions = dimension_columns(d, spec, storage)?;
        let mut select = Vec::new();
        for dim in &dimensions {
            let expr = d.select(&dim.col);
            if expr == dim.col.q {
                select.push(expr);
            } else {
                select.push(format!("{expr} AS {}", dim.col.q));
            }
        }
        for m in spec.metrics() {
            let alias = d.quote_ident(&m.name, "metric")?;
            let input = m.column.as_deref().map(col).transpose()?;
            let expr = d
                .metric(m.kind, input.as_ref())
                .ok_or_else(|| unsupported_metric(d, &m.name, m.kind))?;
            select.push(format!("{expr} AS {alias}"));
        }

        let mut head_params = Binder::new(d);
        let mut head = format!("SELECT {} FROM {table}", select.join(", "));
        where_clause(d, &mut head, &mut head_params, &time, spec, &col)?;

        // Order keys, then every dimension ascending as the tie-break.
        let mut order = Vec::new();
        for o in spec.order_by() {
            if let Some(dim) = dimensions.iter().find(|dim| dim.name == o.column) {
                order.push(d.order(&d.sort_key(&dim.col), o.direction));
            } else if let Some(i) = spec.schema().index_of(&o.column) {
                // A metric: by position, so an input column of the same name cannot
                // shadow the output.
                order.push(d.order(&(i + 1).to_string(), o.direction));
            }
        }
        for dim in &dimensions {
            if !spec.order_by().iter().any(|o| o.column == dim.name) {
                order.push(d.order(&d.sort_key(&dim.col), Direction::Asc));
            }
        }
        let group: Vec<String> = dimensions.iter().map(|dim| d.key(&dim.col)).collect();
        let tail = format!(
            " GROUP BY {} ORDER BY {}",
            group.join(", "),
            order.join(", ")
        );
        let filterable = match group_by {
            // The left-out dimensions are fields of the grouped spec, and the source's
            // columns either way.
            Some(_) => dimension_columns(d, source, storage)?,
            None => dimensions,
        };
        Ok(DirectStatement {
            dialect,
            head,
            head_params,
            tail,
            filterable,
            spec_limit: spec.limit(),
            schema: spec.schema().clone(),
        })
    }

    /// The schema of the rows it returns.
    pub(crate) fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The SQL text and its bind parameters for one fetch.
    pub(crate) fn render(&self, ctx: &FetchContext) -> Result<Rendered> {
        let d = self.dialect;
        let mut sql = String::with_capacity(self.head.len() + self.tail.len() + 64);
        sql.push_str(&self.head);
        let mut b = self.head_params.clone();
        for f in &ctx.filters {
            let Some(dim) = self.filterable.iter().find(|dim| dim.name == f.column()) else {
                let names: Vec<String> = self
                    .filterable
                    .iter()
                    .map(|dim| format!("`{}`", dim.name))
                    .collect();
                return Err(Error::invalid_parameter(format!(
                    "viewer filter on `{}`, which is not a dimension; filter on one of {}",
                    f.column(),
                    names.join(", ")
                ))
                .with_context("column", f.column()));
            };
            // Viewer filters arrive normalised; normalising again is cheap and makes a
            // hand-built context safe to bind.
            let f = f.clone().normalised(dim.col.t)?;
            push_filter(d, &mut sql, &mut b, &dim.col, &f);
        }
        sql.push_str(&self.tail);
        let limit = match (self.spec_limit, ctx.limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let limit = d.limit(limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX)), &mut b);
        sql.push_str(&limit);
        let params = resolve(d, &b.slots, ctx.window.start, ctx.window.end, None)?;
        Ok(Rendered { sql, params })
    }
}

/// The error for a metric the dialect cannot compute.
fn unsupported_metric(d: &dyn Dialect, name: &str, kind: MetricKind) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "metric `{name}`: {} is not supported by the {} backend",
            kind.as_str(),
            d.name()
        ),
    )
    .with_context("column", name)
}

/// ` WHERE time >= ? AND time < ?` and the spec's static filters.
fn where_clause(
    d: &dyn Dialect,
    sql: &mut String,
    b: &mut Binder,
    time: &str,
    spec: &Aggregate,
    col: &dyn Fn(&str) -> Result<Col>,
) -> Result<()> {
    let start = b.bind(Slot::Start);
    let end = b.bind(Slot::End);
    // On the bare column, so an index on it serves the range.
    let _ = write!(sql, " WHERE {time} >= {start} AND {time} < {end}");
    for f in spec.filters() {
        push_filter(d, sql, b, &col(f.column())?, f);
    }
    Ok(())
}

/// Appends ` AND <predicate>` for `f` on the column `c`, binding its values.
fn push_filter(d: &dyn Dialect, sql: &mut String, b: &mut Binder, c: &Col, f: &Filter) {
    let q = &c.q;
    match f {
        Filter::Eq { value, .. } if value.is_null() => {
            let _ = write!(sql, " AND {q} IS NULL");
        }
        Filter::Eq { value, .. } => {
            let key = d.key(c);
            let n = b.value(d.key_param(c, value));
            let _ = write!(sql, " AND {key} = {n}");
        }
        Filter::In { values, .. } => {
            let has_null = values.iter().any(Value::is_null);
            let non_null: Vec<Value> = values.iter().filter(|v| !v.is_null()).cloned().collect();
            if non_null.is_empty() {
                let _ = write!(sql, " AND {q} IS NULL");
            } else {
                let is_in = d.in_list(&d.key(c), c, &non_null, b);
                if has_null {
                    let _ = write!(sql, " AND ({is_in} OR {q} IS NULL)");
                } else {
                    let _ = write!(sql, " AND {is_in}");
                }
            }
        }
        Filter::Range { gte, lt, .. } => {
            let key = d.sort_key(c);
            for (bound, op) in [(gte, ">="), (lt, "<")] {
                if let Some(v) = bound {
                    let n = b.value(d.sort_key_param(c, v));
                    let _ = write!(sql, " AND {key} {op} {n}");
                }
            }
        }
    }
}

/// The parameters for `slots`, given the window and the bucket width.
fn resolve(
    d: &dyn Dialect,
    slots: &[Slot],
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    width: Option<std::time::Duration>,
) -> Result<Vec<Param>> {
    slots
        .iter()
        .map(|s| {
            Ok(match s {
                Slot::Start => Param::Time(start),
                Slot::End => Param::Time(end),
                Slot::Width => d.width_param(width.ok_or_else(|| {
                    Error::new(ErrorKind::Unexpected, "a bucket width without a request")
                })?)?,
                Slot::Fixed(p) => p.clone(),
            })
        })
        .collect()
}

/// What one metric contributes to a bucket row.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// Nothing: a `count` is the row's event count.
    Count,
    /// Two cells: the sum and the number of non-null inputs.
    Sum,
    /// One cell: the min or max.
    Extreme,
}

/// The bucketed statement of a spec: `SELECT bucket, keys, count(*), partials … GROUP
/// BY 1, keys` over `start <= time < end` and the static filters.
#[derive(Debug)]
pub(crate) struct BucketStatement {
    dialect: &'static dyn Dialect,
    sql: String,
    slots: Vec<Slot>,
    /// Each result cell's name (for errors) and the type it is decoded as.
    targets: Vec<(String, DataType)>,
    dimensions: usize,
    layout: Vec<Layout>,
}

impl BucketStatement {
    /// The bucketed statement of `spec` over `table`, or why it cannot have one.
    pub(crate) fn new(
        d: &'static dyn Dialect,
        table: &str,
        spec: &Aggregate,
        storage: &Storages,
    ) -> Result<Self> {
        let table = quote_table(d, table)?;
        let time = d.quote_ident(spec.time_column(), "time column")?;
        let col = |name: &str| column(d, spec, name, storage);
        let dimensions = dimension_columns(d, spec, storage)?;
        let mut b = Binder::new(d);
        let mut select = vec![d.bucket(&time, &mut b)];
        let mut targets = vec![("bucket".to_owned(), d.bucket_type())];
        for dim in &dimensions {
            select.push(d.select(&dim.col));
            targets.push((dim.name.clone(), dim.col.t));
        }
        select.push("count(*)".to_owned());
        targets.push(("count(*)".to_owned(), DataType::Int));
        let mut layout = Vec::new();
        for m in spec.metrics() {
            let input = m.column.as_deref().map(col).transpose()?;
            let expr = |kind| {
                d.metric(kind, input.as_ref())
                    .ok_or_else(|| unsupported_metric(d, &m.name, kind))
            };
            match (m.kind, &input) {
                (MetricKind::Count, _) => layout.push(Layout::Count),
                (MetricKind::Sum | MetricKind::Avg, Some(c)) => {
                    select.push(expr(MetricKind::Sum)?);
                    let t = if c.t == DataType::Int {
                        DataType::Int
                    } else {
                        DataType::Float
                    };
                    targets.push((m.name.clone(), t));
                    select.push(format!("count({})", c.q));
                    targets.push((format!("count({})", m.name), DataType::Int));
                    layout.push(Layout::Sum);
                }
                (MetricKind::Min | MetricKind::Max, Some(c)) => {
                    select.push(expr(m.kind)?);
                    targets.push((m.name.clone(), c.t));
                    layout.push(Layout::Extreme);
                }
                (MetricKind::CountDistinct, _) => {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "metric `{}`: count_distinct cannot be answered per time bucket: \
                             the bucket cache cannot merge distinct counts across buckets; \
                             use the direct mode for this table",
                            m.name
                        ),
                    )
                    .with_context("column", &m.name));
                }
                (kind, None) => {
                    return Err(Error::invalid_spec(format!(
                        "metric `{}`: {} needs an input column",
                        m.name,
                        kind.as_str()
                    )));
                }
                (kind, Some(_)) => return Err(unsupported_metric(d, &m.name, kind)),
            }
        }
        let mut sql = format!("SELECT {} FROM {table}", select.join(", "));
        where_clause(d, &mut sql, &mut b, &time, spec, &col)?;
        let group: Vec<String> = dimensions.iter().map(|dim| d.key(&dim.col)).collect();
        sql.push_str(" GROUP BY 1");
        for g in group {
            let _ = write!(sql, ", {g}");
        }
        Ok(BucketStatement {
            dialect: d,
            sql,
            slots: b.slots,
            targets,
            dimensions: dimensions.len(),
            layout,
        })
    }

    /// The SQL text and parameters for `request`.
    pub(crate) fn render(&self, request: &BucketRequest) -> Result<Rendered> {
        let params = resolve(
            self.dialect,
            &self.slots,
            request.range.start,
            request.range.end,
            Some(request.width),
        )?;
        Ok(Rendered {
            sql: self.sql.clone(),
            params,
        })
    }

    /// The SQL text (for logs and `EXPLAIN`).
    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }

    /// Each result cell's name and the type to decode it as, in order.
    pub(crate) fn targets(&self) -> &[(String, DataType)] {
        &self.targets
    }

    /// Assembles one decoded result row (cells in [`targets`](Self::targets) order).
    pub(crate) fn row(&self, cells: Vec<Value>) -> Result<BucketRow> {
        let bad = |why: String| Error::new(ErrorKind::Unexpected, why);
        if cells.len() != self.targets.len() {
            return Err(bad(format!(
                "a bucket row of {} cells; expected {}",
                cells.len(),
                self.targets.len()
            )));
        }
        let mut cells = cells.into_iter();
        let mut next = || cells.next().unwrap_or(Value::Null);
        let count = |v: Value, what: &str| -> Result<u64> {
            v.as_i64()
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| bad(format!("{what} is {v:?}, not a count")))
        };
        let start = match next() {
            Value::Timestamp(t) => t,
            Value::Int(secs) => DateTime::from_timestamp(secs, 0)
                .ok_or_else(|| bad(format!("bucket start {secs} s is out of range")))?,
            other => return Err(bad(format!("bucket start is {other:?}, not a time"))),
        };
        let key: Vec<Value> = (0..self.dimensions).map(|_| next()).collect();
        let events = count(next(), "count(*)")?;
        let mut partials = Vec::with_capacity(self.layout.len());
        for l in &self.layout {
            partials.push(match l {
                Layout::Count => Partial::Count,
                Layout::Sum => {
                    let sum = next();
                    let values = count(next(), "a sum's value count")?;
                    Partial::Sum { sum, values }
                }
                Layout::Extreme => Partial::Extreme(next()),
            });
        }
        Ok(BucketRow::new(start, key, events).with_partials(partials))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::Postgres;
    use chrono::Utc;
    use livetable_core::{Metric, Window};
    use std::time::Duration;

    const PG: &Postgres = &Postgres;

    fn pg(table: &str, spec: &Aggregate) -> Result<DirectStatement> {
        DirectStatement::new(PG, table, spec, None, &Storages::default())
    }

    fn spec() -> Aggregate {
        Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(60))
            .dimension("host", DataType::Text)
            .dimension("port", DataType::Int)
            .field("size", DataType::Int)
            .field("lat", DataType::Float)
            .metric(Metric::count("count"))
            .metric(Metric::sum("size", "size"))
            .metric(Metric::avg("lat", "lat"))
            .metric(Metric::count_distinct("ports", "port"))
            .filter(Filter::eq("size", Value::Null))
            .filter(Filter::is_in("port", [Value::Int(80), Value::Null]))
            .order_by("size", Direction::Desc)
            .limit(10)
            .build()
            .unwrap()
    }

    #[test]
    fn quotes_identifiers_and_rejects_what_postgres_cannot_hold() {
        assert_eq!(PG.quote_ident(r#"a"b"#, "column").unwrap(), r#""a""b""#);
        assert_eq!(
            quote_table(PG, "public.packets").unwrap(),
            r#""public"."packets""#
        );
        assert!(quote_table(PG, "a.b.c").is_err());
        assert!(PG.quote_ident("x\0", "column").is_err());
        let long = "x".repeat(64);
        let e = PG.quote_ident(&long, "column").unwrap_err();
        assert!(e.message().contains("63-byte"), "{e}");
    }

    #[test]
    fn renders_one_parameterised_statement() {
        let st = pg("public.t", &spec()).unwrap();
        let window = Window::ending_at(Utc::now(), Duration::from_secs(60)).unwrap();
        let ctx = FetchContext::new(window)
            .with_filters(vec![
                Filter::range("host", Some(Value::from("a")), None),
                Filter::is_in("port", [443, 80]),
            ])
            .with_limit(Some(5));
        let Rendered { sql, params } = st.render(&ctx).unwrap();
        assert_eq!(
            sql,
            "SELECT \"host\", \"port\", count(*) AS \"count\", sum(\"size\")::int8 AS \"size\", \
             avg(\"lat\")::float8 AS \"lat\", count(DISTINCT \"port\") AS \"ports\" \
             FROM \"public\".\"t\" WHERE \"ts\" >= $1 AND \"ts\" < $2 \
             AND \"size\" IS NULL AND (\"port\" = ANY($3) OR \"port\" IS NULL) \
             AND \"host\" COLLATE \"C\" >= $4 AND \"port\" = ANY($5) \
             GROUP BY \"host\", \"port\" \
             ORDER BY 4 DESC NULLS LAST, \"host\" COLLATE \"C\" ASC NULLS FIRST, \"port\" ASC NULLS FIRST \
             LIMIT $6"
        );
        assert_eq!(params.len(), 6);
    }

    #[test]
    fn the_text_depends_on_the_view_shape_not_its_values() {
        let st = pg("t", &spec()).unwrap();
        let window = Window::ending_at(Utc::now(), Duration::from_secs(60)).unwrap();
        let view = |host: &str, limit: usize| {
            FetchContext::new(window)
                .with_filters(vec![Filter::eq("host", host)])
                .with_limit(Some(limit))
        };
        let a = st.render(&view("a", 3)).unwrap().sql;
        assert_eq!(a, st.render(&view("'; DROP TABLE t; --", 9)).unwrap().sql);
        assert!(!a.contains("DROP"));
        // A null value is another shape (`IS NULL`), so it gets its own statement.
        let null = FetchContext::new(window).with_filters(vec![Filter::eq("host", Value::Null)]);
        assert!(
            st.render(&null)
                .unwrap()
                .sql
                .contains("\"host\" IS NULL AND")
                || st
                    .render(&null)
                    .unwrap()
                    .sql
                    .contains("\"host\" IS NULL GROUP")
        );
    }

    #[test]
    fn renders_the_bucketed_statement() {
        let spec = Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(60))
            .dimension("host", DataType::Text)
            .field("size", DataType::Int)
            .field("lat", DataType::Float)
            .metric(Metric::count("count"))
            .metric(Metric::avg("size", "size"))
            .metric(Metric::max("lat", "lat"))
            .filter(Filter::is_in("size", [Value::Int(1), Value::Null]))
            .order_by("size", Direction::Desc)
            .limit(10)
            .build()
            .unwrap();
        let b = BucketStatement::new(PG, "public.t", &spec, &Storages::default()).unwrap();
        assert_eq!(
            b.sql(),
            "SELECT date_bin($1::interval, \"ts\", '1970-01-01 00:00:00+00'), \"host\", count(*), \
             sum(\"size\")::int8, count(\"size\"), max(\"lat\") \
             FROM \"public\".\"t\" WHERE \"ts\" >= $2 AND \"ts\" < $3 \
             AND (\"size\" = ANY($4) OR \"size\" IS NULL) GROUP BY 1, \"host\""
        );
        let window = Window::ending_at(Utc::now(), Duration::from_secs(60)).unwrap();
        let r = b
            .render(&BucketRequest::new(window, Duration::from_secs(10)))
            .unwrap();
        assert_eq!(r.params[0], Param::Interval(Duration::from_secs(10)));
        assert_eq!(r.params[1], Param::Time(window.start));
        assert_eq!(r.params.len(), 4);
        // A row: bucket, host, count(*), sum, count(size), max.
        let t = window.start;
        let row = b
            .row(vec![
                Value::Timestamp(t),
                Value::from("a"),
                Value::Int(3),
                Value::Int(7),
                Value::Int(2),
                Value::Float(1.5),
            ])
            .unwrap();
        assert_eq!(row.events, 3);
        assert_eq!(
            row.partials,
            vec![
                Partial::Count,
                Partial::Sum {
                    sum: Value::Int(7),
                    values: 2
                },
                Partial::Extreme(Value::Float(1.5))
            ]
        );
        assert!(b.row(vec![Value::Null]).is_err());
    }

    #[test]
    fn a_grouping_has_fewer_group_by_columns_and_filters_on_every_dimension() {
        let window = Window::ending_at(Utc::now(), Duration::from_secs(60)).unwrap();
        let by_port = |positions: &[usize]| {
            DirectStatement::new(PG, "t", &spec(), Some(positions), &Storages::default()).unwrap()
        };
        // Grouped by port: host, left out, is still a viewer's filter (before the
        // roll-up), and the static filters stay.
        let st = by_port(&[1]);
        let ctx = FetchContext::new(window).with_filters(vec![Filter::eq("host", "a")]);
        assert_eq!(
            st.render(&ctx).unwrap().sql,
            "SELECT \"port\", count(*) AS \"count\", sum(\"size\")::int8 AS \"size\", \
             avg(\"lat\")::float8 AS \"lat\", count(DISTINCT \"port\") AS \"ports\" \
             FROM \"t\" WHERE \"ts\" >= $1 AND \"ts\" < $2 \
             AND \"size\" IS NULL AND (\"port\" = ANY($3) OR \"port\" IS NULL) \
             AND \"host\" = $4 \
             GROUP BY \"port\" ORDER BY 3 DESC NULLS LAST, \"port\" ASC NULLS FIRST LIMIT $5"
        );
        assert_eq!(st.schema(), &spec().schema().grouped(&[1]).unwrap());
        // Reordered: the key columns in the order asked for.
        let st = by_port(&[1, 0]);
        let sql = st.render(&FetchContext::new(window)).unwrap().sql;
        assert!(
            sql.starts_with("SELECT \"port\", \"host\", count(*)"),
            "{sql}"
        );
        assert!(
            sql.contains(
                "GROUP BY \"port\", \"host\" ORDER BY 4 DESC NULLS LAST, \
                          \"port\" ASC NULLS FIRST, \"host\" COLLATE \"C\" ASC NULLS FIRST"
            ),
            "{sql}"
        );
        // Not a grouping of the dimensions.
        for bad in [&[][..], &[2], &[0, 0]] {
            let e = DirectStatement::new(PG, "t", &spec(), Some(bad), &Storages::default())
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidParameter, "{bad:?}: {e}");
        }
    }

    #[test]
    fn viewer_filters_on_metrics_are_rejected() {
        let st = pg("t", &spec()).unwrap();
        let window = Window::ending_at(Utc::now(), Duration::from_secs(60)).unwrap();
        let ctx = FetchContext::new(window).with_filters(vec![Filter::eq("count", 3)]);
        let e = st.render(&ctx).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidParameter);
        assert!(e.message().contains("`host`, `port`"), "{e}");
    }
}
