//! # livetable-sql
//!
//! The PostgreSQL backend of [livetable](https://docs.rs/livetable), on `sqlx`: a
//! PostgreSQL table becomes a live table, from an [`Aggregate`](livetable_core::Aggregate)
//! spec ([`PgBackend::aggregate`]) or from your own SQL ([`PgBackend::raw`]).
//!
//! - One parameterised statement per spec and viewer shape; identifiers come only from
//!   the validated spec and are quoted, every value is a bind parameter, the window
//!   bounds are bound timestamps. Results follow `Aggregate`'s semantics exactly
//!   (byte order for text, `Null` first ascending, dimensions as the tie-break).
//! - Decoding of int2/int4/int8, numeric, float4/float8, text/varchar, bool, inet and
//!   timestamp(tz) into [`Value`](livetable_core::Value)s.
//! - Per-time-bucket partial aggregates ([`BucketQuery`](livetable_core::BucketQuery) on
//!   [`PgAggregate`]) for the bucket cache: one `date_bin` statement grouped by bucket
//!   and dimensions, fully parameterised like the direct one.
//! - Errors mapped onto livetable's kinds: connection failures are `unavailable` and
//!   retryable, `statement_timeout` is `timeout`, unknown tables and columns are
//!   `invalid_spec` with the server's message.
//!
//! # Example
//! ```no_run
//! use std::time::Duration;
//! use livetable_core::{Aggregate, DataType, Direction, FetchContext, Metric, TableQuery, Window};
//! use livetable_sql::PgBackend;
//!
//! # async fn run() -> livetable_core::Result<()> {
//! let pg = PgBackend::builder()
//!     .url("postgres://root@127.0.0.1/test")
//!     .statement_timeout(Duration::from_secs(10))
//!     .build()?;
//! let spec = Aggregate::builder()
//!     .time_column("ts")
//!     .window(Duration::from_secs(3600))
//!     .dimension("source_ip", DataType::Ip)
//!     .dimension("protocol", DataType::Text)
//!     .field("size", DataType::Int)
//!     .metric(Metric::count("count"))
//!     .metric(Metric::sum("total_size", "size"))
//!     .order_by("count", Direction::Desc)
//!     .limit(500)
//!     .build()?;
//! let packets = pg.aggregate("public.packets", spec)?;
//! let window = Window::ending_at(chrono::Utc::now(), Duration::from_secs(3600))?;
//! let table = packets.fetch(&FetchContext::new(window)).await?;
//! println!("{} rows", table.rows.len());
//! # Ok(()) }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aggregate;
mod backend;
mod builder;
mod config;
mod decode;
mod dialect;
mod encode;
mod error;
#[cfg(feature = "mysql")]
mod mysql;
mod raw;
mod statement;

pub use aggregate::PgAggregate;
pub use backend::PgBackend;
pub use builder::PgBuilder;
pub use config::PgConfig;
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub use mysql::aggregate::MySqlAggregate;
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub use mysql::backend::{MySqlBackend, MySqlBuilder, MySqlConfig};
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub use mysql::raw::{MySqlRawBuilder, MySqlRawQuery};
pub use raw::{PgRawBuilder, PgRawQuery};
/// The `sqlx` this crate is built on, to build pools or run statements with the
/// matching version.
pub use sqlx;
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub use sqlx::mysql::MySqlPool;
pub use sqlx::postgres::PgPool;
