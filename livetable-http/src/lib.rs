//! axum adapter for livetable (in progress: see the issue tracker).
