//! Property test: for random specs, event streams and windows, `MemorySource`'s table
//! equals a naive re-aggregation of the same events.
//!
//! Floats: the generated float inputs are multiples of 1/4 below 2^11 in magnitude, so
//! every sum of up to a few hundred of them is exactly representable and the order of
//! additions and subtractions cannot change a result; the comparison is therefore
//! exact (`avg` divides the same exact sum by the same count on both sides).
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use livetable_core::{
    Aggregate, DataType, Direction, ErrorKind, FetchContext, Filter, MemorySource, Metric,
    MetricKind, Row, Value, Window,
};
use proptest::prelude::*;

fn base() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

/// One generated event: time offset (s), host index (3 = null), port, size, ratio in
/// quarters.
type RawEvent = (Option<i64>, u8, Option<i64>, Option<i64>, Option<i64>);

#[derive(Debug, Clone)]
struct Case {
    dims: Vec<usize>,
    metrics: Vec<(MetricKind, usize)>,
    order: Vec<(usize, bool)>,
    limit: Option<usize>,
    filter: Option<i64>,
    width: u64,
    /// Event groups, pushed in turn; after each, the windows are fetched.
    chunks: Vec<Vec<RawEvent>>,
    windows: Vec<(i64, i64)>,
    viewer: Option<(u8, usize)>,
    /// With two dimensions, also fetch grouped by `[1]`, `[0]` or `[1, 0]`.
    regroup: usize,
}

/// Input columns: 0 host (text), 1 port (int), 2 size (int), 3 ratio (float, quarters).
const FIELDS: [(&str, DataType); 4] = [
    ("host", DataType::Text),
    ("port", DataType::Int),
    ("size", DataType::Int),
    ("ratio", DataType::Float),
];

