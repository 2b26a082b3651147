//! Row filters: `eq`, `in` and `range` on one column.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::value::{DataType, Value};

/// A condition on one column. Used for an [`Aggregate`](crate::Aggregate)'s static
/// filters (on any input column) and for viewers' filters (on dimensions).
///
/// Semantics, the same in every backend:
/// - `Eq` matches values equal to `value`; **`Null` matches `Null`** (SQL's
///   `IS NOT DISTINCT FROM`, not `=`);
/// - `In` matches any of `values` the same way;
/// - `Range` matches `gte <= v < lt` (either bound may be absent); `Null` never matches.
///
/// ```
/// use livetable_core::{Filter, Value};
/// let f = Filter::is_in("protocol", ["TCP", "UDP"]);
/// assert!(f.matches(&Value::from("UDP")));
/// assert!(!f.matches(&Value::from("ICMP")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Filter {
    /// `column == value`.
    Eq {
        /// The column filtered on.
        column: String,
        /// The value to match.
        value: Value,
    },
    /// `column` is one of `values`.
    In {
        /// The column filtered on.
        column: String,
        /// The values to match.
        values: Vec<Value>,
    },
    /// `gte <= column < lt`.
    Range {
        /// The column filtered on.
        column: String,
        /// Inclusive lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gte: Option<Value>,
        /// Exclusive upper bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lt: Option<Value>,
    },
}

impl Filter {
    /// `column == value`.
    pub fn eq(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Eq {
            column: column.into(),
            value: value.into(),
        }
    }

    /// `column IN (values)`.
    pub fn is_in<V: Into<Value>>(
        column: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Filter::In {
            column: column.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// `gte <= column < lt`; pass `Value::Null` or `None` for an open side.
    pub fn range(
        column: impl Into<String>,
        gte: impl Into<Option<Value>>,
        lt: impl Into<Option<Value>>,
    ) -> Self {
        Filter::Range {
            column: column.into(),
            gte: gte.into().filter(|v| !v.is_null()),
            lt: lt.into().filter(|v| !v.is_null()),
        }
    }

    /// The column this filter reads.
    pub fn column(&self) -> &str {
        match self {
            Filter::Eq { column, .. }
            | Filter::In { column, .. }
            | Filter::Range { column, .. } => column,
        }
    }

    /// The operator's name: `eq`, `in` or `range`.
    pub fn op(&self) -> &'static str {
        match self {
            Filter::Eq { .. } => "eq",
            Filter::In { .. } => "in",
            Filter::Range { .. } => "range",
        }
    }

    /// Whether a value of the filtered column passes.
    pub fn matches(&self, v: &Value) -> bool {
        match self {
            Filter::Eq { value, .. } => v == value,
            Filter::In { values, .. } => values.contains(v),
            Filter::Range { gte, lt, .. } => {
                !v.is_null()
                    && gte.as_ref().is_none_or(|lo| v >= lo)
                    && lt.as_ref().is_none_or(|hi| v < hi)
            }
        }
    }

    /// Converts every value to the column's type (see [`DataType::coerce`]) and checks
    /// the filter makes sense; the error names the column, the bad value and the type.
    /// `In` values are sorted and deduplicated so equal filters compare equal.
    pub fn normalised(self, data_type: DataType) -> Result<Filter> {
        let column = self.column().to_owned();
        let coerce = |v: Value| {
            let shown = format!("{v:?}");
            data_type.coerce(v).ok_or_else(|| {
                Error::invalid_parameter(format!(
                    "filter on `{column}`: {shown} is not a valid {data_type}"
                ))
                .with_context("column", &column)
            })
        };
        Ok(match self {
            Filter::Eq { column, value } => Filter::Eq {
                value: coerce(value)?,
                column,
            },
            Filter::In { column, values } => {
                if values.is_empty() {
                    return Err(Error::invalid_parameter(format!(
                        "filter `in` on `{column}` has no values; give at least one"
                    ))
                    .with_context("column", &column));
                }
                let mut values = values.into_iter().map(coerce).collect::<Result<Vec<_>>>()?;
                values.sort();
                values.dedup();
                Filter::In { column, values }
            }
            Filter::Range { column, gte, lt } => {
                if gte.is_none() && lt.is_none() {
                    return Err(Error::invalid_parameter(format!(
                        "filter `range` on `{column}` has no bound; give `gte`, `lt` or both"
                    ))
                    .with_context("column", &column));
                }
                let gte = gte.map(coerce).transpose()?.filter(|v| !v.is_null());
                let lt = lt.map(coerce).transpose()?.filter(|v| !v.is_null());
                Filter::Range { column, gte, lt }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq_matches_null_and_range_never_does() {
        assert!(Filter::eq("a", Value::Null).matches(&Value::Null));
        let r = Filter::range("a", Some(Value::Int(1)), Some(Value::Int(3)));
        assert!(!r.matches(&Value::Null));
        assert!(r.matches(&Value::Int(1)));
        assert!(r.matches(&Value::Int(2)));
        assert!(!r.matches(&Value::Int(3)));
    }

    #[test]
    fn normalised_coerces_sorts_and_explains() {
        let f = Filter::is_in("ip", ["10.0.0.2", "10.0.0.1", "10.0.0.2"])
            .normalised(DataType::Ip)
            .unwrap();
        let Filter::In { values, .. } = &f else {
            panic!("still an in filter")
        };
        assert_eq!(values.len(), 2);
        assert!(values[0] < values[1]);
        let err = Filter::eq("port", "http")
            .normalised(DataType::Int)
            .unwrap_err();
        assert!(err.message().contains("not a valid int"), "{err}");
        assert_eq!(err.context_value("column"), Some("port"));
        assert!(
            Filter::is_in("a", Vec::<Value>::new())
                .normalised(DataType::Int)
                .is_err()
        );
        assert!(
            Filter::range("a", None, None)
                .normalised(DataType::Int)
                .is_err()
        );
    }

    #[test]
    fn serde_shape_is_tagged_by_op() {
        let json = serde_json::to_string(&Filter::eq("protocol", "TCP")).unwrap();
        assert_eq!(json, r#"{"op":"eq","column":"protocol","value":"TCP"}"#);
    }
}
