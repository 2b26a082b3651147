//! livetable-sql on the reference workload (`shared/reference/workload.md`).
//!
//! Run with: `cargo bench --bench sql --features sql` (PostgreSQL at `DATABASE_URL`,
//! default `postgres://root@127.0.0.1/test`; about a minute, plus ~30 s the first time
//! to load the table).
//!
//! 1,000,000 packets of the past hour (seed 42, ending 2026-01-01T12:00Z) are loaded
//! once into `livetable_bench.packets_1m` (batched `INSERT … SELECT FROM UNNEST`, then
//! `ANALYZE`); a later run reuses the table when its comment says it holds the same
//! data. Then, in the same run:
//! - `sql/5dim_top500/livetable_sql`: `PgAggregate::fetch` of the 5-dimension top-500
//!   table (render the statement, run it, decode every cell into `Value`s);
//! - `sql/5dim_top500/sqlx_direct`: the same SQL text with the same parameters through
//!   `sqlx::query_with(..).fetch_all` (the baseline: no rendering, no decoding).
//!
//! - `sql/5dim_top500_5k_rows/*`: the same over a copy of the hour's last 5,000 packets,
//!   where the database's own work is small and the client-side cost shows.
//!
//! With `--features mysql`, the same on MySQL / MariaDB at `MYSQL_URL` (default
//! `mysql://root@127.0.0.1/test`): the packets are loaded once into
//! `livetable_bench.packets_1m` there (addresses as `VARBINARY(16)`, an index on `ts`,
//! reused when the table comment matches), then `sql_mysql/5dim_top500/*` and
//! `sql_mysql/5dim_top500_5k_rows/*` compare `MySqlAggregate::fetch` with the same
//! statement through `sqlx::query_with(..).fetch_all`.
//!
//! Besides criterion's report, an interleaved run (the two paths alternating, so drift
//! on a shared machine hits both alike) prints the medians, p95 and maxima, and the
//! ratio of the medians. Both databases go through the one comparison, `Paths::compare`.
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use livetable::sql::PgBackend;
use livetable::sql::sqlx::{self, Arguments, AssertSqlSafe, postgres::PgArguments};
use livetable::{FetchContext, Fetched, TableQuery, Window};
use livetable_testkit::workload::{Workload, five_dim_spec};

#[path = "common/packets_pg.rs"]
mod packets_pg;
use packets_pg::{create, exec, insert};

const SEED: u64 = 42;
const PACKETS: usize = 1_000_000;
const TABLE: &str = "livetable_bench.packets_1m";
const SMALL_TABLE: &str = "livetable_bench.packets_5k";

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1/test".into())
}

/// What the table comment records, so a later run can reuse the loaded table.
fn marker() -> String {
    format!(
        "livetable bench: workload seed {SEED}, {PACKETS} packets ending {}",
        end().to_rfc3339()
    )
}

