//! Faults on MariaDB: a `LiveTable` over a MariaDB server that this test starts itself
//! (`mariadb-install-db` into its own data directory, `mariadbd` on its own port, run
//! as the `mysql` user) goes stale when the server stops, keeps serving the last
//! snapshot, and recovers by itself when the server is back.
//!
//! Needs root (mariadbd runs as `mysql`) and MariaDB's server binaries; skips with a
//! notice without them, unless `LIVETABLE_REQUIRE_SERVICES=1`.
#![allow(clippy::unwrap_used)]

mod mysql_common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use livetable_core::{Aggregate, DataType, ErrorKind, LiveTable, Metric, Snapshot, Status, Value};
use livetable_sql::MySqlBackend;
use livetable_sql::sqlx::{self, AssertSqlSafe};

const SERVER: &str = "/usr/sbin/mariadbd";
const INSTALL: &str = "/usr/bin/mariadb-install-db";

/// A private MariaDB server, stopped and deleted on drop.
struct Server {
    dir: PathBuf,
    port: u16,
    child: Mutex<Option<Child>>,
}

impl Server {
    /// mariadb-install-db + start, or `Err(why)` when this machine cannot run one.
    fn start() -> Result<Server, String> {
        for bin in [SERVER, INSTALL] {
            if !std::path::Path::new(bin).exists() {
                return Err(format!("no {bin}"));
            }
        }
        if Command::new("id")
            .arg("mysql")
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            return Err("no `mysql` user to run the server as".into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let dir =
            std::env::temp_dir().join(format!("livetable-myfault-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let chown = Command::new("chown").arg("mysql:").arg(&dir).status();
        if !chown.is_ok_and(|s| s.success()) {
            return Err("cannot chown the data directory to mysql (not root?)".into());
        }
        let server = Server {
            dir,
            port,
            child: Mutex::new(None),
        };
        let out = Command::new(INSTALL)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", server.data()))
            .args(["--user=mysql", "--skip-test-db"])
            .output()
            .map_err(|e| format!("{INSTALL}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mariadb-install-db failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        server.run()?;
        Ok(server)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/test", self.port)
    }

    /// Starts mariadbd and waits until it accepts connections.
    fn run(&self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("log")).map_err(|e| e.to_string())?;
        let child = Command::new(SERVER)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.data()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", self.dir.join("sock").display()))
            .arg(format!("--pid-file={}", self.dir.join("pid").display()))
            // Any user, no password: the server lives for this test only, on loopback.
            .args([
                "--bind-address=127.0.0.1",
                "--user=mysql",
                "--skip-grant-tables",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{SERVER}: {e}"))?;
        *self.child.lock().unwrap() = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if started.elapsed() > Duration::from_secs(60) {
                let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
                return Err(format!("mariadbd did not start: {log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Stops the server (SIGTERM: a clean shutdown) and waits for it to exit.
    fn stop(&self) -> Result<(), String> {
        let Some(mut child) = self.child.lock().unwrap().take() else {
            return Ok(());
        };
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        if !term.is_ok_and(|s| s.success()) {
            let _ = child.kill();
        }
        child.wait().map_err(|e| e.to_string())?;
        Ok(())
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

async fn insert(db: &MySqlBackend, host: &str) {
    sqlx::query(AssertSqlSafe(
        "INSERT INTO events VALUES (UTC_TIMESTAMP(3) - INTERVAL 1 SECOND, ?)",
    ))
    .bind(host)
    .execute(db.pool())
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
            assert!(
                !mysql_common::services_required(),
                "a private MariaDB is required but: {why}"
            );
            eprintln!("SKIPPED live_table_goes_stale_and_recovers_with_the_server: {why}");
            return;
        }
    };
    let admin = MySqlBackend::builder()
        .url(format!("mysql://root@127.0.0.1:{}/mysql", server.port))
        .build()
        .unwrap();
    sqlx::query("CREATE DATABASE test")
        .execute(admin.pool())
        .await
        .unwrap();
    admin.pool().close().await;
    let db = MySqlBackend::builder()
        .url(server.url())
        .connect_timeout(Duration::from_secs(1))
        .statement_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    sqlx::query("CREATE TABLE events (ts DATETIME(3), host VARCHAR(20))")
        .execute(db.pool())
        .await
        .unwrap();
    insert(&db, "a").await;
    insert(&db, "b").await;

    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension("host", DataType::Text)
        .metric(Metric::count("n"))
        .build()
        .unwrap();
    let table = LiveTable::builder("events", db.aggregate("events", spec).unwrap())
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
    server.run().unwrap();
    insert(&db, "c").await;
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
    db.pool().close().await;
    let dir = server.dir.clone();
    drop(server);
    assert!(!dir.exists(), "the private server's directory is removed");
}
