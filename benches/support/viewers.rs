//! The viewer process: N HTTP/1.1 clients over loopback, each on its own connection.
//!
//! The client is hyper's low-level `client::conn::http1` (the client half of the
//! stack the server runs on): it frames requests and de-chunks the streamed body
//! correctly, and adds no pool, redirects, TLS or decompression to the measurement. The
//! SSE parsing on top is a few lines: events end with a blank line, and the server
//! writes each event's JSON on one `data:` line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

use super::table::ROWS;
use super::usage::Cpu;
use super::wire::{
    ChildConfig, FETCH_END_HEADER, GENERATION_HEADER, Received, Report, Role, SNAPSHOT_PATH,
    STREAM_PATH, ViewerReport, unix_nanos,
};

/// How long the viewers get to connect and receive the table.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// Connections opened at once (the listener's backlog is finite).
const CONNECTING_AT_ONCE: usize = 64;

/// What the main task tells the viewers.
#[derive(Clone, Copy, Debug)]
struct Control {
    /// Event streams: the version to wait for; polling: the polls to make. `None`
    /// until `RUN`.
    target: Option<u64>,
    /// When polling starts.
    start: Option<Instant>,
    /// Give up now.
    stop: bool,
}

/// The child's `main`: runs the viewers, talks to the harness, exits.
pub(crate) fn child_main() -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let outcome = match runtime {
        Ok(rt) => rt.block_on(async {
            let config = ChildConfig::from_env()?;
            run(config).await
        }),
        Err(e) => Err(format!("cannot start a runtime: {e}")),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(why) => {
            // The harness reads this line; stdout is its channel.
            let line = format!("FAIL {}\n", why.replace('\n', " "));
            let _ = std::io::Write::write_all(&mut std::io::stdout(), line.as_bytes());
            std::process::ExitCode::FAILURE
        }
    }
}

async fn say(line: &str) -> Result<(), String> {
    let mut out = tokio::io::stdout();
    out.write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(|e| format!("stdout: {e}"))?;
    out.flush().await.map_err(|e| format!("stdout: {e}"))
}

async fn run(config: ChildConfig) -> Result<(), String> {
    let (control_tx, control_rx) = watch::channel(Control {
        target: None,
        start: None,
        stop: false,
    });
    let (ready_tx, mut ready_rx) = mpsc::channel::<Result<(), String>>(config.clients);
    let (done_tx, mut done_rx) = mpsc::channel::<()>(config.clients);
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut viewers = Vec::with_capacity(config.clients);
    for i in 0..config.clients {
        let viewer = Viewer {
            addr: config.addr,
            index: i,
            clients: config.clients,
            interval: config.interval,
            control: control_rx.clone(),
            ready: ready_tx.clone(),
            done: done_tx.clone(),
            connecting: connecting.clone(),
        };
        viewers.push(match config.role {
            Role::Sse => tokio::spawn(viewer.stream()),
            Role::Poll => tokio::spawn(viewer.poll()),
        });
    }
    drop((ready_tx, done_tx));

    let connected = tokio::time::timeout(CONNECT_TIMEOUT, async {
        for _ in 0..config.clients {
            match ready_rx.recv().await {
                Some(Ok(())) => {}
                Some(Err(e)) => return Err(e),
                None => return Err("a viewer ended before it was ready".to_owned()),
            }
        }
        Ok(())
    })
    .await
    .map_err(|_| format!("the viewers were not ready within {CONNECT_TIMEOUT:?}"))?;
    if let Err(e) = connected {
        control_tx.send_modify(|c| c.stop = true);
        return Err(format!("a viewer failed to connect: {e}"));
    }
    say("READY").await?;

    let mut line = String::new();
    BufReader::new(tokio::io::stdin())
        .read_line(&mut line)
        .await
        .map_err(|e| format!("stdin: {e}"))?;
    let mut words = line.split_whitespace();
    let (target, secs) = match (words.next(), words.next(), words.next()) {
        (Some("RUN"), Some(t), Some(s)) => (
            t.parse::<u64>().map_err(|e| format!("RUN target: {e}"))?,
            s.parse::<u64>().map_err(|e| format!("RUN seconds: {e}"))?,
        ),
        _ => return Err(format!("expected `RUN <target> <secs>`, got {line:?}")),
    };
    let cpu_before = Cpu::now()?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    control_tx.send_modify(|c| {
        c.target = Some(target);
        c.start = Some(Instant::now() + Duration::from_millis(50));
    });
    let all_done = tokio::time::timeout_at(deadline, async {
        for _ in 0..config.clients {
            if done_rx.recv().await.is_none() {
                break;
            }
        }
    })
    .await;
    let cpu = Cpu::now()?.since(cpu_before);
    if all_done.is_err() {
        control_tx.send_modify(|c| c.stop = true);
    }
    say("DONE").await?;

    let mut report = Report {
        viewers: Vec::with_capacity(config.clients),
        cpu,
    };
    for viewer in viewers {
        report
            .viewers
            .push(viewer.await.unwrap_or_else(|e| ViewerReport {
                error: Some(format!("viewer task failed: {e}")),
                ..Default::default()
            }));
    }
    let json = serde_json::to_string(&report).map_err(|e| format!("report: {e}"))?;
    say(&format!("RESULT {json}")).await
}

