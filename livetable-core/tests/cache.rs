//! The bucket cache against an independent reference: a store of events that answers
//! bucket queries by naive per-bucket aggregation, and a naive aggregation of the same
//! events over the window the cache says it covers.
//!
//! Float inputs are multiples of 1/4 of small magnitude, so every partial and merged
//! sum is exact and the comparison can be exact (a real store's float sums may differ in
//! the last bits; the PostgreSQL agreement test uses a tolerance for that).
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use livetable_core::{
    Aggregate, BucketCache, BucketQuery, BucketRequest, BucketRow, DataType, Direction, Error,
    ErrorKind, FetchContext, Filter, Metric, MetricKind, Partial, Result, Row, TableQuery, Value,
    Window,
};

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

#[derive(Clone, Debug, PartialEq)]
struct Event {
    id: u64,
    ts: DateTime<Utc>,
    host: Option<&'static str>,
    port: i64,
    size: Option<i64>,
    /// In quarters.
    ratio: Option<i64>,
}

impl Event {
    fn input(&self, column: &str) -> Value {
        match column {
            "ts" => Value::Timestamp(self.ts),
            "host" => self.host.map_or(Value::Null, Value::from),
            "port" => Value::Int(self.port),
            "size" => self.size.map_or(Value::Null, Value::Int),
            "ratio" => self
                .ratio
                .map_or(Value::Null, |q| Value::Float(q as f64 / 4.0)),
            _ => unreachable!("no column {column}"),
        }
    }
}

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
        .limit(7)
        .build()
        .unwrap()
}

/// A store of events (rows can be inserted late, updated, deleted) answering bucket
/// queries naively; it can be told to fail, and counts the queries and rows read.
#[derive(Clone)]
struct EventStore {
    spec: Aggregate,
    events: Arc<Mutex<Vec<Event>>>,
    fail: Arc<AtomicBool>,
    queries: Arc<Mutex<Vec<BucketRequest>>>,
    /// Answers a (bucket, group) twice, or a bucket start off the grid, when set.
    corrupt: Arc<AtomicUsize>,
}

impl EventStore {
    fn new() -> Self {
        EventStore {
            spec: spec(),
            events: Arc::default(),
            fail: Arc::default(),
            queries: Arc::default(),
            corrupt: Arc::default(),
        }
    }

    fn insert(&self, e: Event) {
        self.events.lock().unwrap().push(e);
    }

    fn passes_static_filters(&self, e: &Event) -> bool {
        self.spec
            .filters()
            .iter()
            .all(|f| f.matches(&e.input(f.column())))
    }

    fn key(&self, e: &Event) -> Vec<Value> {
        self.spec
            .dimensions()
            .iter()
            .map(|d| e.input(&d.name))
            .collect()
    }

    /// The direct answer: the table over `window`, aggregated naively.
    fn direct(&self, window: Window, ctx_filters: &[Filter], limit: Option<usize>) -> Vec<Row> {
        let events = self.events.lock().unwrap();
        let mut groups: BTreeMap<Vec<Value>, Vec<&Event>> = BTreeMap::new();
        for e in events.iter() {
            if window.contains(e.ts) && self.passes_static_filters(e) {
                groups.entry(self.key(e)).or_default().push(e);
            }
        }
        let schema = self.spec.schema();
        let mut rows: Vec<Row> = groups
            .into_iter()
            .map(|(key, es)| {
                let mut values = key;
                for m in self.spec.metrics() {
                    values.push(naive_metric(m.kind, m.column.as_deref(), &es));
                }
                Row::new(values)
            })
            .filter(|r| {
                ctx_filters
                    .iter()
                    .all(|f| f.matches(&r[schema.index_of(f.column()).unwrap()]))
            })
            .collect();
        self.spec.order_and_limit(&mut rows, limit);
        rows
    }
}

