//! Bucketed composite answers (a `date_histogram` source, then the dimensions) as
//! [`BucketRow`]s of mergeable partials.

use chrono::{DateTime, Utc};
use livetable_core::{
    BucketRow, DataType, Error, ErrorKind, MetricKind, Partial, Result, Value, Window,
};
use serde_json::Value as Json;

use super::search::{Page, composite_buckets, composite_key, metric_value, push_dims};
use crate::error::unexpected;
use crate::plan::{MetricPlan, Plan};

/// The largest integer a double holds exactly along with its neighbours (2^53 − 1):
/// a sum at or above 2^53 may already have been rounded by Elasticsearch.
const MAX_EXACT: f64 = 9_007_199_254_740_991.0;

/// How the time buckets of a request are laid out, to check the keys the server sends.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// The `date_histogram` source's name in the composite key.
    pub(crate) source: String,
    /// The bucket width in milliseconds (positive).
    pub(crate) width_ms: i64,
    /// The requested range: every bucket start falls in it.
    pub(crate) range: Window,
}

/// Parses one bucketed composite page and appends its rows. Fails with
/// [`ErrorKind::LimitExceeded`] before converting anything when the rows would pass
/// `max_rows`.
pub(crate) fn bucket_page(
    plan: &Plan,
    layout: &Layout,
    body: &[u8],
    rows: &mut Vec<BucketRow>,
    max_rows: usize,
) -> Result<Page> {
    let too_many = || {
        Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "more than {max_rows} (bucket, group) pairs (max_bucket_rows); shorten the \
                 retention, widen the buckets, drop a high-cardinality dimension, or raise \
                 max_bucket_rows"
            ),
        )
        .with_context("max_bucket_rows", max_rows)
    };
    composite_buckets(body, rows, max_rows, too_many, |bucket| {
        bucket_row(plan, layout, bucket)
    })
}

fn bucket_row(plan: &Plan, layout: &Layout, bucket: &mut Json) -> Result<BucketRow> {
    let key = composite_key(bucket)?;
    let start = bucket_start(layout, key.get(layout.source.as_str()))?;
    let mut dims = Vec::with_capacity(plan.dims.len());
    push_dims(plan, key, &mut dims)?;
    let events = bucket["doc_count"]
        .as_u64()
        .ok_or_else(|| unexpected("a composite bucket has no `doc_count`"))?;
    // Sized up front: collecting from an iterator of `Result`s would grow the vector.
    let mut partials = Vec::with_capacity(plan.metrics.len());
    for m in &plan.metrics {
        partials.push(partial(m, bucket, start)?);
    }
    Ok(BucketRow::new(start, dims, events).with_partials(partials))
}

/// The bucket start from the `date_histogram` key: epoch milliseconds, a multiple of
/// the width, inside the requested range. Anything else means the buckets are not the
/// ones asked for (an `offset` or `time_zone` added on the way, a proxy rewriting the
/// request), and merging them would shift data between buckets.
fn bucket_start(layout: &Layout, key: Option<&Json>) -> Result<DateTime<Utc>> {
    let name = &layout.source;
    let key = key.ok_or_else(|| {
        unexpected(format!(
            "a composite bucket has no `{name}` (time bucket) part in its key"
        ))
    })?;
    let ms = key
        .as_i64()
        .or_else(|| {
            key.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() <= MAX_EXACT)
                .map(|f| f as i64)
        })
        .ok_or_else(|| {
            unexpected(format!(
                "the time bucket key {key} is not epoch milliseconds; was a `format` added \
                 to the date_histogram source?"
            ))
        })?;
    let width = layout.width_ms;
    if ms.rem_euclid(width) != 0 {
        return Err(unexpected(format!(
            "the time bucket key {ms} is not a multiple of the bucket width ({width} ms) \
             since the epoch; an `offset` or `time_zone` must have been applied to the \
             date_histogram, and such buckets cannot be merged"
        )));
    }
    let start = DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| unexpected(format!("the time bucket key {ms} is out of range")))?;
    // A bucket holding rows of the range starts before its end, and at or after its
    // start, which is a bucket boundary.
    if start < layout.range.start || start >= layout.range.end {
        return Err(unexpected(format!(
            "the time bucket {} is outside the requested range {}; the range filter on \
             the time field was not applied",
            start.to_rfc3339(),
            layout.range
        )));
    }
    Ok(start)
}

/// One metric's partial from its sub-aggregations (`sum` + `value_count` for `sum` and
/// `avg`; `min`; `max`; nothing for `count`).
fn partial(m: &MetricPlan, bucket: &Json, start: DateTime<Utc>) -> Result<Partial> {
    let missing = |agg: &str| {
        unexpected(format!(
            "a bucket lacks the value of metric `{}` (aggregation `{agg}`)",
            m.column
        ))
        .with_context("column", &m.column)
    };
    Ok(match m.kind {
        MetricKind::Count => Partial::Count,
        MetricKind::Sum | MetricKind::Avg => {
            let n = m
                .count_agg
                .as_deref()
                .ok_or_else(|| missing("value_count"))?;
            let values = bucket[n]["value"].as_u64().ok_or_else(|| missing(n))?;
            if values == 0 {
                // Elasticsearch sums nothing to 0.0; livetable's empty sum is Null.
                return Ok(Partial::Sum {
                    sum: Value::Null,
                    values: 0,
                });
            }
            let f = bucket[m.agg.as_str()]["value"]
                .as_f64()
                .ok_or_else(|| missing(&m.agg))?;
            let sum = if m.input == Some(DataType::Int) {
                Value::Int(exact_int(f).ok_or_else(|| inexact_sum(m, f, start))?)
            } else {
                Value::Float(f)
            };
            Partial::Sum { sum, values }
        }
        MetricKind::Min | MetricKind::Max => Partial::Extreme(metric_value(m, bucket)?),
        other => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "metric `{}` ({}) has no bucket partial",
                    m.column,
                    other.as_str()
                ),
            ));
        }
    })
}

/// An integral double below 2^53 as an int.
fn exact_int(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() <= MAX_EXACT).then_some(f as i64)
}

fn inexact_sum(m: &MetricPlan, f: f64, start: DateTime<Utc>) -> Error {
    let why = if f.fract() != 0.0 {
        "is not an integer; is the field mapped as a float while the spec declares it int?"
    } else {
        "is 2^53 or more, where Elasticsearch's double sums are no longer exact; use \
         narrower buckets or declare the field float"
    };
    unexpected(format!(
        "the sum of `{}` for metric `{}` in the bucket at {} is {f}, which {why}",
        m.field.as_deref().unwrap_or_default(),
        m.column,
        start.to_rfc3339()
    ))
    .with_context("column", &m.column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_ints_only() {
        assert_eq!(exact_int(4096.0), Some(4096));
        assert_eq!(exact_int(-3.0), Some(-3));
        assert_eq!(exact_int(1.5), None);
        assert_eq!(exact_int(MAX_EXACT), Some(9_007_199_254_740_991));
        assert_eq!(exact_int(MAX_EXACT + 1.0), None);
        assert_eq!(exact_int(f64::NAN), None);
        assert_eq!(exact_int(f64::INFINITY), None);
    }
}
