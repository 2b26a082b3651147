//! Views built from the buckets, on the reference workload (`shared/reference/workload.md`).
//!
//! Run with: `cargo bench --bench views --features http` (both parts, ~5 min here), or
//! name parts: `cargo bench --bench views --features http -- grouped` / `-- trend`.
//!
//! - `grouped`: the 5-dimension table over a 1 h window of 10 s buckets (the bucket
//!   cache's default for an hour; `MemorySource` and the cache serve views from the
//!   same store, so a `MemorySource` stands for both), at 1 M and 10 M packets per
//!   hour, live 6 s ticks (each pushes 6 s of packets, then fetches). Per tick, the
//!   time of the full top-500 fetch (the baseline, same run) and of grouped fetches
//!   (`FetchContext::group_by`): by source_ip, by (source_ip, destination_port), by
//!   protocol, and by source_ip with a filter on the dropped protocol. The fetches of
//!   a tick run in an order rotated every tick, so the one that folds the newly closed
//!   bucket into the shared merged window is each variant in turn. Prints
//!   p50/p95/p99/max and the ratios to the baseline.
//! - `trend`: the tcpdump example's in-memory table (10 s buckets, 1 h window, the hour
//!   prefilled with 720,000 packets, then 200 packets a second, fetched every 6 s) with
//!   a trend of `count` (one-minute steps), over 5 simulated minutes
//!   (`LIVETABLE_VIEWS_TREND_MINUTES` sets another length). Each tick's
//!   snapshot is diffed against the previous one; prints the patch's JSON size against
//!   the snapshot's at ticks where the trend's steps rolled over and at the others, the
//!   same for the table without a trend (baseline: the same rows), and the trend's own
//!   part of the patch. Asserts at every tick that applying the patch reproduces the
//!   new snapshot's trend, series by series.
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use livetable::http::wire::{patch_json, snapshot_json};
use livetable::{FetchContext, Filter, MemorySource, Snapshot, TableQuery, Value, Window};
use livetable_testkit::workload::{EventLayout, LiveTraffic, Workload, five_dim_spec};
use rustc_hash::FxHashMap;

#[path = "common/tail.rs"]
mod tail;

use tail::Tail;

const SEED: u64 = 42;
const HOUR: Duration = Duration::from_secs(3600);
const BUCKET: Duration = Duration::from_secs(10);

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// A source of the 5-dimension spec over 10 s buckets holding `count` packets of the
/// hour before [`start`], and the layout to feed it.
fn filled(count: usize) -> (MemorySource, EventLayout) {
    let spec = five_dim_spec();
    let layout = EventLayout::new(&spec).unwrap();
    let source = MemorySource::builder(spec)
        .bucket_width(BUCKET)
        .retention(HOUR)
        .build()
        .unwrap();
    let past = Workload::new(SEED).generate(count, start());
    for chunk in past.chunks(10_000) {
        source.push_batch(layout.events(chunk)).unwrap();
    }
    (source, layout)
}

/// One grouped view (or the full table when `group_by` is `None`).
struct Variant {
    name: &'static str,
    group_by: Option<Vec<usize>>,
    filters: Vec<Filter>,
    took: Vec<Duration>,
    rows: usize,
}

