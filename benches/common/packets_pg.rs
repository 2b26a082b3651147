//! Writing reference packets into a PostgreSQL table, for the benches that need one
//! (`sql`, `cache`): `(ts timestamptz, source_ip inet, source_port int4, destination_ip
//! inet, destination_port int4, protocol text, size int4)`.

use std::net::IpAddr;

use livetable::sql::PgBackend;
use livetable::sql::sqlx::{self, Arguments, AssertSqlSafe, postgres::PgArguments};
use livetable_testkit::workload::Packet;

/// Runs one statement without parameters; panics with the statement on error.
pub(crate) async fn exec(pg: &PgBackend, sql: &str) {
    sqlx::query(AssertSqlSafe(sql.to_owned()))
        .execute(pg.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Creates `table` with the packet columns (dropping one of the name first).
pub(crate) async fn create(pg: &PgBackend, table: &str) {
    exec(pg, &format!("DROP TABLE IF EXISTS {table}")).await;
    exec(
        pg,
        &format!(
            "CREATE TABLE {table} (ts timestamptz NOT NULL, source_ip inet, source_port int4, \
             destination_ip inet, destination_port int4, protocol text, size int4)"
        ),
    )
    .await;
}

/// Inserts `packets` with one `INSERT … SELECT FROM UNNEST` per 50,000.
pub(crate) async fn insert(pg: &PgBackend, table: &str, packets: &[Packet]) {
    let sql = format!(
        "INSERT INTO {table} SELECT * FROM UNNEST($1::timestamptz[], $2::inet[], $3::int4[], \
         $4::inet[], $5::int4[], $6::text[], $7::int4[])"
    );
    for chunk in packets.chunks(50_000) {
        let mut args = PgArguments::default();
        let column = |f: fn(&Packet) -> i32| chunk.iter().map(f).collect::<Vec<i32>>();
        let address = |f: fn(&Packet) -> IpAddr| chunk.iter().map(f).collect::<Vec<IpAddr>>();
        args.add(chunk.iter().map(|p| p.ts).collect::<Vec<_>>())
            .unwrap();
        args.add(address(|p| p.source_ip)).unwrap();
        args.add(column(|p| i32::from(p.source_port))).unwrap();
        args.add(address(|p| p.destination_ip)).unwrap();
        args.add(column(|p| i32::from(p.destination_port))).unwrap();
        args.add(chunk.iter().map(|p| p.protocol).collect::<Vec<&str>>())
            .unwrap();
        args.add(column(|p| p.size as i32)).unwrap();
        sqlx::query_with(AssertSqlSafe(sql.clone()), args)
            .execute(pg.pool())
            .await
            .unwrap();
    }
}
