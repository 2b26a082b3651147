//! [`Subscription`]: a viewer's stream of updates, never with a gap.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use super::live_table::{Guard, Shared};
use super::patch::Patch;
use crate::snapshot::Snapshot;

/// One item of a [`Subscription`].
///
/// Not `#[non_exhaustive]`, on purpose: an adapter must forward every item to its
/// viewers, so a new kind must be a compile error there, not a wildcard arm that drops
/// it. Adding a variant is a breaking release.
#[derive(Clone, Debug)]
pub enum Update {
    /// The full table: first, and again whenever the subscriber fell behind.
    Snapshot(Arc<Snapshot>),
    /// The change from the subscriber's current version to the next one. A status
    /// change (fresh ↔ stale) is a patch with no row change.
    Patch(Arc<Patch>),
}

impl Update {
    /// The version the subscriber is at after this update.
    pub fn version(&self) -> u64 {
        match self {
            Update::Snapshot(s) => s.version,
            Update::Patch(p) => p.to_version,
        }
    }
}

/// Counts a subscriber for as long as it lives (idle detection).
pub(super) struct SubscriberGuard(Arc<Shared>);

impl SubscriberGuard {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        shared.add_subscriber();
        SubscriberGuard(shared)
    }
}

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.0.remove_subscriber();
    }
}

/// A viewer's updates from a [`LiveTable`](crate::LiveTable).
///
/// [`next`](Subscription::next) yields the current snapshot first, then one patch per
/// published version in order. A subscriber that falls more than the channel capacity
/// behind is given a fresh full snapshot instead of the patches it missed, so applying
/// what it receives always reproduces the table (never a gap).
///
/// Keeps the table alive and refreshing while it exists.
pub struct Subscription {
    _table: Arc<Guard>,
    _counted: SubscriberGuard,
    patches: broadcast::Receiver<Arc<Patch>>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    queued: VecDeque<Update>,
    version: u64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("version", &self.version)
            .field("queued", &self.queued.len())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Subscribes; with `since = Some(v)` (a reconnecting client that holds version
    /// `v`), starts with the patches after `v` when they are all still held, and with a
    /// full snapshot otherwise.
    pub(super) fn new(table: Arc<Guard>, counted: SubscriberGuard, since: Option<u64>) -> Self {
        let shared = counted.0.clone();
        // Subscribe to patches before reading the state: any patch published after the
        // read is then received, and older ones are recognised by their version.
        let patches = shared.updates().subscribe();
        let snapshots = shared.snapshots().subscribe();
        let (current, missed) = shared.state_since(since);
        let version = current.version;
        let queued = match missed {
            Some(missed) => missed.into_iter().map(Update::Patch).collect(),
            None => VecDeque::from([Update::Snapshot(current)]),
        };
        Subscription {
            _table: table,
            _counted: counted,
            patches,
            snapshots,
            queued,
            version,
        }
    }

    /// The version the subscriber will be at once it has received every queued update.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether the first update will be a full snapshot (always, unless the
    /// subscription resumed from a version whose patches were still held).
    pub fn starts_with_snapshot(&self) -> bool {
        matches!(self.queued.front(), Some(Update::Snapshot(_)))
    }

    fn resync(&mut self) -> Update {
        let snapshot = self.snapshots.borrow_and_update().clone();
        self.version = snapshot.version;
        Update::Snapshot(snapshot)
    }

    /// The next update; `None` only once the table has stopped.
    pub async fn next(&mut self) -> Option<Update> {
        if let Some(update) = self.queued.pop_front() {
            return Some(update);
        }
        loop {
            match self.patches.recv().await {
                Ok(patch) if patch.to_version <= self.version => continue, // already seen
                Ok(patch) if patch.from_version == self.version => {
                    self.version = patch.to_version;
                    return Some(Update::Patch(patch));
                }
                // A gap (a patch from a later version) or a lag: send the whole table.
                Ok(_) | Err(RecvError::Lagged(_)) => return Some(self.resync()),
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
