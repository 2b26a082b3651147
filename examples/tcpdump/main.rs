//! The live table of network packets: the past hour grouped by source_ip,
//! source_port, destination_ip, destination_port and protocol, with the packet count
//! and total size, refreshed every 6 s and pushed to every open page.
//!
//! Run with (no service needed: an in-memory table fed by synthetic traffic):
//!
//! ```sh
//! cargo run --release --example tcpdump
//! # open http://localhost:5000/tcpdump/ , or:
//! curl -s localhost:5000/tcpdump/api/tables/packets | head -c 600
//! curl -s 'localhost:5000/tcpdump/api/tables/packets.csv?window=5m&protocol=UDP' | head
//! curl -sN localhost:5000/tcpdump/api/tables/packets/stream | head -c 600
//! ```
//!
//! Other sources:
//!
//! ```sh
//! # this machine's real traffic
//! sudo tcpdump -l -nn -tt -i any | cargo run --release --example tcpdump -- --tcpdump-stdin
//! # PostgreSQL: create and fill a table, then keep adding packets
//! cargo run --release --example tcpdump -- --source postgres \
//!     --database-url postgres://postgres@127.0.0.1/test --load-demo-data
//! # MySQL / MariaDB
//! cargo run --release --example tcpdump -- --source mysql \
//!     --database-url mysql://root@127.0.0.1/test --load-demo-data
//! # Elasticsearch
//! cargo run --release --example tcpdump -- --source elasticsearch \
//!     --es-url http://elastic:changeme@localhost:9200 --index packets --load-demo-data
//! ```
//!
//! `--help` lists every flag.
//!
//! To start from a copy: these files (`workload.rs` generates the synthetic packets)
//! and these dependencies:
//!
//! ```toml
//! [dependencies]
//! livetable = { version = "0.1", features = ["http", "sql", "mysql", "es"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "time", "net", "signal"] }
//! clap = { version = "4.5", features = ["derive", "env"] }
//! chrono = "0.4"
//! rand = "0.9"
//! tracing = "0.1"
//! tracing-subscriber = { version = "0.3", features = ["env-filter"] }
//! # the allocator (see `ALLOCATOR` below; optional)
//! tikv-jemallocator = "0.6"
//! # only for stores.rs (--source postgres, mysql, elasticsearch with --load-demo-data)
//! serde_json = "1"
//! elasticsearch = { version = "=9.1.0-alpha.1", default-features = false, features = ["rustls-tls"] }
//! ```

mod capture;
mod cli;
mod stores;
mod traffic;
// `pub` items: livetable's own tests and benchmarks include this file as their
// reference workload and re-export them.
#[allow(unreachable_pub)]
mod workload;

/// The allocator of this long-running server. Under glibc's default malloc, the
/// threads that ingest, merge and stream each allocate from an arena of their own, and
/// memory freed in one is not reused by the others: resident memory crept up by about
/// 0.8 MB a minute at 1,000 viewers while the heap itself stayed level (issue 12's
/// soak, BENCHMARKS §8). jemalloc returns what the table frees. An embedding
/// application picks its own allocator (with glibc's, `MALLOC_ARENA_MAX=1` levelled it
/// too; 2 did not);
/// livetable needs none in particular.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use chrono::Utc;
use clap::Parser;
use livetable::{
    Aggregate, Catalog, CellStyle, Color, DataType, Direction, FetchContext, FormatRule, Metric,
    Result, SharedQuery, Table, TableQuery, Unit, Window,
};
use tracing::info;

use self::cli::{Args, SourceKind, WindowEnd};
use self::traffic::EventLayout;

/// How long the startup check may wait for the store's first answer.
const FIRST_FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// The table's spec: the reference 5-dimension spec with the flags' window and top-N.
pub(crate) fn packet_spec(window: Duration, top: usize) -> Result<Aggregate> {
    Aggregate::builder()
        .time_column("ts")
        .window(window)
        .dimension("source_ip", DataType::Ip)
        .dimension("source_port", DataType::Int)
        .dimension("destination_ip", DataType::Ip)
        .dimension("destination_port", DataType::Int)
        .dimension("protocol", DataType::Text)
        .field("size", DataType::Int)
        .metric(Metric::count("count").with_label("Packets"))
        .metric(
            Metric::sum("total_size", "size")
                .with_label("Total size")
                .with_unit(Unit::Bytes),
        )
        .label("source_ip", "Source")
        .label("source_port", "Src port")
        .label("destination_ip", "Destination")
        .label("destination_port", "Dst port")
        .label("protocol", "Protocol")
        .order_by("count", Direction::Desc)
        .order_by("total_size", Direction::Desc)
        .limit(top)
        .build()
}

