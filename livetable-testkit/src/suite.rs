//! The backend behaviour suite: the same events in, the same table out as
//! [`MemorySource`].
//!
//! A backend is correct when it agrees with the in-memory source, the reference
//! implementation of [`Aggregate`]'s documented semantics. The suite holds:
//! - [`COLUMNS`]: one fixed event table (a timestamp, dimensions of type ip, int, text and
//!   bool with `Null`s, and int and float measures with `Null`s);
//! - [`events`]: a seeded, deterministic generator of rows in [`COLUMNS`] order;
//! - [`cases`]: specs and fetch contexts that together cover every metric kind, static
//!   `eq` / `in` / `range` filters (including `Null` values), viewer filters and limits,
//!   ascending and descending order on metrics and dimensions, and windows that cut
//!   through the data;
//! - [`SuiteBackend`]: what a backend provides (load events, build a source for a spec);
//! - [`run`] / [`run_cases`]: the runner, which builds a [`MemorySource`] per case,
//!   fetches both tables and compares them row by row.
//!
//! # Window alignment
//! [`MemorySource`] covers whole time buckets, so it may answer for a slightly wider
//! window than it was asked for, and says so in [`Fetched::covered`](livetable_core::Fetched::covered). The runner asks
//! the in-memory source first and then gives the backend the window it really covered,
//! so both tables are computed over exactly the same events. The case windows are also
//! aligned to whole minutes, so with the runner's 10-second buckets no rounding happens.
//!
//! # Float tolerance
//! Integer, text, IP, bool and timestamp cells must be equal. Float cells (`avg`, and
//! `sum` / `min` / `max` over the float measure) may differ by a relative
//! [`FLOAT_TOLERANCE`]: a floating-point sum depends on the order its terms are added
//! in, and stores add in their own order (per bucket, per shard, per scan), so
//! the last bits legitimately differ. Rows must come in the same order; the generated
//! data has no near-ties on float order keys, so summation noise cannot reorder rows.
//!
//! # Example: a backend in a test
//! ```no_run
//! use livetable_core::{Aggregate, DataType, MemorySource, Result, SharedQuery, Value};
//! use livetable_testkit::suite::{self, SuiteBackend};
//!
//! /// The in-memory source checked against itself (a real backend loads a store).
//! #[derive(Default)]
//! struct Memory {
//!     events: Vec<Vec<Value>>,
//! }
//!
//! impl SuiteBackend for Memory {
//!     async fn load(&mut self, _columns: &[(&str, DataType)], events: &[Vec<Value>]) -> Result<()> {
//!         self.events = events.to_vec();
//!         Ok(())
//!     }
//!
//!     async fn query(&self, spec: &Aggregate) -> Result<SharedQuery> {
//!         let source = MemorySource::new(spec.clone())?;
//!         for event in &self.events {
//!             source.push(&suite::project(spec, event))?;
//!         }
//!         Ok(std::sync::Arc::new(source))
//!     }
//! }
//!
//! # async fn test() {
//! suite::run(&mut Memory::default()).await;
//! # }
//! ```

