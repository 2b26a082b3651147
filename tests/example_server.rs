//! The bundled example server, started for real: `target/<profile>/examples/tcpdump`,
//! which `cargo test` builds next to this test, on a free port.
//!
//! - the synthetic in-memory table: the page, the JSON and CSV endpoints answer, and
//!   the table changes between two ticks;
//! - `--tcpdump-stdin` fed a recorded capture (`tests/data/tcpdump-sample.txt`): the
//!   table computed by hand from it;
//! - bad flags and unreachable stores: a message and a non-zero exit, quickly;
//! - `--source postgres --load-demo-data` against the PostgreSQL of this machine
//!   (`DATABASE_URL`, default `postgres://root@127.0.0.1/test`): the table equals the
//!   same aggregation in SQL, and live packets keep arriving. Without a reachable
//!   PostgreSQL it prints a notice and passes, unless `LIVETABLE_REQUIRE_SERVICES=1`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a server may take to start or a table to reach the expected state: a
/// bound against hanging, not a speed check.
const PATIENCE: Duration = Duration::from_secs(60);

/// The example binary, built by `cargo test` next to this test's executable.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/example_server-<hash> → target/<profile>/examples/tcpdump
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let binary = profile_dir
        .join("examples")
        .join(format!("tcpdump{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} is missing: run `cargo test` (which builds the examples) or `cargo build \
                 --example tcpdump` first",
                binary.display()
            )
        });
    let sources = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/tcpdump");
    for entry in std::fs::read_dir(&sources).unwrap() {
        let modified = entry.unwrap().metadata().unwrap().modified().unwrap();
        assert!(
            modified <= built,
            "{} is older than its sources: run `cargo test` without a target filter, or \
             `cargo build --example tcpdump`",
            binary.display()
        );
    }
    binary
}

