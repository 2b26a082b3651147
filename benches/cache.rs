//! The cached refresh mode, on the reference workload (`shared/reference/workload.md`).
//!
//! Run with: `cargo bench --bench cache` (all parts), or name parts:
//! `cargo bench --bench cache -- merge` / `-- postgres`.
//!
//! - `merge`: the per-tick merge of the 5-dimension table over a 30-minute window at
//!   10 M packets per hour, with live ticks of 6 s (each tick pushes 6 s of packets,
//!   then fetches the top 500). The same merge serves `MemorySource` and the bucket
//!   cache. Baseline in the same run: the same table built from scratch (a window
//!   length not fetched before), which is what every tick would cost without the
//!   incremental merged windows. Prints p50/p95/p99/max, roll-over ticks apart, for
//!   10 s buckets (the bucket cache's default for an hour) and 60 s buckets
//!   (`MemorySource`'s default), and the resident bytes per (bucket, group) entry.
//! - `postgres` (needs `DATABASE_URL`, default `postgres://root@127.0.0.1/test`): see
//!   [`postgres`].
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use livetable::{FetchContext, MemorySource, Window};
use livetable_testkit::workload::{EventLayout, LiveTraffic, Workload, five_dim_spec};

const SEED: u64 = 42;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// Percentiles of durations, in milliseconds.
struct Tail {
    sorted: Vec<f64>,
}

impl Tail {
    fn new(samples: &[Duration]) -> Self {
        let mut sorted: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        sorted.sort_by(f64::total_cmp);
        Tail { sorted }
    }

    fn at(&self, q: f64) -> f64 {
        if self.sorted.is_empty() {
            return f64::NAN;
        }
        let i = ((self.sorted.len() as f64 - 1.0) * q).round() as usize;
        self.sorted[i]
    }

    fn line(&self) -> String {
        format!(
            "n={:>4}  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            self.sorted.len(),
            self.at(0.5),
            self.at(0.95),
            self.at(0.99),
            self.sorted.last().copied().unwrap_or(f64::NAN)
        )
    }
}

fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The per-tick merge at 10 M packets per hour, with buckets of `width`.
fn merge(width: Duration) {
    const PER_HOUR: usize = 10_000_000;
    const TICKS: usize = 150;
    let spec = five_dim_spec();
    let layout = EventLayout::new(&spec).unwrap();
    let source = MemorySource::builder(spec.clone())
        .bucket_width(width)
        .build()
        .unwrap();
    // The past hour, then live traffic at the same rate.
    let before = resident_bytes();
    let past = Workload::new(SEED).generate(PER_HOUR, start());
    for chunk in past.chunks(10_000) {
        source.push_batch(layout.events(chunk)).unwrap();
    }
    drop(past);
    let stats = source.stats();
    // Freed memory of an earlier part is reused: only a process's first part measures.
    static MEASURED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let first = !MEASURED.swap(true, std::sync::atomic::Ordering::Relaxed);
    let grown = resident_bytes().saturating_sub(before) as f64;
    println!(
        "merge, {}s buckets: {} groups, {} (bucket, group) entries in {} buckets; {}",
        width.as_secs(),
        stats.groups,
        stats.bucket_entries,
        stats.buckets,
        if first {
            format!(
                "resident +{:.0} MB ({:.0} bytes per entry, keys and merged windows included)",
                grown / 1e6,
                grown / stats.bucket_entries.max(1) as f64
            )
        } else {
            "resident growth not measured (memory freed by the previous part is reused)".into()
        }
    );
    let mut traffic = LiveTraffic::new(SEED);
    let secs = source.bucket_width().as_secs() as i64;
    let per_tick = PER_HOUR / 600;
    let mut now = start();
    let window = Duration::from_secs(1800);
    source
        .fetch_blocking(&FetchContext::new(Window::ending_at(now, window).unwrap()))
        .unwrap();
    let (mut steady, mut rollover, mut cold) = (Vec::new(), Vec::new(), Vec::new());
    for tick in 0..TICKS {
        let next = now + TimeDelta::seconds(6);
        let packets = traffic.generate(per_tick, now, next);
        source.push_batch(layout.events(&packets)).unwrap();
        let rolled = next.timestamp().div_euclid(secs) != now.timestamp().div_euclid(secs);
        now = next;
        let ctx = FetchContext::new(Window::ending_at(now, window).unwrap());
        let t = Instant::now();
        let rows = source.fetch_blocking(&ctx).unwrap().rows;
        let took = t.elapsed();
        assert_eq!(rows.len(), 500);
        if rolled { &mut rollover } else { &mut steady }.push(took);
        // Baseline: the same table from scratch, every 10th tick (a length never
        // fetched before builds its merged window from every bucket).
        if tick % 10 == 0 {
            let fresh = Duration::from_secs(1800 + 60 * (1 + tick as u64 / 10 % 20));
            let ctx = FetchContext::new(Window::ending_at(now, fresh).unwrap());
            let t = Instant::now();
            source.fetch_blocking(&ctx).unwrap();
            cold.push(t.elapsed());
        }
    }
    let all: Vec<Duration> = steady.iter().chain(&rollover).copied().collect();
    let (all, steady, rollover, cold) = (
        Tail::new(&all),
        Tail::new(&steady),
        Tail::new(&rollover),
        Tail::new(&cold),
    );
    println!(
        "merge 5-dim, 30 min window, 10 M packets/h, live 6 s ticks, {}s buckets:",
        width.as_secs()
    );
    println!("  every tick      {}", all.line());
    println!("  between roll-overs {}", steady.line());
    println!("  at a roll-over  {}", rollover.line());
    println!("  baseline: from scratch {}", cold.line());
    println!(
        "  ratio p95 tick / p50 from scratch = {:.3}; target p95 <= 35 ms: {}",
        all.at(0.95) / cold.at(0.5),
        if all.at(0.95) <= 35.0 {
            "met"
        } else {
            "MISSED"
        }
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |part: &str| args.is_empty() || args.iter().any(|a| a == part);
    if wants("merge") {
        // The bucket cache's default width for an hour, then MemorySource's.
        merge(Duration::from_secs(10));
        merge(Duration::from_secs(60));
    }
}
