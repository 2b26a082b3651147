//! Fan-out: what one more viewer costs, with server-sent events against polling.
//!
//! Run with: `cargo bench --features http --bench fanout` (about 2 minutes; only
//! 127.0.0.1). Without `--bench` (e.g. `cargo test --benches --features http`) it makes
//! a short smoke run: 10 viewers, 2 ticks.
//!
//! For each N in 10, 100, 1,000 viewers, in the same run:
//! - **SSE**: `livetable::http::router` over a live table whose source serves the top
//!   500 rows of the reference packets table (5 dimensions, seed 42) and changes 1 % of
//!   them (5 rows) at each fetch; refresh every second (`interval` = `min_interval`
//!   = 1 s). N viewers each hold one `GET /api/tables/packets/stream`; after every
//!   viewer has its first snapshot, the harness runs a fixed number of ticks (10) and
//!   waits until every viewer has the last one.
//! - **Polling** (the Dash `dcc.Interval` way): the same N viewers each `GET` a JSON
//!   snapshot once per tick (phases spread over the second like independent browser
//!   tabs) from an axum handler that calls the same source's fetch on every request and
//!   serialises the whole table: no cache. The data change once per tick, on a timer.
//!
//! Reported per N and mode:
//! - **fetches per tick**: the source's fetch counter over the measured ticks / ticks;
//! - **server CPU per client-update**: `getrusage(RUSAGE_SELF)` user + system of the
//!   server process over the measured ticks, divided by the updates the viewers
//!   received. The viewers run in a child process (this binary again), so their CPU is
//!   not in that figure; theirs is reported beside it. The server process runs
//!   nothing else (its own bookkeeping: a few lines on a pipe);
//! - **bytes per viewer per tick**: the bytes of the SSE events (`event:`, `id:`,
//!   `data:` lines and the blank line, as de-chunked by the client) or of the polled
//!   bodies, against the full table (the stream's first `snapshot` event; the polled
//!   body);
//! - **delivery latency**: from the end of the fetch (a wall-clock stamp the source
//!   takes as it returns the rows, before the diff, the encoding and the writes) to the
//!   moment the viewer has read the whole event or body (wall clock, same machine),
//!   p50 / p99 / max over every (viewer, update). For polling the stamp travels in a
//!   header; for SSE it is matched by the patch's window end.
//!
//! Environment: `LIVETABLE_FANOUT_N` (e.g. `10,100`), `LIVETABLE_FANOUT_TICKS`,
//! `LIVETABLE_FANOUT_INTERVAL_MS` override the plan. The soft limit on open files is
//! raised to what 1,000 connections need (one descriptor per connection in each
//! process).
#![allow(missing_docs, clippy::print_stdout, clippy::print_stderr)]

#[cfg(unix)]
mod support;

#[cfg(not(unix))]
fn main() {
    eprintln!("the fan-out harness measures with getrusage: unix only");
}

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    harness::main()
}

#[cfg(unix)]
mod harness {
    use std::net::SocketAddr;
    use std::process::{ExitCode, Stdio};
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::Utc;
    use livetable::http::axum;
    use livetable::http::axum::extract::State;
    use livetable::http::axum::http::{StatusCode, header};
    use livetable::http::axum::response::{IntoResponse, Response};
    use livetable::http::axum::routing::get;
    use livetable::{Catalog, RefreshConfig, Row, Schema, Snapshot, Table, ViewParams, Window};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
    use tokio::net::TcpListener;
    use tokio::process::{Child, ChildStdin, ChildStdout, Command};
    use tokio::sync::oneshot;
    use tokio::time::Instant;

    use crate::support::table::{CHANGED_PER_TICK, Changes, Packets, ROWS, Source, reference_rows};
    use crate::support::usage::{Cpu, raise_open_files};
    use crate::support::viewers::child_main;
    use crate::support::wire::{
        ChildConfig, FETCH_END_HEADER, GENERATION_HEADER, ROLE_VAR, Report, Role, SNAPSHOT_PATH,
        quantile,
    };

