//! [`MemorySource`]: the embedded in-memory source. Events are pushed in and kept as
//! partial aggregates per time bucket; a fetch merges buckets instead of re-reading
//! events.
//!
//! Modules: `accumulator` (per-group partial aggregates), `groups` (dense group
//! storage and the key interner), `store` (the buckets and the merge that serves a
//! window from them, shared with the bucket cache), `merged` (the incrementally
//! merged aggregate of a window length), `select` (top-N selection of the output rows).

pub(crate) mod accumulator;
mod groups;
mod merged;
mod select;
pub(crate) mod store;
mod trend;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Timelike, Utc};

use self::groups::{Groups, Interner};
use self::store::{BucketStore, PushCounters, State, lock, to_nanos};
use crate::aggregate::Aggregate;
use crate::error::{Error, ErrorKind, Result};
use crate::filter::Filter;
use crate::key::hash_values;
use crate::query::{FetchContext, Fetched, SourceProfile, TableQuery};
use crate::schema::Schema;
use crate::value::{DataType, Value};

/// An in-memory [`TableQuery`] for an [`Aggregate`]: push events in from any thread,
/// fetch the table at any time.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use chrono::{TimeDelta, Utc};
/// use livetable_core::{Aggregate, DataType, FetchContext, MemorySource, Metric, TableQuery, Value, Window};
///
/// let spec = Aggregate::builder()
///     .time_column("ts")
///     .window(Duration::from_secs(600))
///     .dimension("host", DataType::Text)
///     .field("ms", DataType::Float)
///     .metric(Metric::avg("latency", "ms"))
///     .build()?;
/// let source = MemorySource::builder(spec)
///     .bucket_width(Duration::from_secs(10))
///     .retention(Duration::from_secs(3600)) // viewers may ask for up to an hour
///     .build()?;
/// let now = Utc::now();
/// let pushed = source.push_batch([
///     vec![Value::from(now), Value::from("a"), Value::Float(10.0)],
///     vec![Value::from(now), Value::from("a"), Value::Float(20.0)],
///     vec![Value::Null, Value::from("a"), Value::Float(99.0)], // no time: dropped
/// ])?;
/// assert_eq!(pushed, 2);
/// assert_eq!(source.stats().dropped_no_time, 1);
///
/// // A wrong type is an error naming the column; nothing of the batch is kept.
/// let err = source.push(&[Value::from(now), Value::Int(1), Value::Float(1.0)]).unwrap_err();
/// assert_eq!(err.context_value("column"), Some("host"));
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let window = Window::ending_at(now + TimeDelta::seconds(1), Duration::from_secs(600))?;
/// let fetched = source.fetch(&FetchContext::new(window)).await?;
/// assert_eq!(fetched.rows[0].values(), &[Value::from("a"), Value::Float(15.0)]);
/// // The rows cover whole buckets: the window rounded out to 10 s boundaries.
/// let covered = fetched.covered.unwrap();
/// assert_eq!(covered.start.timestamp() % 10, 0);
/// # Ok::<(), livetable_core::Error>(())
/// # })?;
/// # Ok::<(), livetable_core::Error>(())
/// ```
///
/// # Events
/// An event is a slice of values in [`Aggregate::event_columns`] order: the time
/// column, the dimensions, then the fields. [`push`](Self::push) and
/// [`push_batch`](Self::push_batch) reject an event with the wrong number of values,
/// a value of the wrong type, or a timestamp outside the years 1677–2262 (time is
/// kept in i64 nanoseconds) with [`ErrorKind::InvalidEvent`] naming the column (and
/// for a batch, the event's index); a batch is all-or-nothing: it is validated whole
/// before anything is aggregated. `Null` fits every column; an event whose time is
/// `Null` is counted (`dropped_no_time`) and dropped, not an error. The spec's static
/// [filters](Aggregate::filters) are applied as events arrive (`filtered_out`).
///
/// # Buckets, windows and memory
/// Events are aggregated per group (the dimension values) per time bucket; buckets are
/// aligned to multiples of the bucket width since the Unix epoch. The width defaults
/// to the spec's window / 60 (at least 1 s). A fetch for `[start, end)` covers whole
/// buckets, `[floor(start), ceil(end))` in bucket boundaries, and says so in
/// [`Fetched::covered`].
///
/// Retention (default: the spec's window; set a longer one to let viewers ask for
/// longer windows) bounds memory. The **horizon** is `max(latest fetch end, newest
/// event time) − retention`; buckets entirely before it are evicted, and an event
/// older than it is counted (`dropped_late`) and dropped. The source reads no clock:
/// time comes only from the events and the fetched windows, so behaviour is
/// deterministic. (An event stamped far in the future moves the horizon with it.)
///
/// Memory is proportional to groups × buckets, not to events: each group key is stored
/// once (shared by the buckets holding it), each bucket holds per group its partial
/// aggregates (a 40-byte slot per metric other than `count`, plus one). The benchmark
/// `cargo bench --bench memory` prints resident bytes per group.
///
/// # Fetching
/// Closed buckets (all but the newest one) are frozen and shared. For each window
/// length a viewer asks for (up to 4, least recently used dropped), the source keeps
/// the merged aggregate of the closed buckets in the window, updated incrementally: a
/// bucket is added once when it closes and subtracted once when it leaves the window
/// (`count`, `sum`, `avg` and `count_distinct` subtract exactly; a `min` or `max` that
/// came from a leaving bucket is recomputed from the remaining buckets, for those
/// groups only). A fetch then combines that with the open bucket and selects the top
/// rows without sorting every group. The ingest lock is held only to pick the buckets,
/// so pushes are not blocked by a fetch (a push into a bucket a fetch is reading
/// copies that bucket first).
///
/// # Metrics
/// As documented on [`Aggregate`]: null inputs are ignored; `sum`, `avg`, `min`, `max`
/// of no value are `Null`; `count` counts events; `avg` is a float. Integer sums are
/// exact (128-bit); a sum that does not fit an `i64` fails the fetch with
/// [`ErrorKind::LimitExceeded`] rather than show a wrong number. Float sums add the
/// finite values and count infinities and NaN apart (so `inf` and NaN propagate as in
/// IEEE arithmetic); float rounding may differ in the last bits from a single
/// left-to-right sum. `min` / `max` follow [`Value`]'s order (NaN is the largest).
/// `count_distinct` is **exact**: it keeps the set of distinct values per group per
/// bucket (and a value → bucket-count map per merged group), so its memory grows with
/// the number of distinct values; prefer a source with sketches for high cardinality.
///
/// The viewer filters of a [`FetchContext`] (on dimension or metric columns) and its
/// limit are applied; rows are ordered as [`Aggregate::compare_rows`] says.
///
/// `MemorySource` is a cheap handle (`Clone` shares the same data): keep one to push
/// while a live table owns another.
#[derive(Clone)]
pub struct MemorySource {
    inner: Arc<Inner>,
}

