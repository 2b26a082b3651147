//! The bucket capability on MySQL / MariaDB: the buckets over a window, merged, equal
//! the direct statement over that window (see `common/merge.rs` for why floats get a
//! tolerance), with `Null` dimension values, static filters, `DATETIME` and
//! `TIMESTAMP` time columns (UTC session), hostile identifiers, overflow and
//! `count_distinct`.
//!
//! The scenarios both dialects share are in `common/buckets.rs`; this file adds
//! MySQL's collations and its `DATETIME` / `TIMESTAMP` columns.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::TestStore;
use common::buckets::{self, minutes, spec};
use common::merge;
use common::mysql::{IpAs, TestDb};
use livetable_core::{BucketQuery, BucketRequest, DataType, Filter, Value, Window};
use livetable_testkit::suite;

async fn agree_on(db: &TestDb, table: &str, anchor: DateTime<Utc>) {
    let q = db.db.aggregate(table, buckets::by_all()).unwrap();
    buckets::agree_over_the_hour(&q, anchor).await;

    // Null dimension values are their own groups; text groups by bytes ('Z' and 'z',
    // 'a' and 'á' stay apart although the column's collation merges them).
    let by_host = spec(&[("host", DataType::Text)]).build().unwrap();
    let q = db.db.aggregate(table, by_host).unwrap();
    let window = Window::new(minutes(anchor, 60), anchor).unwrap();
    let fetched = q
        .fetch_buckets(&BucketRequest::new(window, Duration::from_secs(60)))
        .await
        .unwrap();
    for host in [Value::Null, Value::from("Z"), Value::from("z")] {
        assert!(
            fetched.iter().any(|b| b.key == vec![host.clone()]),
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

    // Rows at known UTC times land in those instants' buckets, for both column types.
    for t in [&table, &stamped] {
        buckets::known_times_land_in_their_buckets(&db, t).await;
    }
    db.drop().await;
}

#[tokio::test]
async fn identifiers_are_quoted_overflow_fails_and_distinct_counts_are_refused() {
    let Some(db) = TestDb::new("buckets_misc").await else {
        return;
    };
    buckets::identifiers_are_quoted_and_distinct_counts_refused(&db).await;
    buckets::an_integer_sum_that_overflows_a_bucket_is_an_error(&db).await;
    db.drop().await;
}
