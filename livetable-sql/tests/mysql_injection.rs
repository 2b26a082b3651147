//! Injection on MySQL / MariaDB: identifiers are quoted with backticks or rejected,
//! values are bound as data; the database is unharmed either way, and we check it.
#![allow(clippy::unwrap_used)]

mod mysql_common;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use livetable_core::{
    Aggregate, DataType, ErrorKind, FetchContext, Filter, Metric, TableQuery, Value, Window,
};
use mysql_common::TestDb;

const WEIRD: &str = "we`ird\"; DROP TABLE victim; --";

async fn setup(db: &TestDb) {
    let t = db.table("events");
    let v = db.table("victim");
    db.exec(&format!(
        "CREATE TABLE {t} (ts DATETIME(3), host TEXT, `{}` BIGINT)",
        WEIRD.replace('`', "``")
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES (UTC_TIMESTAMP() - INTERVAL 1 MINUTE, 'a', 1), \
         (UTC_TIMESTAMP() - INTERVAL 1 MINUTE, 'x'' OR ''1''=''1', 2), \
         (UTC_TIMESTAMP() - INTERVAL 1 MINUTE, '''; DROP TABLE {v}; --', 3)"
    ))
    .await;
    db.exec(&format!("CREATE TABLE {v} (id INT)")).await;
    db.exec(&format!("INSERT INTO {v} VALUES (1)")).await;
}

async fn unharmed(db: &TestDb) {
    assert_eq!(
        db.count(&db.table("victim")).await,
        1,
        "the victim survived"
    );
    assert_eq!(
        db.count(&db.table("events")).await,
        3,
        "the events are intact"
    );
}

fn ctx() -> FetchContext {
    FetchContext::new(
        Window::ending_at(
            Utc::now() + TimeDelta::seconds(1),
            Duration::from_secs(3600),
        )
        .unwrap(),
    )
}

fn spec(dimension: &str, field: &str) -> livetable_core::AggregateBuilder {
    Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension(dimension, DataType::Text)
        .field(field, DataType::Int)
        .metric(Metric::count("n"))
        .metric(Metric::sum("total", field))
}

#[tokio::test]
async fn weird_identifiers_are_quoted_and_values_are_bound() {
    let Some(db) = TestDb::new("inject").await else {
        return;
    };
    setup(&db).await;
    let events = db.table("events");

    // A column whose real name holds a backtick, a quote and SQL: one identifier.
    let q = db
        .db
        .aggregate(&events, spec("host", WEIRD).build().unwrap())
        .unwrap();
    let rows = q.fetch(&ctx()).await.unwrap().rows;
    assert_eq!(rows.len(), 3);
    let total: i64 = rows.iter().map(|r| r[2].as_i64().unwrap()).sum();
    assert_eq!(total, 6);

    // Filter values with SQL in them match only themselves: static and viewer filters.
    let sneaky = "x' OR '1'='1";
    let q = db
        .db
        .aggregate(
            &events,
            spec("host", WEIRD)
                .filter(Filter::eq("host", sneaky))
                .build()
                .unwrap(),
        )
        .unwrap();
    let rows = q.fetch(&ctx()).await.unwrap().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], Value::from(sneaky));
    let drop = format!("'; DROP TABLE {}; --", db.table("victim"));
    let q = db
        .db
        .aggregate(&events, spec("host", WEIRD).build().unwrap())
        .unwrap();
    let viewer = ctx().with_filters(vec![Filter::is_in("host", [drop.as_str(), "nope"])]);
    let rows = q.fetch(&viewer).await.unwrap().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], Value::from(drop.as_str()));
    let ranged = ctx().with_filters(vec![Filter::range(
        "host",
        Some(Value::from("'")),
        Some(Value::from("b")),
    )]);
    assert_eq!(q.fetch(&ranged).await.unwrap().rows.len(), 2);

    unharmed(&db).await;
    db.drop().await;
}

#[tokio::test]
async fn injected_names_are_rejected_not_run() {
    let Some(db) = TestDb::new("inject_names").await else {
        return;
    };
    setup(&db).await;
    let victim = db.table("victim");

    // A dimension that tries to close the identifier and run a statement.
    let evil = format!("host`; DROP TABLE {victim}; --");
    let q = db
        .db
        .aggregate(&db.table("events"), spec(&evil, WEIRD).build().unwrap())
        .unwrap();
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec, "{e}");
    assert_eq!(e.context_value("mysql_error"), Some("1054"), "{e}");
    assert!(!e.is_retryable());

    // A table name that tries the same.
    let table = format!("{}.events`; DROP TABLE victim; --", db.name);
    let q = db
        .db
        .aggregate(&table, spec("host", WEIRD).build().unwrap())
        .unwrap();
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec, "{e}");
    assert_eq!(e.context_value("mysql_error"), Some("1146"), "{e}");

    // Names MySQL cannot hold are refused before any statement is sent.
    let table = format!("{}.events; DROP TABLE {victim}", db.table("events"));
    let e = db
        .db
        .aggregate(&table, spec("host", WEIRD).build().unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec);
    assert!(e.message().contains("more than two parts"), "{e}");
    let e = db
        .db
        .aggregate(&db.table("events"), spec("host\0", WEIRD).build().unwrap())
        .unwrap_err();
    assert!(e.message().contains("NUL"), "{e}");

    unharmed(&db).await;
    db.drop().await;
}