struct Inner {
    store: BucketStore,
    /// Event column names and types, in event order.
    columns: Vec<(String, DataType)>,
    /// Static filters with the event position they read.
    filters: Vec<(usize, Filter)>,
}

/// Configures a [`MemorySource`]; see its docs for what the settings mean.
///
/// ```
/// use std::time::Duration;
/// use livetable_core::{Aggregate, DataType, MemorySource, Metric};
/// let spec = Aggregate::builder()
///     .time_column("ts").window(Duration::from_secs(60))
///     .dimension("host", DataType::Text).metric(Metric::count("n")).build()?;
/// let err = MemorySource::builder(spec).bucket_width(Duration::ZERO).build().unwrap_err();
/// assert!(err.message().contains("bucket width"));
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Debug)]
pub struct MemorySourceBuilder {
    spec: Aggregate,
    bucket_width: Option<Duration>,
    retention: Option<Duration>,
}

/// Counters and sizes of a [`MemorySource`], from [`MemorySource::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Events aggregated.
    pub accepted: u64,
    /// Events dropped because they were older than the horizon.
    pub dropped_late: u64,
    /// Events dropped because their time was `Null`.
    pub dropped_no_time: u64,
    /// Events that did not pass the spec's static filters.
    pub filtered_out: u64,
    /// Time buckets held.
    pub buckets: usize,
    /// Distinct groups held (each key is stored once).
    pub groups: usize,
    /// Group entries over all buckets (a group in 3 buckets counts 3).
    pub bucket_entries: usize,
    /// Group entries over all merged aggregates kept for fetches.
    pub merged_entries: usize,
    /// Merged aggregates kept (one per window length recently fetched).
    pub views: usize,
    /// Approximate heap bytes of the bucket and merged tables (excluding keys and
    /// `count_distinct` sets).
    pub table_bytes: usize,
}

