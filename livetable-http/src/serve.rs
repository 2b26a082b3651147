//! [`serve`]: run a router on a listener until a shutdown signal, with connection
//! limits ([`ServeConfig`]).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::sse::Closing;

/// How long open connections get to finish after the shutdown signal.
const GRACE: Duration = Duration::from_secs(5);

/// Limits [`serve_with`] puts on every connection, so that no client can hold the
/// server's sockets, file descriptors or memory. Each has a default a public server
/// would use; every limit applies per connection, except `max_connections`.
///
/// ```
/// use std::time::Duration;
/// let config = livetable_http::ServeConfig::default()
///     .header_read_timeout(Duration::from_secs(10))
///     .max_connections(2_000);
/// assert_eq!(config.idle_timeout_value(), Duration::from_secs(60));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServeConfig {
    header_read_timeout: Duration,
    idle_timeout: Duration,
    stall_timeout: Duration,
    max_connections: usize,
}

impl Default for ServeConfig {
    /// 30 s to read a request's headers, 60 s idle, 60 s for a stalled reader, 4,096
    /// connections.
    fn default() -> Self {
        ServeConfig {
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

impl ServeConfig {
    /// How long a client may take to send a request's headers, from the moment the
    /// server waits for them (default 30 s). A client that sends half a header and
    /// stops is disconnected after it. (hyper's own header-read timeout, which needs
    /// the timer `serve` gives it.)
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a connection may stay open with no request being handled and no byte
    /// read or written (default 60 s): a kept-alive connection nobody uses is closed
    /// after it. An event stream is not idle: its keep-alive comments (every 15 s by
    /// default, [`Options::keep_alive`](crate::Options::keep_alive)) are written.
    /// Keep it above the keep-alive interval.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long the server waits on a client that accepts no data while there is data
    /// for it (default 60 s): an event-stream viewer that stopped reading is
    /// disconnected after it, freeing its buffers. A slow reader that still reads is
    /// never cut.
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// The most connections open at once (default 4,096). Connection N+1 waits in the
    /// listener's backlog until one closes; it is not refused. Keep it below the
    /// process's open-file limit (`ulimit -n`) minus what the application needs.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// How long a connection may take to send a request's headers before it is closed.
    pub fn header_read_timeout_value(&self) -> Duration {
        self.header_read_timeout
    }

    /// How long a connection with no request in flight is kept open.
    pub fn idle_timeout_value(&self) -> Duration {
        self.idle_timeout
    }

    /// How long a response (an event stream included) may wait on a client that reads
    /// nothing before the connection is closed.
    pub fn stall_timeout_value(&self) -> Duration {
        self.stall_timeout
    }

    /// The most connections open at once; past it, new ones wait to be accepted.
    pub fn max_connections_value(&self) -> usize {
        self.max_connections
    }

    fn validate(&self) -> io::Result<()> {
        let bad = |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what.to_owned()));
        if self.header_read_timeout.is_zero() {
            return bad("ServeConfig: header_read_timeout must be positive");
        }
        if self.idle_timeout.is_zero() {
            return bad("ServeConfig: idle_timeout must be positive");
        }
        if self.stall_timeout.is_zero() {
            return bad("ServeConfig: stall_timeout must be positive");
        }
        if self.max_connections == 0 {
            return bad("ServeConfig: max_connections must be at least 1");
        }
        Ok(())
    }
}

/// Serves `router` (yours, with livetable's nested anywhere in it, or
/// [`router`](crate::router) alone) on `listener` until `shutdown` completes, with the
/// default [`ServeConfig`].
///
/// On shutdown it stops accepting connections, ends every event stream (which would
/// otherwise never finish), lets requests in flight complete for up to 5 s, and
/// returns.
///
/// ```no_run
/// # async fn run(catalog: livetable_core::Catalog) -> std::io::Result<()> {
/// let app = livetable_http::nest("/tcpdump", livetable_http::router(catalog));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// livetable_http::serve(listener, app, async {
///     let _ = tokio::signal::ctrl_c().await;
/// })
/// .await
/// # }
/// ```
pub async fn serve<F>(listener: TcpListener, router: Router, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with(listener, router, ServeConfig::default(), shutdown).await
}

/// For a server you run yourself (e.g. `axum::serve(..).with_graceful_shutdown(..)`):
/// returns `router` set up so that its event streams end at shutdown, and the future to
/// give as the shutdown signal: it waits for `signal`, then ends every event stream.
///
/// Without it, a graceful shutdown waits forever on open event streams, which never
/// finish by themselves. ([`serve`] does this itself.)
///
/// ```no_run
/// # async fn run(catalog: livetable_core::Catalog) -> std::io::Result<()> {
/// let app = livetable_http::nest("/tcpdump", livetable_http::router(catalog));
/// let (app, shutdown) = livetable_http::graceful(app, async {
///     let _ = tokio::signal::ctrl_c().await;
/// });
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app).with_graceful_shutdown(shutdown).await
/// # }
/// ```
pub fn graceful<F>(router: Router, signal: F) -> (Router, impl Future<Output = ()> + Send + 'static)
where
    F: Future<Output = ()> + Send + 'static,
{
    let (closing, closed) = watch::channel(false);
    let router = router.layer(Extension(Closing(closed)));
    let shutdown = async move {
        signal.await;
        debug!("shutting down: closing event streams");
        // Streams read the value, so it stays visible after the sender is dropped.
        let _ = closing.send(true);
    };
    (router, shutdown)
}

/// Like [`serve`], with the connection limits of `config`.
///
/// Each request carries the peer's address as axum's `ConnectInfo<SocketAddr>`: the
/// adapter charges the views a client starts to that address (see
/// [`Table::view_for`](livetable_core::Table::view_for)).
pub async fn serve_with<F>(
    listener: TcpListener,
    router: Router,
    config: ServeConfig,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    config.validate()?;
    let (signalled, closed) = watch::channel(false);
    let (app, shutdown) = graceful(router, shutdown);
    let mut stop = closed.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = signalled.send(true);
    });
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let open = Arc::new(AtomicUsize::new(0));
    let (gone_tx, mut gone) = watch::channel(());
    let gone_tx = Arc::new(gone_tx);
    let epoch = Instant::now();

    loop {
        // A slot first: past the bound, connections wait in the backlog.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break, // never closed
            },
            _ = wait_closed(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors or similar: wait rather than spin.
                        warn!(error = %e, "accept failed; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            _ = wait_closed(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let config = config.clone();
        let closed = closed.clone();
        let open = open.clone();
        let gone_tx = gone_tx.clone();
        open.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            connection(stream, peer, app, config, closed, epoch).await;
            drop(permit);
            open.fetch_sub(1, Ordering::AcqRel);
            gone_tx.send_replace(());
        });
    }
    // Shutting down: connections finish (their streams were told), for up to GRACE.
    let all_gone = async {
        while open.load(Ordering::Acquire) > 0 {
            if gone.changed().await.is_err() {
                break;
            }
        }
    };
    if tokio::time::timeout(GRACE, all_gone).await.is_err() {
        debug!("connections still open after the grace period; returning");
    }
    Ok(())
}

