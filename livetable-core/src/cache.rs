//! [`BucketCache`]: the cached refresh mode. A source that answers per time bucket
//! ([`BucketQuery`]) is asked, on each tick, only for its newest buckets; every view of
//! the table (any allowed window, any filter, the top-N) is merged from the cache in
//! memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::DateTime;
use tokio::time::Instant;
use tracing::{debug, info};

use crate::aggregate::MetricKind;
use crate::blocking;
use crate::bucket::{BucketQuery, BucketRequest, BucketRow};
use crate::error::{Error, ErrorKind, Result};
use crate::memory::store::{BucketStore, StagedRow};
use crate::query::{FetchContext, Fetched, SourceProfile, TableQuery, Window};
use crate::schema::Schema;

/// The default bound on (bucket, group) entries: about 370 MB for the packet workload's
/// five-dimension table, at the 184 bytes per entry `cargo bench --bench cache -- merge`
/// measures (keys and merged windows included). An hour of 1 M packets takes about
/// 0.5 M entries in 10 s buckets; 10 M packets take 5.3 M, past the default: raise it.
pub const DEFAULT_MAX_ENTRIES: usize = 2_000_000;

/// How many buckets the retention is cut into by default.
const DEFAULT_BUCKETS_PER_RETENTION: u32 = 360;

/// A table source that keeps the partial aggregates of a [`BucketQuery`] per time
/// bucket and re-reads only the newest buckets on each tick.
///
/// # How it refreshes
/// - The first fetch loads the whole retention (the longest window a viewer may ask
///   for) with one bucket query.
/// - Each later tick asks the store for the tail `[watermark − settle, now)` only, from
///   the start of the bucket holding `watermark − settle`, and **replaces** those buckets
///   wholesale: rows that arrived late, were updated or were deleted within the settle
///   are reflected. Buckets older than the retention are dropped.
/// - Every `reconcile_every` (default 10 min; `None` turns it off) a tick re-reads the
///   whole retention instead, replaces it, and logs how many (bucket, group) entries
///   differed. A row that arrives (or changes) later than the settle appears only then.
/// - Fetches are serialised: two tails never apply out of order, and the watermark moves
///   only after a tail was read completely and applied. A failed tail leaves the cache
///   as it was, the table goes stale, and the next tick re-reads from the same
///   watermark.
/// - Fetches at (nearly) the same time share one store query: a fetch whose window
///   ends within `coalesce` (default 500 ms) after the last query's end is served from
///   the cache as it is. A live table over a cache aligns its ticks on multiples of its
///   interval (see [`TableQuery::shared_refresh`]), so the views of a table tick
///   together: **one store query per tick per table, however many views and viewers**.
///
/// # Serving
/// Any window up to the retention, any viewer filter and the top-N are merged in
/// memory from the buckets, on tokio's blocking pool (a large merge never stalls the
/// async workers), by the same code as [`MemorySource`](crate::MemorySource). The rows
/// cover whole buckets at the start of the window and end where the last store query
/// ended; the snapshot's window says so ([`Fetched::covered`]), so the same aggregation
/// over that window in the store gives the same rows.
///
/// # Settings and defaults
/// - `bucket_width`: retention / 360, in whole seconds, at least 1 s (10 s for an
///   hour). A tick re-reads at most `settle + bucket_width` of data plus the tick
///   itself, so narrower buckets mean less store work per tick but more entries.
/// - `settle`: [`BucketQuery::default_settle`] (10 s for SQL stores, 30 s for
///   Elasticsearch, whose documents become searchable only after an index refresh).
/// - `retention`: the spec's window. Viewers can ask for any window up to it.
/// - `max_entries`: [`DEFAULT_MAX_ENTRIES`] (bucket, group) entries. A query that would
///   grow the cache past it fails with [`ErrorKind::LimitExceeded`] and the table goes
///   stale, rather than memory growing without bound.
///
/// # Memory
/// Each (bucket, group) entry costs its slots (40 bytes per metric other than `count`,
/// plus 40) and about 40 bytes of index, hash and key pointer; each distinct group key
/// is stored once. `cargo bench --bench cache` prints the resident bytes per entry.
///
/// # What cannot be cached
/// `count_distinct` cannot be merged from buckets: building a cache for a spec with one
/// fails, and such a table is served in the direct mode (use the source itself).
///
/// # Example
/// ```
/// use std::time::Duration;
/// use chrono::{DateTime, Utc};
/// use livetable_core::{
///     Aggregate, BucketCache, BucketQuery, BucketRequest, BucketRow, DataType, FetchContext,
///     Metric, Partial, Result, TableQuery, Value, Window,
/// };
///
/// /// Requests per host, one per second, from an imaginary store that groups by bucket.
/// struct Requests(Aggregate);
///
/// impl BucketQuery for Requests {
///     fn spec(&self) -> &Aggregate {
///         &self.0
///     }
///     async fn fetch_buckets(&self, request: &BucketRequest) -> Result<Vec<BucketRow>> {
///         let width = request.width.as_secs() as i64;
///         let (from, to) = (request.range.start.timestamp(), request.range.end.timestamp());
///         Ok((from..to)
///             .step_by(width as usize)
///             .map(|start| {
///                 let start = DateTime::from_timestamp(start, 0).unwrap();
///                 BucketRow::new(start, vec![Value::from("web-1")], width as u64)
///                     .with_partials(vec![Partial::Count])
///             })
///             .collect())
///     }
/// }
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let spec = Aggregate::builder()
///     .time_column("ts").window(Duration::from_secs(600))
///     .dimension("host", DataType::Text).metric(Metric::count("requests"))
///     .build()?;
/// let cache = BucketCache::builder(Requests(spec))
///     .bucket_width(Duration::from_secs(10))
///     .build()?;
/// let end: DateTime<Utc> = "2026-11-28T12:00:00Z".parse().unwrap();
/// let window = Window::ending_at(end, Duration::from_secs(60))?;
/// let table = cache.fetch(&FetchContext::new(window)).await?;
/// assert_eq!(table.rows[0].values(), &[Value::from("web-1"), Value::Int(60)]);
/// assert_eq!(cache.stats().queries, 1);
/// # Ok::<(), livetable_core::Error>(())
/// # })?;
/// # Ok::<(), livetable_core::Error>(())
/// ```
pub struct BucketCache<Q> {
    inner: Arc<Inner<Q>>,
}

