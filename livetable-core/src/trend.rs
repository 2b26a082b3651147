//! [`Trend`]: each row's metric per time step across the window, the data of a
//! sparkline; and [`TrendPatch`], its change from one snapshot to the next.
//!
//! Steps are aligned to multiples of the step since the epoch, so between two
//! roll-overs a tick changes only a row's newest point, and a roll-over moves every
//! series by one step, which a viewer applies by itself: a patch carries the shift once
//! and, per row, only the points that differ from the shifted series.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rustc_hash::FxHashMap;

use crate::error::{Error, ErrorKind, Result};
use crate::key::{key_of, keys_lead};
use crate::schema::Row;
use crate::snapshot::Snapshot;
use crate::value::Value;

/// Each row's value of one metric per time step, oldest first: what a sparkline draws.
///
/// Asked for with [`FetchContext::trend`](crate::FetchContext::trend) from a source
/// whose [`supports_trend`](crate::TableQuery::supports_trend) is true. The steps are
/// aligned to multiples of `step` since the epoch, from the first one wholly inside the
/// window (so the series may start up to one step after the window does, and its
/// oldest point never shrinks as the window slides) to the one holding the window's
/// end (the newest point, still filling).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Trend {
    /// The metric column followed.
    pub metric: String,
    /// The start of the first step.
    pub start: DateTime<Utc>,
    /// The length of a step: a whole number of the source's time buckets.
    pub step: Duration,
    /// Points per row.
    pub points: usize,
    /// What a step without events shows: `0` for counts, `Null` for other metrics.
    pub empty: Value,
    /// One series per row, in the rows' order, `points` values each.
    pub series: Vec<Arc<[Value]>>,
}

impl Trend {
    /// Checks that there is one series of `points` values per row.
    pub fn check(&self, rows: usize) -> Result<()> {
        if self.series.len() != rows || self.series.iter().any(|s| s.len() != self.points) {
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!(
                    "the source's trend has {} series for {rows} rows, or a series that is \
                     not {} points long",
                    self.series.len(),
                    self.points
                ),
            ));
        }
        Ok(())
    }

    /// How many steps `self` starts after `earlier`, when both share a metric, a step
    /// and an empty value and `self` does not start before it.
    fn steps_after(&self, earlier: &Trend) -> Option<usize> {
        if self.metric != earlier.metric || self.step != earlier.step || self.empty != earlier.empty
        {
            return None;
        }
        let step = TimeDelta::from_std(self.step).ok()?.num_nanoseconds()?;
        let moved = (self.start - earlier.start).num_nanoseconds()?;
        (step > 0 && moved >= 0 && moved % step == 0).then(|| (moved / step) as usize)
    }

    /// `series` moved `k` steps on: its first `k` points dropped, empty ones added, and
    /// cut or padded to this trend's length.
    fn shifted(&self, series: &[Value], k: usize) -> Vec<Value> {
        let mut out: Vec<Value> = series.iter().skip(k).take(self.points).cloned().collect();
        out.resize(self.points, self.empty.clone());
        out
    }
}

/// The change of the trend between two versions (see [`Patch::trend`]).
///
/// To apply it: move every kept row's series on by `(start − previous start) / step`
/// steps (drop as many points at the front, add `empty` ones at the end), then for each
/// change replace the row's series from `at` on with `points`. Rows inserted by the
/// patch come as changes at `0`.
///
/// [`Patch::trend`]: crate::Patch::trend
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TrendPatch {
    /// The metric followed.
    pub metric: String,
    /// The new start of the first step.
    pub start: DateTime<Utc>,
    /// The length of a step.
    pub step: Duration,
    /// Points per row.
    pub points: usize,
    /// What a step without events shows.
    pub empty: Value,
    /// The rows whose series differ from their moved-on previous series.
    pub changes: Vec<TrendChange>,
}

