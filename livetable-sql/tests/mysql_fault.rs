//! Faults on MariaDB: a `LiveTable` over a MariaDB server that this test starts itself
//! (livetable-testkit's `PrivateMariaDb`: `mariadb-install-db` into its own data
//! directory, `mariadbd` on its own port, run as the `mysql` user) goes stale when the
//! server stops, keeps serving the last snapshot, and recovers by itself when the
//! server is back (the scenario, shared with `fault.rs`, is in `common/fault.rs`).
//!
//! Needs root (mariadbd runs as `mysql`) and MariaDB's server binaries; skips with a
//! notice without them, unless `LIVETABLE_REQUIRE_SERVICES=1`.

mod common;

use livetable_sql::MySqlBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_table_goes_stale_and_recovers_with_the_server() {
    common::fault::stale_and_recovered::<MySqlBackend>().await;
}
