//! The JSON shapes this adapter sends: the table listing, snapshots, patches and
//! statuses. Core's types carry data; what a viewer sees of them is decided here.
//!
//! ```
//! use std::sync::Arc;
//! use livetable_core::{Column, DataType, Row, Schema, Snapshot, Value, Window};
//! let schema = Arc::new(Schema::new(vec![Column::dimension("host", DataType::Text)])?);
//! let window = Window::ending_at(livetable_core::chrono::Utc::now(), std::time::Duration::from_secs(60))?;
//! let snapshot = Snapshot::new(schema, vec![Row::new(vec![Value::from("a")])], window);
//! let json: serde_json::Value = serde_json::from_str(&livetable_http::wire::snapshot_json(&snapshot))?;
//! assert_eq!(json["rows"], serde_json::json!([["a"]]));
//! assert_eq!(json["status"]["state"], "fresh");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use livetable_core::chrono::{DateTime, Utc};
use livetable_core::{
    ErrorKind, FetchInfo, FormatRule, OrderBy, Patch, Row, Schema, Snapshot, Status, Table, Trend,
    TrendPatch, Value, ViewParams, Window,
};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// The sentence viewers see for a stale table whose last fetch failed with `kind`.
///
/// A store's own error text (and the context the runtime adds) names hosts, URLs,
/// relations, statements or internal thread pools; it goes to the log, never to
/// viewers. They get the kind and one of these plain sentences.
///
/// ```
/// use livetable_core::ErrorKind;
/// assert_eq!(
///     livetable_http::wire::viewer_message(ErrorKind::Unavailable),
///     "the store is unavailable; retrying"
/// );
/// ```
pub fn viewer_message(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unavailable => "the store is unavailable; retrying",
        ErrorKind::Timeout => "the store did not answer in time; retrying",
        ErrorKind::PermissionDenied => "the store refused access; retrying",
        ErrorKind::LimitExceeded => "the store's limits were reached; retrying",
        _ => "the table's source failed; retrying",
    }
}

/// The JSON of a snapshot: `schema`, `rows`, `version`, the fetch fields (`window`,
/// `taken_at`, `fetch_ms`, `approximate`, `partial`), `status` and `trend` (`null`
/// unless the view asked for one).
pub fn snapshot_json(snapshot: &Snapshot) -> String {
    // Every part is a plain value or a string: serialising cannot fail.
    serde_json::to_string(&SnapshotJson(snapshot)).unwrap_or_default()
}

/// The JSON of a patch: `from_version`, `to_version`, `inserted`, `updated`, `removed`,
/// then the new snapshot's fetch fields, `status` and `trend` (its change, see
/// [`TrendPatch`]).
pub fn patch_json(patch: &Patch) -> String {
    serde_json::to_string(&PatchJson(patch)).unwrap_or_default()
}

struct SnapshotJson<'a>(&'a Snapshot);

impl Serialize for SnapshotJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            schema: &'a Schema,
            rows: &'a [Row],
            version: u64,
            #[serde(flatten)]
            fetch: FetchJson<'a>,
            status: StatusJson<'a>,
            trend: Option<TrendJson<'a>>,
        }
        let snap = self.0;
        Body {
            schema: &snap.schema,
            rows: &snap.rows,
            version: snap.version,
            fetch: FetchJson(&snap.fetch),
            status: StatusJson(&snap.status),
            trend: snap.trend.as_deref().map(TrendJson),
        }
        .serialize(s)
    }
}

struct PatchJson<'a>(&'a Patch);

impl Serialize for PatchJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            from_version: u64,
            to_version: u64,
            inserted: &'a [Row],
            updated: &'a [Row],
            removed: &'a [Vec<Value>],
            #[serde(flatten)]
            fetch: FetchJson<'a>,
            status: StatusJson<'a>,
            trend: Option<TrendPatchJson<'a>>,
        }
        let patch = self.0;
        Body {
            from_version: patch.from_version,
            to_version: patch.to_version,
            inserted: &patch.inserted,
            updated: &patch.updated,
            removed: &patch.removed,
            fetch: FetchJson(&patch.fetch),
            status: StatusJson(&patch.status),
            trend: patch.trend.as_ref().map(TrendPatchJson),
        }
        .serialize(s)
    }
}

/// What a trend and its patch share: `metric`, `start`, `step_ms`, `points`, `empty`.
#[derive(Serialize)]
struct TrendAxis<'a> {
    metric: &'a str,
    start: &'a DateTime<Utc>,
    step_ms: u128,
    points: usize,
    empty: &'a Value,
}

