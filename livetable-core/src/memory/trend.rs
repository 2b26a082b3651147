//! Each output row's metric per time step, from the buckets: the [`Trend`] of a fetch.

use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use hashbrown::HashTable;

use super::accumulator::{AccumulatorPlan, Slot};
use super::groups::Groups;
use crate::filter::Filter;
use crate::key::{hash_projected, hash_values, projected_eq};
use crate::schema::Row;
use crate::trend::Trend;

/// Steps per window length: a step is as many buckets as it takes to cut the window in
/// at most this many (an hour of 10 s buckets: one-minute steps).
pub(super) const STEPS_PER_WINDOW: i64 = 60;

/// The steps of a window of `length` ns over buckets `[lo, hi)` of `width` ns: buckets
/// per step (from the length alone, so it stays put as the window slides), and the
/// first and last step, aligned to multiples of the step since the epoch. The first
/// step is the first one wholly inside the window, so no point ever loses buckets as
/// the window slides (it leaves whole, at a roll-over); the last one holds the end and
/// is still filling.
pub(super) fn steps(length: i64, width: i64, lo: i64, hi: i64) -> (i64, i64, i64) {
    let buckets = (length + width - 1) / width;
    let per_step = ((buckets + STEPS_PER_WINDOW - 1) / STEPS_PER_WINDOW).max(1);
    let first = lo.div_euclid(per_step) + i64::from(lo.rem_euclid(per_step) != 0);
    (per_step, first, (hi - 1).div_euclid(per_step).max(first))
}

/// What a trend is computed from.
pub(super) struct TrendInput<'a> {
    pub(super) plan: &'a AccumulatorPlan,
    /// The metric's index among the plan's metrics, and its column name.
    pub(super) metric: (usize, &'a str),
    /// The window's length and bucket width (ns), and its buckets `[lo, hi)`.
    pub(super) length: i64,
    pub(super) width: i64,
    pub(super) lo: i64,
    pub(super) hi: i64,
    /// The buckets from the first step's start to `hi`, with their index.
    pub(super) buckets: &'a [(i64, Arc<Groups>)],
    /// Dimension filters on the full keys (key position, filter).
    pub(super) filters: &'a [(usize, Filter)],
    /// The key positions of the rows' dimensions (all of them, or the grouping).
    pub(super) positions: &'a [usize],
}

/// One series per row of `rows` (whose first `positions.len()` values are the key).
pub(super) fn trend(input: &TrendInput<'_>, rows: &[Row]) -> Trend {
    let plan = input.plan;
    let (per_step, first, last) = steps(input.length, input.width, input.lo, input.hi);
    let points = (last - first + 1) as usize;
    let width = input.positions.len();
    // The rows by key; a group's key is projected, hashed and compared in place.
    let key = |i: usize| &rows[i].values()[..width];
    let mut index: HashTable<usize> = HashTable::with_capacity(rows.len());
    for i in 0..rows.len() {
        index.insert_unique(hash_values(key(i)), i, |&j| hash_values(key(j)));
    }
    let stride = plan.stride();
    // Slots per (row, step), created on first use: most rows have events in few steps.
    let mut acc: Vec<Option<Vec<Slot>>> = vec![None; rows.len() * points];
    for (b, groups) in input.buckets {
        let Ok(step) = usize::try_from(b.div_euclid(per_step) - first) else {
            continue;
        };
        if step >= points {
            continue;
        }
        for g in 0..groups.len() {
            let full = groups.key(g);
            let hash = hash_projected(full, input.positions);
            let Some(&row) = index.find(hash, |&i| projected_eq(key(i), full, input.positions))
            else {
                continue;
            };
            if !input.filters.iter().all(|(i, f)| f.matches(&full[*i])) {
                continue;
            }
            let slots = acc[row * points + step].get_or_insert_with(|| plan.init().to_vec());
            debug_assert_eq!(slots.len(), stride);
            plan.merge(slots, groups.slots(g));
        }
    }
    let (m, name) = input.metric;
    let empty = plan.metric(m, plan.init());
    let series = acc
        .chunks(points)
        .map(|row| {
            row.iter()
                .map(|s| {
                    s.as_ref()
                        .map_or_else(|| empty.clone(), |s| plan.metric(m, s))
                })
                .collect::<Vec<_>>()
                .into()
        })
        .collect();
    let step_ns = per_step * input.width;
    Trend {
        metric: name.to_owned(),
        start: DateTime::from_timestamp_nanos(first * step_ns),
        step: Duration::from_nanos(step_ns.unsigned_abs()),
        points,
        empty,
        series,
    }
}
