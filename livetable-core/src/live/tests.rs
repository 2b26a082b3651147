//! Runtime tests on tokio's paused clock: deterministic, no real sleeps.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::{
    Column, DataType, Error, ErrorKind, FetchContext, Fetched, Filter, Result, Row, Schema, Status,
    TableQuery, Value,
};

const TICK: Duration = Duration::from_secs(6);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Rows `k = 0..rows` with `v = fetch number`.
    Rows(usize),
    Fail,
    Panic,
    Hang,
    /// Answers after this long.
    Slow(Duration),
}

/// A source that counts its fetches and the most that ran at once.
#[derive(Clone)]
struct Probe {
    schema: Schema,
    mode: Arc<Mutex<Mode>>,
    fetches: Arc<AtomicU64>,
    running: Arc<AtomicUsize>,
    max_running: Arc<AtomicUsize>,
    windows: Arc<Mutex<Vec<crate::Window>>>,
}

impl Probe {
    fn new(mode: Mode) -> Self {
        Probe {
            schema: Schema::new(vec![
                Column::dimension("k", DataType::Int),
                Column::metric("v", DataType::Int),
            ])
            .unwrap(),
            mode: Arc::new(Mutex::new(mode)),
            fetches: Arc::default(),
            running: Arc::default(),
            max_running: Arc::default(),
            windows: Arc::default(),
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }
}

struct Running<'a>(&'a AtomicUsize);
impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl TableQuery for Probe {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        let _running = Running(&self.running);
        self.max_running.fetch_max(now, Ordering::SeqCst);
        self.windows.lock().unwrap().push(ctx.window);
        let mode = *self.mode.lock().unwrap();
        let rows = |count: usize| {
            (0..count as i64)
                .map(|k| Row::new(vec![Value::Int(k), Value::Int(n as i64)]))
                .collect::<Vec<_>>()
        };
        match mode {
            Mode::Rows(count) => Ok(rows(count).into()),
            Mode::Fail => Err(Error::unavailable("connection refused")),
            Mode::Panic => panic!("bug in the source"),
            Mode::Hang => std::future::pending().await,
            Mode::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok(rows(3).into())
            }
        }
    }
}

fn start(probe: &Probe) -> LiveTable {
    LiveTable::builder("probe", probe.clone())
        .interval(TICK)
        .fetch_timeout(Duration::from_secs(5))
        .start()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn one_fetch_per_tick_for_a_thousand_subscribers() {
    let probe = Probe::new(Mode::Rows(5));
    let table = start(&probe);
    let mut subs: Vec<Subscription> = (0..1000).map(|_| table.subscribe()).collect();
    // Ticks at 0, 6, …, 54 s: ten fetches.
    tokio::time::sleep(TICK * 9 + Duration::from_millis(100)).await;
    assert_eq!(probe.fetches(), 10);
    assert_eq!(table.stats().fetches, 10);
    assert_eq!(table.stats().subscribers, 1000);
    // Every subscriber sees every version.
    for sub in subs.iter_mut().step_by(97) {
        let mut last = 0;
        while sub.version() < 10 || last < 10 {
            last = sub.next().await.unwrap().version();
        }
        assert_eq!(last, 10);
    }
}

#[tokio::test(start_paused = true)]
async fn slow_fetches_skip_ticks_instead_of_stacking() {
    let probe = Probe::new(Mode::Slow(Duration::from_secs(14)));
    let table = LiveTable::builder("probe", probe.clone())
        .interval(TICK)
        .fetch_timeout(Duration::from_secs(20))
        .start()
        .unwrap();
    let _sub = table.subscribe();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        probe.max_running.load(Ordering::SeqCst),
        1,
        "fetches overlapped"
    );
    // Fetches start at 0, 18, 36, 54: each 14 s fetch swallows two ticks.
    assert_eq!(probe.fetches(), 4);
    assert_eq!(table.stats().skipped_ticks, 6, "{:?}", table.stats());
    assert_eq!(table.stats().errors, 0);
}

