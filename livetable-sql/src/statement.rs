//! Builds the SQL text and bind parameters of an [`Aggregate`] fetch.
//!
//! Identifiers come only from the validated spec and are quoted here; every value
//! (window bounds, filter values, the limit) is a bind parameter. The text depends only
//! on the spec and on the *shape* of the viewer's filters (which columns, which
//! operators, whether a `Null` is matched), so sqlx's per-connection cache of prepared
//! statements, keyed by the text, prepares each shape once.
//!
//! The statement reproduces [`Aggregate`]'s semantics exactly:
//! - `start <= time < end`;
//! - text keys sort by bytes (`COLLATE "C"`), `Null` first ascending and last
//!   descending (written out: PostgreSQL's defaults are the opposite);
//! - the dimensions break ties, ascending;
//! - `eq` / `in` match `Null` to `Null` (`IS NULL`), a range never matches `Null`;
//! - `sum` over integers is cast back to `int8` (the cast fails instead of wrapping
//!   when the sum overflows), `avg` is `float8`.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use livetable_core::{
    Aggregate, DataType, Direction, Error, ErrorKind, FetchContext, Filter, MetricKind, Result,
    Value,
};
use sqlx::Arguments as _;
use sqlx::postgres::PgArguments;

/// PostgreSQL truncates longer identifiers (NAMEDATALEN - 1), which could silently
/// name another column.
const MAX_IDENT_BYTES: usize = 63;

/// Quotes one identifier: `"` doubled, the whole in double quotes. Rejects names
/// PostgreSQL cannot hold (empty, a NUL byte, longer than 63 bytes).
pub(crate) fn quote_ident(name: &str, what: &str) -> Result<String> {
    let bad = |why: &str| {
        Err(
            Error::invalid_spec(format!("{what} `{}` {why}", name.escape_debug()))
                .with_context("column", name),
        )
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.contains('\0') {
        return bad("contains a NUL character, which PostgreSQL identifiers cannot hold");
    }
    if name.len() > MAX_IDENT_BYTES {
        return bad("is longer than PostgreSQL's 63-byte identifier limit");
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// Quotes a table name, `table` or `schema.table`, each part as an identifier.
pub(crate) fn quote_table(name: &str) -> Result<String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 2 {
        return Err(Error::invalid_spec(format!(
            "table `{name}` has more than two parts; write `table` or `schema.table`"
        ))
        .with_context("table", name));
    }
    let quoted = parts
        .iter()
        .map(|p| quote_ident(p, "table name part"))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.with_context("table", name))?;
    Ok(quoted.join("."))
}

/// One bind parameter, before encoding.
#[derive(Clone, Debug, PartialEq)]
enum Param {
    Time(DateTime<Utc>),
    Scalar(Value),
    /// The non-null values of an `in` filter, all of `DataType`.
    Array(DataType, Vec<Value>),
    Limit(Option<i64>),
}

/// The parts of one spec's statement that do not depend on the view.
#[derive(Debug)]
pub(crate) struct AggregateStatement {
    /// `SELECT … FROM … WHERE time >= $1 AND time < $2`, then the static filters.
    head: String,
    /// The static filters' values, bound as `$3…`.
    static_params: Vec<Param>,
    /// ` GROUP BY … ORDER BY …`.
    tail: String,
    /// The dimensions: name, quoted name, type (for the viewer's filters).
    dimensions: Vec<(String, String, DataType)>,
    spec_limit: Option<usize>,
}

impl AggregateStatement {
    /// Prepares the view-independent parts for `spec` over `table`.
    pub(crate) fn new(table: &str, spec: &Aggregate) -> Result<Self> {
        let table = quote_table(table)?;
        let time = quote_ident(spec.time_column(), "time column")?;
        let input = |name: &str| quote_ident(name, "column");

        let mut select = Vec::new();
        let mut dimensions = Vec::new();
        for d in spec.dimensions() {
            let q = input(&d.name)?;
            select.push(q.clone());
            dimensions.push((d.name.clone(), q, d.data_type));
        }
        for (m, input_pos) in spec.metrics().iter().zip(spec.metric_inputs()) {
            let alias = quote_ident(&m.name, "metric")?;
            let column = match (input_pos, &m.column) {
                (Some(_), Some(c)) => Some((input(c)?, spec.input_type(c))),
                _ => None,
            };
            let expr = match (m.kind, column) {
                (MetricKind::Count, _) => "count(*)".to_owned(),
                (MetricKind::Sum, Some((c, Some(DataType::Int)))) => format!("sum({c})::int8"),
                (MetricKind::Sum, Some((c, _))) => format!("sum({c})::float8"),
                (MetricKind::Avg, Some((c, _))) => format!("avg({c})::float8"),
                (MetricKind::Min, Some((c, _))) => format!("min({c})"),
                (MetricKind::Max, Some((c, _))) => format!("max({c})"),
                (MetricKind::CountDistinct, Some((c, _))) => format!("count(DISTINCT {c})"),
                (kind, _) => {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "metric `{}`: {} is not supported by the PostgreSQL backend",
                            m.name,
                            kind.as_str()
                        ),
                    ));
                }
            };
            select.push(format!("{expr} AS {alias}"));
        }

        let mut head = format!(
            "SELECT {} FROM {table} WHERE {time} >= $1 AND {time} < $2",
            select.join(", ")
        );
        let mut static_params = Vec::new();
        for f in spec.filters() {
            let t = spec.input_type(f.column()).ok_or_else(|| {
                Error::invalid_spec(format!("filter on unknown column `{}`", f.column()))
            })?;
            push_filter(&mut head, &mut static_params, 2, &input(f.column())?, t, f);
        }

        // Order keys, then every dimension ascending as the tie-break.
        let mut order = Vec::new();
        let dim_key = |(_, q, t): &(String, String, DataType), dir: Direction| {
            let collate = if *t == DataType::Text {
                " COLLATE \"C\""
            } else {
                ""
            };
            format!("{q}{collate} {}", direction_sql(dir))
        };
        for o in spec.order_by() {
            if let Some(d) = dimensions.iter().find(|(n, _, _)| *n == o.column) {
                order.push(dim_key(d, o.direction));
            } else if let Some(i) = spec.schema().index_of(&o.column) {
                // A metric: by position, so an input column of the same name cannot
                // shadow the output.
                order.push(format!("{} {}", i + 1, direction_sql(o.direction)));
            }
        }
        for d in &dimensions {
            if !spec.order_by().iter().any(|o| o.column == d.0) {
                order.push(dim_key(d, Direction::Asc));
            }
        }
        let group: Vec<&str> = dimensions.iter().map(|(_, q, _)| q.as_str()).collect();
        let tail = format!(
            " GROUP BY {} ORDER BY {}",
            group.join(", "),
            order.join(", ")
        );

        Ok(AggregateStatement {
            head,
            static_params,
            tail,
            dimensions,
            spec_limit: spec.limit(),
        })
    }

    /// The SQL text and its bind parameters for one fetch.
    pub(crate) fn render(&self, ctx: &FetchContext) -> Result<(String, PgArguments)> {
        let mut sql = String::with_capacity(self.head.len() + self.tail.len() + 64);
        sql.push_str(&self.head);
        let mut params = vec![Param::Time(ctx.window.start), Param::Time(ctx.window.end)];
        params.extend(self.static_params.iter().cloned());
        for f in &ctx.filters {
            let Some((_, q, t)) = self.dimensions.iter().find(|(n, _, _)| n == f.column()) else {
                let names: Vec<String> = self
                    .dimensions
                    .iter()
                    .map(|(n, _, _)| format!("`{n}`"))
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
            let f = f.clone().normalised(*t)?;
            push_filter(&mut sql, &mut params, 0, q, *t, &f);
        }
        sql.push_str(&self.tail);
        let limit = match (self.spec_limit, ctx.limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        params.push(Param::Limit(
            limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        ));
        let _ = write!(sql, " LIMIT ${}", params.len());
        Ok((sql, encode(&params)?))
    }
}

fn direction_sql(dir: Direction) -> &'static str {
    match dir {
        Direction::Asc => "ASC NULLS FIRST",
        Direction::Desc => "DESC NULLS LAST",
    }
}