/// A running example server; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// The path the page is served under, with its trailing `/`.
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Self::start_with_input(args, None)
    }

    fn start_with_input(args: &[&str], input: Option<&'static [u8]>) -> Server {
        let mut child = Command::new(example_binary())
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = input {
            let mut stdin = child.stdin.take().unwrap();
            // Written from a thread: a pipe holds only so much before the reader reads.
            std::thread::spawn(move || {
                stdin.write_all(input).unwrap();
                // Dropping stdin closes it: the server sees the end of the capture.
            });
        }
        let stderr = collect(child.stderr.take().unwrap());
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(PATIENCE) {
            Ok(line) if !line.is_empty() => line,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server printed no URL; its log:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        let url = line.trim();
        let rest = url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("not a URL: {url}"));
        let (addr, path) = rest.split_once('/').unwrap();
        Server {
            child,
            addr: addr.parse().unwrap(),
            base: format!("/{path}"),
            stderr,
        }
    }

    /// `GET base + path`: the status and body.
    fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, &format!("{}{path}", self.base))
    }

    /// The JSON snapshot of the `packets` table.
    fn snapshot(&self, query: &str) -> Value {
        let (status, body) = self.get(&format!("api/tables/packets{query}"));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Polls the snapshot until `done` accepts it; fails with the last one and the log.
    fn wait_for(&self, what: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let snapshot = self.snapshot("");
            if done(&snapshot) {
                return snapshot;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not reached; last snapshot {snapshot}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a pipe to the end on a thread, into a shared string.
fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// A minimal HTTP/1.0 GET (the server closes the connection after the answer, and
/// sends no chunked encoding to a 1.0 client).
fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

fn rows(snapshot: &Value) -> &Vec<Value> {
    snapshot["rows"].as_array().unwrap()
}

/// Runs the binary to completion (bounded) and returns its exit status and stderr.
fn run_to_exit(args: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(example_binary())
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        // Only the flags count here.
        .env_remove("DATABASE_URL")
        .env_remove("ES_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = collect(child.stderr.take().unwrap());
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            // The pipe closes with the process; give the reader a moment to finish.
            std::thread::sleep(Duration::from_millis(100));
            return (status, stderr.lock().unwrap().clone());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} did not exit; log:\n{}", stderr.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serves_the_synthetic_table_and_it_changes_between_ticks() {
    let server = Server::start(&["--interval", "1s", "--prefill", "20000", "--rate", "2000"]);
    assert_eq!(server.base, "/tcpdump/");

    // The page, at the printed URL and without the trailing slash, and its script.
    let (status, page) = server.get("");
    assert_eq!(status, 200);
    assert!(page.contains("<script src=\"assets/app.js"), "{page}");
    assert_eq!(http_get(server.addr, "/tcpdump").0, 200);
    let (status, script) = server.get("assets/app.js");
    assert_eq!(status, 200);
    assert!(
        script.contains("EventSource"),
        "the live page's script streams updates"
    );

    // The table list: one table, its windows and formatting rules.
    let (status, list) = server.get("api/tables");
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&list).unwrap();
    let table = &list["tables"][0];
    assert_eq!(table["name"], "packets");
    assert_eq!(table["allowed_windows"], json!(["5m", "15m", "1h"]));
    assert_eq!(table["interval_secs"], json!(1.0));
    let rules: Vec<&str> = table["format_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["data_bar", "top_n"]);

    // The snapshot: the five dimensions and two metrics, at most --top rows, ordered
    // by count.
    let first = server.wait_for("a first snapshot with rows", |s| !rows(s).is_empty());
    let names: Vec<&str> = first["schema"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "source_ip",
            "source_port",
            "destination_ip",
            "destination_port",
            "protocol",
            "count",
            "total_size"
        ]
    );
    assert!(rows(&first).len() <= 500);
    let counts: Vec<i64> = rows(&first)
        .iter()
        .map(|r| r[5].as_i64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert!(rows(&first).iter().all(|r| {
        ["TCP", "UDP", "ICMP"].contains(&r[4].as_str().unwrap()) && r[6].as_i64().unwrap() > 0
    }));

    // Live: a later version has other numbers.
    let version = first["version"].as_u64().unwrap();
    let later = server.wait_for("a later version", |s| {
        s["version"].as_u64().unwrap() > version
    });
    assert_ne!(
        rows(&later),
        rows(&first),
        "the table did not change between ticks"
    );
    assert_eq!(later["status"]["state"], "fresh");

    // Another allowed window, the CSV export, and a bad parameter.
    let five = server.snapshot("?window=5m");
    let window = &five["window"];
    let start = chrono::DateTime::parse_from_rfc3339(window["start"].as_str().unwrap()).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(window["end"].as_str().unwrap()).unwrap();
    // The in-memory source covers whole 10 s buckets around the 5 minutes.
    let length = (end - start).num_seconds();
    assert!((300..=320).contains(&length), "{window}");
    let (status, csv) = server.get("api/tables/packets.csv");
    assert_eq!(status, 200);
    assert!(
        csv.starts_with(
            "source_ip,source_port,destination_ip,destination_port,protocol,count,total_size"
        ),
        "{csv}"
    );
    assert!(csv.lines().count() > 1);
    let (status, error) = server.get("api/tables/packets?window=2h");
    assert_eq!(status, 400, "{error}");
}

/// The table of `tests/data/tcpdump-sample.txt`, worked out by hand from its lines:
/// per (source, source port, destination, destination port, protocol) the packets
/// and the sum of tcpdump's `length` (or the DNS-style trailing `(N)`), ordered by
/// count then total size, largest first.
fn expected_sample_table() -> Value {
    json!([
        // TLS client → GitHub: SYN, ACK, 517-byte ClientHello, ACK, 80 bytes.
        ["192.168.1.23", 51544, "140.82.113.4", 443, "TCP", 5, 597],
        // GitHub → client: SYN-ACK, ACK, 4344 bytes, 53 bytes.
        ["140.82.113.4", 443, "192.168.1.23", 51544, "TCP", 4, 4397],
        // Three pings out (64 bytes each) ...
        ["192.168.1.23", 0, "1.1.1.1", 0, "ICMP", 3, 192],
        // IPv6 TLS client: SYN, 1200 bytes.
        [
            "2001:db8:1::23",
            50122,
            "2606:4700::6810:84e5",
            443,
            "TCP",
            2,
            1200
        ],
        // DNS answers (44) and (89).
        ["192.168.1.1", 53, "192.168.1.23", 38211, "UDP", 2, 133],
        // ... two replies back (the third is missing from the capture).
        ["1.1.1.1", 0, "192.168.1.23", 0, "ICMP", 2, 128],
        // DNS queries (28) and (28).
        ["192.168.1.23", 38211, "192.168.1.1", 53, "UDP", 2, 56],
        // A plain UDP datagram.
        ["192.168.1.23", 41000, "192.168.1.50", 9999, "UDP", 1, 1316],
        // mDNS query (75).
        ["192.168.1.40", 5353, "224.0.0.251", 5353, "UDP", 1, 75],
        // ICMPv6 router advertisement.
        ["fe80::1c2b:3ff:fe4a:9d10", 0, "ff02::1", 0, "ICMP", 1, 64],
        // NTP over IPv6.
        ["2001:db8:1::23", 123, "2001:db8:1::1", 123, "UDP", 1, 48],
        // IPv6 SYN-ACK.
        [
            "2606:4700::6810:84e5",
            443,
            "2001:db8:1::23",
            50122,
            "TCP",
            1,
            0
        ],
    ])
}

#[test]
fn tcpdump_stdin_replays_a_recorded_capture() {
    let sample: &'static [u8] = include_bytes!("data/tcpdump-sample.txt");
    let server = Server::start_with_input(
        &[
            "--tcpdump-stdin",
            "--window-end",
            "data",
            "--interval",
            "1s",
        ],
        Some(sample),
    );
    let expected = expected_sample_table();
    let snapshot = server.wait_for("the sample's table", |s| s["rows"] == expected);
    // The window ends just after the capture's last packet (1764331203.002871), in
    // whole 10 s buckets.
    assert_eq!(snapshot["window"]["end"], "2025-11-28T12:00:10Z");
    // 34 lines: 25 packets; 2 tcpdump banner lines, 2 ARP, 1 truncated line, 1 empty
    // line and the 3-line summary skipped.
    let deadline = Instant::now() + PATIENCE;
    while !server
        .log()
        .contains("read 25 packets, skipped 9 unparsable lines")
    {
        assert!(Instant::now() < deadline, "log:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Filters apply to the replayed table too.
    let icmp = server.snapshot("?protocol=ICMP");
    let icmp_expected: Vec<&Value> = expected
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[4] == "ICMP")
        .collect();
    assert_eq!(rows(&icmp).iter().collect::<Vec<_>>(), icmp_expected);
}

#[test]
fn bad_flags_and_unreachable_stores_end_with_a_message() {
    let (status, log) = run_to_exit(&["--window", "soon"]);
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(log.contains("`soon` is not a window length"), "{log}");

    let (status, log) = run_to_exit(&["--source", "postgres"]);
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("--source postgres needs --database-url"),
        "{log}"
    );

    // Nothing listens on port 1: a bounded connect, then exit 1 with the reason.
    let (status, log) = run_to_exit(&[
        "--source",
        "postgres",
        "--database-url",
        "postgres://root@127.0.0.1:1/test",
    ]);
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("error: cannot read the packets: unavailable"),
        "{log}"
    );
    assert!(log.contains("hint: check the URL"), "{log}");

    let (status, log) = run_to_exit(&[
        "--source",
        "elasticsearch",
        "--es-url",
        "http://127.0.0.1:1",
        "--index",
        "packets",
    ]);
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("cannot reach Elasticsearch"), "{log}");

    let (status, log) = run_to_exit(&["--source", "elasticsearch", "--es-url", "ftp://x"]);
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("use http or https"), "{log}");
}

