//! Viewers' groupings on MySQL / MariaDB: for several groupings of the 5-dimension
//! packets spec, `MySqlAggregate` fetched with `group_by` equals the grouped spec's own
//! source and a bucket cache's roll-up in memory (the shared scenario in
//! `common/grouping.rs`), with IP addresses stored as INET6.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestStore;
use common::grouping;
use common::mysql::{IpAs, TestDb};

#[tokio::test]
async fn grouped_fetches_equal_the_grouped_spec_and_the_cache() {
    let Some(db) = TestDb::new("grouping").await else {
        return;
    };
    let table = db.table("packets");
    let end = grouping::end();
    let (columns, events) = grouping::packets(end);
    db.load(&table, &columns, &events, IpAs::Inet6).await;
    db.exec(&format!("ANALYZE TABLE {table}")).await;
    let checked = grouping::agree(&db, &table, end).await;
    assert_eq!(checked.len(), grouping::groupings().len());
    db.drop().await;
}
