//! Unit tests of the in-memory source.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::{Direction, Filter, Metric, Row, Window};

fn at(secs: i64) -> Value {
    Value::Timestamp(t(secs))
}

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

/// host (text), port (int) dimensions; size (int), ratio (float) fields.
fn spec() -> Aggregate {
    Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(600))
        .dimension("host", DataType::Text)
        .field("size", DataType::Int)
        .field("ratio", DataType::Float)
        .metric(Metric::count("n"))
        .metric(Metric::sum("bytes", "size"))
        .metric(Metric::min("smallest", "size"))
        .metric(Metric::max("last", "ts"))
        .metric(Metric::count_distinct("sizes", "size"))
        .metric(Metric::avg("ratio_avg", "ratio"))
        .order_by("n", Direction::Desc)
        .build()
        .unwrap()
}

fn source() -> MemorySource {
    MemorySource::builder(spec())
        .bucket_width(Duration::from_secs(10))
        .retention(Duration::from_secs(100))
        .build()
        .unwrap()
}

fn ev(secs: i64, host: &str, size: i64) -> Vec<Value> {
    vec![
        at(secs),
        Value::from(host),
        Value::Int(size),
        Value::Float(0.5),
    ]
}

fn fetch(s: &MemorySource, from: i64, to: i64) -> Fetched {
    s.fetch_blocking(&FetchContext::new(Window::new(t(from), t(to)).unwrap()))
        .unwrap()
}

fn row(f: &Fetched, host: &str) -> Row {
    f.rows
        .iter()
        .find(|r| r[0] == Value::from(host))
        .cloned()
        .unwrap_or_else(|| panic!("no row for {host} in {:?}", f.rows))
}

#[test]
fn builder_rejects_bad_settings() {
    let e = MemorySource::builder(spec())
        .bucket_width(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec);
    assert!(e.message().contains("bucket width is zero"), "{e}");
    let e = MemorySource::builder(spec())
        .bucket_width(Duration::from_secs(60))
        .retention(Duration::from_secs(30))
        .build()
        .unwrap_err();
    assert!(e.message().contains("shorter than the bucket width"), "{e}");
    let e = MemorySource::builder(spec())
        .retention(Duration::MAX)
        .build()
        .unwrap_err();
    assert_eq!(e.context_value("setting"), Some("retention"));
    let s = MemorySource::new(spec()).unwrap();
    assert_eq!(s.bucket_width(), Duration::from_secs(10)); // 600 s / 60
    assert_eq!(s.retention(), Duration::from_secs(600));
    let tiny = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(5))
        .dimension("host", DataType::Text)
        .metric(Metric::count("n"))
        .build()
        .unwrap();
    assert_eq!(
        MemorySource::new(tiny).unwrap().bucket_width(),
        Duration::from_secs(1)
    );
}

#[test]
fn invalid_events_name_the_column_and_the_batch_index() {
    let s = source();
    let e = s.push(&[at(0), Value::from("a")]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidEvent);
    assert!(
        e.message()
            .contains("has 2 values but this source expects 4"),
        "{e}"
    );
    assert!(e.message().contains("`ratio` (float)"), "{e}");

    let e = s
        .push(&[at(0), Value::from("a"), Value::from("big"), Value::Null])
        .unwrap_err();
    assert_eq!(e.context_value("column"), Some("size"));
    assert!(e.message().contains("expects int"), "{e}");

    let e = s
        .push(&[Value::Int(3), Value::from("a"), Value::Null, Value::Null])
        .unwrap_err();
    assert_eq!(e.context_value("column"), Some("ts"));

    let far = DateTime::from_timestamp(i64::MAX / 1_000_000_000 + 10, 0).unwrap();
    let e = s
        .push(&[
            Value::Timestamp(far),
            Value::from("a"),
            Value::Null,
            Value::Null,
        ])
        .unwrap_err();
    assert!(e.message().contains("1677-2262"), "{e}");

    // All or nothing: the good first event of a bad batch is not kept.
    let e = s
        .push_batch([
            ev(0, "a", 1),
            vec![at(0), Value::Int(1), Value::Null, Value::Null],
        ])
        .unwrap_err();
    assert_eq!(e.context_value("event"), Some("1"));
    assert_eq!(e.context_value("column"), Some("host"));
    assert_eq!(s.stats().accepted, 0);
    assert_eq!(s.stats().groups, 0);
}

