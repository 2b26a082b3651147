//! `serve_with`'s connection limits, over real sockets: a half-sent header, an idle
//! kept-alive connection, a stream reader that stopped reading, and connection N+1.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Packets, packets_table, row, sample_rows};
use livetable_core::{Catalog, Table, ViewParams};
use livetable_http::{Options, ServeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

async fn start(
    app: axum::Router,
    config: ServeConfig,
) -> (std::net::SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(livetable_http::serve_with(
        listener,
        app,
        config,
        async move {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

fn app() -> axum::Router {
    let source = Packets::new(sample_rows());
    livetable_http::router(
        Catalog::new()
            .with(packets_table("packets", source, Duration::from_secs(3600)))
            .unwrap(),
    )
}

/// Reads until the server closes the connection; how long that took, or `None` if it
/// stayed open for `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), stream.read(&mut buf))
            .await
        {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

async fn request(stream: &mut TcpStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 8192];
    // Enough for the small answers used here: read until the body has arrived.
    while !text.contains("\r\n\r\n") || !text.trim_end().ends_with('}') {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before answering: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

#[tokio::test]
async fn half_a_header_is_cut_after_the_header_read_timeout() {
    let config = ServeConfig::default().header_read_timeout(Duration::from_millis(300));
    let (addr, _stop) = start(app(), config).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /api/tables HTTP/1.1\r\nHost: x\r\nX-Half: ")
        .await
        .unwrap();
    let took = closed_within(&mut slow, Duration::from_secs(5))
        .await
        .expect("a client that sends half a header is disconnected");
    assert!(took >= Duration::from_millis(250), "{took:?}");
    // A normal client is served meanwhile and after.
    let mut ok = TcpStream::connect(addr).await.unwrap();
    assert!(
        request(&mut ok, "/api/tables")
            .await
            .starts_with("HTTP/1.1 200")
    );
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let config = ServeConfig::default()
        .header_read_timeout(Duration::from_secs(30))
        .idle_timeout(Duration::from_millis(400));
    let (addr, _stop) = start(app(), config).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    assert!(
        request(&mut client, "/api/tables")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let took = closed_within(&mut client, Duration::from_secs(5))
        .await
        .expect("an idle kept-alive connection is closed");
    assert!(took >= Duration::from_millis(300), "{took:?}");
}

#[tokio::test]
async fn an_event_stream_with_keep_alives_is_not_idle() {
    let config = ServeConfig::default().idle_timeout(Duration::from_millis(600));
    let source = Packets::new(sample_rows());
    let catalog = Catalog::new()
        .with(packets_table("packets", source, Duration::from_secs(3600)))
        .unwrap();
    let app = Options::default()
        .keep_alive(Duration::from_millis(150))
        .router(catalog);
    let (addr, _stop) = start(app, config).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /api/tables/packets/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        closed_within(&mut client, Duration::from_secs(2)).await,
        None,
        "a stream that receives keep-alives stays open"
    );
}

#[tokio::test]
async fn connection_n_plus_one_waits_for_a_free_slot() {
    let config = ServeConfig::default().max_connections(2);
    let (addr, _stop) = start(app(), config).await;
    let mut a = TcpStream::connect(addr).await.unwrap();
    let b = TcpStream::connect(addr).await.unwrap();
    assert!(
        request(&mut a, "/api/tables")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // The third connects (the kernel's backlog) but is not served ...
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /api/tables HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), c.read(&mut buf))
            .await
            .is_err(),
        "connection 3 of 2 is not served while both are open"
    );
    // ... until one of the two closes.
    drop(b);
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_reader_that_stops_reading_is_disconnected() {
    // A big table that changes every tick, so the stream always has data to send.
    let rows = (0..3000)
        .map(|i| {
            row(
                &format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
                "TCP",
                i,
                i,
            )
        })
        .collect();
    let source = Packets::new(rows);
    source.state.lock().unwrap().ticking = true;
    let table = Table::builder("packets", source)
        .refresh(common::refresh(Duration::from_millis(50)))
        .build()
        .unwrap();
    let live = table.view(&ViewParams::default()).unwrap();
    let app = livetable_http::router(Catalog::new().with(table).unwrap());
    let config = ServeConfig::default().stall_timeout(Duration::from_millis(500));
    let (addr, _stop) = start(app, config).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(addr).await.unwrap();
    stalled
        .write_all(b"GET /api/tables/packets/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // It never reads. The server must let it go, and its subscription with it.
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if start.elapsed() > Duration::from_secs(1) && live.stats().subscribers == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "a reader that accepts nothing is still connected: {:?}",
            live.stats()
        );
    }
    drop(stalled);
}
