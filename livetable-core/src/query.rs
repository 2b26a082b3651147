//! [`TableQuery`], the trait a data source implements, and what it receives and returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, OrderBy};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::schema::{Row, Schema};
use crate::trend::Trend;

/// An absolute time window `[start, end)`.
///
/// ```
/// use std::time::Duration;
/// use chrono::{DateTime, Utc};
/// use livetable_core::Window;
/// let end: DateTime<Utc> = "2026-11-28T12:00:00Z".parse().unwrap();
/// let hour = Window::ending_at(end, Duration::from_secs(3600)).unwrap();
/// assert_eq!(hour.start.to_rfc3339(), "2026-11-28T11:00:00+00:00");
/// assert!(hour.contains(end - chrono::TimeDelta::seconds(1)));
/// assert!(!hour.contains(end));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl Window {
    /// The window `[start, end)`; fails unless `start < end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self> {
        if start >= end {
            return Err(Error::invalid_parameter(format!(
                "a window must end after it starts, got {start} .. {end}"
            )));
        }
        Ok(Window { start, end })
    }

    /// The window of `length` ending at `end`.
    pub fn ending_at(end: DateTime<Utc>, length: Duration) -> Result<Self> {
        let length = TimeDelta::from_std(length)
            .map_err(|_| Error::invalid_parameter(format!("a window of {length:?} is too long")))?;
        let start = end.checked_sub_signed(length).ok_or_else(|| {
            Error::invalid_parameter(format!("a window of {length} before {end} is out of range"))
        })?;
        Self::new(start, end)
    }

    /// Whether `t` is in `[start, end)`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// `end - start`.
    pub fn length(&self) -> Duration {
        (self.end - self.start).to_std().unwrap_or_default()
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {})",
            self.start.to_rfc3339(),
            self.end.to_rfc3339()
        )
    }
}

/// What a fetch is asked for. Built by the runtime; a source reads it.
///
/// `#[non_exhaustive]`: new knobs can be added without breaking sources. Build one in
/// tests with [`FetchContext::new`] and the `with_*` methods.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FetchContext {
    /// The time window, resolved to absolute bounds once per tick.
    pub window: Window,
    /// Viewer filters on dimension columns, already validated against the schema and
    /// normalised (values have the column's type).
    pub filters: Vec<Filter>,
    /// The most rows wanted: a source that honours it keeps the first `limit` rows in
    /// its own order (after its filters), as `MemorySource` and the Elasticsearch and
    /// SQL backends do. For callers of [`TableQuery::fetch`]; live tables never set it
    /// (they keep every row the source returns).
    pub limit: Option<usize>,
    /// Group by these dimension columns only (positions in the source's schema, in
    /// the order wanted): the rows are then in [`Schema::grouped`] of the source's
    /// schema, each metric rolled up over the groups merged. Only set for a source
    /// whose [`supports_grouping`](TableQuery::supports_grouping) is true; filters
    /// still apply to every dimension, before the roll-up.
    pub group_by: Option<Vec<usize>>,
    /// Also return each row's value of this metric column per time step (a
    /// [`Trend`]). Only set for a source whose
    /// [`supports_trend`](TableQuery::supports_trend) is true.
    pub trend: Option<String>,
}

impl FetchContext {
    /// A context for `window` with no filter and no limit.
    pub fn new(window: Window) -> Self {
        FetchContext {
            window,
            filters: Vec::new(),
            limit: None,
            group_by: None,
            trend: None,
        }
    }

    /// Sets the viewer filters.
    pub fn with_filters(mut self, filters: Vec<Filter>) -> Self {
        self.filters = filters;
        self
    }

    /// Sets the row limit.
    pub fn with_limit(mut self, limit: Option<usize>) -> Self {
        self.limit = limit;
        self
    }

    /// Sets the grouping (see [`group_by`](Self::group_by)).
    pub fn with_group_by(mut self, group_by: Option<Vec<usize>>) -> Self {
        self.group_by = group_by;
        self
    }

