//! Test support for the bucket capability: merges [`BucketRow`]s into a table the way
//! a bucket cache does, and checks it against the direct statement over the same
//! window.
//!
//! Integer cells (counts, integer sums, min/max) must be equal. Float cells (float
//! sums, every avg) may differ within livetable-testkit's relative `FLOAT_TOLERANCE`:
//! adding per-bucket partial sums adds the same terms in another order than the
//! store's single `SUM`, and floating-point addition is not associative, so the last
//! bits may legitimately differ.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use livetable_core::{
    Aggregate, BucketQuery, BucketRequest, BucketRow, FetchContext, MetricKind, Partial, Row,
    TableQuery, Value, Window,
};
use livetable_testkit::suite;

/// One group's merged partials.
struct Acc {
    events: u64,
    partials: Vec<Partial>,
}

fn add(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Null, x) | (x, Value::Null) => x.clone(),
        (Value::Int(x), Value::Int(y)) => {
            Value::Int(x.checked_add(*y).expect("an integer sum that fits 64 bits"))
        }
        (Value::Float(x), Value::Float(y)) => Value::Float(x + y),
        (x, y) => panic!("cannot add {x:?} and {y:?}"),
    }
}

fn merge(into: &mut Partial, p: &Partial, kind: MetricKind) {
    match (into, p) {
        (Partial::Count, Partial::Count) => {}
        (
            Partial::Sum { sum, values },
            Partial::Sum {
                sum: s2,
                values: v2,
            },
        ) => {
            *sum = add(sum, s2);
            *values += v2;
        }
        (Partial::Extreme(a), Partial::Extreme(b)) => {
            let take = match (&*a, b) {
                (_, Value::Null) => false,
                (Value::Null, _) => true,
                (x, y) => {
                    if kind == MetricKind::Min {
                        y < x
                    } else {
                        y > x
                    }
                }
            };
            if take {
                *a = b.clone();
            }
        }
        (a, b) => panic!("partials of different kinds: {a:?} and {b:?}"),
    }
}

/// Merges bucket rows into one row per group, in the spec's order (without its limit).
pub fn merge_rows(spec: &Aggregate, buckets: &[BucketRow]) -> Vec<Row> {
    let mut groups: HashMap<Vec<Value>, Acc> = HashMap::new();
    for b in buckets {
        assert_eq!(
            b.partials.len(),
            spec.metrics().len(),
            "one partial per metric"
        );
        match groups.get_mut(&b.key) {
            Some(acc) => {
                acc.events += b.events;
                for ((into, p), m) in acc.partials.iter_mut().zip(&b.partials).zip(spec.metrics()) {
                    merge(into, p, m.kind);
                }
            }
            None => {
                groups.insert(
                    b.key.clone(),
                    Acc {
                        events: b.events,
                        partials: b.partials.clone(),
                    },
                );
            }
        }
    }
    let mut rows: Vec<Row> = groups
        .into_iter()
        .map(|(key, acc)| {
            let mut cells = key;
            for (m, p) in spec.metrics().iter().zip(&acc.partials) {
                cells.push(match (m.kind, p) {
                    (MetricKind::Count, _) => Value::Int(acc.events as i64),
                    (MetricKind::Sum, Partial::Sum { sum, .. }) => sum.clone(),
                    (MetricKind::Avg, Partial::Sum { values: 0, .. }) => Value::Null,
                    (MetricKind::Avg, Partial::Sum { sum, values }) => {
                        let s = match sum {
                            Value::Int(i) => *i as f64,
                            Value::Float(f) => *f,
                            other => panic!("a sum of {other:?}"),
                        };
                        Value::Float(s / *values as f64)
                    }
                    (_, Partial::Extreme(v)) => v.clone(),
                    (k, p) => panic!("{k:?} with partial {p:?}"),
                });
            }
            Row::new(cells)
        })
        .collect();
    let mut unlimited = Vec::new();
    std::mem::swap(&mut unlimited, &mut rows);
    // `order_and_limit` also applies the spec's limit: the specs here have none.
    assert!(spec.limit().is_none(), "merge_rows compares whole tables");
    spec.order_and_limit(&mut unlimited, None);
    unlimited
}

/// Checks the invariants of a bucket answer: every start is a multiple of the width
/// since the epoch and inside the range, and a (bucket, group) pair comes at most once.
pub fn check_shape(request: &BucketRequest, buckets: &[BucketRow]) {
    let width = request.width.as_millis() as i64;
    let mut seen = std::collections::HashSet::new();
    for b in buckets {
        assert_eq!(
            b.start.timestamp_millis().rem_euclid(width),
            0,
            "bucket {} is not aligned to {width} ms",
            b.start
        );
        assert!(
            b.start >= request.range.start && b.start < request.range.end,
            "bucket {} outside {:?}",
            b.start,
            request.range
        );
        assert!(b.events > 0, "an empty bucket row");
        assert!(
            seen.insert((b.start, b.key.clone())),
            "bucket {} group {:?} twice",
            b.start,
            b.key
        );
    }
}

/// Fetches `source` per bucket over `[start, end)` and directly over the same window,
/// merges the buckets and compares; returns how many bucket rows there were.
pub async fn agree<Q: BucketQuery + TableQuery>(
    source: &Q,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    width: Duration,
) -> usize {
    let window = Window::new(start, end).unwrap();
    let request = BucketRequest::new(window, width);
    let buckets = source.fetch_buckets(&request).await.unwrap();
    check_shape(&request, &buckets);
    let spec = BucketQuery::spec(source);
    let merged = merge_rows(spec, &buckets);
    let direct = source.fetch(&FetchContext::new(window)).await.unwrap().rows;
    assert!(!direct.is_empty(), "the window holds data");
    if let Err(diff) = suite::compare(spec, &direct, &merged) {
        panic!("merged buckets differ from the direct statement over {window:?}:\n{diff}");
    }
    buckets.len()
}
