//! Encodes a statement's [`Param`]s as MySQL bind parameters.

use livetable_core::{Error, ErrorKind, Result, Value};
use sqlx::Arguments as _;
use sqlx::mysql::MySqlArguments;

use crate::dialect::Param;

/// Encodes the parameters in order.
pub(crate) fn arguments(params: &[Param]) -> Result<MySqlArguments> {
    let mut args = MySqlArguments::default();
    for p in params {
        let added = match p {
            // The session time zone is UTC, so a UTC DATETIME compares right with both
            // DATETIME and TIMESTAMP columns.
            Param::Time(t) => args.add(t.naive_utc()),
            Param::Limit(n) => args.add(n.unwrap_or(i64::MAX)),
            Param::Seconds(s) => args.add(*s),
            Param::Bytes(b) => args.add(b.as_slice()),
            Param::Value(v) => match v {
                Value::Bool(b) => args.add(*b),
                Value::Int(i) => args.add(*i),
                Value::Float(f) => args.add(*f),
                Value::Text(s) => args.add(s.as_str()),
                Value::Timestamp(t) => args.add(t.naive_utc()),
                Value::Ip(ip) => args.add(ip.to_string()),
                Value::Null => Err("a null value cannot be bound as a filter value".into()),
            },
            Param::Array(..) | Param::Interval(_) => {
                Err("MySQL has no array or interval parameters".into())
            }
        };
        added.map_err(|e| {
            Error::new(
                ErrorKind::Unexpected,
                format!("cannot bind a parameter: {e}"),
            )
            .with_context("backend", super::error::BACKEND)
        })?;
    }
    Ok(args)
}