    /// Asks for the trend of a metric (see [`trend`](Self::trend)).
    pub fn with_trend(mut self, metric: Option<String>) -> Self {
        self.trend = metric;
        self
    }
}

/// What a fetch returns: the rows, plus flags the snapshot carries to viewers.
///
/// `From<Vec<Row>>` makes the common case `Ok(rows.into())`.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Fetched {
    /// The rows, in schema order, in display order.
    pub rows: Vec<Row>,
    /// Some values are estimates (e.g. an approximate distinct count or top-N).
    pub approximate: bool,
    /// The store answered with part of the data (failed shards, a timed-out search):
    /// why, in words a viewer can read.
    pub partial: Option<String>,
    /// The window the rows really cover, when the source had to round the one it was
    /// asked for (e.g. to its time buckets).
    pub covered: Option<Window>,
    /// Each row's metric per time step, when the context asked for a trend: one
    /// series per row, in the rows' order.
    pub trend: Option<Trend>,
}

impl Fetched {
    /// Rows with no flag set.
    pub fn new(rows: Vec<Row>) -> Self {
        Fetched {
            rows,
            ..Default::default()
        }
    }

    /// Marks the values as estimates.
    pub fn approximate(mut self, approximate: bool) -> Self {
        self.approximate = approximate;
        self
    }

    /// Marks the result as partial, with the reason.
    pub fn partial(mut self, reason: impl Into<String>) -> Self {
        self.partial = Some(reason.into());
        self
    }

    /// Records the window the rows really cover.
    pub fn covering(mut self, window: Window) -> Self {
        self.covered = Some(window);
        self
    }

    /// Attaches the rows' trend.
    pub fn with_trend(mut self, trend: Option<Trend>) -> Self {
        self.trend = trend;
        self
    }
}

impl From<Vec<Row>> for Fetched {
    fn from(rows: Vec<Row>) -> Self {
        Fetched::new(rows)
    }
}

/// What a source tells the [`Table`](crate::Table)s built over it: what to show by
/// default, and the longest window it can answer. Every field is optional: a table
/// falls back to its own defaults (a 1 h window, no order) and allows any window.
///
/// ```
/// use std::time::Duration;
/// use livetable_core::{Aggregate, DataType, MemorySource, Metric, SourceProfile, TableQuery};
/// let spec = Aggregate::builder()
///     .time_column("ts").window(Duration::from_secs(900))
///     .dimension("host", DataType::Text)
///     .metric(Metric::count("n"))
///     .order_by("n", livetable_core::Direction::Desc)
///     .build()?;
/// let source = MemorySource::builder(spec.clone()).retention(Duration::from_secs(3600)).build()?;
/// let profile = source.profile();
/// assert_eq!(profile.window, Some(Duration::from_secs(900)));
/// assert_eq!(profile.order, spec.order_by());
/// assert_eq!(profile.longest_window, Some(Duration::from_secs(3600)));
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct SourceProfile {
    /// The window a table shows when it is not given one.
    pub window: Option<Duration>,
    /// The rows' order, which a table shows to viewers when it is not given one.
    pub order: Vec<OrderBy>,
    /// The longest window the source can answer in full (the retention of an
    /// in-memory or cached source); a table refuses to offer a longer one. `None`: any.
    pub longest_window: Option<Duration>,
}

impl SourceProfile {
    /// The window and order of an [`Aggregate`], with no bound on the window: the
    /// profile of a source that runs the aggregate in its store.
    pub fn of_aggregate(spec: &Aggregate) -> Self {
        SourceProfile {
            window: Some(spec.window()),
            order: spec.order_by().to_vec(),
            longest_window: None,
        }
    }

    /// Bounds the windows the source answers.
    pub fn with_longest_window(mut self, longest: Duration) -> Self {
        self.longest_window = Some(longest);
        self
    }
}