/// Converts event times to nanoseconds as [`to_nanos`] does, remembering the date of
/// the last one: events arrive mostly in time order, so most share it and skip the
/// calendar arithmetic.
#[derive(Clone, Copy, Debug)]
struct DayCache {
    date: NaiveDate,
    /// Unix seconds at the start of `date`.
    midnight: i64,
}

impl Default for DayCache {
    fn default() -> Self {
        DayCache {
            date: DateTime::UNIX_EPOCH.date_naive(),
            midnight: 0,
        }
    }
}

impl DayCache {
    /// `t` in nanoseconds since the epoch; `None` outside the years 1677-2262.
    #[inline]
    fn nanos(&mut self, t: &DateTime<Utc>) -> Option<i64> {
        let naive = t.naive_utc();
        if naive.date() != self.date {
            self.date = naive.date();
            self.midnight = self
                .date
                .and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp();
        }
        let time = naive.time();
        // As chrono's `timestamp_nanos_opt`, which a test compares this with.
        let mut secs = self.midnight + i64::from(time.num_seconds_from_midnight());
        let mut subsec = i64::from(time.nanosecond());
        if secs < 0 {
            subsec -= 1_000_000_000;
            secs += 1;
        }
        secs.checked_mul(1_000_000_000)?.checked_add(subsec)
    }
}

impl MemorySource {
    /// A source with the default bucket width and retention.
    pub fn new(spec: Aggregate) -> Result<Self> {
        Self::builder(spec).build()
    }

    /// A builder, to set the bucket width or the retention.
    pub fn builder(spec: Aggregate) -> MemorySourceBuilder {
        MemorySourceBuilder {
            spec,
            bucket_width: None,
            retention: None,
        }
    }

    /// The spec this source aggregates.
    pub fn spec(&self) -> &Aggregate {
        self.inner.store.spec()
    }

    /// The width of a time bucket: the step by which windows move and the rounding of
    /// their edges (see [`Fetched::covered`]).
    pub fn bucket_width(&self) -> Duration {
        Duration::from_nanos(self.inner.store.width.unsigned_abs())
    }

    /// How far back events are kept: the longest window this source answers.
    pub fn retention(&self) -> Duration {
        Duration::from_nanos(self.inner.store.retention.unsigned_abs())
    }

    /// Pushes one event (see [the event layout](MemorySource#events)).
    pub fn push(&self, event: &[Value]) -> Result<()> {
        let inner = &*self.inner;
        let time = inner.validate(event, None, &mut DayCache::default())?;
        inner.ingest(&mut lock(&inner.store.state), &[event], &[time]);
        Ok(())
    }

    /// Pushes a batch of events, all or nothing: every event is validated before any
    /// is aggregated, and an error names the event's index and the column. Returns the
    /// number of events aggregated (the others were dropped or filtered out; see
    /// [`stats`](Self::stats)). One lock for the whole batch: the fast way to ingest.
    pub fn push_batch<E: AsRef<[Value]>>(
        &self,
        events: impl IntoIterator<Item = E>,
    ) -> Result<usize> {
        let inner = &*self.inner;
        let events: Vec<E> = events.into_iter().collect();
        let mut times = Vec::with_capacity(events.len());
        let mut clock = DayCache::default();
        for (i, e) in events.iter().enumerate() {
            times.push(inner.validate(e.as_ref(), Some(i), &mut clock)?);
        }
        let mut state = lock(&inner.store.state);
        let before = state.pushed.accepted;
        inner.ingest(&mut state, &events, &times);
        Ok(usize::try_from(state.pushed.accepted - before).unwrap_or(usize::MAX))
    }

    /// The counters and sizes.
    pub fn stats(&self) -> MemoryStats {
        let mut stats = {
            let s = lock(&self.inner.store.state);
            MemoryStats {
                accepted: s.pushed.accepted,
                dropped_late: s.pushed.dropped_late,
                dropped_no_time: s.pushed.dropped_no_time,
                filtered_out: s.pushed.filtered_out,
                ..MemoryStats::default()
            }
        };
        let sizes = self.inner.store.sizes();
        stats.buckets = sizes.buckets;
        stats.groups = sizes.groups;
        stats.bucket_entries = sizes.bucket_entries;
        stats.merged_entries = sizes.merged_entries;
        stats.views = sizes.merged_windows;
        stats.table_bytes = sizes.table_bytes;
        stats
    }

    /// The table for `ctx`, computed on the calling thread: merging the buckets of a
    /// large table is CPU work, so async code should go through
    /// [`TableQuery::fetch`], which runs this on tokio's blocking pool.
    pub fn fetch_blocking(&self, ctx: &FetchContext) -> Result<Fetched> {
        self.inner.store.serve(ctx, None)
    }
}