fn naive_metric(kind: MetricKind, column: Option<&str>, es: &[&Event]) -> Value {
    let inputs: Vec<Value> = es
        .iter()
        .map(|e| column.map_or(Value::Null, |c| e.input(c)))
        .filter(|v| !v.is_null())
        .collect();
    match kind {
        MetricKind::Count => Value::Int(es.len() as i64),
        _ if inputs.is_empty() => Value::Null,
        MetricKind::Sum => match inputs[0] {
            Value::Int(_) => Value::Int(inputs.iter().map(|v| v.as_i64().unwrap()).sum()),
            _ => Value::Float(inputs.iter().map(|v| v.as_f64().unwrap()).sum()),
        },
        MetricKind::Avg => Value::Float(
            inputs.iter().map(|v| v.as_f64().unwrap()).sum::<f64>() / inputs.len() as f64,
        ),
        MetricKind::Min => inputs.iter().min().cloned().unwrap(),
        MetricKind::Max => inputs.iter().max().cloned().unwrap(),
        _ => unreachable!("not in the spec"),
    }
}

impl BucketQuery for EventStore {
    fn spec(&self) -> &Aggregate {
        &self.spec
    }

    async fn fetch_buckets(&self, request: &BucketRequest) -> Result<Vec<BucketRow>> {
        self.queries.lock().unwrap().push(*request);
        if self.fail.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::Unavailable, "store down"));
        }
        let width = request.width.as_secs() as i64;
        let events = self.events.lock().unwrap();
        let mut groups: BTreeMap<(i64, Vec<Value>), Vec<&Event>> = BTreeMap::new();
        for e in events.iter() {
            if request.range.contains(e.ts) && self.passes_static_filters(e) {
                let start = e.ts.timestamp().div_euclid(width) * width;
                groups.entry((start, self.key(e))).or_default().push(e);
            }
        }
        let mut rows: Vec<BucketRow> = groups
            .into_iter()
            .map(|((start, key), es)| {
                let partials = self
                    .spec
                    .metrics()
                    .iter()
                    .map(|m| match m.kind {
                        MetricKind::Count => Partial::Count,
                        MetricKind::Sum | MetricKind::Avg => {
                            let sum = naive_metric(MetricKind::Sum, m.column.as_deref(), &es);
                            let values = es
                                .iter()
                                .filter(|e| !e.input(m.column.as_deref().unwrap()).is_null())
                                .count() as u64;
                            Partial::Sum { sum, values }
                        }
                        kind => Partial::Extreme(naive_metric(kind, m.column.as_deref(), &es)),
                    })
                    .collect();
                BucketRow::new(
                    DateTime::from_timestamp(start, 0).unwrap(),
                    key,
                    es.len() as u64,
                )
                .with_partials(partials)
            })
            .collect();
        match self.corrupt.load(Ordering::Acquire) {
            1 if !rows.is_empty() => rows.push(rows[0].clone()),
            2 if !rows.is_empty() => rows[0].start += TimeDelta::seconds(1),
            _ => {}
        }
        Ok(rows)
    }
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
}

const HOSTS: [Option<&str>; 4] = [Some("a"), Some("b"), Some("c"), None];

fn random_event(rng: &mut Rng, id: u64, ts: DateTime<Utc>) -> Event {
    Event {
        id,
        ts,
        host: HOSTS[rng.next(4) as usize],
        port: rng.next(5) as i64 - 1, // -1 is filtered out by the spec
        size: (rng.next(5) > 0).then(|| rng.next(2_000) as i64 - 500),
        ratio: (rng.next(4) > 0).then(|| rng.next(400) as i64 - 200),
    }
}

fn cache(store: &EventStore) -> BucketCache<EventStore> {
    BucketCache::builder(store.clone())
        .bucket_width(Duration::from_secs(10))
        .settle(Duration::from_secs(20))
        .retention(Duration::from_secs(900))
        .reconcile_every(Some(Duration::from_secs(300)))
        .build()
        .unwrap()
}

