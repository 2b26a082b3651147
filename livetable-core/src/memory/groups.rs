//! [`Groups`]: a dense table of groups and their slots, the storage of a time bucket
//! and of a merged aggregate alike; and [`Interner`], which holds each group key once.

use std::sync::Arc;

use hashbrown::HashTable;

use super::accumulator::Slot;
use crate::key::{projected_eq, values_eq};
use crate::value::Value;

/// A group key, shared by every bucket and merged aggregate holding the group. Keys are
/// interned, so two holders of a group hold clones of the same `Arc` and compare by
/// pointer; the interner forgets a key only when nobody else holds it.
pub(super) type Key = Arc<[Value]>;

/// Group keys, each stored once. (`HashTable` because std's maps cannot look up, then
/// insert, with one hash of a borrowed key.) Each key is kept with its hash, so growing
/// the table does not read the keys again.
#[derive(Debug, Default)]
pub(super) struct Interner {
    keys: HashTable<(u64, Key)>,
    /// Keys held after the last sweep: the next one waits for the table to grow by
    /// half of that.
    live_at_sweep: usize,
}

impl Interner {
    /// The shared key for `dims` (whose hash is `hash`), created on first sight.
    #[inline]
    pub(super) fn get(&mut self, hash: u64, dims: &[Value]) -> &Key {
        &self
            .keys
            .entry(hash, |(h, k)| *h == hash && values_eq(k, dims), |(h, _)| *h)
            .or_insert_with(|| (hash, Arc::from(dims)))
            .into_mut()
            .1
    }

    /// Forgets keys no bucket or merged aggregate holds any more. O(keys): reading
    /// every key's reference count costs a cache miss per key (about 100 ms for the
    /// 1.4 M keys of 10 M packets), so callers on the refresh path use
    /// [`Interner::maybe_sweep`].
    pub(super) fn sweep(&mut self) {
        self.keys.retain(|(_, k)| Arc::strong_count(k) > 1);
        self.live_at_sweep = self.keys.len();
    }

    /// Sweeps once the table has grown by a sixteenth since the last sweep: amortised
    /// O(1) per key interned (sixteen key visits per new key; a sweep of 130,000 keys
    /// takes a few milliseconds), with at most a sixteenth of the live keys held dead in
    /// between, so a stream of new groups (new flows, new hosts) keeps memory within a
    /// few percent instead of climbing to the next sweep (issue 12's soak: a sweep at
    /// half the live keys came every 30 minutes; at an eighth, a 3.5 % sawtooth). A
    /// dead key is harmless meanwhile (a group that comes back reuses it).
    pub(super) fn maybe_sweep(&mut self) {
        if self.keys.len() > self.live_at_sweep + (self.live_at_sweep / 16).max(1024) {
            self.sweep();
        }
    }

    /// Number of keys held.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Groups with their slots, stored densely (`stride` slots per group), indexed by the
/// hash of their key (kept per row, so growing the index never rehashes keys).
#[derive(Clone, Debug)]
pub(super) struct Groups {
    index: HashTable<u32>,
    hashes: Vec<u64>,
    keys: Vec<Key>,
    slots: Vec<Slot>,
    stride: usize,
}

impl Groups {
    pub(super) fn new(stride: usize) -> Self {
        Self::with_capacity(stride, 0)
    }

    /// An empty table with room for `groups` groups.
    pub(super) fn with_capacity(stride: usize, groups: usize) -> Self {
        Groups {
            index: HashTable::with_capacity(groups),
            hashes: Vec::with_capacity(groups),
            keys: Vec::with_capacity(groups),
            slots: Vec::with_capacity(groups * stride),
            stride,
        }
    }

    /// Number of groups.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The row of the group whose key has these values.
    #[inline]
    pub(super) fn find_values(&self, hash: u64, dims: &[Value]) -> Option<usize> {
        let keys = &self.keys;
        self.index
            .find(hash, |&r| values_eq(&keys[r as usize], dims))
            .map(|&r| r as usize)
    }

    /// The row of the group whose key is `full`'s values at `positions` (see
    /// [`hash_projected`](crate::key::hash_projected), which gives `hash`).
    #[inline]
    pub(super) fn find_projected(
        &self,
        hash: u64,
        full: &[Value],
        positions: &[usize],
    ) -> Option<usize> {
        let keys = &self.keys;
        self.index
            .find(hash, |&r| projected_eq(&keys[r as usize], full, positions))
            .map(|&r| r as usize)
    }

    /// The row of an interned key.
    #[inline]
    pub(super) fn find(&self, hash: u64, key: &Key) -> Option<usize> {
        let keys = &self.keys;
        self.index
            .find(hash, |&r| Arc::ptr_eq(&keys[r as usize], key))
            .map(|&r| r as usize)
    }

    /// Appends a group that is not there yet.
    #[inline]
    pub(super) fn insert(&mut self, hash: u64, key: &Key, init: &[Slot]) -> usize {
        let row = self.keys.len();
        let hashes = &self.hashes;
        // Rows are bounded by the groups one table holds; u32 is plenty.
        self.index
            .insert_unique(hash, row as u32, |&r| hashes[r as usize]);
        self.hashes.push(hash);
        self.keys.push(key.clone());
        self.slots.extend_from_slice(init);
        row
    }

    /// The row of an interned key, appending it with `init` slots when absent.
    #[inline]
    pub(super) fn row_or_insert(&mut self, hash: u64, key: &Key, init: &[Slot]) -> usize {
        match self.find(hash, key) {
            Some(r) => r,
            None => self.insert(hash, key, init),
        }
    }

    /// The key of a row.
    #[inline]
    pub(super) fn key(&self, row: usize) -> &Key {
        &self.keys[row]
    }

    /// The key hash of a row.
    #[inline]
    pub(super) fn hash(&self, row: usize) -> u64 {
        self.hashes[row]
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
        if let Ok(e) = self
            .index
            .find_entry(self.hashes[row], |&r| r as usize == row)
        {
            e.remove();
        }
        if row != last {
            if let Ok(mut e) = self
                .index
                .find_entry(self.hashes[last], |&r| r as usize == last)
            {
                *e.get_mut() = row as u32;
            }
            for i in 0..self.stride {
                self.slots
                    .swap(row * self.stride + i, last * self.stride + i);
            }
            self.keys.swap(row, last);
            self.hashes.swap(row, last);
        }
        self.keys.pop();
        self.hashes.pop();
        self.slots.truncate(last * self.stride);
    }

    /// Removes every group.
    pub(super) fn clear(&mut self) {
        self.index.clear();
        self.hashes.clear();
        self.keys.clear();
        self.slots.clear();
    }

    /// Rough heap bytes held, for the stats.
    pub(super) fn heap_bytes(&self) -> usize {
        self.index.capacity() * (size_of::<u32>() + 1)
            + self.hashes.capacity() * size_of::<u64>()
            + self.keys.capacity() * size_of::<Key>()
            + self.slots.capacity() * size_of::<Slot>()
    }
}
