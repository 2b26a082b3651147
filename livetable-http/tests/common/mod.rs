//! Test support: a packet source whose rows the test changes (or makes fail), a server on
//! 127.0.0.1, and a small server-sent-events client.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use livetable_core::{
    CellStyle, Color, Column, Comparison, DataType, Direction, Error, FetchContext, Fetched,
    FormatRule, OrderBy, RefreshConfig, Result, Row, Schema, Table, TableQuery, Unit, Value,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What the source returns; the test changes it between fetches.
#[derive(Debug, Default)]
pub struct SourceState {
    pub rows: Vec<Row>,
    /// When set, fetches fail with this message (and a host in the context that must
    /// never reach a client).
    pub failing: Option<String>,
    /// When set, each fetch adds the fetch number to every `count`: every tick changes
    /// every row.
    pub ticking: bool,
}

/// A packets table source: `source_ip`, `protocol` (dimensions), `count`, `total_size`.
#[derive(Clone, Debug)]
pub struct Packets {
    schema: Arc<Schema>,
    pub state: Arc<Mutex<SourceState>>,
    pub fetches: Arc<AtomicU64>,
}

pub fn packets_schema() -> Schema {
    Schema::new(vec![
        Column::dimension("source_ip", DataType::Ip).with_label("Source IP"),
        Column::dimension("protocol", DataType::Text).with_label("Protocol"),
        Column::metric("count", DataType::Int).with_label("Packets"),
        Column::metric("total_size", DataType::Int)
            .with_unit(Unit::Bytes)
            .with_label("Bytes"),
    ])
    .expect("a valid schema")
}

pub fn row(ip: &str, protocol: &str, count: i64, size: i64) -> Row {
    let ip: IpAddr = ip.parse().expect("a valid address");
    Row::new(vec![
        Value::Ip(ip),
        Value::from(protocol),
        Value::Int(count),
        Value::Int(size),
    ])
}

impl Packets {
    pub fn new(rows: Vec<Row>) -> Self {
        Packets {
            schema: Arc::new(packets_schema()),
            state: Arc::new(Mutex::new(SourceState {
                rows,
                ..Default::default()
            })),
            fetches: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn set_rows(&self, rows: Vec<Row>) {
        self.state.lock().expect("not poisoned").rows = rows;
    }

    pub fn fail(&self, message: Option<&str>) {
        self.state.lock().expect("not poisoned").failing = message.map(str::to_owned);
    }

    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl TableQuery for Packets {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn fetch(&self, _ctx: &FetchContext) -> Result<Fetched> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let state = self.state.lock().expect("not poisoned");
        if let Some(message) = &state.failing {
            return Err(Error::unavailable(message.clone())
                .with_context("host", "db.internal.example:5432"));
        }
        let mut rows = state.rows.clone();
        if state.ticking {
            for r in &mut rows {
                if let Value::Int(c) = &mut r.values_mut()[2] {
                    *c += n as i64;
                }
            }
        }
        Ok(rows.into())
    }
}

/// Refresh settings for tests: `interval`, with the floor lowered so tests are quick.
pub fn refresh(interval: Duration) -> RefreshConfig {
    let mut config = RefreshConfig::default();
    config.interval = interval;
    config.min_interval = Duration::from_millis(10);
    config.retry_initial = Duration::from_millis(100);
    config.fetch_timeout = Duration::from_secs(5);
    config.channel_capacity = 4;
    config
}

/// The `packets` table over `source`: default window 1 h, 15 m allowed, ordered by
/// count, with one rule of each kind.
pub fn packets_table(name: &str, source: Packets, interval: Duration) -> Table {
    Table::builder(name, source)
        .title("Packets by source")
        .refresh(refresh(interval))
        .allowed_windows([Duration::from_secs(900)])
        .default_order([OrderBy {
            column: "count".into(),
            direction: Direction::Desc,
        }])
        .format_rule(FormatRule::Threshold {
            column: "total_size".into(),
            op: Comparison::Gt,
            value: Value::Int(1_000_000),
            style: CellStyle::background(Color::new("#ffd6d6").expect("a colour")).bold(),
        })
        .format_rule(FormatRule::DataBar {
            column: "count".into(),
            color: Color::new("var(--lt-bar)").expect("a colour"),
        })
        .build()
        .expect("a valid table")
}

/// An error message as a real backend writes it: a host, a URL, a relation name. None
/// of [`BACKEND_SECRETS`] may ever reach a viewer.
pub const BACKEND_MESSAGE: &str = "cannot reach Elasticsearch: error sending request for url \
     (http://db.internal.example:9200/packets/_search); PostgreSQL: relation \
     \"public.packets_raw\" does not exist";

/// The parts of [`BACKEND_MESSAGE`] that must not leak.
pub const BACKEND_SECRETS: &[&str] = &[
    "db.internal",
    "9200",
    "_search",
    "packets_raw",
    "Elasticsearch",
    "PostgreSQL",
];

/// Fails the test if `text` carries any part of [`BACKEND_MESSAGE`].
pub fn assert_no_backend_text(text: &str) {
    for secret in BACKEND_SECRETS {
        assert!(
            !text.contains(secret),
            "`{secret}` leaks to a viewer: {text}"
        );
    }
}

pub fn sample_rows() -> Vec<Row> {
    vec![
        row("10.0.0.1", "TCP", 1200, 1_500_000),
        row("10.0.0.2", "UDP", 300, 45_000),
        row("10.0.0.3", "TCP", 50, 3_200),
    ]
}

/// A server on 127.0.0.1 that stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn start(app: Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("an address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(livetable_http::serve(listener, app, async move {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server and waits for it to return.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("the server task does not panic"),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One server-sent event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
    pub retry: Option<u64>,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }

