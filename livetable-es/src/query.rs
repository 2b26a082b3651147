//! The sources: [`EsAggregate`] (composite, exact), [`EsTopN`] (top-N, approximate)
//! and [`EsSql`] (your own SQL).

use std::sync::Arc;
use std::time::Duration;

use livetable_core::{
    Aggregate, BucketQuery, BucketRequest, BucketRow, Error, ErrorKind, FetchContext, Fetched,
    Result, Row, Schema, SourceProfile, TableQuery,
};

use crate::buckets::BucketFetch;
use crate::client::EsClient;
use crate::config::SqlDialect;
use crate::error::with_context;
use crate::fetch::{CompositeFetch, Paged};
use crate::plan::{Mode, Plan, Plans};
use crate::request::{filters, multi_terms, sql as sql_req};
use crate::response::{search, sql as sql_resp};

/// An exact source for an [`Aggregate`]: a `composite` aggregation with one `terms`
/// source per dimension (`missing_bucket` on, so a missing value is its own group),
/// metric sub-aggregations, the window and filters in `bool.filter`, paged by
/// `after_key` until every group is read.
///
/// - `count` is the bucket's `doc_count`; `sum`/`avg`/`min`/`max` are the matching
///   aggregations (a `value_count` beside each `sum` tells "no value" — `Null` — from
///   a sum of 0); `count_distinct` is `cardinality`, an estimate above 3,000 distinct
///   values, so a spec with one flags its tables approximate.
/// - Sums of integer fields come back as doubles and are exact up to 2^53.
/// - Ordering and the limit are applied after all pages are merged, with the same
///   tie-break as every backend. More groups than `max_groups` fail with
///   [`ErrorKind::LimitExceeded`], never a truncated table.
/// - A search that timed out or lost shards still answers HTTP 200: the table is then
///   flagged partial, with the reason.
///
/// Dimensions must be aggregatable fields (`keyword`, `ip`, numbers, `date`,
/// `boolean`; not `text`), and `Eq`/`In` filters are `term`/`terms` queries, exact on
/// such fields.
///
/// It groups ([`supports_grouping`](TableQuery::supports_grouping)): a fetch with
/// [`FetchContext::group_by`] runs the composite aggregation of
/// [`Aggregate::grouped`] — only the kept dimensions' sources, in the order asked for,
/// viewer filters on every dimension still in the query — planned once per grouping
/// and kept.
///
/// It is also a [`BucketQuery`]: the partials of every (time bucket, group), so that a
/// bucket cache can keep the retention in memory and re-read only the tail each tick
/// (see [`BucketFetch`] for the request). Bucket fetches are all or nothing: failed
/// shards or a timed-out search are a retryable error there, not a flagged result, and
/// more (bucket, group) pairs than `max_bucket_rows` is [`ErrorKind::LimitExceeded`].
/// `count_distinct` cannot be merged from buckets and is refused
/// ([`ErrorKind::Unsupported`]); such a table keeps the direct mode.
///
/// ```no_run
/// use std::time::Duration;
/// use livetable_core::{Aggregate, BucketQuery, BucketRequest, DataType, Metric, Window};
/// use livetable_es::EsBuilder;
///
/// # async fn run() -> livetable_core::Result<()> {
/// let spec = Aggregate::builder()
///     .time_column("ts")
///     .window(Duration::from_secs(3600))
///     .dimension("protocol", DataType::Text)
///     .field("size", DataType::Int)
///     .metric(Metric::count("count"))
///     .metric(Metric::avg("avg_size", "size"))
///     .build()?;
/// let source = EsBuilder::new("http://localhost:9200").index("packets-*").build()?.aggregate(spec)?;
/// // The last five minutes, in 10-second buckets (the range starts on a bucket edge).
/// let end = chrono::Utc::now();
/// let start = chrono::DateTime::from_timestamp(end.timestamp() / 10 * 10 - 300, 0).unwrap();
/// let request = BucketRequest::new(Window::new(start, end)?, Duration::from_secs(10));
/// for row in source.fetch_buckets(&request).await? {
///     println!("{} {:?}: {} events, {:?}", row.start, row.key, row.events, row.partials);
/// }
/// assert_eq!(source.default_settle(), Duration::from_secs(30));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct EsAggregate {
    client: EsClient,
    plans: Arc<Plans>,
    /// The same spec with per-bucket partials (`avg` as `sum` + `value_count`).
    bucket_plan: Arc<Plan>,
}

