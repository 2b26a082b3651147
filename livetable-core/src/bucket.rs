//! [`BucketQuery`]: the capability of a source to return partial aggregates per time
//! bucket, which lets a [`BucketCache`](crate::BucketCache) sit in front of it.
//!
//! A bucket is `[k·width, (k+1)·width)` since the Unix epoch (UTC): the same boundaries
//! in every store, in [`MemorySource`](crate::MemorySource) and at the window edges.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::aggregate::Aggregate;
use crate::error::Result;
use crate::query::Window;
use crate::value::Value;

/// What a bucket query asks for: every (bucket, group) in `range`, for buckets of
/// `width` aligned to the Unix epoch.
///
/// `range.start` is a bucket boundary; `range.end` may fall inside a bucket (the tail
/// of a live table ends at the current time), in which case that bucket holds only the
/// rows before `range.end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BucketRequest {
    /// Rows with `range.start <= time < range.end`.
    pub range: Window,
    /// The bucket width, a whole number of milliseconds (at least one second).
    pub width: Duration,
}

impl BucketRequest {
    /// A request for `range` in buckets of `width`.
    pub fn new(range: Window, width: Duration) -> Self {
        BucketRequest { range, width }
    }

    /// The bucket width in whole seconds, for stores whose interval syntax takes
    /// seconds. The cache only asks for whole seconds.
    pub fn width_secs(&self) -> u64 {
        self.width.as_secs()
    }
}

/// The partial state of one metric in one (bucket, group), from which the cache merges
/// any window: see [`BucketRow::partials`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Partial {
    /// A `count` metric: it is [`BucketRow::events`]; nothing else is needed.
    Count,
    /// A `sum` or `avg` metric: the sum of the non-null inputs (`Null` when there are
    /// none) and how many non-null inputs there were (an `avg` is `sum / values` once
    /// merged; averages are never averaged). An integer input's sum is an `Int`, a
    /// float input's a `Float`.
    Sum {
        /// The sum of the non-null inputs.
        sum: Value,
        /// How many non-null inputs were summed.
        values: u64,
    },
    /// A `min` or `max` metric: the smallest or largest input, `Null` when none.
    Extreme(Value),
}

/// The partial aggregates of one group in one time bucket.
///
/// ```
/// use chrono::{DateTime, Utc};
/// use livetable_core::{BucketRow, Partial, Value};
/// // Group ("web-1") in the bucket starting at 12:00:00: 3 events, 1.5 kB in all.
/// let start: DateTime<Utc> = "2026-11-28T12:00:00Z".parse().unwrap();
/// let row = BucketRow::new(start, vec![Value::from("web-1")], 3)
///     .with_partials(vec![Partial::Count, Partial::Sum { sum: Value::Int(1536), values: 3 }]);
/// assert_eq!(row.events, 3);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct BucketRow {
    /// The start of the bucket (a multiple of the width since the epoch).
    pub start: DateTime<Utc>,
    /// The dimension values, in the spec's order.
    pub key: Vec<Value>,
    /// How many events of the group fell in the bucket (`count(*)`).
    pub events: u64,
    /// One partial per metric of the spec, in the spec's order.
    pub partials: Vec<Partial>,
}

impl BucketRow {
    /// A row with no metric partials yet.
    pub fn new(start: DateTime<Utc>, key: Vec<Value>, events: u64) -> Self {
        BucketRow {
            start,
            key,
            events,
            partials: Vec::new(),
        }
    }

    /// Sets the partials, one per metric of the spec.
    pub fn with_partials(mut self, partials: Vec<Partial>) -> Self {
        self.partials = partials;
        self
    }
}

/// A source that can answer an [`Aggregate`] per time bucket, so that a
/// [`BucketCache`](crate::BucketCache) can keep the buckets of its retention in memory
/// and re-read only the newest ones on each tick.
///
/// The PostgreSQL and Elasticsearch backends implement it; a custom source may. A
/// source without it is refreshed in the direct mode (one [`TableQuery`] fetch per view
/// per tick), unchanged.
///
/// An implementation returns, for every bucket and group with at least one row in
/// `request.range` that passes the spec's static [filters](Aggregate::filters), one
/// [`BucketRow`]; rows may come in any order, and a (bucket, group) pair at most once.
/// It must fail rather than return part of the data (a store that answers with failed
/// shards, or an error between pages): the cache then keeps what it had and retries.
///
/// [`TableQuery`]: crate::TableQuery
pub trait BucketQuery: Send + Sync + 'static {
    /// The aggregate this source computes per bucket.
    fn spec(&self) -> &Aggregate;

    /// The partial aggregates of every (bucket, group) in `request.range`.
    fn fetch_buckets(
        &self,
        request: &BucketRequest,
    ) -> impl Future<Output = Result<Vec<BucketRow>>> + Send;

    /// How long rows may take to become visible in this store, or be changed, after
    /// their time: the cache re-reads that much before its last watermark on every
    /// tick. The default, 10 s, covers a relational store's commit delay and clock
    /// skew; Elasticsearch asks for more because documents become searchable only
    /// after an index refresh.
    fn default_settle(&self) -> Duration {
        Duration::from_secs(10)
    }
}