async fn check_view(
    cache: &BucketCache<EventStore>,
    store: &EventStore,
    end: i64,
    length: i64,
    filters: Vec<Filter>,
    limit: Option<usize>,
) {
    let window = Window::new(t(end - length), t(end)).unwrap();
    let ctx = FetchContext::new(window)
        .with_filters(filters.clone())
        .with_limit(limit);
    let got = cache.fetch(&ctx).await.unwrap();
    let covered = got.covered.expect("the cache reports the window it covers");
    assert!(covered.start <= window.start && covered.end >= window.end - TimeDelta::seconds(1));
    assert_eq!(
        covered.start.timestamp() % 10,
        0,
        "whole buckets at the start"
    );
    let want = store.direct(covered, &filters, limit);
    assert_eq!(
        got.rows, want,
        "at {end} over {length}s with {filters:?}: cache vs direct over {covered}"
    );
}

/// Rows keep arriving; some late within the settle, some updated or deleted within it.
/// At every tick, every view equals the direct aggregation over its covered window.
#[tokio::test(start_paused = true)]
async fn agrees_with_the_direct_query_at_every_tick() {
    let store = EventStore::new();
    let cache = cache(&store);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut id = 0;
    for s in 0..900 {
        for _ in 0..rng.next(4) {
            id += 1;
            store.insert(random_event(&mut rng, id, t(s)));
        }
    }
    for tick in 0..60 {
        let now = 900 + tick * 6;
        // New rows up to now, a few of them stamped up to 15 s in the past (late, but
        // within the 20 s settle).
        for s in now - 6..now {
            for _ in 0..rng.next(5) {
                id += 1;
                let late = if rng.next(4) == 0 {
                    rng.next(15) as i64
                } else {
                    0
                };
                store.insert(random_event(&mut rng, id, t(s - late)));
            }
        }
        // An update and a delete of rows within the settle.
        {
            let mut events = store.events.lock().unwrap();
            let recent: Vec<usize> = (0..events.len())
                .filter(|&i| events[i].ts >= t(now - 15))
                .collect();
            if recent.len() > 2 {
                let u = recent[rng.next(recent.len() as u64) as usize];
                events[u].size = Some(rng.next(100) as i64);
                events[u].host = HOSTS[rng.next(4) as usize];
                let d = recent[rng.next(recent.len() as u64) as usize];
                events.remove(d);
            }
        }
        check_view(&cache, &store, now, 600, vec![], None).await;
        check_view(&cache, &store, now, 300, vec![], None).await;
        check_view(&cache, &store, now, 900, vec![], Some(3)).await;
        check_view(
            &cache,
            &store,
            now,
            600,
            vec![Filter::eq("host", "a")],
            None,
        )
        .await;
        check_view(
            &cache,
            &store,
            now,
            600,
            vec![Filter::eq("host", Value::Null)],
            None,
        )
        .await;
        check_view(
            &cache,
            &store,
            now,
            120,
            vec![Filter::is_in("port", vec![Value::Int(0), Value::Int(2)])],
            None,
        )
        .await;
    }
    let stats = cache.stats();
    assert_eq!(
        stats.queries, 60,
        "one store query per tick, whatever the views"
    );
    assert_eq!(stats.full_reads, 1);
    assert!(stats.entries > 0 && stats.buckets <= 91, "{stats:?}");
    // Each tail re-reads the settle plus the partial bucket and the tick, not the window.
    let queries = store.queries.lock().unwrap();
    for q in queries.iter().skip(1) {
        assert!(q.range.length() <= Duration::from_secs(36), "{q:?}");
    }
}