/// Loads the packets unless the table already holds them.
async fn load(pg: &PgBackend) {
    let comment: Option<String> =
        sqlx::query_scalar("SELECT obj_description(to_regclass($1), 'pg_class')")
            .bind(TABLE)
            .fetch_one(pg.pool())
            .await
            .unwrap();
    if comment.as_deref() == Some(marker().as_str()) {
        println!("reusing {TABLE} ({})", marker());
        return;
    }
    let started = Instant::now();
    exec(pg, "CREATE SCHEMA IF NOT EXISTS livetable_bench").await;
    create(pg, TABLE).await;
    insert(pg, TABLE, &Workload::new(SEED).generate(PACKETS, end())).await;
    exec(pg, &format!("ANALYZE {TABLE}")).await;
    exec(pg, &format!("COMMENT ON TABLE {TABLE} IS '{}'", marker())).await;
    println!(
        "loaded {PACKETS} packets into {TABLE} in {:.1?}",
        started.elapsed()
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let pg = rt.block_on(async {
        let pg = PgBackend::builder()
            .url(database_url())
            .max_connections(1)
            .statement_timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        if let Err(e) = sqlx::query("SELECT 1").execute(pg.pool()).await {
            println!(
                "SKIPPED: PostgreSQL at {} is unreachable: {e}",
                database_url()
            );
            return None;
        }
        load(&pg).await;
        Some(pg)
    });
    let Some(pg) = pg else { return };

    rt.block_on(async {
        for sql in small_table("ANALYZE") {
            exec(&pg, &sql).await;
        }
    });
    for (table, name, rounds, measurement) in [
        (TABLE, "sql/5dim_top500", 11, Duration::from_secs(15)),
        (
            SMALL_TABLE,
            "sql/5dim_top500_5k_rows",
            201,
            Duration::from_secs(5),
        ),
    ] {
        let source = pg.aggregate(table, five_dim_spec()).unwrap();
        let ctx = ctx();
        let sql = source.sql(&ctx).unwrap();
        let direct = || {
            rt.block_on(async {
                let mut args = PgArguments::default();
                args.add(ctx.window.start).unwrap();
                args.add(ctx.window.end).unwrap();
                args.add(Some(500_i64)).unwrap();
                sqlx::query_with(AssertSqlSafe(sql.clone()), args)
                    .fetch_all(pg.pool())
                    .await
                    .unwrap()
            })
        };
        let paths = Paths {
            rt: &rt,
            source: &source,
            ctx: &ctx,
            sql: &sql,
        };
        paths.compare(c, name, rounds, measurement, direct);
    }
    #[cfg(feature = "mysql")]
    mysql::bench(c, &rt);
}

/// The statements that make the small table: the last 5,000 packets of the hour, where
/// the database's work is a few milliseconds, so the client side (rendering, decoding)
/// is what shows. `analyze` is the dialect's `ANALYZE` (`ANALYZE TABLE` on MySQL).
fn small_table(analyze: &str) -> [String; 3] {
    [
        format!("DROP TABLE IF EXISTS {SMALL_TABLE}"),
        format!("CREATE TABLE {SMALL_TABLE} AS SELECT * FROM {TABLE} ORDER BY ts DESC LIMIT 5000"),
        format!("{analyze} {SMALL_TABLE}"),
    ]
}

/// The window of every fetch: the workload's hour.
fn ctx() -> FetchContext {
    FetchContext::new(Window::ending_at(end(), Duration::from_secs(3600)).unwrap())
}

/// The two paths to one table's top 500: through livetable (`source`), and the same
/// statement `sql` run directly by the backend's caller.
struct Paths<'a, Q> {
    rt: &'a tokio::runtime::Runtime,
    source: &'a Q,
    ctx: &'a FetchContext,
    sql: &'a str,
}

impl<Q: TableQuery> Paths<'_, Q> {
    fn through_livetable(&self) -> Fetched {
        self.rt.block_on(async {
            let fetched = self.source.fetch(self.ctx).await.unwrap();
            assert_eq!(fetched.rows.len(), 500);
            black_box(fetched)
        })
    }

    /// Benchmarks livetable against `direct` (which runs the statement with sqlx, the
    /// baseline: no rendering, no decoding), after checking they agree and printing
    /// the interleaved medians of `rounds` alternating runs.
    fn compare<R: sqlx::Row>(
        &self,
        c: &mut Criterion,
        name: &str,
        rounds: usize,
        measurement: Duration,
        direct: impl Fn() -> Vec<R>,
    ) where
        usize: sqlx::ColumnIndex<R>,
        i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        println!("{name} statement: {}", self.sql);
        let direct = || {
            let rows = direct();
            assert_eq!(rows.len(), 500);
            black_box(rows)
        };
        // Both paths give the same table: every row agrees on the count column.
        let first = self.through_livetable();
        let first_direct = direct();
        for (row, direct_row) in first.rows.iter().zip(&first_direct) {
            let count: i64 = direct_row.get(5);
            assert_eq!(row[5].as_i64(), Some(count));
        }

        // Interleaved: drift on a shared machine hits both paths alike.
        let mut lt = Vec::new();
        let mut dr = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            self.through_livetable();
            lt.push(t.elapsed());
            let t = Instant::now();
            direct();
            dr.push(t.elapsed());
        }
        lt.sort();
        dr.sort();
        let pct = |v: &[Duration], p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        println!(
            "{name}: interleaved ({rounds} each): livetable_sql median {:.2?} p95 {:.2?} max {:.2?}; \
             sqlx_direct median {:.2?} p95 {:.2?} max {:.2?}; median ratio {:.3}",
            pct(&lt, 0.5),
            pct(&lt, 0.95),
            pct(&lt, 1.0),
            pct(&dr, 0.5),
            pct(&dr, 0.95),
            pct(&dr, 1.0),
            pct(&lt, 0.5).as_secs_f64() / pct(&dr, 0.5).as_secs_f64()
        );

        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(2));
        group.measurement_time(measurement);
        group.bench_function("livetable_sql", |b| b.iter(|| self.through_livetable()));
        group.bench_function("sqlx_direct", |b| b.iter(direct));
        group.finish();
    }
}