#[test]
fn aggregates_every_metric_kind() {
    let s = source();
    let n = s
        .push_batch([
            ev(1, "a", 10),
            ev(2, "a", 30),
            ev(3, "a", 10),
            vec![at(4), Value::from("a"), Value::Null, Value::Float(1.5)],
            ev(5, "b", 7),
        ])
        .unwrap();
    assert_eq!(n, 5);
    let f = fetch(&s, 0, 10);
    assert_eq!(
        row(&f, "a").values(),
        &[
            Value::from("a"),
            Value::Int(4),
            Value::Int(50),
            Value::Int(10),
            at(4),
            Value::Int(2),
            Value::Float((0.5 * 3.0 + 1.5) / 4.0),
        ]
    );
    // Ordered by n desc.
    assert_eq!(f.rows[0][0], Value::from("a"));
    // A group with only null inputs: sum/min/avg are Null, count_distinct 0.
    s.push(&[at(6), Value::from("c"), Value::Null, Value::Null])
        .unwrap();
    let c = row(&fetch(&s, 0, 10), "c");
    assert_eq!(
        c.values()[1..],
        [
            Value::Int(1),
            Value::Null,
            Value::Null,
            at(6),
            Value::Int(0),
            Value::Null
        ]
    );
}

#[test]
fn missing_time_filtered_and_late_events_are_counted_not_errors() {
    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(60))
        .dimension("host", DataType::Text)
        .metric(Metric::count("n"))
        .filter(Filter::is_in("host", ["a", "b"]))
        .build()
        .unwrap();
    let s = MemorySource::builder(spec)
        .bucket_width(Duration::from_secs(10))
        .build()
        .unwrap();
    s.push(&[Value::Null, Value::from("a")]).unwrap();
    s.push(&[at(100), Value::from("z")]).unwrap();
    s.push(&[at(100), Value::from("a")]).unwrap();
    // The horizon follows the newest event: 100 - 60 = 40.
    s.push(&[at(39), Value::from("a")]).unwrap();
    s.push(&[at(40), Value::from("b")]).unwrap();
    let st = s.stats();
    assert_eq!(
        (
            st.accepted,
            st.dropped_no_time,
            st.filtered_out,
            st.dropped_late
        ),
        (2, 1, 1, 1)
    );
}

#[test]
fn fetch_covers_whole_buckets() {
    let s = source();
    s.push_batch([
        ev(9, "a", 1),
        ev(10, "a", 1),
        ev(25, "a", 1),
        ev(30, "a", 1),
    ])
    .unwrap();
    // [12, 25) rounds out to [10, 30): the events at 10 and 25.
    let f = fetch(&s, 12, 25);
    assert_eq!(f.covered, Some(Window::new(t(10), t(30)).unwrap()));
    assert_eq!(row(&f, "a")[1], Value::Int(2));
    // Exactly aligned bounds are kept.
    let f = fetch(&s, 0, 10);
    assert_eq!(f.covered, Some(Window::new(t(0), t(10)).unwrap()));
    assert_eq!(row(&f, "a")[1], Value::Int(1));
    // Bucket alignment is since the epoch, also before it.
    let s = source();
    let early = DateTime::from_timestamp(-15, 0).unwrap();
    let f = s
        .fetch_blocking(&FetchContext::new(
            Window::new(early, early + TimeDelta::seconds(1)).unwrap(),
        ))
        .unwrap();
    let covered = f.covered.unwrap();
    assert_eq!(
        (covered.start.timestamp(), covered.end.timestamp()),
        (-20, -10)
    );
}

