//! [`MergedWindow`]: a merged aggregate over the closed buckets of one window length, kept up
//! to date incrementally (a bucket is added once when it closes and subtracted once
//! when it leaves the window) so that a fetch does not re-merge every bucket.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::accumulator::{AccumulatorPlan, LeadingScore, Slot};
use super::groups::{Groups, Key};

/// Rows per chunk of [`ChunkBounds`]. Small, so that few chunks hold a top row: with
/// the top 500 of 800,000 groups, about 1 chunk of 128 rows in 13 does (of 1,024 rows,
/// one in two).
pub(super) const CHUNK: usize = 128;

/// For each chunk of [`CHUNK`] rows of a merged aggregate, a bound on the best leading
/// score in it (the highest for a descending order, the lowest for an ascending one).
/// Once the top-N has a worst kept row, a chunk whose bound is worse is skipped without
/// reading its rows: most of a heavy-tailed table's chunks hold no top row.
///
/// A bound only needs to stay *valid*, not tight: every change to a row includes the
/// row's new score (O(1)); a score that got worse leaves the bound loose, and the
/// top-N tightens a chunk to its exact best whenever it reads the chunk anyway.
#[derive(Debug)]
pub(super) struct ChunkBounds {
    pub(super) lead: LeadingScore,
    best: Vec<i128>,
}

impl ChunkBounds {
    fn new(lead: LeadingScore) -> Self {
        ChunkBounds {
            lead,
            best: Vec::new(),
        }
    }

    /// The worst possible score in the order: the bound of an empty chunk.
    pub(super) fn worst(&self) -> i128 {
        if self.lead.desc { i128::MIN } else { i128::MAX }
    }

    /// The better of two scores in the order.
    #[inline]
    pub(super) fn better(&self, a: i128, b: i128) -> i128 {
        if self.lead.desc { a.max(b) } else { a.min(b) }
    }

    /// Notes that `row` now holds these slots.
    #[inline]
    fn include(&mut self, row: usize, slots: &[Slot]) {
        let c = row / CHUNK;
        if c >= self.best.len() {
            let worst = self.worst();
            self.best.resize(c + 1, worst);
        }
        self.best[c] = self.better(self.best[c], self.lead.of(slots));
    }

    /// The bound of chunk `c` (`None`: unknown, read the chunk).
    #[inline]
    pub(super) fn get(&self, c: usize) -> Option<i128> {
        self.best.get(c).copied()
    }

    /// Sets chunk `c`'s bound to the exact best score just read.
    pub(super) fn tighten(&mut self, c: usize, best: i128) {
        if let Some(b) = self.best.get_mut(c) {
            *b = best;
        }
    }

    fn clear(&mut self) {
        self.best.clear();
    }
}

/// The merged aggregate of some closed buckets.
#[derive(Debug)]
pub(super) struct MergedWindow {
    /// The window length (ns) this merged aggregate serves. Keyed by the length asked
    /// for, not by the buckets it spans: a window whose end falls on a bucket edge spans
    /// one bucket less than the same window a tick later, and must not need a merged
    /// aggregate of its own (that rebuilt one at every bucket roll-over).
    pub(super) length: i64,
    /// The bucket versions merged in: an `Arc` of each, so a bucket changed since (a
    /// late event copies it on write) is noticed by pointer and its old version can
    /// be subtracted exactly.
    folded: BTreeMap<i64, Arc<Groups>>,
    /// Sum of the folded buckets, per group.
    pub(super) merged: Groups,
    /// For least-recently-used eviction among merged windows.
    pub(super) last_used: u64,
    /// Bounds on the leading order key per chunk of rows, when it is an integer.
    pub(super) bounds: Option<ChunkBounds>,
}

impl MergedWindow {
    pub(super) fn new(length: i64, plan: &AccumulatorPlan) -> Self {
        MergedWindow {
            length,
            folded: BTreeMap::new(),
            merged: Groups::new(plan.stride()),
            last_used: 0,
            bounds: plan.leading_score().map(ChunkBounds::new),
        }
    }

