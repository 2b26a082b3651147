//! Error helpers and the error scenario both dialects share. Most error tests stay in
//! `errors.rs` and `mysql_errors.rs`: the servers' error codes, texts and failure modes
//! (lock waits, killed connections, access denied) differ.

use std::time::Duration;

use livetable_core::{Aggregate, DataType, ErrorKind, Metric, TableQuery};

use super::{Dialect, ctx};

/// A count of rows by `column`, over the last hour of `ts`.
pub fn spec(column: &str) -> Aggregate {
    Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension(column, DataType::Text)
        .metric(Metric::count("n"))
        .build()
        .unwrap()
}

/// A free local port: bind port 0, note the port, close the listener.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Nothing listens on the port: the fetch is unavailable, worth retrying, and the
/// error names the backend and the table.
pub async fn wrong_port_is_unavailable_and_retryable<D: Dialect>() {
    let url = format!("{}://root@127.0.0.1:{}/test", D::NAME, free_port());
    let db = D::connect(&url, Duration::from_secs(2), Duration::from_secs(5));
    let q = db.query("events", spec("host")).unwrap();
    let e = q.fetch(&ctx()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_retryable());
    assert_eq!(e.context_value("backend"), Some(D::NAME));
    assert_eq!(e.context_value("table"), Some("events"));
}
