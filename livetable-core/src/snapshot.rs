//! [`Snapshot`]: one complete state of a table, and its freshness [`Status`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::error::Error;
use crate::query::Window;
use crate::schema::{Row, Schema};

/// Whether a snapshot reflects the last fetch.
#[derive(Clone, Debug, Default)]
pub enum Status {
    /// No fetch has finished yet: the snapshot has no rows.
    #[default]
    Loading,
    /// The last fetch succeeded.
    Fresh,
    /// Fetches have failed since `since`; the rows are the last good ones.
    Stale {
        /// When the first failing fetch started.
        since: DateTime<Utc>,
        /// The latest error.
        error: Arc<Error>,
    },
}

impl Status {
    /// Whether the rows are from the last fetch.
    pub fn is_fresh(&self) -> bool {
        matches!(self, Status::Fresh)
    }
}

impl PartialEq for Status {
    /// Statuses are equal when both are fresh, or both are stale since the same time
    /// with an error of the same kind and message.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Status::Fresh, Status::Fresh) | (Status::Loading, Status::Loading) => true,
            (Status::Stale { since: a, error: e }, Status::Stale { since: b, error: f }) => {
                a == b && e.kind() == f.kind() && e.message() == f.message()
            }
            _ => false,
        }
    }
}

impl Serialize for Status {
    /// `{"state":"loading"}`, `{"state":"fresh"}` or `{"state":"stale","since":…,"error":{"kind":…,"message":…,"retryable":…}}`.
    /// Only the error's kind and message are shown: context may name hosts or tables.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Status::Loading | Status::Fresh => {
                let mut st = s.serialize_struct("Status", 1)?;
                st.serialize_field("state", if self.is_fresh() { "fresh" } else { "loading" })?;
                st.end()
            }
            Status::Stale { since, error } => {
                #[derive(Serialize)]
                struct ErrorBody<'a> {
                    kind: &'a str,
                    message: &'a str,
                    retryable: bool,
                }
                let mut st = s.serialize_struct("Status", 3)?;
                st.serialize_field("state", "stale")?;
                st.serialize_field("since", since)?;
                st.serialize_field(
                    "error",
                    &ErrorBody {
                        kind: error.kind().as_str(),
                        message: error.message(),
                        retryable: error.is_retryable(),
                    },
                )?;
                st.end()
            }
        }
    }
}

/// One complete state of a table: the schema, the rows, and where they come from.
///
/// Snapshots are immutable and shared (`Arc<Snapshot>`) between every viewer.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// The columns.
    pub schema: Arc<Schema>,
    /// The rows, in display order.
    pub rows: Vec<Row>,
    /// Increases by one with every publish (each finished fetch and each status change).
    pub version: u64,
    /// The absolute window the rows cover.
    pub window: Window,
    /// When the fetch that produced the rows started.
    pub taken_at: DateTime<Utc>,
    /// How long that fetch took.
    #[serde(rename = "fetch_ms", serialize_with = "as_millis")]
    pub fetch_duration: Duration,
    /// Some values are estimates.
    pub approximate: bool,
    /// The store returned part of the data, and why.
    pub partial: Option<String>,
    /// Fresh, or stale since a time with an error.
    pub status: Status,
}

fn as_millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

impl Snapshot {
    /// A fresh snapshot.
    pub fn new(schema: Arc<Schema>, rows: Vec<Row>, window: Window) -> Self {
        Snapshot {
            schema,
            rows,
            version: 0,
            window,
            taken_at: window.end,
            fetch_duration: Duration::ZERO,
            approximate: false,
            partial: None,
            status: Status::Fresh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, DataType, ErrorKind, Value};

    #[test]
    fn stale_status_serialises_without_context() {
        let error = Error::new(ErrorKind::Unavailable, "connection refused")
            .with_context("host", "db.internal");
        let status = Status::Stale {
            since: DateTime::from_timestamp(0, 0).unwrap(),
            error: Arc::new(error),
        };
        let json = serde_json::to_string(&status).unwrap();
        assert!(json.contains(r#""state":"stale""#));
        assert!(json.contains("connection refused"));
        assert!(!json.contains("db.internal"));
    }

    #[test]
    fn snapshot_serialises_rows_and_window() {
        let schema = Arc::new(Schema::new(vec![Column::dimension("k", DataType::Int)]).unwrap());
        let t = DateTime::from_timestamp(60, 0).unwrap();
        let window = Window::ending_at(t, Duration::from_secs(60)).unwrap();
        let snap = Snapshot::new(schema, vec![Row::new(vec![Value::Int(1)])], window);
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(json["rows"], serde_json::json!([[1]]));
        assert_eq!(json["status"]["state"], "fresh");
        assert_eq!(json["window"]["start"], "1970-01-01T00:00:00Z");
    }
}
