//! JSON encodings of shared snapshots and patches, made once and reused by every
//! response and stream that sends the same `Arc`: with a thousand viewers on a table,
//! each patch is serialised once, not a thousand times.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

use crate::wire::ToJson;

/// The encodings of the last few distinct items, recognised by identity.
pub(crate) struct EncodeCache<T> {
    // Std mutex: held for a short scan, never across an `.await`.
    slots: Mutex<VecDeque<(Weak<T>, Arc<str>)>>,
    capacity: usize,
}

impl<T> std::fmt::Debug for EncodeCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodeCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<T: ToJson> EncodeCache<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        EncodeCache {
            slots: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        }
    }

    /// The JSON of `item`, from the cache when this very `Arc` was encoded before.
    pub(crate) fn json(&self, item: &Arc<T>) -> Arc<str> {
        if let Some(hit) = self.lookup(item) {
            return hit;
        }
        // Encode outside the lock; two tasks may race to encode the same item, which
        // is harmless.
        let json: Arc<str> = item.to_json().into();
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= self.capacity {
            slots.pop_front();
        }
        slots.push_back((Arc::downgrade(item), json.clone()));
        json
    }

    fn lookup(&self, item: &Arc<T>) -> Option<Arc<str>> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // A live `Weak` that upgrades to this very allocation is the same item; a dead
        // one may share the address of a newer item, hence the upgrade.
        slots
            .iter()
            .rev()
            .find(|(w, _)| w.upgrade().is_some_and(|a| Arc::ptr_eq(&a, item)))
            .map(|(_, json)| json.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ToJson for Vec<i32> {
        fn to_json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }

    #[test]
    fn same_arc_is_encoded_once_and_others_are_not_confused() {
        let cache = EncodeCache::new(2);
        let a = Arc::new(vec![1, 2]);
        let first = cache.json(&a);
        let again = cache.json(&a);
        assert!(Arc::ptr_eq(&first, &again));
        let b = Arc::new(vec![1, 2]); // equal value, another item
        let other = cache.json(&b);
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(&*other, "[1,2]");
        drop(a);
        let c = Arc::new(vec![3]);
        assert_eq!(&*cache.json(&c), "[3]");
    }
}
