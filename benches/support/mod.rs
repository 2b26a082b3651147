//! Helpers of the fan-out harness (`benches/fanout.rs`).

pub(crate) mod table;
pub(crate) mod usage;
pub(crate) mod viewers;
pub(crate) mod wire;
