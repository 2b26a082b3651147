//! Test and benchmark support for livetable (not published).
//!
//! - [`workload`]: the reference packet workload (`shared/reference/workload.md`),
//!   generated deterministically from a seed.
//! - [`suite`]: the behaviour suite every backend runs: the same events in, the same
//!   table out as [`livetable_core::MemorySource`].

pub mod suite;
pub mod workload;
