//! The event stream end to end on a real socket: snapshot, patches, resume with
//! `Last-Event-ID`, stale and recovered status, keep-alives, shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Packets, Replica, Server, SseClient, json_rows, packets_table, row, sample_rows};
use livetable_core::{Catalog, LiveTable, ViewParams};
use livetable_http::Options;

const WAIT: Duration = Duration::from_secs(10);
const STREAM: &str = "/api/tables/packets/stream";

/// Reads events into `replica` until `done` holds.
async fn read_until(
    client: &mut SseClient,
    replica: &mut Replica,
    done: impl Fn(&Replica) -> bool,
) {
    while !done(replica) {
        let event = client.expect(WAIT).await;
        replica.apply(&event);
    }
}

fn live(catalog: &Catalog) -> LiveTable {
    catalog
        .get("packets")
        .unwrap()
        .view(&ViewParams::default())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_sends_snapshot_patches_resumes_and_goes_stale() {
    let source = Packets::new(sample_rows());
    let catalog = Catalog::new()
        .with(packets_table(
            "packets",
            source.clone(),
            Duration::from_secs(3600),
        ))
        .unwrap();
    let app = Options::default()
        .keep_alive(Duration::from_millis(100))
        .router(catalog.clone());
    let server = Server::start(app).await;

    // The first event is a snapshot, with the reconnect delay.
    let mut a = SseClient::connect(server.addr, STREAM, &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["content-type"], "text/event-stream");
    let first = a.expect(WAIT).await;
    assert_eq!(first.event, "snapshot");
    assert_eq!(first.retry, Some(2000));
    let mut replica = Replica::default();
    replica.apply(&first);
    read_until(&mut a, &mut replica, |r| r.status == "fresh").await;
    assert_eq!(replica.rows(), json_rows(&sample_rows()));

    // A change in the source arrives as a patch touching only what changed.
    let table = live(&catalog);
    source.set_rows(vec![
        row("10.0.0.1", "TCP", 1300, 1_600_000), // updated
        row("10.0.0.2", "UDP", 300, 45_000),     // unchanged
        row("10.0.0.4", "ICMP", 7, 588),         // inserted; 10.0.0.3 removed
    ]);
    table.refresh().await;
    let patch = a.expect(WAIT).await;
    assert_eq!(patch.event, "patch");
    let body = patch.json();
    assert_eq!(body["from_version"].as_u64(), Some(replica.version));
    assert_eq!(
        body["updated"],
        serde_json::json!([["10.0.0.1", "TCP", 1300, 1_600_000]])
    );
    assert_eq!(
        body["inserted"],
        serde_json::json!([["10.0.0.4", "ICMP", 7, 588]])
    );
    assert_eq!(body["removed"], serde_json::json!([["10.0.0.3", "TCP"]]));
    replica.apply(&patch);
    assert_eq!(replica.rows(), json_rows(&table.snapshot().rows));

    // Keep-alive comments flow while nothing changes.
    let quiet = tokio::time::timeout(Duration::from_millis(350), a.next()).await;
    assert!(quiet.is_err(), "no update expected, got {quiet:?}");
    assert!(a.comments >= 2, "keep-alives: {}", a.comments);

    // A client that reconnects with Last-Event-ID gets only the patches it missed
    // (another viewer keeps the table's patch history going meanwhile).
    let last_id = patch.id.clone().unwrap();
    drop(a);
    let _other_viewer = table.subscribe();
    source.set_rows(vec![row("10.0.0.1", "TCP", 1400, 1_700_000)]);
    table.refresh().await;
    source.set_rows(vec![
        row("10.0.0.1", "TCP", 1400, 1_700_000),
        row("10.0.0.5", "UDP", 2, 300),
    ]);
    table.refresh().await;
    let mut b = SseClient::connect(server.addr, STREAM, &[("last-event-id", &last_id)]).await;
    let missed = b.expect(WAIT).await;
    assert_eq!(missed.event, "patch", "resumed with the missed patches");
    replica.apply(&missed);
    let missed = b.expect(WAIT).await;
    assert_eq!(missed.event, "patch");
    replica.apply(&missed);
    assert_eq!(replica.version, table.snapshot().version);
    assert_eq!(replica.rows(), json_rows(&table.snapshot().rows));

    // Too far behind (the table holds 4 patches) or from another process: a snapshot.
    for _ in 0..5 {
        table.refresh().await;
    }
    // The same epoch and version, but another live view (e.g. one dropped and restarted).
    let (origin, version) = last_id.rsplit_once('.').unwrap();
    let (epoch, instance) = origin.split_once('-').unwrap();
    let other_view = format!("{epoch}-{}.{version}", instance.parse::<u64>().unwrap() + 1);
    for id in [
        last_id.as_str(),
        other_view.as_str(),
        "0123abc.7",
        "garbage",
    ] {
        let mut c = SseClient::connect(server.addr, STREAM, &[("last-event-id", id)]).await;
        let event = c.expect(WAIT).await;
        assert_eq!(event.event, "snapshot", "resuming from {id}");
        assert_eq!(event.version(), table.snapshot().version);
    }

    // A failing source: a status patch with the error, no row change, no internals.
    source.fail(Some(common::BACKEND_MESSAGE));
    table.refresh().await;
    let stale = loop {
        let event = b.expect(WAIT).await;
        replica.apply(&event);
        if replica.status == "stale" {
            break event;
        }
    };
    common::assert_no_backend_text(&stale.data);
    let body = stale.json();
    assert_eq!(
        body["status"]["error"]["message"],
        "the store is unavailable; retrying"
    );
    assert_eq!(body["status"]["error"]["retryable"], true);
    assert_eq!(body["updated"], serde_json::json!([]));
    assert_eq!(replica.rows(), json_rows(&table.snapshot().rows));
    let rows_before = replica.rows();

    // Recovery: fresh again, same rows.
    source.fail(None);
    read_until(&mut b, &mut replica, |r| r.status == "fresh").await;
    assert_eq!(replica.rows(), rows_before);

    // Shutdown ends open streams, so `serve` returns.
    tokio::time::timeout(WAIT, server.stop())
        .await
        .expect("the server stops in time")
        .unwrap();
    let end = tokio::time::timeout(WAIT, async { while b.next().await.is_some() {} }).await;
    assert!(end.is_ok(), "the stream ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_streams_see_only_their_rows() {
    let source = Packets::new(sample_rows());
    let catalog = Catalog::new()
        .with(packets_table(
            "packets",
            source.clone(),
            Duration::from_secs(3600),
        ))
        .unwrap();
    let server = Server::start(livetable_http::router(catalog.clone())).await;
    let path = format!("{STREAM}?protocol=UDP&window=15m");
    let mut client = SseClient::connect(server.addr, &path, &[]).await;
    let mut replica = Replica::default();
    read_until(&mut client, &mut replica, |r| r.status == "fresh").await;
    assert_eq!(
        replica.rows(),
        serde_json::json!([["10.0.0.2", "UDP", 300, 45_000]])
            .as_array()
            .unwrap()
            .clone()
    );
    let bad = SseClient::connect(server.addr, &format!("{STREAM}?window=2h"), &[]).await;
    assert_eq!(bad.status, 400);
}

/// With axum's own `serve` and `with_graceful_shutdown`, [`livetable_http::graceful`]
/// ends the open event streams at shutdown, so the server returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_serve_shuts_down_with_open_streams() {
    let catalog = Catalog::new()
        .with(packets_table(
            "packets",
            Packets::new(sample_rows()),
            Duration::from_secs(3600),
        ))
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (app, shutdown) = livetable_http::graceful(livetable_http::router(catalog), async {
        let _ = stopped.await;
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    let mut client = SseClient::connect(addr, STREAM, &[]).await;
    assert_eq!(client.status, 200);
    assert_eq!(client.expect(WAIT).await.event, "snapshot");
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, server)
        .await
        .expect("axum::serve returns once the event streams end")
        .unwrap()
        .unwrap();
}
