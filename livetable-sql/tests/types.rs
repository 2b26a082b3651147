//! Types: every supported PostgreSQL type decodes into the right `Value`, through raw
//! SQL (declared and inferred schemas) and through aggregates; NULL dimensions and
//! NULL metric inputs; unsupported types and lossy cells are errors naming the column.
//!
//! Not shared with `mysql_types.rs`: each dialect has its own types, mappings and
//! refusals, and the two files test exactly those.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::TestStore;
use common::ctx;
use common::pg::TestDb;
use livetable_core::{Aggregate, Column, DataType, ErrorKind, Metric, Schema, TableQuery, Value};

fn ts(s: &str) -> Value {
    Value::Timestamp(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

#[tokio::test]
async fn every_supported_type_round_trips_through_raw_sql() {
    let Some(db) = TestDb::new("types_raw").await else {
        return;
    };
    let t = db.table("all_types");
    db.exec(&format!(
        "CREATE TABLE {t} (k text, i2 int2, i4 int4, i8 int8, n numeric, f4 float4, f8 float8, \
         vc varchar(20), bp char(3), b bool, ip inet, cidr_host cidr, tstz timestamptz, ts timestamp)"
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES \
         ('1', -32768, 2147483647, -9223372036854775808, 12.5, 1.5, -0.25, 'héllo ''x''', 'ab', true, \
          '2001:db8::1', '10.1.2.3/32', '2024-02-29 12:34:56.789012+00', '2024-02-29 12:34:56.789012'), \
         ('2', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
    ))
    .await;
    // $1 and $2 (the window) are bound on every fetch; this statement reads them too.
    let sql = format!("SELECT * FROM {t} WHERE $1 < $2 ORDER BY k");
    let q = db.pg.raw(&sql).dimensions(["k"]).infer().await.unwrap();
    let types: Vec<(String, DataType, bool)> = q
        .schema()
        .columns()
        .iter()
        .map(|c| (c.name.clone(), c.data_type, c.is_dimension()))
        .collect();
    use DataType::*;
    let expected_types = [
        ("k", Text),
        ("i2", Int),
        ("i4", Int),
        ("i8", Int),
        ("n", Float),
        ("f4", Float),
        ("f8", Float),
        ("vc", Text),
        ("bp", Text),
        ("b", Bool),
        ("ip", Ip),
        ("cidr_host", Ip),
        ("tstz", Timestamp),
        ("ts", Timestamp),
    ];
    for ((name, t, dim), (en, et)) in types.iter().zip(expected_types) {
        assert_eq!((name.as_str(), *t, *dim), (en, et, en == "k"));
    }
    let rows = q.fetch(&ctx()).await.unwrap().rows;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].values(),
        &[
            Value::from("1"),
            Value::Int(-32768),
            Value::Int(2_147_483_647),
            Value::Int(i64::MIN),
            Value::Float(12.5),
            Value::Float(1.5),
            Value::Float(-0.25),
            Value::from("héllo 'x'"),
            Value::from("ab "),
            Value::Bool(true),
            Value::Ip("2001:db8::1".parse().unwrap()),
            Value::Ip("10.1.2.3".parse().unwrap()),
            ts("2024-02-29T12:34:56.789012Z"),
            ts("2024-02-29T12:34:56.789012Z"),
        ]
    );
    assert!(
        rows[1].values()[1..].iter().all(Value::is_null),
        "{}",
        rows[1]
    );

    // Without `dimensions`, the non-numeric columns are the key.
    let q = db.pg.raw(&sql).infer().await.unwrap();
    let dims: Vec<&str> = q.schema().dimensions().map(|c| c.name.as_str()).collect();
    assert_eq!(
        dims,
        ["k", "vc", "bp", "b", "ip", "cidr_host", "tstz", "ts"]
    );
    db.drop().await;
}

#[tokio::test]
async fn declared_schemas_convert_and_refuse_lossy_cells() {
    let Some(db) = TestDb::new("types_declared").await else {
        return;
    };
    let t = db.table("nums");
    db.exec(&format!(
        "CREATE TABLE {t} (k text, n numeric, i4 int4, net cidr, doc jsonb)"
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES ('a', 42, 7, '10.0.0.1/32', '{{}}')"
    ))
    .await;
    let schema = |cols: Vec<Column>| Schema::new(cols).unwrap();

    // numeric 42 as int, int4 as float.
    let q = db
        .pg
        .raw(format!("SELECT k, n, i4 FROM {t}"))
        .schema(schema(vec![
            Column::dimension("k", DataType::Text),
            Column::metric("n", DataType::Int),
            Column::metric("i4", DataType::Float),
        ]))
        .build()
        .unwrap();
    let rows = q.fetch(&ctx()).await.unwrap().rows;
    assert_eq!(
        rows[0].values(),
        &[Value::from("a"), Value::Int(42), Value::Float(7.0)]
    );

    // A fraction is not an int; a network is not an address.
    db.exec(&format!("UPDATE {t} SET n = 4.5, net = '10.0.0.0/8'"))
        .await;
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert!(
        e.message().contains("column `n`") && e.message().contains("4.5 is not an integer"),
        "{e}"
    );
    let q = db
        .pg
        .raw(format!("SELECT k, net FROM {t}"))
        .schema(schema(vec![
            Column::dimension("k", DataType::Text),
            Column::dimension("net", DataType::Ip),
        ]))
        .build()
        .unwrap();
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert!(e.message().contains("10.0.0.0/8 is a network"), "{e}");

    // An unsupported type names the column and the type, when inferring and fetching.
    let e = db
        .pg
        .raw(format!("SELECT k, doc FROM {t}"))
        .infer()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec);
    assert!(
        e.message()
            .contains("column `doc` has PostgreSQL type JSONB"),
        "{e}"
    );
    let q = db
        .pg
        .raw(format!("SELECT k, doc FROM {t}"))
        .schema(schema(vec![
            Column::dimension("k", DataType::Text),
            Column::metric("doc", DataType::Text),
        ]))
        .build()
        .unwrap();
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert!(
        e.message().contains("`doc`") && e.message().contains("JSONB"),
        "{e}"
    );

    // A declared schema of the wrong width is caught by infer().
    let e = db
        .pg
        .raw(format!("SELECT k FROM {t}"))
        .schema(schema(vec![
            Column::dimension("k", DataType::Text),
            Column::metric("x", DataType::Int),
        ]))
        .infer()
        .await
        .unwrap_err();
    assert!(e.message().contains("returns 1 columns"), "{e}");
    db.drop().await;
}

