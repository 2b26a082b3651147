//! Elasticsearch request building and response parsing (being written).
fn main() {}
