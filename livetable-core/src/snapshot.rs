//! [`Snapshot`]: one complete state of a table, where its rows come from
//! ([`FetchInfo`]), its freshness [`Status`], and how a [`Patch`] moves it to the next
//! version.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;

use crate::error::{Error, ErrorKind, Result};
use crate::key::{key_of, keys_lead};
use crate::live::Patch;
use crate::query::Window;
use crate::schema::{Row, Schema};
use crate::trend::Trend;
use crate::value::Value;

/// Whether a snapshot reflects the last fetch.
///
/// Not `#[non_exhaustive]`, on purpose (as [`Value`](crate::Value) and
/// [`Update`](crate::Update)): an adapter shows every status to its viewers, so a new
/// one must be a compile error there. Adding a variant is a breaking release.
#[derive(Clone, Debug, Default)]
pub enum Status {
    /// No fetch has finished yet: the snapshot has no rows.
    #[default]
    Loading,
    /// The last fetch succeeded.
    Fresh,
    /// Fetches have failed since `since`; the rows are the last good ones. The error's
    /// own text may name hosts, URLs or relations: it is for the log, and adapters
    /// show viewers its kind only (livetable-http adds a plain sentence per kind).
    Stale {
        /// When the first failing fetch started.
        since: DateTime<Utc>,
        /// The latest fetch's error, with the store's own words (for the log).
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

/// One complete state of a table: the schema, the rows, and where they come from.
///
/// Snapshots are immutable and shared (`Arc<Snapshot>`) between every viewer.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Snapshot {
    /// The columns of `rows`: dimensions first, then metrics.
    pub schema: Arc<Schema>,
    /// The rows, in display order.
    pub rows: Vec<Row>,
    /// Increases by one with every publish (each finished fetch and each status change).
    pub version: u64,
    /// Where the rows come from.
    pub fetch: FetchInfo,
    /// Fresh, or stale since a time with an error. Not part of [`FetchInfo`]: the
    /// runtime sets it, and a failed fetch changes it while the rows stay.
    pub status: Status,
    /// Each row's metric per time step, when the view asked for a trend.
    pub trend: Option<Arc<Trend>>,
}

/// Where a snapshot's rows come from: the window they cover and the fetch that produced
/// them. [`Snapshot`] and [`Patch`](crate::Patch) both carry it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FetchInfo {
    /// The absolute window the rows cover.
    pub window: Window,
    /// When the fetch that produced the rows started.
    pub taken_at: DateTime<Utc>,
    /// How long that fetch took.
    pub fetch_duration: Duration,
    /// Some values are estimates (e.g. a cardinality from Elasticsearch).
    pub approximate: bool,
    /// The store returned part of the data, and why.
    pub partial: Option<String>,
}

impl FetchInfo {
    /// Rows of `window`, exact and complete, taken at the window's end with no fetch
    /// time.
    pub fn new(window: Window) -> Self {
        FetchInfo {
            window,
            taken_at: window.end,
            fetch_duration: Duration::ZERO,
            approximate: false,
            partial: None,
        }
    }
}

impl Snapshot {
    /// Version 0 of `rows` over `window`: fresh, exact and complete, taken at the
    /// window's end with no fetch time.
    pub fn new(schema: Arc<Schema>, rows: Vec<Row>, window: Window) -> Self {
        Snapshot {
            schema,
            rows,
            version: 0,
            fetch: FetchInfo::new(window),
            status: Status::Fresh,
            trend: None,
        }
    }

    /// A snapshot with no rows whose status is [`Status::Loading`].
    pub fn loading(schema: Arc<Schema>, window: Window) -> Self {
        Snapshot {
            status: Status::Loading,
            ..Snapshot::new(schema, Vec::new(), window)
        }
    }
}

impl Snapshot {
    /// The patch turning this snapshot into `next` (a later version of the same table:
    /// both must share a schema). [`apply`](Self::apply) replays it. O(rows).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use livetable_core::{Column, DataType, Row, Schema, Snapshot, Value, Window};
    /// let schema = Arc::new(Schema::new(vec![
    ///     Column::dimension("host", DataType::Text),
    ///     Column::metric("n", DataType::Int),
    /// ])?);
    /// let window = Window::ending_at(chrono::Utc::now(), std::time::Duration::from_secs(60))?;
    /// let row = |h: &str, n: i64| Row::new(vec![Value::from(h), Value::Int(n)]);
    /// let old = Snapshot::new(schema.clone(), vec![row("a", 1), row("b", 2)], window);
    /// let mut new = Snapshot::new(schema, vec![row("b", 3), row("c", 1)], window);
    /// new.version = 1;
    /// let patch = old.diff(&new);
    /// assert_eq!(patch.inserted, vec![row("c", 1)]);
    /// assert_eq!(patch.updated, vec![row("b", 3)]);
    /// assert_eq!(patch.removed, vec![vec![Value::from("a")]]);
    /// assert_eq!(old.apply(&patch)?.rows, vec![row("b", 3), row("c", 1)]);
    /// # Ok::<(), livetable_core::Error>(())
    /// ```
    pub fn diff(&self, next: &Snapshot) -> Patch {
        crate::live::diff(self, next)
    }

    /// Applies a patch made from this snapshot's version: updated rows are replaced in
    /// place, removed rows dropped, inserted rows appended.
    ///
    /// Fails when the patch starts from another version or touches keys that do not
    /// fit (an update or removal of a missing key, an insert of a present one): the
    /// caller has missed an update and needs a full snapshot.
    pub fn apply(&self, patch: &Patch) -> Result<Snapshot> {
        let gap = |what: String| {
            Error::new(
                ErrorKind::InvalidParameter,
                format!(
                    "cannot apply patch {} → {}: {what}; take a full snapshot",
                    patch.from_version, patch.to_version
                ),
            )
        };
        if patch.from_version != self.version {
            return Err(gap(format!("this snapshot is version {}", self.version)));
        }
        let key_indices = self.schema.key_indices();
        let leading = keys_lead(&self.schema);
        let mut rows = self.rows.clone();
        let mut index: FxHashMap<Vec<Value>, usize> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (key_of(r, key_indices, leading).into_owned(), i))
            .collect();
        for row in &patch.updated {
            let key = key_of(row, key_indices, leading);
            let &i = index
                .get(key.as_ref())
                .ok_or_else(|| gap(format!("updated key {key:?} is not in the snapshot")))?;
            rows[i] = row.clone();
        }
        let mut drop = vec![false; rows.len()];
        for key in &patch.removed {
            let i = index
                .remove(key.as_slice())
                .ok_or_else(|| gap(format!("removed key {key:?} is not in the snapshot")))?;
            drop[i] = true;
        }
        let mut i = 0;
        rows.retain(|_| {
            i += 1;
            !drop[i - 1]
        });
        for row in &patch.inserted {
            let key = key_of(row, key_indices, leading).into_owned();
            if index.insert(key, usize::MAX).is_some() {
                return Err(gap("an inserted key is already in the snapshot".to_owned()));
            }
            rows.push(row.clone());
        }
        let trend = match &patch.trend {
            Some(t) => Some(Arc::new(
                crate::trend::apply(self, t, &rows).map_err(|e| gap(e.message().to_owned()))?,
            )),
            None => None,
        };
        Ok(Snapshot {
            schema: self.schema.clone(),
            rows,
            version: patch.to_version,
            fetch: patch.fetch.clone(),
            status: patch.status.clone(),
            trend,
        })
    }
}
