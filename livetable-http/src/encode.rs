//! Encodings of shared snapshots and patches, made once and reused by every response
//! and stream that sends the same `Arc`: with a thousand viewers on a table, each
//! patch is serialised once, and its event frame is one buffer that every stream
//! sends (a reference count each, not a copy each).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

use axum::body::Bytes;

/// The encodings of the last few distinct items, recognised by identity.
pub(crate) struct EncodeCache<T> {
    // Std mutex: held for a short scan, never across an `.await`.
    slots: Mutex<VecDeque<(Weak<T>, Bytes)>>,
    capacity: usize,
}

impl<T> std::fmt::Debug for EncodeCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodeCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<T> EncodeCache<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        EncodeCache {
            slots: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        }
    }

    /// `encode(item)`, from the cache when this very `Arc` was encoded before.
    pub(crate) fn get(&self, item: &Arc<T>, encode: impl FnOnce(&T) -> Bytes) -> Bytes {
        if let Some(hit) = self.lookup(item) {
            return hit;
        }
        // Encode outside the lock; two tasks may race to encode the same item, which
        // is harmless.
        let encoded = encode(item);
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= self.capacity {
            slots.pop_front();
        }
        slots.push_back((Arc::downgrade(item), encoded.clone()));
        encoded
    }

    fn lookup(&self, item: &Arc<T>) -> Option<Bytes> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // A live `Weak` that upgrades to this very allocation is the same item; a dead
        // one may share the address of a newer item, hence the upgrade.
        slots
            .iter()
            .rev()
            .find(|(w, _)| w.upgrade().is_some_and(|a| Arc::ptr_eq(&a, item)))
            .map(|(_, encoded)| encoded.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(v: &Vec<i32>) -> Bytes {
        serde_json::to_string(v).unwrap().into()
    }

    #[test]
    fn same_arc_is_encoded_once_and_others_are_not_confused() {
        let cache = EncodeCache::new(2);
        let a = Arc::new(vec![1, 2]);
        let first = cache.get(&a, json);
        let again = cache.get(&a, |_| unreachable!("encoded twice"));
        assert_eq!(first.as_ptr(), again.as_ptr());
        let b = Arc::new(vec![1, 2]); // equal value, another item
        let other = cache.get(&b, json);
        assert_ne!(first.as_ptr(), other.as_ptr());
        assert_eq!(&other[..], b"[1,2]");
        drop(a);
        let c = Arc::new(vec![3]);
        assert_eq!(&cache.get(&c, json)[..], b"[3]");
    }
}