    /// What to run.
    #[derive(Clone, Debug)]
    struct Plan {
        viewers: Vec<usize>,
        ticks: u64,
        interval: Duration,
    }

    impl Plan {
        fn new(full: bool) -> Result<Plan, String> {
            let var = |name: &str| std::env::var(name).ok();
            let viewers = match var("LIVETABLE_FANOUT_N") {
                Some(list) => list
                    .split(',')
                    .map(|n| n.trim().parse::<usize>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("LIVETABLE_FANOUT_N={list}: {e}"))?,
                None if full => vec![10, 100, 1000],
                None => vec![10],
            };
            let ticks = match var("LIVETABLE_FANOUT_TICKS") {
                Some(t) => t
                    .parse()
                    .map_err(|e| format!("LIVETABLE_FANOUT_TICKS={t}: {e}"))?,
                None if full => 10,
                None => 2,
            };
            let interval = match var("LIVETABLE_FANOUT_INTERVAL_MS") {
                Some(ms) => Duration::from_millis(
                    ms.parse()
                        .map_err(|e| format!("LIVETABLE_FANOUT_INTERVAL_MS={ms}: {e}"))?,
                ),
                None => Duration::from_secs(1),
            };
            if ticks == 0 || viewers.contains(&0) || interval.is_zero() {
                return Err("ticks, viewers and the interval must be positive".to_owned());
            }
            Ok(Plan {
                viewers,
                ticks,
                interval,
            })
        }

        /// How long the viewers get for the measured ticks.
        fn run_secs(&self) -> u64 {
            (self.interval * self.ticks as u32).as_secs() * 3 + 30
        }
    }

    pub(crate) fn main() -> ExitCode {
        if std::env::var_os(ROLE_VAR).is_some() {
            return child_main();
        }
        let args: Vec<String> = std::env::args().skip(1).collect();
        let full = args.iter().any(|a| a == "--bench");
        // `cargo bench -- <filter>`: run only when the filter names this harness.
        let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        if !filters.is_empty() && !filters.iter().any(|f| "fanout".contains(f.as_str())) {
            return ExitCode::SUCCESS;
        }
        let plan = match Plan::new(full) {
            Ok(plan) => plan,
            Err(e) => {
                eprintln!("fanout: {e}");
                return ExitCode::FAILURE;
            }
        };
        let most = plan.viewers.iter().copied().max().unwrap_or(0) as u64;
        match raise_open_files(most + 256) {
            Ok(limit) if limit >= most + 64 => {}
            Ok(limit) => {
                eprintln!(
                    "fanout: {most} viewers need about {} open files, the hard limit is {limit}",
                    most + 256
                );
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("fanout: {e}");
                return ExitCode::FAILURE;
            }
        }
        // The server's runtime: as many workers as the machine has cores (two here).
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        let result = match runtime {
            Ok(rt) => rt.block_on(run(&plan)),
            Err(e) => Err(format!("cannot start a runtime: {e}")),
        };
        match result {
            Ok(rows) => {
                if print_report(&plan, &rows) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("fanout: {e}");
                ExitCode::FAILURE
            }
        }
    }

    /// The figures of one mode at one N.
    #[derive(Debug)]
    struct Figures {
        role: Role,
        viewers: usize,
        ticks: u64,
        fetches: u64,
        updates: u64,
        server_cpu: Cpu,
        viewer_cpu: Cpu,
        update_bytes: u64,
        full_bytes: f64,
        latencies_ms: Vec<f64>,
        wall: Duration,
        /// Wrong results: a missed or out-of-order update, a fetch too many. The
        /// harness exits with a failure when there is one.
        problems: Vec<String>,
        /// Observations that are not errors (the polling server falling behind).
        notes: Vec<String>,
    }

    impl Figures {
        fn fetches_per_tick(&self) -> f64 {
            self.fetches as f64 / self.ticks as f64
        }

        fn cpu_per_update_us(&self, cpu: Cpu) -> f64 {
            cpu.total().as_secs_f64() * 1e6 / self.updates.max(1) as f64
        }