/// Appends ` AND <predicate>` for `f` on the quoted column `q` of type `t`, pushing its
/// values onto `params`. `offset` is the number of parameters bound before `params[0]`,
/// so the last pushed value is `$(offset + params.len())`.
fn push_filter(
    sql: &mut String,
    params: &mut Vec<Param>,
    offset: usize,
    q: &str,
    t: DataType,
    f: &Filter,
) {
    let placeholder = |params: &Vec<Param>| offset + params.len();
    match f {
        Filter::Eq { value, .. } if value.is_null() => {
            let _ = write!(sql, " AND {q} IS NULL");
        }
        Filter::Eq { value, .. } => {
            params.push(Param::Scalar(value.clone()));
            let _ = write!(sql, " AND {q} = ${}", placeholder(params));
        }
        Filter::In { values, .. } => {
            let has_null = values.iter().any(Value::is_null);
            let non_null: Vec<Value> = values.iter().filter(|v| !v.is_null()).cloned().collect();
            if non_null.is_empty() {
                let _ = write!(sql, " AND {q} IS NULL");
            } else {
                params.push(Param::Array(t, non_null));
                let n = placeholder(params);
                if has_null {
                    let _ = write!(sql, " AND ({q} = ANY(${n}) OR {q} IS NULL)");
                } else {
                    let _ = write!(sql, " AND {q} = ANY(${n})");
                }
            }
        }
        Filter::Range { gte, lt, .. } => {
            // Text ranges compare bytes, like `Value`'s order.
            let collate = if t == DataType::Text {
                " COLLATE \"C\""
            } else {
                ""
            };
            for (bound, op) in [(gte, ">="), (lt, "<")] {
                if let Some(v) = bound {
                    params.push(Param::Scalar(v.clone()));
                    let n = placeholder(params);
                    let _ = write!(sql, " AND {q}{collate} {op} ${n}");
                }
            }
        }
    }
}