use std::fmt::Write as _;
use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use livetable_core::{
    Aggregate, DataType, Direction, FetchContext, Filter, MemorySource, Metric, Result, Row,
    SharedQuery, TableQuery, Value, Window,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The event table every backend loads: `(name, type)` in event order.
///
/// - `ts`: the event time, within the hour before the anchor (millisecond precision,
///   which every store here keeps exactly);
/// - `src_ip` (ip, IPv4 and IPv6, ~10 % `Null`), `port` (int, ~10 % `Null`), `host`
///   (text, ~8 % `Null`; mixed case, non-ASCII, empty, quotes: byte order differs from
///   locale order), `secure` (bool, ~5 % `Null`): dimensions;
/// - `size` (int, ~5 % `Null`) and `latency` (float, ~10 % `Null`): measures.
pub const COLUMNS: &[(&str, DataType)] = &[
    ("ts", DataType::Timestamp),
    ("src_ip", DataType::Ip),
    ("port", DataType::Int),
    ("host", DataType::Text),
    ("secure", DataType::Bool),
    ("size", DataType::Int),
    ("latency", DataType::Float),
];

/// The time column of [`COLUMNS`].
pub const TIME_COLUMN: &str = "ts";

/// The number of events [`run`] generates.
pub const DEFAULT_EVENTS: usize = 6_000;

/// The seed [`run`] uses.
pub const DEFAULT_SEED: u64 = 0x5eed_11fe;

/// The relative tolerance for float cells; see the module docs for why there is one.
pub const FLOAT_TOLERANCE: f64 = 1e-9;

/// The length of every case's spec window, and the span [`events`] spreads events over.
pub const SPAN: Duration = Duration::from_secs(3600);

const IPS: &[&str] = &[
    "10.0.0.9",
    "10.0.0.10",
    "10.1.0.1",
    "192.168.1.1",
    "2.2.2.2",
    "255.255.255.255",
    "::1",
    "2001:db8::1",
    "2001:db8::10",
    "fe80::2",
];
const PORTS: &[i64] = &[22, 53, 80, 443, 8080, 0, -1];
const HOSTS: &[&str] = &[
    "a", "B", "Z", "z", "b b", "é", "ábc", "", "O'Brien", "x\";--",
];

/// The anchor [`run`] uses: now, rounded down to a whole minute (so case windows are
/// aligned to whole minutes since the epoch).
pub fn anchor_now() -> DateTime<Utc> {
    let now = Utc::now();
    // Rounding a current timestamp to a minute cannot overflow.
    now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now)
}

/// `n` events in [`COLUMNS`] order, with times in `[anchor - SPAN, anchor)`, the same
/// for the same `seed` and `anchor`.
pub fn events(seed: u64, n: usize, anchor: DateTime<Utc>) -> Vec<Vec<Value>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let span_ms = SPAN.as_millis() as i64;
    let ips: Vec<IpAddr> = IPS
        .iter()
        // The constants above are valid addresses.
        .map(|s| s.parse().expect("a valid IP literal"))
        .collect();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let ts = anchor - TimeDelta::milliseconds(rng.random_range(1..=span_ms));
        let src_ip = maybe(&mut rng, 0.10, |r| {
            Value::Ip(ips[r.random_range(0..ips.len())])
        });
        let port = maybe(&mut rng, 0.10, |r| {
            Value::Int(PORTS[r.random_range(0..PORTS.len())])
        });
        let host = maybe(&mut rng, 0.08, |r| {
            Value::from(HOSTS[r.random_range(0..HOSTS.len())])
        });
        let secure = maybe(&mut rng, 0.05, |r| Value::Bool(r.random_bool(0.6)));
        let size = maybe(&mut rng, 0.05, |r| Value::Int(r.random_range(-50..100_000)));
        // Quarter-unit steps keep many latencies exactly representable, so some float
        // sums are exact and equal across groups; the rest exercise rounding.
        let latency = maybe(&mut rng, 0.10, |r| {
            if r.random_bool(0.5) {
                Value::Float(f64::from(r.random_range(-8..4000)) / 4.0)
            } else {
                Value::Float(r.random::<f64>() * 1000.0)
            }
        });
        out.push(vec![
            Value::Timestamp(ts),
            src_ip,
            port,
            host,
            secure,
            size,
            latency,
        ]);
    }
    out
}

fn maybe(rng: &mut SmallRng, null: f64, f: impl FnOnce(&mut SmallRng) -> Value) -> Value {
    if rng.random_bool(null) {
        Value::Null
    } else {
        f(rng)
    }
}

/// One case: a spec over [`COLUMNS`] and the context to fetch it with.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Case {
    /// A short name, shown when the case fails.
    pub name: &'static str,
    /// The spec; its inputs are a subset of [`COLUMNS`].
    pub spec: Aggregate,
    /// The window, viewer filters and limit to fetch with.
    pub ctx: FetchContext,
}

