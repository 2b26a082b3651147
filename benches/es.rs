//! Elasticsearch backend: request building and response parsing for a 50,000-group
//! result over 50 composite pages of 1,000 buckets, without network (the answers are
//! pre-built bodies fed to [`CompositeFetch`], exactly what `EsAggregate::fetch` does
//! between HTTP calls).
//!
//! Run with: `cargo bench --features es --bench es`
//!
//! - `es_fetch/composite_50k`: one whole fetch — 50 request bodies built and
//!   serialised, 50 answers parsed, 50,000 rows converted (ip, keyword and int keys;
//!   count, sum with its value_count, avg, cardinality), merged, ordered by count and
//!   cut to the top 500.
//! - `es_fetch/json_parse_only` (baseline, same run): `serde_json::from_slice` of the
//!   same 50 bodies into `serde_json::Value` and nothing else — the floor any
//!   `Value`-based parser pays.
//! - `es_fetch/buckets_50k`: one whole bucket fetch (`BucketFetch`, what
//!   `EsAggregate::fetch_buckets` does between HTTP calls) — 50,000 (minute, group)
//!   rows over 50 pages (a `date_histogram` key before the same three dimensions;
//!   count, sum and avg as sum + value_count, min, max), every key checked for
//!   alignment and every int sum for exactness; against
//!   `es_fetch/buckets_json_parse_only`, the bare parse of those 50 bodies.
//! - Allocations per fetch: counted with `stats_alloc`'s instrumented system allocator
//!   (a safe global allocator from a crate, as the workspace forbids `unsafe`), over one
//!   fetch after a warm-up, printed to stderr before the timings.
#![allow(missing_docs, clippy::unwrap_used)]

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use livetable::es::EsBuilder;
use livetable::{
    Aggregate, BucketRequest, DataType, Direction, FetchContext, Metric, Partial, Value, Window,
};
use livetable_testkit::workload::packets_builder;
use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const PAGES: usize = 50;
const PAGE_SIZE: usize = 1000;

fn spec() -> Aggregate {
    packets_builder(&[
        ("source_ip", DataType::Ip),
        ("protocol", DataType::Text),
        ("destination_port", DataType::Int),
    ])
    .field("destination_ip", DataType::Ip)
    .metric(Metric::avg("avg_size", "size"))
    .metric(Metric::count_distinct("hosts", "destination_ip"))
    .order_by("count", Direction::Desc)
    .limit(500)
    .build()
    .unwrap()
}

/// The 50 answers: deterministic groups, keys in composite order per page.
fn pages() -> Vec<Vec<u8>> {
    const PROTOCOLS: [&str; 4] = ["ICMP", "TCP", "UDP", "GRE"];
    (0..PAGES)
        .map(|p| {
            let buckets: Vec<_> = (0..PAGE_SIZE)
                .map(|i| {
                    let g = p * PAGE_SIZE + i;
                    let n = (g * 7919) % 997 + 1;
                    json!({
                        "key": {"source_ip": format!("10.{}.{}.{}", g / 65536, (g / 256) % 256, g % 256),
                                "protocol": PROTOCOLS[g % 4], "destination_port": (g % 50) * 10},
                        "doc_count": n,
                        "m1": {"value": (n * 1500) as f64}, "m1_n": {"value": n},
                        "m2": {"value": 1500.0}, "m3": {"value": n % 13 + 1}
                    })
                })
                .collect();
            let mut groups = json!({"buckets": buckets});
            if p + 1 < PAGES {
                groups["after_key"] = groups["buckets"][PAGE_SIZE - 1]["key"].clone();
            }
            serde_json::to_vec(&json!({"took": 40, "timed_out": false,
                "_shards": {"total": 3, "successful": 3, "skipped": 0, "failed": 0},
                "hits": {"max_score": null, "hits": []},
                "aggregations": {"groups": groups}}))
            .unwrap()
        })
        .collect()
}

fn fetch(source: &livetable::es::EsAggregate, ctx: &FetchContext, pages: &[Vec<u8>]) -> usize {
    let mut f = source.start(ctx).unwrap();
    let mut i = 0;
    let mut sent = 0;
    while let Some(body) = f.next_request() {
        sent += body.len();
        f.accept(&pages[i]).unwrap();
        i += 1;
    }
    assert_eq!(i, PAGES);
    let table = f.finish().unwrap();
    assert_eq!(table.rows.len(), 500);
    sent + table.rows.len()
}