impl<'a> TrendAxis<'a> {
    fn new(
        metric: &'a str,
        start: &'a DateTime<Utc>,
        step: Duration,
        points: usize,
        empty: &'a Value,
    ) -> Self {
        TrendAxis {
            metric,
            start,
            step_ms: step.as_millis(),
            points,
            empty,
        }
    }
}

/// The axis fields, then `"series": [[…] per row]`.
struct TrendJson<'a>(&'a Trend);

impl Serialize for TrendJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(flatten)]
            axis: TrendAxis<'a>,
            series: &'a [Arc<[Value]>],
        }
        let t = self.0;
        Body {
            axis: TrendAxis::new(&t.metric, &t.start, t.step, t.points, &t.empty),
            series: &t.series,
        }
        .serialize(s)
    }
}

/// The axis fields, then `"changes": [[key, at, [points…]], …]`.
struct TrendPatchJson<'a>(&'a TrendPatch);

impl Serialize for TrendPatchJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(flatten)]
            axis: TrendAxis<'a>,
            changes: Vec<(&'a [Value], usize, &'a [Value])>,
        }
        let t = self.0;
        Body {
            axis: TrendAxis::new(&t.metric, &t.start, t.step, t.points, &t.empty),
            changes: t
                .changes
                .iter()
                .map(|c| (c.key.as_slice(), c.at, c.points.as_slice()))
                .collect(),
        }
        .serialize(s)
    }
}

/// `window`, `taken_at`, `fetch_ms` (a float), `approximate`, `partial`.
struct FetchJson<'a>(&'a FetchInfo);

impl Serialize for FetchJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            window: &'a Window,
            taken_at: &'a DateTime<Utc>,
            fetch_ms: f64,
            approximate: bool,
            partial: Option<&'a str>,
        }
        let f = self.0;
        Body {
            window: &f.window,
            taken_at: &f.taken_at,
            fetch_ms: f.fetch_duration.as_secs_f64() * 1000.0,
            approximate: f.approximate,
            partial: f.partial.as_deref(),
        }
        .serialize(s)
    }
}

/// `{"state":"loading"}`, `{"state":"fresh"}` or
/// `{"state":"stale","since":…,"error":{"kind":…,"message":…,"retryable":…}}`. The
/// message is [`viewer_message`] for the error's kind, never the error's own text or
/// context, which may name hosts, URLs or relations (the log keeps them).
struct StatusJson<'a>(&'a Status);

impl Serialize for StatusJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Status::Loading | Status::Fresh => {
                let mut st = s.serialize_struct("Status", 1)?;
                let state = if self.0.is_fresh() {
                    "fresh"
                } else {
                    "loading"
                };
                st.serialize_field("state", state)?;
                st.end()
            }
            Status::Stale { since, error } => {
                #[derive(Serialize)]
                struct ErrorBody {
                    kind: &'static str,
                    message: &'static str,
                    retryable: bool,
                }
                let mut st = s.serialize_struct("Status", 3)?;
                st.serialize_field("state", "stale")?;
                st.serialize_field("since", since)?;
                st.serialize_field(
                    "error",
                    &ErrorBody {
                        kind: error.kind().as_str(),
                        message: viewer_message(error.kind()),
                        retryable: error.is_retryable(),
                    },
                )?;
                st.end()
            }
        }
    }
}

/// One table of `GET api/tables`: what a client needs to show it before its first
/// snapshot.
#[derive(Serialize)]
pub(crate) struct TableInfo {
    /// The name the URLs use.
    name: String,
    /// The title shown to viewers (the name unless set).
    title: String,
    /// The columns, with their roles, types, labels and units.
    schema: Arc<Schema>,
    /// The default window, as text (`1h`).
    window: String,
    /// The windows a viewer may ask for, as text.
    allowed_windows: Vec<String>,
    /// Seconds between refreshes.
    interval_secs: f64,
    default_order: Vec<OrderBy>,
    format_rules: Vec<FormatRule>,
    /// Whether `group_by` is accepted.
    groupable: bool,
    /// Whether `trend` is accepted.
    trends: bool,
}

impl TableInfo {
    pub(crate) fn of(table: &Table) -> Self {
        TableInfo {
            name: table.name().to_owned(),
            title: table.title().to_owned(),
            schema: table.schema().clone(),
            window: ViewParams::format_window(table.window()),
            allowed_windows: windows_text(table.allowed_windows()),
            interval_secs: table.interval().as_secs_f64(),
            default_order: table.default_order().to_vec(),
            format_rules: table.format_rules().to_vec(),
            groupable: table.supports_grouping(),
            trends: table.supports_trend(),
        }
    }
}