/// A row later than the settle is invisible until the reconcile re-reads everything;
/// the reconcile counts it as a difference.
#[tokio::test(start_paused = true)]
async fn a_reconcile_heals_rows_later_than_the_settle() {
    let store = EventStore::new();
    let cache = cache(&store);
    let mut rng = Rng(7);
    for s in 0..600 {
        store.insert(random_event(&mut rng, s as u64, t(s)));
    }
    check_view(&cache, &store, 600, 600, vec![], None).await;
    // Far too late for the settle: 5 minutes old.
    let late = Event {
        id: 99_999,
        ts: t(300),
        host: Some("late"),
        port: 1,
        size: Some(1),
        ratio: None,
    };
    store.insert(late);
    let ctx = |end| FetchContext::new(Window::new(t(end - 600), t(end)).unwrap());
    let before = cache.fetch(&ctx(606)).await.unwrap();
    assert!(
        !before.rows.iter().any(|r| r[0] == Value::from("late")),
        "a row older than the settle is not seen by a tail"
    );
    tokio::time::advance(Duration::from_secs(301)).await;
    let after = cache
        .fetch(&ctx(612).with_filters(vec![Filter::eq("host", "late")]))
        .await
        .unwrap();
    assert_eq!(after.rows.len(), 1, "the reconcile brought the late row");
    let stats = cache.stats();
    assert_eq!(stats.full_reads, 2);
    assert_eq!(stats.last_reconcile_differences, 1, "{stats:?}");
    check_view(&cache, &store, 612, 600, vec![], None).await;
}