impl<Q> Clone for BucketCache<Q> {
    fn clone(&self) -> Self {
        BucketCache {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<Q> {
    query: Q,
    store: Arc<BucketStore>,
    settings: Settings,
    /// Serialises store queries and what they apply (held across the store query: the
    /// whole point is that concurrent fetches wait for one query).
    progress: tokio::sync::Mutex<Progress>,
    counters: CacheCounters,
}

#[derive(Clone, Copy, Debug)]
struct Settings {
    width: Duration,
    settle: Duration,
    retention: Duration,
    reconcile_every: Option<Duration>,
    coalesce: Duration,
    max_entries: usize,
}

#[derive(Debug, Default)]
struct Progress {
    /// Where the data of the last applied query ends (ns since the epoch).
    watermark: Option<i64>,
    /// When the whole retention was last read.
    last_full: Option<Instant>,
}

#[derive(Debug, Default)]
struct CacheCounters {
    queries: AtomicU64,
    full_reads: AtomicU64,
    failures: AtomicU64,
    rows_read: AtomicU64,
    store_micros: AtomicU64,
    last_differences: AtomicUsize,
}

/// Counters and sizes of a [`BucketCache`], from [`BucketCache::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Bucket queries sent to the store (tails and full reads).
    pub queries: u64,
    /// Of those, full reads of the retention (the first load and reconciles).
    pub full_reads: u64,
    /// Bucket queries that failed (the cache was left as it was).
    pub failures: u64,
    /// (bucket, group) rows the store returned, over all queries.
    pub rows_read: u64,
    /// Time spent waiting for the store's answers, over all queries: with the elapsed
    /// time, how busy the cache keeps the store.
    pub store_time: Duration,
    /// (bucket, group) entries that differed at the last full read (0 at the first).
    pub last_reconcile_differences: usize,
    /// Time buckets held.
    pub buckets: usize,
    /// (bucket, group) entries held.
    pub entries: usize,
    /// Distinct group keys held.
    pub groups: usize,
    /// Approximate heap bytes of the buckets and merged windows (keys excluded).
    pub table_bytes: usize,
}

/// Configures a [`BucketCache`]; see its docs for what each setting means.
///
/// ```
/// use std::time::Duration;
/// use livetable_core::{Aggregate, BucketCache, BucketQuery, BucketRequest, BucketRow, DataType, Metric, Result};
/// # struct Store(Aggregate);
/// # impl BucketQuery for Store {
/// #     fn spec(&self) -> &Aggregate { &self.0 }
/// #     async fn fetch_buckets(&self, _: &BucketRequest) -> Result<Vec<BucketRow>> { Ok(vec![]) }
/// # }
/// let spec = Aggregate::builder()
///     .time_column("ts").window(Duration::from_secs(3600))
///     .dimension("host", DataType::Text)
///     .metric(Metric::count("n")).metric(Metric::count_distinct("paths", "host"))
///     .build()?;
/// let err = BucketCache::builder(Store(spec)).build().unwrap_err();
/// assert!(err.message().contains("count_distinct"));
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Debug)]
pub struct BucketCacheBuilder<Q> {
    query: Q,
    width: Option<Duration>,
    settle: Option<Duration>,
    retention: Option<Duration>,
    reconcile_every: Option<Option<Duration>>,
    coalesce: Duration,
    max_entries: usize,
}