struct Viewer {
    addr: SocketAddr,
    index: usize,
    clients: usize,
    interval: Duration,
    control: watch::Receiver<Control>,
    ready: mpsc::Sender<Result<(), String>>,
    done: mpsc::Sender<()>,
    connecting: Arc<Semaphore>,
}

/// The head of a JSON snapshot: what a viewer checks.
#[derive(Deserialize)]
struct SnapshotHead {
    version: u64,
    rows: Vec<IgnoredAny>,
}

/// The head of a patch.
#[derive(Deserialize)]
struct PatchHead {
    from_version: u64,
    to_version: u64,
    window: WindowHead,
}

#[derive(Deserialize)]
struct WindowHead {
    end: DateTime<Utc>,
}

/// One event of the stream.
struct Event<'a> {
    name: &'a str,
    data: &'a str,
}

fn parse_event(block: &[u8]) -> Result<Option<Event<'_>>, String> {
    let text = std::str::from_utf8(block).map_err(|e| format!("event is not UTF-8: {e}"))?;
    let (mut name, mut data) = ("message", None);
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = v.trim_start();
        } else if let Some(v) = line.strip_prefix("data:") {
            if data.is_some() {
                return Err("an event with several data lines".to_owned());
            }
            data = Some(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    // A block without data is a keep-alive comment (or only `retry:`).
    Ok(data.map(|data| Event { name, data }))
}

/// The end (exclusive) of the first complete event in `buf`.
fn event_end(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2)
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Empty<Bytes>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("nodelay: {e}"))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn get(
    sender: &mut SendRequest<Empty<Bytes>>,
    addr: SocketAddr,
    path: &str,
    accept: &str,
) -> Result<Response<Incoming>, String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let request = Request::get(path)
        .header("host", addr.to_string())
        .header("accept", accept)
        .body(Empty::new())
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    if response.status() != 200 {
        return Err(format!("GET {path}: status {}", response.status()));
    }
    Ok(response)
}

fn header_u64(response: &Response<Incoming>, name: &str) -> Result<u64, String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("the answer has no {name} header"))
}

impl Viewer {
    /// Waits for `RUN`; false when told to stop instead.
    async fn wait_for_run(&mut self) -> bool {
        self.control
            .wait_for(|c| c.target.is_some() || c.stop)
            .await
            .map(|c| !c.stop)
            .unwrap_or(false)
    }

    /// Reports a failure: to the connect phase if it is still on (a failure after
    /// the viewer was ready makes the phase fail too, as it should), and as "finished"
    /// to the run phase, which then need not wait for the deadline.
    fn failed(&self, report: &mut ViewerReport, why: String) {
        let _ = self.ready.try_send(Err(why.clone()));
        let _ = self.done.try_send(());
        report.error = Some(why);
    }

    /// An event-stream viewer: holds the table, records every update until the
    /// target version.
    async fn stream(mut self) -> ViewerReport {
        let mut report = ViewerReport::default();
        if let Err(e) = self.stream_inner(&mut report).await {
            self.failed(&mut report, e);
        }
        report
    }

