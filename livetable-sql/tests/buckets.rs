//! The bucket capability on PostgreSQL: the buckets over a window, merged, equal the
//! direct statement over that window (see `common/merge.rs` for why floats get a
//! tolerance), with `Null` dimension values, static filters, a `timestamp` (without
//! time zone) time column, hostile identifiers, overflow and `count_distinct`.
//!
//! The scenarios both dialects share are in `common/buckets.rs`; this file adds
//! PostgreSQL's statement (`date_bin`), its `timestamp` column and its filters.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::TestStore;
use common::buckets::{self, minutes, spec};
use common::merge;
use common::pg::TestDb;
use livetable_core::{BucketQuery, BucketRequest, DataType, Filter, Value, Window};
use livetable_testkit::suite;

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

    let q = db.pg.aggregate(&table, buckets::by_all()).unwrap();
    let sql = q.bucket_sql().unwrap();
    assert!(
        sql.starts_with("SELECT date_bin($1::interval, \"ts\""),
        "{sql}"
    );
    assert!(sql.contains("GROUP BY 1, \"src_ip\""), "{sql}");
    buckets::agree_over_the_hour(&q, anchor).await;

    // Null dimension values are their own groups, in buckets too.
    let by_host = spec(&[("host", DataType::Text)]).build().unwrap();
    let q = db.pg.aggregate(&table, by_host).unwrap();
    // Whole 2-minute buckets (the anchor is a whole minute).
    let from = minutes(anchor, 60 + anchor.timestamp() / 60 % 2);
    let window = Window::new(from, anchor).unwrap();
    let fetched = q
        .fetch_buckets(&BucketRequest::new(window, Duration::from_secs(120)))
        .await
        .unwrap();
    assert!(fetched.iter().any(|b| b.key == vec![Value::Null]));
    assert!(
        fetched
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
    buckets::known_times_land_in_their_buckets(&db, &table).await;
    db.drop().await;
}

#[tokio::test]
async fn identifiers_are_quoted_and_distinct_counts_refused() {
    let Some(db) = TestDb::new("buckets_inject").await else {
        return;
    };
    let refused = buckets::identifiers_are_quoted_and_distinct_counts_refused(&db).await;
    assert!(refused.bucket_sql().is_err());
    db.drop().await;
}

#[tokio::test]
async fn an_integer_sum_that_overflows_a_bucket_is_an_error() {
    let Some(db) = TestDb::new("buckets_overflow").await else {
        return;
    };
    buckets::an_integer_sum_that_overflows_a_bucket_is_an_error(&db).await;
    db.drop().await;
}
