//! Row-level patches between two snapshots, keyed by the dimension values.

use std::borrow::Cow;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use crate::key::{hash_values, key_of, keys_lead, values_eq};
use crate::schema::Row;
use crate::snapshot::{FetchInfo, Snapshot, Status};
use crate::trend::TrendPatch;
use crate::value::Value;

/// The change from one snapshot version to the next: rows inserted, rows whose values
/// changed (sent whole), keys of rows removed, and the new snapshot's metadata.
///
/// A patch carries no row order: a viewer keeps its own sort (the table's default order
/// is part of its description). [`Snapshot::apply`] puts updated rows in place, drops
/// removed ones and appends inserted ones.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Patch {
    /// The version this patch applies to.
    pub from_version: u64,
    /// The version it produces.
    pub to_version: u64,
    /// Rows whose key was not in the previous snapshot.
    pub inserted: Vec<Row>,
    /// Rows whose key was there with other values.
    pub updated: Vec<Row>,
    /// Keys (dimension values in key order) of rows no longer there.
    pub removed: Vec<Vec<Value>>,
    /// Where the new snapshot's rows come from.
    pub fetch: FetchInfo,
    /// The new snapshot's status.
    pub status: Status,
    /// The trend's change, when the view has a trend (see [`TrendPatch`]).
    pub trend: Option<TrendPatch>,
}

impl Patch {
    /// Whether the patch changes no row (only metadata such as the time or status).
    pub fn is_empty(&self) -> bool {
        self.inserted.is_empty()
            && self.updated.is_empty()
            && self.removed.is_empty()
            && self.trend.as_ref().is_none_or(|t| t.changes.is_empty())
    }

    /// The number of rows touched.
    pub fn changed_rows(&self) -> usize {
        self.inserted.len() + self.updated.len() + self.removed.len()
    }
}

