//! A custom source: this machine's TCP connections, live, grouped by remote address,
//! remote port and state — real data that needs no setup.
//!
//! Run with: `cargo run --example custom_source` and open
//! <http://localhost:5001/>, or:
//!
//! ```sh
//! curl -s localhost:5001/api/tables/connections | head -c 600
//! curl -s localhost:5001/api/tables/connections.csv
//! ```
//!
//! The whole source is the `TableQuery` impl below: a schema, and a fetch that reads
//! `/proc/net/tcp` and `/proc/net/tcp6` and counts.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use livetable::{
    Catalog, Column, DataType, Direction, Error, ErrorKind, FetchContext, Fetched, OrderBy, Result,
    Row, Schema, Table, TableQuery, Unit,
};

/// TCP connections from `/proc/net/tcp{,6}`, counted per remote endpoint and state.
struct Connections {
    schema: Schema,
}

impl Connections {
    fn new() -> Result<Self> {
        let schema = Schema::new(vec![
            Column::dimension("remote_ip", DataType::Ip).with_label("Remote address"),
            Column::dimension("remote_port", DataType::Int).with_label("Remote port"),
            Column::dimension("state", DataType::Text).with_label("State"),
            Column::metric("connections", DataType::Int).with_label("Connections"),
            Column::metric("queued", DataType::Int)
                .with_label("Queued")
                .with_unit(Unit::Bytes),
        ])?;
        Ok(Connections { schema })
    }
}

impl TableQuery for Connections {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn fetch(&self, _ctx: &FetchContext) -> Result<Fetched> {
        let mut groups: BTreeMap<(IpAddr, u16, &'static str), (i64, i64)> = BTreeMap::new();
        for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let text = match tokio::fs::read_to_string(path).await {
                Ok(text) => text,
                // A kernel without IPv6 has no tcp6 table: nothing to count there.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(
                        Error::new(ErrorKind::Unavailable, format!("cannot read {path}"))
                            .with_source(e),
                    );
                }
            };
            for socket in parse_proc_net_tcp(&text) {
                let group = groups
                    .entry((socket.remote.ip(), socket.remote.port(), socket.state))
                    .or_default();
                group.0 += 1;
                group.1 += i64::from(socket.queued);
            }
        }
        let rows = groups
            .into_iter()
            .map(|((ip, port, state), (n, queued))| {
                Row::new(vec![
                    ip.into(),
                    port.into(),
                    state.into(),
                    n.into(),
                    queued.into(),
                ])
            })
            .collect::<Vec<_>>();
        Ok(rows.into())
    }
}

/// One line of `/proc/net/tcp`.
#[derive(Debug, PartialEq)]
struct Socket {
    remote: SocketAddr,
    state: &'static str,
    /// Send plus receive queue, in bytes.
    queued: u32,
}

/// The kernel's TCP state numbers (include/net/tcp_states.h).
fn state_name(code: u8) -> &'static str {
    match code {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        0x0C => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// `0100007F:1F90` → 127.0.0.1:8080. The kernel prints each 32-bit word of the address
/// as the number its bytes make in the machine's own order (so on x86 and ARM the
/// bytes look reversed); the port is a plain hex number.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut octets = [0u8; 16];
            for i in 0..4 {
                octets[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            let v6 = Ipv6Addr::from(octets);
            // Show IPv4-mapped peers as the IPv4 addresses they are.
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Parses the content of `/proc/net/tcp` or `/proc/net/tcp6`, skipping the header and
/// any line it cannot read.
fn parse_proc_net_tcp(text: &str) -> Vec<Socket> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace().skip(2); // "sl", local address
            let remote = parse_address(fields.next()?)?;
            let state = state_name(u8::from_str_radix(fields.next()?, 16).ok()?);
            let (tx, rx) = fields.next()?.split_once(':')?;
            let queued = u32::from_str_radix(tx, 16)
                .ok()?
                .saturating_add(u32::from_str_radix(rx, 16).ok()?);
            Some(Socket {
                remote,
                state,
                queued,
            })
        })
        .collect()
}

/// Serves this machine's TCP connections as a live table.
#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5001")]
    bind: SocketAddr,
    /// Seconds between refreshes.
    #[arg(long, default_value_t = 2.0)]
    interval: f64,
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let interval = Duration::try_from_secs_f64(args.interval)
        .map_err(|e| format!("--interval {}: {e}", args.interval))?;
    let table = Table::builder("connections", Connections::new()?)
        .title("TCP connections on this machine")
        .interval(interval)
        .default_order([OrderBy {
            column: "connections".into(),
            direction: Direction::Desc,
        }])
        .build()?;
    let catalog = Catalog::new().with(table)?;
    // The whole server is the table: serve it at the root (see the tcpdump example for
    // nesting it under a path of a larger app).
    let app = livetable::http::router(catalog);
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    tracing::info!("serving http://{}/", listener.local_addr()?);
    livetable::http::serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use livetable::Value;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20012 1 0000000000000000 100 0 0 10 0
   1: 0501A8C0:D4F2 22D8B85D:01BB 01 00000010:00000020 02:000000F1 00000000  1000        0 39311 2 0000000000000000 20 4 30 10 -1
   2: 0501A8C0:D4F4 22D8B85D:01BB 06 00000000:00000000 03:00001234 00000000     0        0 0 3
garbage line
";

    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 18123 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000501A8C0:0016 0000000000000000FFFF00000A01A8C0:C350 01 00000000:00000000 02:00000A2B 00000000     0        0 40000 4 0000000000000000 20 4 31 10 -1
   2: B80D0120000000000000000001000000:01BB B80D0120000000000000000002000000:E0C4 01 00000000:00000000 00:00000000 00000000     0        0 40001 1 0000000000000000 20 4 31 10 -1
";

    #[test]
    fn parses_ipv4_lines_and_skips_junk() {
        let sockets = parse_proc_net_tcp(TCP);
        assert_eq!(sockets.len(), 3);
        assert_eq!(sockets[0].state, "LISTEN");
        assert_eq!(sockets[0].remote, "0.0.0.0:0".parse().unwrap());
        assert_eq!(sockets[1].remote, "93.184.216.34:443".parse().unwrap());
        assert_eq!(sockets[1].state, "ESTABLISHED");
        assert_eq!(sockets[1].queued, 0x30);
        assert_eq!(sockets[2].state, "TIME_WAIT");
    }

    #[test]
    fn parses_ipv6_lines_and_unmaps_ipv4() {
        let sockets = parse_proc_net_tcp(TCP6);
        assert_eq!(sockets.len(), 3);
        assert_eq!(sockets[0].remote, "[::]:0".parse().unwrap());
        assert_eq!(sockets[1].remote, "192.168.1.10:50000".parse().unwrap());
        assert_eq!(sockets[2].remote, "[2001:db8::2]:57540".parse().unwrap());
    }

    #[tokio::test]
    async fn counts_this_machines_connections() {
        // A listener of our own guarantees at least one LISTEN socket to count.
        let _listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let source = Connections::new().unwrap();
        let window =
            livetable::Window::ending_at(chrono::Utc::now(), Duration::from_secs(60)).unwrap();
        let table = source.fetch(&FetchContext::new(window)).await.unwrap();
        let listening: i64 = table
            .rows
            .iter()
            .filter(|r| r[2] == Value::from("LISTEN"))
            .map(|r| r[3].as_i64().unwrap())
            .sum();
        assert!(listening >= 1, "{:?}", table.rows);
        for row in &table.rows {
            source.schema().check_row(row).unwrap();
        }
    }
}
