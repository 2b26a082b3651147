//! Types on MySQL / MariaDB through raw SQL (`?` for the window's start and end) and
//! aggregates: every supported type decodes into the declared livetable type, lossy or
//! out-of-range cells are errors (never wrapped or truncated), and `TIMESTAMP` reads as
//! UTC whatever time zone wrote it.
//!
//! Not shared with `types.rs`: each dialect has its own types, mappings and refusals,
//! and the two files test exactly those.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::TestStore;
use common::mysql::TestDb;
use livetable_core::{
    Aggregate, Column, DataType, FetchContext, Metric, Schema, TableQuery, Value, Window,
};
use livetable_sql::sqlx::{self, AssertSqlSafe, Executor as _, Row as _};

fn ctx() -> FetchContext {
    FetchContext::new(
        Window::new(
            "2026-01-01T00:00:00Z".parse().unwrap(),
            "2026-01-02T00:00:00Z".parse().unwrap(),
        )
        .unwrap(),
    )
}

fn ts(s: &str) -> Value {
    Value::Timestamp(s.parse::<DateTime<Utc>>().unwrap())
}

fn ip(s: &str) -> Value {
    Value::Ip(s.parse().unwrap())
}

const TYPES: &str = "ts DATETIME(6), t TIMESTAMP(3) NULL, ti TINYINT, si SMALLINT, mi MEDIUMINT, \
     i INT, bi BIGINT, tu TINYINT UNSIGNED, bu BIGINT UNSIGNED, dc DECIMAL(20,4), fl FLOAT, \
     db DOUBLE, vc VARCHAR(20), tx TEXT, bo BOOLEAN, ip6 INET6, ipt VARCHAR(45), \
     ipb VARBINARY(16), dt DATE";

const SELECT: &str = "SELECT vc, tx, bo, ip6, ipt, ipb, ti, si, mi, i, bi, tu, bu, dc, fl, db, \
     t, ts, dt FROM {t} WHERE ts >= ? AND ts < ? ORDER BY ts";

fn schema() -> Schema {
    let d = |n: &str, t| Column::dimension(n, t);
    let m = |n: &str, t| Column::metric(n, t);
    Schema::new(vec![
        d("vc", DataType::Text),
        d("tx", DataType::Text),
        d("bo", DataType::Bool),
        d("ip6", DataType::Ip),
        d("ipt", DataType::Ip),
        d("ipb", DataType::Ip),
        m("ti", DataType::Int),
        m("si", DataType::Int),
        m("mi", DataType::Int),
        m("i", DataType::Int),
        m("bi", DataType::Int),
        m("tu", DataType::Int),
        m("bu", DataType::Int),
        m("dc", DataType::Float),
        m("fl", DataType::Float),
        m("db", DataType::Float),
        m("t", DataType::Timestamp),
        m("ts", DataType::Timestamp),
        m("dt", DataType::Timestamp),
    ])
    .unwrap()
}