/// The spec of the bucket fetch: the same dimensions, mergeable metrics only.
fn bucket_spec() -> Aggregate {
    Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension("source_ip", DataType::Ip)
        .dimension("protocol", DataType::Text)
        .dimension("destination_port", DataType::Int)
        .field("size", DataType::Int)
        .metric(Metric::count("count"))
        .metric(Metric::sum("total_size", "size"))
        .metric(Metric::avg("avg_size", "size"))
        .metric(Metric::min("min_size", "size"))
        .metric(Metric::max("max_size", "size"))
        .build()
        .unwrap()
}

/// Epoch milliseconds of the hour the benches read, 11:00 to 12:00.
const HOUR_START_MS: i64 = 1_795_863_600_000;

/// The 50 answers of the bucket fetch: 60 one-minute buckets of ~834 groups each, in
/// composite order (bucket, then key).
fn bucket_pages() -> Vec<Vec<u8>> {
    const PROTOCOLS: [&str; 4] = ["ICMP", "TCP", "UDP", "GRE"];
    const PER_BUCKET: usize = 834;
    (0..PAGES)
        .map(|p| {
            let buckets: Vec<_> = (0..PAGE_SIZE)
                .map(|i| {
                    let g = p * PAGE_SIZE + i;
                    let (minute, h) = (g / PER_BUCKET, g % PER_BUCKET);
                    let n = (g * 7919) % 97 + 1;
                    json!({
                        "key": {"bucket": HOUR_START_MS + minute as i64 * 60_000,
                                "source_ip": format!("10.0.{}.{}", h / 256, h % 256),
                                "protocol": PROTOCOLS[h % 4], "destination_port": (h % 50) * 10},
                        "doc_count": n,
                        "m1": {"value": (n * 1500) as f64}, "m1_n": {"value": n},
                        "m2": {"value": (n * 1500) as f64}, "m2_n": {"value": n},
                        "m3": {"value": 40.0}, "m4": {"value": 1500.0}
                    })
                })
                .collect();
            let mut groups = json!({"buckets": buckets});
            if p + 1 < PAGES {
                groups["after_key"] = groups["buckets"][PAGE_SIZE - 1]["key"].clone();
            }
            serde_json::to_vec(&json!({"took": 40, "timed_out": false,
                "_shards": {"total": 3, "successful": 3, "skipped": 0, "failed": 0},
                "hits": {"max_score": null, "hits": []},
                "aggregations": {"groups": groups}}))
            .unwrap()
        })
        .collect()
}

fn fetch_buckets(
    source: &livetable::es::EsAggregate,
    request: &BucketRequest,
    pages: &[Vec<u8>],
) -> usize {
    let mut f = source.start_buckets(request).unwrap();
    let mut i = 0;
    let mut sent = 0;
    while let Some(body) = f.next_request() {
        sent += body.len();
        f.accept(&pages[i]).unwrap();
        i += 1;
    }
    assert_eq!(i, PAGES);
    let rows = f.finish().unwrap();
    assert_eq!(rows.len(), PAGES * PAGE_SIZE);
    assert!(matches!(
        rows[0].partials[1],
        Partial::Sum {
            sum: Value::Int(_),
            ..
        }
    ));
    sent + rows.len()
}

/// The four paths alternating, `ROUNDS` rounds: on a shared machine whose load drifts,
/// the per-round ratios are steadier than criterion's separate estimates. Prints the
/// median, p95 and max of each path and the median of the per-round ratios.
fn interleaved(
    source: &livetable::es::EsAggregate,
    ctx: &FetchContext,
    pages: &[Vec<u8>],
    bucket_source: &livetable::es::EsAggregate,
    request: &BucketRequest,
    bpages: &[Vec<u8>],
) {
    const ROUNDS: usize = 15;
    let parse = |ps: &[Vec<u8>]| {
        for p in ps {
            black_box(serde_json::from_slice::<serde_json::Value>(p).unwrap());
        }
    };
    let time = |f: &mut dyn FnMut()| {
        let t = std::time::Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e3
    };
    let mut runs: [Vec<f64>; 4] = Default::default();
    for _ in 0..ROUNDS {
        runs[0].push(time(&mut || {
            black_box(fetch(source, ctx, pages));
        }));
        runs[1].push(time(&mut || parse(pages)));
        runs[2].push(time(&mut || {
            black_box(fetch_buckets(bucket_source, request, bpages));
        }));
        runs[3].push(time(&mut || parse(bpages)));
    }
    let ratios =
        |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(x, y)| x / y).collect() };
    let (r_direct, r_buckets) = (ratios(&runs[0], &runs[1]), ratios(&runs[2], &runs[3]));
    let stats = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        let p95 = v[((v.len() as f64 * 0.95).ceil() as usize).min(v.len()) - 1];
        (v[v.len() / 2], p95, v[v.len() - 1])
    };
    for (name, v) in [
        ("composite_50k", &runs[0]),
        ("json_parse_only", &runs[1]),
        ("buckets_50k", &runs[2]),
        ("buckets_json_parse_only", &runs[3]),
    ] {
        let (m, p95, max) = stats(v);
        eprintln!(
            "interleaved {name}: median {m:.1} ms, p95 {p95:.1} ms, max {max:.1} ms ({ROUNDS} runs)"
        );
    }
    eprintln!(
        "interleaved ratios (median of per-round ratios): composite_50k / json_parse_only {:.2}, \
         buckets_50k / buckets_json_parse_only {:.2}",
        stats(&r_direct).0,
        stats(&r_buckets).0
    );
}

