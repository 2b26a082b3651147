//! Synthetic network packets: a live stream ([`LiveTraffic`]), deterministic from a
//! seed, which also makes the example's past hour. Plain data on `std`,
//! `chrono` and `rand`: [`Packet::field`] hands each event column to the caller, which
//! turns it into its own value type.
//!
//! The repository's tests and benchmarks use this same file (`livetable-testkit`
//! includes it as its reference workload, `shared/reference/workload.md`), so their
//! figures and this example's traffic are the same packets.
//!
//! Shape:
//! - 2,000 source hosts (private ranges) and 300 destinations (half private, half
//!   public), picked per flow with a Zipf skew (s = 1.0 for sources, 0.9 for
//!   destinations);
//! - protocols by flow (so, in expectation, by packet): TCP 80 %, UDP 18 %, ICMP 2 %
//!   (ICMP ports 0/0);
//! - packets belong to flows (5-tuples) of discrete-Pareto packet counts (many flows of
//!   a few packets, a few of thousands), about one new 5-tuple per 7 packets;
//! - 80 % of flows go client → server (ephemeral source port 32768–60999, well-known
//!   destination port: TCP 443, 80, 22, 5432, 8080, 3306, 6379, 25; UDP 53, 123, 443,
//!   161), 20 % are replies (ports swapped);
//! - a few hundred flows are open at once, each packet from one of them, a finished
//!   flow replaced by a new one; packets come out in time order (the batch hour of
//!   `livetable-testkit`, built on the same hosts and flows, spreads each flow over a
//!   random interval of the hour instead);
//! - sizes: TCP mixes ACK-sized (40–66), full-MTU (1400–1500) and a skewed middle; UDP
//!   around 150; ICMP mostly 64, 84 or 98.
//!
//! The Zipf and Pareto draws are a few lines of inverse-CDF sampling over `rand`'s
//! uniform numbers, so the workload needs no distribution crate.

use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// One captured packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    /// When it was seen.
    pub ts: DateTime<Utc>,
    /// Sender address.
    pub source_ip: IpAddr,
    /// Sender port (0 when the protocol has none, as ICMP).
    pub source_port: u16,
    /// Receiver address.
    pub destination_ip: IpAddr,
    /// Receiver port (0 when the protocol has none).
    pub destination_port: u16,
    /// `"TCP"`, `"UDP"` or `"ICMP"` (a tcpdump capture also says `"OTHER"`).
    pub protocol: &'static str,
    /// Bytes (on the wire; in a capture, the length tcpdump reports).
    pub size: u32,
}

/// One field of a [`Packet`], as [`Packet::field`] reads it for an event column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// An instant (`ts`).
    Time(DateTime<Utc>),
    /// An address (`source_ip`, `destination_ip`).
    Ip(IpAddr),
    /// A number (`source_port`, `destination_port`, `size`).
    Int(i64),
    /// A name (`protocol`).
    Text(&'static str),
}

impl Packet {
    /// The field the event column `column` holds: `ts`, `source_ip`, `source_port`,
    /// `destination_ip`, `destination_port`, `protocol` or `size`; `None` for any other
    /// name. The one place that says which column is which packet field.
    pub fn field(&self, column: &str) -> Option<Field> {
        Some(match column {
            "ts" => Field::Time(self.ts),
            "source_ip" => Field::Ip(self.source_ip),
            "source_port" => Field::Int(self.source_port.into()),
            "destination_ip" => Field::Ip(self.destination_ip),
            "destination_port" => Field::Int(self.destination_port.into()),
            "protocol" => Field::Text(self.protocol),
            "size" => Field::Int(self.size.into()),
            _ => return None,
        })
    }
}

