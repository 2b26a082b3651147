//! Store outage under load (issue 12's reliability suite): 1,000 server-sent-event
//! viewers watch a PostgreSQL table through `livetable::http::serve`; the private
//! PostgreSQL server this test starts (livetable-testkit's `PrivatePostgres`, as
//! `livetable-sql/tests/fault.rs` does) is stopped for 30 s (`LIVETABLE_OUTAGE_SECS`),
//! then started again.
//!
//! Checked, per viewer: it sees the table stale within one tick of the stop (plus a
//! delivery margin) and fresh again within one tick of the store's return; its stream
//! never ends (no viewer is dropped); every patch follows the version it holds (no
//! version is missed, before, during or after the outage, and no resynchronising
//! snapshot is needed); after the return it shows a row inserted then.
//!
//! Needs root (to run the server as `postgres` with `runuser`), PostgreSQL's server
//! binaries under /usr/lib/postgresql/*/bin and 2,300 open files; skips with a notice
//! without them, unless `LIVETABLE_REQUIRE_SERVICES=1`.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use livetable::sql::PgBackend;
use livetable::sql::sqlx::{self, AssertSqlSafe};
use livetable_core::{Aggregate, Catalog, DataType, Metric, RefreshConfig, Table};
use livetable_testkit::private_server::{self, PrivatePostgres, PrivateServer};
use livetable_testkit::services::missing;
use tokio::sync::{mpsc, watch};

const VIEWERS: usize = 1000;
/// One tick.
const INTERVAL: Duration = Duration::from_secs(1);
/// What delivery to 1,000 viewers and a failing connect may add to a tick.
const MARGIN: Duration = Duration::from_secs(1);

fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// What a viewer saw, as the times (since the test's start) of status changes.
#[derive(Debug, Default)]
struct Seen {
    /// When it first saw `stale` after the stop.
    stale_at: Option<Duration>,
    /// When it first saw `fresh` after the return, with the new row.
    recovered_at: Option<Duration>,
    patches: u64,
    snapshots: u64,
}

/// One server-sent event's name and data.
fn parse_events(buffer: &mut String) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(end) = buffer.find("\n\n") {
        let block: String = buffer.drain(..end + 2).collect();
        let (mut event, mut data) = (String::new(), String::new());
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event: ") {
                event = v.to_owned();
            } else if let Some(v) = line.strip_prefix("data: ") {
                data.push_str(v);
            }
        }
        if !event.is_empty() {
            out.push((event, data));
        }
    }
    out
}

/// Phases the test announces to the viewers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Before,
    Stopped,
    Returned,
    Done,
}

async fn until_done(phase: &mut watch::Receiver<Phase>) {
    let _ = phase.wait_for(|p| *p == Phase::Done).await;
}

