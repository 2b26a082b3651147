//! [`Table`]: a named table definition and its views (viewer parameters → shared
//! [`LiveTable`]s).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::live_table::{LiveTable, RefreshConfig, ViewSpec};
use crate::aggregate::OrderBy;
use crate::error::{Error, ErrorKind, Result, one_of};
use crate::filter::Filter;
use crate::format::FormatRule;
use crate::query::{SharedQuery, TableQuery};
use crate::schema::Schema;

/// What a viewer asks for, before validation: another window and filters on dimensions.
///
/// ```
/// use livetable_core::{Filter, ViewParams};
/// let params = ViewParams::default()
///     .with_window_str("15m")?
///     .with_filter(Filter::eq("protocol", "TCP"));
/// assert_eq!(params.window, Some(std::time::Duration::from_secs(900)));
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ViewParams {
    /// A window length from the table's allowed list; the default window when absent.
    #[serde(
        default,
        with = "opt_humantime",
        skip_serializing_if = "Option::is_none"
    )]
    pub window: Option<Duration>,
    /// `eq` / `in` filters on dimension columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// Group by these dimensions only, in this order (a roll-up); every dimension
    /// when absent. Filters still apply to any dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    /// A metric whose value per time step each row carries (a [`Trend`](crate::Trend),
    /// for sparklines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<String>,
}

mod opt_humantime {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format_window(*d)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| super::parse_window(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Parses a window length such as `15m`, `1h`, `90s` or `1h 30m`.
pub(crate) fn parse_window(text: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        Error::invalid_parameter(format!(
            "`{text}` is not a window length ({e}); write it like 15m, 1h or 90s"
        ))
        .with_context("parameter", "window")
    })
}

/// Formats a window length the way [`parse_window`] reads it (`1h`, `15m`).
pub(crate) fn format_window(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

impl ViewParams {
    /// Parses a window length as viewers write it: `15m`, `1h`, `90s` or `1h 30m`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use livetable_core::ViewParams;
    /// assert_eq!(ViewParams::parse_window("1h 30m")?, Duration::from_secs(5400));
    /// assert_eq!(ViewParams::format_window(Duration::from_secs(900)), "15m");
    /// # Ok::<(), livetable_core::Error>(())
    /// ```
    pub fn parse_window(text: &str) -> Result<Duration> {
        parse_window(text)
    }

    /// Writes a window length the way [`parse_window`](Self::parse_window) reads it
    /// (`1h`, `15m`).
    pub fn format_window(window: Duration) -> String {
        format_window(window)
    }

    /// Sets the window.
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = Some(window);
        self
    }

    /// Sets the window from text such as `15m`.
    pub fn with_window_str(self, text: &str) -> Result<Self> {
        Ok(self.with_window(parse_window(text)?))
    }

    /// Adds a filter.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    /// Asks for each row's trend of `metric`.
    pub fn with_trend(mut self, metric: impl Into<String>) -> Self {
        self.trend = Some(metric.into());
        self
    }

    /// Groups by these dimensions only, in this order.
    pub fn with_group_by<S: Into<String>>(
        mut self,
        dimensions: impl IntoIterator<Item = S>,
    ) -> Self {
        self.group_by = Some(dimensions.into_iter().map(Into::into).collect());
        self
    }
}

/// A live view other than the default one, with who asked for it first.
struct Slot {
    live: LiveTable,
    /// The client charged for the view (`None`: the application itself, through
    /// [`Table::view`]).
    owner: Option<Arc<str>>,
    /// When it was last asked for, on the table's own counter: the least recently
    /// used unwatched view goes first.
    last_used: u64,
}

#[derive(Default)]
struct Views {
    /// The default view (default window, no filter): pinned, never evicted, never
    /// counted against a bound.
    default: Option<LiveTable>,
    others: HashMap<ViewSpec, Slot>,
    clock: u64,
}

/// The default window of a table whose source names none.
const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

/// The default bound on views besides the default view ([`TableBuilder::max_views`]).
pub const DEFAULT_MAX_VIEWS: usize = 16;
/// The default bound on views of a source whose views share one refresh.
pub const SHARED_REFRESH_MAX_VIEWS: usize = 64;

