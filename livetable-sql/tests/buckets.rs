//! The bucket capability on PostgreSQL: the buckets over a window, merged, equal the
//! direct statement over that window (see `merge/mod.rs` for why floats get a
//! tolerance), with `Null` dimension values, static filters, a `timestamp` (without
//! time zone) time column, hostile identifiers, overflow and `count_distinct`.
#![allow(clippy::unwrap_used)]

mod common;
mod merge;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::TestDb;
use livetable_core::{
    Aggregate, AggregateBuilder, BucketQuery, BucketRequest, DataType, ErrorKind, Filter, Metric,
    Value, Window,
};
use livetable_testkit::suite;

fn minutes(anchor: DateTime<Utc>, m: i64) -> DateTime<Utc> {
    anchor - TimeDelta::minutes(m)
}

/// Every mergeable metric kind over the suite's columns, grouped by `dims`.
fn spec(dims: &[(&str, DataType)]) -> AggregateBuilder {
    let mut b = Aggregate::builder()
        .time_column("ts")
        .window(suite::SPAN)
        .field("size", DataType::Int)
        .field("latency", DataType::Float);
    for (name, t) in dims {
        b = b.dimension(*name, *t);
    }
    b.metric(Metric::count("count"))
        .metric(Metric::sum("bytes", "size"))
        .metric(Metric::avg("avg_size", "size"))
        .metric(Metric::sum("lat_sum", "latency"))
        .metric(Metric::avg("lat", "latency"))
        .metric(Metric::min("smallest", "size"))
        .metric(Metric::max("slowest", "latency"))
        .metric(Metric::max("last", "ts"))
}

#[tokio::test]
async fn merged_buckets_equal_the_direct_statement() {
    let Some(db) = TestDb::new("buckets").await else {
        return;
    };
    let anchor = suite::anchor_now();
    let table = db.table("events");
    db.load(
        &table,
        suite::COLUMNS,
        &suite::events(suite::DEFAULT_SEED, 4_000, anchor),
    )
    .await;

    let by_all = spec(&[
        ("src_ip", DataType::Ip),
        ("port", DataType::Int),
        ("host", DataType::Text),
        ("secure", DataType::Bool),
    ])
    .build()
    .unwrap();
    let q = db.pg.aggregate(&table, by_all).unwrap();
    let sql = q.bucket_sql().unwrap();
    assert!(
        sql.starts_with("SELECT date_bin($1::interval, \"ts\""),
        "{sql}"
    );
    assert!(sql.contains("GROUP BY 1, \"src_ip\""), "{sql}");
    // The whole hour in 1-minute buckets; 10-second buckets over a cut window; an
    // end inside a bucket (the tail of a live table).
    let rows = merge::agree(&q, minutes(anchor, 60), anchor, Duration::from_secs(60)).await;
    assert!(
        rows > 1_000,
        "{rows} bucket rows: the data spreads over many buckets"
    );
    merge::agree(
        &q,
        minutes(anchor, 45),
        minutes(anchor, 5),
        Duration::from_secs(10),
    )
    .await;
    merge::agree(
        &q,
        minutes(anchor, 30),
        minutes(anchor, 20) + TimeDelta::milliseconds(12_345),
        Duration::from_secs(60),
    )
    .await;

    // Null dimension values are their own groups, in buckets too.
    let by_host = spec(&[("host", DataType::Text)]).build().unwrap();
    let q = db.pg.aggregate(&table, by_host).unwrap();
    // Whole 2-minute buckets (the anchor is a whole minute).
    let from = minutes(anchor, 60 + anchor.timestamp() / 60 % 2);
    let window = Window::new(from, anchor).unwrap();
    let buckets = q
        .fetch_buckets(&BucketRequest::new(window, Duration::from_secs(120)))
        .await
        .unwrap();
    assert!(buckets.iter().any(|b| b.key == vec![Value::Null]));
    assert!(
        buckets
            .iter()
            .any(|b| b.key == vec![Value::from("O'Brien")])
    );
    merge::agree(&q, from, anchor, Duration::from_secs(120)).await;

    // Static filters: eq, in with a Null, ranges on a metric input and on text.
    let filtered = spec(&[("host", DataType::Text), ("port", DataType::Int)])
        .field("secure", DataType::Bool)
        .filter(Filter::eq("secure", true))
        .filter(Filter::is_in(
            "port",
            [Value::Int(443), Value::Int(80), Value::Null],
        ))
        .filter(Filter::range(
            "size",
            Some(Value::Int(100)),
            Some(Value::Int(90_000)),
        ))
        .filter(Filter::range("host", Some(Value::from("B")), None))
        .build()
        .unwrap();
    let q = db.pg.aggregate(&table, filtered).unwrap();
    merge::agree(&q, minutes(anchor, 60), anchor, Duration::from_secs(60)).await;
    let all = q
        .fetch_buckets(&BucketRequest::new(window, Duration::from_secs(120)))
        .await
        .unwrap();
    assert!(
        all.iter()
            .all(|b| matches!(&b.key[1], Value::Int(443 | 80) | Value::Null))
    );
    db.drop().await;
}

