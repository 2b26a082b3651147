//! [`MemorySource`]: the embedded in-memory source (placeholder API; being implemented).

use std::sync::Arc;
use std::time::Duration;

use crate::aggregate::Aggregate;
use crate::error::{Error, ErrorKind, Result};
use crate::query::{FetchContext, Fetched, TableQuery};
use crate::schema::Schema;
use crate::value::Value;

/// An in-memory [`TableQuery`] for an [`Aggregate`]: push events in, fetch the table.
#[derive(Clone, Debug)]
pub struct MemorySource {
    spec: Arc<Aggregate>,
}

/// Configures a [`MemorySource`].
#[derive(Debug)]
pub struct MemorySourceBuilder {
    spec: Aggregate,
    bucket_width: Option<Duration>,
    retention: Option<Duration>,
}

/// Counters of a [`MemorySource`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Events aggregated.
    pub accepted: u64,
}

impl MemorySource {
    /// A source with default bucket width and retention.
    pub fn new(spec: Aggregate) -> Result<Self> {
        Self::builder(spec).build()
    }

    /// A builder.
    pub fn builder(spec: Aggregate) -> MemorySourceBuilder {
        MemorySourceBuilder {
            spec,
            bucket_width: None,
            retention: None,
        }
    }

    /// Pushes one event.
    pub fn push(&self, _event: &[Value]) -> Result<()> {
        Err(Error::new(ErrorKind::Unsupported, "not implemented yet"))
    }

    /// The counters.
    pub fn stats(&self) -> MemoryStats {
        MemoryStats::default()
    }
}

impl MemorySourceBuilder {
    /// Sets the bucket width.
    pub fn bucket_width(mut self, width: Duration) -> Self {
        self.bucket_width = Some(width);
        self
    }

    /// Sets the retention.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Builds the source.
    pub fn build(self) -> Result<MemorySource> {
        Ok(MemorySource {
            spec: Arc::new(self.spec),
        })
    }
}

impl TableQuery for MemorySource {
    fn schema(&self) -> &Schema {
        self.spec.schema()
    }

    async fn fetch(&self, _ctx: &FetchContext) -> Result<Fetched> {
        Err(Error::new(ErrorKind::Unsupported, "not implemented yet"))
    }
}