/// Until the shutdown signal (the guard `wait_for` returns is not `Send`).
async fn wait_closed(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|c| *c).await;
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What the watchdog of a connection reads: milliseconds since `serve` started.
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    /// The last byte read or written.
    last: AtomicU64,
    /// Since when a write has been waiting on the client (0: none is).
    blocked_since: AtomicU64,
    /// Requests whose handler has not answered yet.
    busy: AtomicUsize,
}

impl Activity {
    fn now(&self) -> u64 {
        // +1: 0 means "not blocked".
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    fn touch(&self) {
        self.last.store(self.now(), Ordering::Release);
    }

    fn wrote(&self) {
        self.touch();
        self.blocked_since.store(0, Ordering::Release);
    }

    fn write_pending(&self) {
        let _ =
            self.blocked_since
                .compare_exchange(0, self.now(), Ordering::AcqRel, Ordering::Acquire);
    }

    /// Why the connection must close now, or how long until the next check.
    fn check(&self, config: &ServeConfig) -> Result<Duration, &'static str> {
        let now = self.now();
        let since = |t: u64| Duration::from_millis(now.saturating_sub(t));
        let blocked = self.blocked_since.load(Ordering::Acquire);
        let mut next = config.idle_timeout.min(config.stall_timeout);
        if blocked != 0 {
            let waited = since(blocked);
            if waited >= config.stall_timeout {
                return Err("the client accepted no data");
            }
            next = next.min(config.stall_timeout - waited);
        }
        if self.busy.load(Ordering::Acquire) == 0 {
            let quiet = since(self.last.load(Ordering::Acquire));
            if quiet >= config.idle_timeout {
                return Err("idle");
            }
            next = next.min(config.idle_timeout - quiet);
        }
        Ok(next.max(Duration::from_millis(10)))
    }
}

/// The socket, recording reads, writes and writes the client does not take.
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write(cx, buf);
        match &result {
            Poll::Ready(Ok(n)) if *n > 0 => self.activity.wrote(),
            Poll::Pending => self.activity.write_pending(),
            _ => {}
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        match &result {
            Poll::Ready(Ok(n)) if *n > 0 => self.activity.wrote(),
            Poll::Pending => self.activity.write_pending(),
            _ => {}
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Counts a request as busy until its handler answers.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    config: ServeConfig,
    mut closed: watch::Receiver<bool>,
    epoch: Instant,
) {
    let activity = Arc::new(Activity {
        epoch,
        last: AtomicU64::new(0),
        blocked_since: AtomicU64::new(0),
        busy: AtomicUsize::new(0),
    });
    activity.touch();
    let io = TokioIo::new(Watched {
        io: stream,
        activity: activity.clone(),
    });
    let busy = activity.clone();
    let service = app
        .map_request(move |request: hyper::Request<hyper::body::Incoming>| {
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        })
        .map_future(move |future| {
            busy.busy.fetch_add(1, Ordering::AcqRel);
            let guard = Busy(busy.clone());
            async move {
                let response = future.await;
                drop(guard);
                response
            }
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, TowerToHyperService::new(service));
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        let wait = match activity.check(&config) {
            Ok(wait) => wait,
            Err(why) => {
                debug!(%peer, why, "closing the connection");
                return; // dropping the connection closes the socket
            }
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = tokio::time::sleep(wait) => {}
            _ = wait_closed(&mut closed), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
