//! The examples' own unit tests: the tcpdump line parser, the flags, the stdin reader,
//! the `/proc/net/tcp` parser of the custom source.
//!
//! `cargo test` builds the examples as programs (tests/example_server.rs runs them) and
//! does not run their `#[cfg(test)]` modules; including their sources here does.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

#[path = "../examples/tcpdump/main.rs"]
mod tcpdump;

#[path = "../examples/custom_source.rs"]
mod custom_source;