/// The suite's cases for events generated at `anchor` (see [`events`]).
pub fn cases(anchor: DateTime<Utc>) -> Vec<Case> {
    let minutes = |m: i64| anchor - TimeDelta::minutes(m);
    // Windows within the data; `start < end` holds for every literal below.
    let window = |from: i64, to: i64| Window::new(minutes(from), minutes(to)).expect("from > to");
    let full = window(60, 0);
    let hour = SPAN;
    let base = || Aggregate::builder().time_column(TIME_COLUMN).window(hour);
    let viewer = |f: Filter, t: DataType| f.normalised(t).expect("a well-typed viewer filter");
    let ip = |s: &str| Value::Ip(s.parse().expect("a valid IP literal"));

    let mut out = Vec::new();
    let mut case =
        |name: &'static str, spec: livetable_core::AggregateBuilder, ctx: FetchContext| {
            let spec = spec
                .build()
                .unwrap_or_else(|e| panic!("suite case `{name}`: {e}"));
            out.push(Case { name, spec, ctx });
        };

    case(
        "count_by_ip",
        base()
            .dimension("src_ip", DataType::Ip)
            .metric(Metric::count("count")),
        FetchContext::new(full),
    );
    case(
        "every_metric_kind_by_host_port_cut_window",
        base()
            .dimension("host", DataType::Text)
            .dimension("port", DataType::Int)
            .field("size", DataType::Int)
            .field("latency", DataType::Float)
            .field("src_ip", DataType::Ip)
            .metric(Metric::count("count"))
            .metric(Metric::sum("size_sum", "size"))
            .metric(Metric::avg("size_avg", "size"))
            .metric(Metric::min("size_min", "size"))
            .metric(Metric::max("size_max", "size"))
            .metric(Metric::count_distinct("ips", "src_ip"))
            .metric(Metric::sum("lat_sum", "latency"))
            .metric(Metric::avg("lat_avg", "latency"))
            .metric(Metric::min("lat_min", "latency"))
            .metric(Metric::max("lat_max", "latency"))
            .order_by("count", Direction::Desc),
        FetchContext::new(window(45, 15)),
    );
    case(
        "min_max_time_by_bool",
        base()
            .dimension("secure", DataType::Bool)
            .metric(Metric::count("count"))
            .metric(Metric::min("first", "ts"))
            .metric(Metric::max("last", "ts"))
            .metric(Metric::count_distinct("hosts", "host"))
            .field("host", DataType::Text),
        FetchContext::new(window(50, 10)),
    );
    case(
        "static_eq_text_filter_sum_desc_limit",
        base()
            .dimension("src_ip", DataType::Ip)
            .dimension("port", DataType::Int)
            .field("host", DataType::Text)
            .field("size", DataType::Int)
            .metric(Metric::count("count"))
            .metric(Metric::sum("bytes", "size"))
            .filter(Filter::eq("host", "O'Brien"))
            .order_by("bytes", Direction::Desc)
            .limit(7),
        FetchContext::new(full),
    );
    case(
        "static_eq_null_matches_null",
        base()
            .dimension("port", DataType::Int)
            .dimension("secure", DataType::Bool)
            .field("host", DataType::Text)
            .field("latency", DataType::Float)
            .metric(Metric::count("count"))
            .metric(Metric::avg("lat", "latency"))
            .filter(Filter::eq("host", Value::Null)),
        FetchContext::new(full),
    );
    case(
        "static_in_with_null_and_ips",
        base()
            .dimension("host", DataType::Text)
            .dimension("src_ip", DataType::Ip)
            .field("port", DataType::Int)
            .field("size", DataType::Int)
            .metric(Metric::count("count"))
            .metric(Metric::max("biggest", "size"))
            .filter(Filter::is_in(
                "port",
                [Value::Int(22), Value::Int(443), Value::Null],
            ))
            .filter(Filter::is_in(
                "src_ip",
                [ip("10.0.0.10"), ip("::1"), ip("2.2.2.2")],
            ))
            .order_by("biggest", Direction::Asc),
        FetchContext::new(window(55, 5)),
    );
    case(
        "static_ranges_on_int_float_and_text",
        base()
            .dimension("host", DataType::Text)
            .field("size", DataType::Int)
            .field("latency", DataType::Float)
            .metric(Metric::count("count"))
            .metric(Metric::sum("bytes", "size"))
            .metric(Metric::min("fastest", "latency"))
            .filter(Filter::range(
                "size",
                Some(Value::Int(1_000)),
                Some(Value::Int(60_000)),
            ))
            .filter(Filter::range("latency", Some(Value::Float(0.0)), None))
            // Byte order: "B" <= "Z" < "a" <= "b b" < "z", unlike a locale's order.
            .filter(Filter::range(
                "host",
                Some(Value::from("B")),
                Some(Value::from("b c")),
            )),
        FetchContext::new(full),
    );
    case(
        "viewer_filters_and_limit",
        base()
            .dimension("host", DataType::Text)
            .dimension("secure", DataType::Bool)
            .dimension("port", DataType::Int)
            .field("size", DataType::Int)
            .metric(Metric::count("count"))
            .metric(Metric::sum("bytes", "size"))
            .order_by("count", Direction::Desc),
        FetchContext::new(window(40, 0))
            .with_filters(vec![
                viewer(Filter::eq("secure", true), DataType::Bool),
                viewer(
                    Filter::is_in(
                        "host",
                        [
                            Value::from("a"),
                            Value::from("é"),
                            Value::from(""),
                            Value::Null,
                        ],
                    ),
                    DataType::Text,
                ),
                viewer(
                    Filter::range("port", Some(Value::Int(0)), Some(Value::Int(1000))),
                    DataType::Int,
                ),
            ])
            .with_limit(Some(9)),
    );
    case(
        "viewer_eq_null_and_ip_range",
        base()
            .dimension("src_ip", DataType::Ip)
            .dimension("host", DataType::Text)
            .metric(Metric::count("count")),
        FetchContext::new(full).with_filters(vec![
            viewer(Filter::eq("host", Value::Null), DataType::Text),
            viewer(
                Filter::range("src_ip", Some(ip("10.0.0.10")), Some(ip("2001:db8::2"))),
                DataType::Ip,
            ),
        ]),
    );
    case(
        "order_dims_desc_then_asc",
        base()
            .dimension("host", DataType::Text)
            .dimension("port", DataType::Int)
            .metric(Metric::count("count"))
            .order_by("host", Direction::Desc)
            .order_by("port", Direction::Asc),
        FetchContext::new(window(30, 20)),
    );
    case(
        "order_ip_desc_limit",
        base()
            .dimension("src_ip", DataType::Ip)
            .dimension("secure", DataType::Bool)
            .field("latency", DataType::Float)
            .metric(Metric::count("count"))
            .metric(Metric::max("slowest", "latency"))
            .order_by("src_ip", Direction::Desc)
            .limit(15),
        FetchContext::new(full),
    );
    case(
        "order_sum_asc_nulls_first_limit",
        base()
            .dimension("src_ip", DataType::Ip)
            .dimension("port", DataType::Int)
            .dimension("host", DataType::Text)
            .field("size", DataType::Int)
            .metric(Metric::sum("bytes", "size"))
            .metric(Metric::count("count"))
            .order_by("bytes", Direction::Asc)
            .limit(40),
        FetchContext::new(window(20, 0)),
    );
    case(
        "order_avg_desc_nulls_last_viewer_limit",
        base()
            .dimension("host", DataType::Text)
            .dimension("src_ip", DataType::Ip)
            .field("latency", DataType::Float)
            .metric(Metric::avg("lat", "latency"))
            .metric(Metric::count("count"))
            .order_by("lat", Direction::Desc)
            .order_by("count", Direction::Asc),
        FetchContext::new(window(59, 1)).with_limit(Some(300)),
    );
    case(
        "count_distinct_of_text_and_int_by_port",
        base()
            .dimension("port", DataType::Int)
            .field("host", DataType::Text)
            .field("secure", DataType::Bool)
            .metric(Metric::count_distinct("hosts", "host"))
            .metric(Metric::count_distinct("flags", "secure"))
            .metric(Metric::count("count"))
            .order_by("hosts", Direction::Desc),
        FetchContext::new(window(35, 25)),
    );
    case(
        "four_dims_top_50",
        base()
            .dimension("src_ip", DataType::Ip)
            .dimension("port", DataType::Int)
            .dimension("host", DataType::Text)
            .dimension("secure", DataType::Bool)
            .field("size", DataType::Int)
            .metric(Metric::count("count"))
            .metric(Metric::sum("total_size", "size"))
            .order_by("count", Direction::Desc)
            .order_by("total_size", Direction::Desc)
            .limit(50),
        FetchContext::new(window(60, 30)),
    );
    out
}