/// Grouped fetches against the full top-500 fetch at `per_hour` packets per hour.
fn grouped(per_hour: usize) {
    const TICKS: usize = 60;
    let filling = Instant::now();
    let (source, layout) = filled(per_hour);
    let stats = source.stats();
    println!(
        "grouped, {} M packets/h: filled in {:.1?}: {} groups, {} (bucket, group) entries",
        per_hour / 1_000_000,
        filling.elapsed(),
        stats.groups,
        stats.bucket_entries
    );
    // Positions in the spec's dimension order, looked up rather than assumed.
    let schema = source.schema().clone();
    let at = |name: &str| schema.index_of(name).unwrap();
    let (source_ip, destination_port, protocol) =
        (at("source_ip"), at("destination_port"), at("protocol"));
    assert_eq!((source_ip, destination_port, protocol), (0, 3, 4));
    let mut variants = [
        ("full 5-dim top 500 (baseline)", None, vec![]),
        ("by source_ip [0]", Some(vec![source_ip]), vec![]),
        (
            "by (source_ip, destination_port) [0, 3]",
            Some(vec![source_ip, destination_port]),
            vec![],
        ),
        ("by protocol [4]", Some(vec![protocol]), vec![]),
        (
            "by source_ip [0], protocol = UDP",
            Some(vec![source_ip]),
            vec![Filter::eq("protocol", "UDP")],
        ),
    ]
    .map(|(name, group_by, filters)| Variant {
        name,
        group_by,
        filters,
        took: Vec::with_capacity(TICKS),
        rows: 0,
    });
    let context = |v: &Variant, now: DateTime<Utc>| {
        FetchContext::new(Window::ending_at(now, HOUR).unwrap())
            .with_group_by(v.group_by.clone())
            .with_filters(v.filters.clone())
    };

    // The first fetch builds the hour's merged window, which every later one updates.
    let mut now = start();
    let t = Instant::now();
    source.fetch_blocking(&context(&variants[0], now)).unwrap();
    println!(
        "  first fetch (builds the merged window): {:.1?}",
        t.elapsed()
    );

    let mut traffic = LiveTraffic::new(SEED);
    let per_tick = per_hour / 600;
    for tick in 0..TICKS {
        let next = now + TimeDelta::seconds(6);
        let packets = traffic.generate(per_tick, now, next);
        source.push_batch(layout.events(&packets)).unwrap();
        now = next;
        let n = variants.len();
        for k in 0..n {
            let v = &mut variants[(tick + k) % n];
            let ctx = context(v, now);
            let t = Instant::now();
            let rows = source.fetch_blocking(&ctx).unwrap().rows;
            v.took.push(t.elapsed());
            let width = v.group_by.as_ref().map_or(5, Vec::len) + 2;
            assert!(!rows.is_empty() && rows.iter().all(|r| r.len() == width));
            v.rows = rows.len();
        }
    }

    println!(
        "grouped views, {} M packets/h, 1 h window, 10 s buckets, {TICKS} live 6 s ticks \
         ({per_tick} packets each):",
        per_hour / 1_000_000
    );
    let base = Tail::of_durations(&variants[0].took);
    for v in &variants {
        let tail = Tail::of_durations(&v.took);
        println!(
            "  {:<40} {:>4} rows  {}  ratio to baseline p50 {:.2} p95 {:.2}",
            v.name,
            v.rows,
            tail.ms(),
            tail.at(0.5) / base.at(0.5),
            tail.at(0.95) / base.at(0.95)
        );
    }
}

/// JSON sizes of one tick's snapshot and patch, with and without the trend.
struct Sizes {
    /// Whether the trend's first step moved since the previous tick.
    rolled: bool,
    snapshot: usize,
    patch: usize,
    /// The patch's JSON without its `trend` part.
    patch_rows: usize,
    snapshot_plain: usize,
    patch_plain: usize,
    changed_rows: usize,
    trend_changes: usize,
    /// Trend changes that resend a row's whole series (`at` = 0).
    whole_series: usize,
    /// Points in the trend changes.
    trend_points: usize,
}

/// Each row's trend series by its key (the row's dimension values).
fn series_by_key(s: &Snapshot) -> FxHashMap<Vec<Value>, Vec<Value>> {
    let keys = s.schema.key_indices();
    let trend = s.trend.as_deref().unwrap();
    s.rows
        .iter()
        .zip(&trend.series)
        .map(|(row, series)| (row.key(keys), series.to_vec()))
        .collect()
}

