//! [`BucketStore`]: the partial aggregates of one [`Aggregate`] per time bucket, and the
//! merge that serves any window, filter and top-N from them.
//!
//! One piece of machinery, two feeders: [`MemorySource`](crate::MemorySource) adds
//! pushed events to its buckets; [`BucketCache`](crate::BucketCache) replaces whole
//! buckets with what a store answered for them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::accumulator::{AccumulatorPlan, Slot, same_partials};
use super::groups::{Groups, Interner};
use super::merged::MergedWindow;
use super::select;
use super::trend::{self, TrendInput};
use crate::aggregate::Aggregate;
use crate::error::{Error, ErrorKind, Result};
use crate::filter::Filter;
use crate::grouping::PerGrouping;
use crate::key::hash_values;
use crate::query::{FetchContext, Fetched, SourceProfile, Window};
use crate::value::Value;

/// How many window lengths keep a merged aggregate at once (least recently used go).
const MAX_MERGED_WINDOWS: usize = 4;

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock can only come from a bug here; the data is still
    // memory-safe to use, so keep serving rather than poison every later call.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn to_nanos(t: &DateTime<Utc>) -> Option<i64> {
    t.timestamp_nanos_opt()
}

fn ceil_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

/// The buckets and what feeds them. Std mutexes: never held across an `.await`.
#[derive(Debug)]
pub(crate) struct BucketStore {
    pub(super) spec: Aggregate,
    pub(super) plan: AccumulatorPlan,
    /// Bucket width and retention, in nanoseconds.
    pub(super) width: i64,
    pub(super) retention: i64,
    pub(super) state: Mutex<State>,
    merged: Mutex<MergedWindows>,
    /// The aggregate and plan of each grouping viewers ask for.
    grouped: PerGrouping<(Aggregate, AccumulatorPlan)>,
}

/// The buckets, under the ingest lock.
#[derive(Debug)]
pub(super) struct State {
    pub(super) interner: Interner,
    pub(super) buckets: BTreeMap<i64, Arc<Groups>>,
    pub(super) newest_ns: i64,
    /// The bucket still being filled; older ones are closed and folded into the
    /// merged windows.
    pub(super) newest_bucket: i64,
    pub(super) fetch_end_ns: i64,
    pub(super) horizon_ns: i64,
    /// Groups in the newest bucket when it was superseded: room to reserve in the
    /// next one (consecutive buckets hold similar numbers of groups).
    pub(super) newest_len: usize,
    pub(super) pushed: PushCounters,
}

/// What became of the events pushed into a [`MemorySource`](crate::MemorySource).
#[derive(Debug, Default)]
pub(super) struct PushCounters {
    pub(super) accepted: u64,
    pub(super) dropped_late: u64,
    pub(super) dropped_no_time: u64,
    pub(super) filtered_out: u64,
}

#[derive(Debug, Default)]
struct MergedWindows {
    windows: Vec<MergedWindow>,
    tick: u64,
}

/// The buckets a fetch reads, picked under the ingest lock.
struct Picked {
    /// Bucket indices `[lo, hi)` of the window.
    lo: i64,
    hi: i64,
    /// The first bucket after the horizon.
    first_kept: i64,
    /// Closed buckets (frozen), with their index: folded into the merged window.
    closed: Vec<(i64, Arc<Groups>)>,
    /// The bucket still being filled: combined at selection.
    open: Vec<Arc<Groups>>,
}

/// Sizes of a store, for the stats of its owner.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StoreSizes {
    pub(crate) buckets: usize,
    pub(crate) groups: usize,
    pub(crate) bucket_entries: usize,
    pub(crate) merged_entries: usize,
    pub(crate) merged_windows: usize,
    pub(crate) table_bytes: usize,
}

/// One (bucket index, group key, slots) entry to stage.
pub(crate) type StagedRow = (i64, Vec<Value>, Vec<Slot>);

/// The new content of some buckets, ready to swap in (see [`BucketStore::stage`]).
#[derive(Debug)]
pub(crate) struct Staged {
    buckets: BTreeMap<i64, Groups>,
}

impl State {
    /// Drops the buckets entirely before the horizon.
    pub(super) fn evict(&mut self, width: i64) {
        let first_kept = self.horizon_ns.div_euclid(width);
        if self
            .buckets
            .first_key_value()
            .is_some_and(|(&i, _)| i < first_kept)
        {
            self.buckets = self.buckets.split_off(&first_kept);
            self.interner.maybe_sweep();
        }
    }
}

