//! The bucket capability on MySQL / MariaDB: the buckets over a window, merged, equal
//! the direct statement over that window (see `merge/mod.rs` for why floats get a
//! tolerance), with `Null` dimension values, static filters, `DATETIME` and
//! `TIMESTAMP` time columns (UTC session), hostile identifiers, overflow and
//! `count_distinct`.
#![allow(clippy::unwrap_used)]

mod merge;
mod mysql_common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use livetable_core::{
    Aggregate, AggregateBuilder, BucketQuery, BucketRequest, DataType, ErrorKind, Filter, Metric,
    Value, Window,
};
use livetable_testkit::suite;
use mysql_common::{IpAs, TestDb};

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

async fn agree_on(db: &TestDb, table: &str, anchor: DateTime<Utc>) {
    let by_all = spec(&[
        ("src_ip", DataType::Ip),
        ("port", DataType::Int),
        ("host", DataType::Text),
        ("secure", DataType::Bool),
    ])
    .build()
    .unwrap();
    let q = db.db.aggregate(table, by_all).unwrap();
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

    // Null dimension values are their own groups; text groups by bytes ('Z' and 'z',
    // 'a' and 'á' stay apart although the column's collation merges them).
    let by_host = spec(&[("host", DataType::Text)]).build().unwrap();
    let q = db.db.aggregate(table, by_host).unwrap();
    let window = Window::new(minutes(anchor, 60), anchor).unwrap();
    let buckets = q
        .fetch_buckets(&BucketRequest::new(window, Duration::from_secs(60)))
        .await
        .unwrap();
    for host in [Value::Null, Value::from("Z"), Value::from("z")] {
        assert!(
            buckets.iter().any(|b| b.key == vec![host.clone()]),
            "{host:?}"
        );
    }
    merge::agree(&q, minutes(anchor, 60), anchor, Duration::from_secs(60)).await;

    // Static filters: eq, in with a Null, ranges on a metric input and on text.
    let filtered = spec(&[("host", DataType::Text), ("src_ip", DataType::Ip)])
        .field("secure", DataType::Bool)
        .field("port", DataType::Int)
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
        .filter(Filter::range(
            "src_ip",
            Some(Value::Ip("10.0.0.10".parse().unwrap())),
            None,
        ))
        .build()
        .unwrap();
    let q = db.db.aggregate(table, filtered).unwrap();
    merge::agree(&q, minutes(anchor, 60), anchor, Duration::from_secs(60)).await;
}

#[tokio::test]
async fn merged_buckets_equal_the_direct_statement() {
    let Some(db) = TestDb::new("buckets").await else {
        return;
    };
    let anchor = suite::anchor_now();
    let events = suite::events(suite::DEFAULT_SEED, 4_000, anchor);
    let table = db.table("events");
    db.load(&table, suite::COLUMNS, &events, IpAs::Inet6).await;
    agree_on(&db, &table, anchor).await;

    // A TIMESTAMP(3) time column: stored as UTC, read in the UTC session.
    let stamped = db.table("stamped");
    db.load(&stamped, suite::COLUMNS, &events, IpAs::Binary)
        .await;
    db.exec(&format!(
        "ALTER TABLE {stamped} MODIFY ts TIMESTAMP(3) NULL"
    ))
    .await;
    agree_on(&db, &stamped, anchor).await;

    // Rows at known UTC times land in those instants' buckets, for both column types,
    // including either side of a bucket edge.
    for t in [&table, &stamped] {
        db.exec(&format!(
            "INSERT INTO {t} (ts, host) VALUES ('2001-02-03 04:05:06.789', 'known'), \
             ('2001-02-03 03:59:59.999', 'before'), ('2001-02-03 04:10:00.000', 'edge')"
        ))
        .await;
        let q = db
            .db
            .aggregate(t, spec(&[("host", DataType::Text)]).build().unwrap())
            .unwrap();
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
    }
    db.drop().await;
}

#[tokio::test]
async fn identifiers_are_quoted_overflow_fails_and_distinct_counts_are_refused() {
    let Some(db) = TestDb::new("buckets_misc").await else {
        return;
    };
    const WEIRD: &str = "we`ird'; DROP TABLE victim; --";
    let t = db.table("events");
    let victim = db.table("victim");
    db.exec(&format!(
        "CREATE TABLE {t} (ts DATETIME(3), `{}` TEXT, n BIGINT)",
        WEIRD.replace('`', "``")
    ))
    .await;
    db.exec(&format!("CREATE TABLE {victim} (id INT)")).await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES (UTC_TIMESTAMP() - INTERVAL 1 MINUTE, '''; DROP TABLE {victim}; --', 1), \
         (UTC_TIMESTAMP() - INTERVAL 1 MINUTE, 'a', 2), \
         (UTC_TIMESTAMP() - INTERVAL 1 MINUTE, 'big', {m}), \
         (UTC_TIMESTAMP() - INTERVAL 1 MINUTE, 'big', {m})",
        m = i64::MAX
    ))
    .await;
    let spec = |b: AggregateBuilder| {
        b.time_column("ts")
            .window(Duration::from_secs(3600))
            .dimension(WEIRD, DataType::Text)
            .field("n", DataType::Int)
            .metric(Metric::sum("total", "n"))
    };
    let now = Utc::now();
    let window = Window::new(now - TimeDelta::hours(1), now + TimeDelta::seconds(1)).unwrap();
    let request = BucketRequest::new(window, Duration::from_secs(10));
    let q = db
        .db
        .aggregate(
            &t,
            spec(Aggregate::builder())
                .filter(Filter::is_in(WEIRD, ["a", "'; DROP TABLE x; --"]))
                .build()
                .unwrap(),
        )
        .unwrap();
    let buckets = q.fetch_buckets(&request).await.unwrap();
    assert_eq!(buckets.len(), 1);
    assert_eq!(buckets[0].key, vec![Value::from("a")]);
    assert_eq!(
        db.count(&victim).await,
        0,
        "the victim table is still there"
    );

    // Two i64::MAX in one bucket: an error, never a wrapped sum.
    let q = db
        .db
        .aggregate(&t, spec(Aggregate::builder()).build().unwrap())
        .unwrap();
    let e = q.fetch_buckets(&request).await.unwrap_err();
    assert!(e.message().contains("64-bit"), "{e}");

    // count_distinct: refused with an error that says why and what to do.
    let q = db
        .db
        .aggregate(
            &t,
            spec(Aggregate::builder())
                .metric(Metric::count_distinct("ns", "n"))
                .build()
                .unwrap(),
        )
        .unwrap();
    let e = q.fetch_buckets(&request).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.message().contains("cannot merge distinct counts"), "{e}");
    assert!(e.message().contains("direct mode"), "{e}");
    db.drop().await;
}
