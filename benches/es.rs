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
//! - Allocations per fetch: counted with `stats_alloc`'s instrumented system allocator
//!   (a safe global allocator from a crate, as the workspace forbids `unsafe`), over one
//!   fetch after a warm-up, printed to stderr before the timings.
#![allow(missing_docs, clippy::unwrap_used)]

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use livetable::es::EsBuilder;
use livetable::{Aggregate, DataType, Direction, FetchContext, Metric, Window};
use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const PAGES: usize = 50;
const PAGE_SIZE: usize = 1000;

fn spec() -> Aggregate {
    Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension("source_ip", DataType::Ip)
        .dimension("protocol", DataType::Text)
        .dimension("destination_port", DataType::Int)
        .field("size", DataType::Int)
        .field("destination_ip", DataType::Ip)
        .metric(Metric::count("count"))
        .metric(Metric::sum("total_size", "size"))
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
