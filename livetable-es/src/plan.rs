//! [`Plan`]: what the request builders and response parsers share about one
//! [`Aggregate`] — aggregation names, input fields and output types.

use livetable_core::{Aggregate, DataType, MetricKind};

/// What a plan computes: final metrics per group, or mergeable partials per time
/// bucket and group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// One value per metric and group (`avg` is Elasticsearch's `avg`).
    Direct,
    /// Partials the bucket cache merges: `avg` is sent as `sum` + `value_count`,
    /// because averages cannot be averaged.
    Buckets,
}

/// One metric, as sent and read back.
#[derive(Clone, Debug)]
pub(crate) struct MetricPlan {
    /// The output column's name (for messages).
    pub(crate) column: String,
    /// The sub-aggregation's name: `m{i}`. Positional names rather than the metric's
    /// own, because Elasticsearch forbids `[`, `]` and `>` in aggregation names and
    /// gives `.` a meaning in order paths; column names may hold any of them.
    pub(crate) agg: String,
    /// The sub-aggregation's type (`sum`, `avg`, `min`, `max`, `cardinality`); `None`
    /// for `count`, which reads the bucket's `doc_count`.
    pub(crate) op: Option<&'static str>,
    /// For a `sum` (and, per bucket, an `avg`): the name of a `value_count` beside it
    /// (`m{i}_n`), because `sum` answers `0.0` for a group with no value where
    /// livetable wants `Null`, and a bucketed `avg` is `sum / values` once merged.
    pub(crate) count_agg: Option<String>,
    /// What is computed.
    pub(crate) kind: MetricKind,
    /// The input field (`None` for `count`).
    pub(crate) field: Option<String>,
    /// The input field's type (`None` for `count`).
    pub(crate) input: Option<DataType>,
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
    pub(crate) fn new(spec: Aggregate, mode: Mode) -> Self {
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
            .map(|(i, m)| {
                let op = match (m.kind, mode) {
                    (MetricKind::Sum, _) | (MetricKind::Avg, Mode::Buckets) => Some("sum"),
                    (MetricKind::Avg, Mode::Direct) => Some("avg"),
                    (MetricKind::Min, _) => Some("min"),
                    (MetricKind::Max, _) => Some("max"),
                    (MetricKind::CountDistinct, _) => Some("cardinality"),
                    // `count`; the kind is non-exhaustive upstream.
                    _ => None,
                };
                MetricPlan {
                    column: m.name.clone(),
                    agg: format!("m{i}"),
                    count_agg: (op == Some("sum")).then(|| format!("m{i}_n")),
                    op: op.filter(|_| m.column.is_some()),
                    kind: m.kind,
                    field: m.column.clone(),
                    input: m.column.as_deref().and_then(|c| spec.input_type(c)),
                    output: schema
                        .column(&m.name)
                        .map_or(DataType::Int, |c| c.data_type),
                }
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
