//! The behaviour suite on MySQL / MariaDB: the same events in the server and in
//! `MemorySource` give the same tables (livetable-testkit's `suite`), with IP
//! addresses stored as INET6, as VARBINARY(16) and as text, and text columns in the
//! server's default case- and accent-insensitive collation.
//!
//! The suite itself is written once (livetable-testkit's `suite`); what stays apart from
//! `suite.rs` is how each dialect loads the events.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::TestStore;
use common::mysql::{IpAs, TestDb};
use livetable_core::{Aggregate, DataType, Result, SharedQuery, Value};
use livetable_testkit::suite::{self, SuiteBackend};

struct MySql<'a> {
    db: &'a TestDb,
    table: String,
    ip: IpAs,
}

impl SuiteBackend for MySql<'_> {
    async fn load(&mut self, columns: &[(&str, DataType)], events: &[Vec<Value>]) -> Result<()> {
        self.db.load(&self.table, columns, events, self.ip).await;
        self.db.exec(&format!("ANALYZE TABLE {}", self.table)).await;
        Ok(())
    }

    async fn query(&self, spec: &Aggregate) -> Result<SharedQuery> {
        Ok(Arc::new(self.db.db.aggregate(&self.table, spec.clone())?))
    }
}

async fn run(name: &str, ip: IpAs) {
    let Some(db) = TestDb::new(name).await else {
        return;
    };
    let table = db.table("events");
    suite::run(&mut MySql { db: &db, table, ip }).await;
    db.drop().await;
}

#[tokio::test]
async fn mysql_agrees_with_memory_source_ips_as_inet6() {
    run("suite_inet6", IpAs::Inet6).await;
}

#[tokio::test]
async fn mysql_agrees_with_memory_source_ips_as_bytes() {
    run("suite_bytes", IpAs::Binary).await;
}

#[tokio::test]
async fn mysql_agrees_with_memory_source_ips_as_text() {
    run("suite_text", IpAs::Text).await;
}
