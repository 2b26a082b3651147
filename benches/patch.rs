//! What a live update costs: computing the patch between two 50,000-row snapshots in
//! which 1 % of the rows changed, and how many JSON bytes it takes against the full
//! snapshot.
//!
//! Run with `cargo bench --bench patch --features http` (the JSON is the HTTP
//! adapter's, `livetable::http::wire`). The size ratio is printed once before the
//! timings (target: patch ≤ 3 % of the snapshot; computing it < 10 ms).

// A bench reports its figures on standard output.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use livetable::http::wire::{patch_json, snapshot_json};
use livetable::{Column, DataType, Row, Schema, Snapshot, Unit, Value, Window};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const ROWS: usize = 50_000;
const CHANGED: usize = ROWS / 100;

fn schema() -> Arc<Schema> {
    Arc::new(
        Schema::new(vec![
            Column::dimension("source_ip", DataType::Ip),
            Column::dimension("source_port", DataType::Int),
            Column::dimension("destination_ip", DataType::Ip),
            Column::dimension("destination_port", DataType::Int),
            Column::dimension("protocol", DataType::Text),
            Column::metric("count", DataType::Int),
            Column::metric("total_size", DataType::Int).with_unit(Unit::Bytes),
        ])
        .expect("a valid schema"),
    )
}

/// Two snapshots of the packets table: the second changes 1 % of the rows — a third of
/// them updated counts, a third new flows, a third flows gone.
fn snapshots() -> (Snapshot, Snapshot) {
    let mut rng = SmallRng::seed_from_u64(7);
    let row = |rng: &mut SmallRng, i: usize| {
        let src = IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + (i as u32 % 2000)));
        let dst = IpAddr::V4(Ipv4Addr::from(0xC0A8_0000 + rng.random_range(0..300u32)));
        let count: i64 = rng.random_range(1..5000);
        Row::new(vec![
            Value::Ip(src),
            Value::Int(32768 + i as i64),
            Value::Ip(dst),
            Value::Int(443),
            Value::from(if i.is_multiple_of(5) { "UDP" } else { "TCP" }),
            Value::Int(count),
            Value::Int(count * rng.random_range(40..1500)),
        ])
    };
    let old_rows: Vec<Row> = (0..ROWS).map(|i| row(&mut rng, i)).collect();
    let mut new_rows = old_rows.clone();
    let third = CHANGED / 3;
    for r in new_rows.iter_mut().take(third) {
        let Value::Int(n) = r[5] else {
            unreachable!("count is an int")
        };
        r.values_mut()[5] = Value::Int(n + 1);
    }
    new_rows.drain(third..2 * third); // removed
    new_rows.extend((ROWS..ROWS + CHANGED - 2 * third).map(|i| row(&mut rng, i))); // inserted
    let end = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("in range");
    let window = Window::ending_at(end, Duration::from_secs(3600)).expect("a valid window");
    let old = Snapshot::new(schema(), old_rows, window);
    let mut new = Snapshot::new(schema(), new_rows, window);
    new.version = 1;
    (old, new)
}

fn bench(c: &mut Criterion) {
    let (old, new) = snapshots();
    let patch = old.diff(&new);
    assert_eq!(
        patch.changed_rows(),
        CHANGED,
        "the workload changes 1 % of rows"
    );
    let snapshot_bytes = snapshot_json(&new).len();
    let patch_bytes = patch_json(&patch).len();
    println!(
        "patch: {} rows changed of {ROWS}; JSON {patch_bytes} B vs snapshot {snapshot_bytes} B = {:.2} % (target ≤ 3 %)",
        patch.changed_rows(),
        100.0 * patch_bytes as f64 / snapshot_bytes as f64
    );

    let mut group = c.benchmark_group("patch");
    group.sample_size(30);
    group.bench_function("diff 50k rows, 1% changed", |b| {
        b.iter(|| black_box(black_box(&old).diff(black_box(&new))))
    });
    // Baseline in the same run: what the full snapshot costs to serialise, which a
    // polling client pays every tick.
    group.bench_function("serialise full snapshot (baseline)", |b| {
        b.iter(|| black_box(snapshot_json(black_box(&new))))
    });
    group.bench_function("serialise patch", |b| {
        b.iter(|| black_box(patch_json(black_box(&patch))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
