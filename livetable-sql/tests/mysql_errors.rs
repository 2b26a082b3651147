//! Errors on MySQL / MariaDB: a closed port, access denied, unknown tables and columns,
//! a lock wait timeout, the statement timeout, a killed connection (the server "gone
//! away") and configuration mistakes map onto livetable's kinds with messages that say
//! what to do.
//!
//! Only the closed port is written once for both dialects (`common/errors.rs`); the
//! rest stays apart from `errors.rs` because the servers' codes, texts and failure
//! modes differ.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::TestStore;
use common::ctx;
use common::errors::{self, spec};
use common::mysql::{TestDb, mysql_url};
use livetable_core::{Column, DataType, ErrorKind, Schema, TableQuery};
use livetable_sql::sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use livetable_sql::sqlx::{self, AssertSqlSafe, Executor as _};
use livetable_sql::{MySqlBackend, MySqlConfig};

#[tokio::test]
async fn wrong_port_is_unavailable_and_retryable() {
    errors::wrong_port_is_unavailable_and_retryable::<MySqlBackend>().await;
}

#[tokio::test]
async fn access_denied_unknown_tables_and_columns() {
    let Some(db) = TestDb::new("errors_names").await else {
        return;
    };
    // Access denied: a user that exists, with the wrong password.
    let user = format!("lt_user_{}", std::process::id());
    db.exec(&format!("DROP USER IF EXISTS '{user}'@'%'")).await;
    db.exec(&format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'right'"))
        .await;
    let denied = MySqlBackend::builder()
        .url(format!("mysql://{user}:wrong@127.0.0.1/{}", db.name))
        .build()
        .unwrap();
    let e = denied
        .aggregate("events", spec("host"))
        .unwrap()
        .fetch(&ctx())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(!e.is_retryable());
    assert!(!e.to_string().contains("wrong"), "{e}");
    db.exec(&format!("DROP USER '{user}'@'%'")).await;

    let e = db
        .db
        .aggregate(&db.table("missing"), spec("host"))
        .unwrap()
        .fetch(&ctx())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec, "{e}");
    assert!(!e.is_retryable());
    assert_eq!(e.context_value("mysql_error"), Some("1146"));
    assert!(e.message().contains("check the table name"), "{e}");

    db.exec(&format!(
        "CREATE TABLE {} (ts DATETIME, host TEXT)",
        db.table("events")
    ))
    .await;
    let e = db
        .db
        .aggregate(&db.table("events"), spec("hots"))
        .unwrap()
        .fetch(&ctx())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec, "{e}");
    assert_eq!(e.context_value("mysql_error"), Some("1054"));
    assert!(e.message().contains("hots"), "{e}");
    db.drop().await;
}

#[tokio::test]
async fn lock_wait_and_statement_timeouts_are_timeouts() {
    let Some(db) = TestDb::new("errors_timeout").await else {
        return;
    };
    let table = db.table("events");
    db.exec(&format!("CREATE TABLE {table} (ts DATETIME, host TEXT)"))
        .await;

    // A lock wait: another session holds the table's write lock; this pool waits 1 s
    // for the metadata lock.
    let options: MySqlConnectOptions = mysql_url().parse().unwrap();
    let pool = MySqlPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET SESSION lock_wait_timeout = 1").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .unwrap();
    let waiting = MySqlBackend::builder().pool(pool).build().unwrap();
    let mut holder = db.db.pool().acquire().await.unwrap();
    holder
        .execute(AssertSqlSafe(format!("LOCK TABLES {table} WRITE")))
        .await
        .unwrap();
    let e = waiting
        .aggregate(&table, spec("host"))
        .unwrap()
        .fetch(&ctx())
        .await
        .unwrap_err();
    holder.execute("UNLOCK TABLES").await.unwrap();
    drop(holder);
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(e.context_value("mysql_error"), Some("1205"), "{e}");
    assert!(e.is_retryable());

    // The statement timeout (MariaDB's max_statement_time) cancels a slow statement.
    let slow = MySqlBackend::builder()
        .url(mysql_url())
        .statement_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let schema = Schema::new(vec![
        Column::dimension("k", DataType::Text),
        Column::metric("n", DataType::Int),
    ])
    .unwrap();
    let q = slow
        .raw("SELECT 'k' AS k, SLEEP(5) AS n FROM DUAL WHERE ? < ?")
        .schema(schema)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the server cancelled it"
    );
    db.drop().await;
}

#[tokio::test]
async fn a_connection_killed_mid_statement_is_unavailable_and_the_next_fetch_recovers() {
    let Some(db) = TestDb::new("errors_gone").await else {
        return;
    };
    let one = MySqlBackend::builder()
        .url(mysql_url())
        .max_connections(1)
        .build()
        .unwrap();
    let schema = Schema::new(vec![
        Column::dimension("k", DataType::Text),
        Column::metric("n", DataType::Int),
    ])
    .unwrap();
    let marker = format!("lt_gone_{}", std::process::id());
    let q = one
        .raw(format!(
            "SELECT '{marker}' AS k, SLEEP(3) AS n FROM DUAL WHERE ? < ?"
        ))
        .schema(schema)
        .build()
        .unwrap();
    let running = tokio::spawn({
        let q = q.clone();
        async move { q.fetch(&ctx()).await }
    });
    // Find the statement's connection and kill it, as a server restart or a DBA would.
    let mut killed = false;
    for _ in 0..50 {
        let id: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT ID FROM information_schema.PROCESSLIST \
             WHERE INFO LIKE '%{marker}%' AND INFO NOT LIKE '%PROCESSLIST%'"
        )))
        .fetch_optional(db.db.pool())
        .await
        .unwrap();
        if let Some(id) = id {
            db.exec(&format!("KILL CONNECTION {id}")).await;
            killed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(killed, "the statement showed up in the process list");
    let e = running.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_retryable(), "{e}");
    // The pool replaces the dead connection.
    let q = one.aggregate(&db.table("none"), spec("host")).unwrap();
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::InvalidSpec,
        "a fresh connection answered: {e}"
    );
    db.drop().await;
}

#[tokio::test]
async fn builder_names_the_bad_field_and_hides_the_password() {
    let field = |b: livetable_sql::MySqlBuilder| {
        let e = b.build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSpec);
        e.context_value("field").unwrap().to_owned()
    };
    let url = "mysql://app:hunter2@127.0.0.1/test";
    assert_eq!(field(MySqlBackend::builder()), "url");
    let e = MySqlBackend::builder()
        .url("mysql://app:hunter2@127.0.0.1:notaport/x")
        .build()
        .unwrap_err();
    assert_eq!(e.context_value("field"), Some("url"));
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = MySqlBackend::builder()
        .url("postgres://app:hunter2@127.0.0.1/x")
        .build()
        .unwrap_err();
    assert!(e.message().contains("mysql://"), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert_eq!(
        field(MySqlBackend::builder().url(url).max_connections(0)),
        "max_connections"
    );
    assert_eq!(
        field(
            MySqlBackend::builder()
                .url(url)
                .connect_timeout(Duration::ZERO)
        ),
        "connect_timeout"
    );
    assert_eq!(
        field(
            MySqlBackend::builder()
                .url(url)
                .statement_timeout(Duration::ZERO)
        ),
        "statement_timeout"
    );
    let config: MySqlConfig = serde_json::from_str(&format!(r#"{{"url": "{url}"}}"#)).unwrap();
    assert!(!format!("{config:?}").contains("hunter2"));
    let db = MySqlBackend::builder().config(config).build().unwrap();
    assert!(!format!("{db:?}").contains("hunter2"));
}