#[tokio::test(start_paused = true)]
async fn errors_keep_the_last_snapshot_stale_and_recovery_clears_it() {
    let probe = Probe::new(Mode::Rows(3));
    let table = start(&probe);
    let good = table.ready().await;
    assert!(good.status.is_fresh());
    assert_eq!(good.rows.len(), 3);

    probe.set(Mode::Fail);
    let fetched_before = probe.fetches();
    tokio::time::sleep(TICK + Duration::from_millis(10)).await;
    let stale = table.snapshot();
    let Status::Stale { since, error } = &stale.status else {
        panic!("expected stale, got {:?}", stale.status)
    };
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(error.context_value("table"), Some("probe"));
    assert_eq!(stale.rows, good.rows, "the last good rows are still served");
    assert!(*since >= good.fetch.taken_at);

    // Backoff: retries after 0.5, 1, 2, 4, 6 (capped), 6 s.
    let at_failure = probe.fetches();
    assert_eq!(at_failure, fetched_before + 1);
    tokio::time::sleep(Duration::from_millis(520)).await;
    assert_eq!(probe.fetches(), at_failure + 1);
    tokio::time::sleep(Duration::from_millis(1010)).await;
    assert_eq!(probe.fetches(), at_failure + 2);
    tokio::time::sleep(Duration::from_millis(2010)).await;
    assert_eq!(probe.fetches(), at_failure + 3);
    tokio::time::sleep(Duration::from_millis(4010)).await;
    assert_eq!(probe.fetches(), at_failure + 4);
    tokio::time::sleep(Duration::from_millis(5000)).await;
    assert_eq!(
        probe.fetches(),
        at_failure + 4,
        "backoff is capped at the interval, not below"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(probe.fetches(), at_failure + 5);
    // Still stale since the first failure.
    let Status::Stale { since: later, .. } = &table.snapshot().status else {
        panic!("still stale")
    };
    assert_eq!(later, since);

    probe.set(Mode::Rows(4));
    tokio::time::sleep(TICK + Duration::from_millis(10)).await;
    let recovered = table.snapshot();
    assert!(recovered.status.is_fresh());
    assert_eq!(recovered.rows.len(), 4);
    assert!(table.stats().errors >= 6);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_or_hanging_source_does_not_kill_the_table() {
    let probe = Probe::new(Mode::Panic);
    let table = start(&probe);
    let first = table.ready().await;
    let Status::Stale { error, .. } = &first.status else {
        panic!("a panic must show as stale")
    };
    assert_eq!(error.kind(), ErrorKind::Unexpected);
    assert!(error.message().contains("bug in the source"), "{error}");

    probe.set(Mode::Hang);
    tokio::time::sleep(TICK).await;
    let hung = table.refresh().await;
    let Status::Stale { error, .. } = &hung.status else {
        panic!("a hang must show as stale")
    };
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(table.stats().timeouts >= 1);
    // The timed-out fetch was aborted, not left running.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(probe.running.load(Ordering::SeqCst), 0);

    probe.set(Mode::Rows(2));
    tokio::time::sleep(TICK * 2).await;
    assert!(table.snapshot().status.is_fresh());
    assert_eq!(table.snapshot().rows.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_lagging_subscriber_gets_a_full_snapshot_never_a_gap() {
    let probe = Probe::new(Mode::Rows(3));
    let table = LiveTable::builder("probe", probe.clone())
        .interval(TICK)
        .config(RefreshConfig {
            interval: TICK,
            channel_capacity: 2,
            ..RefreshConfig::default()
        })
        .start()
        .unwrap();
    let mut sub = table.subscribe();
    let Some(Update::Snapshot(first)) = sub.next().await else {
        panic!("a snapshot comes first")
    };
    let mut state = (*first).clone();
    // Fall five versions behind with room for two.
    tokio::time::sleep(TICK * 5 + Duration::from_millis(10)).await;
    let mut saw_resync = false;
    while state.version < table.stats().version {
        match sub.next().await.unwrap() {
            Update::Snapshot(s) => {
                saw_resync = true;
                state = (*s).clone();
            }
            Update::Patch(p) => state = state.apply(&p).unwrap(),
        }
    }
    assert!(saw_resync, "a lagging subscriber must be resynchronised");
    assert_eq!(state.rows, table.snapshot().rows);
    assert_eq!(state.version, table.snapshot().version);
}

#[tokio::test(start_paused = true)]
async fn patches_reproduce_every_snapshot_for_a_live_subscriber() {
    let probe = Probe::new(Mode::Rows(3));
    let table = start(&probe);
    let mut sub = table.subscribe();
    let mut state = match sub.next().await.unwrap() {
        Update::Snapshot(s) => (*s).clone(),
        Update::Patch(_) => panic!("snapshot first"),
    };
    for rows in [5, 2, 2, 0, 4] {
        probe.set(Mode::Rows(rows));
        let expected = table.refresh().await;
        while state.version < expected.version {
            match sub.next().await.unwrap() {
                Update::Patch(p) => state = state.apply(&p).unwrap(),
                Update::Snapshot(_) => panic!("no lag here, so no resync"),
            }
        }
        assert_eq!(state.rows, expected.rows);
    }
}

#[tokio::test(start_paused = true)]
async fn resuming_subscribers_get_only_what_they_missed() {
    let probe = Probe::new(Mode::Rows(3));
    let table = start(&probe);
    let _listener = table.subscribe(); // keeps patches flowing into the history
    let v1 = table.ready().await.version;
    probe.set(Mode::Rows(4));
    table.refresh().await;
    table.refresh().await;
    let mut resumed = table.subscribe_from(v1);
    assert!(!resumed.starts_with_snapshot());
    let Some(Update::Patch(p)) = resumed.next().await else {
        panic!("a patch first")
    };
    assert_eq!(p.from_version, v1);
    // Too old (or from the future): a snapshot.
    assert!(table.subscribe_from(v1 + 100).starts_with_snapshot());
}

#[tokio::test(start_paused = true)]
async fn refresh_requests_while_fetching_share_one_fetch() {
    let probe = Probe::new(Mode::Slow(Duration::from_secs(2)));
    let table = start(&probe);
    table.ready().await;
    let before = probe.fetches();
    tokio::time::sleep(Duration::from_secs(2)).await; // past the 1 s floor
    let results = futures_join_all((0..50).map(|_| {
        let t = table.clone();
        tokio::spawn(async move { t.refresh().await.version })
    }))
    .await;
    assert_eq!(probe.fetches(), before + 1, "fifty demands, one fetch");
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}

async fn futures_join_all<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(start_paused = true)]
async fn an_unwatched_table_goes_idle_and_resumes_on_demand() {
    let probe = Probe::new(Mode::Rows(1));
    let table = LiveTable::builder("probe", probe.clone())
        .interval(TICK)
        .idle_grace(Duration::from_secs(30))
        .start()
        .unwrap();
    let sub = table.subscribe();
    tokio::time::sleep(Duration::from_secs(60)).await;
    drop(sub);
    let at_leave = probe.fetches();
    tokio::time::sleep(Duration::from_secs(300)).await;
    let stopped = probe.fetches();
    // At most the ticks of the 30 s grace period.
    assert!(stopped - at_leave <= 6, "{at_leave} → {stopped}");
    assert!(table.stats().idle);
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(probe.fetches(), stopped, "idle tables do not fetch");

    let old = table.snapshot(); // returns at once, and wakes the table
    assert!(old.version > 0);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(probe.fetches(), stopped + 1);
    assert!(!table.stats().idle);
}

#[tokio::test(start_paused = true)]
async fn windows_are_resolved_per_tick_and_the_table_stops_when_dropped() {
    let probe = Probe::new(Mode::Rows(1));
    let table = LiveTable::builder("probe", probe.clone())
        .interval(TICK)
        .window(Duration::from_secs(600))
        .start()
        .unwrap();
    let _sub = table.subscribe();
    tokio::time::sleep(TICK * 2 + Duration::from_millis(1)).await;
    let windows = probe.windows.lock().unwrap().clone();
    assert_eq!(windows.len(), 3);
    for w in &windows {
        assert_eq!(w.length(), Duration::from_secs(600));
    }
    assert_eq!(
        windows[1].end - windows[0].end,
        chrono::TimeDelta::seconds(6)
    );
    drop(_sub);
    drop(table);
    let n = probe.fetches();
    tokio::time::sleep(TICK * 5).await;
    assert_eq!(probe.fetches(), n, "a dropped table stops");
}

#[tokio::test]
async fn settings_are_validated() {
    let probe = Probe::new(Mode::Rows(1));
    let err = LiveTable::builder("p", probe.clone())
        .interval(Duration::from_millis(100))
        .start()
        .unwrap_err();
    assert!(err.message().contains("below the floor"), "{err}");
    let err = LiveTable::builder("p", probe)
        .window(Duration::ZERO)
        .start()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSpec);
}

#[test]
fn starting_outside_a_runtime_is_an_error_not_a_panic() {
    let err = LiveTable::builder("p", Probe::new(Mode::Rows(1)))
        .start()
        .unwrap_err();
    assert!(err.message().contains("tokio runtime"), "{err}");
}

fn table(probe: &Probe) -> Table {
    let probe2 = Probe {
        schema: Schema::new(vec![
            Column::dimension("k", DataType::Int),
            Column::dimension("name", DataType::Text),
            Column::metric("v", DataType::Int),
        ])
        .unwrap(),
        ..probe.clone()
    };
    Table::builder("things", probe2)
        .interval(TICK)
        .allowed_windows([Duration::from_secs(900)])
        .max_views(2)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn equal_view_parameters_share_one_live_table() {
    let t = table(&Probe::new(Mode::Rows(0)));
    let a = ViewParams::default().with_filter(Filter::is_in("k", ["2", "1"]));
    let b = ViewParams::default().with_filter(Filter::is_in("k", [1, 2, 2]));
    let va = t.view(&a).unwrap();
    let vb = t.view(&b).unwrap();
    assert_eq!(t.view_count(), 1);
    assert_eq!(va.view(), vb.view());
    // `in` with one value is `eq`.
    t.view(&ViewParams::default().with_filter(Filter::is_in("k", [7])))
        .unwrap();
    t.view(&ViewParams::default().with_filter(Filter::eq("k", 7)))
        .unwrap();
    assert_eq!(t.view_count(), 2);
    // The bound: a third distinct view while both are watched.
    let _w1 = va.subscribe();
    let _w2 = t
        .view(&ViewParams::default().with_filter(Filter::eq("k", 7)))
        .unwrap()
        .subscribe();
    let err = t
        .view(&ViewParams::default().with_window_str("15m").unwrap())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
}

#[tokio::test(start_paused = true)]
async fn invalid_view_parameters_say_what_is_allowed() {
    let t = table(&Probe::new(Mode::Rows(0)));
    let bad = |p: ViewParams| t.view(&p).unwrap_err();

    let e = bad(ViewParams::default().with_window(Duration::from_secs(7200)));
    assert_eq!(e.kind(), ErrorKind::InvalidParameter);
    assert!(e.message().contains("allowed: 15m, 1h"), "{e}");

    let e = bad(ViewParams::default().with_filter(Filter::eq("v", 1)));
    assert!(e.message().contains("valid ones are `k`, `name`"), "{e}");

    let e = bad(ViewParams::default().with_filter(Filter::eq("nope", 1)));
    assert!(e.message().contains("cannot filter on `nope`"), "{e}");

    let e = bad(ViewParams::default().with_filter(Filter::eq("k", "seven")));
    assert!(e.message().contains("not a valid int"), "{e}");

    let e = bad(ViewParams::default().with_filter(Filter::range("k", Some(Value::Int(1)), None)));
    assert!(e.message().contains("not `range`"), "{e}");

    let e = bad(ViewParams::default()
        .with_filter(Filter::eq("k", 1))
        .with_filter(Filter::eq("k", 2)));
    assert!(e.message().contains("filtered twice"), "{e}");

    assert!(
        crate::ViewParams::parse_window("soon")
            .unwrap_err()
            .message()
            .contains("15m, 1h or 90s")
    );
}

#[tokio::test(start_paused = true)]
async fn viewer_filters_are_applied_even_if_the_source_ignores_them() {
    let probe = Probe::new(Mode::Rows(6));
    let t = Table::builder("probe", probe.clone())
        .interval(TICK)
        .build()
        .unwrap();
    let view = t
        .view(&ViewParams::default().with_filter(Filter::is_in("k", [1, 3])))
        .unwrap();
    let snap = view.ready().await;
    let keys: Vec<_> = snap.rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(keys, vec![Value::Int(1), Value::Int(3)]);
}

#[tokio::test(start_paused = true)]
async fn a_source_returning_bad_rows_makes_the_table_stale_not_wrong() {
    struct Liar(Schema);
    impl TableQuery for Liar {
        fn schema(&self) -> &Schema {
            &self.0
        }
        async fn fetch(&self, _: &FetchContext) -> Result<Fetched> {
            Ok(vec![Row::new(vec![Value::from("not an int"), Value::Int(1)])].into())
        }
    }
    let liar = Liar(Probe::new(Mode::Rows(0)).schema);
    let table = LiveTable::builder("liar", liar).start().unwrap();
    let snap = table.ready().await;
    assert!(snap.rows.is_empty());
    let Status::Stale { error, .. } = &snap.status else {
        panic!("stale")
    };
    assert_eq!(error.context_value("column"), Some("k"));
}

#[test]
fn format_rules_and_names_are_validated_by_the_table() {
    let probe = Probe::new(Mode::Rows(0));
    for bad in ["", "two\nlines"] {
        let err = Table::builder(bad, probe.clone()).build().unwrap_err();
        assert!(err.message().contains("control characters"), "{err}");
    }
    // Spaces, slashes and dots are fine: adapters encode names where they go.
    assert!(
        Table::builder("flows by host/port.csv", probe.clone())
            .build()
            .is_ok()
    );
    let err = Table::builder("t", probe.clone())
        .format_rule(crate::FormatRule::DataBar {
            column: "missing".into(),
            color: crate::Color::new("red").unwrap(),
        })
        .build()
        .unwrap_err();
    assert_eq!(err.context_value("table"), Some("t"));
    let catalog = Catalog::new();
    catalog
        .insert(Table::builder("t", probe.clone()).build().unwrap())
        .unwrap();
    assert!(
        catalog
            .insert(Table::builder("t", probe).build().unwrap())
            .is_err()
    );
    assert_eq!(catalog.get("x").unwrap_err().kind(), ErrorKind::NotFound);
}

/// A table takes its default window and order from its source, and refuses a window
/// longer than the source keeps (its rows would silently cover less).
#[test]
fn tables_take_their_defaults_from_the_source_and_respect_its_retention() {
    let spec = crate::Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(900))
        .dimension("host", crate::DataType::Text)
        .metric(crate::Metric::count("n"))
        .order_by("n", crate::Direction::Desc)
        .build()
        .unwrap();
    let source = crate::MemorySource::builder(spec.clone())
        .retention(Duration::from_secs(3600))
        .build()
        .unwrap();
    let table = Table::builder("t", source.clone()).build().unwrap();
    assert_eq!(table.window(), Duration::from_secs(900));
    assert_eq!(table.default_order(), spec.order_by());
    // Explicit settings win.
    let table = Table::builder("t", source.clone())
        .window(Duration::from_secs(300))
        .default_order([])
        .build()
        .unwrap();
    assert_eq!(table.window(), Duration::from_secs(300));
    assert!(table.default_order().is_empty());
    // Up to the retention is fine; past it is an error naming both.
    Table::builder("t", source.clone())
        .allowed_windows([Duration::from_secs(3600)])
        .build()
        .unwrap();
    let err = Table::builder("t", source.clone())
        .allowed_windows([Duration::from_secs(7200)])
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSpec);
    assert!(
        err.message()
            .contains("the window 2h is longer than the 1h"),
        "{err}"
    );
    let err = Table::builder("t", source)
        .window(Duration::from_secs(7200))
        .build()
        .unwrap_err();
    assert!(
        err.message().contains("raise the source's retention"),
        "{err}"
    );
    // A source that says nothing: 1 h, no order, any window.
    let probe = Probe::new(Mode::Rows(0));
    let table = Table::builder("t", probe)
        .allowed_windows([Duration::from_secs(30 * 86_400)])
        .build()
        .unwrap();
    assert_eq!(table.window(), Duration::from_secs(3600));
    assert!(table.default_order().is_empty());
}

/// `group_by` is validated against the dimensions, the full grouping is the table's
/// own view, and a source that cannot group is named as the reason.
#[tokio::test]
async fn groupings_are_validated_and_shared() {
    let spec = crate::Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(600))
        .dimension("host", crate::DataType::Text)
        .dimension("port", crate::DataType::Int)
        .metric(crate::Metric::count("n"))
        .build()
        .unwrap();
    let source = crate::MemorySource::new(spec).unwrap();
    let now = chrono::Utc::now();
    for (host, port) in [("a", 1), ("a", 2), ("b", 1)] {
        source
            .push(&[Value::from(now), Value::from(host), Value::Int(port)])
            .unwrap();
    }
    let table = Table::builder("t", source).build().unwrap();
    let by_port = ViewParams::default().with_group_by(["port"]);
    assert_eq!(table.normalise(&by_port).unwrap().group_by, Some(vec![1]));
    // Every dimension in schema order is the table's own grouping: the default view.
    let all = ViewParams::default().with_group_by(["host", "port"]);
    assert_eq!(
        table.normalise(&all).unwrap(),
        table.normalise(&ViewParams::default()).unwrap()
    );
    assert_eq!(
        table
            .normalise(&ViewParams::default().with_group_by(["port", "host"]))
            .unwrap()
            .group_by,
        Some(vec![1, 0])
    );
    for (names, expected) in [
        (
            vec!["n"],
            "cannot group by `n`: not a dimension; valid ones are `host`, `port`",
        ),
        (vec!["nope"], "cannot group by `nope`"),
        (vec!["port", "port"], "`port` is in `group_by` twice"),
        (vec![], "needs at least one dimension"),
    ] {
        let err = table
            .normalise(&ViewParams::default().with_group_by(names))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParameter);
        assert!(err.message().contains(expected), "{err}");
        assert_eq!(err.context_value("parameter"), Some("group_by"));
    }
    // Viewers of one grouping share one view, whose rows are rolled up.
    let a = table.view(&by_port).unwrap();
    let b = table.view(&by_port).unwrap();
    assert_eq!(table.view_count(), 1);
    let snap = a.ready().await;
    assert!(Arc::ptr_eq(&snap, &b.ready().await));
    let names: Vec<&str> = snap
        .schema
        .columns()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["port", "n"]);
    let mut rows: Vec<Vec<Value>> = snap.rows.iter().map(|r| r.values().to_vec()).collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            vec![Value::Int(1), Value::Int(2)],
            vec![Value::Int(2), Value::Int(1)]
        ]
    );

    // A source that cannot group says so.
    let probe = Table::builder("p", Probe::new(Mode::Rows(1)))
        .build()
        .unwrap();
    let err = probe
        .normalise(&ViewParams::default().with_group_by(["k"]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidParameter);
    assert!(
        err.message().contains("cannot group its rows another way"),
        "{err}"
    );
}
