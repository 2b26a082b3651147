//! Test and benchmark support for livetable (not published).
//!
//! - [`workload`]: the reference packet workload (`shared/reference/workload.md`),
//!   generated deterministically from a seed.
//! - [`services`]: skipping or failing a test whose service (database, browser) is
//!   missing, with a notice `cargo test` shows.
//! - [`suite`]: the behaviour suite every backend runs: the same events in, the same
//!   table out as [`livetable_core::MemorySource`].

pub mod private_server;
pub mod services;
pub mod suite;
pub mod workload;