struct TableInner {
    name: String,
    title: String,
    query: SharedQuery,
    schema: Arc<Schema>,
    config: RefreshConfig,
    window: Duration,
    allowed_windows: Vec<Duration>,
    max_views: usize,
    max_views_per_client: usize,
    default_order: Vec<OrderBy>,
    format_rules: Vec<FormatRule>,
    views: Mutex<Views>,
}

/// A named table: a source, its refresh settings, the windows viewers may choose,
/// formatting rules, and its live views.
///
/// Viewers with the same normalised [`ViewParams`] share one [`LiveTable`], so the
/// store sees one query per tick per distinct view, however many people watch.
///
/// # Fair views
/// Views cost the store one query per tick each, so their number is bounded, and no
/// client can take the slots from the others:
/// - **The default view is pinned.** The default window with no filter is started
///   with the table (when built inside a tokio runtime; otherwise on first use), is
///   never evicted and never counts against a bound: it is always served.
/// - **At most [`max_views`](TableBuilder::max_views) other views** (default 16; 64
///   over a source whose views share one refresh, such as a
///   [`BucketCache`](crate::BucketCache), where a view costs an in-memory merge and no
///   store query).
/// - **Unwatched views go first.** When the bound is hit, the least recently used
///   view that no subscription watches (one that only answered plain GETs, or whose
///   viewers left) is dropped at once to make room — without waiting for it to go
///   idle. Its current users keep their handle; the next request for it starts it
///   again. Only when every view is watched is a new one refused
///   ([`ErrorKind::LimitExceeded`], a 429 over HTTP).
/// - **A per-client share.** Through [`view_for`](Table::view_for) (the HTTP adapter
///   passes the peer address), one client may hold at most
///   [`max_views_per_client`](TableBuilder::max_views_per_client) views (default 4)
///   that it started: past it, its own least recently used unwatched view makes room,
///   or it is refused — not the other clients. A flood of distinct filters from one
///   address therefore holds at most 4 slots and never denies the default view or a
///   new view to someone else. Views started by the application itself through
///   [`view`](Table::view) are charged to no client.
///
/// ```
/// use std::time::Duration;
/// use livetable_core::{Aggregate, DataType, Filter, MemorySource, Metric, Table, ViewParams};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> livetable_core::Result<()> {
/// let spec = Aggregate::builder()
///     .time_column("ts").window(Duration::from_secs(3600))
///     .dimension("protocol", DataType::Text)
///     .metric(Metric::count("count"))
///     .build()?;
/// let source = MemorySource::builder(spec).retention(Duration::from_secs(6 * 3600)).build()?;
/// let table = Table::builder("packets", source)
///     .allowed_windows([Duration::from_secs(900), Duration::from_secs(6 * 3600)])
///     .build()?;
/// let tcp = ViewParams::default().with_filter(Filter::eq("protocol", "TCP"));
/// let a = table.view(&tcp)?;
/// let b = table.view(&tcp)?;
/// assert_eq!(table.view_count(), 1); // shared (the pinned default view is not counted)
/// let err = table.view(&ViewParams::default().with_window_str("2h")?).unwrap_err();
/// assert!(err.message().contains("allowed: 15m, 1h, 6h"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Table {
    inner: Arc<TableInner>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("name", &self.inner.name)
            .field("views", &self.view_count())
            .finish_non_exhaustive()
    }
}

/// Configures a [`Table`].
#[derive(Debug)]
pub struct TableBuilder {
    name: String,
    title: Option<String>,
    query: SharedQuery,
    config: RefreshConfig,
    window: Option<Duration>,
    allowed_windows: Vec<Duration>,
    max_views: Option<usize>,
    max_views_per_client: usize,
    default_order: Option<Vec<OrderBy>>,
    format_rules: Vec<FormatRule>,
}

impl TableBuilder {
    /// A human title (the name when absent).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The refresh settings of every view.
    pub fn refresh(mut self, config: RefreshConfig) -> Self {
        self.config = config;
        self
    }

