//! [`Aggregate`]: the declarative table spec every backend translates.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, one_of};
use crate::filter::Filter;
use crate::schema::{Column, Row, Schema, Unit};
use crate::value::DataType;

/// What a metric computes. Null inputs are ignored, as in SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MetricKind {
    /// The number of events in the group (takes no column).
    Count,
    /// The sum of a numeric column; `Null` when the group has no non-null value.
    Sum,
    /// The mean of a numeric column, as a float; `Null` when there is no value.
    Avg,
    /// The smallest value of a numeric or timestamp column.
    Min,
    /// The largest value of a numeric or timestamp column.
    Max,
    /// The number of distinct non-null values of a column.
    CountDistinct,
}

impl MetricKind {
    /// The snake_case name (`count_distinct`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Count => "count",
            MetricKind::Sum => "sum",
            MetricKind::Avg => "avg",
            MetricKind::Min => "min",
            MetricKind::Max => "max",
            MetricKind::CountDistinct => "count_distinct",
        }
    }

    /// The type of the metric's values given its input column's type.
    pub fn output_type(self, input: Option<DataType>) -> DataType {
        match self {
            MetricKind::Count | MetricKind::CountDistinct => DataType::Int,
            MetricKind::Avg => DataType::Float,
            MetricKind::Sum | MetricKind::Min | MetricKind::Max => input.unwrap_or(DataType::Int),
        }
    }
}

/// One metric column of an [`Aggregate`].
///
/// ```
/// use livetable_core::{Metric, Unit};
/// let m = Metric::sum("total_size", "size").with_unit(Unit::Bytes);
/// assert_eq!(m.column.as_deref(), Some("size"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metric {
    /// The output column's name.
    pub name: String,
    /// What is computed over the group's events: `count`, `sum`, `avg`, `min`, `max`
    /// or `count_distinct`; it fixes the output type (see [`MetricKind::output_type`]).
    pub kind: MetricKind,
    /// The input column (`None` for `count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The column's header for viewers (the name when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Unit hint; inherited from the input field when absent (except for counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
}

impl Metric {
    fn new(name: impl Into<String>, kind: MetricKind, column: Option<String>) -> Self {
        Metric {
            name: name.into(),
            kind,
            column,
            label: None,
            unit: None,
        }
    }

    /// `count(*)` as `name`.
    pub fn count(name: impl Into<String>) -> Self {
        Self::new(name, MetricKind::Count, None)
    }

    /// `sum(column)` as `name`.
    pub fn sum(name: impl Into<String>, column: impl Into<String>) -> Self {
        Self::new(name, MetricKind::Sum, Some(column.into()))
    }

    /// `avg(column)` as `name`.
    pub fn avg(name: impl Into<String>, column: impl Into<String>) -> Self {
        Self::new(name, MetricKind::Avg, Some(column.into()))
    }

    /// `min(column)` as `name`.
    pub fn min(name: impl Into<String>, column: impl Into<String>) -> Self {
        Self::new(name, MetricKind::Min, Some(column.into()))
    }

    /// `max(column)` as `name`.
    pub fn max(name: impl Into<String>, column: impl Into<String>) -> Self {
        Self::new(name, MetricKind::Max, Some(column.into()))
    }

    /// `count(distinct column)` as `name`.
    pub fn count_distinct(name: impl Into<String>, column: impl Into<String>) -> Self {
        Self::new(name, MetricKind::CountDistinct, Some(column.into()))
    }

    /// Sets the header label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the unit hint.
    pub fn with_unit(mut self, unit: Unit) -> Self {
        self.unit = Some(unit);
        self
    }
}

/// An input column of the events: a name, a type and display hints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Field {
    /// The column's name in the store.
    pub name: String,
    /// The type its values have (checked against the store's column by each backend).
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// The column's header for viewers (dimensions only; the name when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Unit hint, inherited by metrics over this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
}

impl Field {
    /// A field with no display hint.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        Field {
            name: name.into(),
            data_type,
            label: None,
            unit: None,
        }
    }
}

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Smallest first; `Null` first.
    #[default]
    Asc,
    /// Largest first; `Null` last.
    Desc,
}

/// One sort key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderBy {
    /// An output column (dimension or metric).
    pub column: String,
    /// Ascending (the default) or descending; `Null` sorts as the smallest value.
    #[serde(default)]
    pub direction: Direction,
}

