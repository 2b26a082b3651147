//! CPU-bound work (merging a large table) off the async worker threads.

use crate::error::{Error, ErrorKind, Result};

/// Runs `work` on tokio's blocking pool, so a large merge never stalls the tasks
/// sharing a worker thread; a panic in it becomes an error rather than a crash.
pub(crate) async fn run<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => Err(Error::new(
            ErrorKind::Unexpected,
            if join.is_panic() {
                "merging the table panicked (a bug in livetable; please report it)"
            } else {
                "merging the table was cancelled"
            },
        )
        .with_retryable(true)),
    }
}