/// What a backend provides to the runner.
///
/// Implement it in the backend's integration tests (with `async fn`), then call
/// [`run`]. See the module example.
pub trait SuiteBackend {
    /// Stores `events` (rows of values in `columns` order; `columns` is [`COLUMNS`]) so
    /// later queries see exactly them. Called once per run, before any query.
    fn load(
        &mut self,
        columns: &[(&str, DataType)],
        events: &[Vec<Value>],
    ) -> impl Future<Output = Result<()>>;

    /// A source computing `spec` over the loaded events.
    fn query(&self, spec: &Aggregate) -> impl Future<Output = Result<SharedQuery>>;
}

/// One event of [`COLUMNS`] projected onto `spec`'s inputs, in the order
/// [`MemorySource::push`] expects ([`Aggregate::event_columns`]).
///
/// # Panics
/// When the spec reads a column that is not in [`COLUMNS`] (a bug in the case).
pub fn project(spec: &Aggregate, event: &[Value]) -> Vec<Value> {
    spec.event_columns()
        .map(|(name, _)| {
            let i = COLUMNS
                .iter()
                .position(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("suite spec reads `{name}`, which is not in COLUMNS"));
            event[i].clone()
        })
        .collect()
}

/// Runs every case of [`cases`] against `backend` with [`DEFAULT_SEED`],
/// [`DEFAULT_EVENTS`] events and [`anchor_now`].
///
/// # Panics
/// With every failing case (a backend error or a table that differs from
/// [`MemorySource`]'s) in the message.
pub async fn run<B: SuiteBackend>(backend: &mut B) {
    let anchor = anchor_now();
    let failures = run_cases(
        backend,
        DEFAULT_SEED,
        DEFAULT_EVENTS,
        anchor,
        &cases(anchor),
    )
    .await;
    assert!(
        failures.is_empty(),
        "{} of {} suite cases failed:\n{}",
        failures.len(),
        cases(anchor).len(),
        failures.join("\n")
    );
}