/// A declarative live-table spec: group events of the past `window` by dimensions and
/// compute metrics, with static filters, an order and a limit.
///
/// Backends translate it ([`MemorySource`](crate::MemorySource), SQL, Elasticsearch)
/// and must agree on its meaning:
/// - an event is in the window when `start <= time < end`;
/// - rows are sorted by the `order_by` keys, **then by the dimensions ascending** (so
///   ties break the same way everywhere); without `order_by`, by the dimensions;
/// - `Null` is a value like any other for a dimension (events with a missing dimension
///   form their own group) and sorts first ascending (see [`Value`](crate::Value));
/// - metrics ignore null inputs; `sum`, `avg`, `min`, `max` of no value are `Null`;
/// - the output columns are the dimensions, then the metrics, in declared order.
///
/// # Example: the packets table
/// ```
/// use std::time::Duration;
/// use livetable_core::{Aggregate, DataType, Direction, Filter, Metric, Unit};
///
/// let spec = Aggregate::builder()
///     .time_column("ts")
///     .window(Duration::from_secs(3600))
///     .dimension("source_ip", DataType::Ip)
///     .dimension("protocol", DataType::Text)
///     .field("size", DataType::Int)
///     .unit("size", Unit::Bytes)
///     .metric(Metric::count("count"))
///     .metric(Metric::sum("total_size", "size"))
///     .filter(Filter::is_in("protocol", ["TCP", "UDP"]))
///     .order_by("count", Direction::Desc)
///     .limit(500)
///     .build()?;
/// let names: Vec<_> = spec.schema().columns().iter().map(|c| c.name.as_str()).collect();
/// assert_eq!(names, ["source_ip", "protocol", "count", "total_size"]);
/// assert_eq!(spec.schema().column("total_size").unwrap().unit, Some(Unit::Bytes));
/// # Ok::<(), livetable_core::Error>(())
/// ```
///
/// Validation errors name the offending column and list the valid ones:
/// ```
/// use std::time::Duration;
/// use livetable_core::{Aggregate, DataType, Metric};
/// let err = Aggregate::builder()
///     .time_column("ts")
///     .window(Duration::from_secs(60))
///     .dimension("host", DataType::Text)
///     .metric(Metric::sum("bytes", "size"))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.to_string(),
///     "invalid_spec: metric `bytes` reads unknown column `size`; valid ones are `host` (column: size)");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AggregateSpec", into = "AggregateSpec")]
pub struct Aggregate {
    spec: AggregateSpec,
    schema: Arc<Schema>,
    /// Where each metric's input sits in an event (see [`Aggregate::event_columns`]).
    metric_inputs: Vec<Option<usize>>,
    /// Output column positions of the order keys.
    order_indices: Vec<(usize, Direction)>,
}

/// The plain data of an [`Aggregate`], before validation. Build one with
/// [`Aggregate::builder`], or deserialise it (e.g. from a config file).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AggregateSpec {
    /// The event time column.
    pub time_column: String,
    /// The length of the sliding window.
    #[serde(with = "duration_secs")]
    pub window: Duration,
    /// The group-by columns, in key order.
    pub dimensions: Vec<Field>,
    /// Other input columns metrics or filters read.
    #[serde(default)]
    pub fields: Vec<Field>,
    /// The metric columns, in output order after the dimensions.
    pub metrics: Vec<Metric>,
    /// Static filters on input columns, applied to every event.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// Sort keys, most significant first; they pick which rows the `limit` keeps.
    #[serde(default)]
    pub order_by: Vec<OrderBy>,
    /// The most rows in the table (the first in `order_by` order); none: every group.
    #[serde(default)]
    pub limit: Option<usize>,
}

mod duration_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<AggregateSpec> for Aggregate {
    type Error = Error;
    fn try_from(spec: AggregateSpec) -> Result<Self> {
        Aggregate::from_spec(spec)
    }
}

impl From<Aggregate> for AggregateSpec {
    fn from(a: Aggregate) -> Self {
        a.spec
    }
}

impl Aggregate {
    /// A builder; see the type's example.
    pub fn builder() -> AggregateBuilder {
        AggregateBuilder::default()
    }

