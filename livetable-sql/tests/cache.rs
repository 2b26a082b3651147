//! The bucket cache in front of the real PostgreSQL: at every tick of a run where rows
//! keep arriving (some late within the settle, some updated or deleted within it), every
//! view served from the cache equals the direct statement over the window the cache
//! says it covers. Rows later than the settle appear at the reconcile; a failed tail
//! leaves the cache as it was; a new cache (a restarted process) fills from scratch.
//!
//! Float cells (the float sum and avg) are compared within livetable-testkit's relative
//! tolerance: the cache adds per-bucket partial sums, the direct statement sums the rows
//! in another order, and floating-point addition is not associative.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::TestStore;
use common::pg::TestDb;
use livetable_core::{
    Aggregate, BucketCache, DataType, Direction, ErrorKind, FetchContext, Filter, Metric,
    TableQuery, Value, Window,
};
use livetable_sql::PgAggregate;
use livetable_testkit::suite;

const COLUMNS: [(&str, DataType); 6] = [
    ("id", DataType::Int),
    ("ts", DataType::Timestamp),
    ("host", DataType::Text),
    ("port", DataType::Int),
    ("size", DataType::Int),
    ("ratio", DataType::Float),
];

fn spec() -> Aggregate {
    Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(600))
        .dimension("host", DataType::Text)
        .dimension("port", DataType::Int)
        .field("size", DataType::Int)
        .field("ratio", DataType::Float)
        .metric(Metric::count("n"))
        .metric(Metric::sum("bytes", "size"))
        .metric(Metric::avg("ratio_avg", "ratio"))
        .metric(Metric::min("smallest", "size"))
        .metric(Metric::max("last", "ts"))
        .metric(Metric::sum("ratio_sum", "ratio"))
        .filter(Filter::range("port", Some(Value::Int(0)), None::<Value>))
        .order_by("n", Direction::Desc)
        .build()
        .unwrap()
}

/// Deterministic pseudo-random numbers (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn row(&mut self, id: i64, ts: DateTime<Utc>) -> Vec<Value> {
        let host = ["a", "b", "c", ""][self.next(4) as usize];
        vec![
            Value::Int(id),
            Value::Timestamp(ts),
            if host.is_empty() {
                Value::Null
            } else {
                Value::from(host)
            },
            Value::Int(self.next(5) as i64 - 1), // -1 fails the static filter
            if self.next(5) > 0 {
                Value::Int(self.next(2_000) as i64 - 500)
            } else {
                Value::Null
            },
            if self.next(4) > 0 {
                Value::Float(self.next(4_000) as f64 / 7.0 - 200.0)
            } else {
                Value::Null
            },
        ]
    }
}

struct Run {
    db: TestDb,
    table: String,
    direct: PgAggregate,
    base: DateTime<Utc>,
}

impl Run {
    async fn new(name: &str) -> Option<Run> {
        let db = TestDb::new(name).await?;
        let table = db.table("packets");
        let direct = db.pg.aggregate(&table, spec()).unwrap();
        // Whole seconds, so that the test's clock is easy to read.
        let base = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
        Some(Run {
            db,
            table,
            direct,
            base,
        })
    }

    fn t(&self, secs: i64) -> DateTime<Utc> {
        self.base + TimeDelta::seconds(secs)
    }

    fn cache(&self, reconcile: Option<Duration>) -> BucketCache<PgAggregate> {
        BucketCache::builder(self.db.pg.aggregate(&self.table, spec()).unwrap())
            .bucket_width(Duration::from_secs(10))
            .settle(Duration::from_secs(20))
            .retention(Duration::from_secs(900))
            .reconcile_every(reconcile)
            .build()
            .unwrap()
    }

    /// The view from the cache equals the direct statement over the covered window.
    async fn check(
        &self,
        cache: &BucketCache<PgAggregate>,
        end: i64,
        length: i64,
        filters: Vec<Filter>,
        limit: Option<usize>,
    ) {
        let window = Window::new(self.t(end - length), self.t(end)).unwrap();
        let ctx = FetchContext::new(window)
            .with_filters(filters.clone())
            .with_limit(limit);
        let cached = cache.fetch(&ctx).await.unwrap();
        let covered = cached
            .covered
            .expect("the cache reports the window it covers");
        assert_eq!(
            covered.start.timestamp() % 10,
            0,
            "whole buckets at the start"
        );
        assert!(covered.start <= window.start, "{covered} covers {window}");
        let direct = self
            .direct
            .fetch(
                &FetchContext::new(covered)
                    .with_filters(filters.clone())
                    .with_limit(limit),
            )
            .await
            .unwrap();
        if filters.is_empty() {
            assert!(!direct.rows.is_empty(), "a view with data at {end}");
        }
        if let Err(diff) = suite::compare(&spec(), &direct.rows, &cached.rows) {
            panic!("at {end} over {length}s with {filters:?}, window {covered}:\n{diff}");
        }
    }
}

