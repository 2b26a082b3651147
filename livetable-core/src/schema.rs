//! Columns, schemas and rows.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, one_of};
use crate::value::{DataType, Value};

/// Whether a column is part of the row key or a measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Part of the row key: the rows are grouped by the dimensions together.
    Dimension,
    /// A value computed per row (count, sum, …).
    Metric,
}

/// A display hint for the numbers of a column; front ends format with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Unit {
    /// Bytes: shown as B, KB, MB, …
    Bytes,
    /// A fraction shown as a percentage.
    Percent,
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Milliseconds,
}

/// One column of a table: a name, a type, a role and optional display hints.
///
/// ```
/// use livetable_core::{Column, DataType, Unit};
/// let size = Column::metric("total_size", DataType::Int).with_unit(Unit::Bytes).with_label("Bytes");
/// assert_eq!(size.label(), "Bytes");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Column {
    /// The column's name, unique in its schema.
    pub name: String,
    /// The type of every non-null value in the column.
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// Dimension (row key) or metric.
    pub role: Role,
    /// A human label for headers; the name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A unit hint for formatting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
    /// Decimal places to show for floats; front ends choose when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
}

impl Column {
    /// A column with a role and no display hints.
    pub fn new(name: impl Into<String>, data_type: DataType, role: Role) -> Self {
        Column {
            name: name.into(),
            data_type,
            role,
            label: None,
            unit: None,
            decimals: None,
        }
    }

    /// A dimension column (part of the row key).
    pub fn dimension(name: impl Into<String>, data_type: DataType) -> Self {
        Self::new(name, data_type, Role::Dimension)
    }

    /// A metric column.
    pub fn metric(name: impl Into<String>, data_type: DataType) -> Self {
        Self::new(name, data_type, Role::Metric)
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

    /// Sets the number of decimals shown for floats.
    pub fn with_decimals(mut self, decimals: u8) -> Self {
        self.decimals = Some(decimals);
        self
    }

    /// The label, or the name when no label is set.
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }

    /// Whether this column is part of the row key.
    pub fn is_dimension(&self) -> bool {
        self.role == Role::Dimension
    }
}

/// The columns of a table, in order. The dimension columns together are the row key.
///
/// ```
/// use livetable_core::{Column, DataType, Schema};
/// let schema = Schema::new(vec![
///     Column::dimension("host", DataType::Text),
///     Column::metric("requests", DataType::Int),
/// ])?;
/// assert_eq!(schema.index_of("requests"), Some(1));
/// assert_eq!(schema.key_indices(), &[0]);
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Schema {
    columns: Vec<Column>,
    #[serde(skip)]
    key_indices: Vec<usize>,
}