impl Inner {
    /// Checks an event's shape and types; returns its time in nanoseconds (`None` when
    /// `Null`). The common case (a valid event) is checked inline; [`Inner::explain`]
    /// says what is wrong with an invalid one.
    #[inline]
    fn validate(
        &self,
        event: &[Value],
        index: Option<usize>,
        clock: &mut DayCache,
    ) -> Result<Option<i64>> {
        if event.len() != self.columns.len() {
            return Err(self.explain(event, index));
        }
        let mut time = None;
        for (i, (v, (_, t))) in event.iter().zip(&self.columns).enumerate() {
            let ok = match v {
                Value::Null => true,
                Value::Timestamp(ts) => match clock.nanos(ts) {
                    Some(nanos) => {
                        if i == 0 {
                            time = Some(nanos);
                        }
                        *t == DataType::Timestamp
                    }
                    None => false,
                },
                v => v.fits(*t),
            };
            if !ok {
                return Err(self.explain(event, index));
            }
        }
        Ok(time)
    }

    /// The error for an event [`Inner::validate`] refused: the first offending column.
    #[cold]
    #[inline(never)]
    fn explain(&self, event: &[Value], index: Option<usize>) -> Error {
        let at = |e: Error| match index {
            Some(i) => e.with_context("event", i),
            None => e,
        };
        if event.len() != self.columns.len() {
            let expected: Vec<String> = self
                .columns
                .iter()
                .map(|(n, t)| format!("`{n}` ({t})"))
                .collect();
            return at(Error::new(
                ErrorKind::InvalidEvent,
                format!(
                    "an event has {} values but this source expects {}: {}",
                    event.len(),
                    self.columns.len(),
                    expected.join(", ")
                ),
            ));
        }
        for (v, (name, t)) in event.iter().zip(&self.columns) {
            let bad = if !v.fits(*t) {
                Some(format!(
                    "column `{name}` expects {t} but the event holds {v:?}; push values in \
                     the order of the spec's event columns"
                ))
            } else if let Value::Timestamp(ts) = v
                && to_nanos(ts).is_none()
            {
                Some(format!(
                    "column `{name}` holds {ts}, outside the years 1677-2262 the in-memory \
                     source supports"
                ))
            } else {
                None
            };
            if let Some(message) = bad {
                return at(
                    Error::new(ErrorKind::InvalidEvent, message).with_context("column", name)
                );
            }
        }
        // Not reached: `validate` refuses only events one of the checks above refuses.
        at(Error::new(
            ErrorKind::InvalidEvent,
            "the event does not fit this source's event columns",
        ))
    }

    /// The time of an event to aggregate, or `None` for an event to drop (counted).
    #[inline]
    fn admit(
        &self,
        counters: &mut PushCounters,
        horizon_ns: i64,
        event: &[Value],
        time: Option<i64>,
    ) -> Option<i64> {
        let Some(t) = time else {
            counters.dropped_no_time += 1;
            return None;
        };
        if !self.filters.iter().all(|(i, f)| f.matches(&event[*i])) {
            counters.filtered_out += 1;
            return None;
        }
        if t < horizon_ns {
            counters.dropped_late += 1;
            return None;
        }
        Some(t)
    }

    /// Aggregates validated events (`times[i]` is the time of `events[i]`, from
    /// [`Inner::validate`]).
    ///
    /// Events arrive mostly in time order, so consecutive events tend to share a
    /// bucket: the bucket is looked up (and copied if a fetch shares it) once per run
    /// of such events rather than once per event.
    fn ingest<E: AsRef<[Value]>>(&self, s: &mut State, events: &[E], times: &[Option<i64>]) {
        let (w, retention) = (self.store.width, self.store.retention);
        let mut i = 0;
        while i < events.len() {
            let event = events[i].as_ref();
            i += 1;
            let Some(t) = self.admit(&mut s.pushed, s.horizon_ns, event, times[i - 1]) else {
                continue;
            };
            s.see(t, retention);
            let idx = t.div_euclid(w);
            if idx > s.newest_bucket {
                if let Some((_, b)) = s.buckets.last_key_value() {
                    s.newest_len = b.len();
                }
                s.newest_bucket = idx;
                s.evict(w);
            }
            let room = if idx == s.newest_bucket {
                s.newest_len + s.newest_len / 8
            } else {
                0
            };
            let stride = self.store.plan.stride();
            let bucket = Arc::make_mut(
                s.buckets
                    .entry(idx)
                    .or_insert_with(|| Arc::new(Groups::with_capacity(stride, room))),
            );
            self.add(bucket, &mut s.interner, event);
            s.pushed.accepted += 1;
            // The run of following events in the same bucket. Nothing but the counters
            // and the newest time can change in it: a later bucket ends the run.
            while i < events.len() {
                let event = events[i].as_ref();
                let Some(t) = self.admit(&mut s.pushed, s.horizon_ns, event, times[i]) else {
                    i += 1;
                    continue;
                };
                if t.div_euclid(w) != idx {
                    break; // admitted again (and so not counted twice) by the outer loop
                }
                i += 1;
                if t > s.newest_ns {
                    s.newest_ns = t;
                    s.horizon_ns = s.horizon_ns.max(t.saturating_sub(retention));
                }
                self.add(bucket, &mut s.interner, event);
                s.pushed.accepted += 1;
            }
        }
    }

