//! Search answers: partial-result flags, composite pages and top-N buckets, as rows.

use livetable_core::{DataType, Error, ErrorKind, MetricKind, Result, Row, Value};
use serde_json::Value as Json;

use super::convert::{column_value, float_to_int, to_value};
use crate::error::unexpected;
use crate::plan::{MetricPlan, Plan};

/// Parses a 2xx body; a body that is not JSON is an unexpected answer.
pub(crate) fn parse_json(body: &[u8]) -> Result<Json> {
    serde_json::from_slice(body).map_err(|e| {
        unexpected(format!(
            "Elasticsearch answered with a body that is not JSON ({e}); is the URL an \
             Elasticsearch or OpenSearch endpoint?"
        ))
        .with_source(e)
    })
}

/// Why an HTTP 200 answer holds only part of the data: `timed_out: true` or failed
/// shards. `None` when it is complete.
pub(crate) fn partial_reason(json: &Json) -> Option<String> {
    let mut reasons = Vec::new();
    if json["timed_out"].as_bool() == Some(true) {
        reasons.push("the search timed out on the server".to_owned());
    }
    let shards = &json["_shards"];
    let failed = shards["failed"].as_u64().unwrap_or(0);
    if failed > 0 {
        let total = shards["total"].as_u64().unwrap_or(failed);
        let first = &shards["failures"][0];
        let why = first["reason"]["reason"]
            .as_str()
            .or_else(|| first["reason"].as_str());
        reasons.push(match why {
            Some(why) => format!(
                "{failed} of {total} shards failed (index {}, shard {}: {why})",
                first["index"].as_str().unwrap_or("?"),
                first["shard"]
            ),
            None => format!("{failed} of {total} shards failed"),
        });
    }
    (!reasons.is_empty()).then(|| format!("{}; rows may be missing", reasons.join("; ")))
}

/// One composite page, its rows appended to a fetch's rows.
#[derive(Debug)]
pub(crate) struct Page {
    /// The key to send back as `after`; `None` when paging is over.
    pub(crate) after_key: Option<Json>,
    /// How many buckets the page held.
    pub(crate) buckets: usize,
    /// Set when the page is partial.
    pub(crate) partial: Option<String>,
}

fn groups(json: &mut Json) -> Result<&mut Json> {
    json.pointer_mut("/aggregations/groups").ok_or_else(|| {
        unexpected("the answer has no `aggregations.groups`; was the request rewritten by a proxy?")
    })
}

fn buckets(groups: &mut Json) -> Result<&mut Vec<Json>> {
    groups
        .get_mut("buckets")
        .and_then(Json::as_array_mut)
        .ok_or_else(|| unexpected("`aggregations.groups` has no `buckets` array"))
}

/// Walks one composite page: reads `after_key` and the partial flags, checks that
/// `out` stays within `max` once the page's buckets are added (else `too_many()`,
/// before converting anything), and appends `convert(bucket)` for every bucket.
pub(crate) fn composite_buckets<T>(
    body: &[u8],
    out: &mut Vec<T>,
    max: usize,
    too_many: impl FnOnce() -> Error,
    mut convert: impl FnMut(&mut Json) -> Result<T>,
) -> Result<Page> {
    let mut json = parse_json(body)?;
    let partial = partial_reason(&json);
    let groups = groups(&mut json)?;
    let after_key = groups.get_mut("after_key").map(Json::take);
    let buckets = buckets(groups)?;
    let n = buckets.len();
    if out.len() + n > max {
        return Err(too_many());
    }
    out.reserve(n);
    for bucket in buckets.iter_mut() {
        out.push(convert(bucket)?);
    }
    Ok(Page {
        after_key: after_key.filter(|k| !k.is_null()),
        buckets: n,
        partial,
    })
}

/// A composite bucket's `key` object.
pub(crate) fn composite_key(bucket: &mut Json) -> Result<&mut Json> {
    bucket
        .get_mut("key")
        .filter(|k| k.is_object())
        .ok_or_else(|| unexpected("a composite bucket has no `key` object"))
}

/// Appends the dimension values of a composite key, in the plan's order.
pub(crate) fn push_dims(plan: &Plan, key: &mut Json, values: &mut Vec<Value>) -> Result<()> {
    for (name, t) in &plan.dims {
        // A source absent from the key is a missing value, like `null`.
        let v = match key.get_mut(name.as_str()) {
            Some(j) => take_value(j, *t, name)?,
            None => Value::Null,
        };
        values.push(v);
    }
    Ok(())
}

