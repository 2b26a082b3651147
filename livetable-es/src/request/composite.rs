//! The composite aggregation: one `terms` source per dimension, paged by `after`; per
//! time bucket, a `date_histogram` source before them.

use serde_json::{Value as Json, json};

use super::metric_aggs;
use crate::plan::Plan;

/// The first page's body. Later pages differ only by `after` (see [`set_after`]).
/// `leading` is a value source put before the dimensions' (the time buckets').
pub(crate) fn body(plan: &Plan, query: Json, page_size: usize, leading: Option<Json>) -> Json {
    let sources: Vec<Json> =
        leading
            .into_iter()
            .chain(plan.dims.iter().map(
                |(name, _)| json!({ name: {"terms": {"field": name, "missing_bucket": true}} }),
            ))
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

/// A `date_histogram` source named `name` over `field`, buckets of `interval` (an
/// Elasticsearch time value such as `10s`) from the epoch. No `format`, `offset` or
/// `time_zone`: keys are epoch milliseconds of bucket starts.
pub(crate) fn date_histogram(name: &str, field: &str, interval: &str) -> Json {
    json!({ name: {"date_histogram": {"field": field, "fixed_interval": interval}} })
}

/// Sets `after` to the previous page's `after_key`, exactly as received.
pub(crate) fn set_after(body: &mut Json, after: Json) {
    body["aggs"]["groups"]["composite"]["after"] = after;
}