#[tokio::test]
async fn every_supported_type_round_trips_through_raw_sql() {
    let Some(db) = TestDb::new("types").await else {
        return;
    };
    let t = db.table("types");
    db.exec(&format!("CREATE TABLE {t} ({TYPES})")).await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES ('2026-01-01 10:00:00.123456', '2026-01-01 10:00:00.5', \
         -128, -32768, -8388608, -2147483648, {min}, 255, {max}, 12345.6789, 1.5, 0.1, \
         'Zé', 'x\"y', TRUE, '::ffff:10.0.0.9', '2001:db8::1', INET6_ATON('192.168.1.1'), \
         '2026-01-01'), \
         ('2026-01-01 11:00:00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
         NULL, NULL, NULL, FALSE, '2001:db8::10', '10.1.0.1', INET6_ATON('fe80::2'), NULL), \
         ('2025-12-31 23:59:59.999999', NULL, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 'before', \
         'window', NULL, NULL, NULL, NULL, NULL)",
        min = i64::MIN,
        max = i64::MAX
    ))
    .await;
    let q = db
        .db
        .raw(SELECT.replace("{t}", &t))
        .schema(schema())
        .build()
        .unwrap();
    let rows = q.fetch(&ctx()).await.unwrap().rows;
    assert_eq!(rows.len(), 2, "the window bounds are bound: {rows:?}");
    assert_eq!(
        rows[0].values(),
        &[
            Value::from("Zé"),
            Value::from("x\"y"),
            Value::Bool(true),
            ip("10.0.0.9"),
            ip("2001:db8::1"),
            ip("192.168.1.1"),
            Value::Int(-128),
            Value::Int(-32768),
            Value::Int(-8_388_608),
            Value::Int(-2_147_483_648),
            Value::Int(i64::MIN),
            Value::Int(255),
            Value::Int(i64::MAX),
            Value::Float(12345.6789),
            Value::Float(1.5),
            Value::Float(0.1),
            ts("2026-01-01T10:00:00.5Z"),
            ts("2026-01-01T10:00:00.123456Z"),
            ts("2026-01-01T00:00:00Z"),
        ]
    );
    let second = rows[1].values();
    assert_eq!(second[2], Value::Bool(false));
    assert_eq!(second[3], ip("2001:db8::10"));
    assert_eq!(second[4], ip("10.1.0.1"));
    assert_eq!(second[5], ip("fe80::2"));
    assert!(second[6..].iter().all(Value::is_null) || second[17] == ts("2026-01-01T11:00:00Z"));
    assert_eq!(second[17], ts("2026-01-01T11:00:00Z"));

    // Inferred: names and natural types.
    let inferred = db
        .db
        .raw(format!(
            "SELECT vc, bo, bi, bu, dc, db, ts FROM {t} WHERE ts >= ? AND ts < ?"
        ))
        .infer()
        .await
        .unwrap();
    let types: Vec<DataType> = inferred
        .schema()
        .columns()
        .iter()
        .map(|c| c.data_type)
        .collect();
    assert_eq!(
        types,
        [
            DataType::Text,
            DataType::Bool,
            DataType::Int,
            DataType::Int,
            DataType::Float,
            DataType::Float,
            DataType::Timestamp
        ]
    );
    assert_eq!(inferred.fetch(&ctx()).await.unwrap().rows.len(), 2);
    db.drop().await;
}

#[tokio::test]
async fn lossy_and_out_of_range_cells_are_errors() {
    let Some(db) = TestDb::new("types_lossy").await else {
        return;
    };
    let t = db.table("lossy");
    db.exec(&format!(
        "CREATE TABLE {t} (ts DATETIME, bu BIGINT UNSIGNED, dc DECIMAL(10,2), ti TINYINT, \
         b VARBINARY(4))"
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES ('2026-01-01 10:00:00', 18446744073709551615, 12.50, 2, X'FFFE')"
    ))
    .await;
    let one = |col: &str, ty: DataType| {
        db.db
            .raw(format!("SELECT {col} FROM {t} WHERE ts >= ? AND ts < ?"))
            .schema(Schema::new(vec![Column::dimension(col, ty)]).unwrap())
            .build()
            .unwrap()
    };
    // An unsigned 64-bit value above i64::MAX: an error for an integer, a float is fine.
    let e = one("bu", DataType::Int).fetch(&ctx()).await.unwrap_err();
    assert!(e.message().contains("18446744073709551615"), "{e}");
    assert_eq!(e.context_value("column"), Some("bu"));
    let rows = one("bu", DataType::Float).fetch(&ctx()).await.unwrap().rows;
    assert_eq!(rows[0][0], Value::Float(18_446_744_073_709_551_615.0));
    // A decimal with a fraction is not an integer.
    let e = one("dc", DataType::Int).fetch(&ctx()).await.unwrap_err();
    assert!(e.message().contains("12.50"), "{e}");
    // 2 is not a boolean.
    let e = one("ti", DataType::Bool).fetch(&ctx()).await.unwrap_err();
    assert!(e.message().contains("boolean"), "{e}");
    // Bytes that are not UTF-8 are not text.
    let e = one("b", DataType::Text).fetch(&ctx()).await.unwrap_err();
    assert!(e.message().contains("UTF-8"), "{e}");
    // A raw statement must take the window as two placeholders.
    let e = db
        .db
        .raw(format!("SELECT ti FROM {t} WHERE ts >= ?"))
        .schema(Schema::new(vec![Column::dimension("ti", DataType::Int)]).unwrap())
        .build()
        .unwrap_err();
    assert!(e.message().contains("two `?`"), "{e}");
    db.drop().await;
}