impl Schema {
    /// A schema from its columns. Fails when there is no column, no dimension, or two
    /// columns share a name.
    pub fn new(columns: Vec<Column>) -> Result<Self> {
        if columns.is_empty() {
            return Err(Error::invalid_spec(
                "a schema needs at least one column; add a dimension and the metrics",
            ));
        }
        for (i, column) in columns.iter().enumerate() {
            if column.name.is_empty() {
                return Err(Error::invalid_spec(format!(
                    "column {i} has an empty name; give every column a name"
                )));
            }
            if columns[..i].iter().any(|c| c.name == column.name) {
                return Err(Error::invalid_spec(format!(
                    "duplicate column `{}`: column names must be unique",
                    column.name
                ))
                .with_context("column", &column.name));
            }
        }
        let key_indices: Vec<usize> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_dimension())
            .map(|(i, _)| i)
            .collect();
        if key_indices.is_empty() {
            return Err(Error::invalid_spec(format!(
                "a schema needs at least one dimension column (the row key); columns are {}",
                columns
                    .iter()
                    .map(|c| format!("`{}`", c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Schema {
            columns,
            key_indices,
        })
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Always false: a schema has at least one column.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The position of a column by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// A column by name, or an [`ErrorKind::InvalidParameter`](crate::ErrorKind)
    /// error naming the valid columns.
    pub fn require(&self, name: &str) -> Result<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
            .ok_or_else(|| {
                Error::invalid_parameter(format!(
                    "unknown column `{name}`; {}",
                    one_of(self.columns.iter().map(|c| c.name.as_str()))
                ))
                .with_context("column", name)
            })
    }

    /// The positions of the dimension columns: the row key.
    pub fn key_indices(&self) -> &[usize] {
        &self.key_indices
    }

    /// The dimension columns.
    pub fn dimensions(&self) -> impl Iterator<Item = &Column> {
        self.key_indices.iter().map(|&i| &self.columns[i])
    }

    /// The schema of a view grouped by fewer dimensions: the dimension columns at
    /// `positions` (in that order), then every other column in order. Fails unless
    /// the positions are distinct dimension columns, at least one.
    ///
    /// ```
    /// use livetable_core::{Column, DataType, Schema};
    /// let schema = Schema::new(vec![
    ///     Column::dimension("host", DataType::Text),
    ///     Column::dimension("port", DataType::Int),
    ///     Column::metric("requests", DataType::Int),
    /// ])?;
    /// let by_port = schema.grouped(&[1])?;
    /// let names: Vec<&str> = by_port.columns().iter().map(|c| c.name.as_str()).collect();
    /// assert_eq!(names, ["port", "requests"]);
    /// # Ok::<(), livetable_core::Error>(())
    /// ```
    pub fn grouped(&self, positions: &[usize]) -> Result<Schema> {
        if positions.is_empty() {
            return Err(Error::invalid_parameter(
                "a grouping needs at least one dimension",
            ));
        }
        let mut columns = Vec::with_capacity(self.columns.len());
        for (n, &p) in positions.iter().enumerate() {
            match self.columns.get(p) {
                Some(c) if c.is_dimension() && !positions[..n].contains(&p) => {
                    columns.push(c.clone());
                }
                _ => {
                    return Err(Error::invalid_parameter(format!(
                        "column position {p} is not a dimension, or is given twice; {}",
                        one_of(self.dimensions().map(|c| c.name.as_str()))
                    )));
                }
            }
        }
        columns.extend(self.columns.iter().filter(|c| !c.is_dimension()).cloned());
        Schema::new(columns)
    }

    /// Checks that a row has one value per column, each of the column's type or null.
    pub fn check_row(&self, row: &Row) -> Result<()> {
        if row.len() != self.columns.len() {
            return Err(Error::new(
                crate::ErrorKind::Unexpected,
                format!(
                    "a row has {} values but the schema has {} columns",
                    row.len(),
                    self.columns.len()
                ),
            ));
        }
        for (value, column) in row.values().iter().zip(&self.columns) {
            if !value.fits(column.data_type) {
                return Err(Error::new(
                    crate::ErrorKind::Unexpected,
                    format!(
                        "column `{}` is {} but a row holds {:?}",
                        column.name, column.data_type, value
                    ),
                )
                .with_context("column", &column.name));
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Schema {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            columns: Vec<Column>,
        }
        let raw = Raw::deserialize(d)?;
        Schema::new(raw.columns).map_err(serde::de::Error::custom)
    }
}

/// The values of one row, in schema order.
///
/// ```
/// use livetable_core::{Row, Value};
/// let row = Row::new(vec![Value::from("web-1"), Value::Int(12)]);
/// assert_eq!(row[1], Value::Int(12));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Row(Vec<Value>);

impl Row {
    /// A row from its values, in schema order.
    pub fn new(values: Vec<Value>) -> Self {
        Row(values)
    }

    /// The values, in schema order.
    pub fn values(&self) -> &[Value] {
        &self.0
    }

    /// The values, mutably.
    pub fn values_mut(&mut self) -> &mut Vec<Value> {
        &mut self.0
    }

    /// The values, owned.
    pub fn into_values(self) -> Vec<Value> {
        self.0
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the row holds no value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The row key: the values at `key_indices` (see [`Schema::key_indices`]).
    pub fn key(&self, key_indices: &[usize]) -> Vec<Value> {
        key_indices.iter().map(|&i| self.0[i].clone()).collect()
    }
}

impl From<Vec<Value>> for Row {
    fn from(values: Vec<Value>) -> Self {
        Row(values)
    }
}

impl std::ops::Index<usize> for Row {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        &self.0[i]
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            v.fmt(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn schema() -> Schema {
        Schema::new(vec![
            Column::dimension("host", DataType::Text),
            Column::metric("n", DataType::Int),
            Column::dimension("port", DataType::Int),
        ])
        .unwrap()
    }

    #[test]
    fn key_is_the_dimensions_in_order() {
        let s = schema();
        assert_eq!(s.key_indices(), &[0, 2]);
        let row = Row::new(vec![Value::from("a"), Value::Int(1), Value::Int(80)]);
        assert_eq!(
            row.key(s.key_indices()),
            vec![Value::from("a"), Value::Int(80)]
        );
    }

    #[test]
    fn rejects_duplicates_and_keyless_schemas() {
        let dup = Schema::new(vec![
            Column::dimension("a", DataType::Int),
            Column::metric("a", DataType::Int),
        ])
        .unwrap_err();
        assert_eq!(dup.kind(), ErrorKind::InvalidSpec);
        assert!(dup.message().contains("duplicate column `a`"));
        let keyless = Schema::new(vec![Column::metric("n", DataType::Int)]).unwrap_err();
        assert!(keyless.message().contains("at least one dimension"));
        assert!(Schema::new(vec![]).is_err());
    }

    #[test]
    fn require_lists_valid_columns() {
        let err = schema().require("nope").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParameter);
        assert!(err.message().contains("`host`, `n`, `port`"), "{err}");
    }

    #[test]
    fn check_row_catches_types_and_arity() {
        let s = schema();
        assert!(
            s.check_row(&Row::new(vec![Value::Null, Value::Int(1), Value::Int(2)]))
                .is_ok()
        );
        assert!(s.check_row(&Row::new(vec![Value::Null])).is_err());
        let err = s
            .check_row(&Row::new(vec![Value::Int(3), Value::Int(1), Value::Int(2)]))
            .unwrap_err();
        assert_eq!(err.context_value("column"), Some("host"));
    }

    #[test]
    fn schema_round_trips_through_json() {
        let s = schema();
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#""type":"text""#));
        let back: Schema = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
