//! Errors: connection failures, unknown tables and columns, statement timeouts and
//! configuration mistakes map onto livetable's kinds with messages that say what to do.
//!
//! Only the closed port is written once for both dialects (`common/errors.rs`); the
//! rest stays apart from `mysql_errors.rs` because the servers' codes, texts and
//! failure modes differ.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::TestStore;
use common::ctx;
use common::errors::{self, spec};
use common::pg::{TestDb, database_url};
use livetable_core::{Column, DataType, ErrorKind, Schema, TableQuery};
use livetable_sql::{PgBackend, PgConfig};

#[tokio::test]
async fn wrong_port_is_unavailable_and_retryable() {
    errors::wrong_port_is_unavailable_and_retryable::<PgBackend>().await;
}

#[tokio::test]
async fn unknown_tables_and_columns_are_invalid_specs() {
    let Some(db) = TestDb::new("errors_names").await else {
        return;
    };
    let e = db
        .pg
        .aggregate(&db.table("missing"), spec("host"))
        .unwrap()
        .fetch(&ctx())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec, "{e}");
    assert!(!e.is_retryable());
    assert_eq!(e.context_value("sqlstate"), Some("42P01"));
    assert!(e.message().contains("does not exist"), "{e}");

    db.exec(&format!(
        "CREATE TABLE {} (ts timestamptz, host text)",
        db.table("events")
    ))
    .await;
    let e = db
        .pg
        .aggregate(&db.table("events"), spec("hots"))
        .unwrap()
        .fetch(&ctx())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec, "{e}");
    assert_eq!(e.context_value("sqlstate"), Some("42703"));
    assert!(e.message().contains("hots"), "{e}");
    db.drop().await;
}

#[tokio::test]
async fn statement_timeout_is_a_timeout() {
    let Some(db) = TestDb::new("errors_timeout").await else {
        return;
    };
    let pg = PgBackend::builder()
        .url(database_url())
        .statement_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let schema = Schema::new(vec![
        Column::dimension("k", DataType::Text),
        Column::metric("n", DataType::Int),
    ])
    .unwrap();
    let q = pg
        .raw("SELECT 'k'::text AS k, count(*) AS n FROM (SELECT pg_sleep(5)) s WHERE $1 < $2")
        .schema(schema)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the server cancelled the statement"
    );
    db.drop().await;
}

#[tokio::test]
async fn builder_names_the_bad_field_and_hides_the_password() {
    let field = |b: livetable_sql::PgBuilder| {
        let e = b.build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSpec);
        e.context_value("field").unwrap().to_owned()
    };
    let url = "postgres://app:hunter2@127.0.0.1/test";
    assert_eq!(field(PgBackend::builder()), "url");
    let e = PgBackend::builder()
        .url("postgres://app:hunter2@127.0.0.1:notaport/x")
        .build()
        .unwrap_err();
    assert_eq!(e.context_value("field"), Some("url"));
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert_eq!(
        field(PgBackend::builder().url(url).max_connections(0)),
        "max_connections"
    );
    assert_eq!(
        field(
            PgBackend::builder()
                .url(url)
                .connect_timeout(Duration::ZERO)
        ),
        "connect_timeout"
    );
    assert_eq!(
        field(
            PgBackend::builder()
                .url(url)
                .statement_timeout(Duration::ZERO)
        ),
        "statement_timeout"
    );
    let pool = PgBackend::builder()
        .url(url)
        .build()
        .unwrap()
        .pool()
        .clone();
    assert_eq!(
        field(PgBackend::builder().pool(pool).max_connections(2)),
        "max_connections"
    );

    let builder = PgBackend::builder().url(url);
    assert!(!format!("{builder:?}").contains("hunter2"));
    let config: PgConfig = serde_json::from_str(&format!(r#"{{"url": "{url}"}}"#)).unwrap();
    assert!(!format!("{config:?}").contains("hunter2"));
    let pg = PgBackend::builder().config(config).build().unwrap();
    assert!(!format!("{pg:?}").contains("hunter2"));
}