/// Parses one composite page and appends its rows. Fails with
/// [`ErrorKind::LimitExceeded`] before converting anything when the rows would pass
/// `max_groups`.
pub(crate) fn composite_page(
    plan: &Plan,
    body: &[u8],
    rows: &mut Vec<Row>,
    max_groups: usize,
) -> Result<Page> {
    let too_many = || {
        Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "more than {max_groups} groups (max_groups); narrow the window or the filters, \
                 drop a high-cardinality dimension, use top-N mode, or raise max_groups"
            ),
        )
        .with_context("max_groups", max_groups)
    };
    composite_buckets(body, rows, max_groups, too_many, |bucket| {
        let mut values = Vec::with_capacity(plan.dims.len() + plan.metrics.len());
        push_dims(plan, composite_key(bucket)?, &mut values)?;
        push_metrics(plan, bucket, &mut values)?;
        Ok(Row::new(values))
    })
}

/// Top-N buckets (`terms` with a scalar key or `multi_terms` with an array key) as rows,
/// and the partial reason.
pub(crate) fn top_n(plan: &Plan, body: &[u8]) -> Result<(Vec<Row>, Option<String>)> {
    let mut json = parse_json(body)?;
    let partial = partial_reason(&json);
    let buckets = buckets(groups(&mut json)?)?;
    let mut rows = Vec::with_capacity(buckets.len());
    for bucket in buckets.iter_mut() {
        let mut values = Vec::with_capacity(plan.dims.len() + plan.metrics.len());
        let key = bucket
            .get_mut("key")
            .ok_or_else(|| unexpected("a bucket has no `key`"))?;
        match (key, plan.dims.as_slice()) {
            (Json::Array(parts), dims) if parts.len() == dims.len() => {
                for (j, (name, t)) in parts.iter_mut().zip(dims) {
                    values.push(take_value(j, *t, name)?);
                }
            }
            (j, [(name, t)]) if !j.is_array() => {
                // A bool `terms` key is 1/0 with `key_as_string` "true"/"false", which
                // `to_value` reads.
                values.push(take_value(j, *t, name)?);
            }
            (j, _) => {
                return Err(unexpected(format!(
                    "a bucket key {j} does not have one part per dimension ({})",
                    plan.dims.len()
                )));
            }
        }
        push_metrics(plan, bucket, &mut values)?;
        rows.push(Row::new(values));
    }
    Ok((rows, partial))
}

/// Converts a key part, moving strings out instead of copying them.
fn take_value(j: &mut Json, t: DataType, column: &str) -> Result<Value> {
    if let (DataType::Text, Json::String(s)) = (t, &mut *j) {
        return Ok(Value::Text(std::mem::take(s)));
    }
    column_value(j, t, column)
}

fn push_metrics(plan: &Plan, bucket: &Json, values: &mut Vec<Value>) -> Result<()> {
    for m in &plan.metrics {
        values.push(metric_value(m, bucket)?);
    }
    Ok(())
}

/// A metric from its sub-aggregation. `sum` of no value (`value_count` 0) is `Null`,
/// not Elasticsearch's `0.0`; `avg`/`min`/`max` of no value arrive as `null`.
pub(crate) fn metric_value(m: &MetricPlan, bucket: &Json) -> Result<Value> {
    let missing = || {
        unexpected(format!(
            "a bucket lacks the value of metric `{}` (aggregation `{}`)",
            m.column, m.agg
        ))
        .with_context("column", &m.column)
    };
    let v = match m.kind {
        MetricKind::Count => {
            return bucket["doc_count"]
                .as_i64()
                .map(Value::Int)
                .ok_or_else(missing);
        }
        MetricKind::Sum => {
            let n = m
                .count_agg
                .as_ref()
                .and_then(|n| bucket[n.as_str()]["value"].as_i64());
            if n == Some(0) {
                return Ok(Value::Null);
            }
            &bucket[m.agg.as_str()]["value"]
        }
        _ => bucket
            .get(m.agg.as_str())
            .and_then(|a| a.get("value"))
            .ok_or_else(missing)?,
    };
    if m.output == DataType::Int
        && let Some(f) = v.as_f64().filter(|_| !v.is_i64())
    {
        // Sums, minima and maxima of integer fields are doubles in the answer.
        return float_to_int(f).map(Value::Int).ok_or_else(|| {
            unexpected(format!(
                "metric `{}` is int but Elasticsearch returned {f}; is the field mapped \
                     as a float?",
                m.column
            ))
            .with_context("column", &m.column)
        });
    }
    match to_value(v, m.output) {
        Some(v) => Ok(v),
        None => column_value(v, m.output, &m.column),
    }
}
