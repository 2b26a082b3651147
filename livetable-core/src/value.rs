//! The cell model: [`Value`] and its [`DataType`].

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The type of a column.
///
/// Serialised in lower case (`"int"`, `"timestamp"`, …) so front ends can format cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DataType {
    /// `true` / `false`.
    Bool,
    /// A signed 64-bit integer.
    Int,
    /// A 64-bit float.
    Float,
    /// UTF-8 text.
    Text,
    /// An instant in UTC.
    Timestamp,
    /// An IPv4 or IPv6 address.
    Ip,
}

impl DataType {
    /// Whether sums and averages make sense over this type.
    pub fn is_numeric(self) -> bool {
        matches!(self, DataType::Int | DataType::Float)
    }

    /// Whether `min` / `max` make sense over this type (numbers and timestamps).
    pub fn is_ordered_quantity(self) -> bool {
        self.is_numeric() || self == DataType::Timestamp
    }

    /// The lower-case name used in serialisation and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::Int => "int",
            DataType::Float => "float",
            DataType::Text => "text",
            DataType::Timestamp => "timestamp",
            DataType::Ip => "ip",
        }
    }

    /// Converts `value` to this type where the conversion loses nothing: the value
    /// itself when it already has this type, `Null` as is, an integer to a float, and
    /// text parsed as a number, boolean, RFC 3339 timestamp or IP address (what a query
    /// string or a JSON body carries). Returns `None` when the value does not fit.
    ///
    /// ```
    /// use livetable_core::{DataType, Value};
    /// assert_eq!(DataType::Ip.coerce(Value::from("10.0.0.1")), Some(Value::Ip("10.0.0.1".parse().unwrap())));
    /// assert_eq!(DataType::Float.coerce(Value::Int(2)), Some(Value::Float(2.0)));
    /// assert_eq!(DataType::Int.coerce(Value::from("ten")), None);
    /// ```
    pub fn coerce(self, value: Value) -> Option<Value> {
        match (self, value) {
            (_, Value::Null) => Some(Value::Null),
            (t, v) if v.data_type() == Some(t) => Some(v),
            (DataType::Float, Value::Int(i)) => Some(Value::Float(i as f64)),
            (DataType::Int, Value::Float(f))
                if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 =>
            {
                Some(Value::Int(f as i64))
            }
            (t, Value::Text(s)) => {
                let s = s.trim();
                match t {
                    DataType::Bool => s.parse().ok().map(Value::Bool),
                    DataType::Int => s.parse().ok().map(Value::Int),
                    DataType::Float => s.parse().ok().map(Value::Float),
                    DataType::Timestamp => DateTime::parse_from_rfc3339(s)
                        .ok()
                        .map(|t| Value::Timestamp(t.with_timezone(&Utc))),
                    DataType::Ip => s.parse().ok().map(Value::Ip),
                    DataType::Text => None, // handled by the same-type arm above
                }
            }
            _ => None,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One cell of a table or one field of an event.
///
/// # Order
/// `Value` is totally ordered so rows can be sorted by any column:
/// - values of different types order by type: `Null` < `Bool` < `Int` < `Float` <
///   `Text` < `Timestamp` < `Ip` (a column holds one type, so this only makes the order
///   total); in particular **`Null` sorts first** in ascending order, last in descending;
/// - floats order numerically, `-0.0 == 0.0`, and **every NaN is equal to every other
///   NaN and greater than every number** (so NaN sorts after `+inf`);
/// - text orders by bytes (UTF-8 code points), not by locale;
/// - IP addresses order IPv4 before IPv6, then numerically.
///
/// Equality and hashing agree with this order, so `Value` can be a map key.
///
/// # Serialisation
/// Values serialise as plain JSON: `null`, `true`, `42`, `1.5`, `"text"`, timestamps as
/// RFC 3339 strings, IP addresses as strings (a non-finite float becomes `null`, as JSON
/// has no NaN). Deserialising reads strings back as [`Value::Text`]; use
/// [`DataType::coerce`] with the column's type to recover timestamps and addresses.
///
/// # Exhaustive on purpose
/// `Value` is not `#[non_exhaustive]`, unlike [`DataType`]: every backend binds and
/// decodes every variant, and a new one must be a compile error in each of them, not a
/// wildcard arm that fails at run time. Adding a variant is a breaking release.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// No value (SQL `NULL`, a missing field).
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// UTF-8 text.
    Text(String),
    /// An instant in UTC.
    Timestamp(DateTime<Utc>),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
}

impl Value {
    /// The type of this value, `None` for `Null`.
    pub fn data_type(&self) -> Option<DataType> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => DataType::Bool,
            Value::Int(_) => DataType::Int,
            Value::Float(_) => DataType::Float,
            Value::Text(_) => DataType::Text,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::Ip(_) => DataType::Ip,
        })
    }

    /// Whether this value is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this value may sit in a column of type `data_type` (`Null` fits any).
    pub fn fits(&self, data_type: DataType) -> bool {
        self.data_type().is_none_or(|t| t == data_type)
    }

    /// The value as a float, for numeric values.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The value as an integer, for `Int` values.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The value as text, for `Text` values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    fn type_rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::Text(_) => 4,
            Value::Timestamp(_) => 5,
            Value::Ip(_) => 6,
        }
    }
}