#[test]
fn evicts_buckets_behind_the_horizon() {
    let s = source(); // retention 100 s, buckets of 10 s
    s.push_batch((0..10).map(|i| ev(i * 10, "a", i))).unwrap();
    assert_eq!(s.stats().buckets, 10);
    let f = fetch(&s, 0, 100);
    assert_eq!(row(&f, "a")[1], Value::Int(10));
    // A fetch ending at 150 moves the horizon to 50: buckets before it go.
    let f = fetch(&s, 50, 150);
    assert_eq!(row(&f, "a")[1], Value::Int(5));
    assert_eq!(s.stats().buckets, 5);
    // Asking for the evicted past covers only what is left.
    let f = fetch(&s, 0, 150);
    assert_eq!(f.covered.unwrap().start, t(50));
    assert_eq!(row(&f, "a")[1], Value::Int(5));
    // Events behind the horizon are dropped and counted.
    s.push(&ev(49, "b", 1)).unwrap();
    assert_eq!(s.stats().dropped_late, 1);
    // Keys nobody holds any more are forgotten.
    s.push(&ev(300, "c", 1)).unwrap();
    fetch(&s, 250, 310);
    let st = s.stats();
    assert_eq!((st.buckets, st.groups), (1, 1));
}

#[test]
fn merged_view_follows_a_sliding_window_and_late_events() {
    let s = source();
    // "a" has its minimum in the first bucket; it must be recomputed when that leaves.
    s.push_batch([
        ev(0, "a", 1),
        ev(10, "a", 5),
        ev(20, "a", 3),
        ev(30, "b", 1),
    ])
    .unwrap();
    let f = fetch(&s, 0, 30);
    assert_eq!(
        row(&f, "a").values()[1..4],
        [Value::Int(3), Value::Int(9), Value::Int(1)]
    );
    let f = fetch(&s, 10, 40);
    assert_eq!(
        row(&f, "a").values()[1..4],
        [Value::Int(2), Value::Int(8), Value::Int(3)]
    );
    // A late event into a closed bucket the view already merged.
    s.push(&ev(15, "a", 2)).unwrap();
    let f = fetch(&s, 10, 40);
    assert_eq!(
        row(&f, "a").values()[1..4],
        [Value::Int(3), Value::Int(10), Value::Int(2)]
    );
    assert_eq!(row(&f, "a")[5], Value::Int(3)); // distinct sizes 5, 3, 2
    // A group whose events all left the window disappears.
    let f = fetch(&s, 30, 60);
    assert_eq!(f.rows.len(), 1);
    assert_eq!(f.rows[0][0], Value::from("b"));
    assert_eq!(s.stats().views, 1); // one window length: one merged view
}

#[test]
fn viewer_filters_and_limits_apply_after_order() {
    let s = source();
    for (i, h) in ["a", "b", "b", "c", "c", "c"].iter().enumerate() {
        s.push(&ev(i as i64, h, 1)).unwrap();
    }
    let window = Window::new(t(0), t(10)).unwrap();
    let f = s
        .fetch_blocking(&FetchContext::new(window).with_limit(Some(2)))
        .unwrap();
    let hosts: Vec<_> = f.rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(hosts, [Value::from("c"), Value::from("b")]);
    let f = s
        .fetch_blocking(
            &FetchContext::new(window)
                .with_filters(vec![Filter::is_in("host", ["a", "b"])])
                .with_limit(Some(1)),
        )
        .unwrap();
    assert_eq!(f.rows.len(), 1);
    assert_eq!(f.rows[0][0], Value::from("b"));
    let e = s
        .fetch_blocking(&FetchContext::new(window).with_filters(vec![Filter::eq("nope", 1)]))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidParameter);
}

