//! Unit tests of the in-memory source.
