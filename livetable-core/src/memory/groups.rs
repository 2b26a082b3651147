//! [`Groups`]: a dense table of groups and their slots, the storage of a time bucket
//! and of a merged aggregate alike; and [`Interner`], which holds each group key once.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};

use super::accumulator::Slot;
use crate::value::Value;

/// A group key, shared by every bucket and merged aggregate holding the group.
pub(super) type Key = Arc<[Value]>;

/// The identity of an interned key: its address. Sound because every holder of a
/// group holds a clone of the same `Arc`, so the address stays unique while anyone
/// still refers to it (and the interner only forgets a key nobody else holds).
#[inline]
pub(super) fn key_id(key: &Key) -> usize {
    Arc::as_ptr(key).cast::<Value>() as usize
}

/// Group keys, each stored once; looked up by the `&[Value]` slice of an event's
/// dimensions, so an existing group costs one hash and no allocation. (`HashTable`
/// because std's maps cannot look up, then insert, with one hash of a borrowed key.)
#[derive(Debug, Default)]
pub(super) struct Interner {
    keys: HashTable<Key>,
}

impl Interner {
    /// The shared key for `dims`, created on first sight.
    #[inline]
    pub(super) fn get(&mut self, dims: &[Value]) -> &Key {
        let hash = FxBuildHasher.hash_one(dims);
        self.keys
            .entry(hash, |k| **k == *dims, |k| FxBuildHasher.hash_one(&**k))
            .or_insert_with(|| Arc::from(dims))
            .into_mut()
    }

    /// Forgets keys no bucket or merged aggregate holds any more.
    pub(super) fn sweep(&mut self) {
        self.keys.retain(|k| Arc::strong_count(k) > 1);
    }

    /// Number of keys held.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Groups with their slots, stored densely (`stride` slots per group).
#[derive(Clone, Debug)]
pub(super) struct Groups {
    index: FxHashMap<usize, u32>,
    keys: Vec<Key>,
    slots: Vec<Slot>,
    stride: usize,
}

impl Groups {
    pub(super) fn new(stride: usize) -> Self {
        Groups {
            index: FxHashMap::default(),
            keys: Vec::new(),
            slots: Vec::new(),
            stride,
        }
    }

    /// Number of groups.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The row of a group, by key identity.
    #[inline]
    pub(super) fn row_of(&self, id: usize) -> Option<usize> {
        self.index.get(&id).map(|&r| r as usize)
    }

    /// The row of `key`, appending it with `init` slots when absent.
    #[inline]
    pub(super) fn row_or_insert(&mut self, key: &Key, init: &[Slot]) -> usize {
        let next = self.keys.len();
        let row = *self.index.entry(key_id(key)).or_insert_with(|| {
            // Rows are bounded by the groups a bucket holds; u32 is plenty.
            next as u32
        }) as usize;
        if row == next {
            self.keys.push(key.clone());
            self.slots.extend_from_slice(init);
        }
        row
    }

    /// The key of a row.
    #[inline]
    pub(super) fn key(&self, row: usize) -> &Key {
        &self.keys[row]
    }

    /// The slots of a row.
    #[inline]
    pub(super) fn slots(&self, row: usize) -> &[Slot] {
        &self.slots[row * self.stride..(row + 1) * self.stride]
    }

    /// The slots of a row, mutably.
    #[inline]
    pub(super) fn slots_mut(&mut self, row: usize) -> &mut [Slot] {
        &mut self.slots[row * self.stride..(row + 1) * self.stride]
    }

    /// Removes a row; the last row takes its place.
    pub(super) fn remove(&mut self, row: usize) {
        let last = self.keys.len() - 1;
        self.index.remove(&key_id(&self.keys[row]));
        if row != last {
            for i in 0..self.stride {
                self.slots
                    .swap(row * self.stride + i, last * self.stride + i);
            }
            self.keys.swap(row, last);
            self.index.insert(key_id(&self.keys[row]), row as u32);
        }
        self.keys.pop();
        self.slots.truncate(last * self.stride);
    }

    /// Removes every group.
    pub(super) fn clear(&mut self) {
        self.index.clear();
        self.keys.clear();
        self.slots.clear();
    }

    /// Rough heap bytes held, for the stats.
    pub(super) fn heap_bytes(&self) -> usize {
        self.index.capacity() * (size_of::<(usize, u32)>() + 1)
            + self.keys.capacity() * size_of::<Key>()
            + self.slots.capacity() * size_of::<Slot>()
    }
}
