//! The fault scenario, on either dialect: a `LiveTable` over a private server
//! ([`Dialect::Server`]) goes stale when the server stops, keeps serving the last
//! snapshot, and recovers by itself when the server is back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use livetable_core::{Aggregate, DataType, ErrorKind, LiveTable, Metric, Snapshot, Status, Value};
use livetable_testkit::private_server::{self, PrivateServer};

use super::Dialect;

/// Runs the scenario on a private server of `D`'s; skips (or fails, when services are
/// required) where this machine cannot run one.
pub async fn stale_and_recovered<D: Dialect>() {
    let Some(server) = private_server::start_or_skip::<D::Server>() else {
        return;
    };
    let db = D::connect(
        &server.url(),
        Duration::from_secs(1),
        Duration::from_secs(5),
    );
    db.exec(&format!(
        "CREATE TABLE events (ts {}, host {})",
        D::TIMESTAMP,
        D::TEXT
    ))
    .await;
    let insert = |host: &'static str| {
        let sql = format!(
            "INSERT INTO events VALUES ({}, '{host}')",
            D::ago(1, "second")
        );
        let db = &db;
        async move { db.exec(&sql).await }
    };
    insert("a").await;
    insert("b").await;

    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension("host", DataType::Text)
        .metric(Metric::count("n"))
        .build()
        .unwrap();
    let table = LiveTable::builder("events", db.query("events", spec).unwrap())
        .interval(Duration::from_secs(1))
        .fetch_timeout(Duration::from_secs(3))
        .start()
        .unwrap();
    let first = table.ready().await;
    assert!(first.status.is_fresh(), "{:?}", first.status);
    assert_eq!(hosts(&first), [Value::from("a"), Value::from("b")]);

    // The server goes away: the table turns stale and keeps the last good rows.
    server.stop().unwrap();
    let stale = wait_for(&table, "stale", Duration::from_secs(30), |s| {
        matches!(s.status, Status::Stale { .. })
    })
    .await;
    let Status::Stale { error, .. } = &stale.status else {
        unreachable!()
    };
    assert!(
        matches!(error.kind(), ErrorKind::Unavailable | ErrorKind::Timeout),
        "{error}"
    );
    assert!(error.is_retryable(), "{error}");
    assert_eq!(
        stale.rows, first.rows,
        "the last good rows are still served"
    );

    // It comes back: the table recovers by itself and shows new data.
    server.restart().unwrap();
    insert("c").await;
    let fresh = wait_for(
        &table,
        "fresh with the new row",
        Duration::from_secs(60),
        |s| s.status.is_fresh() && hosts(s).len() == 3,
    )
    .await;
    assert_eq!(
        hosts(&fresh),
        [Value::from("a"), Value::from("b"), Value::from("c")]
    );
    assert!(table.stats().errors > 0);

    drop(table);
    db.close().await;
    let dir = server.dir().to_owned();
    drop(server);
    assert!(!dir.exists(), "the private server's directory is removed");
}

/// Polls the table's snapshot until `done` holds, failing after `limit` (a deadline for
/// a hung test, not a timing assertion).
async fn wait_for(
    table: &LiveTable,
    what: &str,
    limit: Duration,
    done: impl Fn(&Snapshot) -> bool,
) -> Arc<Snapshot> {
    let started = Instant::now();
    loop {
        let snap = table.snapshot();
        if done(&snap) {
            return snap;
        }
        assert!(
            started.elapsed() < limit,
            "the table never became {what}: {:?}",
            snap.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `host` column of every row.
fn hosts(snap: &Snapshot) -> Vec<Value> {
    snap.rows.iter().map(|r| r[0].clone()).collect()
}