#[tokio::test]
async fn a_timestamp_without_time_zone_column_buckets_as_utc() {
    let Some(db) = TestDb::new("buckets_naive").await else {
        return;
    };
    let anchor = suite::anchor_now();
    let table = db.table("events");
    db.load(
        &table,
        suite::COLUMNS,
        &suite::events(suite::DEFAULT_SEED, 2_000, anchor),
    )
    .await;
    // The same instants as UTC wall-clock times in a `timestamp` column.
    db.exec(&format!(
        "ALTER TABLE {table} ALTER COLUMN ts TYPE timestamp USING ts AT TIME ZONE 'UTC'"
    ))
    .await;
    let q = db
        .pg
        .aggregate(
            &table,
            spec(&[("host", DataType::Text), ("src_ip", DataType::Ip)])
                .build()
                .unwrap(),
        )
        .unwrap();
    merge::agree(&q, minutes(anchor, 60), anchor, Duration::from_secs(60)).await;
    merge::agree(
        &q,
        minutes(anchor, 50),
        minutes(anchor, 10),
        Duration::from_secs(15),
    )
    .await;

    // Rows at known wall-clock times land in those UTC instants' buckets, including
    // either side of a bucket edge.
    db.exec(&format!(
        "INSERT INTO {table} (ts, host) VALUES ('2001-02-03 04:05:06.789', 'known'), \
         ('2001-02-03 03:59:59.999', 'before'), ('2001-02-03 04:10:00', 'edge')"
    ))
    .await;
    let at: DateTime<Utc> = "2001-02-03T03:50:00Z".parse().unwrap();
    let mut buckets = q
        .fetch_buckets(&BucketRequest::new(
            Window::new(at, at + TimeDelta::hours(1)).unwrap(),
            Duration::from_secs(600),
        ))
        .await
        .unwrap();
    buckets.sort_by_key(|b| b.start);
    let got: Vec<(String, Value)> = buckets
        .iter()
        .map(|b| (b.start.format("%H:%M").to_string(), b.key[0].clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("03:50".to_owned(), Value::from("before")),
            ("04:00".to_owned(), Value::from("known")),
            ("04:10".to_owned(), Value::from("edge")),
        ]
    );
    db.drop().await;
}

#[tokio::test]
async fn identifiers_are_quoted_and_distinct_counts_refused() {
    let Some(db) = TestDb::new("buckets_inject").await else {
        return;
    };
    const WEIRD: &str = r#"we"ird; DROP TABLE victim; --"#;
    let t = db.table("events");
    let victim = db.table("victim");
    db.exec(&format!(
        r#"CREATE TABLE {t} (ts timestamptz, "{}" text, n int8)"#,
        WEIRD.replace('"', "\"\"")
    ))
    .await;
    db.exec(&format!("CREATE TABLE {victim} (id int)")).await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES (now() - interval '1 minute', $$'; DROP TABLE {victim}; --$$, 1), \
         (now() - interval '1 minute', 'a', 2)"
    ))
    .await;
    let spec = |b: AggregateBuilder| {
        b.time_column("ts")
            .window(Duration::from_secs(3600))
            .dimension(WEIRD, DataType::Text)
            .field("n", DataType::Int)
            .metric(Metric::sum("total", "n"))
    };
    let q = db
        .pg
        .aggregate(
            &t,
            spec(Aggregate::builder())
                .filter(Filter::is_in(WEIRD, ["a", "'; DROP TABLE x; --"]))
                .build()
                .unwrap(),
        )
        .unwrap();
    let now = Utc::now();
    let window = Window::new(now - TimeDelta::hours(1), now + TimeDelta::seconds(1)).unwrap();
    let buckets = q
        .fetch_buckets(&BucketRequest::new(window, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(buckets.len(), 1);
    assert_eq!(buckets[0].key, vec![Value::from("a")]);
    assert_eq!(
        db.count(&victim).await,
        0,
        "the victim table is still there"
    );

    // count_distinct: refused with an error that says why and what to do.
    let q = db
        .pg
        .aggregate(
            &t,
            spec(Aggregate::builder())
                .metric(Metric::count_distinct("ns", "n"))
                .build()
                .unwrap(),
        )
        .unwrap();
    let e = q
        .fetch_buckets(&BucketRequest::new(window, Duration::from_secs(10)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.message().contains("cannot merge distinct counts"), "{e}");
    assert!(e.message().contains("direct mode"), "{e}");
    assert!(q.bucket_sql().is_err());
    db.drop().await;
}

#[tokio::test]
async fn an_integer_sum_that_overflows_a_bucket_is_an_error() {
    let Some(db) = TestDb::new("buckets_overflow").await else {
        return;
    };
    let t = db.table("events");
    db.exec(&format!(
        "CREATE TABLE {t} (ts timestamptz, host text, n int8)"
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES (now() - interval '1 minute', 'a', {m}), \
         (now() - interval '1 minute', 'a', {m})",
        m = i64::MAX
    ))
    .await;
    let q = db
        .pg
        .aggregate(
            &t,
            Aggregate::builder()
                .time_column("ts")
                .window(Duration::from_secs(3600))
                .dimension("host", DataType::Text)
                .field("n", DataType::Int)
                .metric(Metric::sum("total", "n"))
                .build()
                .unwrap(),
        )
        .unwrap();
    let now = Utc::now();
    let window = Window::new(now - TimeDelta::hours(1), now + TimeDelta::seconds(1)).unwrap();
    let e = q
        .fetch_buckets(&BucketRequest::new(window, Duration::from_secs(3600)))
        .await
        .unwrap_err();
    assert!(e.message().contains("64-bit"), "{e}");
    db.drop().await;
}