/// The source the flags ask for, filled and fed.
async fn source(args: &Args, spec: Aggregate) -> Result<SharedQuery> {
    match args.source {
        SourceKind::Postgres => stores::postgres(args, spec).await,
        SourceKind::Mysql => stores::mysql(args, spec).await,
        SourceKind::Elasticsearch => stores::elasticsearch(args, spec).await,
        SourceKind::Memory => {
            let longest = args.windows().last().copied().unwrap_or(args.window);
            let memory = traffic::memory_source(spec.clone(), longest)?;
            let layout = EventLayout::new(&spec);
            let newest = Arc::new(AtomicI64::new(i64::MIN));
            if args.tcpdump_stdin {
                info!("reading tcpdump -l -nn -tt output from standard input");
                traffic::spawn_stdin_reader(memory.clone(), layout, newest.clone());
            } else {
                let (seed, count, now) = (args.seed, args.prefill(), Utc::now());
                // Generating and aggregating a million packets is CPU work: keep it
                // off the async workers.
                let (m, l) = (memory.clone(), layout.clone());
                let traffic =
                    tokio::task::spawn_blocking(move || traffic::prefill(&m, &l, seed, count, now))
                        .await
                        .map_err(|e| {
                            livetable::Error::invalid_spec(format!("prefill failed: {e}"))
                        })??;
                traffic::spawn_generator(memory.clone(), layout, traffic, now, args.rate);
            }
            Ok(match args.window_end {
                WindowEnd::Now => Arc::new(memory),
                WindowEnd::Data => Arc::new(traffic::FollowData {
                    source: memory,
                    newest,
                }),
            })
        }
    }
}

/// Fails early, with the store's own words, when the store cannot answer.
async fn first_fetch(args: &Args, query: &SharedQuery) -> Result<()> {
    let window = Window::ending_at(Utc::now(), args.window)?;
    let ctx = FetchContext::new(window);
    let fetched = tokio::time::timeout(FIRST_FETCH_TIMEOUT, query.fetch(&ctx))
        .await
        .map_err(|_| {
            livetable::Error::unavailable(format!(
                "the store gave no answer in {FIRST_FETCH_TIMEOUT:?}"
            ))
        })?;
    let rows = fetched?.rows.len();
    info!(rows, "first fetch answered");
    Ok(())
}

fn table(args: &Args, query: SharedQuery) -> Result<Table> {
    Table::builder_shared("packets", query)
        .title("Network packets")
        .interval(args.interval)
        // The default window and order are the spec's, which the source passes on.
        .allowed_windows(args.windows())
        .format_rule(FormatRule::DataBar {
            column: "total_size".into(),
            color: Color::new("#9ecae1")?,
        })
        .format_rule(FormatRule::TopN {
            column: "count".into(),
            n: 10,
            direction: Direction::Desc,
            style: CellStyle::background(Color::new("#fde2c4")?).bold(),
        })
        .build()
}

fn hint(args: &Args, e: &livetable::Error) -> &'static str {
    let message = e.message();
    if args.source == SourceKind::Memory || e.context_value("field").is_some() {
        // A bad setting: the message names it.
        return "";
    }
    if message.contains("does not exist")
        || message.contains("doesn't exist")
        || message.contains("no such index")
    {
        if args.load_demo_data {
            return "";
        }
        return "\n  hint: add --load-demo-data to create and fill it";
    }
    match e.kind() {
        livetable::ErrorKind::Unavailable | livetable::ErrorKind::Timeout => {
            "\n  hint: check the URL, and that the server runs and accepts this user"
        }
        _ => "",
    }
}

async fn run(args: Args) -> std::result::Result<(), String> {
    args.validate()?;
    let spec = packet_spec(args.window, args.top as usize).map_err(|e| e.to_string())?;
    let query = source(&args, spec.clone())
        .await
        .map_err(|e| format!("{e}{}", hint(&args, &e)))?;
    first_fetch(&args, &query)
        .await
        .map_err(|e| format!("cannot read the packets: {e}{}", hint(&args, &e)))?;
    let table = table(&args, query).map_err(|e| e.to_string())?;
    let catalog = Catalog::new().with(table).map_err(|e| e.to_string())?;
    let options = match &args.token {
        Some(t) => livetable::http::Options::default()
            .token(t)
            .map_err(|e| format!("--token: {e}"))?,
        None => livetable::http::Options::default(),
    };
    let app = livetable::http::nest(&args.path, options.router(catalog));
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e} (try another --bind)", args.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let url = format!("http://{addr}{}/", args.path);
    info!(%url, source = ?args.source, "serving");
    // The URL is this program's output (logs go to standard error).
    #[allow(clippy::print_stdout)]
    {
        println!("{url}");
    }
    livetable::http::serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| format!("server failed: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