        /// "15.1 µs (60 % sys)": per client-update, with the kernel's share.
        fn cpu_cell(&self, cpu: Cpu) -> String {
            let sys = 100.0 * cpu.system.as_secs_f64() / cpu.total().as_secs_f64().max(1e-9);
            format!("{:.1} µs ({sys:.0} % sys)", self.cpu_per_update_us(cpu))
        }

        fn bytes_per_viewer_tick(&self) -> f64 {
            self.update_bytes as f64 / (self.viewers as u64 * self.ticks) as f64
        }
    }

    async fn run(plan: &Plan) -> Result<Vec<Figures>, String> {
        let (schema, rows) = reference_rows().await.map_err(|e| e.to_string())?;
        let mut all = Vec::new();
        for &n in &plan.viewers {
            eprintln!("fanout: {n} viewers, server-sent events ...");
            all.push(sse(plan, n, &schema, &rows).await?);
            eprintln!("fanout: {n} viewers, polling ...");
            all.push(poll(plan, n, &schema, &rows).await?);
        }
        Ok(all)
    }

    /// The viewer process.
    struct Viewers {
        child: Child,
        stdin: ChildStdin,
        lines: Lines<BufReader<ChildStdout>>,
    }

    impl Viewers {
        fn spawn(config: &ChildConfig) -> Result<Viewers, String> {
            let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
            let mut child = Command::new(exe)
                .envs(config.env())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot start the viewer process: {e}"))?;
            let stdin = child.stdin.take().ok_or("no stdin")?;
            let stdout = child.stdout.take().ok_or("no stdout")?;
            Ok(Viewers {
                child,
                stdin,
                lines: BufReader::new(stdout).lines(),
            })
        }

        /// Waits for the line starting with `word`; returns the rest of it.
        async fn expect(&mut self, word: &str, within: Duration) -> Result<String, String> {
            let lines = &mut self.lines;
            let wait = async {
                loop {
                    let line = lines
                        .next_line()
                        .await
                        .map_err(|e| format!("viewer process: {e}"))?
                        .ok_or_else(|| format!("the viewer process ended before {word}"))?;
                    if let Some(why) = line.strip_prefix("FAIL ") {
                        return Err(format!("viewer process: {why}"));
                    }
                    if let Some(rest) = line.strip_prefix(word) {
                        return Ok(rest.trim_start().to_owned());
                    }
                }
            };
            tokio::time::timeout(within, wait)
                .await
                .map_err(|_| format!("no {word} from the viewer process within {within:?}"))?
        }

        async fn send(&mut self, line: &str) -> Result<(), String> {
            self.stdin
                .write_all(format!("{line}\n").as_bytes())
                .await
                .map_err(|e| format!("viewer process stdin: {e}"))?;
            self.stdin
                .flush()
                .await
                .map_err(|e| format!("viewer process stdin: {e}"))
        }

