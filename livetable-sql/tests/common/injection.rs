//! The injection scenarios, on either dialect: identifiers are quoted or rejected,
//! values are bound as data; the database is unharmed either way, and we check it.

use std::time::Duration;

use livetable_core::{
    Aggregate, AggregateBuilder, DataType, ErrorKind, Filter, Metric, TableQuery, Value,
};

use super::dialect::literal;
use super::{Dialect, TestStore, ctx};

/// A real column name holding both dialects' identifier quotes, a semicolon and SQL.
const WEIRD: &str = "we\"i`rd; DROP TABLE victim; --";

/// `events` (three rows, two with SQL in their text) and `victim` (one row).
async fn setup<S: TestStore>(db: &S) {
    let (t, v) = (db.table("events"), db.table("victim"));
    let ago = <S::Backend as Dialect>::ago(1, "minute");
    db.exec(&format!(
        "CREATE TABLE {t} (ts {}, host {}, {} {})",
        <S::Backend as Dialect>::TIMESTAMP,
        <S::Backend as Dialect>::TEXT,
        <S::Backend as Dialect>::quote(WEIRD),
        <S::Backend as Dialect>::BIGINT,
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES ({ago}, 'a', 1), ({ago}, {}, 2), ({ago}, {}, 3)",
        literal("x' OR '1'='1"),
        literal(&format!("'; DROP TABLE {v}; --")),
    ))
    .await;
    db.exec(&format!(
        "CREATE TABLE {v} (id {})",
        <S::Backend as Dialect>::INT
    ))
    .await;
    db.exec(&format!("INSERT INTO {v} VALUES (1)")).await;
}

async fn unharmed<S: TestStore>(db: &S) {
    assert_eq!(
        db.count(&db.table("victim")).await,
        1,
        "the victim table survived"
    );
    assert_eq!(
        db.count(&db.table("events")).await,
        3,
        "the events table is intact"
    );
}

fn spec(dimension: &str, field: &str) -> AggregateBuilder {
    Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension(dimension, DataType::Text)
        .field(field, DataType::Int)
        .metric(Metric::count("n"))
        .metric(Metric::sum("total", field))
}

/// A quoted weird column reads as data; filter values with SQL in them match only
/// themselves.
pub async fn weird_identifiers_are_quoted_and_values_are_bound<S: TestStore>() {
    let Some(db) = S::new("inject").await else {
        return;
    };
    setup(&db).await;
    let events = db.table("events");

    // A column whose real name holds quotes, a semicolon and SQL: quoting makes it
    // one identifier, so the spec reads it as data.
    let q = db
        .query(&events, spec("host", WEIRD).build().unwrap())
        .unwrap();
    let rows = q.fetch(&ctx()).await.unwrap().rows;
    assert_eq!(rows.len(), 3);
    let total: i64 = rows.iter().map(|r| r[2].as_i64().unwrap()).sum();
    assert_eq!(total, 6);

    // Filter values with SQL in them match only themselves: static and viewer filters.
    let sneaky = "x' OR '1'='1";
    let q = db
        .query(
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
        .query(&events, spec("host", WEIRD).build().unwrap())
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

/// Names that try to close the identifier are unknown names to the server, or refused
/// before any statement is sent.
pub async fn injected_names_are_rejected_not_run<S: TestStore>() {
    let Some(db) = S::new("inject_names").await else {
        return;
    };
    setup(&db).await;
    let victim = db.table("victim");
    let quote = <S::Backend as Dialect>::QUOTE;
    let code = <S::Backend as Dialect>::CODE;

    // A dimension that tries to close the identifier and run a statement.
    let evil = format!("host{quote}; DROP TABLE {victim}; --");
    let q = db
        .query(&db.table("events"), spec(&evil, WEIRD).build().unwrap())
        .unwrap();
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec, "{e}");
    assert_eq!(
        e.context_value(code),
        Some(<S::Backend as Dialect>::UNKNOWN_COLUMN),
        "{e}"
    );
    assert!(!e.is_retryable());

    // A table name that tries the same.
    let table = format!("{}.events{quote}; DROP TABLE victim; --", db.namespace());
    let q = db
        .query(&table, spec("host", WEIRD).build().unwrap())
        .unwrap();
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec, "{e}");
    assert_eq!(
        e.context_value(code),
        Some(<S::Backend as Dialect>::UNKNOWN_TABLE),
        "{e}"
    );

    // Names the server cannot hold are refused before any statement is sent.
    let table = format!("{}.events; DROP TABLE {victim}", db.table("events"));
    let e = db
        .query(&table, spec("host", WEIRD).build().unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec);
    assert!(e.message().contains("more than two parts"), "{e}");
    let e = db
        .query(&db.table("events"), spec("host\0", WEIRD).build().unwrap())
        .unwrap_err();
    assert!(e.message().contains("NUL"), "{e}");

    unharmed(&db).await;
    db.drop().await;
}