#[test]
fn top_n_selection_matches_a_full_sort() {
    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(600))
        .dimension("port", DataType::Int)
        .metric(Metric::count("n"))
        .order_by("n", Direction::Desc)
        .limit(7)
        .build()
        .unwrap();
    let s = MemorySource::new(spec.clone()).unwrap();
    let events: Vec<Vec<Value>> = (0..5_000i64)
        .map(|i| vec![at(i % 600), Value::Int((i * 7919) % 97 % (1 + i % 13))])
        .collect();
    s.push_batch(&events).unwrap();
    let f = fetch(&s, 0, 600);
    let mut counts = std::collections::HashMap::new();
    for e in &events {
        *counts.entry(e[1].clone()).or_insert(0i64) += 1;
    }
    let mut all: Vec<Row> = counts
        .into_iter()
        .map(|(k, n)| Row::new(vec![k, Value::Int(n)]))
        .collect();
    all.sort_by(|a, b| spec.compare_rows(a, b));
    all.truncate(7);
    assert_eq!(f.rows, all);
}

#[test]
fn integer_sum_overflow_is_an_error_not_a_wrong_number() {
    let s = source();
    s.push_batch([ev(0, "a", i64::MAX), ev(1, "a", 1)]).unwrap();
    let e = s
        .fetch_blocking(&FetchContext::new(Window::new(t(0), t(10)).unwrap()))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert_eq!(e.context_value("column"), Some("bytes"));
    // Back in range once a negative value arrives: the 128-bit sum is exact.
    s.push(&ev(2, "a", -2)).unwrap();
    let f = fetch(&s, 0, 10);
    assert_eq!(row(&f, "a")[2], Value::Int(i64::MAX - 1));
}

#[test]
fn float_sums_survive_infinities_leaving_the_window() {
    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(600))
        .dimension("host", DataType::Text)
        .field("x", DataType::Float)
        .metric(Metric::sum("sum", "x"))
        .build()
        .unwrap();
    let s = MemorySource::builder(spec)
        .bucket_width(Duration::from_secs(10))
        .build()
        .unwrap();
    let x = |secs, v: f64| vec![at(secs), Value::from("a"), Value::Float(v)];
    s.push_batch([x(0, f64::INFINITY), x(10, 0.1), x(20, 0.2), x(30, 0.0)])
        .unwrap();
    assert_eq!(row(&fetch(&s, 0, 30), "a")[1], Value::Float(f64::INFINITY));
    // Once the infinity leaves the window the sum is finite again (within rounding:
    // the merged sum was built by adding and subtracting in another order).
    let Value::Float(v) = row(&fetch(&s, 10, 40), "a")[1] else {
        panic!("a float sum")
    };
    assert!((v - 0.3).abs() < 1e-12, "{v}");
    s.push(&x(25, f64::NAN)).unwrap();
    assert!(matches!(row(&fetch(&s, 10, 40), "a")[1], Value::Float(v) if v.is_nan()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_from_threads_while_fetching() {
    let s = MemorySource::builder(spec())
        .bucket_width(Duration::from_secs(1))
        .retention(Duration::from_secs(10_000))
        .build()
        .unwrap();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..2_000i64 {
                    let host = ["a", "b", "c"][(i % 3) as usize];
                    if i % 2 == 0 {
                        s.push(&ev(i % 500, host, w)).unwrap();
                    } else {
                        s.push_batch([ev(i % 500, host, w)]).unwrap();
                    }
                }
            })
        })
        .collect();
    let window = Window::new(t(0), t(500)).unwrap();
    let mut fetches = 0;
    while writers.iter().any(|w| !w.is_finished()) || fetches < 3 {
        let f = s.fetch(&FetchContext::new(window)).await.unwrap();
        let total: i64 = f.rows.iter().map(|r| r[1].as_i64().unwrap()).sum();
        assert!(total <= 8_000);
        fetches += 1;
        tokio::task::yield_now().await;
    }
    for w in writers {
        w.join().unwrap();
    }
    let f = s.fetch(&FetchContext::new(window)).await.unwrap();
    let total: i64 = f.rows.iter().map(|r| r[1].as_i64().unwrap()).sum();
    assert_eq!(total, 8_000);
    assert_eq!(s.stats().accepted, 8_000);
    // Every writer's sizes were seen by every host.
    assert!(f.rows.iter().all(|r| r[5] == Value::Int(4)), "{:?}", f.rows);
}

