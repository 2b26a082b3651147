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
/// Not `#[non_exhaustive]`, on purpose (as [`Value`]): every backend translates every
/// filter, and a new kind must be a compile error in each translation rather than a
/// wildcard arm that refuses it at run time. Adding a variant is a breaking release.
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
        /// The values to match, **sorted ascending without duplicates**:
        /// [`matches`](Filter::matches) binary-searches them. [`Filter::is_in`],
        /// [`Filter::normalised`] and deserialisation leave them so; a filter built
        /// by hand with unsorted values must be normalised before use.
        #[serde(deserialize_with = "sorted_values")]
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

    /// `column IN (values)`; the values are sorted and deduplicated.
    pub fn is_in<V: Into<Value>>(
        column: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let mut values: Vec<Value> = values.into_iter().map(Into::into).collect();
        values.sort_unstable();
        values.dedup();
        Filter::In {
            column: column.into(),
            values,
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

    /// Whether a value of the filtered column passes. O(log n) for an `In` of n
    /// values (a binary search of the sorted values), O(1) otherwise.
    pub fn matches(&self, v: &Value) -> bool {
        match self {
            Filter::Eq { value, .. } => v == value,
            Filter::In { values, .. } => values.binary_search(v).is_ok(),
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

/// Deserialises `In` values sorted and deduplicated, as [`Filter::matches`] needs.
fn sorted_values<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<Value>, D::Error> {
    let mut values = Vec::<Value>::deserialize(d)?;
    values.sort_unstable();
    values.dedup();
    Ok(values)
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
    fn in_matches_by_binary_search_whatever_the_input_order() {
        // Built, deserialised and normalised filters all match the same values.
        let values: Vec<i64> = (0..1024).map(|i| (i * 7919) % 65536).collect();
        let built = Filter::is_in("port", values.iter().copied());
        let json = format!(
            r#"{{"op":"in","column":"port","values":{}}}"#,
            serde_json::to_string(&values).unwrap()
        );
        let parsed: Filter = serde_json::from_str(&json).unwrap();
        let normalised = Filter::In {
            column: "port".into(),
            values: values.iter().rev().map(|&v| Value::Int(v)).collect(),
        }
        .normalised(DataType::Int)
        .unwrap();
        for f in [&built, &parsed, &normalised] {
            for probe in 0..65536i64 {
                assert_eq!(
                    f.matches(&Value::Int(probe)),
                    values.contains(&probe),
                    "{probe}"
                );
            }
        }
        assert_eq!(built, parsed);
    }

    #[test]
    fn large_in_filters_cost_log_n_comparisons() {
        // A value whose comparisons are counted would need a new Value; instead, time
        // the worst case against a 1-value filter in the same run: a linear scan of
        // 4,096 values is over 100x slower, a binary search about 12 comparisons.
        let big = Filter::is_in("k", (0..4096).map(|i| i * 2));
        let small = Filter::is_in("k", [0i64]);
        let probes: Vec<Value> = (0..20_000).map(|i| Value::Int(i * 2 + 1)).collect();
        // The best of several runs: a busy machine only slows a run down.
        let time = |f: &Filter| {
            (0..7)
                .map(|_| {
                    let start = std::time::Instant::now();
                    let n = probes.iter().filter(|p| f.matches(p)).count();
                    assert_eq!(n, 0);
                    start.elapsed()
                })
                .min()
                .unwrap()
        };
        let (t_big, t_small) = (time(&big), time(&small));
        assert!(
            t_big < t_small * 40,
            "a 4,096-value `in` took {t_big:?}, a 1-value one {t_small:?}"
        );
    }

    #[test]
    fn serde_shape_is_tagged_by_op() {
        let json = serde_json::to_string(&Filter::eq("protocol", "TCP")).unwrap();
        assert_eq!(json, r#"{"op":"eq","column":"protocol","value":"TCP"}"#);
    }
}