impl<Q: BucketQuery> BucketCacheBuilder<Q> {
    /// The width of a time bucket, in whole seconds (default: retention / 360, at
    /// least 1 s).
    pub fn bucket_width(mut self, width: Duration) -> Self {
        self.width = Some(width);
        self
    }

    /// How far before the watermark each tick re-reads (default: the source's
    /// [`BucketQuery::default_settle`]).
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = Some(settle);
        self
    }

    /// The longest window kept, and so the longest a viewer may ask for (default: the
    /// spec's window).
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// How often the whole retention is re-read to pick up changes older than the
    /// settle; `None` never (default: every 10 minutes).
    pub fn reconcile_every(mut self, every: Option<Duration>) -> Self {
        self.reconcile_every = Some(every);
        self
    }

    /// Fetches whose window ends within this time after the last store query's end
    /// are served without a new query (default 500 ms).
    pub fn coalesce(mut self, coalesce: Duration) -> Self {
        self.coalesce = coalesce;
        self
    }

    /// The most (bucket, group) entries held (default [`DEFAULT_MAX_ENTRIES`]).
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// Validates the settings and builds the cache. Fails with
    /// [`ErrorKind::Unsupported`] for a spec with a `count_distinct` metric, and with
    /// [`ErrorKind::InvalidSpec`] naming a bad setting.
    pub fn build(self) -> Result<BucketCache<Q>> {
        let spec = self.query.spec();
        if let Some(m) = spec
            .metrics()
            .iter()
            .find(|m| m.kind == MetricKind::CountDistinct)
        {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "metric `{}` is a count_distinct, which cannot be merged from time buckets \
                     (a value seen in two buckets would be counted twice); serve this table in \
                     the direct mode (give the source itself to the table, without a \
                     BucketCache) or drop the metric",
                    m.name
                ),
            )
            .with_context("column", &m.name));
        }
        let setting = |what: &'static str, why: String| {
            Err(Error::invalid_spec(why).with_context("setting", what))
        };
        let retention = self.retention.unwrap_or(spec.window());
        if retention < spec.window() {
            return setting(
                "retention",
                format!(
                    "the retention {retention:?} is shorter than the spec's window {:?}; keep at \
                     least the default window",
                    spec.window()
                ),
            );
        }
        let width = self.width.unwrap_or_else(|| {
            Duration::from_secs((retention / DEFAULT_BUCKETS_PER_RETENTION).as_secs().max(1))
        });
        if width.as_secs() == 0 || width.subsec_nanos() != 0 {
            return setting(
                "bucket_width",
                format!(
                    "the bucket width {width:?} must be a whole number of seconds, at least 1 s"
                ),
            );
        }
        if retention < width {
            return setting(
                "retention",
                format!("the retention {retention:?} is shorter than the bucket width {width:?}"),
            );
        }
        let settle = self.settle.unwrap_or_else(|| self.query.default_settle());
        if settle >= retention {
            return setting(
                "settle",
                format!("the settle {settle:?} must be shorter than the retention {retention:?}"),
            );
        }
        if self.max_entries == 0 {
            return setting("max_entries", "max_entries must be positive".to_owned());
        }
        let reconcile_every = self
            .reconcile_every
            .unwrap_or(Some(Duration::from_secs(600)));
        if reconcile_every.is_some_and(|d| d.is_zero()) {
            return setting(
                "reconcile_every",
                "reconcile_every must be positive; pass None to turn reconciling off".to_owned(),
            );
        }
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let store = BucketStore::new(spec.clone(), nanos(width), nanos(retention));
        Ok(BucketCache {
            inner: Arc::new(Inner {
                query: self.query,
                store: Arc::new(store),
                settings: Settings {
                    width,
                    settle,
                    retention,
                    reconcile_every,
                    coalesce: self.coalesce,
                    max_entries: self.max_entries,
                },
                progress: tokio::sync::Mutex::new(Progress::default()),
                counters: CacheCounters::default(),
            }),
        })
    }
}