    /// Time between refreshes (default 6 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.config.interval = interval;
        self
    }

    /// The default window (default: the source's, see
    /// [`SourceProfile`](crate::SourceProfile); else 1 h).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = Some(window);
        self
    }

    /// Other windows viewers may ask for (the default is always allowed).
    pub fn allowed_windows(mut self, windows: impl IntoIterator<Item = Duration>) -> Self {
        self.allowed_windows.extend(windows);
        self
    }

    /// The most live views at once besides the pinned default view (default 16, or
    /// [`SHARED_REFRESH_MAX_VIEWS`] for a source whose views share one refresh, see
    /// [`TableQuery::shared_refresh`]). See [Fair views](Table#fair-views).
    pub fn max_views(mut self, n: usize) -> Self {
        self.max_views = Some(n);
        self
    }

    /// The most views one client may have started and still hold, through
    /// [`Table::view_for`] (default 4, and never more than `max_views`). See
    /// [Fair views](Table#fair-views).
    pub fn max_views_per_client(mut self, n: usize) -> Self {
        self.max_views_per_client = n;
        self
    }

    /// The rows' default order, shown to viewers (default: the source's, such as an
    /// [`Aggregate`](crate::Aggregate)'s `order_by`; see [`SourceProfile`](crate::SourceProfile)).
    pub fn default_order(mut self, order: impl IntoIterator<Item = OrderBy>) -> Self {
        self.default_order = Some(order.into_iter().collect());
        self
    }

    /// Adds a conditional formatting rule.
    pub fn format_rule(mut self, rule: FormatRule) -> Self {
        self.format_rules.push(rule);
        self
    }

    /// Validates the definition. Views start on demand, inside a tokio runtime.
    pub fn build(self) -> Result<Table> {
        let ctx = |e: Error| e.with_context("table", &self.name);
        // Any readable name: an adapter encodes it where it goes (livetable-http
        // percent-encodes it in URLs); control characters would garble logs.
        if self.name.is_empty() || self.name.chars().any(char::is_control) {
            return Err(Error::invalid_spec(format!(
                "table name {:?} must be non-empty and free of control characters",
                self.name
            )));
        }
        self.config.validate().map_err(ctx)?;
        // A view of a shared-refresh source costs a merge in memory, not a store query.
        let max_views = self
            .max_views
            .unwrap_or(if self.query.dyn_shared_refresh() {
                SHARED_REFRESH_MAX_VIEWS
            } else {
                DEFAULT_MAX_VIEWS
            });
        if max_views == 0 {
            return Err(ctx(Error::invalid_spec("max_views must be at least 1")));
        }
        if self.max_views_per_client == 0 {
            return Err(ctx(Error::invalid_spec(
                "max_views_per_client must be at least 1",
            )));
        }
        let profile = self.query.dyn_profile();
        let window = self.window.or(profile.window).unwrap_or(DEFAULT_WINDOW);
        let default_order = self.default_order.unwrap_or(profile.order);
        let mut windows = vec![window];
        windows.extend(self.allowed_windows.iter().copied());
        if windows.iter().any(|w| w.is_zero()) {
            return Err(ctx(Error::invalid_spec(
                "a window is zero; windows must be positive",
            )));
        }
        windows.sort();
        windows.dedup();
        if let (Some(longest), Some(&widest)) = (profile.longest_window, windows.last())
            && widest > longest
        {
            return Err(ctx(Error::invalid_spec(format!(
                "the window {} is longer than the {} its source keeps, so its rows would \
                 silently cover less; raise the source's retention or offer shorter windows",
                format_window(widest),
                format_window(longest)
            ))));
        }
        let schema = Arc::new(self.query.dyn_schema().clone());
        for o in &default_order {
            schema.require(&o.column).map_err(|e| {
                ctx(Error::invalid_spec(format!(
                    "default order: {}",
                    e.message()
                )))
            })?;
        }
        let format_rules = self
            .format_rules
            .into_iter()
            .map(|r| r.validate(&schema))
            .collect::<Result<Vec<_>>>()
            .map_err(ctx)?;
        let table = Table {
            inner: Arc::new(TableInner {
                title: self.title.unwrap_or_else(|| self.name.clone()),
                name: self.name,
                query: self.query,
                schema,
                config: self.config,
                window,
                allowed_windows: windows,
                max_views,
                max_views_per_client: self.max_views_per_client.min(max_views),
                default_order,
                format_rules,
                views: Mutex::new(Views::default()),
            }),
        };
        // The default view exists from the start when there is a runtime to run it;
        // otherwise it starts on first use.
        if tokio::runtime::Handle::try_current().is_ok() {
            table.default_view()?;
        }
        Ok(table)
    }
}

