//! Injection on MySQL / MariaDB: identifiers are quoted with backticks or rejected,
//! values are bound as data; the database is unharmed either way, and we check it (the
//! scenarios, shared with `injection.rs`, are in `common/injection.rs`).

mod common;

use common::injection;
use common::mysql::TestDb;

#[tokio::test]
async fn weird_identifiers_are_quoted_and_values_are_bound() {
    injection::weird_identifiers_are_quoted_and_values_are_bound::<TestDb>().await;
}

#[tokio::test]
async fn injected_names_are_rejected_not_run() {
    injection::injected_names_are_rejected_not_run::<TestDb>().await;
}