#[tokio::test]
async fn aggregates_over_narrow_types_nulls_and_overflow() {
    let Some(db) = TestDb::new("types_agg").await else {
        return;
    };
    let t = db.table("narrow");
    // The time column is `timestamp` without a time zone (read as UTC), the measures
    // are int4, float4 and numeric: the spec's int/float decode from each.
    db.exec(&format!(
        "CREATE TABLE {t} (ts timestamp, host varchar(10), ip inet, size int4, lat float4, amount numeric)"
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES \
         (now() at time zone 'utc' - interval '1 minute', 'a', '10.0.0.1', 10, 1.5, 2.25), \
         (now() at time zone 'utc' - interval '1 minute', 'a', '10.0.0.1', NULL, NULL, NULL), \
         (now() at time zone 'utc' - interval '2 minutes', NULL, NULL, 5, 0.5, 1), \
         (now() at time zone 'utc' - interval '3 minutes', NULL, NULL, NULL, NULL, NULL), \
         (now() at time zone 'utc' - interval '2 hours', 'old', NULL, 1, 1, 1)"
    ))
    .await;
    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension("host", DataType::Text)
        .dimension("ip", DataType::Ip)
        .field("size", DataType::Int)
        .field("lat", DataType::Float)
        .field("amount", DataType::Float)
        .metric(Metric::count("n"))
        .metric(Metric::sum("size_sum", "size"))
        .metric(Metric::avg("size_avg", "size"))
        .metric(Metric::min("size_min", "size"))
        .metric(Metric::max("lat_max", "lat"))
        .metric(Metric::sum("amount", "amount"))
        .metric(Metric::count_distinct("sizes", "size"))
        .metric(Metric::max("last", "ts"))
        .build()
        .unwrap();
    let q = db.pg.aggregate(&t, spec).unwrap();
    let rows = q.fetch(&ctx()).await.unwrap().rows;
    assert_eq!(rows.len(), 2, "the 2-hour-old row is outside the window");
    // Null key first.
    let v = rows[0].values();
    assert_eq!(
        &v[..8],
        &[
            Value::Null,
            Value::Null,
            Value::Int(2),
            Value::Int(5),
            Value::Float(5.0),
            Value::Int(5),
            Value::Float(0.5),
            Value::Float(1.0),
        ]
    );
    assert_eq!(v[8], Value::Int(1));
    let v = rows[1].values();
    assert_eq!(
        &v[..9],
        &[
            Value::from("a"),
            Value::Ip("10.0.0.1".parse().unwrap()),
            Value::Int(2),
            Value::Int(10),
            Value::Float(10.0),
            Value::Int(10),
            Value::Float(1.5),
            Value::Float(2.25),
            Value::Int(1),
        ]
    );
    let Value::Timestamp(last) = v[9] else {
        panic!("a timestamp: {:?}", v[9])
    };
    assert!(
        (Utc::now() - last - TimeDelta::minutes(1)).abs() < TimeDelta::seconds(30),
        "{last}"
    );

    // A group whose inputs are all null: sum/avg/min/max are null, counts are 0.
    let only_nulls = ctx().with_filters(vec![livetable_core::Filter::eq("host", Value::Null)]);
    db.exec(&format!("DELETE FROM {t} WHERE size = 5")).await;
    let rows = q.fetch(&only_nulls).await.unwrap().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        &rows[0].values()[2..9],
        &[
            Value::Int(1),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Int(0),
        ]
    );

    // An integer sum beyond 64 bits is an error, not a wrapped value.
    let big = db.table("big");
    db.exec(&format!(
        "CREATE TABLE {big} (ts timestamptz, k text, v int8)"
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {big} VALUES (now(), 'k', 9223372036854775807), (now(), 'k', 1)"
    ))
    .await;
    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension("k", DataType::Text)
        .field("v", DataType::Int)
        .metric(Metric::sum("total", "v"))
        .build()
        .unwrap();
    let e = db
        .pg
        .aggregate(&big, spec)
        .unwrap()
        .fetch(&ctx())
        .await
        .unwrap_err();
    assert_eq!(e.context_value("sqlstate"), Some("22003"), "{e}");
    assert!(e.message().contains("64-bit"), "{e}");
    db.drop().await;
}