impl Table {
    /// A builder for a table named `name` (any non-empty text without control
    /// characters; unique in a [`Catalog`](crate::Catalog)) over `query`.
    pub fn builder(name: impl Into<String>, query: impl TableQuery) -> TableBuilder {
        Self::builder_shared(name, Arc::new(query))
    }

    /// Like [`builder`](Table::builder) for an already shared source.
    pub fn builder_shared(name: impl Into<String>, query: SharedQuery) -> TableBuilder {
        TableBuilder {
            name: name.into(),
            title: None,
            query,
            config: RefreshConfig::default(),
            window: None,
            allowed_windows: Vec::new(),
            max_views: None,
            max_views_per_client: 4,
            default_order: None,
            format_rules: Vec::new(),
        }
    }

    /// The name the catalog (and an adapter's URLs) know the table by.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The columns of every view's rows: the source's schema with the table's labels.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.inner.schema
    }

    /// The conditional formatting rules.
    pub fn format_rules(&self) -> &[FormatRule] {
        &self.inner.format_rules
    }

    /// The title shown to viewers (the name unless set).
    pub fn title(&self) -> &str {
        &self.inner.title
    }

    /// The default window: the one a viewer gets without asking.
    pub fn window(&self) -> Duration {
        self.inner.window
    }

    /// Every window a viewer may ask for, the default included, shortest first.
    pub fn allowed_windows(&self) -> &[Duration] {
        &self.inner.allowed_windows
    }

    /// The time between two refreshes of each view.
    pub fn interval(&self) -> Duration {
        self.inner.config.interval
    }

    /// The rows' default order, for viewers to sort by.
    pub fn default_order(&self) -> &[OrderBy] {
        &self.inner.default_order
    }

    /// Whether viewers may ask for each row's trend (see
    /// [`TableQuery::supports_trend`](crate::TableQuery::supports_trend)).
    pub fn supports_trend(&self) -> bool {
        self.inner.query.dyn_supports_trend()
    }

    /// Whether viewers may group by fewer dimensions (see
    /// [`TableQuery::supports_grouping`](crate::TableQuery::supports_grouping)).
    pub fn supports_grouping(&self) -> bool {
        self.inner.query.dyn_supports_grouping()
    }

    /// Validates and normalises viewer parameters: the window must be allowed, filters
    /// must be `eq`/`in` on dimension columns with values of the column's type, one
    /// filter per column. Equal requests normalise to equal specs.
    pub fn normalise(&self, params: &ViewParams) -> Result<ViewSpec> {
        let t = &self.inner;
        let ctx = |e: Error| e.with_context("table", &t.name);
        let window = params.window.unwrap_or(t.window);
        if !t.allowed_windows.contains(&window) {
            let allowed: Vec<String> = t
                .allowed_windows
                .iter()
                .map(|w| format_window(*w))
                .collect();
            return Err(ctx(Error::invalid_parameter(format!(
                "window {} is not allowed; allowed: {}",
                format_window(window),
                allowed.join(", ")
            ))
            .with_context("parameter", "window")));
        }
        let mut filters = Vec::with_capacity(params.filters.len());
        for f in &params.filters {
            let column = f.column();
            let Some(col) = t.schema.column(column).filter(|c| c.is_dimension()) else {
                return Err(ctx(Error::invalid_parameter(format!(
                    "cannot filter on `{column}`: viewers filter on dimensions; {}",
                    one_of(t.schema.dimensions().map(|c| c.name.as_str()))
                ))
                .with_context("column", column)));
            };
            if matches!(f, Filter::Range { .. }) {
                return Err(ctx(Error::invalid_parameter(format!(
                    "filter on `{column}`: viewers may use `eq` and `in`, not `range`"
                ))
                .with_context("column", column)));
            }
            if params
                .filters
                .iter()
                .filter(|g| g.column() == column)
                .count()
                > 1
            {
                return Err(ctx(Error::invalid_parameter(format!(
                    "`{column}` is filtered twice; give one `eq` or one `in` per column"
                ))
                .with_context("column", column)));
            }
            let f = match f.clone().normalised(col.data_type).map_err(ctx)? {
                // `in` with one value is `eq`: the same view.
                Filter::In { column, mut values } if values.len() == 1 => Filter::Eq {
                    column,
                    value: values.remove(0),
                },
                f => f,
            };
            filters.push(f);
        }
        filters.sort_by(|a, b| a.column().cmp(b.column()));
        let mut spec = ViewSpec::new(window);
        spec.filters = filters;
        spec.group_by = match &params.group_by {
            Some(names) => self.grouping(names).map_err(ctx)?,
            None => None,
        };
        spec.trend = match &params.trend {
            Some(metric) => Some(self.trend_metric(metric).map_err(ctx)?),
            None => None,
        };
        Ok(spec)
    }

    /// Checks a viewer's trend: a metric column, of a source that keeps time steps.
    fn trend_metric(&self, metric: &str) -> Result<String> {
        let schema = &self.inner.schema;
        let invalid =
            |message: String| Error::invalid_parameter(message).with_context("parameter", "trend");
        if !self.inner.query.dyn_supports_trend() {
            return Err(invalid(
                "this table's source keeps no time steps, so it has no per-row trend; ask \
                 without `trend`"
                    .to_owned(),
            ));
        }
        match schema.column(metric) {
            Some(c) if !c.is_dimension() => Ok(metric.to_owned()),
            _ => Err(invalid(format!(
                "cannot show the trend of `{metric}`: not a metric; {}",
                one_of(
                    schema
                        .columns()
                        .iter()
                        .filter(|c| !c.is_dimension())
                        .map(|c| c.name.as_str())
                )
            ))),
        }
    }

    /// The positions of a viewer's grouping, or `None` for every dimension in schema
    /// order (the table's own grouping: the same view as no grouping).
    fn grouping(&self, names: &[String]) -> Result<Option<Vec<usize>>> {
        let schema = &self.inner.schema;
        let dimensions = || one_of(schema.dimensions().map(|c| c.name.as_str()));
        let invalid = |message: String| {
            Error::invalid_parameter(message).with_context("parameter", "group_by")
        };
        if !self.inner.query.dyn_supports_grouping() {
            return Err(invalid(
                "this table's source cannot group its rows another way; ask without \
                 `group_by` (the source must compute each grouping itself: rolling up \
                 its top rows would show wrong totals)"
                    .to_owned(),
            ));
        }
        if names.is_empty() {
            return Err(invalid(format!(
                "`group_by` needs at least one dimension; {}",
                dimensions()
            )));
        }
        let mut positions = Vec::with_capacity(names.len());
        for name in names {
            let Some(p) = schema
                .index_of(name)
                .filter(|&p| schema.columns()[p].is_dimension())
            else {
                return Err(invalid(format!(
                    "cannot group by `{name}`: not a dimension; {}",
                    dimensions()
                )));
            };
            if positions.contains(&p) {
                return Err(invalid(format!("`{name}` is in `group_by` twice")));
            }
            positions.push(p);
        }
        Ok((positions != schema.key_indices()).then_some(positions))
    }

    /// The live table for these viewer parameters: shared with every viewer whose
    /// parameters normalise the same, started on first use. Must be called inside a
    /// tokio runtime. Views started here are charged to no client (the application
    /// asks); see [`view_for`](Table::view_for) for requests on behalf of a client.
    pub fn view(&self, params: &ViewParams) -> Result<LiveTable> {
        self.view_inner(params, None)
    }

    /// Like [`view`](Table::view), on behalf of `client` (a key such as the peer's IP
    /// address): a view it starts counts against its share,
    /// [`max_views_per_client`](TableBuilder::max_views_per_client). Joining a view
    /// that already exists, and the default view, are always allowed.
    pub fn view_for(&self, params: &ViewParams, client: &str) -> Result<LiveTable> {
        self.view_inner(params, Some(client))
    }

    fn view_inner(&self, params: &ViewParams, client: Option<&str>) -> Result<LiveTable> {
        let spec = self.normalise(params)?;
        let t = &self.inner;
        let mut views = t.views.lock().unwrap_or_else(|e| e.into_inner());
        if spec == ViewSpec::new(t.window) {
            if let Some(live) = &views.default {
                return Ok(live.clone());
            }
            let live = self.start(spec)?;
            views.default = Some(live.clone());
            return Ok(live);
        }
        views.clock += 1;
        let now = views.clock;
        if let Some(slot) = views.others.get_mut(&spec) {
            slot.last_used = now;
            return Ok(slot.live.clone());
        }
        let limit = |message: String| {
            Error::new(ErrorKind::LimitExceeded, message).with_context("table", &t.name)
        };
        if let Some(client) = client {
            let owned = views
                .others
                .values()
                .filter(|s| s.owner.as_deref() == Some(client))
                .count();
            if owned >= t.max_views_per_client
                && !views.evict_unwatched(|s| s.owner.as_deref() == Some(client))
            {
                return Err(limit(format!(
                    "you hold {owned} live views of this table, the most one client may \
                     start; close a stream you no longer watch, or use an existing window \
                     and filter (the default view is always available)"
                )));
            }
        }
        if views.others.len() >= t.max_views && !views.evict_unwatched(|_| true) {
            return Err(limit(format!(
                "table has {} live views, all watched, the most allowed; use an existing \
                 window and filter (the default view is always available), or try again \
                 when a viewer leaves",
                t.max_views
            )));
        }
        let live = self.start(spec.clone())?;
        views.others.insert(
            spec,
            Slot {
                live: live.clone(),
                owner: client.map(Arc::from),
                last_used: now,
            },
        );
        Ok(live)
    }

    fn start(&self, spec: ViewSpec) -> Result<LiveTable> {
        let t = &self.inner;
        LiveTable::builder_shared(&t.name, t.query.clone())
            .config(t.config.clone())
            .view(spec)
            .start()
            .map_err(|e| e.with_context("table", &t.name))
    }

    /// The default view (default window, no filter).
    pub fn default_view(&self) -> Result<LiveTable> {
        self.view(&ViewParams::default())
    }

    /// How many views are live besides the pinned default view.
    pub fn view_count(&self) -> usize {
        self.inner.views.lock().map(|v| v.others.len()).unwrap_or(0)
    }
}

