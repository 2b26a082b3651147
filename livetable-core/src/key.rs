//! Row and group keys: taking a row's key, hashing and comparing runs of values on hot
//! paths (ingest in [`MemorySource`](crate::MemorySource), [`Snapshot::diff`](crate::Snapshot::diff) and
//! [`Snapshot::apply`](crate::Snapshot::apply)).

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use rustc_hash::FxHasher;

use crate::schema::{Row, Schema};
use crate::value::Value;

/// The hash of a run of values: one word per value for the usual key types (a column
/// holds one type, so the type need not be hashed; values of different types that hash
/// alike only share a probe sequence). Equal runs (by [`values_eq`]) hash equally.
#[inline]
pub(crate) fn hash_values(values: &[Value]) -> u64 {
    hash_run(values.iter())
}

/// [`hash_values`] of the values of `key` at `positions`, without gathering them: the
/// hash of a group's key projected on fewer dimensions (a roll-up).
#[inline]
pub(crate) fn hash_projected(key: &[Value], positions: &[usize]) -> u64 {
    hash_run(positions.iter().map(|&p| &key[p]))
}

/// Whether `run` equals the values of `key` at `positions`.
#[inline]
pub(crate) fn projected_eq(run: &[Value], key: &[Value], positions: &[usize]) -> bool {
    run.len() == positions.len() && run.iter().zip(positions).all(|(v, &p)| *v == key[p])
}

#[inline]
fn hash_run<'a>(values: impl Iterator<Item = &'a Value>) -> u64 {
    let mut h = FxHasher::default();
    for v in values {
        match v {
            Value::Int(i) => h.write_i64(*i),
            Value::Ip(IpAddr::V4(ip)) => h.write_u32(u32::from(*ip)),
            Value::Text(s) => h.write(s.as_bytes()),
            v => v.hash(&mut h),
        }
    }
    h.finish()
}

/// Whether two runs of values are equal, as `==` on [`Value`] says, with the usual key
/// types compared directly.
#[inline]
pub(crate) fn values_eq(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Ip(x), Value::Ip(y)) => x == y,
            (Value::Text(x), Value::Text(y)) => x == y,
            (x, y) => x == y,
        })
}

/// A row's key, borrowed when the dimensions are the leading columns (the common case
/// and what every [`Aggregate`](crate::Aggregate) produces), owned otherwise.
pub(crate) fn key_of<'a>(row: &'a Row, key_indices: &[usize], leading: bool) -> Cow<'a, [Value]> {
    if leading {
        Cow::Borrowed(&row.values()[..key_indices.len()])
    } else {
        Cow::Owned(row.key(key_indices))
    }
}

/// Whether the key columns are the leading columns, in order.
pub(crate) fn keys_lead(schema: &Schema) -> bool {
    schema
        .key_indices()
        .iter()
        .enumerate()
        .all(|(i, &k)| i == k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Int),
            (-2i8..3).prop_map(|i| Value::Float(f64::from(i) * 0.5)),
            Just(Value::Float(-0.0)),
            Just(Value::Float(f64::NAN)),
            "[ab]{0,2}".prop_map(Value::Text),
            any::<[u8; 4]>().prop_map(|o| Value::Ip(IpAddr::from(o))),
        ]
    }

    proptest! {
        /// `values_eq` is `==`, and equal runs hash equally.
        #[test]
        fn equality_agrees_with_value_and_hashing(
            a in prop::collection::vec(value(), 0..4),
            b in prop::collection::vec(value(), 0..4),
        ) {
            prop_assert_eq!(values_eq(&a, &b), a == b);
            prop_assert!(values_eq(&a, &a));
            if values_eq(&a, &b) {
                prop_assert_eq!(hash_values(&a), hash_values(&b));
            }
        }
    }
}