impl<Q: BucketQuery> BucketCache<Q> {
    /// A cache in front of `query` with the default settings.
    pub fn new(query: Q) -> Result<Self> {
        Self::builder(query).build()
    }

    /// A builder, to change the bucket width, settle, retention, reconcile period or
    /// bound.
    pub fn builder(query: Q) -> BucketCacheBuilder<Q> {
        BucketCacheBuilder {
            query,
            width: None,
            settle: None,
            retention: None,
            reconcile_every: None,
            coalesce: Duration::from_millis(500),
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }

    /// The source behind the cache.
    pub fn query(&self) -> &Q {
        &self.inner.query
    }

    /// The width of a time bucket: the step by which windows move, and the unit in
    /// which the store is asked and the cache replaced.
    pub fn bucket_width(&self) -> Duration {
        self.inner.settings.width
    }

    /// How far before the watermark each tick re-reads.
    pub fn settle(&self) -> Duration {
        self.inner.settings.settle
    }

    /// The longest window kept.
    pub fn retention(&self) -> Duration {
        self.inner.settings.retention
    }

    /// The counters and sizes.
    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        let sizes = self.inner.store.sizes();
        CacheStats {
            queries: c.queries.load(Ordering::Acquire),
            full_reads: c.full_reads.load(Ordering::Acquire),
            failures: c.failures.load(Ordering::Acquire),
            rows_read: c.rows_read.load(Ordering::Acquire),
            store_time: Duration::from_micros(c.store_micros.load(Ordering::Acquire)),
            last_reconcile_differences: c.last_differences.load(Ordering::Acquire),
            buckets: sizes.buckets,
            entries: sizes.bucket_entries,
            groups: sizes.groups,
            table_bytes: sizes.table_bytes,
        }
    }

    /// Brings the cache up to `end` (ns); returns where the cached data ends.
    ///
    /// The refresh runs in a task of its own: a fetch the live table abandons on its
    /// timeout must not abandon a query half applied, and a first load longer than
    /// the timeout (a big retention) goes on to completion, so that a later tick finds
    /// it done rather than starting it over.
    async fn catch_up(&self, end: i64) -> Result<i64> {
        let inner = self.inner.clone();
        match tokio::spawn(async move { inner.catch_up(end).await }).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::Unexpected,
                "the bucket cache's refresh panicked (a bug in the source or in livetable)",
            )
            .with_retryable(true)),
        }
    }
}

