//! Top-N: a `terms` (one dimension) or `multi_terms` (several) aggregation ordered by a
//! metric. Elasticsearch computes it per shard, so counts and membership are estimates.

use livetable_core::{Direction, Error, MetricKind, Result};
use serde_json::{Value as Json, json};

use super::metric_aggs;
use crate::plan::Plan;

/// The `order` array: the spec's leading metric keys, then the key ascending (the
/// same tie-break as every backend). Fails when the first key is not a metric.
fn order(plan: &Plan) -> Result<Vec<Json>> {
    let mut order = Vec::new();
    for o in plan.spec.order_by() {
        let Some(m) = plan.metrics.iter().find(|m| m.column == o.column) else {
            break; // a dimension: the `_key` tie-break below covers it
        };
        let dir = match o.direction {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        };
        let path = if m.kind == MetricKind::Count {
            "_count"
        } else {
            m.agg.as_str()
        };
        order.push(json!({ path: dir }));
    }
    if order.is_empty() {
        return Err(Error::invalid_spec(
            "top-N mode needs the spec ordered by a metric first (e.g. count desc); \
             use the composite mode for other orders",
        ));
    }
    order.push(json!({"_key": "asc"}));
    Ok(order)
}

/// The whole body: `size: 0`, the query, and one bucket aggregation named `groups`.
pub(crate) fn body(plan: &Plan, query: Json, size: usize) -> Result<Json> {
    let order = order(plan)?;
    let mut groups = if let [(field, _)] = plan.dims.as_slice() {
        json!({"terms": {"field": field, "size": size, "order": order}})
    } else {
        let terms: Vec<Json> = plan.dims.iter().map(|(f, _)| json!({"field": f})).collect();
        json!({"multi_terms": {"terms": terms, "size": size, "order": order}})
    };
    if let Some(aggs) = metric_aggs(plan) {
        groups["aggs"] = aggs;
    }
    Ok(json!({
        "size": 0,
        "track_total_hits": false,
        "query": query,
        "aggs": {"groups": groups},
    }))
}
