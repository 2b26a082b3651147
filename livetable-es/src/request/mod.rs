//! Request bodies: the shared query (window and filters), then one module per mode.

pub(crate) mod composite;
pub(crate) mod filters;
pub(crate) mod multi_terms;
pub(crate) mod sql;

use serde_json::{Map, Value as Json, json};

use crate::plan::Plan;
use livetable_core::MetricKind;

/// The metric sub-aggregations of a bucket aggregation (`count` needs none: it is the
/// bucket's `doc_count`). `None` when there is none, as an empty `aggs` is pointless.
pub(crate) fn metric_aggs(plan: &Plan) -> Option<Json> {
    let mut aggs = Map::new();
    for m in &plan.metrics {
        let Some(field) = &m.field else { continue };
        let op = match m.kind {
            MetricKind::Sum => "sum",
            MetricKind::Avg => "avg",
            MetricKind::Min => "min",
            MetricKind::Max => "max",
            MetricKind::CountDistinct => "cardinality",
            // `count` has no field; the kind is non-exhaustive upstream.
            _ => continue,
        };
        aggs.insert(m.agg.clone(), json!({ op: { "field": field } }));
        if let Some(n) = &m.count_agg {
            aggs.insert(n.clone(), json!({ "value_count": { "field": field } }));
        }
    }
    (!aggs.is_empty()).then_some(Json::Object(aggs))
}
