//! The reference packet workload (being implemented).