async fn viewer(
    addr: std::net::SocketAddr,
    epoch: Instant,
    mut phase: watch::Receiver<Phase>,
    ready: mpsc::Sender<()>,
) -> Seen {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let request = hyper::Request::get("/api/tables/events/stream")
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut buffer = String::new();
    let mut seen = Seen::default();
    let mut version: Option<u64> = None;
    let mut announced = false;
    loop {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            _ = until_done(&mut phase) => break,
        };
        let frame = frame
            .expect("the stream never ends: no viewer is dropped")
            .expect("the stream has no error");
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buffer.push_str(std::str::from_utf8(&data).unwrap());
        for (event, data) in parse_events(&mut buffer) {
            let json: serde_json::Value = serde_json::from_str(&data).unwrap();
            match event.as_str() {
                "snapshot" => {
                    assert!(
                        version.is_none(),
                        "a resynchronising snapshot: a version was missed"
                    );
                    version = json["version"].as_u64();
                    seen.snapshots += 1;
                }
                "patch" => {
                    assert_eq!(
                        json["from_version"].as_u64(),
                        version,
                        "a patch must follow the version held: none is missed"
                    );
                    version = json["to_version"].as_u64();
                    seen.patches += 1;
                }
                other => panic!("unexpected event {other}"),
            }
            let state = json["status"]["state"].as_str().unwrap_or("");
            let now = *phase.borrow();
            if state == "fresh" && !announced {
                announced = true;
                ready.send(()).await.unwrap();
            }
            if state == "stale" && now != Phase::Before && seen.stale_at.is_none() {
                seen.stale_at = Some(epoch.elapsed());
                // The store's own text never reaches a viewer.
                assert_eq!(
                    json["status"]["error"]["message"], "the store is unavailable; retrying",
                    "{data}"
                );
            }
            if state == "fresh"
                && now == Phase::Returned
                && seen.stale_at.is_some()
                && seen.recovered_at.is_none()
            {
                seen.recovered_at = Some(epoch.elapsed());
            }
        }
    }
    conn.abort();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_viewers_ride_out_a_store_outage() {
    let needed = 2 * VIEWERS as u64 + 300;
    if open_files_limit().is_some_and(|l| l < needed) {
        let why = format!("needs {needed} open files (`ulimit -n {needed}`)");
        return missing(PrivatePostgres::SERVICE, why);
    }
    let Some(pg_server) = private_server::start_or_skip::<PrivatePostgres>() else {
        return;
    };
    let outage = Duration::from_secs(
        std::env::var("LIVETABLE_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    );
    let pg = PgBackend::builder()
        .url(pg_server.url())
        .connect_timeout(Duration::from_millis(500))
        .statement_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    sqlx::query("CREATE TABLE events (ts timestamptz, host text)")
        .execute(pg.pool())
        .await
        .unwrap();
    let insert = |host: &'static str| {
        let pool = pg.pool().clone();
        async move {
            sqlx::query(AssertSqlSafe(
                "INSERT INTO events VALUES (now() - interval '1 second', $1)",
            ))
            .bind(host)
            .execute(&pool)
            .await
            .unwrap();
        }
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
    let mut config = RefreshConfig::default();
    config.interval = INTERVAL;
    config.retry_initial = Duration::from_millis(250);
    config.fetch_timeout = Duration::from_secs(2);
    // Every failed retry publishes a version; 1,000 viewers must never fall behind.
    config.channel_capacity = 256;
    let table = Table::builder("events", pg.aggregate("events", spec).unwrap())
        .refresh(config)
        .build()
        .unwrap();
    let live = table.default_view().unwrap();
    assert!(live.ready().await.status.is_fresh());
    let catalog = Catalog::new().with(table).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_http, stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(livetable::http::serve(
        listener,
        livetable::http::router(catalog),
        async move {
            let _ = stopped.await;
        },
    ));

    let epoch = Instant::now();
    let (phase_tx, phase_rx) = watch::channel(Phase::Before);
    let (ready_tx, mut ready_rx) = mpsc::channel(VIEWERS);
    let viewers: Vec<_> = (0..VIEWERS)
        .map(|_| tokio::spawn(viewer(addr, epoch, phase_rx.clone(), ready_tx.clone())))
        .collect();
    tokio::time::timeout(Duration::from_secs(60), async {
        for _ in 0..VIEWERS {
            ready_rx.recv().await.unwrap();
        }
    })
    .await
    .expect("every viewer connects and sees the table");
    assert!(live.stats().subscribers >= VIEWERS, "{:?}", live.stats());

    // The outage.
    let pg_server = Arc::new(pg_server);
    let stopper = pg_server.clone();
    phase_tx.send_replace(Phase::Stopped);
    tokio::task::spawn_blocking(move || stopper.stop().unwrap())
        .await
        .unwrap();
    let stopped_at = epoch.elapsed();
    tokio::time::sleep(outage).await;
    let starter = pg_server.clone();
    phase_tx.send_replace(Phase::Returned);
    tokio::task::spawn_blocking(move || starter.restart().unwrap())
        .await
        .unwrap();
    let returned_at = epoch.elapsed();
    insert("after-outage").await;
    // Give every viewer time to see the recovery (the assertions below bound it).
    tokio::time::sleep(INTERVAL * 3 + MARGIN).await;
    let rows = live.snapshot().rows.len();
    phase_tx.send_replace(Phase::Done);

    let mut stale_after = Vec::with_capacity(VIEWERS);
    let mut fresh_after = Vec::with_capacity(VIEWERS);
    for v in viewers {
        let seen = v.await.unwrap();
        let stale = seen.stale_at.expect("every viewer saw the table stale");
        let fresh = seen
            .recovered_at
            .expect("every viewer saw the table fresh again");
        assert_eq!(seen.snapshots, 1, "one snapshot, then only patches");
        stale_after.push(stale.saturating_sub(stopped_at));
        fresh_after.push(fresh.saturating_sub(returned_at));
    }
    stale_after.sort();
    fresh_after.sort();
    let stats = live.stats();
    println!(
        "{VIEWERS} viewers, a {outage:?} outage: stale seen {:?} (median) / {:?} (max) after \
         the stop; fresh seen {:?} / {:?} after the return; {} fetches, {} errors",
        stale_after[VIEWERS / 2],
        stale_after[VIEWERS - 1],
        fresh_after[VIEWERS / 2],
        fresh_after[VIEWERS - 1],
        stats.fetches,
        stats.errors
    );
    assert!(
        stale_after[VIEWERS - 1] <= INTERVAL + MARGIN,
        "every viewer sees stale within one tick: max {:?}",
        stale_after[VIEWERS - 1]
    );
    assert!(
        fresh_after[VIEWERS - 1] <= INTERVAL + MARGIN,
        "every viewer sees the recovery within one tick: max {:?}",
        fresh_after[VIEWERS - 1]
    );
    assert_eq!(rows, 3, "the row inserted after the return is shown");
    assert!(live.snapshot().status.is_fresh());

    let _ = stop_http.send(());
    http.await.unwrap().unwrap();
    pg.pool().close().await;
}
