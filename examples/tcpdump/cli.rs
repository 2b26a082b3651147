//! The command line: every flag with its help text, and the checks clap cannot do.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// The live table of network packets: the past hour grouped by source and destination
/// address and port and protocol, with packet count and total size, refreshed every
/// few seconds and served as a live web page.
///
/// With no argument it needs nothing: an in-memory table fed by a synthetic traffic
/// generator. `--source postgres`, `mysql` or `elasticsearch` reads a store instead
/// (`--load-demo-data` fills it); `--tcpdump-stdin` aggregates real traffic:
///
///     sudo tcpdump -l -nn -tt -i any | cargo run --release --example tcpdump -- --tcpdump-stdin
#[derive(Parser, Debug, Clone)]
#[command(name = "tcpdump", version, verbatim_doc_comment)]
pub(crate) struct Args {
    /// Address and port to listen on (port 0 picks a free one; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:5000", value_name = "ADDR")]
    pub(crate) bind: SocketAddr,

    /// URL path the page and the API are served under ("/" for the root).
    #[arg(long, default_value = "/tcpdump", value_parser = parse_path)]
    pub(crate) path: String,

    /// Time between two refreshes of the table (at least 1s).
    #[arg(long, default_value = "6s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) interval: Duration,

    /// The default time window: the table shows the packets of the last WINDOW.
    #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) window: Duration,

    /// Other windows a viewer may pick on the page or with `?window=` (comma-separated).
    #[arg(
        long,
        default_value = "5m,15m,1h",
        value_delimiter = ',',
        value_parser = parse_duration,
        value_name = "DURATIONS"
    )]
    pub(crate) allowed_windows: Vec<Duration>,

    /// How many rows the table keeps: the top groups by packet count.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) top: u32,

    /// Where the packets are: in memory (fed by the generator or by --tcpdump-stdin),
    /// in a PostgreSQL table, or in an Elasticsearch index.
    #[arg(long, value_enum, default_value_t = SourceKind::Memory)]
    pub(crate) source: SourceKind,

    /// Synthetic packets per second, for the in-memory generator and for
    /// --load-demo-data (0: none after the prefill).
    #[arg(long, default_value_t = 200.0, value_parser = parse_rate)]
    pub(crate) rate: f64,

    /// Packets generated over the past hour at startup (default: RATE × 3600, at most
    /// 1,000,000, so startup stays within a few seconds).
    #[arg(long, value_name = "PACKETS")]
    pub(crate) prefill: Option<usize>,

    /// Seed of the synthetic traffic (the same seed gives the same past hour).
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,

    /// Read `tcpdump -l -nn -tt` output from standard input instead of generating
    /// traffic. Lines that are not IPv4/IPv6 packets are counted and skipped.
    #[arg(long)]
    pub(crate) tcpdump_stdin: bool,

    /// Where the window ends: at the clock (`now`), or at the newest packet read
    /// (`data`, to replay a recorded capture; with --tcpdump-stdin).
    #[arg(long, value_enum, default_value_t = WindowEnd::Now)]
    pub(crate) window_end: WindowEnd,

    /// PostgreSQL or MySQL / MariaDB connection URL
    /// (`postgres://user:password@host:port/database`, `mysql://user@host/database`).
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,

    /// PostgreSQL or MySQL table of packets (`name` or `schema.name`).
    #[arg(long, default_value = "packets")]
    pub(crate) table: String,

    /// Elasticsearch / OpenSearch URL (`https://user:password@host:9200`).
    #[arg(long, env = "ES_URL", value_name = "URL", hide_env_values = true)]
    pub(crate) es_url: Option<String>,

    /// Elasticsearch index name or pattern.
    #[arg(long, default_value = "packets")]
    pub(crate) index: String,

    /// Elasticsearch API key (base64 `id:key`), instead of a user in the URL.
    #[arg(long, env = "ES_API_KEY", hide_env_values = true)]
    pub(crate) es_api_key: Option<String>,

    /// Do not verify the Elasticsearch server's TLS certificate (self-signed setups).
    #[arg(long)]
    pub(crate) es_insecure: bool,

    /// Create the PostgreSQL / MySQL table (with an index on ts) or the Elasticsearch index if
    /// missing, fill it with a past hour of synthetic packets, and keep adding RATE
    /// packets per second.
    #[arg(long)]
    pub(crate) load_demo_data: bool,

    /// With a store: ask it for the whole window on every tick of every view (the
    /// direct mode). By default a bucket cache asks only for the newest buckets on each
    /// tick and merges every view in memory.
    #[arg(long)]
    pub(crate) direct: bool,

    /// With a store and the cache: the most (bucket, group) entries it holds (about
    /// 200 bytes each); past it the table goes stale with an error.
    #[arg(long, default_value_t = livetable::DEFAULT_MAX_ENTRIES, value_name = "ENTRIES")]
    pub(crate) cache_entries: usize,

    /// Require this bearer token for the page and the API (16+ characters; a browser
    /// opens the page once with `?token=…`).
    #[arg(long, env = "LIVETABLE_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
}

/// The store behind the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SourceKind {
    /// In-memory, fed by the generator or by --tcpdump-stdin.
    Memory,
    /// A PostgreSQL table (--database-url, --table).
    Postgres,
    /// A MySQL or MariaDB table (--database-url mysql://…, --table).
    Mysql,
    /// An Elasticsearch index (--es-url, --index).
    Elasticsearch,
}

/// What the window ends at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum WindowEnd {
    /// The clock.
    Now,
    /// The newest packet read.
    Data,
}

/// Most packets prefilled by default.
const MAX_DEFAULT_PREFILL: usize = 1_000_000;

