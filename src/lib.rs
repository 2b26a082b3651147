//! # livetable
//!
//! Live aggregated tables: group events by several dimensions, compute metrics over a
//! sliding time window ("the past hour"), refresh every few seconds from a store, and
//! push the table to every viewer — with one query on the store per refresh, however
//! many people watch.
//!
//! This is the facade crate: it re-exports [`livetable_core`] and, behind features, the
//! backends and the HTTP adapter.
//!
//! | feature | crate | what it adds |
//! |---|---|---|
//! | *(always)* | [`livetable_core`] | the model, `TableQuery`, `Aggregate`, `MemorySource`, the runtime |
//! | `sql` | `livetable_sql` | PostgreSQL backend (sqlx) |
//! | `mysql` | `livetable_sql` | MySQL / MariaDB in the SQL backend (implies `sql`) |
//! | `es` | `livetable_es` | Elasticsearch / OpenSearch backend |
//! | `http` | `livetable_http` | axum router: JSON, CSV, server-sent events, the live page |
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use livetable_core::*;

/// The Elasticsearch / OpenSearch backend (feature `es`).
#[cfg(feature = "es")]
#[cfg_attr(docsrs, doc(cfg(feature = "es")))]
pub use livetable_es as es;

/// The SQL backend: PostgreSQL (feature `sql`), MySQL / MariaDB (feature `mysql`).
#[cfg(feature = "sql")]
#[cfg_attr(docsrs, doc(cfg(feature = "sql")))]
pub use livetable_sql as sql;

/// The axum adapter (feature `http`).
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use livetable_http as http;

/// The README's Rust code blocks, compiled and run as doctests (they use every backend
/// and the HTTP adapter, so only with all three features).
#[cfg(all(doctest, feature = "http", feature = "sql", feature = "es"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
