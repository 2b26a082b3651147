//! The composite aggregation: one `terms` source per dimension, paged by `after`.

use serde_json::{Value as Json, json};

use super::metric_aggs;
use crate::plan::Plan;

/// The first page's body. Later pages differ only by `after` (see [`set_after`]).
pub(crate) fn body(plan: &Plan, query: Json, page_size: usize) -> Json {
    let sources: Vec<Json> = plan
        .dims
        .iter()
        .map(|(name, _)| json!({ name: {"terms": {"field": name, "missing_bucket": true}} }))
        .collect();
    let mut groups = json!({"composite": {"size": page_size, "sources": sources}});
    if let Some(aggs) = metric_aggs(plan) {
        groups["aggs"] = aggs;
    }
    json!({
        "size": 0,
        "track_total_hits": false,
        "query": query,
        "aggs": {"groups": groups},
    })
}

/// Sets `after` to the previous page's `after_key`, exactly as received.
pub(crate) fn set_after(body: &mut Json, after: Json) {
    body["aggs"]["groups"]["composite"]["after"] = after;
}