impl Views {
    /// Drops the least recently used view that nobody subscribes to among those
    /// `eligible`; whether one was dropped.
    fn evict_unwatched(&mut self, eligible: impl Fn(&Slot) -> bool) -> bool {
        let victim = self
            .others
            .iter()
            .filter(|(_, s)| eligible(s) && s.live.stats().subscribers == 0)
            .min_by_key(|(_, s)| s.last_used)
            .map(|(spec, _)| spec.clone());
        match victim {
            Some(spec) => {
                self.others.remove(&spec);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{FetchContext, Fetched};
    use crate::schema::Column;
    use crate::value::DataType;

    struct Empty(Schema);

    impl TableQuery for Empty {
        fn schema(&self) -> &Schema {
            &self.0
        }
        async fn fetch(&self, _: &FetchContext) -> Result<Fetched> {
            Ok(Fetched::default())
        }
    }

    fn table() -> Table {
        let schema = Schema::new(vec![
            Column::dimension("protocol", DataType::Text),
            Column::metric("n", DataType::Int),
        ])
        .unwrap();
        Table::builder("packets", Empty(schema))
            .allowed_windows([Duration::from_secs(300)])
            .build()
            .unwrap()
    }

    fn filter(i: usize) -> ViewParams {
        ViewParams::default().with_filter(Filter::eq("protocol", format!("z{i}")))
    }

    #[tokio::test(start_paused = true)]
    async fn the_default_view_exists_from_the_start_and_is_always_served() {
        let t = table();
        let pinned = t.inner.views.lock().unwrap().default.clone();
        let pinned = pinned.expect("the default view is started with the table");
        // Sixteen watched views, from sixteen clients, fill every slot.
        let mut held = Vec::new();
        for i in 0..16 {
            let live = t.view_for(&filter(i), &format!("10.0.0.{i}")).unwrap();
            held.push(live.subscribe());
        }
        let err = t.view_for(&filter(99), "10.0.1.1").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
        assert!(
            err.message().contains("default view is always available"),
            "{err}"
        );
        // The default view is still served, to anyone, and is the pinned one.
        for who in ["10.0.0.1", "10.0.1.1"] {
            let d = t.view_for(&ViewParams::default(), who).unwrap();
            assert_eq!(d.instance_id(), pinned.instance_id());
        }
        let explicit = ViewParams::default().with_window(Duration::from_secs(3600));
        assert_eq!(
            t.view(&explicit).unwrap().instance_id(),
            pinned.instance_id()
        );
        assert_eq!(t.view_count(), 16);
    }

    #[tokio::test(start_paused = true)]
    async fn one_client_flooding_filters_never_denies_another() {
        let t = table();
        let mut held = Vec::new();
        let mut refused = 0;
        for i in 0..16 {
            match t.view_for(&filter(i), "203.0.113.7") {
                Ok(live) => held.push(live.subscribe()),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
                    assert!(e.message().contains("one client"), "{e}");
                    refused += 1;
                }
            }
        }
        assert_eq!(held.len(), 4, "the flooding client holds its share only");
        assert_eq!(refused, 12);
        // Another client still gets new views, and the default one.
        let other = t
            .view_for(
                &ViewParams::default().with_window(Duration::from_secs(300)),
                "198.51.100.2",
            )
            .unwrap();
        let _w = other.subscribe();
        t.view_for(&filter(1000), "198.51.100.2").unwrap();
        t.view_for(&ViewParams::default(), "198.51.100.2").unwrap();
        // Joining a view the flooder started is free for anyone.
        t.view_for(&filter(0), "198.51.100.3").unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn unwatched_views_go_first_without_waiting_for_idle() {
        let t = table();
        // Plain GETs (no subscription) from many clients fill the slots ...
        for i in 0..16 {
            t.view_for(&filter(i), &format!("10.0.0.{i}")).unwrap();
        }
        // ... and one watched view replaces one of them at once, least recent first.
        t.view_for(&filter(0), "10.0.0.0").unwrap(); // z0 used again
        let watched = t.view_for(&filter(100), "10.0.9.9").unwrap();
        let _sub = watched.subscribe();
        let specs = |t: &Table| {
            let views = t.inner.views.lock().unwrap();
            let mut v: Vec<String> = views
                .others
                .keys()
                .map(|s| format!("{:?}", s.filters))
                .collect();
            v.sort();
            v
        };
        let now = specs(&t);
        assert_eq!(now.len(), 16);
        assert!(now.iter().any(|s| s.contains("\"z0\"")), "z0 was used last");
        assert!(
            !now.iter().any(|s| s.contains("\"z1\"")),
            "z1 was the least recent"
        );
        assert!(now.iter().any(|s| s.contains("\"z100\"")));
        // A client at its share makes room among its own unwatched views.
        for i in 200..210 {
            t.view_for(&filter(i), "192.0.2.1").unwrap();
        }
        let own = t
            .inner
            .views
            .lock()
            .unwrap()
            .others
            .values()
            .filter(|s| s.owner.as_deref() == Some("192.0.2.1"))
            .count();
        assert_eq!(own, 4);
        // The watched view survived every eviction.
        assert!(specs(&t).iter().any(|s| s.contains("\"z100\"")));
    }

    #[test]
    fn a_table_built_outside_a_runtime_starts_its_default_view_on_first_use() {
        let t = table();
        assert!(t.inner.views.lock().unwrap().default.is_none());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            t.default_view().unwrap();
        });
        assert!(t.inner.views.lock().unwrap().default.is_some());
    }
}
