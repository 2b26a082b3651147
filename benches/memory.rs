//! The in-memory source on the reference workload (`shared/reference/workload.md`).
//!
//! Run with: `cargo bench --bench memory` (a few minutes on 2 cores; 10 M packets take
//! about 1.5 GB while the fetch benchmarks run).
//!
//! - `ingest/{2,5}dim`: `push_batch` of 1 M packets (batches of 10,000) into a fresh
//!   source, on one thread; throughput in events.
//! - `fetch/{2,5}dim/{1M,10M}`: the past-hour top-500 table, against `naive` — a typed
//!   `FxHashMap` re-aggregation of the same packets followed by a full sort (the
//!   "hand-written Rust" reference) — measured in the same run:
//!   - `steady`: the same window again (the merged view is up to date; the open bucket
//!     is combined and the top 500 selected): what a refresh costs between bucket
//!     roll-overs;
//!   - `slide`: the window moved by one bucket (one bucket subtracted, one added): what
//!     a refresh costs when a bucket rolls over;
//!   - `cold`: a window length never fetched before (the view is built from all 60
//!     buckets).
//! - Memory: printed before the benchmarks: resident bytes per group held, from
//!   `/proc/self/statm` before and after filling a source with 10 M events.
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::hash::Hash;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use livetable::{Aggregate, FetchContext, MemorySource, Window};
use livetable_testkit::workload::{EventLayout, Packet, Workload, five_dim_spec, two_dim_spec};
use rustc_hash::FxHashMap;

const SEED: u64 = 42;
const BATCH: usize = 10_000;

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn hour() -> Window {
    Window::ending_at(end(), Duration::from_secs(3600)).unwrap()
}

fn specs() -> [(&'static str, Aggregate); 2] {
    [("2dim", two_dim_spec()), ("5dim", five_dim_spec())]
}

/// A source holding `packets`, pushed in batches without keeping the `Value` events.
fn filled(spec: &Aggregate, packets: &[Packet]) -> MemorySource {
    let source = MemorySource::new(spec.clone()).unwrap();
    let layout = EventLayout::new(spec).unwrap();
    for chunk in packets.chunks(BATCH) {
        source.push_batch(layout.events(chunk)).unwrap();
    }
    source
}

/// The naive path: a typed hash map over every packet of the window, then a full sort.
fn naive(dims: usize, packets: &[Packet], window: Window) -> Vec<(u64, u64)> {
    if dims == 2 {
        naive_by(packets, window, |p| (p.source_ip, p.protocol))
    } else {
        naive_by(packets, window, |p| {
            (
                p.source_ip,
                p.source_port,
                p.destination_ip,
                p.destination_port,
                p.protocol,
            )
        })
    }
}

fn naive_by<K: Hash + Ord>(
    packets: &[Packet],
    window: Window,
    key: impl Fn(&Packet) -> K,
) -> Vec<(u64, u64)> {
    let mut map: FxHashMap<K, (u64, u64)> = FxHashMap::default();
    for p in packets.iter().filter(|p| window.contains(p.ts)) {
        let e = map.entry(key(p)).or_default();
        e.0 += 1;
        e.1 += u64::from(p.size);
    }
    let mut rows: Vec<(K, (u64, u64))> = map.into_iter().collect();
    rows.sort_unstable_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(500);
    rows.into_iter().map(|(_, v)| v).collect()
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn ingest(c: &mut Criterion) {
    let packets = Workload::new(SEED).generate(1_000_000, end());
    let mut group = c.benchmark_group("ingest");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(packets.len() as u64));
    for (name, spec) in specs() {
        let layout = EventLayout::new(&spec).unwrap();
        let events: Vec<Vec<_>> = layout.events(&packets).collect();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let source = MemorySource::new(spec.clone()).unwrap();
                    let t = Instant::now();
                    for chunk in events.chunks(BATCH) {
                        source.push_batch(chunk).unwrap();
                    }
                    total += t.elapsed();
                    drop(black_box(source));
                }
                total
            })
        });
    }
    group.finish();
}

fn fetch(c: &mut Criterion) {
    for count in [1_000_000usize, 10_000_000] {
        let label = format!("{}M", count / 1_000_000);
        let packets = Workload::new(SEED).generate(count, end());
        for (name, spec) in specs() {
            let dims = spec.dimensions().len();
            let before = resident_bytes();
            let source = filled(&spec, &packets);
            let ctx = FetchContext::new(hour());
            let rows = source.fetch_blocking(&ctx).unwrap().rows;
            let after = resident_bytes();
            let stats = source.stats();
            // The same table as the naive path: same counts in the same order.
            let expected = naive(dims, &packets, hour());
            let got: Vec<u64> = rows
                .iter()
                .map(|r| r[dims].as_i64().unwrap() as u64)
                .collect();
            assert_eq!(
                got,
                expected.iter().map(|e| e.0).collect::<Vec<_>>(),
                "top-500 counts differ from the naive path"
            );
            println!(
                "memory {name} {label}: {} groups, {} bucket entries, {} merged entries, {} \
                 buckets; resident +{:.1} MB = {:.0} bytes per group held",
                stats.groups,
                stats.bucket_entries,
                stats.merged_entries,
                stats.buckets,
                (after.saturating_sub(before)) as f64 / 1e6,
                after.saturating_sub(before) as f64 / stats.groups.max(1) as f64,
            );

            let mut group = c.benchmark_group(format!("fetch/{name}/{label}"));
            group
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(3));
            group.bench_function("naive", |b| {
                b.iter(|| naive(dims, black_box(&packets), hour()))
            });
            group.bench_function("steady", |b| {
                b.iter(|| source.fetch_blocking(black_box(&ctx)).unwrap())
            });
            // Alternate between two windows one bucket apart: each fetch subtracts one
            // bucket from the merged view and adds another.
            let earlier = FetchContext::new(
                Window::ending_at(end() - TimeDelta::seconds(60), Duration::from_secs(3600))
                    .unwrap(),
            );
            let mut flip = false;
            group.bench_function("slide", |b| {
                b.iter(|| {
                    flip = !flip;
                    source
                        .fetch_blocking(if flip { &earlier } else { &ctx })
                        .unwrap()
                })
            });
            // Five window lengths over four cached views: every fetch builds its view.
            let mut k = 0u64;
            group.bench_function(BenchmarkId::new("cold", "60 buckets"), |b| {
                b.iter(|| {
                    k += 1;
                    let length = Duration::from_secs(3600 - 60 * (k % 5));
                    let ctx = FetchContext::new(Window::ending_at(end(), length).unwrap());
                    source.fetch_blocking(&ctx).unwrap()
                })
            });
            group.finish();
        }
    }
}

criterion_group!(benches, ingest, fetch);
criterion_main!(benches);
