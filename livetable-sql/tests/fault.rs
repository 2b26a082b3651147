//! Faults: a `LiveTable` over a PostgreSQL server that this test starts itself (its own
//! data directory and port, `initdb` / `pg_ctl` run as the `postgres` user) goes stale
//! when the server stops, keeps serving the last snapshot, and recovers by itself when
//! the server is back.
//!
//! Needs root (to run the tools as `postgres` with `runuser`) and PostgreSQL's server
//! binaries under /usr/lib/postgresql/*/bin; skips with a notice without them, unless
//! `LIVETABLE_REQUIRE_SERVICES=1`.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use livetable_core::{Aggregate, DataType, ErrorKind, LiveTable, Metric, Snapshot, Status, Value};
use livetable_sql::PgBackend;
use livetable_sql::sqlx::{self, AssertSqlSafe};

/// A private PostgreSQL server, stopped and deleted on drop.
struct Server {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Server {
    /// initdb + start, or `Err(why)` when this machine cannot run one.
    fn start() -> Result<Server, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("no /usr/lib/postgresql: {e}"))?
            .filter_map(|d| d.ok().map(|d| d.path().join("bin")))
            .find(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .ok_or("no initdb/pg_ctl under /usr/lib/postgresql/*/bin")?;
        if Command::new("id")
            .arg("postgres")
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            return Err("no `postgres` user to run the server as".into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let dir =
            std::env::temp_dir().join(format!("livetable-pgfault-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        // The server runs as `postgres`: let it own its directory.
        let chown = Command::new("chown").arg("postgres:").arg(&dir).status();
        if !chown.is_ok_and(|s| s.success()) {
            return Err("cannot chown the data directory to postgres (not root?)".into());
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| e.to_string())?;
        let server = Server { bin, dir, port };
        server.run(
            "initdb",
            &[
                "-D",
                &server.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )?;
        server.pg_ctl_start()?;
        Ok(server)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs a PostgreSQL tool as the `postgres` user.
    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool))
            .args(args)
            .output()
            .map_err(|e| format!("{tool}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    fn stop(&self) -> Result<(), String> {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls the table's snapshot until `done` holds, failing after `limit` (a deadline for
/// a hung test, not a timing assertion).
async fn wait_for(
    table: &LiveTable,
    what: &str,
    limit: Duration,
    done: impl Fn(&Snapshot) -> bool,
) -> std::sync::Arc<Snapshot> {
    let started = Instant::now();
    loop {
        let snap = table.snapshot();
        if done(&snap) {
            return snap;
        }
        assert!(
            started.elapsed() < limit,
            "the table never became {what}: {:?}",
            snap.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn insert(pg: &PgBackend, host: &str) {
    sqlx::query(AssertSqlSafe(
        "INSERT INTO events VALUES (now() - interval '1 second', $1)",
    ))
    .bind(host)
    .execute(pg.pool())
    .await
    .unwrap();
}

fn hosts(snap: &Snapshot) -> Vec<Value> {
    snap.rows.iter().map(|r| r[0].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_table_goes_stale_and_recovers_with_the_server() {
    let server = match Server::start() {
        Ok(s) => s,
        Err(why) => {
            livetable_testkit::services::missing("a private PostgreSQL server", why);
            return;
        }
    };
    let pg = PgBackend::builder()
        .url(server.url())
        .connect_timeout(Duration::from_secs(1))
        .statement_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    sqlx::query("CREATE TABLE events (ts timestamptz, host text)")
        .execute(pg.pool())
        .await
        .unwrap();
    insert(&pg, "a").await;
    insert(&pg, "b").await;

    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension("host", DataType::Text)
        .metric(Metric::count("n"))
        .build()
        .unwrap();
    let table = LiveTable::builder("events", pg.aggregate("events", spec).unwrap())
        .interval(Duration::from_secs(1))
        .fetch_timeout(Duration::from_secs(3))
        .start()
        .unwrap();
    let first = table.ready().await;
    assert!(first.status.is_fresh(), "{:?}", first.status);
    assert_eq!(hosts(&first), [Value::from("a"), Value::from("b")]);

    // The server goes away: the table turns stale and keeps the last good rows.
    server.stop().unwrap();
    let stale = wait_for(&table, "stale", Duration::from_secs(30), |s| {
        matches!(s.status, Status::Stale { .. })
    })
    .await;
    let Status::Stale { error, .. } = &stale.status else {
        unreachable!()
    };
    assert!(
        matches!(error.kind(), ErrorKind::Unavailable | ErrorKind::Timeout),
        "{error}"
    );
    assert!(error.is_retryable(), "{error}");
    assert_eq!(
        stale.rows, first.rows,
        "the last good rows are still served"
    );

    // It comes back: the table recovers by itself and shows new data.
    server.pg_ctl_start().unwrap();
    insert(&pg, "c").await;
    let fresh = wait_for(
        &table,
        "fresh with the new row",
        Duration::from_secs(60),
        |s| s.status.is_fresh() && hosts(s).len() == 3,
    )
    .await;
    assert_eq!(
        hosts(&fresh),
        [Value::from("a"), Value::from("b"), Value::from("c")]
    );
    assert!(table.stats().errors > 0);

    drop(table);
    pg.pool().close().await;
    let dir = server.dir.clone();
    drop(server);
    assert!(!dir.exists(), "the private server's directory is removed");
}