    /// Notes a change to `row`'s slots in the chunk bounds.
    #[inline]
    fn changed(&mut self, row: usize) {
        if let Some(b) = &mut self.bounds {
            b.include(row, self.merged.slots(row));
        }
    }

    /// Makes the view the sum of exactly `closed` (bucket index, version), sorted by
    /// index.
    pub(super) fn update(&mut self, plan: &AccumulatorPlan, closed: &[(i64, Arc<Groups>)]) {
        let unchanged = closed
            .iter()
            .filter(|(i, b)| self.folded.get(i).is_some_and(|f| Arc::ptr_eq(f, b)))
            .count();
        let changes = (self.folded.len() - unchanged) + (closed.len() - unchanged);
        if changes == 0 {
            return;
        }
        if changes > closed.len() {
            // Cheaper to start over (e.g. a window that jumped) than to walk the delta.
            self.folded.clear();
            self.merged.clear();
            if let Some(b) = &mut self.bounds {
                b.clear();
            }
        }

        let mut stale = Vec::new();
        self.folded.retain(|i, f| {
            let keep = closed
                .binary_search_by_key(i, |(j, _)| *j)
                .is_ok_and(|p| Arc::ptr_eq(&closed[p].1, f));
            if !keep {
                stale.push(f.clone());
            }
            keep
        });
        let dirty = self.subtract(plan, &stale);
        for (i, bucket) in closed {
            if self.folded.contains_key(i) {
                continue;
            }
            for row in 0..bucket.len() {
                let r = self
                    .merged
                    .row_or_insert(bucket.hash(row), bucket.key(row), plan.init());
                plan.merge(self.merged.slots_mut(r), bucket.slots(row));
                self.changed(r);
            }
            self.folded.insert(*i, bucket.clone());
        }
        self.recompute_extremes(plan, dirty);
    }

    /// Takes out the buckets before `first_kept` (evicted from the source), so a view
    /// not fetched for a while does not hold on to evicted data. Returns whether any
    /// was taken out.
    pub(super) fn evict_before(&mut self, plan: &AccumulatorPlan, first_kept: i64) -> bool {
        if self
            .folded
            .first_key_value()
            .is_none_or(|(&i, _)| i >= first_kept)
        {
            return false;
        }
        let kept = self.folded.split_off(&first_kept);
        let stale: Vec<Arc<Groups>> = std::mem::replace(&mut self.folded, kept)
            .into_values()
            .collect();
        let dirty = self.subtract(plan, &stale);
        self.recompute_extremes(plan, dirty);
        true
    }

    /// Subtracts bucket versions (no longer folded); returns the groups whose min/max
    /// must be recomputed.
    fn subtract(&mut self, plan: &AccumulatorPlan, stale: &[Arc<Groups>]) -> Vec<(u64, Key)> {
        let mut dirty = Vec::new();
        for bucket in stale {
            for row in 0..bucket.len() {
                let (hash, key) = (bucket.hash(row), bucket.key(row));
                let Some(r) = self.merged.find(hash, key) else {
                    continue;
                };
                if plan.subtract(self.merged.slots_mut(r), bucket.slots(row)) {
                    dirty.push((hash, key.clone()));
                }
                if AccumulatorPlan::events(self.merged.slots(r)) == 0 {
                    // The last row moves into `r`.
                    self.merged.remove(r);
                    if r < self.merged.len() {
                        self.changed(r);
                    }
                } else {
                    self.changed(r);
                }
            }
        }
        dirty
    }

    /// A min/max that left with a bucket: recompute it from the folded buckets.
    fn recompute_extremes(&mut self, plan: &AccumulatorPlan, dirty: Vec<(u64, Key)>) {
        for (hash, key) in dirty {
            let Some(r) = self.merged.find(hash, &key) else {
                continue;
            };
            plan.reset_extremes(self.merged.slots_mut(r));
            for bucket in self.folded.values() {
                if let Some(br) = bucket.find(hash, &key) {
                    plan.merge_extremes(self.merged.slots_mut(r), bucket.slots(br));
                }
            }
        }
    }
}