impl<Q: BucketQuery> Inner<Q> {
    /// Brings the cache up to `end` (ns) unless a query ended within `coalesce` before
    /// it; returns where the cached data ends.
    async fn catch_up(&self, end: i64) -> Result<i64> {
        let inner = self;
        let settings = inner.settings;
        let mut progress = inner.progress.lock().await;
        let coalesce = nanos(settings.coalesce);
        if let Some(watermark) = progress.watermark
            && end <= watermark.saturating_add(coalesce)
        {
            return Ok(watermark);
        }
        let full = match (progress.watermark, progress.last_full) {
            (None, _) | (_, None) => true,
            (Some(_), Some(at)) => settings.reconcile_every.is_some_and(|d| at.elapsed() >= d),
        };
        let width = nanos(settings.width);
        let from = match progress.watermark {
            Some(watermark) if !full => watermark.saturating_sub(nanos(settings.settle)),
            _ => end.saturating_sub(nanos(settings.retention)),
        }
        .div_euclid(width);
        let range = Window::new(
            DateTime::from_timestamp_nanos(from.saturating_mul(width)),
            DateTime::from_timestamp_nanos(end),
        )?;
        inner.counters.queries.fetch_add(1, Ordering::AcqRel);
        let started = Instant::now();
        let answer = inner
            .query
            .fetch_buckets(&BucketRequest::new(range, settings.width))
            .await;
        let queried = started.elapsed();
        inner.counters.store_micros.fetch_add(
            u64::try_from(queried.as_micros()).unwrap_or(u64::MAX),
            Ordering::AcqRel,
        );
        let rows = match answer {
            Ok(rows) => rows,
            Err(e) => {
                inner.counters.failures.fetch_add(1, Ordering::AcqRel);
                return Err(e.with_context("cache", "bucket query"));
            }
        };
        inner
            .counters
            .rows_read
            .fetch_add(rows.len() as u64, Ordering::AcqRel);
        let store = inner.store.clone();
        let max_entries = settings.max_entries;
        // What a tail would re-read anyway is not counted as a reconcile difference.
        let settled = progress.watermark.map_or(i64::MIN, |w| {
            w.saturating_sub(nanos(settings.settle)).div_euclid(width)
        });
        let applied = blocking::run(move || {
            let staged = store.stage(stage_rows(&store, rows, from, width, end)?)?;
            store.replace_from(from, staged, end, max_entries, settled)
        })
        .await;
        let differing = match applied {
            Ok(d) => d,
            Err(e) => {
                inner.counters.failures.fetch_add(1, Ordering::AcqRel);
                return Err(e.with_context("cache", "bucket query"));
            }
        };
        progress.watermark = Some(end);
        if full {
            let first = progress.last_full.is_none();
            progress.last_full = Some(Instant::now());
            inner.counters.full_reads.fetch_add(1, Ordering::AcqRel);
            if first {
                debug!(?queried, "bucket cache loaded");
            } else {
                inner
                    .counters
                    .last_differences
                    .store(differing, Ordering::Release);
                if differing > 0 {
                    info!(
                        differing,
                        "bucket cache reconciled: entries changed after their settle"
                    );
                } else {
                    debug!("bucket cache reconciled: nothing differed");
                }
            }
        } else {
            debug!(?queried, changed = differing, "bucket cache tail applied");
        }
        Ok(end)
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Checks the store's rows (bucket alignment and range, key shape and types, partials)
/// and turns them into (bucket index, key, slots).
fn stage_rows(
    store: &BucketStore,
    rows: Vec<BucketRow>,
    from: i64,
    width: i64,
    end: i64,
) -> Result<Vec<StagedRow>> {
    let spec = store.spec();
    let dims = spec.dimensions();
    let last = (end - 1).div_euclid(width);
    let mut staged = Vec::with_capacity(rows.len());
    for row in rows {
        let bad = |why: String| {
            Err(Error::new(
                ErrorKind::Unexpected,
                format!("the bucket query returned a bad row: {why}"),
            ))
        };
        let Some(start) = row.start.timestamp_nanos_opt() else {
            return bad(format!("bucket start {} is out of range", row.start));
        };
        if start.rem_euclid(width) != 0 {
            return bad(format!(
                "bucket start {} is not a multiple of the {}s width since the epoch",
                row.start,
                width / 1_000_000_000
            ));
        }
        let idx = start.div_euclid(width);
        if idx < from || idx > last {
            return bad(format!(
                "bucket start {} is outside the range asked for",
                row.start
            ));
        }
        if row.key.len() != dims.len() {
            return bad(format!(
                "{} dimension values where the spec has {}",
                row.key.len(),
                dims.len()
            ));
        }
        if let Some((d, v)) = dims
            .iter()
            .zip(&row.key)
            .find(|(d, v)| !v.fits(d.data_type))
        {
            return bad(format!(
                "dimension `{}` expects {} but holds {v:?}",
                d.name, d.data_type
            ));
        }
        if row.events == 0 {
            return bad(format!(
                "the group {:?} has no event in the bucket starting at {}",
                row.key, row.start
            ));
        }
        let slots = store
            .plan()
            .slots_from_partials(row.events, &row.partials)?;
        staged.push((idx, row.key, slots));
    }
    Ok(staged)
}

impl<Q: BucketQuery> TableQuery for BucketCache<Q> {
    fn schema(&self) -> &Schema {
        self.inner.store.spec().schema()
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let end = ctx.window.end.timestamp_nanos_opt().ok_or_else(|| {
            Error::invalid_parameter(format!(
                "window end {} is outside the years 1677-2262 the cache supports",
                ctx.window.end
            ))
        })?;
        let data_end = self.catch_up(end).await?;
        let store = self.inner.store.clone();
        let ctx = ctx.clone();
        blocking::run(move || store.serve(&ctx, Some(data_end))).await
    }

    fn shared_refresh(&self) -> bool {
        true
    }

    fn supports_grouping(&self) -> bool {
        true
    }

    fn supports_trend(&self) -> bool {
        true
    }

    fn profile(&self) -> SourceProfile {
        self.inner.store.profile()
    }
}

impl<Q> std::fmt::Debug for BucketCache<Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketCache")
            .field("spec", self.inner.store.spec())
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}
