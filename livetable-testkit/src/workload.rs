//! The reference packet workload (`shared/reference/workload.md`): packets of the past
//! hour, generated deterministically from a seed, and the two reference specs.
//!
//! Every benchmark, the example server and the HTTP tests use it, so figures compare
//! across crates and against other engines.
//!
//! The generator itself ([`Packet`], [`Workload`], [`LiveTraffic`]; its shape is
//! described in `examples/tcpdump/workload.rs`) is the tcpdump example's own file,
//! free of livetable types so the example can be copied on its own. This module
//! includes that file and adds what speaks livetable: [`PACKET_COLUMNS`],
//! [`EventLayout`] (packets to [`Value`] events) and the reference specs.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use livetable_testkit::workload::{Workload, two_dim_spec};
//!
//! let end = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
//! let packets = Workload::new(42).generate(10_000, end);
//! assert_eq!(packets.len(), 10_000);
//! assert!(packets.windows(2).all(|p| p[0].ts <= p[1].ts));
//! let layout = livetable_testkit::workload::EventLayout::new(&two_dim_spec()).unwrap();
//! let event = layout.event(&packets[0]);
//! assert_eq!(event.len(), 4); // ts, source_ip, protocol, size
//! ```
//!
//! A live stream over the same hosts:
//!
//! ```
//! use chrono::{TimeDelta, TimeZone, Utc};
//! use livetable_testkit::workload::LiveTraffic;
//!
//! let mut traffic = LiveTraffic::new(42);
//! let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
//! let second = traffic.generate(200, now - TimeDelta::seconds(1), now);
//! assert_eq!(second.len(), 200);
//! assert!(second.iter().all(|p| p.ts >= now - TimeDelta::seconds(1) && p.ts < now));
//! assert!(second.windows(2).all(|p| p[0].ts <= p[1].ts));
//! ```

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use livetable_core::{
    Aggregate, AggregateBuilder, DataType, Direction, Error, Metric, Unit, Value,
};

// The example's file, not a copy: the generator is written once, and the example
// stays free of this unpublished crate. A path outside the crate is fine because
// this crate is never packaged (`publish = false`).
#[path = "../../examples/tcpdump/workload.rs"]
mod generator;

pub use generator::{Field, LiveTraffic, Packet};

/// A past hour of packets at once: the reference workload of the benchmarks. Each flow
/// (the example's hosts and flow sizes for the same seed) lives in a random interval
/// inside the hour, its packets spread over it. (The example's own past hour comes from
/// [`LiveTraffic`], so that its table is the same before and after it starts.)
#[derive(Clone, Debug)]
pub struct Workload {
    seed: u64,
}

impl Workload {
    /// A generator for `seed`: the same seed gives the same packets.
    pub fn new(seed: u64) -> Self {
        Workload { seed }
    }

    /// `count` packets over `[end − 1 h, end)`, in time order.
    pub fn generate(&self, count: usize, end: DateTime<Utc>) -> Vec<Packet> {
        let mut rng = SmallRng::seed_from_u64(self.seed);
        let hosts = generator::Hosts::new(&mut rng);
        let hour_ns: i64 = 3_600_000_000_000;
        let start = end - TimeDelta::hours(1);

        let mut packets = Vec::with_capacity(count);
        while packets.len() < count {
            let flow = hosts.flow(&mut rng);
            let flow_len = generator::flow_length(&mut rng).clamp(1, count - packets.len());
            let a = rng.random_range(0..hour_ns);
            let b = rng.random_range(0..hour_ns);
            let (from, to) = (a.min(b), a.max(b) + 1);
            for _ in 0..flow_len {
                let offset = rng.random_range(from..to);
                packets.push(flow.packet(&mut rng, start + TimeDelta::nanoseconds(offset)));
            }
        }
        packets.sort_by_key(|p| p.ts);
        packets
    }
}

/// The event columns a [`Packet`] provides ([`Packet::field`]), with their types.
pub const PACKET_COLUMNS: [(&str, DataType); 7] = [
    ("ts", DataType::Timestamp),
    ("source_ip", DataType::Ip),
    ("source_port", DataType::Int),
    ("destination_ip", DataType::Ip),
    ("destination_port", DataType::Int),
    ("protocol", DataType::Text),
    ("size", DataType::Int),
];