#[test]
fn clock_converts_times_as_chrono_does() {
    let bound = |t: DateTime<Utc>| {
        [
            t - TimeDelta::nanoseconds(1),
            t,
            t + TimeDelta::nanoseconds(1),
        ]
    };
    let mut times = vec![
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        DateTime::UNIX_EPOCH,
        DateTime::UNIX_EPOCH - TimeDelta::nanoseconds(1),
        DateTime::UNIX_EPOCH - TimeDelta::days(1),
        DateTime::from_timestamp(-1, 999_999_999).unwrap(),
        // A leap second (nanosecond field ≥ 1e9).
        DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap(),
        t(0),
        t(86_399),
        t(86_400),
    ];
    times.extend(bound(DateTime::from_timestamp_nanos(i64::MIN)));
    times.extend(bound(DateTime::from_timestamp_nanos(i64::MAX)));
    times.extend((0..2000).map(|i| t(i * 3_607 - 3_600_000) + TimeDelta::nanoseconds(i * 7_919)));
    // Each converted after the previous one (so the remembered date varies) and
    // alone.
    let mut clock = DayCache::default();
    for time in &times {
        assert_eq!(clock.nanos(time), time.timestamp_nanos_opt(), "{time:?}");
        assert_eq!(
            DayCache::default().nanos(time),
            time.timestamp_nanos_opt(),
            "{time:?}"
        );
    }
}

/// Many groups (several chunks of the merged aggregate), a sliding window that
/// subtracts buckets (loosening the chunk bounds) and both directions, on a count and
/// on an integer sum (with groups whose sum is `Null`): the top rows equal those of a
/// full sort of every row.
#[test]
fn top_n_with_chunk_bounds_matches_a_full_sort_while_sliding() {
    for (metric, direction) in [
        ("n", Direction::Desc),
        ("n", Direction::Asc),
        ("bytes", Direction::Desc),
        ("bytes", Direction::Asc),
    ] {
        let spec = Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(600))
            .dimension("port", DataType::Int)
            .field("size", DataType::Int)
            .metric(Metric::count("n"))
            .metric(Metric::sum("bytes", "size"))
            .order_by(metric, direction)
            .build()
            .unwrap();
        let s = MemorySource::builder(spec.clone())
            .bucket_width(Duration::from_secs(10))
            .retention(Duration::from_secs(3600))
            .build()
            .unwrap();
        // A heavy-tailed mix of ~6,000 ports over 20 minutes.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let events: Vec<Vec<Value>> = (0..40_000i64)
            .map(|i| {
                let port = if next(4) == 0 { next(20) } else { next(6_000) } as i64;
                let size = if port % 11 == 0 {
                    Value::Null
                } else {
                    Value::Int(next(1_500) as i64 - 100)
                };
                vec![at(i * 1_200 / 40_000), Value::Int(port), size]
            })
            .collect();
        s.push_batch(&events).unwrap();
        for end in (600..=1_200).step_by(60) {
            let window = Window::new(t(end - 600), t(end)).unwrap();
            let top = s
                .fetch_blocking(&FetchContext::new(window).with_limit(Some(25)))
                .unwrap();
            let mut all = s.fetch_blocking(&FetchContext::new(window)).unwrap().rows;
            all.sort_by(|a, b| spec.compare_rows(a, b));
            all.truncate(25);
            assert_eq!(top.rows, all, "{metric} {direction:?} ending at {end}");
        }
    }
}
