//! Private database servers for fault tests: a PostgreSQL ([`PrivatePostgres`]) or
//! MariaDB ([`PrivateMariaDb`]) server of a test's own, on its own loopback port and
//! data directory, that the test may stop and start again. Stopped and deleted on drop.
//!
//! The servers run as the `postgres` / `mysql` system user, so starting one needs root
//! (to hand that user the data directory) and the distribution's server binaries.
//! [`start_or_skip`] reports a machine without them through [`crate::services`]: a
//! skip notice, or a failure when `LIVETABLE_REQUIRE_SERVICES=1`.
//! The tools it runs (`runuser`, `chown`, `kill`) are Unix ones: elsewhere a start
//! fails, and the test skips.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A database server a test owns: started by [`PrivateServer::start`], stopped and
/// started again by the test, stopped and its directory deleted on drop.
pub trait PrivateServer: Sized {
    /// What the server is, for skip notices ("a private PostgreSQL server").
    const SERVICE: &'static str;

    /// Creates the data directory and starts the server, or `Err(why)` when this
    /// machine cannot run one.
    fn start() -> Result<Self, String>;

    /// The URL a client connects with (as a superuser, no password, a database that
    /// exists).
    fn url(&self) -> String;

    /// Stops the server (a clean, fast shutdown) and waits until it has exited.
    fn stop(&self) -> Result<(), String>;

    /// Starts the stopped server again, on the same port and data, and waits until it
    /// accepts connections.
    fn restart(&self) -> Result<(), String>;

    /// The directory holding the data, the log and the socket.
    fn dir(&self) -> &Path;
}

/// Starts `S`, or reports why it cannot run here through
/// [`crate::services::missing`] and returns `None` so the test can return early.
///
/// # Panics
/// When the server cannot start and `LIVETABLE_REQUIRE_SERVICES` is on.
pub fn start_or_skip<S: PrivateServer>() -> Option<S> {
    match S::start() {
        Ok(server) => Some(server),
        Err(why) => {
            crate::services::missing(S::SERVICE, why);
            None
        }
    }
}

/// A private PostgreSQL server: `initdb` (trust authentication, superuser `postgres`)
/// and `pg_ctl`, run as the `postgres` user, from the first `/usr/lib/postgresql/*/bin`
/// that has both.
#[derive(Debug)]
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// Runs a PostgreSQL tool as the `postgres` user.
    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool))
            .args(args)
            .output();
        succeeded(tool, out)
    }
}

impl PrivateServer for PrivatePostgres {
    const SERVICE: &'static str = "a private PostgreSQL server";

    fn start() -> Result<Self, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("no /usr/lib/postgresql: {e}"))?
            .filter_map(|d| d.ok().map(|d| d.path().join("bin")))
            .find(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .ok_or("no initdb/pg_ctl under /usr/lib/postgresql/*/bin")?;
        let (dir, port) = own_dir("postgres")?;
        let server = PrivatePostgres { bin, dir, port };
        let data = server.data();
        server.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        )?;
        server.restart()?;
        Ok(server)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn stop(&self) -> Result<(), String> {
        let data = self.data();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"])
    }

    fn restart(&self) -> Result<(), String> {
        // The socket goes in the private directory: the system's may not be writable by
        // `postgres`, and must not clash with the machine's own server.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        let data = self.data();
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-o", &options, "-l", &log, "-w", "-t", "60", "start",
            ],
        )
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `mariadbd`, the MariaDB server.
const MARIADBD: &str = "/usr/sbin/mariadbd";
/// `mariadb-install-db`, which creates the system tables and the `test` database.
const MARIADB_INSTALL: &str = "/usr/bin/mariadb-install-db";

/// A private MariaDB server: `mariadb-install-db` then `mariadbd` as the `mysql` user,
/// with grant tables skipped (any user, no password: it lives for one test, on
/// loopback). Clients use the `test` database.
#[derive(Debug)]
pub struct PrivateMariaDb {
    dir: PathBuf,
    port: u16,
    /// The running `mariadbd`, `None` while stopped.
    child: Mutex<Option<Child>>,
}

impl PrivateMariaDb {
    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn child(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        // A panic while the lock was held leaves the handle itself intact.
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PrivateServer for PrivateMariaDb {
    const SERVICE: &'static str = "a private MariaDB server";

    fn start() -> Result<Self, String> {
        for bin in [MARIADBD, MARIADB_INSTALL] {
            if !Path::new(bin).exists() {
                return Err(format!("no {bin}"));
            }
        }
        let (dir, port) = own_dir("mysql")?;
        let server = PrivateMariaDb {
            dir,
            port,
            child: Mutex::new(None),
        };
        let out = Command::new(MARIADB_INSTALL)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", server.data()))
            .arg("--user=mysql")
            .output();
        succeeded(MARIADB_INSTALL, out)?;
        server.restart()?;
        Ok(server)
    }

    fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/test", self.port)
    }

    fn stop(&self) -> Result<(), String> {
        let Some(mut child) = self.child().take() else {
            return Ok(());
        };
        // SIGTERM is mariadbd's clean shutdown; kill it outright only if that fails.
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        if !term.is_ok_and(|s| s.success()) {
            let _ = child.kill();
        }
        child.wait().map_err(|e| e.to_string())?;
        Ok(())
    }

    fn restart(&self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("log")).map_err(|e| e.to_string())?;
        let child = Command::new(MARIADBD)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.data()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", self.dir.join("sock").display()))
            .arg(format!("--pid-file={}", self.dir.join("pid").display()))
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
            .map_err(|e| format!("{MARIADBD}: {e}"))?;
        *self.child() = Some(child);
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

    fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PrivateMariaDb {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free loopback port and a fresh directory for it that only `user` may enter.
fn own_dir(user: &str) -> Result<(PathBuf, u16), String> {
    let exists = Command::new("id").arg(user).output();
    if !exists.is_ok_and(|o| o.status.success()) {
        return Err(format!("no `{user}` user to run the server as"));
    }
    // Bind port 0 and let it go: the server binds it again a moment later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let dir = std::env::temp_dir().join(format!("livetable-{user}-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let chown = Command::new("chown")
        .arg(format!("{user}:"))
        .arg(&dir)
        .status();
    if !chown.is_ok_and(|s| s.success()) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!(
            "cannot chown the data directory to {user} (not root?)"
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| e.to_string())?;
    }
    Ok((dir, port))
}

/// `Ok` when the tool ran and succeeded, else `Err` with what it printed.
fn succeeded(tool: &str, out: std::io::Result<Output>) -> Result<(), String> {
    let out = out.map_err(|e| format!("{tool}: {e}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_tool_reports_what_it_printed() {
        let err = succeeded(
            "false",
            Command::new("sh")
                .args(["-c", "echo oops; exit 3"])
                .output(),
        )
        .unwrap_err();
        assert!(
            err.contains("false failed") && err.contains("oops"),
            "{err}"
        );
        assert!(succeeded("true", Command::new("true").output()).is_ok());
        let err = succeeded("none", Command::new("/nonexistent/tool").output()).unwrap_err();
        assert!(err.starts_with("none: "), "{err}");
    }
}
