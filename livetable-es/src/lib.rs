//! Elasticsearch / OpenSearch backend for livetable (in progress: see the issue tracker).