        async fn report(mut self) -> Result<Report, String> {
            let json = self.expect("RESULT", Duration::from_secs(60)).await?;
            let report: Report =
                serde_json::from_str(&json).map_err(|e| format!("viewer report: {e}"))?;
            match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
                Ok(Ok(status)) if status.success() => Ok(report),
                Ok(Ok(status)) => Err(format!("the viewer process exited with {status}")),
                Ok(Err(e)) => Err(format!("viewer process: {e}")),
                Err(_) => Err("the viewer process did not exit".to_owned()),
            }
        }
    }

    fn refresh(plan: &Plan) -> RefreshConfig {
        let mut config = RefreshConfig::default();
        config.interval = plan.interval;
        config.min_interval = plan.interval;
        config
    }

    async fn loopback() -> Result<(TcpListener, SocketAddr), String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        Ok((listener, addr))
    }

    /// SSE at `n` viewers.
    async fn sse(plan: &Plan, n: usize, schema: &Schema, rows: &[Row]) -> Result<Figures, String> {
        let err = |e: livetable::Error| e.to_string();
        let packets = Packets::new(schema.clone(), rows.to_vec(), Changes::OnFetch).map_err(err)?;
        let table = Table::builder("packets", Source(packets.clone()))
            .refresh(refresh(plan))
            .build()
            .map_err(err)?;
        let catalog = Catalog::new().with(table).map_err(err)?;
        // The view every stream shares (the same parameters: none).
        let live = catalog
            .get("packets")
            .and_then(|t| t.view(&ViewParams::default()))
            .map_err(err)?;
        live.ready().await;

        let (listener, addr) = loopback().await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(livetable::http::serve(
            listener,
            livetable::http::router(catalog),
            async {
                let _ = stopped.await;
            },
        ));
        let mut viewers = Viewers::spawn(&ChildConfig {
            role: Role::Sse,
            addr,
            clients: n,
            interval: plan.interval,
        })?;
        viewers.expect("READY", Duration::from_secs(150)).await?;

        // Start between two ticks, so the measured span holds exactly `ticks` of them.
        packets.next_fetch().await;
        tokio::time::sleep(plan.interval / 2).await;
        let from = live.stats().version;
        let target = from + plan.ticks;
        let fetches_before = packets.fetches();
        let cpu_before = Cpu::now()?;
        let started = Instant::now();
        viewers
            .send(&format!("RUN {target} {}", plan.run_secs()))
            .await?;
        viewers
            .expect("DONE", Duration::from_secs(plan.run_secs() + 30))
            .await?;
        let server_cpu = Cpu::now()?.since(cpu_before);
        let wall = started.elapsed();
        let fetches = packets.fetches() - fetches_before;
        let report = viewers.report().await?;
        let _ = stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), server).await;

        let mut figures = Figures {
            role: Role::Sse,
            viewers: n,
            ticks: plan.ticks,
            fetches,
            updates: 0,
            server_cpu,
            viewer_cpu: report.cpu,
            update_bytes: 0,
            full_bytes: mean(report.viewers.iter().map(|v| v.first_bytes as f64)),
            latencies_ms: Vec::new(),
            wall,
            problems: Vec::new(),
            notes: Vec::new(),
        };
        let in_span = |v: u64| v > from && v <= target;
        let mut unmatched = 0;
        let mut resyncs = 0;
        for viewer in &report.viewers {
            if let Some(e) = &viewer.error {
                figures.problems.push(format!("viewer: {e}"));
            }
            if viewer.gaps > 0 {
                figures.problems.push(format!("{} gaps", viewer.gaps));
            }
            for r in viewer.received.iter().filter(|r| in_span(r.version)) {
                figures.updates += 1;
                figures.update_bytes += r.bytes;
                if r.snapshot {
                    resyncs += 1;
                    continue;
                }
                match packets.fetch_end(r.window_end_ms) {
                    Some(end) => figures
                        .latencies_ms
                        .push(r.at_ns.saturating_sub(end) as f64 / 1e6),
                    None => unmatched += 1,
                }
            }
        }
        if resyncs > 0 {
            figures
                .problems
                .push(format!("{resyncs} full snapshots instead of patches"));
        }
        if unmatched > 0 {
            figures
                .problems
                .push(format!("{unmatched} patches matched no fetch"));
        }
        let expected = n as u64 * plan.ticks;
        if figures.updates != expected {
            figures.problems.push(format!(
                "{} updates delivered, expected {expected}",
                figures.updates
            ));
        }
        if fetches != plan.ticks {
            figures.problems.push(format!(
                "{fetches} fetches for {} ticks: expected one per tick",
                plan.ticks
            ));
        }
        figures.latencies_ms.sort_by(f64::total_cmp);
        Ok(figures)
    }

    /// What the polling handler needs.
    #[derive(Clone, Debug)]
    struct Polled {
        packets: Arc<Packets>,
        schema: Arc<Schema>,
    }

    /// The Dash-style endpoint: every request fetches and serialises the whole table.
    async fn polled_snapshot(State(polled): State<Polled>) -> Response {
        let window = match Window::ending_at(Utc::now(), Duration::from_secs(3600)) {
            Ok(w) => w,
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        };
        let (generation, rows, fetch_end) = polled.packets.fetch_rows(&window);
        let mut snapshot = Snapshot::new(polled.schema.clone(), rows, window);
        snapshot.version = generation;
        (
            [
                (header::CONTENT_TYPE.as_str(), "application/json".to_owned()),
                (GENERATION_HEADER, generation.to_string()),
                (FETCH_END_HEADER, fetch_end.to_string()),
            ],
            livetable::http::wire::snapshot_json(&snapshot),
        )
            .into_response()
    }

    /// Polling at `n` viewers.
    async fn poll(plan: &Plan, n: usize, schema: &Schema, rows: &[Row]) -> Result<Figures, String> {
        let packets = Packets::new(schema.clone(), rows.to_vec(), Changes::OnTick)
            .map_err(|e| e.to_string())?;
        let app = axum::Router::new()
            .route(SNAPSHOT_PATH, get(polled_snapshot))
            .with_state(Polled {
                packets: packets.clone(),
                schema: Arc::new(schema.clone()),
            });
        let (listener, addr) = loopback().await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        // The store's data change once per tick, whoever looks.
        let ticker = {
            let packets = packets.clone();
            let interval = plan.interval;
            tokio::spawn(async move {
                let mut every = tokio::time::interval(interval);
                loop {
                    every.tick().await;
                    packets.advance();
                }
            })
        };
        let mut viewers = Viewers::spawn(&ChildConfig {
            role: Role::Poll,
            addr,
            clients: n,
            interval: plan.interval,
        })?;
        viewers.expect("READY", Duration::from_secs(150)).await?;
        let fetches_before = packets.fetches();
        let cpu_before = Cpu::now()?;
        let started = Instant::now();
        viewers
            .send(&format!("RUN {} {}", plan.ticks, plan.run_secs()))
            .await?;
        viewers
            .expect("DONE", Duration::from_secs(plan.run_secs() + 30))
            .await?;
        let server_cpu = Cpu::now()?.since(cpu_before);
        let wall = started.elapsed();
        let fetches = packets.fetches() - fetches_before;
        let report = viewers.report().await?;
        ticker.abort();
        let _ = stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), server).await;

        let mut figures = Figures {
            role: Role::Poll,
            viewers: n,
            ticks: plan.ticks,
            fetches,
            updates: 0,
            server_cpu,
            viewer_cpu: report.cpu,
            update_bytes: 0,
            full_bytes: mean(report.viewers.iter().map(|v| v.first_bytes as f64)),
            latencies_ms: Vec::new(),
            wall,
            problems: Vec::new(),
            notes: Vec::new(),
        };
        for viewer in &report.viewers {
            if let Some(e) = &viewer.error {
                figures.problems.push(format!("viewer: {e}"));
            }
            for r in &viewer.received {
                figures.updates += 1;
                figures.update_bytes += r.bytes;
                figures
                    .latencies_ms
                    .push(r.at_ns.saturating_sub(r.fetch_end_ns) as f64 / 1e6);
            }
        }
        let expected = n as u64 * plan.ticks;
        if figures.updates != expected {
            figures.problems.push(format!(
                "{} polls answered, expected {expected}",
                figures.updates
            ));
        }
        let late = wall.as_secs_f64() - (plan.interval * plan.ticks as u32).as_secs_f64();
        if late > plan.interval.as_secs_f64() {
            figures.notes.push(format!(
                "the polls took {:.1} s for {} ticks: the server did not keep up",
                wall.as_secs_f64(),
                plan.ticks
            ));
        }
        figures.latencies_ms.sort_by(f64::total_cmp);
        Ok(figures)
    }

    fn mean(values: impl Iterator<Item = f64>) -> f64 {
        let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
        if count == 0 { 0.0 } else { sum / count as f64 }
    }

    fn ms(v: Option<f64>) -> String {
        v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
    }

    /// Prints the tables; false when a viewer saw a wrong result.
    fn print_report(plan: &Plan, all: &[Figures]) -> bool {
        println!();
        println!(
            "fan-out: {ROWS}-row packets table, {CHANGED_PER_TICK} rows ({:.0} %) changing per tick, \
             {} measured ticks of {:?}",
            100.0 * CHANGED_PER_TICK as f64 / ROWS as f64,
            plan.ticks,
            plan.interval
        );
        println!();
        println!(
            "| viewers | mode | fetches/tick | server CPU per client-update | viewer-process CPU per update | bytes/viewer/tick | full table | share | latency p50 | p99 | max | updates | wall |"
        );
        println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for f in all {
            let bytes = f.bytes_per_viewer_tick();
            println!(
                "| {} | {} | {:.2} | {} | {} | {:.0} B | {:.0} B | {:.2} % | {} ms | {} ms | {} ms | {} | {:.1} s |",
                f.viewers,
                f.role.as_str(),
                f.fetches_per_tick(),
                f.cpu_cell(f.server_cpu),
                f.cpu_cell(f.viewer_cpu),
                bytes,
                f.full_bytes,
                100.0 * bytes / f.full_bytes.max(1.0),
                ms(quantile(&f.latencies_ms, 0.5)),
                ms(quantile(&f.latencies_ms, 0.99)),
                ms(f.latencies_ms.last().copied()),
                f.updates,
                f.wall.as_secs_f64(),
            );
        }
        println!();
        println!(
            "| viewers | fetches/tick poll ÷ SSE | server CPU per client-update poll ÷ SSE | server CPU per tick SSE | poll |"
        );
        println!("|---:|---:|---:|---:|---:|");
        for pair in all.chunks(2) {
            if let [s, p] = pair {
                let per_tick =
                    |f: &Figures| f.server_cpu.total().as_secs_f64() * 1e3 / f.ticks as f64;
                println!(
                    "| {} | {:.0}× | {:.1}× | {:.2} ms | {:.2} ms |",
                    s.viewers,
                    p.fetches_per_tick() / s.fetches_per_tick().max(f64::MIN_POSITIVE),
                    p.cpu_per_update_us(p.server_cpu)
                        / s.cpu_per_update_us(s.server_cpu).max(f64::MIN_POSITIVE),
                    per_tick(s),
                    per_tick(p),
                );
            }
        }
        print_targets(all);
        let listed = |pick: fn(&Figures) -> &Vec<String>| -> Vec<String> {
            let mut lines: Vec<String> = all
                .iter()
                .flat_map(|f| {
                    pick(f)
                        .iter()
                        .map(move |p| format!("{} viewers, {}: {p}", f.viewers, f.role.as_str()))
                })
                .collect();
            lines.dedup();
            lines
        };
        for note in listed(|f| &f.notes) {
            println!("note: {note}");
        }
        let problems = listed(|f| &f.problems);
        if problems.is_empty() {
            println!("every viewer received every update, in order; one fetch per tick with SSE.");
        } else {
            for p in problems.iter().take(20) {
                println!("problem: {p}");
            }
            if problems.len() > 20 {
                println!("... and {} more", problems.len() - 20);
            }
        }
        problems.is_empty()
    }

    /// The targets, checked on this run's SSE figures.
    fn print_targets(all: &[Figures]) {
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        println!();
        println!("targets (SSE):");
        for f in all.iter().filter(|f| f.role == Role::Sse) {
            println!(
                "- {} viewers: fetches per tick = 1: {:.2}, {}",
                f.viewers,
                f.fetches_per_tick(),
                verdict(f.fetches == f.ticks)
            );
        }
        if let Some(f) = all
            .iter()
            .filter(|f| f.role == Role::Sse && f.viewers >= 1000)
            .max_by_key(|f| f.viewers)
        {
            let share = 100.0 * f.bytes_per_viewer_tick() / f.full_bytes.max(1.0);
            let p99 = quantile(&f.latencies_ms, 0.99);
            println!(
                "- {} viewers: bytes per viewer per tick ≤ 5 % of the full snapshot: {share:.2} %, {}",
                f.viewers,
                verdict(share <= 5.0)
            );
            println!(
                "- {} viewers: p99 delivery latency ≤ 50 ms: {} ms, {}",
                f.viewers,
                ms(p99),
                verdict(p99.is_some_and(|p| p <= 50.0))
            );
        }
        println!();
    }
}
