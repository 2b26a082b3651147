//! Viewers' groupings on PostgreSQL: for several groupings of the 5-dimension packets
//! spec, `PgAggregate` fetched with `group_by` equals a hand-written `GROUP BY` over
//! the same window, the grouped spec's own source, and a bucket cache's roll-up in
//! memory (the shared scenario in `common/grouping.rs`). Float cells (the average) are
//! compared within livetable-testkit's tolerance, as the cache tests do.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestStore;
use common::grouping::{self, Grouping};
use common::pg::TestDb;
use livetable_core::{FetchContext, TableQuery};
use livetable_testkit::suite;

/// The grouping written by hand: `$1` and `$2` are the window, as for raw statements.
fn hand_written(table: &str, g: &Grouping) -> String {
    let dimensions = g.by.join(", ");
    let filter = if g.sql.is_empty() {
        String::new()
    } else {
        format!(" AND {}", g.sql)
    };
    format!(
        "SELECT {dimensions}, count(*), sum(size)::int8, avg(size)::float8, max(size) \
         FROM {table} WHERE ts >= $1 AND ts < $2{filter} GROUP BY {dimensions}"
    )
}

#[tokio::test]
async fn grouped_fetches_equal_hand_written_sql_the_grouped_spec_and_the_cache() {
    let Some(db) = TestDb::new("grouping").await else {
        return;
    };
    let table = db.table("packets");
    let end = grouping::end();
    let (columns, events) = grouping::packets(end);
    db.load(&table, &columns, &events).await;
    db.exec(&format!("ANALYZE {table}")).await;

    for (g, window, rows) in grouping::agree(&db, &table, end).await {
        let grouped = grouping::spec().grouped(&g.positions()).unwrap();
        let by_hand = db
            .pg
            .raw(hand_written(&table, &g))
            .schema(grouped.schema().as_ref().clone())
            .build()
            .unwrap();
        let mut expected = by_hand
            .fetch(&FetchContext::new(window))
            .await
            .unwrap()
            .rows;
        grouped.order_and_limit(&mut expected, None);
        if let Err(diff) = suite::compare(&grouped, &expected, &rows) {
            panic!(
                "{:?} with {:?}: group_by differs from `{}`:\n{diff}",
                g.by,
                g.filters,
                by_hand.sql()
            );
        }
    }
    db.drop().await;
}