/// A data source for a live table: the trait to implement for your own data.
///
/// Two methods: [`schema`](TableQuery::schema) says what the rows look like, and
/// [`fetch`](TableQuery::fetch) returns the current rows for a window. Everything else
/// — refreshing, sharing one fetch between all viewers, diffing, staleness, serving —
/// is built on this trait and works for every source.
///
/// A source may use the context's `filters` and `limit` to do less work, or ignore
/// them: the runtime re-applies both to what it gets back, so ignoring them is always
/// correct. (A source that applies `limit` must apply `filters` first.)
///
/// # Example: a custom source in ~20 lines
/// ```
/// use livetable_core::{Column, DataType, FetchContext, Fetched, Result, Row, Schema, TableQuery, Value};
///
/// /// Requests per host, from wherever the application keeps them.
/// struct Requests {
///     schema: Schema,
///     hosts: Vec<(String, i64)>,
/// }
///
/// impl Requests {
///     fn new(hosts: Vec<(String, i64)>) -> Result<Self> {
///         let schema = Schema::new(vec![
///             Column::dimension("host", DataType::Text),
///             Column::metric("requests", DataType::Int),
///         ])?;
///         Ok(Requests { schema, hosts })
///     }
/// }
///
/// impl TableQuery for Requests {
///     fn schema(&self) -> &Schema {
///         &self.schema
///     }
///
///     async fn fetch(&self, _ctx: &FetchContext) -> Result<Fetched> {
///         let rows = self.hosts.iter()
///             .map(|(host, n)| Row::new(vec![Value::from(host.as_str()), Value::Int(*n)]))
///             .collect::<Vec<_>>();
///         Ok(rows.into())
///     }
/// }
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let source = Requests::new(vec![("web-1".into(), 12), ("web-2".into(), 7)])?;
/// let window = livetable_core::Window::ending_at(chrono::Utc::now(), std::time::Duration::from_secs(60))?;
/// let fetched = source.fetch(&FetchContext::new(window)).await?;
/// assert_eq!(fetched.rows.len(), 2);
/// # Ok::<(), livetable_core::Error>(())
/// # }).unwrap();
/// ```
pub trait TableQuery: Send + Sync + 'static {
    /// The columns of the rows [`fetch`](TableQuery::fetch) returns. Must not change
    /// over the life of the source.
    fn schema(&self) -> &Schema;

    /// The current rows for `ctx.window`. Errors should say what failed and whether a
    /// retry can help (see [`Error`]); the runtime adds the table's name.
    fn fetch(&self, ctx: &FetchContext) -> impl Future<Output = Result<Fetched>> + Send;

    /// Whether every view of a table over this source is served from one shared
    /// refresh, as a [`BucketCache`](crate::BucketCache)'s are. A [`LiveTable`] over
    /// such a source ticks on multiples of its interval since the epoch, so that the
    /// views of a table fetch together and share one store query. Default `false`:
    /// independent views keep their own phase, which spreads their load on the store.
    ///
    /// [`LiveTable`]: crate::LiveTable
    fn shared_refresh(&self) -> bool {
        false
    }

    /// Whether [`fetch`](TableQuery::fetch) honours [`FetchContext::group_by`]: rows
    /// grouped by fewer dimensions, each metric exact for that grouping (a roll-up of
    /// a top-N would be a wrong table, so a source that cannot do it says `false`, the
    /// default, and viewers asking for a grouping are told so). `MemorySource`,
    /// `BucketCache` and the SQL and Elasticsearch aggregates group.
    fn supports_grouping(&self) -> bool {
        false
    }

    /// Whether [`fetch`](TableQuery::fetch) honours [`FetchContext::trend`]. Sources
    /// that keep time buckets (`MemorySource`, `BucketCache`) do; the default is
    /// `false`, and viewers asking for a trend are told so.
    fn supports_trend(&self) -> bool {
        false
    }

    /// What a table over this source shows by default, and the longest window it can
    /// answer; see [`SourceProfile`]. Default: nothing said. The sources built from an
    /// [`Aggregate`] give its window and order (and their retention, when they have
    /// one). A wrapper around another source should pass its profile on.
    fn profile(&self) -> SourceProfile {
        SourceProfile::default()
    }
}

