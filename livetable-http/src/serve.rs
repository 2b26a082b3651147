//! [`serve`]: run a router on a listener until a shutdown signal.

use std::future::Future;
use std::time::Duration;

use axum::{Extension, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::debug;

use crate::sse::Closing;

/// How long open connections get to finish after the shutdown signal.
const GRACE: Duration = Duration::from_secs(5);

/// Serves `router` (yours, with livetable's nested anywhere in it, or
/// [`router`](crate::router) alone) on `listener` until `shutdown` completes.
///
/// On shutdown it stops accepting connections, ends every event stream (which would
/// otherwise never finish), lets requests in flight complete for up to 5 s, and
/// returns.
///
/// ```no_run
/// # async fn run(catalog: livetable_core::Catalog) -> std::io::Result<()> {
/// let app = axum::Router::new().nest("/tcpdump", livetable_http::router(catalog));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// livetable_http::serve(listener, app, async {
///     let _ = tokio::signal::ctrl_c().await;
/// })
/// .await
/// # }
/// ```
pub async fn serve<F>(listener: TcpListener, router: Router, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (closing, closed) = watch::channel(false);
    let mut deadline = closing.subscribe();
    let app = router.layer(Extension(Closing(closed)));
    let signal = async move {
        shutdown.await;
        debug!("shutting down: closing event streams");
        // Streams read the value, so it stays visible after the sender is dropped.
        let _ = closing.send(true);
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    tokio::select! {
        result = server => result,
        _ = async {
            let _ = deadline.wait_for(|c| *c).await;
            tokio::time::sleep(GRACE).await;
        } => {
            debug!("connections still open after the grace period; returning");
            Ok(())
        }
    }
}
