//! Request bodies: the shared query (window and filters), then one module per mode.

pub(crate) mod composite;
pub(crate) mod filters;
pub(crate) mod multi_terms;
pub(crate) mod sql;

use serde_json::{Map, Value as Json, json};

use crate::plan::Plan;

/// The metric sub-aggregations of a bucket aggregation, as the plan names them
/// (`count` needs none: it is the bucket's `doc_count`). `None` when there is none, as
/// an empty `aggs` is pointless.
pub(crate) fn metric_aggs(plan: &Plan) -> Option<Json> {
    let mut aggs = Map::new();
    for m in &plan.metrics {
        let (Some(op), Some(field)) = (m.op, &m.field) else {
            continue;
        };
        aggs.insert(m.agg.clone(), json!({ op: { "field": field } }));
        if let Some(n) = &m.count_agg {
            aggs.insert(n.clone(), json!({ "value_count": { "field": field } }));
        }
    }
    (!aggs.is_empty()).then_some(Json::Object(aggs))
}