/// Maps packets onto the event columns of an [`Aggregate`] (see
/// [`Aggregate::event_columns`]).
#[derive(Clone, Debug)]
pub struct EventLayout {
    columns: Vec<&'static str>,
}

impl EventLayout {
    /// The layout for `spec`; fails when the spec reads a column a packet does not
    /// have (or with another type), naming it and listing [`PACKET_COLUMNS`].
    pub fn new(spec: &Aggregate) -> Result<Self, Error> {
        let columns = spec
            .event_columns()
            .map(|(name, t)| {
                PACKET_COLUMNS
                    .iter()
                    .find(|&&(n, pt)| n == name && pt == t)
                    .map(|&(n, _)| n)
                    .ok_or_else(|| {
                        let known: Vec<String> = PACKET_COLUMNS
                            .iter()
                            .map(|(n, t)| format!("`{n}` ({t})"))
                            .collect();
                        Error::invalid_spec(format!(
                            "packets have no column `{name}` of type {t}; they have {}",
                            known.join(", ")
                        ))
                        .with_context("column", name)
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(EventLayout { columns })
    }

    /// The event of one packet.
    pub fn event(&self, p: &Packet) -> Vec<Value> {
        self.columns
            .iter()
            // Every PACKET_COLUMNS name is a packet field (tested): no Null comes out.
            .map(|c| p.field(c).map_or(Value::Null, value))
            .collect()
    }

    /// The events of many packets.
    pub fn events<'a>(&'a self, packets: &'a [Packet]) -> impl Iterator<Item = Vec<Value>> + 'a {
        packets.iter().map(|p| self.event(p))
    }
}

fn value(field: Field) -> Value {
    match field {
        Field::Time(t) => Value::Timestamp(t),
        Field::Ip(ip) => Value::Ip(ip),
        Field::Int(n) => Value::Int(n),
        Field::Text(s) => Value::from(s),
    }
}

/// The packets table grouped by `dimensions`: time column `ts`, the past hour, the
/// `size` field, and the metrics `count` and `total_size` (sum of size). Tests and
/// benches that need more (other fields, metrics, filters, an order) add them.
pub fn packets_builder(dimensions: &[(&str, DataType)]) -> AggregateBuilder {
    let mut b = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600));
    for &(name, t) in dimensions {
        b = b.dimension(name, t);
    }
    b.field("size", DataType::Int)
        .metric(Metric::count("count"))
        .metric(Metric::sum("total_size", "size"))
}

fn spec(dimensions: &[(&str, DataType)]) -> Aggregate {
    packets_builder(dimensions)
        .unit("size", Unit::Bytes)
        .order_by("count", Direction::Desc)
        .limit(500)
        .build()
        // A fixed spec over known columns: validated by this module's tests.
        .expect("the reference spec is valid")
}

/// The 5-dimension reference spec: group by source_ip, source_port, destination_ip,
/// destination_port, protocol; `count` and `total_size` (sum of size); count
/// descending; top 500; the past hour.
pub fn five_dim_spec() -> Aggregate {
    spec(&[
        ("source_ip", DataType::Ip),
        ("source_port", DataType::Int),
        ("destination_ip", DataType::Ip),
        ("destination_port", DataType::Int),
        ("protocol", DataType::Text),
    ])
}

/// The 2-dimension reference spec: group by source_ip, protocol; otherwise as
/// [`five_dim_spec`].
pub fn two_dim_spec() -> Aggregate {
    spec(&[("source_ip", DataType::Ip), ("protocol", DataType::Text)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    fn end() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn packet_columns_are_the_packet_fields_with_their_types() {
        let p = Workload::new(3).generate(1, end())[0];
        for (name, t) in PACKET_COLUMNS {
            let field = p.field(name).unwrap_or_else(|| panic!("no field {name}"));
            assert_eq!(value(field).data_type(), Some(t), "{name}");
        }
    }

    #[test]
    fn maps_packets_onto_spec_columns() {
        let spec = five_dim_spec();
        let layout = EventLayout::new(&spec).unwrap();
        let p = Workload::new(3).generate(1, end())[0];
        let e = layout.event(&p);
        assert_eq!(e[0], Value::Timestamp(p.ts));
        assert_eq!(e[1], Value::Ip(p.source_ip));
        assert_eq!(e[2], Value::Int(p.source_port.into()));
        assert_eq!(e[3], Value::Ip(p.destination_ip));
        assert_eq!(e[4], Value::Int(p.destination_port.into()));
        assert_eq!(e[5], Value::from(p.protocol));
        assert_eq!(e[6], Value::Int(p.size.into()));
        let bad = Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(60))
            .dimension("host", DataType::Text)
            .metric(Metric::count("n"))
            .build()
            .unwrap();
        let err = EventLayout::new(&bad).unwrap_err();
        assert_eq!(err.context_value("column"), Some("host"));
        let mistyped = Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(60))
            .dimension("protocol", DataType::Int)
            .metric(Metric::count("n"))
            .build()
            .unwrap();
        let err = EventLayout::new(&mistyped).unwrap_err();
        assert_eq!(err.context_value("column"), Some("protocol"));
        assert_eq!(two_dim_spec().schema().len(), 4);
    }
}

#[cfg(test)]
mod batch_tests {
    use std::collections::HashSet;

    use chrono::TimeZone;

    use super::*;

    fn end() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn is_deterministic_ordered_and_inside_the_hour() {
        let a = Workload::new(7).generate(20_000, end());
        let b = Workload::new(7).generate(20_000, end());
        let c = Workload::new(8).generate(20_000, end());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.windows(2).all(|p| p[0].ts <= p[1].ts));
        let start = end() - TimeDelta::hours(1);
        assert!(a.iter().all(|p| start <= p.ts && p.ts < end()));
    }

    #[test]
    fn has_the_documented_shape() {
        let n = 200_000;
        let packets = Workload::new(1).generate(n, end());
        let share =
            |proto: &str| packets.iter().filter(|p| p.protocol == proto).count() as f64 / n as f64;
        // By flow 80/18/2; heavy-tailed flow sizes make the packet shares noisy.
        assert!((0.65..0.92).contains(&share("TCP")), "{}", share("TCP"));
        assert!((0.06..0.32).contains(&share("UDP")), "{}", share("UDP"));
        assert!(share("ICMP") < 0.08, "{}", share("ICMP"));
        assert!(
            packets
                .iter()
                .filter(|p| p.protocol == "ICMP")
                .all(|p| p.source_port == 0 && p.destination_port == 0)
        );
        let tuples: HashSet<_> = packets
            .iter()
            .map(|p| {
                (
                    p.source_ip,
                    p.source_port,
                    p.destination_ip,
                    p.destination_port,
                    p.protocol,
                )
            })
            .collect();
        let per_tuple = n as f64 / tuples.len() as f64;
        assert!(
            (5.0..14.0).contains(&per_tuple),
            "{per_tuple} packets per 5-tuple"
        );
        let sources: HashSet<_> = packets.iter().map(|p| (p.source_ip, p.protocol)).collect();
        assert!(sources.len() > 1_500 && sources.len() <= 3 * generator::SOURCES);
        // Zipf: the busiest source sends far more than the median one.
        let mut by_source = std::collections::HashMap::new();
        for p in &packets {
            *by_source.entry(p.source_ip).or_insert(0usize) += 1;
        }
        let mut counts: Vec<usize> = by_source.into_values().collect();
        counts.sort_unstable();
        assert!(counts[counts.len() - 1] > 20 * counts[counts.len() / 2]);
    }

    /// The same seed gives the same packets as when the reference figures were taken.
    #[test]
    fn seed_42_gives_the_recorded_batch_hour() {
        let batch = Workload::new(42).generate(10_000, end());
        assert_eq!(generator::fingerprint(&batch), 0x089e_5a38_2f00_7480);
    }

    /// The batch hour and the live stream of a seed share their host pools.
    #[test]
    fn the_batch_hour_and_the_stream_share_their_hosts() {
        let batch = Workload::new(5).generate(50_000, end());
        let live = LiveTraffic::new(5).generate(50_000, end() - TimeDelta::minutes(10), end());
        let batch_sources: HashSet<_> = batch.iter().map(|p| p.source_ip).collect();
        let live_sources: HashSet<_> = live.iter().map(|p| p.source_ip).collect();
        assert!(live_sources.intersection(&batch_sources).count() > live_sources.len() / 2);
        assert_ne!(
            live[..100],
            batch[..100],
            "the stream is not a replay of the hour"
        );
    }
}
