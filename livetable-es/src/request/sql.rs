//! SQL request bodies: the first page, the next page by cursor, and closing a cursor.

use serde_json::{Value as Json, json};

/// The first page: the query, the page size, and `params` bound to `?` placeholders
/// when there are any.
pub(crate) fn first(query: &str, fetch_size: usize, params: &[String]) -> Json {
    let mut body = json!({"query": query, "fetch_size": fetch_size});
    if !params.is_empty() {
        body["params"] = json!(params);
    }
    body
}

/// The next page, or closing the cursor (same shape).
pub(crate) fn cursor(cursor: &str) -> Json {
    json!({"cursor": cursor})
}