    /// Validates a spec. The error names the offending column and lists valid ones.
    pub fn from_spec(mut spec: AggregateSpec) -> Result<Self> {
        // Filters are normalised in place (values take their column's type), so they
        // leave the spec while the other steps borrow it.
        let filters = std::mem::take(&mut spec.filters);
        check_required(&spec)?;
        let inputs = input_columns(&spec)?;
        let metric_inputs = metric_inputs(&spec, &inputs)?;
        let outputs = output_names(&spec)?;
        let filters = normalise_filters(filters, &inputs)?;
        let order_indices = order_indices(&spec, &outputs)?;
        let schema = output_schema(&spec, &inputs, &metric_inputs)?;
        spec.filters = filters;
        Ok(Aggregate {
            spec,
            schema,
            metric_inputs,
            order_indices,
        })
    }

    /// The same aggregate grouped by the dimensions at `positions` only (in that
    /// order): a roll-up. The other dimensions become plain input fields, so static
    /// filters and metrics that read them still apply; sort keys on them are dropped.
    /// Its schema is [`Schema::grouped`] of this one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use livetable_core::{Aggregate, DataType, Metric};
    /// let spec = Aggregate::builder()
    ///     .time_column("ts").window(Duration::from_secs(3600))
    ///     .dimension("host", DataType::Text)
    ///     .dimension("port", DataType::Int)
    ///     .metric(Metric::count("n"))
    ///     .build()?;
    /// let by_port = spec.grouped(&[1])?;
    /// assert_eq!(by_port.dimensions()[0].name, "port");
    /// assert_eq!(by_port.schema().as_ref(), &spec.schema().grouped(&[1])?);
    /// # Ok::<(), livetable_core::Error>(())
    /// ```
    pub fn grouped(&self, positions: &[usize]) -> Result<Aggregate> {
        let schema = self.schema.grouped(positions)?;
        let mut spec = self.spec.clone();
        let dims = std::mem::take(&mut spec.dimensions);
        spec.dimensions = positions.iter().map(|&p| dims[p].clone()).collect();
        let dropped = dims
            .into_iter()
            .enumerate()
            .filter(|(p, _)| !positions.contains(p))
            .map(|(_, mut f)| {
                f.label = None; // a label is a header, and a field has none
                f
            });
        spec.fields.splice(0..0, dropped);
        spec.order_by
            .retain(|o| schema.index_of(&o.column).is_some());
        Aggregate::from_spec(spec)
    }

    /// The output schema: the dimensions (the row key), then the metrics.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The spec as validated: filters hold values of their column's type.
    pub fn spec(&self) -> &AggregateSpec {
        &self.spec
    }

    /// The column holding each event's time, which the window applies to.
    pub fn time_column(&self) -> &str {
        &self.spec.time_column
    }

    /// The length of the sliding window a table shows by default.
    pub fn window(&self) -> Duration {
        self.spec.window
    }

    /// The dimensions, in key order.
    pub fn dimensions(&self) -> &[Field] {
        &self.spec.dimensions
    }

    /// The non-dimension input fields.
    pub fn fields(&self) -> &[Field] {
        &self.spec.fields
    }

    /// The metrics, in output order.
    pub fn metrics(&self) -> &[Metric] {
        &self.spec.metrics
    }

    /// The static filters, with values of their column's type.
    pub fn filters(&self) -> &[Filter] {
        &self.spec.filters
    }

    /// The sort keys, most significant first (see [`compare_rows`](Self::compare_rows)).
    pub fn order_by(&self) -> &[OrderBy] {
        &self.spec.order_by
    }

    /// The most rows a fetch returns, the first in [`order_by`](Self::order_by) order.
    pub fn limit(&self) -> Option<usize> {
        self.spec.limit
    }

    /// The input columns an event carries, in the order [`MemorySource`](crate::MemorySource)
    /// expects them: the time column, the dimensions, then the fields.
    pub fn event_columns(&self) -> impl Iterator<Item = (&str, DataType)> {
        std::iter::once((self.spec.time_column.as_str(), DataType::Timestamp)).chain(
            self.spec
                .dimensions
                .iter()
                .chain(&self.spec.fields)
                .map(|f| (f.name.as_str(), f.data_type)),
        )
    }

    /// For each metric, the position of its input in an event (`None` for `count`).
    pub fn metric_inputs(&self) -> &[Option<usize>] {
        &self.metric_inputs
    }

    /// The type of an input column by name.
    pub fn input_type(&self, name: &str) -> Option<DataType> {
        self.event_columns()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
    }

