//! The behaviour suite: livetable-es, talking HTTP to a fake Elasticsearch that really
//! evaluates the composite aggregation, must agree with `MemorySource`.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use livetable_core::{Aggregate, DataType, Result, SharedQuery, Value};
use livetable_testkit::suite::{self, SuiteBackend};
use support::FakeEs;
use support::eval::Index;

struct EsBackend {
    /// A small page so that every case pages through `after_key` many times.
    page_size: usize,
    fake: Option<FakeEs>,
}

impl SuiteBackend for EsBackend {
    async fn load(&mut self, columns: &[(&str, DataType)], events: &[Vec<Value>]) -> Result<()> {
        self.fake = Some(FakeEs::evaluating(Index::from_events(columns, events)).await);
        Ok(())
    }

    async fn query(&self, spec: &Aggregate) -> Result<SharedQuery> {
        let fake = self.fake.as_ref().expect("load runs first");
        let client = fake.builder("events").page_size(self.page_size).build()?;
        Ok(Arc::new(client.aggregate(spec.clone())?))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agrees_with_memory_source() {
    let mut backend = EsBackend {
        page_size: 37,
        fake: None,
    };
    suite::run(&mut backend).await;
    let fake = backend.fake.as_ref().unwrap();
    let pages_after_first = fake
        .requests()
        .iter()
        .filter(|r| r.body["aggs"]["groups"]["composite"].get("after").is_some())
        .count();
    assert!(pages_after_first > 0, "the suite should have paged");
}