#[tokio::test]
async fn timestamps_read_as_utc_whatever_zone_wrote_them() {
    let Some(db) = TestDb::new("types_tz").await else {
        return;
    };
    let t = db.table("tz");
    db.exec(&format!(
        "CREATE TABLE {t} (ts TIMESTAMP(3) NULL, host TEXT)"
    ))
    .await;
    // Written by a session five hours east of UTC: 05:00 there is 00:00 UTC.
    let mut conn = db.db.pool().acquire().await.unwrap();
    conn.execute("SET time_zone = '+05:00'").await.unwrap();
    conn.execute(AssertSqlSafe(format!(
        "INSERT INTO {t} VALUES ('2026-01-01 05:00:00', 'east')"
    )))
    .await
    .unwrap();
    // Give the connection back in the pool's own state.
    conn.execute("SET time_zone = '+00:00'").await.unwrap();
    drop(conn);
    let q = db
        .db
        .aggregate(
            &t,
            Aggregate::builder()
                .time_column("ts")
                .window(Duration::from_secs(86_400))
                .dimension("host", DataType::Text)
                .metric(Metric::count("n"))
                .metric(Metric::min("first", "ts"))
                .build()
                .unwrap(),
        )
        .unwrap();
    let rows = q.fetch(&ctx()).await.unwrap().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], ts("2026-01-01T00:00:00Z"));
    // The window edges are UTC too: [00:00, 00:00 + 1 ms) holds the row, [23:00 the
    // day before, 00:00) does not.
    let at: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let edge = |a: DateTime<Utc>, b: DateTime<Utc>| FetchContext::new(Window::new(a, b).unwrap());
    let inside = q
        .fetch(&edge(at, at + TimeDelta::milliseconds(1)))
        .await
        .unwrap();
    assert_eq!(inside.rows.len(), 1);
    let before = q.fetch(&edge(at - TimeDelta::hours(1), at)).await.unwrap();
    assert!(before.rows.is_empty());
    let zone: String = sqlx::query("SELECT @@session.time_zone")
        .fetch_one(db.db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(zone, "+00:00");
    db.drop().await;
}

#[tokio::test]
async fn aggregates_over_narrow_and_unsigned_types_and_overflow() {
    let Some(db) = TestDb::new("types_agg").await else {
        return;
    };
    let t = db.table("narrow");
    db.exec(&format!(
        "CREATE TABLE {t} (ts DATETIME, host VARCHAR(10), ti TINYINT, tu TINYINT UNSIGNED, \
         bu BIGINT UNSIGNED, dc DECIMAL(10,2), big BIGINT)"
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES ('2026-01-01 10:00:00', 'a', 127, 255, 1, 1.25, {m}), \
         ('2026-01-01 10:00:01', 'a', 127, 255, 2, 2.50, 1), \
         ('2026-01-01 10:00:02', 'b', -1, 0, 3, NULL, 1)",
        m = i64::MAX
    ))
    .await;
    let spec = |b: livetable_core::AggregateBuilder| {
        b.time_column("ts")
            .window(Duration::from_secs(86_400))
            .dimension("host", DataType::Text)
            .field("ti", DataType::Int)
            .field("tu", DataType::Int)
            .field("bu", DataType::Int)
            .field("dc", DataType::Float)
            .field("big", DataType::Int)
            .metric(Metric::sum("ti", "ti"))
            .metric(Metric::sum("tu", "tu"))
            .metric(Metric::max("bu", "bu"))
            .metric(Metric::sum("dc", "dc"))
            .metric(Metric::avg("avg_ti", "ti"))
            .build()
            .unwrap()
    };
    let q = db.db.aggregate(&t, spec(Aggregate::builder())).unwrap();
    let rows = q.fetch(&ctx()).await.unwrap().rows;
    assert_eq!(
        rows[0].values(),
        &[
            Value::from("a"),
            Value::Int(254),
            Value::Int(510),
            Value::Int(2),
            Value::Float(3.75),
            Value::Float(127.0)
        ]
    );
    assert_eq!(rows[1][4], Value::Null, "a sum over no values is Null");
    // A 64-bit sum that overflows is an error, not a wrapped number.
    let q = db
        .db
        .aggregate(
            &t,
            Aggregate::builder()
                .time_column("ts")
                .window(Duration::from_secs(86_400))
                .dimension("host", DataType::Text)
                .field("big", DataType::Int)
                .metric(Metric::sum("big", "big"))
                .build()
                .unwrap(),
        )
        .unwrap();
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert!(e.message().contains("64-bit"), "{e}");
    db.drop().await;
}