    async fn stream_inner(&mut self, report: &mut ViewerReport) -> Result<(), String> {
        let permit = self
            .connecting
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let mut sender = connect(self.addr).await?;
        let mut body = get(&mut sender, self.addr, STREAM_PATH, "text/event-stream")
            .await?
            .into_body();
        let mut permit = Some(permit);
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut held: Option<u64> = None;
        loop {
            let target = self.control.borrow().target;
            if let (Some(target), Some(v)) = (target, held)
                && v >= target
            {
                let _ = self.done.send(()).await;
                return Ok(());
            }
            let frame = tokio::select! {
                frame = body.frame() => frame,
                changed = self.control.changed() => {
                    if changed.is_err() || self.control.borrow().stop {
                        return Err(format!("stopped at version {held:?} before the target"));
                    }
                    continue;
                }
            };
            let at_ns = unix_nanos();
            let frame = frame
                .ok_or("the stream ended")?
                .map_err(|e| format!("stream: {e}"))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(end) = event_end(&buf) {
                if let Some(event) = parse_event(&buf[..end])? {
                    let bytes = end as u64;
                    match event.name {
                        "snapshot" => {
                            let head: SnapshotHead = serde_json::from_str(event.data)
                                .map_err(|e| format!("snapshot: {e}"))?;
                            if head.rows.len() != ROWS {
                                return Err(format!(
                                    "a snapshot of {} rows, expected {ROWS}",
                                    head.rows.len()
                                ));
                            }
                            if held.is_none() {
                                report.first_bytes = bytes;
                            } else {
                                report.received.push(Received {
                                    version: head.version,
                                    window_end_ms: 0,
                                    fetch_end_ns: 0,
                                    at_ns,
                                    bytes,
                                    snapshot: true,
                                });
                            }
                            held = Some(head.version);
                        }
                        "patch" => {
                            let head: PatchHead = serde_json::from_str(event.data)
                                .map_err(|e| format!("patch: {e}"))?;
                            if held != Some(head.from_version) {
                                report.gaps += 1;
                            }
                            held = Some(head.to_version);
                            report.received.push(Received {
                                version: head.to_version,
                                window_end_ms: head.window.end.timestamp_millis(),
                                fetch_end_ns: 0,
                                at_ns,
                                bytes,
                                snapshot: false,
                            });
                        }
                        other => return Err(format!("unexpected event {other:?}")),
                    }
                    if permit.take().is_some() {
                        self.ready.send(Ok(())).await.map_err(|e| e.to_string())?;
                    }
                }
                buf.drain(..end);
            }
        }
    }

    /// A polling viewer: a GET of the JSON snapshot once per tick, its phase spread
    /// over the interval like independent browser tabs.
    async fn poll(mut self) -> ViewerReport {
        let mut report = ViewerReport::default();
        if let Err(e) = self.poll_inner(&mut report).await {
            self.failed(&mut report, e);
        }
        report
    }

    async fn poll_inner(&mut self, report: &mut ViewerReport) -> Result<(), String> {
        let mut sender = {
            let _permit = self.connecting.acquire().await.map_err(|e| e.to_string())?;
            let mut sender = connect(self.addr).await?;
            // The warm-up poll: the viewer's first table, outside the measurement.
            let body = get(&mut sender, self.addr, SNAPSHOT_PATH, "application/json")
                .await?
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            let head: SnapshotHead =
                serde_json::from_slice(&body).map_err(|e| format!("snapshot: {e}"))?;
            if head.rows.len() != ROWS {
                return Err(format!("{} rows, expected {ROWS}", head.rows.len()));
            }
            report.first_bytes = body.len() as u64;
            sender
        };
        self.ready.send(Ok(())).await.map_err(|e| e.to_string())?;
        if !self.wait_for_run().await {
            return Err("stopped before the run".to_owned());
        }
        let (polls, start) = {
            let c = self.control.borrow();
            (c.target.unwrap_or(0), c.start.unwrap_or_else(Instant::now))
        };
        let phase = self
            .interval
            .mul_f64(self.index as f64 / self.clients as f64);
        for k in 0..polls {
            let due = start + phase + self.interval * (k as u32);
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = self.control.wait_for(|c| c.stop) => {
                    return Err(format!("stopped after {k} of {polls} polls"));
                }
            }
            let response = tokio::select! {
                r = get(&mut sender, self.addr, SNAPSHOT_PATH, "application/json") => r?,
                _ = self.control.wait_for(|c| c.stop) => {
                    return Err(format!("stopped after {k} of {polls} polls"));
                }
            };
            let generation = header_u64(&response, GENERATION_HEADER)?;
            let fetch_end_ns = header_u64(&response, FETCH_END_HEADER)?;
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            report.received.push(Received {
                version: generation,
                window_end_ms: 0,
                fetch_end_ns,
                at_ns: unix_nanos(),
                bytes: body.len() as u64,
                snapshot: true,
            });
        }
        let _ = self.done.send(()).await;
        Ok(())
    }
}