mod postgres {
    use super::*;
    use livetable::sql::sqlx::{self, PgPool, Row as _, postgres::PgPoolOptions};

    fn database_url() -> String {
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1/test".into())
    }

    /// A fresh schema, dropped at the end (even when the test fails).
    struct Scratch {
        rt: tokio::runtime::Runtime,
        pool: PgPool,
        schema: String,
    }

    impl Scratch {
        /// `None` (after a notice) when PostgreSQL cannot be reached and it is not
        /// required.
        fn open() -> Option<Scratch> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let connected = rt.block_on(
                PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(&database_url()),
            );
            let pool = match connected {
                Ok(pool) => pool,
                Err(e) => {
                    livetable_testkit::services::missing(
                        "PostgreSQL",
                        format_args!("{} is unreachable ({e}); set DATABASE_URL", database_url()),
                    );
                    return None;
                }
            };
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let schema = format!("lt_example_{}_{nanos}", std::process::id());
            Some(Scratch { rt, pool, schema })
        }

        fn query(&self, sql: &str) -> Vec<sqlx::postgres::PgRow> {
            self.rt
                .block_on(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(&self.pool))
                .unwrap()
        }

        fn count(&self) -> i64 {
            self.query(&format!("SELECT count(*) FROM {}.packets", self.schema))[0].get(0)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
            let _ = self
                .rt
                .block_on(sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&self.pool));
        }
    }

    #[test]
    fn load_demo_data_then_serve_the_table_from_sql() {
        let Some(db) = Scratch::open() else { return };
        let table = format!("{}.packets", db.schema);
        let url = database_url();

        // 1. Create and fill the table, no live packets: the served table must be the
        //    same aggregation done by PostgreSQL itself over the snapshot's window.
        let server = Server::start(&[
            "--source",
            "postgres",
            "--database-url",
            &url,
            "--table",
            &table,
            "--load-demo-data",
            "--prefill",
            "5000",
            "--rate",
            "0",
            "--top",
            "100000",
            "--interval",
            "1s",
        ]);
        assert_eq!(db.count(), 5000);
        let indexes = db.query(&format!(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = '{}' AND tablename = 'packets'",
            db.schema
        ));
        let defs: Vec<String> = indexes.iter().map(|r| r.get(0)).collect();
        assert!(defs.iter().any(|d| d.ends_with("(ts)")), "{defs:?}");

        let snapshot = server.wait_for("a snapshot", |s| !rows(s).is_empty());
        let (start, end) = (
            snapshot["window"]["start"].as_str().unwrap(),
            snapshot["window"]["end"].as_str().unwrap(),
        );
        let by_sql = db.query(&format!(
            "SELECT host(source_ip), source_port, host(destination_ip), destination_port, \
             protocol, count(*), sum(size)::int8 FROM {table} \
             WHERE ts >= '{start}'::timestamptz AND ts < '{end}'::timestamptz \
             GROUP BY 1, 2, 3, 4, 5"
        ));
        let expected: BTreeSet<String> = by_sql
            .iter()
            .map(|r| {
                json!([
                    r.get::<String, _>(0),
                    r.get::<i32, _>(1),
                    r.get::<String, _>(2),
                    r.get::<i32, _>(3),
                    r.get::<String, _>(4),
                    r.get::<i64, _>(5),
                    r.get::<i64, _>(6)
                ])
                .to_string()
            })
            .collect();
        let served: BTreeSet<String> = rows(&snapshot).iter().map(Value::to_string).collect();
        assert_eq!(served.len(), rows(&snapshot).len());
        assert!(expected.len() > 100, "{} groups", expected.len());
        assert_eq!(served, expected);
        drop(server);

        // 2. The same table, now with live packets: it grows and the table changes.
        let server = Server::start(&[
            "--source",
            "postgres",
            "--database-url",
            &url,
            "--table",
            &table,
            "--load-demo-data",
            "--prefill",
            "0",
            "--rate",
            "500",
            "--interval",
            "1s",
        ]);
        let first = server.wait_for("a snapshot", |s| !rows(s).is_empty());
        let version = first["version"].as_u64().unwrap();
        let later = server.wait_for("a changed table", |s| {
            s["version"].as_u64().unwrap() > version && rows(s) != rows(&first)
        });
        assert_eq!(later["status"]["state"], "fresh");
        assert!(db.count() > 5000);
    }
}

