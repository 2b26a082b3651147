//! Placeholder: the in-memory source benchmark lands with issue 2.
fn main() {}
