//! Encodes a statement's [`Param`]s as PostgreSQL bind parameters.

use livetable_core::{DataType, Error, ErrorKind, Result, Value};
use sqlx::Arguments as _;
use sqlx::postgres::PgArguments;

use crate::dialect::Param;

/// Encodes the parameters in order.
pub(crate) fn pg_arguments(params: &[Param]) -> Result<PgArguments> {
    let mut args = PgArguments::default();
    for p in params {
        let added = match p {
            Param::Time(t) => args.add(*t),
            Param::Limit(n) => args.add(*n),
            Param::Value(v) => add_scalar(&mut args, v),
            Param::Bytes(b) => args.add(b.as_slice()),
            Param::Array(t, values) => add_array(&mut args, *t, values),
            Param::Interval(d) => args.add(*d),
            Param::Seconds(s) => args.add(*s),
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