    /// The version in the id (`<epoch>-<instance>.<version>`).
    pub fn version(&self) -> u64 {
        let id = self.id.as_deref().expect("an id");
        id.rsplit_once('.')
            .and_then(|(_, v)| v.parse().ok())
            .expect("a version in the id")
    }
}

/// A streaming GET over one HTTP/1.1 connection, read as server-sent events.
pub struct SseClient {
    pub status: hyper::StatusCode,
    pub headers: hyper::HeaderMap,
    body: Incoming,
    buffer: String,
    pub comments: usize,
    conn: JoinHandle<()>,
}

impl Drop for SseClient {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl SseClient {
    pub async fn connect(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut request = hyper::Request::get(path).header("host", addr.to_string());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            .expect("a request");
        let response = sender.send_request(request).await.expect("a response");
        let (parts, body) = response.into_parts();
        SseClient {
            status: parts.status,
            headers: parts.headers,
            body,
            buffer: String::new(),
            comments: 0,
            conn,
        }
    }

    /// The next event (comments are counted and skipped); `None` when the stream ends.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent::default();
                let mut any = false;
                for line in block.lines().filter(|l| !l.is_empty()) {
                    if line.starts_with(':') {
                        self.comments += 1;
                        continue;
                    }
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    any = true;
                    match field {
                        "event" => event.event = value.to_owned(),
                        "id" => event.id = Some(value.to_owned()),
                        "retry" => event.retry = value.parse().ok(),
                        "data" => {
                            if !event.data.is_empty() {
                                event.data.push('\n');
                            }
                            event.data.push_str(value);
                        }
                        _ => {}
                    }
                }
                if any {
                    return Some(event);
                }
                continue;
            }
            let frame = self.body.frame().await?.ok()?;
            if let Ok(data) = frame.into_data() {
                self.buffer
                    .push_str(std::str::from_utf8(&data).expect("events are UTF-8"));
            }
        }
    }

    /// The next event within `limit`, failing the test otherwise.
    pub async fn expect(&mut self, limit: Duration) -> SseEvent {
        tokio::time::timeout(limit, self.next())
            .await
            .expect("an event in time")
            .expect("the stream is open")
    }
}

/// A table rebuilt from a stream's snapshot and patches, keyed by the dimensions, as a
/// client would keep it.
#[derive(Debug, Default)]
pub struct Replica {
    pub version: u64,
    pub rows: BTreeMap<String, serde_json::Value>,
    pub status: String,
}

impl Replica {
    fn key(row: &serde_json::Value) -> String {
        // The packets schema: source_ip and protocol are the key.
        serde_json::json!([row[0], row[1]]).to_string()
    }

    /// Applies an event; panics (fails the test) on a gap or a misfit.
    pub fn apply(&mut self, event: &SseEvent) {
        let body = event.json();
        match event.event.as_str() {
            "snapshot" => {
                self.rows = body["rows"]
                    .as_array()
                    .expect("rows")
                    .iter()
                    .map(|r| (Self::key(r), r.clone()))
                    .collect();
                self.version = body["version"].as_u64().expect("a version");
            }
            "patch" => {
                assert_eq!(
                    body["from_version"].as_u64(),
                    Some(self.version),
                    "a patch must follow the version held"
                );
                for k in body["removed"].as_array().expect("removed") {
                    assert!(self.rows.remove(&k.to_string()).is_some(), "removed {k}");
                }
                for r in body["updated"].as_array().expect("updated") {
                    let old = self.rows.insert(Self::key(r), r.clone());
                    assert!(old.is_some(), "updated a missing row {r}");
                }
                for r in body["inserted"].as_array().expect("inserted") {
                    let old = self.rows.insert(Self::key(r), r.clone());
                    assert!(old.is_none(), "inserted a present row {r}");
                }
                self.version = body["to_version"].as_u64().expect("a version");
            }
            other => panic!("unexpected event `{other}`"),
        }
        assert_eq!(event.version(), self.version, "the id carries the version");
        self.status = body["status"]["state"]
            .as_str()
            .expect("a status")
            .to_owned();
    }

    /// The rows as the server would send them, sorted by key.
    pub fn rows(&self) -> Vec<serde_json::Value> {
        self.rows.values().cloned().collect()
    }
}

/// The rows of a snapshot as JSON, sorted by key.
pub fn json_rows(rows: &[Row]) -> Vec<serde_json::Value> {
    let mut by_key: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for r in rows {
        let v = serde_json::to_value(r).expect("rows serialise");
        by_key.insert(Replica::key(&v), v);
    }
    by_key.into_values().collect()
}