/// `--source elasticsearch --load-demo-data` against a stand-in: no Elasticsearch can
/// run on the build machine, so an HTTP server in this process plays the cluster. It
/// checks what the example sends (the index mapping, the `_bulk` NDJSON and its
/// documents) and answers with the documented shapes (see
/// `shared/reference/elasticsearch.md` and livetable-es's own, deeper tests).
mod elasticsearch {
    use super::*;
    use chrono::{DateTime, Utc};
    use livetable::http::axum;
    use livetable::http::axum::Router;
    use livetable::http::axum::body::Bytes;
    use livetable::http::axum::extract::{Path, State};
    use livetable::http::axum::http::{HeaderMap, StatusCode};
    use livetable::http::axum::routing::{post, put};
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    #[derive(Default)]
    struct Cluster {
        mappings: BTreeMap<String, Value>,
        docs: Vec<Value>,
        /// Refuse every document of a bulk request, as a mapping conflict would.
        refuse_documents: bool,
        /// What the stand-in found wrong in a request (the test fails on any).
        complaints: Vec<String>,
    }

    type Shared = Arc<Mutex<Cluster>>;

    struct StandIn {
        cluster: Shared,
        url: String,
        _rt: tokio::runtime::Runtime,
    }

    impl StandIn {
        fn start(refuse_documents: bool) -> StandIn {
            let rt = tokio::runtime::Runtime::new().unwrap();
            let cluster: Shared = Arc::new(Mutex::new(Cluster {
                refuse_documents,
                ..Cluster::default()
            }));
            let app = Router::new()
                .route("/{index}", put(create_index))
                .route("/{index}/_bulk", post(bulk))
                .route("/{index}/_search", post(search))
                .with_state(cluster.clone());
            let listener = rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            rt.spawn(async move { axum::serve(listener, app).await });
            StandIn {
                cluster,
                url,
                _rt: rt,
            }
        }