/// A failed tail changes nothing: the table stays as it was, and the next tick re-reads
/// from the last good watermark.
#[tokio::test(start_paused = true)]
async fn a_failed_tail_leaves_the_cache_as_it_was() {
    let store = EventStore::new();
    let cache = cache(&store);
    let mut rng = Rng(11);
    for s in 0..600 {
        store.insert(random_event(&mut rng, s as u64, t(s)));
    }
    let ctx = |end| FetchContext::new(Window::new(t(end - 600), t(end)).unwrap());
    let good = cache.fetch(&ctx(600)).await.unwrap();
    for s in 600..700 {
        store.insert(random_event(&mut rng, 10_000 + s as u64, t(s)));
    }
    store.fail.store(true, Ordering::Release);
    let err = cache.fetch(&ctx(606)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(cache.stats().failures, 1);
    // Corrupt answers are refused whole, too.
    store.fail.store(false, Ordering::Release);
    store.corrupt.store(1, Ordering::Release);
    let twice = cache.fetch(&ctx(612)).await.unwrap_err();
    assert!(twice.message().contains("twice"), "{twice}");
    store.corrupt.store(2, Ordering::Release);
    let misaligned = cache.fetch(&ctx(618)).await.unwrap_err();
    assert!(misaligned.message().contains("multiple"), "{misaligned}");
    assert_eq!(cache.stats().failures, 3);
    // The cache still serves what it had: the same rows as before the failures.
    store.corrupt.store(0, Ordering::Release);
    let inner = cache.stats();
    assert!(inner.entries > 0);
    // Recovery re-reads from the last good watermark (600 − 20 s settle → bucket 580).
    let recovered = cache.fetch(&ctx(700)).await.unwrap();
    let last = *store.queries.lock().unwrap().last().unwrap();
    assert_eq!(last.range.start, t(580));
    assert_ne!(recovered.rows, good.rows);
    check_view(&cache, &store, 700, 600, vec![], None).await;
}

/// Past `max_entries` the fetch fails with a clear error instead of growing.
#[tokio::test(start_paused = true)]
async fn the_entry_bound_fails_the_fetch_rather_than_grow() {
    let store = EventStore::new();
    let mut rng = Rng(3);
    for s in 0..600 {
        store.insert(random_event(&mut rng, s as u64, t(s)));
    }
    let cache = BucketCache::builder(store.clone())
        .bucket_width(Duration::from_secs(10))
        .max_entries(20)
        .build()
        .unwrap();
    let ctx = FetchContext::new(Window::new(t(0), t(600)).unwrap());
    let err = cache.fetch(&ctx).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    assert!(err.message().contains("max_entries"), "{err}");
    assert_eq!(cache.stats().entries, 0, "nothing applied");
}

/// Fetches at the same time from many views share one store query.
#[tokio::test(start_paused = true)]
async fn concurrent_views_share_one_query() {
    let store = EventStore::new();
    let cache = cache(&store);
    let mut rng = Rng(5);
    for s in 0..600 {
        store.insert(random_event(&mut rng, s as u64, t(s)));
    }
    let mut tasks = Vec::new();
    for i in 0..12i64 {
        let cache = cache.clone();
        tasks.push(tokio::spawn(async move {
            // Ends a few milliseconds apart, as the ticks of aligned views are.
            let end = t(600) + TimeDelta::milliseconds(i);
            let ctx = FetchContext::new(
                Window::new(end - TimeDelta::seconds(60 * (i + 1) % 900 + 60), end).unwrap(),
            )
            .with_filters(if i % 2 == 0 {
                vec![]
            } else {
                vec![Filter::eq("port", i % 4)]
            });
            cache.fetch(&ctx).await.unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(cache.stats().queries, 1);
}

#[test]
fn settings_are_checked() {
    let store = EventStore::new();
    let err = BucketCache::builder(store.clone())
        .bucket_width(Duration::from_millis(1500))
        .build()
        .unwrap_err();
    assert_eq!(err.context_value("setting"), Some("bucket_width"));
    let err = BucketCache::builder(store.clone())
        .retention(Duration::from_secs(60))
        .build()
        .unwrap_err();
    assert_eq!(err.context_value("setting"), Some("retention"));
    let err = BucketCache::builder(store.clone())
        .settle(Duration::from_secs(600))
        .build()
        .unwrap_err();
    assert_eq!(err.context_value("setting"), Some("settle"));
    let ok = BucketCache::builder(store).build().unwrap();
    assert_eq!(
        ok.bucket_width(),
        Duration::from_secs(1),
        "600 s / 360, at least 1 s"
    );
    assert_eq!(ok.settle(), Duration::from_secs(10), "the source's default");
}

/// Partials that do not fit the spec are refused with the metric named.
#[tokio::test]
async fn bad_partials_name_the_metric() {
    struct Bad(Aggregate);
    impl BucketQuery for Bad {
        fn spec(&self) -> &Aggregate {
            &self.0
        }
        async fn fetch_buckets(&self, r: &BucketRequest) -> Result<Vec<BucketRow>> {
            Ok(vec![
                BucketRow::new(r.range.start, vec![Value::from("a"), Value::Int(1)], 1)
                    .with_partials(vec![
                        Partial::Count,
                        Partial::Sum {
                            sum: Value::Float(1.5), // an integer column
                            values: 1,
                        },
                        Partial::Sum {
                            sum: Value::Null,
                            values: 0,
                        },
                        Partial::Extreme(Value::Null),
                        Partial::Extreme(Value::Null),
                        Partial::Sum {
                            sum: Value::Null,
                            values: 0,
                        },
                    ]),
            ])
        }
    }
    let cache = BucketCache::new(Bad(spec())).unwrap();
    let end = Utc::now();
    let err = cache
        .fetch(&FetchContext::new(
            Window::ending_at(end, Duration::from_secs(60)).unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.context_value("column"), Some("bytes"), "{err}");
}

/// Live views over one cache with different windows and filters, started at different
/// moments, tick together: one store query per tick for all of them. (Real time, 1 s
/// ticks: the merges run on the blocking pool, which paused test time does not wait
/// for. The bounds leave one query of slack for a tick delayed on a loaded machine.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_views_over_a_cache_tick_together() {
    use livetable_core::{LiveTable, ViewSpec};
    let store = EventStore::new();
    let now = Utc::now().timestamp() - 1_800_000_000;
    let mut rng = Rng(13);
    for s in now - 900..now + 10 {
        store.insert(random_event(&mut rng, s as u64, t(s)));
    }
    let cache = cache(&store);
    let shared: livetable_core::SharedQuery = Arc::new(cache.clone());
    let mut views = Vec::new();
    for i in 0..12u64 {
        let mut view = ViewSpec::new(Duration::from_secs(60 * (1 + i % 10)));
        if i % 3 == 1 {
            view.filters = vec![Filter::eq("port", (i % 4) as i64)];
        }
        let table = LiveTable::builder_shared(format!("v{i}"), shared.clone())
            .interval(Duration::from_secs(1))
            .view(view)
            .start()
            .unwrap();
        table.ready().await;
        views.push(table);
        tokio::time::sleep(Duration::from_millis(40 + 7 * i)).await;
    }
    // On the aligned schedule from the next second on.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let before = cache.stats().queries;
    let fetches_before: Vec<u64> = views.iter().map(|v| v.stats().fetches).collect();
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    let queries = cache.stats().queries - before;
    let ticks: Vec<u64> = views
        .iter()
        .zip(&fetches_before)
        .map(|(v, b)| v.stats().fetches - b)
        .collect();
    let most = *ticks.iter().max().unwrap();
    assert!(most >= 3, "the views kept ticking: {ticks:?}");
    assert!(
        queries <= most + 1,
        "{queries} store queries for {most} ticks of 12 views ({ticks:?})"
    );
}

/// A table over a cache allows more views by default: they cost no store query.
#[tokio::test]
async fn tables_over_a_cache_allow_more_views() {
    use livetable_core::{SHARED_REFRESH_MAX_VIEWS, Table, ViewParams};
    let store = EventStore::new();
    let cached = Table::builder("cached", cache(&store)).build().unwrap();
    let direct = Table::builder("direct", livetable_core::MemorySource::new(spec()).unwrap())
        .build()
        .unwrap();
    let mut views = Vec::new();
    for port in 0..SHARED_REFRESH_MAX_VIEWS as i64 {
        let params = ViewParams::default().with_filter(Filter::eq("port", port));
        views.push(cached.view(&params).unwrap().subscribe()); // watched: not evicted
    }
    let more = ViewParams::default().with_filter(Filter::eq("port", -5));
    assert_eq!(
        cached.view(&more).unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );
    for port in 0..16i64 {
        let params = ViewParams::default().with_filter(Filter::eq("port", port));
        views.push(direct.view(&params).unwrap().subscribe());
    }
    assert_eq!(
        direct.view(&more).unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );
}

/// A first load longer than the live table's fetch timeout goes on to completion (the
/// fetch is abandoned, not the load): the next tick serves from it instead of starting
/// the load over, again and again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_load_longer_than_the_fetch_timeout_completes() {
    use livetable_core::{LiveTable, Status};
    /// Reading the whole retention takes longer than the fetch timeout; a tail is quick.
    struct SlowFullReads {
        store: EventStore,
    }
    impl BucketQuery for SlowFullReads {
        fn spec(&self) -> &Aggregate {
            self.store.spec()
        }
        async fn fetch_buckets(&self, request: &BucketRequest) -> Result<Vec<BucketRow>> {
            if request.range.length() > Duration::from_secs(120) {
                tokio::time::sleep(Duration::from_millis(1_800)).await;
            }
            self.store.fetch_buckets(request).await
        }
    }
    let store = EventStore::new();
    let now = Utc::now().timestamp() - 1_800_000_000;
    let mut rng = Rng(17);
    for s in now - 600..now {
        store.insert(random_event(&mut rng, s as u64, t(s)));
    }
    let cache = BucketCache::builder(SlowFullReads { store })
        .bucket_width(Duration::from_secs(10))
        .build()
        .unwrap();
    let table = LiveTable::builder("slow", cache.clone())
        .interval(Duration::from_secs(1))
        .fetch_timeout(Duration::from_secs(1))
        .window(Duration::from_secs(600))
        .start()
        .unwrap();
    let first = table.ready().await;
    assert!(
        matches!(first.status, Status::Stale { .. }),
        "{:?}",
        first.status
    );
    let mut updates = table.subscribe();
    let fresh = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let snapshot = table.snapshot();
            if matches!(snapshot.status, Status::Fresh) {
                return snapshot;
            }
            updates.next().await;
        }
    })
    .await
    .expect("a fresh table once the load is done");
    assert!(!fresh.rows.is_empty());
    let stats = cache.stats();
    assert_eq!(
        stats.full_reads, 1,
        "the load was not started over: {stats:?}"
    );
    assert_eq!(stats.failures, 0, "{stats:?}");
}