pub(crate) const SOURCES: usize = 2_000;
const DESTINATIONS: usize = 300;
const TCP_PORTS: [u16; 8] = [443, 80, 22, 5432, 8080, 3306, 6379, 25];
const UDP_PORTS: [u16; 4] = [53, 123, 443, 161];
/// Pareto shape of packets per flow (heavy tail), calibrated so seed 42 gives ~159 k
/// 5-tuples at 1 M packets and ~1.39 M at 10 M (reference: 140 k, 1.34 M), and
/// ~4,700 / 5,900 (source, protocol) groups (reference: 5,300 / 6,000).
const PARETO_ALPHA: f64 = 1.1;
/// The longest flow, in packets.
const MAX_FLOW: f64 = 200_000.0;

/// The host pools and their skew, drawn first from the seed (so the batch hour of
/// `livetable-testkit` and [`LiveTraffic`] of one seed share their hosts).
#[derive(Clone, Debug)]
pub(crate) struct Hosts {
    sources: Vec<IpAddr>,
    destinations: Vec<IpAddr>,
    source_zipf: Zipf,
    destination_zipf: Zipf,
}

/// A flow's 5-tuple.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flow {
    source_ip: IpAddr,
    source_port: u16,
    destination_ip: IpAddr,
    destination_port: u16,
    protocol: &'static str,
}

impl Hosts {
    pub(crate) fn new(rng: &mut SmallRng) -> Self {
        let sources: Vec<IpAddr> = (0..SOURCES).map(|_| private_ip(rng)).collect();
        let destinations: Vec<IpAddr> = (0..DESTINATIONS)
            .map(|i| {
                if i % 2 == 0 {
                    private_ip(rng)
                } else {
                    public_ip(rng)
                }
            })
            .collect();
        Hosts {
            sources,
            destinations,
            source_zipf: Zipf::new(SOURCES, 1.0),
            destination_zipf: Zipf::new(DESTINATIONS, 0.9),
        }
    }

    /// A new flow: protocol, skewed hosts, ports (client → server or a reply).
    pub(crate) fn flow(&self, rng: &mut SmallRng) -> Flow {
        let u: f64 = rng.random();
        let protocol = if u < 0.80 {
            "TCP"
        } else if u < 0.98 {
            "UDP"
        } else {
            "ICMP"
        };
        let client = self.sources[self.source_zipf.sample(rng)];
        let server = self.destinations[self.destination_zipf.sample(rng)];
        let (client_port, server_port) = match protocol {
            "TCP" => (
                rng.random_range(32768..=60999),
                TCP_PORTS[rng.random_range(0..TCP_PORTS.len())],
            ),
            "UDP" => (
                rng.random_range(32768..=60999),
                UDP_PORTS[rng.random_range(0..UDP_PORTS.len())],
            ),
            _ => (0, 0),
        };
        // Replies swap the ports (as the reference workload does), so sources stay
        // the 2,000 client hosts: at most 6,000 (source, protocol) groups.
        let (source_port, destination_port) = if rng.random::<f64>() < 0.8 {
            (client_port, server_port)
        } else {
            (server_port, client_port)
        };
        Flow {
            source_ip: client,
            source_port,
            destination_ip: server,
            destination_port,
            protocol,
        }
    }
}

impl Flow {
    pub(crate) fn packet(&self, rng: &mut SmallRng, ts: DateTime<Utc>) -> Packet {
        Packet {
            ts,
            source_ip: self.source_ip,
            source_port: self.source_port,
            destination_ip: self.destination_ip,
            destination_port: self.destination_port,
            protocol: self.protocol,
            size: size(rng, self.protocol),
        }
    }
}

/// Packets in a flow: discrete Pareto by inversion, floor(x_m / U^(1/alpha)), x_m = 1.
pub(crate) fn flow_length(rng: &mut SmallRng) -> usize {
    let u: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
    (u.powf(-1.0 / PARETO_ALPHA).min(MAX_FLOW)) as usize
}

/// How many flows [`LiveTraffic`] keeps open at once.
const OPEN_FLOWS: usize = 256;

