//! Turns a merged aggregate plus the open buckets into the ordered, limited rows,
//! materialising only the rows that can make the top N.

use std::cmp::Ordering;
use std::sync::Arc;

use super::accumulator::{AccumulatorPlan, LeadingScore, Slot};
use super::groups::Groups;
use super::merged::{CHUNK, ChunkBounds};
use crate::aggregate::Aggregate;
use crate::error::Result;
use crate::filter::Filter;
use crate::key::hash_projected;
use crate::schema::Row;
use crate::value::Value;

/// Keeps the best `limit` rows seen: a buffer of up to `2 × limit` rows, cut back to
/// `limit` by quickselect when full; the worst kept row is then a threshold that most
/// groups fail without being materialised. O(groups + limit · log limit).
struct TopN<'a> {
    plan: &'a AccumulatorPlan,
    spec: &'a Aggregate,
    filters: &'a [(usize, Filter)],
    limit: Option<usize>,
    rows: Vec<Row>,
    threshold: Option<Row>,
    /// The leading order key as an integer, with the worst kept row's score.
    lead: Option<(LeadingScore, i128)>,
}

impl TopN<'_> {
    fn offer(&mut self, key: &[Value], slots: &[Slot]) -> Result<()> {
        self.plan.check(slots, key)?;
        for (i, f) in self.filters {
            let passes = if *i < self.plan.dims {
                f.matches(&key[*i])
            } else {
                f.matches(&self.plan.output(*i, key, slots))
            };
            if !passes {
                return Ok(());
            }
        }
        if let Some((lead, worst)) = &self.lead {
            let score = lead.of(slots);
            if (lead.desc && score < *worst) || (!lead.desc && score > *worst) {
                return Ok(());
            }
        }
        if let Some(t) = &self.threshold
            && self.plan.cmp_with_row(key, slots, t.values()) != Ordering::Less
        {
            return Ok(());
        }
        self.rows.push(Row::new(self.plan.row(key, slots)));
        if let Some(n) = self.limit
            && self.rows.len() >= 2 * n
        {
            let spec = self.spec;
            self.rows
                .select_nth_unstable_by(n - 1, |a, b| spec.compare_rows(a, b));
            self.rows.truncate(n);
            let worst = self.rows[n - 1].clone();
            self.lead = self
                .plan
                .leading_score()
                .map(|lead| (lead, LeadingScore::of_value(&worst[lead.position])));
            self.threshold = Some(worst);
        }
        Ok(())
    }
}

/// The table rows: `merged` combined with the `open` buckets, filtered by `filters`
/// (output position, filter), in table order, at most `limit` rows (the spec's limit
/// is applied too).
pub(super) fn rows(
    plan: &AccumulatorPlan,
    spec: &Aggregate,
    merged: &Groups,
    mut bounds: Option<&mut ChunkBounds>,
    open: &[Arc<Groups>],
    filters: &[(usize, Filter)],
    limit: Option<usize>,
) -> Result<Vec<Row>> {
    let limit = match (spec.limit(), limit) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut top = TopN {
        plan,
        spec,
        filters,
        limit,
        rows: Vec::new(),
        threshold: None,
        lead: None,
    };
    if limit == Some(0) {
        return Ok(Vec::new());
    }

    // Groups of the open buckets, combined with their merged state; those merged rows
    // are then skipped.
    let mut overlay = Groups::with_capacity(plan.stride(), open.iter().map(|b| b.len()).sum());
    let mut replaced = vec![false; if open.is_empty() { 0 } else { merged.len() }];
    for bucket in open {
        for row in 0..bucket.len() {
            let (hash, key) = (bucket.hash(row), bucket.key(row));
            let before = overlay.len();
            let r = overlay.row_or_insert(hash, key, plan.init());
            if r == before
                && let Some(m) = merged.find(hash, key)
            {
                overlay.slots_mut(r).clone_from_slice(merged.slots(m));
                replaced[m] = true;
            }
            plan.merge(overlay.slots_mut(r), bucket.slots(row));
        }
    }

    for (c, start) in (0..merged.len()).step_by(CHUNK).enumerate() {
        let rows = start..merged.len().min(start + CHUNK);
        let Some(bounds) = bounds.as_deref_mut() else {
            for r in rows {
                if replaced.get(r) != Some(&true) {
                    top.offer(merged.key(r), merged.slots(r))?;
                }
            }
            continue;
        };
        // A chunk whose best score is worse than the worst row kept holds no top row.
        if let (Some((lead, worst)), Some(bound)) = (&top.lead, bounds.get(c))
            && ((lead.desc && bound < *worst) || (!lead.desc && bound > *worst))
        {
            continue;
        }
        let mut best = bounds.worst();
        for r in rows {
            best = bounds.better(best, bounds.lead.of(merged.slots(r)));
            if replaced.get(r) != Some(&true) {
                top.offer(merged.key(r), merged.slots(r))?;
            }
        }
        bounds.tighten(c, best);
    }
    for r in 0..overlay.len() {
        top.offer(overlay.key(r), overlay.slots(r))?;
    }
    let mut rows = top.rows;
    spec.order_and_limit(&mut rows, limit);
    Ok(rows)
}

/// The groups of `merged` and the `open` buckets that pass the dimension `filters`
/// (key position, filter), merged by their values at `positions`: the same aggregate
/// grouped by fewer dimensions. Partials merge exactly (sums add, extremes compare,
/// distinct sets unite), so every metric is what a direct query with that grouping
/// returns. O(groups).
pub(super) fn roll_up(
    plan: &AccumulatorPlan,
    merged: &Groups,
    open: &[Arc<Groups>],
    filters: &[(usize, Filter)],
    positions: &[usize],
) -> Groups {
    let mut rolled = Groups::new(plan.stride());
    for groups in std::iter::once(merged).chain(open.iter().map(|b| b.as_ref())) {
        for r in 0..groups.len() {
            let full = groups.key(r);
            if !filters.iter().all(|(i, f)| f.matches(&full[*i])) {
                continue;
            }
            // The projected key is hashed and compared in place; only a new rolled-up
            // group gathers (clones) its values.
            let hash = hash_projected(full, positions);
            let row = match rolled.find_projected(hash, full, positions) {
                Some(row) => row,
                None => {
                    let key: Arc<[Value]> = positions.iter().map(|&p| full[p].clone()).collect();
                    rolled.insert(hash, &key, plan.init())
                }
            };
            plan.merge(rolled.slots_mut(row), groups.slots(r));
        }
    }
    rolled
}
