//! 1,000 concurrent event-stream clients on one table over several ticks: every client
//! gets every update, in order, as patches; the source is fetched once per tick.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Packets, Replica, Server, SseClient, json_rows, row};
use livetable_core::{Catalog, Snapshot, Table, Update, ViewParams};
use tokio::sync::{mpsc, watch};

const CLIENTS: usize = 1000;
const TICKS: u64 = 4;
const INTERVAL: Duration = Duration::from_millis(500);

/// The soft limit on open files, from /proc (Linux).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_viewers_share_one_fetch_per_tick() {
    // Each client holds two descriptors here: its socket and the server's.
    let needed = 2 * CLIENTS as u64 + 256;
    if let Some(limit) = open_files_limit() {
        assert!(
            limit >= needed,
            "this test needs {needed} open files; raise the limit with `ulimit -n {needed}`"
        );
    }

    let rows = (0..50)
        .map(|i| {
            row(
                &format!("10.0.{}.{}", i / 200, i % 200 + 1),
                "TCP",
                100 * i,
                1500 * i,
            )
        })
        .collect();
    let source = Packets::new(rows);
    source.state.lock().unwrap().ticking = true; // every tick changes every row
    let mut config = common::refresh(INTERVAL);
    config.channel_capacity = 32;
    let table = Table::builder("packets", source.clone())
        .refresh(config)
        .build()
        .unwrap();
    let catalog = Catalog::new().with(table).unwrap();
    let live = catalog
        .get("packets")
        .unwrap()
        .view(&ViewParams::default())
        .unwrap();
    // The reference: what a subscriber of the core sees, version by version.
    let mut reference = live.subscribe();
    let server = Server::start(livetable_http::router(catalog.clone())).await;
    let addr = server.addr;

    let (target_tx, target_rx) = watch::channel(u64::MAX);
    let (ready_tx, mut ready_rx) = mpsc::channel::<u64>(CLIENTS);
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let ready = ready_tx.clone();
        let mut target = target_rx.clone();
        clients.push(tokio::spawn(async move {
            let mut client = SseClient::connect(addr, "/api/tables/packets/stream", &[]).await;
            assert_eq!(client.status, 200);
            let mut replica = Replica::default();
            let first = client.expect(Duration::from_secs(30)).await;
            assert_eq!(first.event, "snapshot");
            replica.apply(&first);
            let start = replica.version;
            ready.send(start).await.unwrap();
            let target = *target.wait_for(|t| *t != u64::MAX).await.unwrap();
            let mut patches = 0u64;
            while replica.version < target {
                let event = client.expect(Duration::from_secs(30)).await;
                // Every update arrives as a patch: none is skipped or coalesced.
                assert_eq!(event.event, "patch", "a client fell behind");
                let body = event.json();
                let changed = ["inserted", "updated", "removed"]
                    .iter()
                    .map(|k| body[k].as_array().unwrap().len())
                    .sum::<usize>();
                assert!(changed > 0, "every tick changes rows: {}", event.data);
                replica.apply(&event);
                patches += 1;
            }
            (replica, patches, start)
        }));
    }
    let mut started = Vec::with_capacity(CLIENTS);
    let all_ready = tokio::time::timeout(Duration::from_secs(60), async {
        while started.len() < CLIENTS {
            started.push(ready_rx.recv().await.expect("a client reports or fails"));
        }
    });
    all_ready.await.expect("every client connects in time");
    assert_eq!(started.len(), CLIENTS);
    assert!(live.stats().subscribers > CLIENTS, "{:?}", live.stats());
    let measured_from = std::time::Instant::now();
    let fetches_before = source.fetch_count();
    let target = live.snapshot().version + TICKS;
    target_tx.send(target).unwrap();

    // The expected table at `target`, from the core's own subscription.
    let mut expected: Option<Arc<Snapshot>> = None;
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(update) = reference.next().await {
            let snapshot = match (update, expected.take()) {
                (Update::Snapshot(s), _) => s,
                (Update::Patch(p), Some(current)) => Arc::new(current.apply(&p).unwrap()),
                (Update::Patch(_), None) => panic!("a patch before any snapshot"),
            };
            let version = snapshot.version;
            expected = Some(snapshot);
            if version >= target {
                break;
            }
        }
    })
    .await
    .expect("the table reaches the target version in time");
    let expected = expected.unwrap();
    assert_eq!(expected.version, target);
    let expected_rows = json_rows(&expected.rows);

    let results = tokio::time::timeout(Duration::from_secs(60), async {
        let mut results = Vec::with_capacity(CLIENTS);
        for c in clients {
            results.push(c.await.unwrap());
        }
        results
    })
    .await
    .expect("every client reaches the target version in time");
    for (replica, patches, start) in &results {
        assert_eq!(replica.version, target);
        assert_eq!(*patches, target - start, "one patch per version");
        assert_eq!(replica.rows(), expected_rows);
    }

    // One fetch per published version, however many viewers: the version counts
    // every finished fetch, and nothing failed.
    let stats = live.stats();
    assert_eq!(stats.errors, 0);
    assert_eq!(source.fetch_count(), stats.fetches);
    assert_eq!(stats.fetches, live.snapshot().version);
    // And no more fetches than ticks: the schedule, not the viewers, drives the store
    // (a slow run only has fewer ticks; ticks missed are skipped, never stacked).
    let fetched = source.fetch_count() - fetches_before;
    let ticks = (measured_from.elapsed().as_secs_f64() / INTERVAL.as_secs_f64()).floor() as u64;
    assert!(
        fetched <= ticks + 2,
        "{fetched} fetches in {ticks} ticks for {CLIENTS} viewers"
    );
    assert!(
        fetched >= TICKS,
        "{fetched} fetches, {TICKS} ticks expected"
    );
    drop(results);
    server.stop().await.unwrap();
}