fn kinds() -> impl Strategy<Value = (MetricKind, usize)> {
    prop_oneof![
        Just((MetricKind::Count, 0)),
        (
            prop_oneof![
                Just(MetricKind::Sum),
                Just(MetricKind::Avg),
                Just(MetricKind::Min),
                Just(MetricKind::Max)
            ],
            prop_oneof![Just(1usize), Just(2), Just(3), Just(4)]
        ),
        (Just(MetricKind::CountDistinct), 1usize..5),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let event = (
        prop::option::weighted(0.97, -50i64..2_000),
        0u8..4,
        prop::option::weighted(0.9, 0i64..4),
        prop::option::weighted(0.8, -100i64..100),
        prop::option::weighted(0.8, -4000i64..4000),
    );
    (
        prop_oneof![Just(vec![0usize]), Just(vec![1]), Just(vec![0, 1])],
        prop::collection::vec(kinds(), 1..7),
        prop::collection::vec((0usize..8, any::<bool>()), 0..3),
        prop::option::of(1usize..6),
        prop::option::weighted(0.3, 0i64..4),
        prop_oneof![Just(1u64), Just(7), Just(60), Just(250)],
        prop::collection::vec(prop::collection::vec(event, 0..60), 1..4),
        prop::collection::vec((-100i64..2_100, 1i64..2_500), 1..4),
        prop::option::weighted(0.3, (0u8..4, 1usize..4)),
        0usize..3,
    )
        .prop_map(
            |(dims, metrics, order, limit, filter, width, chunks, windows, viewer, regroup)| Case {
                dims,
                metrics,
                order,
                limit,
                filter,
                width,
                chunks,
                windows,
                viewer,
                regroup,
            },
        )
}

impl Case {
    fn spec(&self) -> Aggregate {
        let mut b = Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(600));
        for &d in &self.dims {
            b = b.dimension(FIELDS[d].0, FIELDS[d].1);
        }
        for (i, f) in FIELDS.iter().enumerate() {
            if !self.dims.contains(&i) {
                b = b.field(f.0, f.1);
            }
        }
        let mut names = Vec::new();
        for (i, &(kind, input)) in self.metrics.iter().enumerate() {
            let name = format!("m{i}");
            // Input 0 is the time column (min/max/count_distinct only), 1.. the fields.
            let column = if input == 0 {
                "ts"
            } else {
                FIELDS[input - 1].0
            };
            let fits = match kind {
                MetricKind::Sum | MetricKind::Avg => input >= 2,
                MetricKind::Min | MetricKind::Max => input != 1,
                _ => true,
            };
            let metric = match kind {
                MetricKind::Count => Metric::count(&name),
                _ if !fits => Metric::count(&name),
                MetricKind::Sum => Metric::sum(&name, column),
                MetricKind::Avg => Metric::avg(&name, column),
                MetricKind::Min => Metric::min(&name, column),
                MetricKind::Max => Metric::max(&name, column),
                _ => Metric::count_distinct(&name, column),
            };
            b = b.metric(metric);
            names.push(name);
        }
        let outputs: Vec<String> = self
            .dims
            .iter()
            .map(|&d| FIELDS[d].0.to_owned())
            .chain(names)
            .collect();
        let mut used = Vec::new();
        for &(o, desc) in &self.order {
            let col = &outputs[o % outputs.len()];
            if !used.contains(col) {
                used.push(col.clone());
                let dir = if desc {
                    Direction::Desc
                } else {
                    Direction::Asc
                };
                b = b.order_by(col, dir);
            }
        }
        if let Some(l) = self.limit {
            b = b.limit(l);
        }
        if let Some(p) = self.filter {
            b = b.filter(Filter::range("port", Some(Value::Int(p)), None::<Value>));
        }
        b.build().unwrap()
    }

    fn event(&self, spec: &Aggregate, (t, host, port, size, quarters): RawEvent) -> Vec<Value> {
        spec.event_columns()
            .map(|(name, _)| match name {
                "ts" => t.map_or(Value::Null, |t| {
                    Value::Timestamp(base() + TimeDelta::milliseconds(t * 1000 + t % 7 * 97))
                }),
                "host" => {
                    if host == 3 {
                        Value::Null
                    } else {
                        Value::from(["a", "b", "c"][host as usize])
                    }
                }
                "port" => port.into(),
                "size" => size.into(),
                _ => quarters.map_or(Value::Null, |q| Value::Float(q as f64 / 4.0)),
            })
            .collect()
    }
}

/// The straightforward aggregation of `events` over `window`.
fn naive(
    spec: &Aggregate,
    events: &[Vec<Value>],
    window: Window,
    viewer: &[Filter],
    limit: Option<usize>,
) -> Result<Vec<Row>, ErrorKind> {
    let d = spec.dimensions().len();
    let columns: Vec<&str> = spec.event_columns().map(|(n, _)| n).collect();
    let mut groups: HashMap<Vec<Value>, Vec<&Vec<Value>>> = HashMap::new();
    for e in events {
        let Value::Timestamp(t) = e[0] else { continue };
        if !window.contains(t) {
            continue;
        }
        if !spec
            .filters()
            .iter()
            .all(|f| f.matches(&e[columns.iter().position(|c| *c == f.column()).unwrap()]))
        {
            continue;
        }
        groups.entry(e[1..=d].to_vec()).or_default().push(e);
    }
    let mut rows = Vec::new();
    for (key, evs) in groups {
        let mut row = key.clone();
        for (m, input) in spec.metrics().iter().zip(spec.metric_inputs()) {
            let vals: Vec<&Value> = match input {
                Some(i) => evs
                    .iter()
                    .map(|e| &e[*i])
                    .filter(|v| !v.is_null())
                    .collect(),
                None => Vec::new(),
            };
            let float = input.is_some_and(|i| columns[i] == "ratio");
            let v = match m.kind {
                MetricKind::Count => Value::Int(evs.len() as i64),
                MetricKind::CountDistinct => {
                    let mut v = vals.clone();
                    v.sort();
                    v.dedup();
                    Value::Int(v.len() as i64)
                }
                MetricKind::Min => vals.iter().min().map_or(Value::Null, |v| (*v).clone()),
                MetricKind::Max => vals.iter().max().map_or(Value::Null, |v| (*v).clone()),
                _ if vals.is_empty() => Value::Null,
                kind if float => {
                    let sum: f64 = vals.iter().map(|v| v.as_f64().unwrap()).sum();
                    if kind == MetricKind::Avg {
                        Value::Float(sum / vals.len() as f64)
                    } else {
                        Value::Float(sum)
                    }
                }
                kind => {
                    let sum: i128 = vals.iter().map(|v| i128::from(v.as_i64().unwrap())).sum();
                    if kind == MetricKind::Avg {
                        Value::Float(sum as f64 / vals.len() as f64)
                    } else {
                        Value::Int(i64::try_from(sum).map_err(|_| ErrorKind::LimitExceeded)?)
                    }
                }
            };
            row.push(v);
        }
        let row = Row::new(row);
        let schema = spec.schema();
        if viewer
            .iter()
            .all(|f| f.matches(&row[schema.index_of(f.column()).unwrap()]))
        {
            rows.push(row);
        }
    }
    spec.order_and_limit(&mut rows, limit);
    Ok(rows)
}