/// The same comparison on MySQL / MariaDB.
#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use livetable::sql::MySqlBackend;
    use livetable::sql::sqlx::mysql::MySqlArguments;

    fn mysql_url() -> String {
        std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1/test".into())
    }

    async fn exec(db: &MySqlBackend, sql: &str) {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(db.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn ip_bytes(ip: IpAddr) -> Vec<u8> {
        match ip {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        }
    }

    /// Loads the packets unless the table already holds them.
    async fn load(db: &MySqlBackend) {
        exec(db, "CREATE DATABASE IF NOT EXISTS livetable_bench").await;
        let comment: Option<String> = sqlx::query_scalar(
            "SELECT TABLE_COMMENT FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = 'livetable_bench' AND TABLE_NAME = 'packets_1m'",
        )
        .fetch_optional(db.pool())
        .await
        .unwrap();
        if comment.as_deref() == Some(marker().as_str()) {
            println!("reusing MySQL {TABLE} ({})", marker());
            return;
        }
        let started = Instant::now();
        exec(db, &format!("DROP TABLE IF EXISTS {TABLE}")).await;
        exec(
            db,
            &format!(
                "CREATE TABLE {TABLE} (ts DATETIME(6) NOT NULL, source_ip VARBINARY(16), \
                 source_port INT, destination_ip VARBINARY(16), destination_port INT, \
                 protocol VARCHAR(16), size INT, INDEX (ts))"
            ),
        )
        .await;
        let packets = Workload::new(SEED).generate(PACKETS, end());
        // 7 parameters a row, under the protocol's 65,535 per statement.
        for chunk in packets.chunks(5_000) {
            let sql = format!(
                "INSERT INTO {TABLE} VALUES {}",
                vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
            );
            let mut args = MySqlArguments::default();
            for p in chunk {
                args.add(p.ts.naive_utc()).unwrap();
                args.add(ip_bytes(p.source_ip)).unwrap();
                args.add(i32::from(p.source_port)).unwrap();
                args.add(ip_bytes(p.destination_ip)).unwrap();
                args.add(i32::from(p.destination_port)).unwrap();
                args.add(p.protocol).unwrap();
                args.add(p.size as i32).unwrap();
            }
            sqlx::query_with(AssertSqlSafe(sql), args)
                .execute(db.pool())
                .await
                .unwrap();
        }
        exec(db, &format!("ANALYZE TABLE {TABLE}")).await;
        exec(db, &format!("ALTER TABLE {TABLE} COMMENT = '{}'", marker())).await;
        println!(
            "loaded {PACKETS} packets into MySQL {TABLE} in {:.1?}",
            started.elapsed()
        );
    }

    pub(super) fn bench(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
        let db = rt.block_on(async {
            let db = MySqlBackend::builder()
                .url(mysql_url())
                .max_connections(1)
                .statement_timeout(Duration::from_secs(120))
                .build()
                .unwrap();
            if let Err(e) = sqlx::query("SELECT 1").execute(db.pool()).await {
                println!("SKIPPED: MySQL at {} is unreachable: {e}", mysql_url());
                return None;
            }
            load(&db).await;
            for sql in small_table("ANALYZE TABLE") {
                exec(&db, &sql).await;
            }
            Some(db)
        });
        let Some(db) = db else { return };
        for (table, name, rounds, measurement) in [
            (TABLE, "sql_mysql/5dim_top500", 11, Duration::from_secs(20)),
            (
                SMALL_TABLE,
                "sql_mysql/5dim_top500_5k_rows",
                201,
                Duration::from_secs(5),
            ),
        ] {
            let source = db.aggregate(table, five_dim_spec()).unwrap();
            let ctx = ctx();
            let sql = rt.block_on(source.sql(&ctx)).unwrap();
            let direct = || {
                rt.block_on(async {
                    let mut args = MySqlArguments::default();
                    args.add(ctx.window.start.naive_utc()).unwrap();
                    args.add(ctx.window.end.naive_utc()).unwrap();
                    args.add(500_i64).unwrap();
                    sqlx::query_with(AssertSqlSafe(sql.clone()), args)
                        .fetch_all(db.pool())
                        .await
                        .unwrap()
                })
            };
            let paths = Paths {
                rt,
                source: &source,
                ctx: &ctx,
                sql: &sql,
            };
            paths.compare(c, name, rounds, measurement, direct);
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
