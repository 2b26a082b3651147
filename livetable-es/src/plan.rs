//! [`Plan`]: what the request builders and response parsers share about one
//! [`Aggregate`] — aggregation names, input fields and output types.

use livetable_core::{Aggregate, DataType, MetricKind};

/// One metric, as sent and read back.
#[derive(Clone, Debug)]
pub(crate) struct MetricPlan {
    /// The output column's name (for messages).
    pub(crate) column: String,
    /// The sub-aggregation's name: `m{i}`. Positional names rather than the metric's
    /// own, because Elasticsearch forbids `[`, `]` and `>` in aggregation names and
    /// gives `.` a meaning in order paths; column names may hold any of them.
    pub(crate) agg: String,
    /// For `sum`: the name of a `value_count` beside it (`m{i}_n`), because `sum`
    /// answers `0.0` for a group with no value where livetable wants `Null`.
    pub(crate) count_agg: Option<String>,
    /// What is computed.
    pub(crate) kind: MetricKind,
    /// The input field (`None` for `count`, which reads `doc_count`).
    pub(crate) field: Option<String>,
    /// The output column's type.
    pub(crate) output: DataType,
}

/// Names and types of one [`Aggregate`], computed once per source.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// The validated spec.
    pub(crate) spec: Aggregate,
    /// The dimensions: field name and type, in key order.
    pub(crate) dims: Vec<(String, DataType)>,
    /// The metrics, in output order.
    pub(crate) metrics: Vec<MetricPlan>,
}

impl Plan {
    pub(crate) fn new(spec: Aggregate) -> Self {
        let dims = spec
            .dimensions()
            .iter()
            .map(|d| (d.name.clone(), d.data_type))
            .collect();
        let schema = spec.schema().clone();
        let metrics = spec
            .metrics()
            .iter()
            .enumerate()
            .map(|(i, m)| MetricPlan {
                column: m.name.clone(),
                agg: format!("m{i}"),
                count_agg: (m.kind == MetricKind::Sum).then(|| format!("m{i}_n")),
                kind: m.kind,
                field: m.column.clone(),
                output: schema
                    .column(&m.name)
                    .map_or(DataType::Int, |c| c.data_type),
            })
            .collect();
        Plan {
            spec,
            dims,
            metrics,
        }
    }

    /// Whether some metric is an estimate (`count_distinct` → `cardinality`).
    pub(crate) fn has_estimates(&self) -> bool {
        self.metrics
            .iter()
            .any(|m| m.kind == MetricKind::CountDistinct)
    }
}