/// The patch turning `old` into `new` (see [`Snapshot::diff`]).
///
/// Runs in O(rows) with one hash table over the old rows' keys; a row that kept its
/// place is found there without hashing. Rows are compared whole.
pub(crate) fn diff(old: &Snapshot, new: &Snapshot) -> Patch {
    let key_indices = new.schema.key_indices();
    let leading = keys_lead(&new.schema);
    let old_keys: Vec<Cow<'_, [Value]>> = old
        .rows
        .iter()
        .map(|r| key_of(r, key_indices, leading))
        .collect();
    let old_hashes: Vec<u64> = old_keys.iter().map(|k| hash_values(k)).collect();
    // Old row by key; a repeated key maps to its last row, as a map insert would.
    let mut previous: HashTable<usize> = HashTable::with_capacity(old_keys.len());
    let mut repeated = false;
    for (i, (key, &hash)) in old_keys.iter().zip(&old_hashes).enumerate() {
        match previous.entry(hash, |&j| values_eq(&old_keys[j], key), |&j| old_hashes[j]) {
            Entry::Occupied(mut e) => {
                *e.get_mut() = i;
                repeated = true;
            }
            Entry::Vacant(e) => {
                e.insert(i);
            }
        }
    }

    let mut inserted = Vec::new();
    let mut updated = Vec::new();
    // With unique old keys, an old row is matched at most once: `matched` says which
    // were, and rows that kept their place are found by position, without hashing.
    let mut matched = vec![false; if repeated { 0 } else { old.rows.len() }];
    let mut next = 0;
    for row in &new.rows {
        let key = key_of(row, key_indices, leading);
        let found = if repeated {
            previous
                .find_entry(hash_values(&key), |&j| values_eq(&old_keys[j], &key))
                .ok()
                .map(|e| e.remove().0)
        } else if next < old_keys.len() && !matched[next] && values_eq(&old_keys[next], &key) {
            Some(next)
        } else {
            previous
                .find(hash_values(&key), |&j| values_eq(&old_keys[j], &key))
                .copied()
                .filter(|&j| !matched[j])
        };
        match found {
            None => inserted.push(row.clone()),
            Some(j) => {
                if !repeated {
                    matched[j] = true;
                }
                next = j + 1;
                // The keys are equal: when they lead, the rest tells.
                let (a, b) = (old.rows[j].values(), row.values());
                let same = if leading {
                    values_eq(&a[key_indices.len()..], &b[key_indices.len()..])
                } else {
                    values_eq(a, b)
                };
                if !same {
                    updated.push(row.clone());
                }
            }
        }
    }
    // What is left was not in the new snapshot. Keep the old order for determinism.
    let removed = old
        .rows
        .iter()
        .enumerate()
        .filter(|&(i, _)| {
            if repeated {
                previous
                    .find(old_hashes[i], |&j| values_eq(&old_keys[j], &old_keys[i]))
                    .is_some()
            } else {
                !matched[i]
            }
        })
        .map(|(_, r)| r.key(key_indices))
        .collect();
    Patch {
        from_version: old.version,
        to_version: new.version,
        inserted,
        updated,
        removed,
        fetch: new.fetch.clone(),
        status: new.status.clone(),
        trend: crate::trend::diff(old, new),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::DateTime;
    use proptest::prelude::*;
    use rustc_hash::FxHashMap;

    use super::*;
    use crate::{Column, DataType, Schema, Window};

    fn schema(leading: bool) -> Arc<Schema> {
        let mut cols = vec![
            Column::dimension("k", DataType::Int),
            Column::dimension("j", DataType::Text),
            Column::metric("v", DataType::Int),
        ];
        if !leading {
            cols.rotate_left(1); // j, v, k: key columns not leading
        }
        Arc::new(Schema::new(cols).unwrap())
    }

    fn window() -> Window {
        Window::ending_at(
            DateTime::from_timestamp(600, 0).unwrap(),
            Duration::from_secs(60),
        )
        .unwrap()
    }

    fn by_key(s: &Snapshot) -> Vec<Row> {
        let mut rows = s.rows.clone();
        rows.sort_by_key(|r| r.key(s.schema.key_indices()));
        rows
    }

    /// Rows for `spec`, each key once (the first occurrence kept).
    fn make_rows(leading: bool, spec: &[(i64, u8, i64)]) -> Vec<Row> {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<_> = spec
            .iter()
            .copied()
            .filter(|&(k, j, _)| seen.insert((k, j)))
            .collect();
        rows_with_repeats(leading, &unique)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Applying every patch to the first snapshot reproduces every later snapshot.
        #[test]
        fn patches_replay_every_snapshot(
            leading in any::<bool>(),
            states in prop::collection::vec(
                prop::collection::vec((0i64..12, 0u8..3, 0i64..4), 0..30), 1..8),
        ) {
            let schema = schema(leading);
            let snaps: Vec<Snapshot> = states.iter().enumerate().map(|(v, rows)| {
                let mut s = Snapshot::new(schema.clone(), make_rows(leading, rows), window());
                s.version = v as u64;
                s
            }).collect();
            let mut replayed = snaps[0].clone();
            for pair in snaps.windows(2) {
                let patch = diff(&pair[0], &pair[1]);
                replayed = replayed.apply(&patch).unwrap();
                prop_assert_eq!(replayed.version, pair[1].version);
                prop_assert_eq!(by_key(&replayed), by_key(&pair[1]));
            }
        }
    }

    /// `diff` as first written (one map over the old keys), the reference for the
    /// faster one, including for snapshots that repeat a key.
    fn reference_diff(old: &Snapshot, new: &Snapshot) -> (Vec<Row>, Vec<Row>, Vec<Vec<Value>>) {
        let key_indices = new.schema.key_indices();
        let mut previous: FxHashMap<Vec<Value>, &Row> = FxHashMap::default();
        for row in &old.rows {
            previous.insert(row.key(key_indices), row);
        }
        let (mut inserted, mut updated) = (Vec::new(), Vec::new());
        for row in &new.rows {
            match previous.remove(&row.key(key_indices)) {
                None => inserted.push(row.clone()),
                Some(before) if before != row => updated.push(row.clone()),
                Some(_) => {}
            }
        }
        let removed = old
            .rows
            .iter()
            .filter(|r| previous.contains_key(&r.key(key_indices)))
            .map(|r| r.key(key_indices))
            .collect();
        (inserted, updated, removed)
    }

    fn rows_with_repeats(leading: bool, spec: &[(i64, u8, i64)]) -> Vec<Row> {
        spec.iter()
            .map(|&(k, j, v)| {
                let j = if j == 0 {
                    Value::Null
                } else {
                    Value::from(format!("j{j}"))
                };
                let mut vals = vec![Value::Int(k), j, Value::Int(v)];
                if !leading {
                    vals.rotate_left(1);
                }
                Row::new(vals)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The same patch as the reference, rows kept in place, moved or repeated.
        #[test]
        fn diff_matches_the_reference(
            leading in any::<bool>(),
            repeats in any::<bool>(),
            old in prop::collection::vec((0i64..12, 0u8..3, 0i64..3), 0..30),
            edits in prop::collection::vec((0usize..40, 0i64..12, 0u8..3, 0i64..3), 0..12),
        ) {
            let make = |spec: &[(i64, u8, i64)]| if repeats {
                rows_with_repeats(leading, spec)
            } else {
                make_rows(leading, spec)
            };
            // The new rows: the old ones with some replaced, so most keep their place.
            let mut new = old.clone();
            for &(at, k, j, v) in &edits {
                match at % 4 {
                    0 if !new.is_empty() => { let i = at % new.len(); new[i].2 = v; }
                    1 if !new.is_empty() => { new.remove(at % new.len()); }
                    2 => new.insert(at % (new.len() + 1), (k, j, v)),
                    _ => new.push((k, j, v)),
                }
            }
            let schema = schema(leading);
            let a = Snapshot::new(schema.clone(), make(&old), window());
            let b = Snapshot::new(schema, make(&new), window());
            let patch = diff(&a, &b);
            let (inserted, updated, removed) = reference_diff(&a, &b);
            prop_assert_eq!(patch.inserted, inserted);
            prop_assert_eq!(patch.updated, updated);
            prop_assert_eq!(patch.removed, removed);
        }
    }

    #[test]
    fn apply_refuses_a_gap() {
        let s = schema(true);
        let a = Snapshot::new(s.clone(), vec![], window());
        let mut b = Snapshot::new(s, make_rows(true, &[(1, 1, 1)]), window());
        b.version = 5;
        let mut patch = diff(&a, &b);
        patch.from_version = 3;
        let err = a.apply(&patch).unwrap_err();
        assert!(err.message().contains("take a full snapshot"), "{err}");
    }

    #[test]
    fn unchanged_rows_are_not_sent() {
        let s = schema(true);
        let rows = make_rows(true, &[(1, 1, 1), (2, 1, 2)]);
        let a = Snapshot::new(s.clone(), rows.clone(), window());
        let b = Snapshot::new(s, rows, window());
        assert!(diff(&a, &b).is_empty());
    }
}