/// Loads `n` events generated from `seed` at `anchor` into `backend`, runs `cases`, and
/// returns one description per failing case (empty when all pass).
///
/// # Panics
/// When the in-memory reference itself fails or a case's reference table is empty (a
/// case that compares nothing would prove nothing).
pub async fn run_cases<B: SuiteBackend>(
    backend: &mut B,
    seed: u64,
    n: usize,
    anchor: DateTime<Utc>,
    cases: &[Case],
) -> Vec<String> {
    let events = events(seed, n, anchor);
    if let Err(e) = backend.load(COLUMNS, &events).await {
        return vec![format!("loading {n} events failed: {e}")];
    }
    let mut failures = Vec::new();
    for case in cases {
        let expected = reference(case, &events).await;
        assert!(
            !expected.rows.is_empty(),
            "suite case `{}`: the reference table is empty, so the case would prove nothing",
            case.name
        );
        let mut ctx = case.ctx.clone();
        if let Some(covered) = expected.covered {
            ctx.window = covered;
        }
        let actual = match backend.query(&case.spec).await {
            Ok(source) => {
                if source.schema() != case.spec.schema().as_ref() {
                    failures.push(format!(
                        "case `{}`: the source's schema {:?} differs from the spec's {:?}",
                        case.name,
                        source.schema(),
                        case.spec.schema()
                    ));
                    continue;
                }
                source.fetch(&ctx).await
            }
            Err(e) => Err(e),
        };
        match actual {
            Ok(actual) => {
                if let Err(diff) = compare(&case.spec, &expected.rows, &actual.rows) {
                    failures.push(format!("case `{}`: {diff}", case.name));
                }
            }
            Err(e) => failures.push(format!("case `{}`: the backend failed: {e}", case.name)),
        }
    }
    failures
}