impl EsAggregate {
    pub(crate) fn new(client: EsClient, spec: Aggregate) -> Result<Self> {
        Ok(EsAggregate {
            client,
            bucket_plan: Arc::new(Plan::new(spec.clone(), Mode::Buckets)),
            plans: Arc::new(Plans::new(spec)),
        })
    }

    /// The aggregate this source translates into composite aggregations.
    pub fn spec(&self) -> &Aggregate {
        &self.plans.plan().spec
    }

    /// Starts a fetch without sending anything (see [`sans_io`](crate::sans_io)),
    /// grouped as `ctx` says.
    pub fn start(&self, ctx: &FetchContext) -> Result<CompositeFetch> {
        let config = self.client.config();
        let plan = self
            .plans
            .grouped(ctx.group_by.as_deref())
            .map_err(|e| with_context(e, &config.index))?;
        CompositeFetch::new(plan, ctx, config.page_size, config.max_groups)
            .map_err(|e| with_context(e, &config.index))
    }

    /// Starts a bucket fetch without sending anything (see [`BucketFetch`]). Fails when
    /// the spec has a `count_distinct` metric ([`ErrorKind::Unsupported`]), when the
    /// width is not a positive whole number of milliseconds, or when the range does not
    /// start on a bucket boundary ([`ErrorKind::InvalidParameter`]).
    pub fn start_buckets(&self, request: &BucketRequest) -> Result<BucketFetch<'_>> {
        let config = self.client.config();
        BucketFetch::new(
            &self.bucket_plan,
            request,
            config.page_size,
            config.max_bucket_rows,
        )
        .map_err(|e| with_context(e, &config.index))
    }

    /// Sends the pages of `fetch` one after the other until it has read the last; the
    /// first error ends it.
    async fn run(&self, fetch: &mut impl Paged) -> Result<()> {
        let index = &self.client.config().index;
        let path = search_path(&self.client);
        while let Some(body) = fetch.next_request() {
            let answer = self.client.post(&path, &[], body).await?;
            fetch.accept(&answer).map_err(|e| with_context(e, index))?;
        }
        Ok(())
    }
}

fn search_path(client: &EsClient) -> String {
    format!("/{}/_search", client.config().index)
}

impl TableQuery for EsAggregate {
    fn schema(&self) -> &Schema {
        self.spec().schema()
    }

    fn profile(&self) -> SourceProfile {
        SourceProfile::of_aggregate(self.spec())
    }

    fn supports_grouping(&self) -> bool {
        true
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let mut fetch = self.start(ctx)?;
        self.run(&mut fetch).await?;
        tracing::debug!(pages = fetch.pages(), "composite fetch done");
        fetch
            .finish()
            .map_err(|e| with_context(e, &self.client.config().index))
    }
}

impl BucketQuery for EsAggregate {
    fn spec(&self) -> &Aggregate {
        EsAggregate::spec(self)
    }

    async fn fetch_buckets(&self, request: &BucketRequest) -> Result<Vec<BucketRow>> {
        let mut fetch = self.start_buckets(request)?;
        self.run(&mut fetch).await?;
        tracing::debug!(pages = fetch.pages(), "bucket fetch done");
        fetch
            .finish()
            .map_err(|e| with_context(e, &self.client.config().index))
    }

    /// 30 s. Elasticsearch makes a document searchable only after the next refresh of
    /// its shard: every second by default (`index.refresh_interval`), but only for
    /// shards searched in the last 30 s (`index.search.idle.after`), often 30 s or more
    /// on ingest-heavy clusters that raise the interval, and a bulk indexer adds its own
    /// flush delay. A document indexed in time but made visible late lands in a bucket
    /// already read; re-reading the last 30 s on every tick picks it up. Lower it with
    /// the cache's settle setting when your refresh interval is short and ingestion
    /// immediate; a document later than the settle appears at the next reconcile.
    fn default_settle(&self) -> Duration {
        Duration::from_secs(30)
    }
}

