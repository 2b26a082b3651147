//! The `query` part of a search: the window as a `range` on the time field and every
//! filter as a `term` / `terms` / `range` / `exists` clause in `bool.filter`.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use livetable_core::{Error, Filter, Result, Value, Window};
use serde_json::{Value as Json, json};

/// A window bound for a `date` field. Elasticsearch stores dates in milliseconds, so a
/// bound is rounded **up** to the next millisecond: then exactly the stored instants
/// `t` with `start <= t < end` match `gte`/`lt` (rounding down would let in events up
/// to 1 ms before `start`).
pub(crate) fn time_bound(t: DateTime<Utc>) -> String {
    let sub_ms = t.timestamp_subsec_nanos() % 1_000_000;
    let t = if sub_ms == 0 {
        t
    } else {
        t + TimeDelta::nanoseconds(i64::from(1_000_000 - sub_ms))
    };
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A value as Elasticsearch expects it in a query: text, numbers and booleans as
/// themselves, timestamps as RFC 3339 UTC strings, IP addresses as strings.
pub(crate) fn value_json(v: &Value, column: &str) -> Result<Json> {
    Ok(match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(Error::invalid_parameter(format!(
                    "filter on `{column}`: {f} cannot be sent to Elasticsearch (JSON has no \
                     NaN or infinity)"
                ))
                .with_context("column", column));
            }
            json!(f)
        }
        Value::Text(s) => json!(s),
        Value::Timestamp(t) => json!(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        Value::Ip(ip) => json!(ip.to_string()),
    })
}

/// "the field is missing": how Elasticsearch says `Null`.
fn missing(column: &str) -> Json {
    json!({"bool": {"must_not": [{"exists": {"field": column}}]}})
}

/// One filter as a query clause, with [`Filter`]'s semantics: `Eq`/`In` with `Null`
/// match a missing field; `Range` never matches a missing field (as in Elasticsearch).
pub(crate) fn filter_json(f: &Filter) -> Result<Json> {
    Ok(match f {
        Filter::Eq { column, value } if value.is_null() => missing(column),
        Filter::Eq { column, value } => json!({"term": {column: value_json(value, column)?}}),
        Filter::In { column, values } => {
            let has_null = values.iter().any(Value::is_null);
            let terms = values
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| value_json(v, column))
                .collect::<Result<Vec<_>>>()?;
            let terms_clause = json!({"terms": {column: terms}});
            match (has_null, terms.is_empty()) {
                (false, _) => terms_clause,
                (true, true) => missing(column),
                (true, false) => json!({"bool": {
                    "should": [terms_clause, missing(column)],
                    "minimum_should_match": 1
                }}),
            }
        }
        Filter::Range { column, gte, lt }
            if matches!(gte, Some(Value::Ip(_))) || matches!(lt, Some(Value::Ip(_))) =>
        {
            ip_range(column, gte.as_ref(), lt.as_ref())
        }
        Filter::Range { column, gte, lt } => {
            let bound = |v: &Value| match v {
                Value::Timestamp(t) => Ok(json!(time_bound(*t))),
                v => value_json(v, column),
            };
            let mut r = serde_json::Map::new();
            if let Some(v) = gte {
                r.insert("gte".into(), bound(v)?);
            }
            if let Some(v) = lt {
                r.insert("lt".into(), bound(v)?);
            }
            json!({"range": {column: r}})
        }
    })
}

/// An IP range with livetable's order (every IPv4 address before every IPv6 one).
/// Elasticsearch orders addresses by their 16-byte form, where IPv4 sits in the
/// `::ffff:0:0/96` block — after `::1`, before `2001:db8::` — so a range whose bounds
/// are of different families, or a one-sided one, is split by family: the IPv4 part is
/// closed inside the IPv4 block, the IPv6 part excludes that block.
fn ip_range(column: &str, gte: Option<&Value>, lt: Option<&Value>) -> Json {
    const V4_FIRST: &str = "0.0.0.0";
    const V4_LAST: &str = "255.255.255.255";
    let v4 = |v: Option<&Value>| match v {
        Some(Value::Ip(ip)) if ip.is_ipv4() => Some(ip.to_string()),
        _ => None,
    };
    let v6 = |v: Option<&Value>| match v {
        Some(Value::Ip(ip)) if ip.is_ipv6() => Some(ip.to_string()),
        _ => None,
    };
    let v4_block = json!({"range": {column: {"gte": V4_FIRST, "lte": V4_LAST}}});
    // IPv4 addresses match when the lower bound is absent or IPv4.
    let v4_part = (gte.is_none() || v4(gte).is_some()).then(|| {
        let lo = v4(gte).unwrap_or_else(|| V4_FIRST.to_owned());
        match v4(lt) {
            Some(hi) => json!({"range": {column: {"gte": lo, "lt": hi}}}),
            None => json!({"range": {column: {"gte": lo, "lte": V4_LAST}}}),
        }
    });
    // IPv6 addresses match when the upper bound is absent or IPv6.
    let v6_part = (lt.is_none() || v6(lt).is_some()).then(|| {
        let mut r = serde_json::Map::new();
        r.insert(
            "gte".into(),
            json!(v6(gte).unwrap_or_else(|| "::".to_owned())),
        );
        if let Some(hi) = v6(lt) {
            r.insert("lt".into(), json!(hi));
        }
        json!({"bool": {"filter": [{"range": {column: r}}], "must_not": [v4_block]}})
    });
    match (v4_part, v6_part) {
        (Some(a), Some(b)) => json!({"bool": {"should": [a, b], "minimum_should_match": 1}}),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        // gte is IPv6 and lt IPv4: empty in livetable's order.
        (None, None) => json!({"bool": {"must_not": [{"match_all": {}}]}}),
    }
}

/// `{"bool": {"filter": [window, static filters…, viewer filters…]}}`.
pub(crate) fn query<'a>(
    time_column: &str,
    window: &Window,
    filters: impl IntoIterator<Item = &'a Filter>,
) -> Result<Json> {
    let mut clauses = vec![json!({"range": {time_column: {
        "gte": time_bound(window.start),
        "lt": time_bound(window.end),
    }}})];
    for f in filters {
        clauses.push(filter_json(f)?);
    }
    Ok(json!({"bool": {"filter": clauses}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_round_up_to_the_millisecond() {
        let t: DateTime<Utc> = "2026-11-28T11:00:00.0005Z".parse().unwrap();
        assert_eq!(time_bound(t), "2026-11-28T11:00:00.001Z");
        let t: DateTime<Utc> = "2026-11-28T11:00:00Z".parse().unwrap();
        assert_eq!(time_bound(t), "2026-11-28T11:00:00.000Z");
    }

    #[test]
    fn null_means_missing() {
        assert_eq!(
            filter_json(&Filter::eq("p", Value::Null)).unwrap(),
            json!({"bool": {"must_not": [{"exists": {"field": "p"}}]}})
        );
        let f = Filter::In {
            column: "p".into(),
            values: vec![Value::Null, Value::from("TCP")],
        };
        assert_eq!(
            filter_json(&f).unwrap(),
            json!({"bool": {"should": [{"terms": {"p": ["TCP"]}},
                {"bool": {"must_not": [{"exists": {"field": "p"}}]}}], "minimum_should_match": 1}})
        );
        assert!(filter_json(&Filter::eq("x", f64::NAN)).is_err());
    }
}