fn bench(c: &mut Criterion) {
    let client = EsBuilder::new("http://localhost:9200")
        .index("packets-*")
        .page_size(PAGE_SIZE)
        .build()
        .unwrap();
    let source = client.aggregate(spec()).unwrap();
    let end = "2026-11-28T12:00:00Z".parse().unwrap();
    let ctx = FetchContext::new(Window::ending_at(end, Duration::from_secs(3600)).unwrap());
    let pages = pages();
    let bytes: usize = pages.iter().map(Vec::len).sum();

    black_box(fetch(&source, &ctx, &pages)); // warm-up
    let region = Region::new(GLOBAL);
    black_box(fetch(&source, &ctx, &pages));
    let s = region.change();
    let region = Region::new(GLOBAL);
    for p in &pages {
        black_box(serde_json::from_slice::<serde_json::Value>(p).unwrap());
    }
    let b = region.change();
    eprintln!(
        "allocations per fetch (50 pages, 50,000 groups, {:.1} MB of answers): {} allocations \
         ({:.1} per group), {} reallocations, {:.1} MB allocated; baseline json_parse_only: {} \
         allocations, {:.1} MB",
        bytes as f64 / 1e6,
        s.allocations,
        s.allocations as f64 / 50_000.0,
        s.reallocations,
        s.bytes_allocated as f64 / 1e6,
        b.allocations,
        b.bytes_allocated as f64 / 1e6,
    );

    let bucket_source = client.aggregate(bucket_spec()).unwrap();
    let hour = Window::ending_at(end, Duration::from_secs(3600)).unwrap();
    assert_eq!(hour.start.timestamp_millis(), HOUR_START_MS);
    let request = BucketRequest::new(hour, Duration::from_secs(60));
    let bpages = bucket_pages();
    let bbytes: usize = bpages.iter().map(Vec::len).sum();
    black_box(fetch_buckets(&bucket_source, &request, &bpages)); // warm-up
    let region = Region::new(GLOBAL);
    black_box(fetch_buckets(&bucket_source, &request, &bpages));
    let s = region.change();
    let region = Region::new(GLOBAL);
    for p in &bpages {
        black_box(serde_json::from_slice::<serde_json::Value>(p).unwrap());
    }
    let b = region.change();
    eprintln!(
        "allocations per bucket fetch (50 pages, 50,000 rows, {:.1} MB of answers): {} \
         allocations ({:.1} per row), {} reallocations, {:.1} MB allocated; baseline \
         buckets_json_parse_only: {} allocations, {:.1} MB",
        bbytes as f64 / 1e6,
        s.allocations,
        s.allocations as f64 / 50_000.0,
        s.reallocations,
        s.bytes_allocated as f64 / 1e6,
        b.allocations,
        b.bytes_allocated as f64 / 1e6,
    );

    interleaved(&source, &ctx, &pages, &bucket_source, &request, &bpages);

    let mut g = c.benchmark_group("es_fetch");
    g.sample_size(20);
    g.throughput(Throughput::Elements(50_000));
    g.bench_function("composite_50k", |bch| {
        bch.iter(|| black_box(fetch(&source, &ctx, &pages)))
    });
    g.bench_function("json_parse_only", |bch| {
        bch.iter(|| {
            for p in &pages {
                black_box(serde_json::from_slice::<serde_json::Value>(p).unwrap());
            }
        })
    });
    g.bench_function("buckets_50k", |bch| {
        bch.iter(|| black_box(fetch_buckets(&bucket_source, &request, &bpages)))
    });
    g.bench_function("buckets_json_parse_only", |bch| {
        bch.iter(|| {
            for p in &bpages {
                black_box(serde_json::from_slice::<serde_json::Value>(p).unwrap());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