/// A live stream of packets with the reference workload's shape (the same host pools for
/// the same seed, skew, ports, protocols, sizes and heavy-tailed flows), stamped at
/// the times asked for: what the example feeds its table with after the past hour.
///
/// It keeps a few hundred flows open; each packet belongs to one of them, picked at
/// random, and a flow that has sent all its packets is replaced by a new one.
#[derive(Clone, Debug)]
pub struct LiveTraffic {
    rng: SmallRng,
    hosts: Hosts,
    /// Open flows with the packets each has left to send.
    flows: Vec<(Flow, usize)>,
}

impl LiveTraffic {
    /// A stream for `seed`, over the same hosts as the batch hour of the same seed.
    pub fn new(seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let hosts = Hosts::new(&mut rng);
        // Continue from another stream than the batch generator's, so the live
        // packets are not a replay of the past hour.
        let rng = SmallRng::seed_from_u64(seed ^ 0x6c69_7665_7472_6166);
        LiveTraffic {
            rng,
            hosts,
            flows: Vec::with_capacity(OPEN_FLOWS),
        }
    }

    /// `count` packets spread evenly over `[from, to)`, in time order. An empty
    /// interval (`to <= from`) stamps them all at `from`.
    pub fn generate(
        &mut self,
        count: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Packet> {
        let span = (to - from).num_nanoseconds().unwrap_or(i64::MAX).max(0);
        let mut offsets: Vec<i64> = (0..count)
            .map(|_| {
                if span > 0 {
                    self.rng.random_range(0..span)
                } else {
                    0
                }
            })
            .collect();
        offsets.sort_unstable();
        offsets
            .into_iter()
            .map(|offset| {
                while self.flows.len() < OPEN_FLOWS {
                    let flow = self.hosts.flow(&mut self.rng);
                    let len = flow_length(&mut self.rng).max(1);
                    self.flows.push((flow, len));
                }
                let i = self.rng.random_range(0..self.flows.len());
                let (flow, left) = &mut self.flows[i];
                let packet = flow.packet(&mut self.rng, from + TimeDelta::nanoseconds(offset));
                *left -= 1;
                if *left == 0 {
                    self.flows.swap_remove(i);
                }
                packet
            })
            .collect()
    }
}

fn private_ip(rng: &mut SmallRng) -> IpAddr {
    let [a, b, c]: [u8; 3] = rng.random();
    IpAddr::V4(match rng.random_range(0..3) {
        0 => Ipv4Addr::new(10, a, b, c.max(1)),
        1 => Ipv4Addr::new(172, 16 + a % 16, b, c.max(1)),
        _ => Ipv4Addr::new(192, 168, b, c.max(1)),
    })
}

fn public_ip(rng: &mut SmallRng) -> IpAddr {
    let [b, c, d]: [u8; 3] = rng.random();
    // First octets outside the private, loopback and multicast ranges.
    let a = [8u8, 23, 34, 52, 93, 104, 142, 151, 185, 203][rng.random_range(0..10)];
    IpAddr::V4(Ipv4Addr::new(a, b, c, d.max(1)))
}

fn size(rng: &mut SmallRng, protocol: &str) -> u32 {
    let u: f64 = rng.random();
    match protocol {
        "TCP" if u < 0.45 => rng.random_range(40..=66),
        "TCP" if u < 0.75 => rng.random_range(1400..=1500),
        // Skewed towards small: 67 + 1333·v³.
        "TCP" => 67 + (1333.0 * rng.random::<f64>().powi(3)) as u32,
        "UDP" => rng.random_range(100..=175) + rng.random_range(0..=50),
        _ if u < 0.5 => 64,
        _ if u < 0.75 => 84,
        _ if u < 0.92 => 98,
        _ => rng.random_range(28..=1500),
    }
}

/// Zipf sampling over `0..n` by inverting the cumulative distribution.
#[derive(Clone, Debug)]
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|k| {
                acc += (k as f64).powf(-s);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut SmallRng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// FNV-1a over every field of `packets`: a fingerprint stable across Rust versions
/// (unlike `DefaultHasher`).
#[cfg(test)]
pub(crate) fn fingerprint(packets: &[Packet]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for p in packets {
        eat(&p.ts.timestamp_nanos_opt().unwrap().to_le_bytes());
        for ip in [p.source_ip, p.destination_ip] {
            match ip {
                IpAddr::V4(a) => eat(&a.octets()),
                IpAddr::V6(a) => eat(&a.octets()),
            }
        }
        eat(&p.source_port.to_le_bytes());
        eat(&p.destination_port.to_le_bytes());
        eat(p.protocol.as_bytes());
        eat(&p.size.to_le_bytes());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::HashSet;

    fn end() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn live_traffic_has_the_workload_shape_and_hosts() {
        let n = 100_000;
        let mut live = LiveTraffic::new(5);
        let from = end() - TimeDelta::minutes(10);
        let mut packets = live.generate(n / 2, from, from + TimeDelta::minutes(5));
        packets.extend(live.generate(n / 2, from + TimeDelta::minutes(5), end()));
        assert_eq!(packets.len(), n);
        assert!(packets.windows(2).all(|p| p[0].ts <= p[1].ts));
        assert!(packets.iter().all(|p| from <= p.ts && p.ts < end()));
        // The host pools of the seed (the batch hour of the same seed draws the same).
        let mut rng = SmallRng::seed_from_u64(5);
        let hosts = Hosts::new(&mut rng);
        assert!(packets.iter().all(|p| hosts.sources.contains(&p.source_ip)
            && hosts.destinations.contains(&p.destination_ip)));
        let share =
            |proto: &str| packets.iter().filter(|p| p.protocol == proto).count() as f64 / n as f64;
        assert!((0.55..0.95).contains(&share("TCP")), "{}", share("TCP"));
        assert!(share("UDP") > 0.03 && share("ICMP") < 0.1);
        for p in &packets {
            let ports = [p.source_port, p.destination_port];
            match p.protocol {
                "TCP" => assert!(ports.iter().any(|x| TCP_PORTS.contains(x))),
                "UDP" => assert!(ports.iter().any(|x| UDP_PORTS.contains(x))),
                _ => assert_eq!(ports, [0, 0]),
            }
        }
        let tuples: HashSet<_> = packets
            .iter()
            .map(|p| {
                (
                    p.source_ip,
                    p.source_port,
                    p.destination_ip,
                    p.destination_port,
                )
            })
            .collect();
        // Heavy-tailed flows: many packets per 5-tuple, but far from one flow.
        assert!(
            tuples.len() > 1_000 && tuples.len() < n / 2,
            "{}",
            tuples.len()
        );
        // An empty interval stamps everything at its start.
        let now = end();
        assert!(live.generate(5, now, now).iter().all(|p| p.ts == now));
    }

    #[test]
    fn reads_every_column_by_name() {
        let p = LiveTraffic::new(3).generate(1, end() - TimeDelta::seconds(1), end())[0];
        assert_eq!(p.field("ts"), Some(Field::Time(p.ts)));
        assert_eq!(p.field("source_ip"), Some(Field::Ip(p.source_ip)));
        assert_eq!(
            p.field("source_port"),
            Some(Field::Int(p.source_port.into()))
        );
        assert_eq!(p.field("destination_ip"), Some(Field::Ip(p.destination_ip)));
        assert_eq!(
            p.field("destination_port"),
            Some(Field::Int(p.destination_port.into()))
        );
        assert_eq!(p.field("protocol"), Some(Field::Text(p.protocol)));
        assert_eq!(p.field("size"), Some(Field::Int(p.size.into())));
        assert_eq!(p.field("host"), None);
    }

    /// The same seed gives the same packets as when the reference figures were taken:
    /// a change to the sampling (or to `rand`'s streams) shows here first.
    #[test]
    fn seed_42_gives_the_recorded_packets() {
        let mut live = LiveTraffic::new(42);
        let mut packets = live.generate(5_000, end() - TimeDelta::seconds(10), end());
        packets.extend(live.generate(5_000, end(), end() + TimeDelta::seconds(10)));
        assert_eq!(fingerprint(&packets), 0xe634_97a7_7cf1_1456);
    }
}
