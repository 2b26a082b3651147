//! # livetable-sql
//!
//! The relational backend of [livetable](https://docs.rs/livetable), on `sqlx`: a
//! PostgreSQL, MySQL or MariaDB table becomes a live table, from an
//! [`Aggregate`](livetable_core::Aggregate) spec ([`PgBackend::aggregate`],
//! `MySqlBackend::aggregate`) or from your own SQL ([`PgBackend::raw`],
//! `MySqlBackend::raw`).
//!
//! | feature | adds |
//! |---|---|
//! | *(always)* | PostgreSQL 14+: [`PgBackend`] |
//! | `mysql` | MySQL 5.7+ / MariaDB 10.5+: `MySqlBackend` |
//!
//! - One parameterised statement per spec, viewer grouping and filter shape (a view
//!   grouped by fewer dimensions runs its own `GROUP BY`); identifiers come only from
//!   the validated spec and are quoted, every value is a bind parameter, the window
//!   bounds are bound timestamps. Results follow `Aggregate`'s semantics exactly
//!   (byte order for text, `Null` first ascending, dimensions as the tie-break, integer
//!   sums that fail rather than wrap) in both dialects. One statement builder serves
//!   both; what differs by dialect (quoting, placeholders, text collation, `NULL`
//!   order, IP storage, `in` lists, sums and averages, the bucket expression) is
//!   isolated in one place, the dialect layer.
//! - Decoding into [`Value`](livetable_core::Value)s: PostgreSQL's int2/int4/int8,
//!   numeric, float4/float8, text/varchar, bool, inet and timestamp(tz); MySQL's
//!   TINYINT…BIGINT (signed and unsigned, never wrapped), DECIMAL, FLOAT, DOUBLE,
//!   VARCHAR/TEXT, DATETIME/TIMESTAMP (UTC sessions), BOOLEAN, and IPs as MariaDB
//!   INET6, text or VARBINARY(16).
//! - Per-time-bucket partial aggregates ([`BucketQuery`](livetable_core::BucketQuery) on
//!   [`PgAggregate`] and `MySqlAggregate`) for the bucket cache: one statement grouped
//!   by bucket and dimensions (`date_bin` on PostgreSQL, epoch seconds on MySQL), fully
//!   parameterised like the direct one.
//! - Errors mapped onto livetable's kinds: connection failures and a server gone away
//!   are `unavailable` and retryable, statement and lock-wait timeouts are `timeout`,
//!   unknown tables and columns are `invalid_spec` with the server's message, access
//!   denied is `permission_denied`.
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
mod pool;
mod raw;
mod shared;
mod statement;
mod statements;

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
