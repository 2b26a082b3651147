//! Parses `tcpdump -l -nn -tt` output lines into packets.
//!
//! Lines look like
//! `1732793012.123456 IP 192.168.1.5.52344 > 93.184.216.34.443: Flags [P.], seq 1:518, ack 1, win 502, length 517`,
//! or with `-i any` (tcpdump ≥ 4.99) the interface and direction before `IP`:
//! `1732793012.123456 eth0  Out IP 192.168.1.5.52344 > …`.
//! Addresses carry the port as a last dotted component (IPv4 `a.b.c.d.port`, IPv6
//! `2001:db8::1.443`); ICMP lines have no ports. Anything else (ARP, truncated lines,
//! other link types) is reported as unparsable so the caller can count and skip it.

use std::net::IpAddr;

use chrono::DateTime;

use super::workload::Packet;

/// Splits `addr.port` (or a bare address) into its parts.
fn endpoint(text: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Ok(ip) = text.parse() {
        return Some((ip, None));
    }
    let (addr, port) = text.rsplit_once('.')?;
    Some((addr.parse().ok()?, Some(port.parse().ok()?)))
}

/// The last `length N` in the line, or a DNS-style trailing `(N)`.
fn length(rest: &str) -> u32 {
    if let Some(pos) = rest.rfind("length ") {
        let digits: String = rest[pos + 7..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse() {
            return n;
        }
    }
    rest.trim_end()
        .strip_suffix(')')
        .and_then(|r| r.rsplit_once('('))
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

/// Parses one line; `None` when it is not an IPv4/IPv6 packet line. Port-less
/// protocols get ports 0, the protocol is `TCP`, `UDP`, `ICMP` or `OTHER`, and the
/// size is the length tcpdump reports (payload length for TCP and UDP, message length
/// for ICMP; 0 when the line has none).
pub(crate) fn parse_line(line: &str) -> Option<Packet> {
    let mut words = line.split_ascii_whitespace();
    let ts = words.next()?;
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    let micros: u32 = format!("{micros:0<6}").get(..6)?.parse().ok()?;
    let ts = DateTime::from_timestamp(secs.parse().ok()?, micros * 1000)?;
    let is_family = |w: &str| w == "IP" || w == "IP6";
    let mut family = words.next()?;
    if !is_family(family) {
        // `-i any`: an interface name, then the direction.
        if !matches!(words.next()?, "In" | "Out" | "B" | "M" | "P") {
            return None;
        }
        family = words.next()?;
        if !is_family(family) {
            return None;
        }
    }
    let (source_ip, source_port) = endpoint(words.next()?)?;
    if words.next()? != ">" {
        return None;
    }
    let (destination_ip, destination_port) = endpoint(words.next()?.strip_suffix(':')?)?;
    // What follows the addresses: the protocol's own summary.
    let rest = line.split_once(": ").map_or("", |(_, r)| r);
    let portless = source_port.is_none() || destination_port.is_none();
    let protocol = if rest.starts_with("ICMP") || (portless && rest.contains("ICMP")) {
        // `ICMP6` too, and ICMPv6 behind an extension header (`HBH ICMP6, …`).
        "ICMP"
    } else if portless {
        "OTHER"
    } else if rest.starts_with("Flags [") {
        "TCP"
    } else {
        // tcpdump decodes UDP payloads (DNS, NTP, …) instead of saying "UDP".
        "UDP"
    };
    Some(Packet {
        ts,
        source_ip,
        source_port: source_port.unwrap_or(0),
        destination_ip,
        destination_port: destination_port.unwrap_or(0),
        protocol,
        size: length(rest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_udp_icmp_over_v4_and_v6() {
        let tcp = parse_line("1732793012.123456 IP 192.168.1.5.52344 > 93.184.216.34.443: Flags [P.], seq 1:518, ack 1, win 502, length 517").unwrap();
        assert_eq!(tcp.protocol, "TCP");
        assert_eq!(tcp.source_port, 52344);
        assert_eq!(
            tcp.destination_ip,
            "93.184.216.34".parse::<IpAddr>().unwrap()
        );
        assert_eq!(tcp.size, 517);
        assert_eq!(tcp.ts.timestamp_subsec_micros(), 123456);

        let dns =
            parse_line("1732793012.2 IP 10.0.0.1.53 > 10.0.0.2.41234: 12345 1/0/0 A 1.2.3.4 (45)")
                .unwrap();
        assert_eq!((dns.protocol, dns.size, dns.source_port), ("UDP", 45, 53));

        let ping6 = parse_line("1732793012.000001 IP6 2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 1, seq 1, length 64").unwrap();
        assert_eq!(
            (ping6.protocol, ping6.size, ping6.source_port),
            ("ICMP", 64, 0)
        );

        let v6 = parse_line("1732793013.5 IP6 2001:db8::1.443 > 2001:db8::2.51234: Flags [.], ack 1, win 1, length 0").unwrap();
        assert_eq!(
            (v6.protocol, v6.source_port, v6.destination_port),
            ("TCP", 443, 51234)
        );
    }

    #[test]
    fn reads_the_any_interface_format_and_other_protocols() {
        let p = parse_line("1732793012.5 eth0  Out IP 10.0.0.5.40000 > 10.0.0.9.5432: Flags [P.], seq 1:101, ack 1, win 502, length 100").unwrap();
        assert_eq!((p.protocol, p.size, p.destination_port), ("TCP", 100, 5432));
        let p =
            parse_line("1732793012.5 lo In IP6 ::1.53 > ::1.40000: 1 NXDomain 0/1/0 (97)").unwrap();
        assert_eq!((p.protocol, p.size), ("UDP", 97));
        let p = parse_line("1732793012.5 IP6 fe80::1 > ff02::1: HBH ICMP6, multicast listener query v2 [gaddr ::], length 28").unwrap();
        assert_eq!((p.protocol, p.size), ("ICMP", 28));
        let p =
            parse_line("1732793012.5 IP 10.0.0.1 > 224.0.0.22: igmp v3 report, 1 group record(s)")
                .unwrap();
        assert_eq!((p.protocol, p.size, p.source_port), ("OTHER", 0, 0));
        assert_eq!(
            parse_line(
                "1732793012.5 eth0 Out ARP, Request who-has 10.0.0.1 tell 10.0.0.5, length 28"
            ),
            None
        );
        assert_eq!(
            parse_line("1732793012.5 eth0 Sideways IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 1"),
            None
        );
    }

    #[test]
    fn junk_is_rejected_not_misread() {
        for junk in [
            "",
            "tcpdump: verbose output suppressed, use -v[v]... for full protocol decode",
            "1732793012.123456 ARP, Request who-has 192.168.1.1 tell 192.168.1.5, length 28",
            "1732793012.123456 IP 192.168.1.5.52344 > ",
            "not-a-time IP 1.2.3.4.1 > 5.6.7.8.2: Flags [S], length 0",
            "1732793012.1 IP 999.1.1.1.80 > 1.1.1.1.80: Flags [S], length 0",
        ] {
            assert_eq!(parse_line(junk), None, "{junk}");
        }
    }
}