/// A boxed future, as returned by [`DynTableQuery`].
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe form of [`TableQuery`], implemented for every `TableQuery`.
///
/// Use `Arc<dyn DynTableQuery>` (alias [`SharedQuery`]) to choose a source at run time
/// (e.g. from a command-line flag); it implements `TableQuery` itself.
pub trait DynTableQuery: Send + Sync + 'static {
    /// See [`TableQuery::schema`].
    fn dyn_schema(&self) -> &Schema;
    /// See [`TableQuery::fetch`].
    fn dyn_fetch<'a>(&'a self, ctx: &'a FetchContext) -> BoxFuture<'a, Result<Fetched>>;
    /// See [`TableQuery::shared_refresh`].
    fn dyn_shared_refresh(&self) -> bool;
    /// See [`TableQuery::profile`].
    fn dyn_profile(&self) -> SourceProfile;
    /// See [`TableQuery::supports_grouping`].
    fn dyn_supports_grouping(&self) -> bool;
    /// See [`TableQuery::supports_trend`].
    fn dyn_supports_trend(&self) -> bool;
}

impl<T: TableQuery> DynTableQuery for T {
    fn dyn_schema(&self) -> &Schema {
        self.schema()
    }

    fn dyn_fetch<'a>(&'a self, ctx: &'a FetchContext) -> BoxFuture<'a, Result<Fetched>> {
        Box::pin(self.fetch(ctx))
    }

    fn dyn_shared_refresh(&self) -> bool {
        self.shared_refresh()
    }

    fn dyn_profile(&self) -> SourceProfile {
        self.profile()
    }

    fn dyn_supports_grouping(&self) -> bool {
        self.supports_grouping()
    }

    fn dyn_supports_trend(&self) -> bool {
        self.supports_trend()
    }
}

/// A type-erased, shareable source.
pub type SharedQuery = Arc<dyn DynTableQuery>;

impl TableQuery for SharedQuery {
    fn schema(&self) -> &Schema {
        self.as_ref().dyn_schema()
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        self.as_ref().dyn_fetch(ctx).await
    }

    fn shared_refresh(&self) -> bool {
        self.as_ref().dyn_shared_refresh()
    }

    fn profile(&self) -> SourceProfile {
        self.as_ref().dyn_profile()
    }

    fn supports_grouping(&self) -> bool {
        self.as_ref().dyn_supports_grouping()
    }

    fn supports_trend(&self) -> bool {
        self.as_ref().dyn_supports_trend()
    }
}

impl fmt::Debug for dyn DynTableQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynTableQuery")
            .field("schema", self.dyn_schema())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, DataType, Value};

    struct Fixed(Schema);

    impl TableQuery for Fixed {
        fn schema(&self) -> &Schema {
            &self.0
        }
        async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
            Ok(Fetched::new(vec![Row::new(vec![Value::Timestamp(
                ctx.window.start,
            )])]))
        }
    }

    #[tokio::test]
    async fn shared_query_erases_the_type() {
        let schema = Schema::new(vec![Column::dimension("t", DataType::Timestamp)]).unwrap();
        let q: SharedQuery = Arc::new(Fixed(schema));
        let window = Window::ending_at(Utc::now(), Duration::from_secs(10)).unwrap();
        let got = q.fetch(&FetchContext::new(window)).await.unwrap();
        assert_eq!(got.rows[0][0], Value::Timestamp(window.start));
        assert_eq!(q.schema().len(), 1);
    }

    #[test]
    fn windows_must_not_be_empty() {
        let t = Utc::now();
        assert!(Window::new(t, t).is_err());
        assert!(Window::ending_at(t, Duration::ZERO).is_err());
        assert_eq!(
            Window::ending_at(t, Duration::from_secs(5))
                .unwrap()
                .length(),
            Duration::from_secs(5)
        );
    }
}
