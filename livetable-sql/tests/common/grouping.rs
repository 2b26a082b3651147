//! The grouping scenario both dialects run: packets of the past hour in a table, and
//! for several groupings of the 5-dimension packets spec (a reordered one, and ones
//! with viewer filters on a dimension the grouping leaves out) three answers that must
//! be equal:
//! - the source fetched with `group_by` (the statement of the grouped spec, built by
//!   the source);
//! - a source made from the grouped spec itself ([`Aggregate::grouped`], with the
//!   viewer's filters as static ones), fetched without `group_by`;
//! - a bucket cache over the source, fetched with `group_by` (its roll-up in memory).
//!
//! Each dialect's test may add an answer of its own (PostgreSQL's hand-written SQL).

use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use livetable_core::{
    Aggregate, BucketCache, DataType, FetchContext, Filter, Metric, Row, TableQuery, Value, Window,
};
use livetable_testkit::suite;
use livetable_testkit::workload::{EventLayout, PACKET_COLUMNS, Workload, five_dim_spec};

use super::TestStore;

/// Packets loaded.
pub const PACKETS: usize = 20_000;

/// The 5-dimension packets spec (`five_dim_spec`: count and total size, count
/// descending, top 500) with an average and a maximum too, so that a float metric and
/// an extreme are rolled up as well.
pub fn spec() -> Aggregate {
    let mut spec = five_dim_spec().spec().clone();
    spec.metrics.push(Metric::avg("avg_size", "size"));
    spec.metrics.push(Metric::max("largest", "size"));
    Aggregate::from_spec(spec).unwrap()
}

/// One viewer's grouping: the dimensions by name, in order, the viewer's filters, and
/// the same filters as a SQL condition (for hand-written statements).
pub struct Grouping {
    pub by: &'static [&'static str],
    pub filters: Vec<Filter>,
    pub sql: &'static str,
}

impl Grouping {
    /// The positions of [`by`](Self::by) in the spec's schema.
    pub fn positions(&self) -> Vec<usize> {
        let schema = spec().schema().clone();
        self.by
            .iter()
            .map(|name| schema.index_of(name).unwrap())
            .collect()
    }

    /// A fetch over `window` with this grouping and these filters.
    pub fn ctx(&self, window: Window) -> FetchContext {
        FetchContext::new(window)
            .with_filters(self.filters.clone())
            .with_group_by(Some(self.positions()))
    }
}

/// The groupings checked: one dimension, two, the same two reordered, and filters on
/// left-out dimensions (one with a filter on a kept one too).
pub fn groupings() -> Vec<Grouping> {
    vec![
        Grouping {
            by: &["protocol"],
            filters: vec![],
            sql: "",
        },
        Grouping {
            by: &["source_ip", "protocol"],
            filters: vec![],
            sql: "",
        },
        Grouping {
            by: &["protocol", "source_ip"],
            filters: vec![],
            sql: "",
        },
        Grouping {
            by: &["destination_port"],
            filters: vec![Filter::eq("protocol", "UDP")],
            sql: "protocol = 'UDP'",
        },
        Grouping {
            by: &["destination_ip", "source_port"],
            filters: vec![
                Filter::is_in("destination_port", [Value::Int(443), Value::Int(53)]),
                Filter::range("source_port", Some(Value::Int(1024)), None::<Value>),
            ],
            sql: "destination_port IN (443, 53) AND source_port >= 1024",
        },
    ]
}

/// The event columns of [`spec`] and [`PACKETS`] packets of the hour before `end`.
pub fn packets(end: DateTime<Utc>) -> (Vec<(&'static str, DataType)>, Vec<Vec<Value>>) {
    let spec = spec();
    let layout = EventLayout::new(&spec).unwrap();
    // The packets' own entries, which outlive the spec.
    let columns = spec
        .event_columns()
        .map(|(name, _)| *PACKET_COLUMNS.iter().find(|(n, _)| *n == name).unwrap())
        .collect();
    let packets = Workload::new(14).generate(PACKETS, end);
    (columns, layout.events(&packets).collect())
}

/// The end of the loaded hour: the last whole minute, so that the hour is whole cache
/// buckets.
pub fn end() -> DateTime<Utc> {
    Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap()
}

/// For each of [`groupings`], over the hour before `end` in `table` (loaded with
/// [`packets`]): the source fetched with the grouping, the grouped spec's own source
/// and a bucket cache rolling up in memory give the same rows. Returns each grouping
/// with the window fetched and the rows, for more answers to compare with.
pub async fn agree<S: TestStore>(
    db: &S,
    table: &str,
    end: DateTime<Utc>,
) -> Vec<(Grouping, Window, Vec<Row>)> {
    let source = db.query(table, spec()).unwrap();
    assert!(source.supports_grouping());
    let cache = BucketCache::builder(source.clone())
        .bucket_width(Duration::from_secs(60))
        .retention(Duration::from_secs(7200))
        .build()
        .unwrap();
    let window = Window::ending_at(end, Duration::from_secs(3600)).unwrap();
    let mut out = Vec::new();
    for g in groupings() {
        let grouped = spec().grouped(&g.positions()).unwrap();
        let cached = cache.fetch(&g.ctx(window)).await.unwrap();
        assert_eq!(cached.covered, Some(window), "whole buckets");
        let direct = source.fetch(&g.ctx(window)).await.unwrap();
        // The viewer's filters as the grouped spec's own (static) ones: a viewer may
        // only filter on the grouped spec's dimensions.
        let mut own = grouped.spec().clone();
        own.filters.extend(g.filters.iter().cloned());
        let own = db
            .query(table, Aggregate::from_spec(own).unwrap())
            .unwrap()
            .fetch(&FetchContext::new(window))
            .await
            .unwrap();
        assert!(
            own.rows.len() > 1,
            "{:?}: {} rows, too few to tell groupings apart",
            g.by,
            own.rows.len()
        );
        for (name, rows) in [("group_by", &direct.rows), ("the cache", &cached.rows)] {
            if let Err(diff) = suite::compare(&grouped, &own.rows, rows) {
                panic!(
                    "{:?} with {:?}: {name} differs from the grouped spec:\n{diff}",
                    g.by, g.filters
                );
            }
        }
        out.push((g, window, direct.rows));
    }
    out
}