        fn cluster(&self) -> std::sync::MutexGuard<'_, Cluster> {
            self.cluster.lock().unwrap()
        }
    }

    fn complain(cluster: &Shared, what: String) -> (StatusCode, String) {
        cluster.lock().unwrap().complaints.push(what.clone());
        let body = json!({"error": {"type": "parse_exception", "reason": what}, "status": 400});
        (StatusCode::BAD_REQUEST, body.to_string())
    }

    async fn create_index(
        State(cluster): State<Shared>,
        Path(index): Path<String>,
        body: Bytes,
    ) -> (StatusCode, String) {
        let Ok(mapping) = serde_json::from_slice::<Value>(&body) else {
            return complain(&cluster, "the index body is not JSON".into());
        };
        let mut c = cluster.lock().unwrap();
        if c.mappings.contains_key(&index) {
            let body = json!({"error": {"type": "resource_already_exists_exception",
                "reason": format!("index [{index}] already exists")}, "status": 400});
            return (StatusCode::BAD_REQUEST, body.to_string());
        }
        c.mappings.insert(index.clone(), mapping);
        let body = json!({"acknowledged": true, "shards_acknowledged": true, "index": index});
        (StatusCode::OK, body.to_string())
    }

    /// What is wrong with a packet document under the reference mapping, if anything.
    fn check_document(doc: &Value) -> Option<String> {
        let fields = [
            "ts",
            "source_ip",
            "source_port",
            "destination_ip",
            "destination_port",
            "protocol",
            "size",
        ];
        let keys: Vec<&String> = doc.as_object()?.keys().collect();
        if keys.len() != fields.len() || !fields.iter().all(|f| doc.get(f).is_some()) {
            return Some(format!("fields {keys:?}"));
        }
        let ip = |f: &str| {
            doc[f]
                .as_str()
                .and_then(|s| s.parse::<IpAddr>().ok())
                .is_none()
        };
        let port = |f: &str| doc[f].as_u64().is_none_or(|p| p > 65535);
        let ts = doc["ts"].as_str().map(DateTime::parse_from_rfc3339);
        if !matches!(ts, Some(Ok(_))) {
            return Some(format!("ts {}", doc["ts"]));
        }
        if ip("source_ip")
            || ip("destination_ip")
            || port("source_port")
            || port("destination_port")
        {
            return Some(format!("address or port in {doc}"));
        }
        if !doc["protocol"].is_string() || doc["size"].as_u64().is_none() {
            return Some(format!("protocol or size in {doc}"));
        }
        None
    }

    async fn bulk(
        State(cluster): State<Shared>,
        Path(index): Path<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, String) {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type.starts_with("application/x-ndjson")
            && !content_type.starts_with("application/json")
        {
            return complain(&cluster, format!("bulk content-type {content_type}"));
        }
        let text = String::from_utf8_lossy(&body);
        let Some(text) = text.strip_suffix('\n') else {
            return complain(
                &cluster,
                "The bulk request must be terminated by a newline [\\n]".into(),
            );
        };
        let lines: Vec<&str> = text.split('\n').collect();
        if !lines.len().is_multiple_of(2) {
            return complain(
                &cluster,
                format!("{} bulk lines: not action/document pairs", lines.len()),
            );
        }
        let mut docs = Vec::new();
        for pair in lines.chunks(2) {
            let action: Value = serde_json::from_str(pair[0]).unwrap_or_default();
            if action != json!({"index": {}}) {
                return complain(&cluster, format!("bulk action {}", pair[0]));
            }
            let doc: Value = serde_json::from_str(pair[1]).unwrap_or_default();
            if let Some(wrong) = check_document(&doc) {
                return complain(&cluster, format!("document: {wrong}"));
            }
            docs.push(doc);
        }
        let mut c = cluster.lock().unwrap();
        if !c.mappings.contains_key(&index) {
            c.complaints
                .push(format!("bulk into {index} before it was created"));
        }
        let refuse = c.refuse_documents;
        let items: Vec<Value> = docs
            .iter()
            .map(|_| {
                if refuse {
                    json!({"index": {"_index": index, "status": 400, "error": {
                        "type": "document_parsing_exception",
                        "reason": "[1:7] failed to parse field [ts] of type [long]"}}})
                } else {
                    json!({"index": {"_index": index, "status": 201, "result": "created"}})
                }
            })
            .collect();
        if !refuse {
            c.docs.extend(docs);
        }
        let body = json!({"took": 3, "errors": refuse, "items": items});
        (StatusCode::OK, body.to_string())
    }

    /// The composite aggregation over the stored documents in the request's `ts` range,
    /// paged by `after` in a fixed order of the keys (as a cluster pages). A
    /// `date_histogram` source (the bucket cache's) keys each document by the start of
    /// its `fixed_interval` bucket, in epoch milliseconds.
    async fn search(State(cluster): State<Shared>, body: Bytes) -> (StatusCode, String) {
        let Ok(request) = serde_json::from_slice::<Value>(&body) else {
            return complain(&cluster, "the search body is not JSON".into());
        };
        let groups = &request["aggs"]["groups"];
        let sources: Vec<(String, Option<i64>)> = groups["composite"]["sources"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(|o| {
                        let (name, spec) = o.as_object()?.iter().next()?;
                        let interval = spec["date_histogram"]["fixed_interval"]
                            .as_str()
                            .map(interval_ms);
                        Some((name.clone(), interval))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some((name, _)) = sources.iter().find(|(_, i)| *i == Some(0)) {
            return complain(&cluster, format!("bad fixed_interval in source {name}"));
        }
        let range = request["query"]["bool"]["filter"]
            .as_array()
            .and_then(|f| f.iter().find_map(|c| c["range"].get("ts")))
            .cloned()
            .unwrap_or_default();
        let bound = |k: &str| {
            range[k]
                .as_str()
                .and_then(|s| s.parse::<DateTime<Utc>>().ok())
        };
        let (Some(gte), Some(lt)) = (bound("gte"), bound("lt")) else {
            return complain(&cluster, format!("no ts range in {request}"));
        };
        let empty = || {
            json!({"took": 1, "timed_out": false,
                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                "hits": {"max_score": null, "hits": []},
                "aggregations": {"groups": {"buckets": []}}})
        };
        let after = groups["composite"].get("after").cloned();
        let c = cluster.lock().unwrap();
        let mut buckets: BTreeMap<String, (Value, Vec<&Value>)> = BTreeMap::new();
        for doc in &c.docs {
            let ts: DateTime<Utc> = doc["ts"].as_str().unwrap().parse().unwrap();
            if ts < gte || ts >= lt {
                continue;
            }
            let key: serde_json::Map<String, Value> = sources
                .iter()
                .map(|(s, interval)| match interval {
                    Some(ms) => {
                        let at = ts.timestamp_millis();
                        (s.clone(), json!(at - at.rem_euclid(*ms)))
                    }
                    None => (s.clone(), doc[s].clone()),
                })
                .collect();
            let entry = buckets
                .entry(Value::Object(key.clone()).to_string())
                .or_insert_with(|| (Value::Object(key), Vec::new()));
            entry.1.push(doc);
        }
        let aggs = groups["aggs"].as_object().cloned().unwrap_or_default();
        let mut out = Vec::new();
        for (key, docs) in buckets.into_values() {
            let mut bucket = json!({"key": key, "doc_count": docs.len()});
            for (name, agg) in &aggs {
                let (kind, spec) = agg.as_object().unwrap().iter().next().unwrap();
                let field = spec["field"].as_str().unwrap_or_default();
                let values = docs.iter().filter_map(|d| d[field].as_f64());
                bucket[name] = match kind.as_str() {
                    "sum" => json!({"value": values.sum::<f64>()}),
                    "value_count" => json!({"value": values.count()}),
                    other => return complain(&cluster, format!("metric {other}")),
                };
            }
            out.push(bucket);
        }
        drop(c);
        let size = groups["composite"]["size"].as_u64().unwrap_or(10) as usize;
        let first = match &after {
            None => 0,
            Some(after) => match out.iter().position(|b| &b["key"] == after) {
                Some(p) => p + 1,
                None => return complain(&cluster, format!("`after` {after} is no key it sent")),
            },
        };
        let out: Vec<Value> = out.into_iter().skip(first).take(size).collect();
        let mut answer = empty();
        if let Some(last) = out.last() {
            answer["aggregations"]["groups"]["after_key"] = last["key"].clone();
        }
        answer["aggregations"]["groups"]["buckets"] = Value::Array(out);
        (StatusCode::OK, answer.to_string())
    }

    /// `10s`, `1m`, `500ms` in milliseconds; 0 for anything else.
    fn interval_ms(text: &str) -> i64 {
        let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let n: i64 = digits.parse().unwrap_or(0);
        match &text[digits.len()..] {
            "ms" => n,
            "s" => n * 1_000,
            "m" => n * 60_000,
            "h" => n * 3_600_000,
            _ => 0,
        }
    }

    #[test]
    fn load_demo_data_creates_the_index_bulk_loads_and_serves_it() {
        let es = StandIn::start(false);
        let server = Server::start(&[
            "--source",
            "elasticsearch",
            "--es-url",
            &es.url,
            "--index",
            "packets-demo",
            "--load-demo-data",
            "--prefill",
            "3000",
            "--rate",
            "0",
            "--top",
            "100000",
            "--interval",
            "1s",
        ]);
        {
            let c = es.cluster();
            assert!(c.complaints.is_empty(), "{:?}", c.complaints);
            // The mapping of shared/reference/elasticsearch.md, with the destination.
            assert_eq!(
                c.mappings["packets-demo"],
                json!({"mappings": {"properties": {
                    "ts": {"type": "date"},
                    "source_ip": {"type": "ip"},
                    "source_port": {"type": "integer"},
                    "destination_ip": {"type": "ip"},
                    "destination_port": {"type": "integer"},
                    "protocol": {"type": "keyword"},
                    "size": {"type": "long"},
                }}})
            );
            assert_eq!(c.docs.len(), 3000);
        }
        let snapshot = server.wait_for("a snapshot", |s| !rows(s).is_empty());
        // The served table is the documents of the snapshot's window, grouped.
        let start: DateTime<Utc> = snapshot["window"]["start"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let end: DateTime<Utc> = snapshot["window"]["end"].as_str().unwrap().parse().unwrap();
        let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for doc in &es.cluster().docs {
            let ts: DateTime<Utc> = doc["ts"].as_str().unwrap().parse().unwrap();
            if start <= ts && ts < end {
                let key = json!([
                    doc["source_ip"],
                    doc["source_port"],
                    doc["destination_ip"],
                    doc["destination_port"],
                    doc["protocol"]
                ]);
                let e = expected.entry(key.to_string()).or_default();
                e.0 += 1;
                e.1 += doc["size"].as_i64().unwrap();
            }
        }
        let served: BTreeMap<String, (i64, i64)> = rows(&snapshot)
            .iter()
            .map(|r| {
                let key = json!([r[0], r[1], r[2], r[3], r[4]]).to_string();
                (key, (r[5].as_i64().unwrap(), r[6].as_i64().unwrap()))
            })
            .collect();
        assert!(expected.len() > 100, "{} groups", expected.len());
        assert_eq!(served, expected);
        assert!(
            es.cluster().complaints.is_empty(),
            "{:?}",
            es.cluster().complaints
        );
    }

    #[test]
    fn refused_documents_stop_the_load_with_the_reason() {
        let es = StandIn::start(true);
        let (status, log) = run_to_exit(&[
            "--source",
            "elasticsearch",
            "--es-url",
            &es.url,
            "--load-demo-data",
            "--prefill",
            "100",
        ]);
        assert_eq!(status.code(), Some(1), "{log}");
        assert!(log.contains("some documents were refused"), "{log}");
        assert!(log.contains("failed to parse field [ts]"), "{log}");
        assert!(
            es.cluster().complaints.is_empty(),
            "{:?}",
            es.cluster().complaints
        );
    }
}
