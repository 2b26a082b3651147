//! # livetable-core
//!
//! The model and runtime of [livetable](https://docs.rs/livetable): live aggregated
//! tables that group events by several dimensions over a sliding time window, refresh
//! from a store every few seconds, and are shared by every viewer.
//!
//! This crate depends on no store and no web framework. It holds:
//! - the cell and table model: [`Value`], [`DataType`], [`Column`], [`Schema`],
//!   [`Row`], [`Snapshot`];
//! - [`TableQuery`], the trait a data source implements, with its [`FetchContext`];
//! - [`Aggregate`], the declarative spec that backends translate;
//! - [`MemorySource`], the embedded in-memory source;
//! - the runtime: [`LiveTable`] (one shared refresh loop per view, snapshots, patches,
//!   staleness), [`Table`] (a named definition with its views), [`Catalog`];
//! - [`FormatRule`]s for conditional formatting;
//! - [`Error`], the one error type;
//! - [`config`]: what backend configurations share (URLs without secrets).
//!
//! # Example: an in-memory live table
//! ```
//! use std::time::Duration;
//! use chrono::Utc;
//! use livetable_core::{Aggregate, DataType, Direction, FetchContext, MemorySource, Metric, TableQuery, Value, Window};
//!
//! let spec = Aggregate::builder()
//!     .time_column("ts")
//!     .window(Duration::from_secs(3600))
//!     .dimension("host", DataType::Text)
//!     .field("bytes", DataType::Int)
//!     .metric(Metric::count("requests"))
//!     .metric(Metric::sum("bytes", "bytes"))
//!     .order_by("requests", Direction::Desc)
//!     .build()?;
//! let source = MemorySource::new(spec)?;
//! let now = Utc::now();
//! // Events carry the time column, the dimensions, then the fields.
//! source.push(&[Value::from(now), Value::from("web-1"), Value::Int(512)])?;
//! source.push(&[Value::from(now), Value::from("web-1"), Value::Int(128)])?;
//! source.push(&[Value::from(now), Value::from("web-2"), Value::Int(64)])?;
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let window = Window::ending_at(now + chrono::TimeDelta::seconds(1), Duration::from_secs(3600))?;
//! let table = source.fetch(&FetchContext::new(window)).await?;
//! assert_eq!(table.rows[0].values(), &[Value::from("web-1"), Value::Int(2), Value::Int(640)]);
//! # Ok::<(), livetable_core::Error>(())
//! # })?;
//! # Ok::<(), livetable_core::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aggregate;
mod blocking;
mod bucket;
mod cache;
pub mod config;
mod error;
mod filter;
mod format;
mod grouping;
mod key;
mod live;
mod memory;
mod query;
mod schema;
mod snapshot;
mod trend;
mod value;

pub use aggregate::{
    Aggregate, AggregateBuilder, AggregateSpec, Direction, Field, Metric, MetricKind, OrderBy,
};
pub use bucket::{BucketQuery, BucketRequest, BucketRow, Partial};
pub use cache::{BucketCache, BucketCacheBuilder, CacheStats, DEFAULT_MAX_ENTRIES};
/// The chrono the model uses ([`Value::Timestamp`], [`Window`]): events and windows are
/// built with its types.
pub use chrono;
pub use error::{Error, ErrorKind, Result};
pub use filter::Filter;
pub use format::{CellStyle, Color, Comparison, FormatRule};
pub use grouping::PerGrouping;
pub use live::{
    Catalog, DEFAULT_MAX_VIEWS, LiveTable, LiveTableBuilder, Patch, RefreshConfig,
    SHARED_REFRESH_MAX_VIEWS, Subscription, Table, TableBuilder, TableStats, Update, ViewParams,
    ViewSpec,
};
pub use memory::{MemorySource, MemorySourceBuilder, MemoryStats};
pub use query::{
    DynTableQuery, FetchContext, Fetched, SharedQuery, SourceProfile, TableQuery, Window,
};
pub use schema::{Column, Role, Row, Schema, Unit};
pub use snapshot::{FetchInfo, Snapshot, Status};
pub use trend::{Trend, TrendChange, TrendPatch};
pub use value::{DataType, Value};