impl Args {
    /// Checks that span several flags; the message says what to change.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let memory = self.source == SourceKind::Memory;
        if self.tcpdump_stdin && !memory {
            return Err("--tcpdump-stdin feeds the in-memory table; drop --source".into());
        }
        if self.tcpdump_stdin && self.load_demo_data {
            return Err(
                "--load-demo-data fills a store; it does not go with --tcpdump-stdin".into(),
            );
        }
        if self.load_demo_data && memory {
            return Err(
                "--load-demo-data fills a store: add --source postgres, mysql or elasticsearch \
                 (the in-memory table is filled anyway)"
                    .into(),
            );
        }
        if memory && self.direct {
            return Err(
                "--direct chooses how a store is queried: add --source postgres, mysql \
                        or elasticsearch"
                    .into(),
            );
        }
        if self.window_end == WindowEnd::Data && !self.tcpdump_stdin {
            return Err(
                "--window-end data replays a recorded capture: use it with --tcpdump-stdin".into(),
            );
        }
        if self.source == SourceKind::Postgres && self.database_url.is_none() {
            return Err(
                "--source postgres needs --database-url (or DATABASE_URL), e.g. \
                 postgres://postgres@127.0.0.1/test"
                    .into(),
            );
        }
        if self.source == SourceKind::Mysql && self.database_url.is_none() {
            return Err(
                "--source mysql needs --database-url (or DATABASE_URL), e.g. \
                 mysql://root@127.0.0.1/test"
                    .into(),
            );
        }
        if self.source == SourceKind::Mysql
            && self
                .database_url
                .as_deref()
                .is_some_and(|u| u.starts_with("postgres"))
        {
            return Err(
                "--source mysql takes a mysql:// URL in --database-url (DATABASE_URL may hold \
                 the PostgreSQL one); e.g. mysql://root@127.0.0.1/test"
                    .into(),
            );
        }
        if self.source == SourceKind::Elasticsearch && self.es_url.is_none() {
            return Err(
                "--source elasticsearch needs --es-url (or ES_URL), e.g. http://localhost:9200"
                    .into(),
            );
        }
        Ok(())
    }

    /// The windows the table offers: the default and the allowed ones.
    pub(crate) fn windows(&self) -> Vec<Duration> {
        let mut all = self.allowed_windows.clone();
        all.push(self.window);
        all.sort();
        all.dedup();
        all
    }

    /// Packets to generate for the past hour.
    pub(crate) fn prefill(&self) -> usize {
        self.prefill
            .unwrap_or_else(|| ((self.rate * 3600.0) as usize).min(MAX_DEFAULT_PREFILL))
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = livetable::ViewParams::parse_window(text).map_err(|e| e.message().to_owned())?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

fn parse_path(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    if !text.starts_with('/') {
        return Err(format!("`{text}` must start with `/`, like /tcpdump"));
    }
    if trimmed.contains(['?', '#', ' ']) || trimmed.contains("//") {
        return Err(format!("`{text}` is not a plain URL path"));
    }
    Ok(trimmed.to_owned())
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && (0.0..=1_000_000.0).contains(&r) => Ok(r),
        _ => Err(format!(
            "`{text}` is not a rate between 0 and 1000000 packets per second"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<Args, String> {
        let args = Args::try_parse_from(std::iter::once("tcpdump").chain(extra.iter().copied()))
            .map_err(|e| e.to_string())?;
        args.validate()?;
        Ok(args)
    }

    #[test]
    fn defaults_are_the_article_s_table() {
        let a = args(&[]).unwrap();
        assert_eq!(a.bind, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(a.path, "/tcpdump");
        assert_eq!(a.interval, Duration::from_secs(6));
        assert_eq!(a.window, Duration::from_secs(3600));
        assert_eq!(a.windows().len(), 3);
        assert_eq!(a.prefill(), 720_000);
        assert_eq!(args(&["--rate", "1000"]).unwrap().prefill(), 1_000_000);
        assert_eq!(args(&["--path", "/"]).unwrap().path, "");
    }

    #[test]
    fn bad_flags_say_what_is_wrong() {
        assert!(
            args(&["--window", "soon"])
                .unwrap_err()
                .contains("window length")
        );
        assert!(
            args(&["--interval", "0s"])
                .unwrap_err()
                .contains("longer than zero")
        );
        assert!(
            args(&["--path", "tcpdump"])
                .unwrap_err()
                .contains("must start with")
        );
        assert!(args(&["--rate=-1"]).unwrap_err().contains("rate"));
        assert!(args(&["--top", "0"]).is_err());
        assert!(
            args(&["--source", "postgres", "--tcpdump-stdin"])
                .unwrap_err()
                .contains("drop --source")
        );
        assert!(
            args(&["--window-end", "data"])
                .unwrap_err()
                .contains("with --tcpdump-stdin")
        );
        assert!(
            args(&["--load-demo-data"])
                .unwrap_err()
                .contains("--source postgres")
        );
        assert!(
            args(&["--source", "elasticsearch"])
                .unwrap_err()
                .contains("--es-url")
        );
        assert!(
            args(&["--source", "mysql", "--database-url", "postgres://x/y"])
                .unwrap_err()
                .contains("mysql://")
        );
        let a = args(&[
            "--source",
            "mysql",
            "--database-url",
            "mysql://root@127.0.0.1/test",
            "--load-demo-data",
        ])
        .unwrap();
        assert_eq!(a.source, SourceKind::Mysql);
    }

    #[test]
    fn direct_is_for_stores() {
        assert!(
            args(&["--direct"])
                .unwrap_err()
                .contains("--source postgres")
        );
        assert!(
            args(&[
                "--source",
                "elasticsearch",
                "--es-url",
                "http://h:9200",
                "--direct"
            ])
            .unwrap()
            .direct
        );
    }
}
