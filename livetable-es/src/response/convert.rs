//! JSON values from Elasticsearch back to [`Value`]s of a column's type.

use chrono::{DateTime, Utc};
use livetable_core::{DataType, Error, ErrorKind, Result, Value};
use serde_json::Value as Json;

/// Converts a key or cell to `t`: keyword → text, `ip` → IP, integers → int, numbers →
/// float, `date` → timestamp from epoch milliseconds or an RFC 3339 string, booleans
/// (also `1`/`0` and `"true"`/`"false"`, as `terms` keys come). `None` when it does not fit.
pub(crate) fn to_value(json: &Json, t: DataType) -> Option<Value> {
    Some(match (t, json) {
        (_, Json::Null) => Value::Null,
        (DataType::Text, Json::String(s)) => Value::Text(s.clone()),
        (DataType::Int, Json::Number(n)) => Value::Int(match n.as_i64() {
            Some(i) => i,
            None => float_to_int(n.as_f64()?)?,
        }),
        (DataType::Float, Json::Number(n)) => Value::Float(n.as_f64()?),
        (DataType::Ip, Json::String(s)) => Value::Ip(s.parse().ok()?),
        (DataType::Timestamp, Json::Number(n)) => Value::Timestamp(millis(n.as_f64()?)?),
        (DataType::Timestamp, Json::String(s)) => Value::Timestamp(
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(millis))?,
        ),
        (DataType::Bool, Json::Bool(b)) => Value::Bool(*b),
        (DataType::Bool, Json::Number(n)) => Value::Bool(match n.as_i64()? {
            0 => false,
            1 => true,
            _ => return None,
        }),
        (DataType::Bool, Json::String(s)) => Value::Bool(s.parse().ok()?),
        // Other strings (e.g. a number as text) go through the core's lossless parsing.
        (t, Json::String(s)) => t.coerce(Value::Text(s.clone()))?,
        _ => return None,
    })
}

/// An integral float as an int (sums of integer fields come back as doubles).
pub(crate) fn float_to_int(f: f64) -> Option<i64> {
    // i64::MAX as f64 rounds up to 2^63, which is out of range, hence `<`.
    (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
}

fn millis(ms: f64) -> Option<DateTime<Utc>> {
    if !ms.is_finite() {
        return None;
    }
    let whole = ms.floor();
    let nanos = ((ms - whole) * 1e6).round() as i64;
    DateTime::from_timestamp_millis(whole as i64).map(|t| t + chrono::TimeDelta::nanoseconds(nanos))
}

/// [`to_value`], or an error naming the column and what arrived.
pub(crate) fn column_value(json: &Json, t: DataType, column: &str) -> Result<Value> {
    to_value(json, t).ok_or_else(|| {
        Error::new(
            ErrorKind::Unexpected,
            format!(
                "column `{column}` is {t} but Elasticsearch returned {json}; check the field's \
                 mapping matches the declared type"
            ),
        )
        .with_context("column", column)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_convert_to_the_column_type() {
        assert_eq!(
            to_value(&json!("TCP"), DataType::Text),
            Some(Value::from("TCP"))
        );
        assert_eq!(
            to_value(&json!("10.0.0.9"), DataType::Ip),
            Some(Value::Ip("10.0.0.9".parse().unwrap()))
        );
        assert_eq!(to_value(&json!(443), DataType::Int), Some(Value::Int(443)));
        assert_eq!(
            to_value(&json!(4096.0), DataType::Int),
            Some(Value::Int(4096))
        );
        assert_eq!(to_value(&json!(1.5), DataType::Int), None);
        let t = DateTime::from_timestamp_millis(1_795_000_000_123).unwrap();
        assert_eq!(
            to_value(&json!(1_795_000_000_123_i64), DataType::Timestamp),
            Some(Value::Timestamp(t))
        );
        assert_eq!(
            to_value(&json!(t.to_rfc3339()), DataType::Timestamp),
            Some(Value::Timestamp(t))
        );
        assert_eq!(to_value(&json!(1), DataType::Bool), Some(Value::Bool(true)));
        assert_eq!(to_value(&json!(null), DataType::Ip), Some(Value::Null));
        assert_eq!(to_value(&json!(3), DataType::Text), None);
        assert!(column_value(&json!("x"), DataType::Ip, "src").is_err());
    }
}