/// An approximate source for the top rows of an [`Aggregate`] by a metric, for very
/// high cardinality where only the top matters: one `terms` (one dimension) or
/// `multi_terms` (several, Elasticsearch ≥ 8.1 / OpenSearch ≥ 2.1) aggregation ordered
/// by the spec's leading metric keys, `size` = the spec's limit.
///
/// Each shard sends its own top buckets, so counts and membership are estimates: every
/// table is flagged approximate. Unlike [`EsAggregate`], events missing a dimension are
/// left out (the aggregation drops them). The spec needs a limit and an order whose
/// first key is a metric.
///
/// It groups ([`supports_grouping`](TableQuery::supports_grouping)): a fetch with
/// [`FetchContext::group_by`] asks for the top rows of [`Aggregate::grouped`] — a
/// `terms` or `multi_terms` over the kept dimensions only, viewer filters on every
/// dimension still in the query — so Elasticsearch ranks the grouped rows itself
/// (estimates as before, never a roll-up of the ungrouped top rows).
#[derive(Clone, Debug)]
pub struct EsTopN {
    client: EsClient,
    plans: Arc<Plans>,
    size: usize,
}

impl EsTopN {
    pub(crate) fn new(client: EsClient, spec: Aggregate) -> Result<Self> {
        let index = client.config().index.clone();
        let Some(size) = spec.limit() else {
            return Err(with_context(
                Error::invalid_spec("top-N mode needs a limit (the N); set one on the spec"),
                &index,
            ));
        };
        if size > client.config().max_groups {
            return Err(with_context(
                Error::invalid_spec(format!(
                    "the limit {size} is above max_groups ({}); lower it or raise max_groups",
                    client.config().max_groups
                )),
                &index,
            ));
        }
        let plans = Plans::new(spec);
        // Checks the order now rather than at the first fetch. A grouping keeps every
        // metric and so the leading metric key: its order is checked too.
        multi_terms::body(plans.plan(), serde_json::Value::Null, size)
            .map_err(|e| with_context(e, &index))?;
        Ok(EsTopN {
            client,
            plans: Arc::new(plans),
            size,
        })
    }

    /// The search body for `ctx` (what [`fetch`](TableQuery::fetch) sends), grouped
    /// as `ctx` says.
    pub fn request(&self, ctx: &FetchContext) -> Result<serde_json::Value> {
        let plan = self.plans.grouped(ctx.group_by.as_deref())?;
        self.request_planned(&plan, ctx)
    }

    /// The search body for `ctx` with `plan`, the plan of its grouping.
    fn request_planned(&self, plan: &Plan, ctx: &FetchContext) -> Result<serde_json::Value> {
        let size = ctx.limit.map_or(self.size, |l| l.min(self.size));
        let query = filters::query(
            plan.spec.time_column(),
            &ctx.window,
            plan.spec.filters().iter().chain(&ctx.filters),
        )?;
        multi_terms::body(plan, query, size)
    }
}

impl TableQuery for EsTopN {
    fn schema(&self) -> &Schema {
        self.plans.plan().spec.schema()
    }

    fn profile(&self) -> SourceProfile {
        SourceProfile::of_aggregate(&self.plans.plan().spec)
    }

    fn supports_grouping(&self) -> bool {
        true
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let index = &self.client.config().index;
        let plan = self
            .plans
            .grouped(ctx.group_by.as_deref())
            .map_err(|e| with_context(e, index))?;
        let body = self
            .request_planned(&plan, ctx)
            .map_err(|e| with_context(e, index))?;
        let body = serde_json::to_vec(&body).unwrap_or_default(); // a Value always serialises
        let answer = self
            .client
            .post(&search_path(&self.client), &[], body)
            .await?;
        let (mut rows, partial) =
            search::top_n(&plan, &answer).map_err(|e| with_context(e, index))?;
        plan.spec.order_and_limit(&mut rows, ctx.limit);
        let fetched = Fetched::new(rows).approximate(true);
        Ok(match partial {
            Some(p) => fetched.partial(p),
            None => fetched,
        })
    }
}

/// A source that runs your own SQL (as the original app did) and maps its result
/// columns onto `schema` by name, checking their types.
///
/// Elasticsearch: `POST /_sql?format=json`; OpenSearch / Open Distro: the SQL plugin's
/// endpoint (choose with [`SqlDialect`]). Cursor pages are followed; a cursor left
/// unfinished (an error, the `max_groups` bound) is closed. Rows keep the order the
/// query gives them.
///
/// With [`with_window_params`](EsSql::with_window_params) (Elasticsearch only) the
/// window's start and end are bound to the first two `?` placeholders, as RFC 3339
/// strings: `WHERE ts >= ? AND ts < ?`.
///
/// ```
/// use livetable_core::{Column, DataType, Schema};
/// use livetable_es::EsBuilder;
/// let schema = Schema::new(vec![
///     Column::dimension("protocol", DataType::Text),
///     Column::metric("count", DataType::Int),
/// ])?;
/// let client = EsBuilder::new("http://localhost:9200").index("packets").build()?;
/// let source = client
///     .sql("SELECT protocol, COUNT(*) AS count FROM packets WHERE ts >= ? AND ts < ? GROUP BY protocol", schema)?
///     .with_window_params()?;
/// # let _ = source;
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct EsSql {
    client: EsClient,
    query: String,
    schema: Schema,
    window_params: bool,
}