/// The trend of `m0` in `got`: whole steps aligned to the epoch, from the first inside
/// the covered window to the one holding its end, at most 61, each point the naive aggregation of that step's events (the
/// empty value where the row has none).
fn check_trend(
    spec: &Aggregate,
    events: &[Vec<Value>],
    viewer: &[Filter],
    covered: Window,
    got: &livetable_core::Fetched,
) -> Result<(), TestCaseError> {
    let trend = got.trend.as_ref().expect("a trend was asked for");
    let step = TimeDelta::from_std(trend.step).unwrap();
    prop_assert_eq!(
        trend.start.timestamp_nanos_opt().unwrap() % step.num_nanoseconds().unwrap(),
        0
    );
    // The first step wholly inside the covered window, to the one holding its end.
    prop_assert!(covered.start <= trend.start && trend.start - step < covered.start);
    let end = trend.start + step * trend.points as i32;
    prop_assert!(covered.end <= end || trend.points == 1);
    prop_assert!(end - step < covered.end);
    prop_assert!(trend.points <= 61);
    prop_assert_eq!(trend.series.len(), got.rows.len());
    let d = got
        .rows
        .first()
        .map_or(0, |r| r.len() - spec.metrics().len());
    let m0 = d; // the first metric's column
    // Every group of a step, not only the table's top rows.
    let mut unlimited = spec.spec().clone();
    unlimited.limit = None;
    let unlimited = Aggregate::from_spec(unlimited).unwrap();
    for p in 0..trend.points {
        // The newest step holds what arrived up to the covered end.
        let from = trend.start + step * p as i32;
        let window = Window::new(from, (from + step).min(covered.end)).unwrap();
        let per_step = naive(&unlimited, events, window, viewer, None).unwrap_or_default();
        for (row, series) in got.rows.iter().zip(&trend.series) {
            let expected = per_step
                .iter()
                .find(|r| r.values()[..d] == row.values()[..d])
                .map_or_else(|| trend.empty.clone(), |r| r[m0].clone());
            prop_assert_eq!(&series[p], &expected, "point {} of {:?}", p, row);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn memory_source_equals_naive_reaggregation(case in case()) {
        let spec = case.spec();
        let source = MemorySource::builder(spec.clone())
            .bucket_width(Duration::from_secs(case.width))
            // Long enough that nothing is evicted: eviction has its own unit tests.
            .retention(Duration::from_secs(1_000_000))
            .build()
            .unwrap();
        let viewer: Vec<Filter> = case
            .viewer
            .map(|(h, _)| {
                let col = &spec.schema().columns()[0];
                let v = match col.data_type {
                    DataType::Text => Value::from(["a", "b", "c", "d"][h as usize]),
                    _ => Value::Int(h.into()),
                };
                vec![Filter::eq(col.name.clone(), v)]
            })
            .unwrap_or_default();
        let viewer_limit = case.viewer.map(|(_, l)| l);
        let mut pushed: Vec<Vec<Value>> = Vec::new();
        let mut raw: Vec<RawEvent> = Vec::new();
        let grouping = [vec![1], vec![0], vec![1, 0]][case.regroup].clone();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for chunk in &case.chunks {
            let events: Vec<Vec<Value>> = chunk.iter().map(|e| case.event(&spec, *e)).collect();
            source.push_batch(&events).unwrap();
            pushed.extend(events);
            raw.extend(chunk.iter().copied());
            for &(start, len) in &case.windows {
                let start = base() + TimeDelta::milliseconds(start * 1000 + 333);
                let window = Window::new(start, start + TimeDelta::seconds(len)).unwrap();
                let ctx = FetchContext::new(window)
                    .with_filters(viewer.clone())
                    .with_limit(viewer_limit)
                    .with_trend(Some("m0".to_owned()));
                let got = rt.block_on(livetable_core::TableQuery::fetch(&source, &ctx));
                let w = case.width as i64;
                let lo = (start.timestamp_millis().div_euclid(w * 1000)) * w * 1000;
                let end_ms = window.end.timestamp_millis();
                let hi = (end_ms + w * 1000 - 1).div_euclid(w * 1000) * w * 1000;
                let covered = Window::new(
                    DateTime::from_timestamp_millis(lo).unwrap(),
                    DateTime::from_timestamp_millis(hi).unwrap(),
                )
                .unwrap();
                let expected = naive(&spec, &pushed, covered, &viewer, viewer_limit);
                match (got, expected) {
                    (Ok(got), Ok(expected)) => {
                        prop_assert_eq!(got.covered, Some(covered));
                        check_trend(&spec, &pushed, &viewer, covered, &got)?;
                        prop_assert_eq!(got.rows, expected);
                    }
                    (Err(e), Err(kind)) => prop_assert_eq!(e.kind(), kind),
                    (got, expected) => prop_assert!(false, "got {:?}, expected {:?}", got, expected),
                }
                if spec.dimensions().len() < 2 {
                    continue;
                }
                // The same window grouped by fewer dimensions (or reordered) equals the
                // direct aggregation of that grouping; the viewer's filter (on the
                // first dimension, which the grouping may drop) applies to events.
                let grouped = spec.grouped(&grouping).unwrap();
                let kept: Vec<Vec<Value>> = raw
                    .iter()
                    .zip(&pushed)
                    .filter(|(_, full)| viewer.iter().all(|f| f.matches(&full[1])))
                    .map(|(r, _)| case.event(&grouped, *r))
                    .collect();
                let expected = naive(&grouped, &kept, covered, &[], viewer_limit);
                let ctx = ctx.with_group_by(Some(grouping.clone()));
                let got = rt.block_on(livetable_core::TableQuery::fetch(&source, &ctx));
                match (got, expected) {
                    (Ok(got), Ok(expected)) => {
                        check_trend(&grouped, &kept, &[], covered, &got)?;
                        prop_assert_eq!(got.rows, expected);
                    }
                    (Err(e), Err(kind)) => prop_assert_eq!(e.kind(), kind),
                    (got, expected) => prop_assert!(false, "grouped: got {:?}, expected {:?}", got, expected),
                }
            }
        }
        let stats = source.stats();
        let with_time = pushed.iter().filter(|e| !e[0].is_null()).count() as u64;
        prop_assert_eq!(stats.dropped_no_time, pushed.len() as u64 - with_time);
        prop_assert_eq!(stats.accepted + stats.filtered_out, with_time);
        prop_assert_eq!(stats.dropped_late, 0);
    }
}