/// Encodes the parameters in order.
fn encode(params: &[Param]) -> Result<PgArguments> {
    let mut args = PgArguments::default();
    for p in params {
        let added = match p {
            Param::Time(t) => args.add(*t),
            Param::Limit(n) => args.add(*n),
            Param::Scalar(v) => add_scalar(&mut args, v),
            Param::Array(t, values) => add_array(&mut args, *t, values),
        };
        added.map_err(|e| {
            Error::new(
                ErrorKind::Unexpected,
                format!("cannot bind a parameter: {e}"),
            )
            .with_context("backend", crate::error::BACKEND)
        })?;
    }
    Ok(args)
}

type AddResult = std::result::Result<(), sqlx::error::BoxDynError>;

fn add_scalar(args: &mut PgArguments, v: &Value) -> AddResult {
    match v {
        Value::Bool(b) => args.add(*b),
        Value::Int(i) => args.add(*i),
        Value::Float(f) => args.add(*f),
        Value::Text(s) => args.add(s.as_str()),
        Value::Timestamp(t) => args.add(*t),
        Value::Ip(ip) => args.add(*ip),
        // Null values never become parameters (they are `IS NULL`), and a range drops
        // null bounds; binding an untyped null would be ambiguous.
        Value::Null => Err("a null value cannot be bound as a filter value".into()),
    }
}

fn add_array(args: &mut PgArguments, t: DataType, values: &[Value]) -> AddResult {
    fn collect<T>(
        values: &[Value],
        f: impl Fn(&Value) -> Option<T>,
    ) -> std::result::Result<Vec<T>, sqlx::error::BoxDynError> {
        values
            .iter()
            .map(|v| f(v).ok_or_else(|| format!("{v:?} does not fit the filtered column").into()))
            .collect()
    }
    match t {
        DataType::Bool => args.add(collect(values, |v| match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        })?),
        DataType::Int => args.add(collect(values, Value::as_i64)?),
        DataType::Float => args.add(collect(values, |v| match v {
            Value::Float(f) => Some(*f),
            _ => None,
        })?),
        DataType::Text => args.add(collect(values, |v| v.as_str().map(str::to_owned))?),
        DataType::Timestamp => args.add(collect(values, |v| match v {
            Value::Timestamp(t) => Some(*t),
            _ => None,
        })?),
        DataType::Ip => args.add(collect(values, |v| match v {
            Value::Ip(ip) => Some(*ip),
            _ => None,
        })?),
        other => Err(format!("filters on {other} columns are not supported").into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use livetable_core::{Metric, Window};
    use std::time::Duration;

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
        assert_eq!(quote_ident(r#"a"b"#, "column").unwrap(), r#""a""b""#);
        assert_eq!(
            quote_table("public.packets").unwrap(),
            r#""public"."packets""#
        );
        assert!(quote_table("a.b.c").is_err());
        assert!(quote_ident("x\0", "column").is_err());
        let long = "x".repeat(64);
        let e = quote_ident(&long, "column").unwrap_err();
        assert!(e.message().contains("63-byte"), "{e}");
    }

    #[test]
    fn renders_one_parameterised_statement() {
        let st = AggregateStatement::new("public.t", &spec()).unwrap();
        let window = Window::ending_at(Utc::now(), Duration::from_secs(60)).unwrap();
        let ctx = FetchContext::new(window)
            .with_filters(vec![
                Filter::range("host", Some(Value::from("a")), None),
                Filter::is_in("port", [443, 80]),
            ])
            .with_limit(Some(5));
        let (sql, args) = st.render(&ctx).unwrap();
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
        assert_eq!(args.len(), 6);
    }

    #[test]
    fn the_text_depends_on_the_view_shape_not_its_values() {
        let st = AggregateStatement::new("t", &spec()).unwrap();
        let window = Window::ending_at(Utc::now(), Duration::from_secs(60)).unwrap();
        let view = |host: &str, limit: usize| {
            FetchContext::new(window)
                .with_filters(vec![Filter::eq("host", host)])
                .with_limit(Some(limit))
        };
        let a = st.render(&view("a", 3)).unwrap().0;
        assert_eq!(a, st.render(&view("'; DROP TABLE t; --", 9)).unwrap().0);
        assert!(!a.contains("DROP"));
        // A null value is another shape (`IS NULL`), so it gets its own statement.
        let null = FetchContext::new(window).with_filters(vec![Filter::eq("host", Value::Null)]);
        assert!(
            st.render(&null).unwrap().0.contains("\"host\" IS NULL AND")
                || st
                    .render(&null)
                    .unwrap()
                    .0
                    .contains("\"host\" IS NULL GROUP")
        );
    }

    #[test]
    fn viewer_filters_on_metrics_are_rejected() {
        let st = AggregateStatement::new("t", &spec()).unwrap();
        let window = Window::ending_at(Utc::now(), Duration::from_secs(60)).unwrap();
        let ctx = FetchContext::new(window).with_filters(vec![Filter::eq("count", 3)]);
        let e = st.render(&ctx).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidParameter);
        assert!(e.message().contains("`host`, `port`"), "{e}");
    }
}
