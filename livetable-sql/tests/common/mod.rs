//! Shared test support for livetable-sql's tests.
//!
//! - [`pg`] and [`mysql`]: a fresh PostgreSQL schema or MySQL / MariaDB database per
//!   test, and loading events into it.
//! - [`dialect`]: what the two differ in that a scenario must know ([`Dialect`]), and
//!   the test database seen through it ([`TestStore`]), so a scenario is written once.
//! - [`fault`], [`injection`], [`buckets`], [`errors`]: scenarios written once and run
//!   by `fault.rs` / `mysql_fault.rs`, and so on, on each dialect.
//! - [`grouping`]: grouped fetches agree with the grouped spec and with a bucket
//!   cache's roll-up, on each dialect.
//! - [`merge`]: merging bucket rows as a bucket cache does, checked against the direct
//!   statement.
//!
//! Each test binary compiles all of it and uses part, hence the `dead_code` allowance.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod buckets;
pub mod dialect;
pub mod errors;
pub mod fault;
pub mod grouping;
pub mod injection;
pub mod merge;
#[cfg(feature = "mysql")]
pub mod mysql;
pub mod pg;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
pub use dialect::{Dialect, TestStore};
use livetable_core::{FetchContext, Window};

/// A fetch over the last hour, to a second after now (rows inserted "a minute ago" are
/// inside).
pub fn ctx() -> FetchContext {
    FetchContext::new(
        Window::ending_at(
            Utc::now() + TimeDelta::seconds(1),
            Duration::from_secs(3600),
        )
        .unwrap(),
    )
}
