//! [`Plan`]: what the request builders and response parsers share about one
//! [`Aggregate`] — aggregation names, input fields and output types; [`Plans`]: a
//! source's plan and those of the groupings viewers ask for.

use std::sync::Arc;

use livetable_core::{Aggregate, DataType, MetricKind, PerGrouping, Result};

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

/// A source's direct plan, and the plan of each grouping asked for
/// ([`Aggregate::grouped`]: fewer sources or terms), built on first use and kept.
#[derive(Debug)]
pub(crate) struct Plans {
    plan: Arc<Plan>,
    grouped: PerGrouping<Plan>,
}

impl Plans {
    /// The direct plans of `spec` and of its groupings.
    pub(crate) fn new(spec: Aggregate) -> Self {
        Plans {
            plan: Arc::new(Plan::new(spec, Mode::Direct)),
            grouped: PerGrouping::default(),
        }
    }

    /// The plan of the source's own spec.
    pub(crate) fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// The plan of a fetch grouped by `group_by` (dimension positions), or by every
    /// dimension when `None`. Fails when the positions are not a grouping of the
    /// spec's dimensions.
    pub(crate) fn grouped(&self, group_by: Option<&[usize]>) -> Result<Arc<Plan>> {
        let Some(positions) = group_by else {
            return Ok(self.plan.clone());
        };
        self.grouped.get_or_try_build(positions, || {
            Ok(Plan::new(self.plan.spec.grouped(positions)?, Mode::Direct))
        })
    }

    /// How many grouped plans are kept (for tests).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.grouped.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use livetable_core::Metric;

    use super::*;

    #[test]
    fn each_grouping_is_planned_once_and_the_kept_ones_are_bounded() {
        let mut b = Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(60));
        for i in 0..5 {
            b = b.dimension(format!("d{i}"), DataType::Int);
        }
        let plans = Plans::new(b.metric(Metric::count("n")).build().unwrap());
        assert!(Arc::ptr_eq(&plans.grouped(None).unwrap(), plans.plan()));
        let by_d3 = plans.grouped(Some(&[3, 1])).unwrap();
        let names: Vec<&str> = by_d3.dims.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["d3", "d1"]);
        assert!(Arc::ptr_eq(&by_d3, &plans.grouped(Some(&[3, 1])).unwrap()));
        assert!(plans.grouped(Some(&[5])).is_err());
        assert_eq!(plans.kept(), 1, "a refused grouping is not kept");
        // The bound on kept groupings is `PerGrouping`'s, tested in livetable-core.
    }
}