/// Orders floats as documented on [`Value`]: numerically, `-0.0 == 0.0`, NaN last.
pub(crate) fn cmp_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        // Neither is NaN, so `partial_cmp` is total here.
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => cmp_f64(*a, *b),
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (Value::Ip(a), Value::Ip(b)) => a.cmp(b),
            _ => self.type_rank().cmp(&other.type_rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl Hash for Value {
    // Hot in grouping and diffing: one or two word-sized writes per value rather than
    // the derived hashes' discriminants and length prefixes.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(self.type_rank());
        match self {
            Value::Null => {}
            Value::Bool(b) => state.write_u8(u8::from(*b)),
            Value::Int(i) => state.write_i64(*i),
            Value::Float(f) => {
                // Hash equal floats equally: one NaN, one zero.
                let canonical = if f.is_nan() {
                    f64::NAN.to_bits()
                } else if *f == 0.0 {
                    0
                } else {
                    f.to_bits()
                };
                state.write_u64(canonical)
            }
            Value::Text(s) => s.hash(state),
            Value::Timestamp(t) => {
                state.write_i64(t.timestamp());
                state.write_u32(t.timestamp_subsec_nanos());
            }
            Value::Ip(IpAddr::V4(ip)) => state.write_u32(u32::from(*ip)),
            Value::Ip(IpAddr::V6(ip)) => state.write_u128(u128::from(*ip)),
        }
    }
}

impl fmt::Display for Value {
    /// Plain text for a cell: empty for `Null`, RFC 3339 for timestamps.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => b.fmt(f),
            Value::Int(i) => i.fmt(f),
            Value::Float(x) => x.fmt(f),
            Value::Text(s) => s.fmt(f),
            Value::Timestamp(t) => {
                f.write_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            }
            Value::Ip(ip) => ip.fmt(f),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Value::Int(v.into())
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<DateTime<Utc>> for Value {
    fn from(v: DateTime<Utc>) -> Self {
        Value::Timestamp(v)
    }
}
impl From<IpAddr> for Value {
    fn from(v: IpAddr) -> Self {
        Value::Ip(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn null_sorts_first_and_nan_after_infinity() {
        let mut values = [
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
            Value::Null,
            Value::Float(-1.0),
            Value::Float(0.5),
        ];
        values.sort();
        assert!(values[0].is_null());
        assert_eq!(values[1], Value::Float(-1.0));
        assert_eq!(values[2], Value::Float(0.5));
        assert_eq!(values[3], Value::Float(f64::INFINITY));
        assert!(matches!(values[4], Value::Float(f) if f.is_nan()));
    }

    #[test]
    fn equal_floats_hash_equally() {
        let set: HashSet<Value> = [
            Value::Float(0.0),
            Value::Float(-0.0),
            Value::Float(f64::NAN),
            Value::Float(-f64::NAN),
        ]
        .into_iter()
        .collect();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn ips_order_numerically() {
        let a = Value::Ip("10.0.0.9".parse().unwrap());
        let b = Value::Ip("10.0.0.10".parse().unwrap());
        assert!(a < b);
    }

    #[test]
    fn serialises_as_plain_json() {
        let row = vec![
            Value::Null,
            Value::Int(3),
            Value::from("x"),
            Value::Ip("::1".parse().unwrap()),
            Value::Timestamp(DateTime::from_timestamp(0, 0).unwrap()),
        ];
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"[null,3,"x","::1","1970-01-01T00:00:00Z"]"#
        );
    }

    #[test]
    fn display_is_plain() {
        assert_eq!(Value::Null.to_string(), "");
        assert_eq!(Value::Int(-4).to_string(), "-4");
        assert_eq!(Value::from("a b").to_string(), "a b");
    }

    #[test]
    fn coerce_parses_text_and_refuses_mismatches() {
        assert_eq!(
            DataType::Timestamp.coerce(Value::from("1970-01-01T00:00:01Z")),
            Some(Value::Timestamp(DateTime::from_timestamp(1, 0).unwrap()))
        );
        assert_eq!(DataType::Int.coerce(Value::Float(2.5)), None);
        assert_eq!(DataType::Int.coerce(Value::Float(2.0)), Some(Value::Int(2)));
        assert_eq!(DataType::Bool.coerce(Value::Int(1)), None);
        assert_eq!(DataType::Text.coerce(Value::Null), Some(Value::Null));
    }
}