/// Window lengths as text (`15m`, `1h`).
pub(crate) fn windows_text(windows: &[Duration]) -> Vec<String> {
    windows
        .iter()
        .map(|w| ViewParams::format_window(*w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use livetable_core::{Column, DataType, Error};

    /// The keys of a JSON object, in the order written.
    fn keys_in_order(json: &str) -> Vec<String> {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
        let mut keys: Vec<String> = map.keys().cloned().collect();
        keys.sort_by_key(|k| json.find(&format!("\"{k}\":")).unwrap());
        keys
    }

    fn window() -> Window {
        Window::ending_at(
            DateTime::from_timestamp(600, 0).unwrap(),
            Duration::from_secs(60),
        )
        .unwrap()
    }

    #[test]
    fn snapshot_and_patch_json_keep_their_flat_shape() {
        let schema = Arc::new(
            Schema::new(vec![
                Column::dimension("host", DataType::Text),
                Column::metric("n", DataType::Int),
            ])
            .unwrap(),
        );
        let old = Snapshot::new(schema.clone(), vec![], window());
        let mut new = Snapshot::new(
            schema,
            vec![Row::new(vec![Value::from("a"), Value::Int(1)])],
            window(),
        );
        new.version = 1;
        new.fetch.fetch_duration = Duration::from_micros(1500);
        new.fetch.partial = Some("one shard failed".into());
        let snapshot = snapshot_json(&new);
        assert_eq!(
            keys_in_order(&snapshot),
            [
                "schema",
                "rows",
                "version",
                "window",
                "taken_at",
                "fetch_ms",
                "approximate",
                "partial",
                "status",
                "trend"
            ]
        );
        let json: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
        assert_eq!(json["rows"], serde_json::json!([["a", 1]]));
        assert_eq!(json["fetch_ms"], 1.5);
        assert_eq!(json["partial"], "one shard failed");
        assert_eq!(json["taken_at"], "1970-01-01T00:10:00Z");
        assert_eq!(json["window"]["start"], "1970-01-01T00:09:00Z");
        assert_eq!(json["status"]["state"], "fresh");
        let patch = patch_json(&old.diff(&new));
        assert_eq!(
            keys_in_order(&patch),
            [
                "from_version",
                "to_version",
                "inserted",
                "updated",
                "removed",
                "window",
                "taken_at",
                "fetch_ms",
                "approximate",
                "partial",
                "status",
                "trend"
            ]
        );
        let json: serde_json::Value = serde_json::from_str(&patch).unwrap();
        assert_eq!(json["inserted"], serde_json::json!([["a", 1]]));
    }

    #[test]
    fn stale_status_shows_the_kind_and_a_plain_sentence_only() {
        // Messages as the backends write them: a URL, a host, a relation, a pool.
        let cases = [
            (
                ErrorKind::Unavailable,
                "cannot reach Elasticsearch: error sending request for url \
                 (http://127.0.0.1:9200/packets/_search)",
            ),
            (
                ErrorKind::Unavailable,
                "rejected execution of coordinating operation [search_coordination] \
                 on EsThreadPoolExecutor[name = node-1/search]",
            ),
            (
                ErrorKind::InvalidSpec,
                "relation \"public.packets_secret\" does not exist (SQLSTATE 42P01)",
            ),
            (ErrorKind::Timeout, "statement timeout on db.internal:5432"),
        ];
        for (kind, message) in cases {
            let error = Error::new(kind, message).with_context("host", "db.internal");
            let status = Status::Stale {
                since: DateTime::from_timestamp(0, 0).unwrap(),
                error: Arc::new(error),
            };
            let json = serde_json::to_value(StatusJson(&status)).unwrap();
            assert_eq!(json["state"], "stale");
            assert_eq!(json["since"], "1970-01-01T00:00:00Z");
            assert_eq!(json["error"]["kind"], kind.as_str());
            assert_eq!(json["error"]["message"], viewer_message(kind));
            let text = json.to_string();
            for secret in [
                "127.0.0.1",
                "9200",
                "_search",
                "EsThreadPool",
                "packets_secret",
                "db.internal",
                "SQLSTATE",
            ] {
                assert!(!text.contains(secret), "{secret} leaks: {text}");
            }
        }
    }
}