impl BucketStore {
    pub(crate) fn new(spec: Aggregate, width: i64, retention: i64) -> Self {
        BucketStore {
            plan: AccumulatorPlan::new(&spec),
            spec,
            width,
            retention,
            state: Mutex::new(State {
                interner: Interner::default(),
                buckets: BTreeMap::new(),
                newest_ns: i64::MIN,
                newest_bucket: i64::MIN,
                fetch_end_ns: i64::MIN,
                horizon_ns: i64::MIN,
                newest_len: 0,
                pushed: PushCounters::default(),
            }),
            merged: Mutex::new(MergedWindows::default()),
            grouped: PerGrouping::default(),
        }
    }

    pub(crate) fn spec(&self) -> &Aggregate {
        &self.spec
    }

    pub(crate) fn plan(&self) -> &AccumulatorPlan {
        &self.plan
    }

    /// What a table over a source serving from this store takes from it: the spec's
    /// window and order, and the retention as the longest window.
    pub(crate) fn profile(&self) -> SourceProfile {
        SourceProfile::of_aggregate(&self.spec)
            .with_longest_window(Duration::from_nanos(self.retention.unsigned_abs()))
    }

    /// The sizes of the buckets and merged windows.
    pub(crate) fn sizes(&self) -> StoreSizes {
        let mut sizes = {
            let mut s = lock(&self.state);
            // Exact figures: forget the keys nothing holds any more.
            s.interner.sweep();
            StoreSizes {
                buckets: s.buckets.len(),
                groups: s.interner.len(),
                bucket_entries: s.buckets.values().map(|b| b.len()).sum(),
                table_bytes: s.buckets.values().map(|b| b.heap_bytes()).sum(),
                ..StoreSizes::default()
            }
        };
        let merged = lock(&self.merged);
        sizes.merged_windows = merged.windows.len();
        sizes.merged_entries = merged.windows.iter().map(|v| v.merged.len()).sum();
        sizes.table_bytes += merged
            .windows
            .iter()
            .map(|v| v.merged.heap_bytes())
            .sum::<usize>();
        sizes
    }

    /// The table for `ctx`, merged from the buckets (synchronous and CPU-bound: async
    /// callers run it on the blocking pool). `data_end` is where the data stops when
    /// it is known to stop before the window's end (a cache's last tail query).
    ///
    /// Three steps: pick the buckets under the ingest lock (briefly), fold the closed
    /// ones into the merged aggregate of the window's length, then select the rows
    /// from it and the open bucket.
    pub(crate) fn serve(&self, ctx: &FetchContext, data_end: Option<i64>) -> Result<Fetched> {
        let nanos = |t: &DateTime<Utc>| {
            to_nanos(t).ok_or_else(|| {
                Error::invalid_parameter(format!(
                    "window bound {t} is outside the years 1677-2262 the in-memory buckets \
                     support"
                ))
            })
        };
        let (start, end) = (nanos(&ctx.window.start)?, nanos(&ctx.window.end)?);
        let picked = self.pick(start, end);
        let covered = self.covered(ctx.window, &picked, data_end);

        let schema = self.spec.schema();
        let mut filters = Vec::with_capacity(ctx.filters.len());
        for f in &ctx.filters {
            let (i, _) = schema.require(f.column())?;
            filters.push((i, f.clone()));
        }
        let grouped = match &ctx.group_by {
            Some(positions) => Some((positions, self.grouped_plan(positions)?)),
            None => None,
        };
        let dims = self.plan.dims;
        let key_filters: Vec<(usize, Filter)> =
            filters.iter().filter(|(i, _)| *i < dims).cloned().collect();
        let trend_metric = match &ctx.trend {
            Some(name) => Some(self.trend_metric(name)?),
            None => None,
        };

        let mut merged = lock(&self.merged);
        let window = self.merged_window(&mut merged, end - start, picked.first_kept);
        window.update(&self.plan, &picked.closed);
        let rows = match &grouped {
            None => select::rows(
                &self.plan,
                &self.spec,
                &window.merged,
                window.bounds.as_mut(),
                &picked.open,
                &filters,
                ctx.limit,
            )?,
            Some((positions, grouped)) => {
                // Dimension filters apply to the full keys, before the roll-up; metric
                // filters to the rolled-up rows, where metrics follow the grouping.
                let on_metrics: Vec<_> = filters
                    .into_iter()
                    .filter(|(i, _)| *i >= dims)
                    .map(|(i, f)| (i - dims + positions.len(), f))
                    .collect();
                let rolled = select::roll_up(
                    &self.plan,
                    &window.merged,
                    &picked.open,
                    &key_filters,
                    positions,
                );
                drop(merged);
                let (spec, plan) = grouped.as_ref();
                select::rows(plan, spec, &rolled, None, &[], &on_metrics, ctx.limit)?
            }
        };
        let trend = trend_metric.map(|metric| {
            let (per_step, first, _) = trend::steps(end - start, self.width, picked.lo, picked.hi);
            let buckets = self.buckets_in(first * per_step, picked.hi);
            let all: Vec<usize> = (0..dims).collect();
            let input = TrendInput {
                plan: &self.plan,
                metric,
                length: end - start,
                width: self.width,
                lo: picked.lo,
                hi: picked.hi,
                buckets: &buckets,
                filters: &key_filters,
                positions: grouped.as_ref().map_or(&all, |(p, _)| p),
            };
            trend::trend(&input, &rows)
        });
        Ok(Fetched::new(rows).covering(covered).with_trend(trend))
    }

