//! # livetable-es
//!
//! The Elasticsearch / OpenSearch backend of [livetable](https://docs.rs/livetable),
//! on the official [`elasticsearch`] client (rustls, no OpenSSL).
//!
//! - [`EsBuilder`] → [`EsClient`]: a URL (credentials in it or set: basic auth, API
//!   key), a verify-certificates switch, a request timeout, an index name or pattern.
//!   [`EsConfig`] is the same as plain serde data.
//! - [`EsClient::aggregate`] → [`EsAggregate`]: an [`Aggregate`](livetable_core::Aggregate)
//!   as an exact, paged `composite` aggregation (a view grouped by fewer dimensions
//!   runs one with fewer sources); also a
//!   [`BucketQuery`](livetable_core::BucketQuery) (partials per time bucket, for the
//!   bucket cache: a `date_histogram` source before the dimensions, see
//!   [`sans_io::BucketFetch`]).
//! - [`EsClient::top_n`] → [`EsTopN`]: approximate top rows by a metric (`multi_terms`).
//! - [`EsClient::sql`] → [`EsSql`]: your own SQL (Elasticsearch SQL or the OpenSearch
//!   plugin), mapped onto a schema.
//!
//! Each is a [`TableQuery`](livetable_core::TableQuery); errors are livetable
//! [`Error`](livetable_core::Error)s with `backend` and `index` context: an unreachable
//! cluster or HTTP 429 is retryable, 401/403 is a permission error, a missing index an
//! invalid spec naming it, a 400 carries the server's reason.
//!
//! # Example
//! ```no_run
//! use std::time::Duration;
//! use livetable_core::{Aggregate, DataType, Direction, FetchContext, Metric, TableQuery, Window};
//! use livetable_es::EsBuilder;
//!
//! # async fn run() -> livetable_core::Result<()> {
//! let spec = Aggregate::builder()
//!     .time_column("ts")
//!     .window(Duration::from_secs(3600))
//!     .dimension("source_ip", DataType::Ip)
//!     .dimension("protocol", DataType::Text)
//!     .field("size", DataType::Int)
//!     .metric(Metric::count("count"))
//!     .metric(Metric::sum("total_size", "size"))
//!     .order_by("count", Direction::Desc)
//!     .build()?;
//! let client = EsBuilder::new("https://elastic:changeme@localhost:9200")
//!     .index("packets-*")
//!     .verify_certificates(false)
//!     .request_timeout(Duration::from_secs(10))
//!     .build()?;
//! let source = client.aggregate(spec)?;
//! let window = Window::ending_at(chrono::Utc::now(), Duration::from_secs(3600))?;
//! let table = source.fetch(&FetchContext::new(window)).await?;
//! println!("{} rows", table.rows.len());
//! # Ok(())
//! # }
//! ```

mod buckets;
mod builder;
mod client;
mod config;
mod error;
mod fetch;
mod plan;
mod query;
mod request;
mod response;

pub use builder::{EsBuilder, MAX_PAGE_SIZE};
pub use client::EsClient;
pub use config::{EsConfig, SqlDialect};
pub use query::{EsAggregate, EsSql, EsTopN};

/// Fetches without I/O: the request bodies and the answer parsing of one fetch, driven
/// by the caller. [`EsAggregate`] drives them over its HTTP client; use them directly
/// for another transport (a proxy, recorded answers) or to measure the request
/// building and parsing on their own (`benches/es.rs` does).
///
/// Start one with [`EsAggregate::start`] or [`EsAggregate::start_buckets`].
pub mod sans_io {
    pub use crate::buckets::BucketFetch;
    pub use crate::fetch::CompositeFetch;
}