    /// Compares two output rows in table order: the order keys, then the dimensions
    /// ascending.
    pub fn compare_rows(&self, a: &Row, b: &Row) -> Ordering {
        for &(i, dir) in &self.order_indices {
            let ord = a[i].cmp(&b[i]);
            let ord = if dir == Direction::Desc {
                ord.reverse()
            } else {
                ord
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        for &i in self.schema.key_indices() {
            let ord = a[i].cmp(&b[i]);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    /// Puts output rows in table order and keeps the first `min(limit, extra_limit)`.
    /// Selects the top rows before sorting them, so a small limit over many rows
    /// does not sort every row.
    pub fn order_and_limit(&self, rows: &mut Vec<Row>, extra_limit: Option<usize>) {
        let limit = match (self.spec.limit, extra_limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(n) = limit {
            if n == 0 {
                rows.clear();
                return;
            }
            if rows.len() > n {
                rows.select_nth_unstable_by(n - 1, |a, b| self.compare_rows(a, b));
                rows.truncate(n);
            }
        }
        rows.sort_unstable_by(|a, b| self.compare_rows(a, b));
    }
}

/// The parts of a spec that must be set: a window, a time column, a dimension, a
/// metric, and no zero limit.
fn check_required(spec: &AggregateSpec) -> Result<()> {
    if spec.window.is_zero() {
        return Err(Error::invalid_spec(
            "the window is zero; set a window length such as 1 hour",
        ));
    }
    if spec.time_column.is_empty() {
        return Err(Error::invalid_spec(
            "no time column; set the column that holds each event's timestamp",
        ));
    }
    if spec.dimensions.is_empty() {
        return Err(Error::invalid_spec(
            "no dimension: the row key is empty; add at least one column to group by",
        ));
    }
    if spec.metrics.is_empty() {
        return Err(Error::invalid_spec(
            "no metric; add at least one, such as a count",
        ));
    }
    if spec.limit == Some(0) {
        return Err(Error::invalid_spec(
            "the limit is 0; leave it unset for all rows or give a positive number",
        ));
    }
    Ok(())
}

/// The input columns of an event, in event order (time, dimensions, fields), each
/// named once.
fn input_columns(spec: &AggregateSpec) -> Result<Vec<(&str, DataType)>> {
    let mut inputs: Vec<(&str, DataType)> = vec![(&spec.time_column, DataType::Timestamp)];
    for f in spec.dimensions.iter().chain(&spec.fields) {
        if inputs.iter().any(|(n, _)| *n == f.name) {
            return Err(Error::invalid_spec(format!(
                "input column `{}` is declared twice; declare each column once, as the \
                 time column, a dimension or a field",
                f.name
            ))
            .with_context("column", &f.name));
        }
        if f.name.is_empty() {
            return Err(Error::invalid_spec(
                "a dimension or field has an empty name",
            ));
        }
        inputs.push((&f.name, f.data_type));
    }
    Ok(inputs)
}

/// For each metric, the input it reads (`None` for a count): a known column of a type
/// the metric can aggregate.
fn metric_inputs(spec: &AggregateSpec, inputs: &[(&str, DataType)]) -> Result<Vec<Option<usize>>> {
    let input_names = || inputs.iter().map(|(n, _)| *n);
    let mut metric_inputs = Vec::with_capacity(spec.metrics.len());
    for m in &spec.metrics {
        let input = match (&m.column, m.kind) {
            (None, MetricKind::Count) => None,
            (Some(_), MetricKind::Count) => {
                return Err(Error::invalid_spec(format!(
                    "metric `{}`: count takes no column (it counts events); use \
                     count_distinct to count values",
                    m.name
                ))
                .with_context("column", &m.name));
            }
            (None, kind) => {
                return Err(Error::invalid_spec(format!(
                    "metric `{}`: {} needs an input column",
                    m.name,
                    kind.as_str()
                ))
                .with_context("column", &m.name));
            }
            (Some(col), kind) => {
                let Some(i) = input_names().position(|n| n == col) else {
                    return Err(Error::invalid_spec(format!(
                        "metric `{}` reads unknown column `{col}`; {}",
                        m.name,
                        one_of(input_names().filter(|n| *n != spec.time_column))
                    ))
                    .with_context("column", col));
                };
                let t = inputs[i].1;
                let fits = match kind {
                    MetricKind::Sum | MetricKind::Avg => t.is_numeric(),
                    MetricKind::Min | MetricKind::Max => t.is_ordered_quantity(),
                    _ => true,
                };
                if !fits {
                    let numeric: Vec<&str> = inputs
                        .iter()
                        .filter(|(_, t)| match kind {
                            MetricKind::Min | MetricKind::Max => t.is_ordered_quantity(),
                            _ => t.is_numeric(),
                        })
                        .map(|(n, _)| *n)
                        .collect();
                    return Err(Error::invalid_spec(format!(
                        "metric `{}`: {} needs a numeric column but `{col}` is {t}; {}",
                        m.name,
                        kind.as_str(),
                        one_of(numeric)
                    ))
                    .with_context("column", col));
                }
                Some(i)
            }
        };
        metric_inputs.push(input);
    }
    Ok(metric_inputs)
}

/// The output column names (dimensions, then metrics), non-empty and distinct.
fn output_names(spec: &AggregateSpec) -> Result<Vec<&str>> {
    let outputs: Vec<&str> = spec
        .dimensions
        .iter()
        .map(|d| d.name.as_str())
        .chain(spec.metrics.iter().map(|m| m.name.as_str()))
        .collect();
    for (i, name) in outputs.iter().enumerate() {
        if name.is_empty() {
            return Err(Error::invalid_spec("a metric has an empty name"));
        }
        if outputs[..i].contains(name) {
            return Err(Error::invalid_spec(format!(
                "duplicate output column `{name}`: dimensions and metrics need distinct names"
            ))
            .with_context("column", *name));
        }
    }
    Ok(outputs)
}

/// The static filters, on known input columns, with values of the column's type.
fn normalise_filters(filters: Vec<Filter>, inputs: &[(&str, DataType)]) -> Result<Vec<Filter>> {
    let input_names = || inputs.iter().map(|(n, _)| *n);
    let mut normalised = Vec::with_capacity(filters.len());
    for f in filters {
        let Some(&(_, t)) = inputs.iter().find(|(n, _)| *n == f.column()) else {
            return Err(Error::invalid_spec(format!(
                "filter on unknown column `{}`; {}",
                f.column(),
                one_of(input_names())
            ))
            .with_context("column", f.column()));
        };
        let column = f.column().to_owned();
        let f = f.normalised(t).map_err(|e| {
            Error::invalid_spec(e.message().to_owned()).with_context("column", column)
        })?;
        normalised.push(f);
    }
    Ok(normalised)
}

/// The output position and direction of each order key: known outputs, each once.
fn order_indices(spec: &AggregateSpec, outputs: &[&str]) -> Result<Vec<(usize, Direction)>> {
    let mut order_indices = Vec::with_capacity(spec.order_by.len());
    for (i, o) in spec.order_by.iter().enumerate() {
        let Some(pos) = outputs.iter().position(|n| *n == o.column) else {
            return Err(Error::invalid_spec(format!(
                "order by unknown column `{}`; {}",
                o.column,
                one_of(outputs.iter().copied())
            ))
            .with_context("column", &o.column));
        };
        if spec.order_by[..i].iter().any(|p| p.column == o.column) {
            return Err(Error::invalid_spec(format!(
                "column `{}` appears twice in the order",
                o.column
            ))
            .with_context("column", &o.column));
        }
        order_indices.push((pos, o.direction));
    }
    Ok(order_indices)
}

/// The output schema: the dimensions with their labels and units, then the metrics with
/// their output types (a metric over a field inherits the field's unit).
fn output_schema(
    spec: &AggregateSpec,
    inputs: &[(&str, DataType)],
    metric_inputs: &[Option<usize>],
) -> Result<Arc<Schema>> {
    let mut columns: Vec<Column> = spec
        .dimensions
        .iter()
        .map(|d| Column {
            label: d.label.clone(),
            unit: d.unit,
            ..Column::dimension(&d.name, d.data_type)
        })
        .collect();
    for (m, input) in spec.metrics.iter().zip(metric_inputs) {
        // Event position 0 is the time column; 1.. are the dimensions, then fields.
        let input_field = input
            .filter(|&i| i > 0)
            .and_then(|i| spec.dimensions.iter().chain(&spec.fields).nth(i - 1));
        let input_type = input.map(|i| inputs[i].1);
        let inherited_unit = match m.kind {
            MetricKind::Count | MetricKind::CountDistinct => None,
            _ => input_field.and_then(|f| f.unit),
        };
        columns.push(Column {
            label: m.label.clone(),
            unit: m.unit.or(inherited_unit),
            ..Column::metric(&m.name, m.kind.output_type(input_type))
        });
    }
    Ok(Arc::new(Schema::new(columns)?))
}

/// Builds an [`Aggregate`]; [`build`](AggregateBuilder::build) validates.
#[derive(Debug, Default, Clone)]
pub struct AggregateBuilder {
    spec: AggregateSpec,
    hints: Vec<(String, ColumnHint)>,
}

/// How a column is shown, given to the builder by [`label`](AggregateBuilder::label) or
/// [`unit`](AggregateBuilder::unit) and set on the schema's column when it is built.
#[derive(Debug, Clone)]
enum ColumnHint {
    Label(String),
    Unit(Unit),
}

impl AggregateBuilder {
    /// The event time column (a timestamp).
    pub fn time_column(mut self, name: impl Into<String>) -> Self {
        self.spec.time_column = name.into();
        self
    }

    /// The length of the sliding window ("the past hour").
    pub fn window(mut self, window: Duration) -> Self {
        self.spec.window = window;
        self
    }

    /// Adds a group-by column with its type.
    pub fn dimension(mut self, name: impl Into<String>, data_type: DataType) -> Self {
        self.spec.dimensions.push(Field::new(name, data_type));
        self
    }

    /// Declares an input column that metrics or filters read.
    pub fn field(mut self, name: impl Into<String>, data_type: DataType) -> Self {
        self.spec.fields.push(Field::new(name, data_type));
        self
    }

    /// Adds a metric column.
    pub fn metric(mut self, metric: Metric) -> Self {
        self.spec.metrics.push(metric);
        self
    }

    /// Adds a static filter.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.spec.filters.push(filter);
        self
    }

    /// Adds a sort key.
    pub fn order_by(mut self, column: impl Into<String>, direction: Direction) -> Self {
        self.spec.order_by.push(OrderBy {
            column: column.into(),
            direction,
        });
        self
    }

    /// Keeps the first `n` rows.
    pub fn limit(mut self, n: usize) -> Self {
        self.spec.limit = Some(n);
        self
    }

    /// Sets the header label of a dimension, field or metric.
    pub fn label(mut self, column: impl Into<String>, label: impl Into<String>) -> Self {
        self.hints
            .push((column.into(), ColumnHint::Label(label.into())));
        self
    }

    /// Sets the unit hint of a dimension, field or metric (metrics over a field inherit
    /// its unit).
    pub fn unit(mut self, column: impl Into<String>, unit: Unit) -> Self {
        self.hints.push((column.into(), ColumnHint::Unit(unit)));
        self
    }

    /// Validates and returns the spec.
    pub fn build(mut self) -> Result<Aggregate> {
        for (column, hint) in std::mem::take(&mut self.hints) {
            let spec = &mut self.spec;
            let (label, unit) = if let Some(f) = spec
                .dimensions
                .iter_mut()
                .chain(spec.fields.iter_mut())
                .find(|f| f.name == column)
            {
                (&mut f.label, &mut f.unit)
            } else if let Some(m) = spec.metrics.iter_mut().find(|m| m.name == column) {
                (&mut m.label, &mut m.unit)
            } else {
                let names = spec
                    .dimensions
                    .iter()
                    .chain(&spec.fields)
                    .map(|f| f.name.as_str())
                    .chain(spec.metrics.iter().map(|m| m.name.as_str()));
                return Err(Error::invalid_spec(format!(
                    "label or unit for unknown column `{column}`; {}",
                    one_of(names)
                ))
                .with_context("column", &column));
            };
            match hint {
                ColumnHint::Label(l) => *label = Some(l),
                ColumnHint::Unit(u) => *unit = Some(u),
            }
        }
        Aggregate::from_spec(self.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, Value};

    fn base() -> AggregateBuilder {
        Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(3600))
            .dimension("host", DataType::Text)
            .dimension("port", DataType::Int)
            .field("size", DataType::Int)
            .field("name", DataType::Text)
            .metric(Metric::count("count"))
    }

    fn err(b: AggregateBuilder) -> Error {
        let e = b.build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSpec);
        e
    }

    #[test]
    fn derives_schema_with_types_and_units() {
        let spec = base()
            .unit("size", Unit::Bytes)
            .label("host", "Host")
            .metric(Metric::sum("bytes", "size"))
            .metric(Metric::avg("avg", "size"))
            .metric(Metric::max("last", "ts"))
            .metric(Metric::count_distinct("names", "name"))
            .build()
            .unwrap();
        let s = spec.schema();
        let types: Vec<_> = s.columns().iter().map(|c| c.data_type).collect();
        assert_eq!(
            types,
            [
                DataType::Text,
                DataType::Int,
                DataType::Int,
                DataType::Int,
                DataType::Float,
                DataType::Timestamp,
                DataType::Int
            ]
        );
        assert_eq!(s.key_indices(), &[0, 1]);
        assert_eq!(s.column("bytes").unwrap().unit, Some(Unit::Bytes));
        assert_eq!(s.column("count").unwrap().unit, None);
        assert_eq!(s.column("host").unwrap().label(), "Host");
        assert_eq!(
            spec.metric_inputs(),
            &[None, Some(3), Some(3), Some(0), Some(4)]
        );
        let events: Vec<_> = spec.event_columns().map(|(n, _)| n).collect();
        assert_eq!(events, ["ts", "host", "port", "size", "name"]);
    }

    #[test]
    fn each_validation_error_names_the_column() {
        let e = err(base().metric(Metric::sum("s", "nope")));
        assert!(e.message().contains("unknown column `nope`"), "{e}");
        assert!(
            e.message().contains("`host`, `port`, `size`, `name`"),
            "{e}"
        );

        let e = err(base().metric(Metric::sum("s", "name")));
        assert!(
            e.message()
                .contains("needs a numeric column but `name` is text"),
            "{e}"
        );
        assert!(e.message().contains("valid ones are `port`, `size`"), "{e}");

        let e = err(base().metric(Metric::count("host")));
        assert!(
            e.message().contains("duplicate output column `host`"),
            "{e}"
        );

        let e = err(base().window(Duration::ZERO));
        assert!(e.message().contains("window is zero"), "{e}");

        let e = err(Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(1))
            .metric(Metric::count("n")));
        assert!(e.message().contains("row key is empty"), "{e}");

        let e = err(base().order_by("bytes", Direction::Desc));
        assert!(
            e.message().contains("order by unknown column `bytes`"),
            "{e}"
        );

        let e = err(base().filter(Filter::eq("port", "http")));
        assert!(e.message().contains("not a valid int"), "{e}");
        assert_eq!(e.context_value("column"), Some("port"));

        let e = err(base().filter(Filter::eq("zone", 1)));
        assert!(
            e.message().contains("filter on unknown column `zone`"),
            "{e}"
        );

        let e = err(base().field("host", DataType::Text));
        assert!(e.message().contains("declared twice"), "{e}");

        let e = err(base().limit(0));
        assert!(e.message().contains("limit is 0"), "{e}");

        let e = err(base().unit("nope", Unit::Bytes));
        assert!(e.message().contains("unknown column `nope`"), "{e}");

        let e = err(base().metric(Metric::avg("a", "ts")));
        assert!(e.message().contains("`ts` is timestamp"), "{e}");
    }

    #[test]
    fn orders_by_keys_then_dimensions_and_limits() {
        let spec = base()
            .order_by("count", Direction::Desc)
            .limit(2)
            .build()
            .unwrap();
        let row =
            |h: &str, p: i64, n: i64| Row::new(vec![Value::from(h), Value::Int(p), Value::Int(n)]);
        let mut rows = vec![
            row("b", 1, 5),
            row("a", 2, 5),
            row("c", 1, 9),
            row("a", 1, 1),
        ];
        spec.order_and_limit(&mut rows, None);
        assert_eq!(rows, vec![row("c", 1, 9), row("a", 2, 5)]);
        let mut rows = vec![row("b", 1, 5), row("a", 2, 5)];
        spec.order_and_limit(&mut rows, Some(1));
        assert_eq!(rows, vec![row("a", 2, 5)]);
    }

    #[test]
    fn spec_round_trips_through_json_and_validates_on_the_way_in() {
        let spec = base()
            .metric(Metric::sum("bytes", "size"))
            .filter(Filter::is_in("port", [443, 80]))
            .build()
            .unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        let back: Aggregate = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
        let bad = json.replace(r#""column":"size""#, r#""column":"nope""#);
        let e = serde_json::from_str::<Aggregate>(&bad).unwrap_err();
        assert!(e.to_string().contains("unknown column `nope`"), "{e}");
    }
}