impl EsSql {
    pub(crate) fn new(client: EsClient, query: String, schema: Schema) -> Result<Self> {
        if query.trim().is_empty() {
            return Err(with_context(
                Error::invalid_spec("the SQL query is empty"),
                &client.config().index,
            ));
        }
        Ok(EsSql {
            client,
            query,
            schema,
            window_params: false,
        })
    }

    /// Binds the window's start and end to the first two `?` of the query.
    pub fn with_window_params(mut self) -> Result<Self> {
        if self.client.config().sql_dialect != SqlDialect::Elasticsearch {
            return Err(with_context(
                Error::new(
                    ErrorKind::Unsupported,
                    "window parameters need Elasticsearch SQL; with the OpenSearch plugin, \
                     write the window into the query",
                ),
                &self.client.config().index,
            ));
        }
        self.window_params = true;
        Ok(self)
    }

    /// The first request body for `ctx`.
    pub fn request(&self, ctx: &FetchContext) -> serde_json::Value {
        let params = if self.window_params {
            vec![
                filters::time_bound(ctx.window.start),
                filters::time_bound(ctx.window.end),
            ]
        } else {
            Vec::new()
        };
        sql_req::first(&self.query, self.client.config().page_size, &params)
    }

    async fn post(&self, body: &serde_json::Value) -> Result<Vec<u8>> {
        let dialect = self.client.config().sql_dialect;
        let query: &[(&str, &str)] = match dialect {
            SqlDialect::Elasticsearch => &[("format", "json")],
            // The plugins' default answer is the `schema` / `datarows` shape.
            _ => &[],
        };
        let body = serde_json::to_vec(body).unwrap_or_default(); // a Value always serialises
        self.client.post(dialect.path(), query, body).await
    }

    /// Frees a cursor we stop following; failures are only logged, as the server
    /// frees it by itself after a while.
    async fn close(&self, cursor: &str) {
        let path = self.client.config().sql_dialect.close_path();
        let body = serde_json::to_vec(&sql_req::cursor(cursor)).unwrap_or_default();
        if let Err(e) = self.client.post(path, &[], body).await {
            tracing::warn!(error = %e, "could not close an SQL cursor");
        }
    }

    async fn read_pages(
        &self,
        ctx: &FetchContext,
        cursor: &mut Option<String>,
    ) -> Result<Vec<Row>> {
        let max = self.client.config().max_groups;
        let mut rows = Vec::new();
        let mut page = sql_resp::page(&self.post(&self.request(ctx)).await?)?;
        let columns = page
            .columns
            .take()
            .ok_or_else(|| crate::error::unexpected("the first SQL page has no column list"))?;
        let map = sql_resp::map_columns(&self.schema, &columns)?;
        loop {
            *cursor = page.cursor.take();
            let empty = page.rows.is_empty();
            sql_resp::push_rows(&self.schema, &map, page.rows, &mut rows)?;
            if rows.len() > max {
                return Err(Error::new(
                    ErrorKind::LimitExceeded,
                    format!(
                        "the SQL query returned more than {max} rows (max_groups); aggregate \
                         more, add a LIMIT, or raise max_groups"
                    ),
                )
                .with_context("max_groups", max));
            }
            let Some(c) = cursor.as_deref() else { break };
            if empty {
                // A cursor with no rows would page forever; stop (and close it).
                return Ok(rows);
            }
            page = sql_resp::page(&self.post(&sql_req::cursor(c)).await?)?;
        }
        Ok(rows)
    }
}

impl TableQuery for EsSql {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let mut cursor = None;
        let result = self.read_pages(ctx, &mut cursor).await;
        if let Some(c) = cursor {
            self.close(&c).await;
        }
        // Viewer filters and limit are left to the runtime: the query is the user's, and
        // a limit applied without the filters would drop matching rows.
        let rows = result.map_err(|e| with_context(e, &self.client.config().index))?;
        Ok(Fetched::new(rows))
    }
}