/// The reference table: a [`MemorySource`] with 10-second buckets fed every event.
async fn reference(case: &Case, events: &[Vec<Value>]) -> livetable_core::Fetched {
    let fail = |e: livetable_core::Error| -> ! {
        panic!(
            "suite case `{}`: the in-memory reference failed: {e}",
            case.name
        )
    };
    let source = MemorySource::builder(case.spec.clone())
        .bucket_width(Duration::from_secs(10))
        .retention(SPAN * 2)
        .build()
        .unwrap_or_else(|e| fail(e));
    for event in events {
        source
            .push(&project(&case.spec, event))
            .unwrap_or_else(|e| fail(e));
    }
    source.fetch(&case.ctx).await.unwrap_or_else(|e| fail(e))
}

/// Compares two tables of `spec` row by row: same length, same order, equal cells, with
/// float cells equal within [`FLOAT_TOLERANCE`] (relative, with an absolute floor of the
/// same size near zero). The error lists the first differences.
pub fn compare(
    spec: &Aggregate,
    expected: &[Row],
    actual: &[Row],
) -> std::result::Result<(), String> {
    let columns = spec.schema().columns();
    let mut diff = String::new();
    let mut shown = 0;
    if expected.len() != actual.len() {
        let _ = writeln!(
            diff,
            "expected {} rows, got {}",
            expected.len(),
            actual.len()
        );
    }
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        let same = e.len() == a.len()
            && e.values()
                .iter()
                .zip(a.values())
                .all(|(x, y)| cells_match(x, y));
        if !same && shown < 5 {
            shown += 1;
            let _ = writeln!(diff, "  row {i}: expected [{e}], got [{a}]");
        }
    }
    if diff.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    Err(format!("columns [{}]\n{diff}", names.join(" | ")))
}

/// Whether two cells are equal, floats within [`FLOAT_TOLERANCE`].
pub fn cells_match(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Float(x), Value::Float(y)) if x.is_finite() && y.is_finite() => {
            (x - y).abs() <= FLOAT_TOLERANCE * x.abs().max(y.abs()).max(1.0)
        }
        _ => expected == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_deterministic_and_typed() {
        let anchor = anchor_now();
        let a = events(7, 500, anchor);
        assert_eq!(a, events(7, 500, anchor));
        assert_ne!(a, events(8, 500, anchor));
        for e in &a {
            assert_eq!(e.len(), COLUMNS.len());
            for (v, (_, t)) in e.iter().zip(COLUMNS) {
                assert!(v.fits(*t), "{v:?} is not {t}");
            }
            let Value::Timestamp(ts) = e[0] else {
                panic!("time first")
            };
            assert!(ts < anchor && ts >= anchor - TimeDelta::hours(1));
        }
        // Every nullable column has nulls and values.
        for i in 1..COLUMNS.len() {
            assert!(
                a.iter().any(|e| e[i].is_null()),
                "{} has no null",
                COLUMNS[i].0
            );
            assert!(
                a.iter().any(|e| !e[i].is_null()),
                "{} is all null",
                COLUMNS[i].0
            );
        }
    }

    #[test]
    fn cases_cover_every_metric_kind_and_read_only_known_columns() {
        let cases = cases(anchor_now());
        let kinds: std::collections::HashSet<_> = cases
            .iter()
            .flat_map(|c| c.spec.metrics().iter().map(|m| m.kind))
            .collect();
        assert_eq!(kinds.len(), 6);
        let event = events(1, 1, anchor_now()).remove(0);
        for c in &cases {
            assert_eq!(
                project(&c.spec, &event).len(),
                c.spec.event_columns().count()
            );
        }
    }

    #[test]
    fn compare_tolerates_float_noise_only() {
        let spec = &cases(anchor_now())[1].spec;
        let row = |f: f64, n: i64| {
            let mut v = vec![Value::from("a"), Value::Int(1), Value::Int(n)];
            v.extend([Value::Null, Value::Float(f)]);
            Row::new(v)
        };
        assert!(compare(spec, &[row(1.0, 2)], &[row(1.0 + 1e-12, 2)]).is_ok());
        assert!(compare(spec, &[row(1.0, 2)], &[row(1.001, 2)]).is_err());
        assert!(compare(spec, &[row(1.0, 2)], &[row(1.0, 3)]).is_err());
        assert!(compare(spec, &[row(1.0, 2)], &[]).is_err());
    }
}
