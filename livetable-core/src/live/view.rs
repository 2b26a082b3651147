//! [`Table`]: a named table definition and its views (viewer parameters → shared
//! [`LiveTable`]s).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::table::{LiveTable, RefreshConfig, ViewSpec};
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
pub fn parse_window(text: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        Error::invalid_parameter(format!(
            "`{text}` is not a window length ({e}); write it like 15m, 1h or 90s"
        ))
        .with_context("parameter", "window")
    })
}

/// Formats a window length the way [`parse_window`] reads it (`1h`, `15m`).
pub fn format_window(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

impl ViewParams {
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
}

/// The public description of a table, as the HTTP adapter lists it.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct TableInfo {
    /// The name (URL-safe).
    pub name: String,
    /// A human title.
    pub title: String,
    /// The columns.
    pub schema: Arc<Schema>,
    /// The default window, as text (`1h`).
    pub window: String,
    /// The windows a viewer may ask for, as text.
    pub allowed_windows: Vec<String>,
    /// Seconds between refreshes.
    pub interval_secs: f64,
    /// The rows' default order.
    pub default_order: Vec<OrderBy>,
    /// Conditional formatting rules.
    pub format_rules: Vec<FormatRule>,
}

struct TableInner {
    name: String,
    title: String,
    query: SharedQuery,
    schema: Arc<Schema>,
    config: RefreshConfig,
    window: Duration,
    allowed_windows: Vec<Duration>,
    max_views: usize,
    default_order: Vec<OrderBy>,
    format_rules: Vec<FormatRule>,
    views: Mutex<HashMap<ViewSpec, LiveTable>>,
}

/// A named table: a source, its refresh settings, the windows viewers may choose,
/// formatting rules, and its live views.
///
/// Viewers with the same normalised [`ViewParams`] share one [`LiveTable`], so the
/// store sees one query per tick per distinct view, however many people watch. The
/// number of live views is bounded; idle ones are dropped first when the bound is hit.
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
/// assert_eq!(table.view_count(), 1); // shared
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
    window: Duration,
    allowed_windows: Vec<Duration>,
    max_views: usize,
    default_order: Vec<OrderBy>,
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

    /// The default window (default 1 h).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Other windows viewers may ask for (the default is always allowed).
    pub fn allowed_windows(mut self, windows: impl IntoIterator<Item = Duration>) -> Self {
        self.allowed_windows.extend(windows);
        self
    }

    /// The most live views at once (default 16).
    pub fn max_views(mut self, n: usize) -> Self {
        self.max_views = n;
        self
    }

    /// The rows' default order, shown to viewers (use the spec's order for an
    /// [`Aggregate`](crate::Aggregate) source).
    pub fn default_order(mut self, order: impl IntoIterator<Item = OrderBy>) -> Self {
        self.default_order = order.into_iter().collect();
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
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::invalid_spec(format!(
                "table name `{}` must be non-empty and use only letters, digits, `-` and `_` \
                 (it appears in URLs)",
                self.name
            )));
        }
        self.config.validate().map_err(ctx)?;
        if self.max_views == 0 {
            return Err(ctx(Error::invalid_spec("max_views must be at least 1")));
        }
        let mut windows = vec![self.window];
        windows.extend(self.allowed_windows.iter().copied());
        if windows.iter().any(|w| w.is_zero()) {
            return Err(ctx(Error::invalid_spec(
                "a window is zero; windows must be positive",
            )));
        }
        windows.sort();
        windows.dedup();
        let schema = Arc::new(self.query.dyn_schema().clone());
        for o in &self.default_order {
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
        Ok(Table {
            inner: Arc::new(TableInner {
                title: self.title.unwrap_or_else(|| self.name.clone()),
                name: self.name,
                query: self.query,
                schema,
                config: self.config,
                window: self.window,
                allowed_windows: windows,
                max_views: self.max_views,
                default_order: self.default_order,
                format_rules,
                views: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl Table {
    /// A builder for a table named `name` (letters, digits, `-`, `_`) over `query`.
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
            window: Duration::from_secs(3600),
            allowed_windows: Vec::new(),
            max_views: 16,
            default_order: Vec::new(),
            format_rules: Vec::new(),
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The schema of the rows.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.inner.schema
    }

    /// The conditional formatting rules.
    pub fn format_rules(&self) -> &[FormatRule] {
        &self.inner.format_rules
    }

    /// The public description.
    pub fn info(&self) -> TableInfo {
        let t = &self.inner;
        TableInfo {
            name: t.name.clone(),
            title: t.title.clone(),
            schema: t.schema.clone(),
            window: format_window(t.window),
            allowed_windows: t
                .allowed_windows
                .iter()
                .map(|w| format_window(*w))
                .collect(),
            interval_secs: t.config.interval.as_secs_f64(),
            default_order: t.default_order.clone(),
            format_rules: t.format_rules.clone(),
        }
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
        Ok(spec)
    }

    /// The live table for these viewer parameters: shared with every viewer whose
    /// parameters normalise the same, started on first use. Must be called inside a
    /// tokio runtime.
    pub fn view(&self, params: &ViewParams) -> Result<LiveTable> {
        let spec = self.normalise(params)?;
        let t = &self.inner;
        let mut views = t.views.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(live) = views.get(&spec) {
            return Ok(live.clone());
        }
        if views.len() >= t.max_views {
            // Make room: drop views nobody watches and that stopped refreshing.
            views.retain(|_, live| {
                let s = live.stats();
                s.subscribers > 0 || !s.idle
            });
        }
        if views.len() >= t.max_views {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "table has {} live views, the most allowed; use an existing window and \
                     filter, or try again when a view goes idle",
                    t.max_views
                ),
            )
            .with_context("table", &t.name));
        }
        let live = LiveTable::builder_shared(&t.name, t.query.clone())
            .config(t.config.clone())
            .view(spec.clone())
            .start()
            .map_err(|e| e.with_context("table", &t.name))?;
        views.insert(spec, live.clone());
        Ok(live)
    }

    /// The default view (default window, no filter).
    pub fn default_view(&self) -> Result<LiveTable> {
        self.view(&ViewParams::default())
    }

    /// How many views are live.
    pub fn view_count(&self) -> usize {
        self.inner.views.lock().map(|v| v.len()).unwrap_or(0)
    }
}