    /// Adds one admitted event to its bucket.
    #[inline]
    fn add(&self, bucket: &mut Groups, interner: &mut Interner, event: &[Value]) {
        let plan = &self.store.plan;
        let dims = &event[1..=plan.dims];
        let hash = hash_values(dims);
        // The bucket is small and hot; the interner (every group) only for a group new
        // to the bucket.
        let row = match bucket.find_values(hash, dims) {
            Some(r) => r,
            None => bucket.insert(hash, interner.get(hash, dims), plan.init()),
        };
        plan.add_event(bucket.slots_mut(row), event);
    }
}

impl State {
    /// Notes an admitted event's time: it may be the newest and move the horizon.
    #[inline]
    fn see(&mut self, t: i64, retention: i64) {
        if t > self.newest_ns {
            self.newest_ns = t;
            self.horizon_ns = self.horizon_ns.max(t.saturating_sub(retention));
        }
    }
}

impl MemorySourceBuilder {
    /// The width of a time bucket (default: the spec's window / 60, at least 1 s).
    /// Smaller buckets round fetched windows less and cost more memory.
    pub fn bucket_width(mut self, width: Duration) -> Self {
        self.bucket_width = Some(width);
        self
    }

    /// How long data is kept (default: the spec's window).
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Validates the settings and builds the source.
    pub fn build(self) -> Result<MemorySource> {
        let spec = self.spec;
        let width = self
            .bucket_width
            .unwrap_or_else(|| (spec.window() / 60).max(Duration::from_secs(1)));
        let retention = self.retention.unwrap_or(spec.window());
        let nanos = |d: Duration, what: &'static str| {
            i64::try_from(d.as_nanos()).map_err(|_| {
                Error::invalid_spec(format!("the {what} {d:?} is too long"))
                    .with_context("setting", what)
            })
        };
        let (w, r) = (
            nanos(width, "bucket width")?,
            nanos(retention, "retention")?,
        );
        if w == 0 {
            return Err(Error::invalid_spec(
                "the bucket width is zero; give a width such as the window / 60",
            )
            .with_context("setting", "bucket width"));
        }
        if r < w {
            return Err(Error::invalid_spec(format!(
                "the retention {retention:?} is shorter than the bucket width {width:?}; \
                 keep at least one bucket (the retention defaults to the window)"
            ))
            .with_context("setting", "retention"));
        }
        let columns: Vec<(String, DataType)> = spec
            .event_columns()
            .map(|(n, t)| (n.to_owned(), t))
            .collect();
        let filters = spec
            .filters()
            .iter()
            .filter_map(|f| {
                columns
                    .iter()
                    .position(|(n, _)| n == f.column())
                    .map(|i| (i, f.clone()))
            })
            .collect();
        Ok(MemorySource {
            inner: Arc::new(Inner {
                columns,
                filters,
                store: BucketStore::new(spec, w, r),
            }),
        })
    }
}

impl fmt::Debug for MemorySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySource")
            .field("spec", self.inner.store.spec())
            .field("bucket_width", &self.bucket_width())
            .field("retention", &self.retention())
            .finish_non_exhaustive()
    }
}

impl TableQuery for MemorySource {
    fn schema(&self) -> &Schema {
        self.inner.store.spec().schema()
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let source = self.clone();
        let ctx = ctx.clone();
        crate::blocking::run(move || source.fetch_blocking(&ctx)).await
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

#[cfg(test)]
mod tests;
