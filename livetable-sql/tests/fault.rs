//! Faults on PostgreSQL: a `LiveTable` over a PostgreSQL server that this test starts
//! itself (livetable-testkit's `PrivatePostgres`: its own data directory and port,
//! `initdb` / `pg_ctl` run as the `postgres` user) goes stale when the server stops,
//! keeps serving the last snapshot, and recovers by itself when the server is back
//! (the scenario, shared with `mysql_fault.rs`, is in `common/fault.rs`).
//!
//! Needs root (to run the tools as `postgres` with `runuser`) and PostgreSQL's server
//! binaries under /usr/lib/postgresql/*/bin; skips with a notice without them, unless
//! `LIVETABLE_REQUIRE_SERVICES=1`.

mod common;

use livetable_sql::PgBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_table_goes_stale_and_recovers_with_the_server() {
    common::fault::stale_and_recovered::<PgBackend>().await;
}