#[tokio::test]
async fn cached_views_equal_the_direct_query_at_every_tick() {
    let Some(run) = Run::new("cache_agree").await else {
        return;
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut id = 0i64;
    let mut rows = Vec::new();
    for s in -900..0 {
        for _ in 0..rng.next(4) {
            id += 1;
            rows.push(rng.row(id, run.t(s)));
        }
    }
    run.db.load(&run.table, &COLUMNS, &rows).await;
    let cache = run.cache(None);
    for tick in 1..=15 {
        let now = tick * 6;
        let mut new = Vec::new();
        for s in now - 6..now {
            for _ in 0..rng.next(5) {
                id += 1;
                // Some rows arrive late, up to 15 s after their time (within the 20 s settle).
                let late = if rng.next(4) == 0 {
                    rng.next(15) as i64
                } else {
                    0
                };
                new.push(rng.row(id, run.t(s - late)));
            }
        }
        run.db.insert(&run.table, &COLUMNS, &new).await;
        // An UPDATE and a DELETE inside the settle.
        let recent = run.t(now - 15).to_rfc3339();
        run.db
            .exec(&format!(
                "UPDATE {} SET size = size + 1000, host = 'moved' WHERE id = (SELECT max(id) FROM {} \
                 WHERE ts >= '{recent}' AND id % 3 = 0)",
                run.table, run.table
            ))
            .await;
        run.db
            .exec(&format!(
                "DELETE FROM {} WHERE id = (SELECT max(id) FROM {} WHERE ts >= '{recent}' AND id % 3 = 1)",
                run.table, run.table
            ))
            .await;
        run.check(&cache, now, 600, vec![], None).await;
        run.check(&cache, now, 300, vec![], None).await;
        run.check(&cache, now, 900, vec![], Some(3)).await;
        run.check(&cache, now, 600, vec![Filter::eq("host", "a")], None)
            .await;
        run.check(
            &cache,
            now,
            600,
            vec![Filter::eq("host", Value::Null)],
            None,
        )
        .await;
        run.check(
            &cache,
            now,
            120,
            vec![Filter::is_in("port", vec![Value::Int(0), Value::Int(2)])],
            None,
        )
        .await;
    }
    let stats = cache.stats();
    assert_eq!(
        stats.queries, 15,
        "one store query per tick for six views: {stats:?}"
    );
    assert_eq!(stats.full_reads, 1);
    // Each tail reads the settle and a partial bucket, not the window.
    let full = run.db.count(&run.table).await as u64;
    assert!(stats.rows_read < full, "{stats:?} vs {full} rows");
    run.db.drop().await;
}

#[tokio::test]
async fn late_rows_past_the_settle_heal_at_the_reconcile_and_failures_change_nothing() {
    let Some(run) = Run::new("cache_heal").await else {
        return;
    };
    let mut rng = Rng(77);
    let rows: Vec<Vec<Value>> = (-600..0).map(|s| rng.row(s + 1_000, run.t(s))).collect();
    run.db.load(&run.table, &COLUMNS, &rows).await;
    let cache = run.cache(Some(Duration::from_secs(2)));
    run.check(&cache, 0, 600, vec![], None).await;

    // Five minutes late: no tail re-reads that far back.
    let late = vec![
        Value::Int(1),
        Value::Timestamp(run.t(-300)),
        Value::from("late"),
        Value::Int(1),
        Value::Int(7),
        Value::Null,
    ];
    run.db.insert(&run.table, &COLUMNS, &[late]).await;
    let only_late = vec![Filter::eq("host", "late")];
    let window = |end: i64| Window::new(run.t(end - 600), run.t(end)).unwrap();
    let before = cache
        .fetch(&FetchContext::new(window(6)).with_filters(only_late.clone()))
        .await
        .unwrap();
    assert!(
        before.rows.is_empty(),
        "a row older than the settle waits for the reconcile"
    );

    // A failing tail (the table is gone for a moment) leaves the cache as it was.
    let renamed = format!("{}.packets_away", run.db.schema);
    run.db
        .exec(&format!("ALTER TABLE {} RENAME TO packets_away", run.table))
        .await;
    let err = cache
        .fetch(&FetchContext::new(window(12)))
        .await
        .unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Unexpected, "{err}");
    let entries = cache.stats().entries;
    run.db
        .exec(&format!("ALTER TABLE {renamed} RENAME TO packets"))
        .await;
    assert_eq!(cache.stats().entries, entries);

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let after = cache
        .fetch(&FetchContext::new(window(18)).with_filters(only_late.clone()))
        .await
        .unwrap();
    assert_eq!(after.rows.len(), 1, "the reconcile read the late row");
    assert_eq!(
        cache.stats().last_reconcile_differences,
        1,
        "{:?}",
        cache.stats()
    );
    run.check(&cache, 18, 600, vec![], None).await;

    // A restarted process: a new cache loads the whole retention again.
    let fresh = run.cache(None);
    run.check(&fresh, 24, 900, vec![], None).await;
    assert_eq!(fresh.stats().full_reads, 1);
    run.db.drop().await;
}