/// Patch sizes of the example's table with a trend of `count`.
fn trend() {
    let minutes: u64 = std::env::var("LIVETABLE_VIEWS_TREND_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(5);
    let ticks = minutes * 10;
    let (source, layout) = filled(720_000);
    let schema = Arc::new(source.schema().clone());
    let mut traffic = LiveTraffic::new(SEED);
    let mut now = start();
    let mut previous: Option<(Snapshot, Snapshot)> = None;
    let mut sizes = Vec::new();
    for version in 0..=ticks {
        if version > 0 {
            let next = now + TimeDelta::seconds(6);
            let packets = traffic.generate(1_200, now, next);
            source.push_batch(layout.events(&packets)).unwrap();
            now = next;
        }
        let window = Window::ending_at(now, HOUR).unwrap();
        let ctx = FetchContext::new(window).with_trend(Some("count".into()));
        let fetched = source.fetch_blocking(&ctx).unwrap();
        // As the live table publishes a fresh fetch (`publish_fresh`).
        let mut plain = Snapshot::new(
            schema.clone(),
            fetched.rows,
            fetched.covered.unwrap_or(window),
        );
        plain.version = version;
        let mut new = plain.clone();
        new.trend = Some(Arc::new(fetched.trend.unwrap()));
        if let Some((old, old_plain)) = &previous {
            let patch = old.diff(&new);
            let patch_plain = old_plain.diff(&plain);
            assert_eq!(
                (&patch.inserted, &patch.updated, &patch.removed),
                (
                    &patch_plain.inserted,
                    &patch_plain.updated,
                    &patch_plain.removed
                ),
                "the trend changes no row of the patch"
            );
            let applied = old.apply(&patch).unwrap();
            assert_eq!(
                series_by_key(&applied),
                series_by_key(&new),
                "tick {version}: the patched trend differs from the fetched one"
            );
            let mut rows_only = patch.clone();
            rows_only.trend = None;
            let (old_trend, new_trend) = (old.trend.as_deref(), new.trend.as_deref());
            let changes = patch.trend.as_ref().map_or(&[][..], |t| &t.changes);
            sizes.push(Sizes {
                rolled: old_trend.map(|t| t.start) != new_trend.map(|t| t.start),
                snapshot: snapshot_json(&new).len(),
                patch: patch_json(&patch).len(),
                patch_rows: patch_json(&rows_only).len(),
                snapshot_plain: snapshot_json(&plain).len(),
                patch_plain: patch_json(&patch_plain).len(),
                changed_rows: patch.changed_rows(),
                trend_changes: changes.len(),
                whole_series: changes.iter().filter(|c| c.at == 0).count(),
                trend_points: changes.iter().map(|c| c.points.len()).sum(),
            });
        }
        previous = Some((new, plain));
    }
    let last = previous.unwrap().0;
    let t = last.trend.as_deref().unwrap();
    println!(
        "trend patches: the example's table (10 s buckets, 1 h, 720,000 packets prefilled, \
         200/s), trend of `count`: {} points of {:?} per row, {} rows, {ticks} ticks of 6 s",
        t.points,
        t.step,
        last.rows.len()
    );
    for (label, rolled) in [("at a roll-over", true), ("between roll-overs", false)] {
        let chosen: Vec<&Sizes> = sizes.iter().filter(|s| s.rolled == rolled).collect();
        let pct = |f: &dyn Fn(&Sizes) -> f64| Tail::new(chosen.iter().map(|s| 100.0 * f(s)));
        let mean = |f: &dyn Fn(&Sizes) -> usize| {
            chosen.iter().map(|s| f(s)).sum::<usize>() as f64 / chosen.len().max(1) as f64
        };
        println!(
            "  {label} ({} ticks; means: snapshot {:.0} B ({:.0} B without the trend), patch \
             {:.0} B, {:.1} rows changed, \
             {:.1} series changed of which {:.1} resent whole (a change at point 0), {:.0} \
             points sent):",
            chosen.len(),
            mean(&|s| s.snapshot),
            mean(&|s| s.snapshot_plain),
            mean(&|s| s.patch),
            mean(&|s| s.changed_rows),
            mean(&|s| s.trend_changes),
            mean(&|s| s.whole_series),
            mean(&|s| s.trend_points)
        );
        let with = pct(&|s| s.patch as f64 / s.snapshot as f64);
        let without = pct(&|s| s.patch_plain as f64 / s.snapshot_plain as f64);
        let trend_part = pct(&|s| (s.patch - s.patch_rows) as f64 / s.snapshot as f64);
        let row_part = pct(&|s| s.patch_rows as f64 / s.snapshot as f64);
        let trend_own =
            pct(&|s| (s.patch - s.patch_rows) as f64 / (s.snapshot - s.snapshot_plain) as f64);
        println!(
            "    patch / snapshot, with trend          {}",
            with.percent()
        );
        println!(
            "    patch / snapshot, without (baseline)  {}",
            without.percent()
        );
        println!(
            "    trend part of the patch / snapshot    {}",
            trend_part.percent()
        );
        println!(
            "    rest of the patch / snapshot          {}",
            row_part.percent()
        );
        println!(
            "    trend part / the snapshot's trend     {}",
            trend_own.percent()
        );
        let verdict = |t: &Tail| if t.max() <= 5.0 { "met" } else { "NOT met" };
        println!(
            "    bound patch <= 5 % of the snapshot: with trend {} (max {:.2} %), \
             trend part alone {} (max {:.2} %)",
            verdict(&with),
            with.max(),
            verdict(&trend_part),
            trend_part.max()
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |part: &str| args.is_empty() || args.iter().any(|a| a == part);
    if wants("trend") {
        trend();
    }
    if wants("grouped") {
        grouped(1_000_000);
        grouped(10_000_000);
    }
}