/// One row's new points: its series from `at` on.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TrendChange {
    /// The row's key (its dimension values in key order), as in
    /// [`Patch::removed`](crate::Patch::removed).
    pub key: Vec<Value>,
    /// The first point that changed.
    pub at: usize,
    /// The points from `at` to the end.
    pub points: Vec<Value>,
}

/// The trend change from `old` to `new`: `None` when `new` has no trend.
pub(crate) fn diff(old: &Snapshot, new: &Snapshot) -> Option<TrendPatch> {
    let trend = new.trend.as_deref()?;
    let previous = old.trend.as_deref().and_then(|t| {
        let k = trend.steps_after(t)?;
        Some((t, k))
    });
    let key_indices = new.schema.key_indices();
    let leading = keys_lead(&new.schema);
    let before: FxHashMap<&[Value], &Arc<[Value]>> = match previous {
        Some((t, _)) if old.schema == new.schema => old
            .rows
            .iter()
            .zip(&t.series)
            .filter_map(|(row, series)| match key_of(row, key_indices, leading) {
                std::borrow::Cow::Borrowed(key) => Some((key, series)),
                // Keys that do not lead are rare (custom schemas): they are sent whole.
                std::borrow::Cow::Owned(_) => None,
            })
            .collect(),
        _ => FxHashMap::default(),
    };
    let changes = new
        .rows
        .iter()
        .zip(&trend.series)
        .filter_map(|(row, series)| {
            let key = key_of(row, key_indices, leading);
            let at = match (previous, before.get(key.as_ref())) {
                (Some((_, k)), Some(old)) => {
                    let moved = trend.shifted(old, k);
                    series.iter().zip(&moved).position(|(a, b)| a != b)?
                }
                _ => 0,
            };
            Some(TrendChange {
                key: key.into_owned(),
                at,
                points: series[at..].to_vec(),
            })
        })
        .collect();
    Some(TrendPatch {
        metric: trend.metric.clone(),
        start: trend.start,
        step: trend.step,
        points: trend.points,
        empty: trend.empty.clone(),
        changes,
    })
}

