//! [`MergedWindow`]: a merged aggregate over the closed buckets of one window length, kept up
//! to date incrementally (a bucket is added once when it closes and subtracted once
//! when it leaves the window) so that a fetch does not re-merge every bucket.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::accumulator::Plan;
use super::groups::{Groups, Key};

/// The merged aggregate of some closed buckets.
#[derive(Debug)]
pub(super) struct MergedWindow {
    /// The window length, in buckets, this merged aggregate serves.
    pub(super) span: i64,
    /// The bucket versions merged in: an `Arc` of each, so a bucket changed since (a
    /// late event copies it on write) is noticed by pointer and its old version can
    /// be subtracted exactly.
    folded: BTreeMap<i64, Arc<Groups>>,
    /// Sum of the folded buckets, per group.
    pub(super) merged: Groups,
    /// For least-recently-used eviction among merged windows.
    pub(super) last_used: u64,
}

impl MergedWindow {
    pub(super) fn new(span: i64, stride: usize) -> Self {
        MergedWindow {
            span,
            folded: BTreeMap::new(),
            merged: Groups::new(stride),
            last_used: 0,
        }
    }

    /// Makes the view the sum of exactly `closed` (bucket index, version), sorted by
    /// index.
    pub(super) fn update(&mut self, plan: &Plan, closed: &[(i64, Arc<Groups>)]) {
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
            }
            self.folded.insert(*i, bucket.clone());
        }
        self.recompute_extremes(plan, dirty);
    }

    /// Takes out the buckets before `first_kept` (evicted from the source), so a view
    /// not fetched for a while does not hold on to evicted data. Returns whether any
    /// was taken out.
    pub(super) fn evict_before(&mut self, plan: &Plan, first_kept: i64) -> bool {
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
    fn subtract(&mut self, plan: &Plan, stale: &[Arc<Groups>]) -> Vec<(u64, Key)> {
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
                if Plan::events(self.merged.slots(r)) == 0 {
                    self.merged.remove(r);
                }
            }
        }
        dirty
    }

    /// A min/max that left with a bucket: recompute it from the folded buckets.
    fn recompute_extremes(&mut self, plan: &Plan, dirty: Vec<(u64, Key)>) {
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