    /// The aggregate grouped by `positions` and its plan, built on first use.
    fn grouped_plan(&self, positions: &[usize]) -> Result<Arc<(Aggregate, AccumulatorPlan)>> {
        self.grouped.get_or_try_build(positions, || {
            let spec = self.spec.grouped(positions)?;
            let plan = AccumulatorPlan::new(&spec);
            Ok((spec, plan))
        })
    }

    /// The index among the metrics of the metric column `name`, and its name.
    fn trend_metric<'a>(&self, name: &'a str) -> Result<(usize, &'a str)> {
        let metrics = self.spec.metrics();
        match metrics.iter().position(|m| m.name == name) {
            Some(i) => Ok((i, name)),
            None => Err(Error::invalid_parameter(format!(
                "cannot show the trend of `{name}`: not a metric; {}",
                crate::error::one_of(metrics.iter().map(|m| m.name.as_str()))
            ))),
        }
    }

    /// The buckets `[from, to)` held, shared (for a trend, which may reach before the
    /// window).
    fn buckets_in(&self, from: i64, to: i64) -> Vec<(i64, Arc<Groups>)> {
        let s = lock(&self.state);
        s.buckets
            .range(from..to)
            .map(|(&i, b)| (i, b.clone()))
            .collect()
    }

    /// The buckets of `[start, end)` ns (shared, not copied), after moving the horizon
    /// to the fetch's end and evicting what fell behind it.
    fn pick(&self, start: i64, end: i64) -> Picked {
        let w = self.width;
        let (lo, hi) = (start.div_euclid(w), ceil_div(end, w));
        let mut s = lock(&self.state);
        if end > s.fetch_end_ns {
            s.fetch_end_ns = end;
            s.horizon_ns = s.horizon_ns.max(end.saturating_sub(self.retention));
        }
        s.evict(w);
        let mut picked = Picked {
            lo,
            hi,
            first_kept: s.horizon_ns.div_euclid(w),
            closed: Vec::new(),
            open: Vec::new(),
        };
        for (&i, b) in s.buckets.range(lo..hi) {
            if i < s.newest_bucket {
                picked.closed.push((i, b.clone()));
            } else {
                picked.open.push(b.clone());
            }
        }
        picked
    }

    /// The window the rows really cover: whole buckets, from the first one kept, up
    /// to where the data stops.
    fn covered(&self, asked: Window, picked: &Picked, data_end: Option<i64>) -> Window {
        let w = self.width;
        let bound = |b: i64| {
            b.checked_mul(w)
                .map(DateTime::from_timestamp_nanos)
                .unwrap_or(asked.start)
        };
        let end = match data_end {
            Some(e) if e < picked.hi.saturating_mul(w) => DateTime::from_timestamp_nanos(e),
            _ => bound(picked.hi),
        };
        Window::new(bound(picked.lo.max(picked.first_kept)), end).unwrap_or(asked)
    }

    /// The merged window for windows of `length` ns (created, evicting the least
    /// recently used, when missing), after every window let go of evicted buckets.
    fn merged_window<'a>(
        &self,
        merged: &'a mut MergedWindows,
        length: i64,
        first_kept: i64,
    ) -> &'a mut MergedWindow {
        merged.tick += 1;
        let pos = match merged.windows.iter().position(|v| v.length == length) {
            Some(p) => p,
            None => {
                if merged.windows.len() >= MAX_MERGED_WINDOWS
                    && let Some((p, _)) = merged
                        .windows
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, v)| v.last_used)
                {
                    merged.windows.swap_remove(p);
                }
                merged.windows.push(MergedWindow::new(length, &self.plan));
                merged.windows.len() - 1
            }
        };
        // Windows of other lengths let go of evicted buckets (and so of keys).
        let mut released = false;
        for v in &mut merged.windows {
            released |= v.evict_before(&self.plan, first_kept);
        }
        if released {
            lock(&self.state).interner.maybe_sweep();
        }
        let window = &mut merged.windows[pos];
        window.last_used = merged.tick;
        window
    }

    /// Builds the new content of buckets from (bucket index, group key, slots), without
    /// touching the buckets served: a (bucket, group) given twice is an error.
    pub(crate) fn stage(&self, rows: impl IntoIterator<Item = StagedRow>) -> Result<Staged> {
        let mut buckets: BTreeMap<i64, Groups> = BTreeMap::new();
        let mut s = lock(&self.state);
        let stride = self.plan.stride();
        let mut result = Ok(());
        for (idx, key, slots) in rows {
            let hash = hash_values(&key);
            let interned = s.interner.get(hash, &key).clone();
            let bucket = buckets.entry(idx).or_insert_with(|| Groups::new(stride));
            if bucket.find(hash, &interned).is_some() {
                result = Err(Error::new(
                    ErrorKind::Unexpected,
                    format!(
                        "the source returned the group {key:?} twice for the bucket starting \
                         at {}; a bucket query must return each (bucket, group) once",
                        DateTime::from_timestamp_nanos(idx.saturating_mul(self.width))
                    ),
                ));
                break;
            }
            bucket.insert(hash, &interned, &slots);
        }
        if let Err(e) = result {
            drop(buckets);
            s.interner.maybe_sweep();
            return Err(e);
        }
        Ok(Staged { buckets })
    }

    /// Replaces every bucket from index `from` on with `staged`, the data now covering
    /// up to `data_end` (ns): the buckets before the new horizon are evicted. Fails,
    /// changing nothing, when the buckets kept plus the new ones would hold more than
    /// `max_entries` (bucket, group) entries.
    ///
    /// Returns the number of (bucket, group) entries of the buckets before `settled`
    /// whose partials differ from what was held (added, removed or changed), for the
    /// reconcile's log.
    pub(crate) fn replace_from(
        &self,
        from: i64,
        staged: Staged,
        data_end: i64,
        max_entries: usize,
        settled: i64,
    ) -> Result<usize> {
        let w = self.width;
        let mut s = lock(&self.state);
        let horizon = s.horizon_ns.max(data_end.saturating_sub(self.retention));
        let first_kept = horizon.div_euclid(w);
        let kept: usize = s
            .buckets
            .range(first_kept..from)
            .map(|(_, b)| b.len())
            .sum();
        let fresh: usize = staged
            .buckets
            .range(first_kept..)
            .map(|(_, b)| b.len())
            .sum();
        if kept + fresh > max_entries {
            drop(staged);
            s.interner.maybe_sweep();
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "the bucket cache would hold {} (bucket, group) entries, over its bound \
                     of {max_entries}; raise max_entries, use wider buckets, a shorter \
                     retention or fewer dimensions",
                    kept + fresh
                ),
            )
            .with_context("setting", "max_entries"));
        }
        let replaced = s.buckets.split_off(&from);
        let differing = count_differences(&self.plan, &replaced, &staged.buckets, settled);
        for (idx, groups) in staged.buckets {
            s.buckets.insert(idx, Arc::new(groups));
        }
        drop(replaced);
        s.newest_ns = s.newest_ns.max(data_end);
        s.newest_bucket = s.newest_bucket.max((data_end - 1).div_euclid(w));
        s.horizon_ns = horizon;
        s.evict(w);
        s.interner.maybe_sweep();
        Ok(differing)
    }
}

/// (bucket, group) entries that differ between two versions of the buckets before
/// `before`.
fn count_differences(
    plan: &AccumulatorPlan,
    old: &BTreeMap<i64, Arc<Groups>>,
    new: &BTreeMap<i64, Groups>,
    before: i64,
) -> usize {
    let empty = Groups::new(plan.stride());
    let mut differing = 0;
    for (idx, n) in new.range(..before) {
        let o = old.get(idx).map_or(&empty, |b| b.as_ref());
        differing += (0..n.len())
            .filter(|&r| {
                o.find(n.hash(r), n.key(r))
                    .is_none_or(|or| !same_partials(o.slots(or), n.slots(r)))
            })
            .count();
        differing += (0..o.len())
            .filter(|&r| n.find(o.hash(r), o.key(r)).is_none())
            .count();
    }
    differing
        + old
            .range(..before)
            .filter(|(i, _)| !new.contains_key(i))
            .map(|(_, b)| b.len())
            .sum::<usize>()
}