/// The trend of `rows` (the patched rows of `old`) after `patch`.
pub(crate) fn apply(old: &Snapshot, patch: &TrendPatch, rows: &[Row]) -> Result<Trend> {
    let mut trend = Trend {
        metric: patch.metric.clone(),
        start: patch.start,
        step: patch.step,
        points: patch.points,
        empty: patch.empty.clone(),
        series: Vec::with_capacity(rows.len()),
    };
    let key_indices = old.schema.key_indices();
    let leading = keys_lead(&old.schema);
    let mut by_key: FxHashMap<Vec<Value>, Vec<Value>> = FxHashMap::default();
    if let Some(previous) = old.trend.as_deref()
        && let Some(k) = trend.steps_after(previous)
    {
        for (row, series) in old.rows.iter().zip(&previous.series) {
            let key = key_of(row, key_indices, leading).into_owned();
            by_key.insert(key, trend.shifted(series, k));
        }
    }
    for change in &patch.changes {
        let mut series = match by_key.remove(&change.key) {
            Some(s) => s,
            None if change.at == 0 => Vec::new(),
            None => {
                return Err(Error::new(
                    ErrorKind::InvalidParameter,
                    format!(
                        "the trend changes the series of {:?} from point {}, but that row \
                         had none; take a full snapshot",
                        change.key, change.at
                    ),
                ));
            }
        };
        series.truncate(change.at);
        series.extend_from_slice(&change.points);
        series.resize(trend.points, trend.empty.clone());
        by_key.insert(change.key.clone(), series);
    }
    for row in rows {
        let key = key_of(row, key_indices, leading);
        let series = by_key
            .remove(key.as_ref())
            .unwrap_or_else(|| vec![trend.empty.clone(); trend.points]);
        trend.series.push(series.into());
    }
    Ok(trend)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{Column, DataType, Schema, Window};

    fn snapshot(version: u64, start_step: i64, rows: &[(i64, Vec<i64>)]) -> Snapshot {
        let schema = Arc::new(
            Schema::new(vec![
                Column::dimension("k", DataType::Int),
                Column::metric("n", DataType::Int),
            ])
            .unwrap(),
        );
        let window = Window::ending_at(
            DateTime::from_timestamp(6000, 0).unwrap(),
            Duration::from_secs(600),
        )
        .unwrap();
        let mut snap = Snapshot::new(
            schema,
            rows.iter()
                .map(|(k, s)| Row::new(vec![Value::Int(*k), Value::Int(s.iter().sum())]))
                .collect(),
            window,
        );
        snap.version = version;
        snap.trend = Some(Arc::new(Trend {
            metric: "n".into(),
            start: DateTime::from_timestamp(start_step * 60, 0).unwrap(),
            step: Duration::from_secs(60),
            points: 4,
            empty: Value::Int(0),
            series: rows
                .iter()
                .map(|(_, s)| s.iter().map(|v| Value::Int(*v)).collect())
                .collect(),
        }));
        snap
    }

    #[test]
    fn a_tick_sends_the_newest_point_and_a_roll_over_only_what_the_shift_misses() {
        let old = snapshot(1, 10, &[(1, vec![1, 2, 3, 4]), (2, vec![5, 0, 0, 1])]);
        // Between roll-overs: row 1's newest point grows, row 2 is unchanged.
        let tick = snapshot(2, 10, &[(1, vec![1, 2, 3, 6]), (2, vec![5, 0, 0, 1])]);
        let patch = old.diff(&tick);
        let t = patch.trend.as_ref().unwrap();
        assert_eq!(t.changes.len(), 1);
        assert_eq!(
            (t.changes[0].at, t.changes[0].points.clone()),
            (3, vec![Value::Int(6)])
        );
        assert_eq!(old.apply(&patch).unwrap().trend, tick.trend);
        // A roll-over: every series moves on a step; row 2, with no new event, is not sent.
        let rolled = snapshot(3, 11, &[(1, vec![2, 3, 6, 1]), (2, vec![0, 0, 1, 0])]);
        let patch = tick.diff(&rolled);
        let t = patch.trend.as_ref().unwrap();
        assert_eq!(t.changes.len(), 1);
        assert_eq!(
            (t.changes[0].at, t.changes[0].points.clone()),
            (3, vec![Value::Int(1)])
        );
        assert_eq!(tick.apply(&patch).unwrap().trend, rolled.trend);
    }

    proptest! {
        /// Applying the patch of any two versions gives the new trend, rows in any order,
        /// inserted and removed rows included.
        #[test]
        fn apply_of_diff_is_the_new_trend(
            old in prop::collection::btree_map(0i64..8, prop::collection::vec(0i64..3, 4), 0..6),
            new in prop::collection::btree_map(0i64..8, prop::collection::vec(0i64..3, 4), 0..6),
            shift in 0i64..6,
        ) {
            let old: Vec<(i64, Vec<i64>)> = old.into_iter().collect();
            let mut new: Vec<(i64, Vec<i64>)> = new.into_iter().collect();
            new.reverse();
            let (a, b) = (snapshot(1, 100, &old), snapshot(2, 100 + shift, &new));
            let applied = a.apply(&a.diff(&b)).unwrap();
            // A patch carries no row order: compare (row, series) pairs by key.
            let pairs = |s: &Snapshot| {
                let mut p: Vec<(Row, Arc<[Value]>)> = s
                    .rows
                    .iter()
                    .cloned()
                    .zip(s.trend.as_ref().unwrap().series.iter().cloned())
                    .collect();
                p.sort_by(|x, y| x.0.values().cmp(y.0.values()));
                p
            };
            prop_assert_eq!(pairs(&applied), pairs(&b));
            prop_assert_eq!(applied.trend.as_ref().unwrap().start, b.trend.as_ref().unwrap().start);
        }
    }
}
