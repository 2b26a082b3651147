//! The behaviour suite: the same events in PostgreSQL and in `MemorySource` give the
//! same tables (livetable-testkit's `suite`).
#![allow(clippy::unwrap_used)]

mod common;

use common::TestStore;
use common::pg::TestDb;
use livetable_core::{Aggregate, DataType, Result, SharedQuery, Value};
use livetable_testkit::suite::{self, SuiteBackend};
use std::sync::Arc;

struct Postgres<'a> {
    db: &'a TestDb,
    table: String,
}

impl SuiteBackend for Postgres<'_> {
    async fn load(&mut self, columns: &[(&str, DataType)], events: &[Vec<Value>]) -> Result<()> {
        self.db.load(&self.table, columns, events).await;
        // Fresh statistics, as a long-lived table would have.
        self.db.exec(&format!("ANALYZE {}", self.table)).await;
        Ok(())
    }

    async fn query(&self, spec: &Aggregate) -> Result<SharedQuery> {
        Ok(Arc::new(self.db.pg.aggregate(&self.table, spec.clone())?))
    }
}

#[tokio::test]
async fn postgres_agrees_with_memory_source() {
    let Some(db) = TestDb::new("suite").await else {
        return;
    };
    let table = db.table("events");
    suite::run(&mut Postgres { db: &db, table }).await;
    db.drop().await;
}
