//! Decodes PostgreSQL result cells into [`Value`]s of a schema's types.
//!
//! Supported: `int2`, `int4`, `int8`, `numeric`, `float4`, `float8`, `text`, `varchar`,
//! `bpchar`, `name`, `bool`, `inet`, `cidr` (single addresses), `timestamptz` and
//! `timestamp` (read as UTC, which is the session time zone sqlx sets). Anything else
//! is an error naming the column and its type, never a panic.

use chrono::{DateTime, TimeDelta, Utc};
use livetable_core::{DataType, Error, Result, Row, Schema, Value};
use sqlx::postgres::{PgRow, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::{Decode, Postgres, TypeInfo as _, ValueRef as _};

// Type OIDs (pg_type.dat); stable across PostgreSQL versions.
const BOOL: u32 = 16;
const NAME: u32 = 19;
const INT8: u32 = 20;
const INT2: u32 = 21;
const INT4: u32 = 23;
const TEXT: u32 = 25;
const CIDR: u32 = 650;
const FLOAT4: u32 = 700;
const FLOAT8: u32 = 701;
const INET: u32 = 869;
const BPCHAR: u32 = 1042;
const VARCHAR: u32 = 1043;
const TIMESTAMP: u32 = 1114;
const TIMESTAMPTZ: u32 = 1184;
const NUMERIC: u32 = 1700;

/// The livetable type of a PostgreSQL type, for inferring a raw statement's schema.
/// `numeric` infers as float (declare the schema, or cast to `int8`, for integers).
pub(crate) fn infer_type(type_info: &PgTypeInfo) -> Option<DataType> {
    Some(match type_info.oid()?.0 {
        BOOL => DataType::Bool,
        INT2 | INT4 | INT8 => DataType::Int,
        FLOAT4 | FLOAT8 | NUMERIC => DataType::Float,
        TEXT | VARCHAR | BPCHAR | NAME => DataType::Text,
        INET | CIDR => DataType::Ip,
        TIMESTAMP | TIMESTAMPTZ => DataType::Timestamp,
        _ => return None,
    })
}

/// The error for a column whose PostgreSQL type livetable cannot read.
pub(crate) fn unsupported_type(column: &str, type_info: &PgTypeInfo) -> Error {
    Error::invalid_spec(format!(
        "column `{column}` has PostgreSQL type {}, which livetable cannot decode; cast it \
         in the statement to one of int8, float8, numeric, text, bool, inet or timestamptz",
        type_info.name()
    ))
    .with_context("column", column)
}

/// Decodes one result row into the schema's columns, in order.
pub(crate) fn decode_row(row: &PgRow, schema: &Schema) -> Result<Row> {
    crate::shared::decode_row(row, schema, crate::error::map, decode_value)
}

/// Decodes one cell into a value of `target`.
/// `type_info` is the result column's type, borrowed from the row so that no cell
/// clones it (that showed in the benchmark).
pub(crate) fn decode_value(
    raw: PgValueRef<'_>,
    type_info: &PgTypeInfo,
    column: &str,
    target: DataType,
) -> Result<Value> {
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let fail = |why: String| crate::shared::cell_error(column, type_info.name(), why);
    if raw.format() != PgValueFormat::Binary {
        // Prepared statements return binary cells; text only comes from the simple
        // query protocol, which this crate does not use.
        return Err(fail("a text-format cell; expected binary".into()));
    }
    let oid = type_info.oid().map_or(0, |o| o.0);
    let de = |e: sqlx::error::BoxDynError| fail(e.to_string());
    let natural = match oid {
        BOOL => Value::Bool(<bool as Decode<Postgres>>::decode(raw).map_err(de)?),
        INT2 => Value::Int(<i16 as Decode<Postgres>>::decode(raw).map_err(de)?.into()),
        INT4 => Value::Int(<i32 as Decode<Postgres>>::decode(raw).map_err(de)?.into()),
        INT8 => Value::Int(<i64 as Decode<Postgres>>::decode(raw).map_err(de)?),
        FLOAT4 => Value::Float(<f32 as Decode<Postgres>>::decode(raw).map_err(de)?.into()),
        FLOAT8 => Value::Float(<f64 as Decode<Postgres>>::decode(raw).map_err(de)?),
        TEXT | VARCHAR | BPCHAR | NAME => {
            Value::from(<&str as Decode<Postgres>>::decode(raw).map_err(de)?)
        }
        INET | CIDR => {
            let net = <sqlx::types::ipnet::IpNet as Decode<Postgres>>::decode(raw).map_err(de)?;
            if net.prefix_len() != net.max_prefix_len() {
                return Err(fail(format!(
                    "{net} is a network, not a single address; select host({column})::inet or \
                     declare the column as text"
                )));
            }
            Value::Ip(net.addr())
        }
        TIMESTAMP | TIMESTAMPTZ => {
            Value::Timestamp(timestamp(raw.as_bytes().map_err(de)?).map_err(fail)?)
        }
        NUMERIC => {
            let n = numeric(raw.as_bytes().map_err(de)?).map_err(fail)?;
            return n.to_value(target).map_err(fail);
        }
        _ => return Err(unsupported_type(column, type_info)),
    };
    if natural.fits(target) {
        return Ok(natural);
    }
    let shown = format!("{natural:?}");
    target
        .coerce(natural)
        .ok_or_else(|| fail(format!("{shown} is not a valid {target}")))
}

/// A binary `timestamp[tz]`: microseconds since 2000-01-01 UTC, big-endian. The
/// infinities and out-of-range values are errors (sqlx's chrono decoder would panic).
fn timestamp(bytes: &[u8]) -> std::result::Result<DateTime<Utc>, String> {
    let micros = i64::from_be_bytes(
        bytes
            .try_into()
            .map_err(|_| format!("a timestamp of {} bytes", bytes.len()))?,
    );
    if micros == i64::MAX || micros == i64::MIN {
        return Err("an infinite timestamp".into());
    }
    // 2000-01-01T00:00:00Z.
    const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;
    DateTime::from_timestamp(PG_EPOCH_UNIX_SECS, 0)
        .and_then(|epoch| epoch.checked_add_signed(TimeDelta::microseconds(micros)))
        .ok_or_else(|| format!("timestamp {micros} µs after 2000 is out of range"))
}

/// A decoded `numeric`: its decimal digits, or a special value.
#[derive(Debug, PartialEq)]
enum Numeric {
    Finite {
        negative: bool,
        /// Digits before the point, without leading zeros (may be empty for 0).
        int: String,
        /// Digits after the point, without trailing zeros.
        frac: String,
    },
    NaN,
    Inf(bool),
}

impl Numeric {
    fn to_value(&self, target: DataType) -> std::result::Result<Value, String> {
        match (self, target) {
            (
                Numeric::Finite {
                    negative,
                    int,
                    frac,
                },
                DataType::Int,
            ) => {
                if !frac.is_empty() {
                    return Err(format!("{} is not an integer", self.text()));
                }
                let digits = if int.is_empty() { "0" } else { int };
                let text = if *negative {
                    format!("-{digits}")
                } else {
                    digits.to_owned()
                };
                text.parse::<i64>()
                    .map(Value::Int)
                    .map_err(|_| format!("{text} does not fit a 64-bit integer"))
            }
            (Numeric::Finite { .. }, DataType::Float) => self
                .text()
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|e| e.to_string()),
            (Numeric::NaN, DataType::Float) => Ok(Value::Float(f64::NAN)),
            (Numeric::Inf(neg), DataType::Float) => Ok(Value::Float(if *neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })),
            (_, t) => Err(format!("{} is not a valid {t}", self.text())),
        }
    }

    fn text(&self) -> String {
        match self {
            Numeric::Finite {
                negative,
                int,
                frac,
            } => {
                let sign = if *negative { "-" } else { "" };
                let int = if int.is_empty() { "0" } else { int };
                if frac.is_empty() {
                    format!("{sign}{int}")
                } else {
                    format!("{sign}{int}.{frac}")
                }
            }
            Numeric::NaN => "NaN".into(),
            Numeric::Inf(neg) => if *neg { "-Infinity" } else { "Infinity" }.into(),
        }
    }
}

/// The binary `numeric` format: ndigits, weight, sign, dscale (16 bits each), then
/// `ndigits` base-10000 digits; the value is `sum(digit[i] * 10000^(weight - i))`.
///
/// Decoded by hand (about 40 lines) rather than through `rust_decimal` or `bigdecimal`:
/// livetable only needs an `i64` or an `f64`, and a numeric may exceed
/// `rust_decimal`'s 28 digits.
fn numeric(bytes: &[u8]) -> std::result::Result<Numeric, String> {
    let word = |i: usize| -> std::result::Result<u16, String> {
        bytes
            .get(2 * i..2 * i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a truncated numeric".to_owned())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Ok(Numeric::NaN),
        0xD000 => return Ok(Numeric::Inf(false)),
        0xF000 => return Ok(Numeric::Inf(true)),
        other => return Err(format!("a numeric with sign word {other:#06x}")),
    }
    let mut int = String::new();
    let mut frac = String::new();
    // Base-10000 digit `i` has weight `weight - i`; weights >= 0 are before the point.
    let last_weight = weight.min(-1).min(weight - ndigits as i64 + 1);
    let mut w = weight.max(0);
    while w >= last_weight {
        let i = weight - w;
        let digit = if (0..ndigits as i64).contains(&i) {
            word(4 + i as usize)?
        } else {
            0
        };
        if digit >= 10_000 {
            return Err(format!("a numeric digit of {digit}"));
        }
        let group = format!("{digit:04}");
        if w >= 0 {
            int.push_str(&group)
        } else {
            frac.push_str(&group)
        }
        w -= 1;
    }
    let int = int.trim_start_matches('0').to_owned();
    let frac = frac.trim_end_matches('0').to_owned();
    let negative = sign == 0x4000 && !(int.is_empty() && frac.is_empty());
    Ok(Numeric::Finite {
        negative,
        int,
        frac,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn enc(ndigits: u16, weight: i16, sign: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [ndigits, weight as u16, sign, 0] {
            b.extend(w.to_be_bytes());
        }
        for d in digits {
            b.extend(d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numerics_decode_to_ints_and_floats() {
        // 123456789 = 1 * 10000^2 + 2345 * 10000 + 6789
        let n = numeric(&enc(3, 2, 0, &[1, 2345, 6789])).unwrap();
        assert_eq!(n.to_value(DataType::Int).unwrap(), Value::Int(123_456_789));
        // -12.5 = -(12 + 5000 * 10000^-1)
        let n = numeric(&enc(2, 0, 0x4000, &[12, 5000])).unwrap();
        assert_eq!(n.to_value(DataType::Float).unwrap(), Value::Float(-12.5));
        assert!(n.to_value(DataType::Int).is_err());
        // 0.0003 = 3 * 10000^-1 ... with weight -1
        let n = numeric(&enc(1, -1, 0, &[3])).unwrap();
        assert_eq!(n.to_value(DataType::Float).unwrap(), Value::Float(0.0003));
        // 0.000007 = 700 * 10000^-2
        let n = numeric(&enc(1, -2, 0, &[700])).unwrap();
        assert_eq!(n.text(), "0.000007");
        // 10^20 overflows i64 but not f64; 2 * 10000^5
        let n = numeric(&enc(1, 5, 0, &[2])).unwrap();
        assert!(n.to_value(DataType::Int).unwrap_err().contains("64-bit"));
        assert_eq!(n.to_value(DataType::Float).unwrap(), Value::Float(2e20));
        assert_eq!(
            numeric(&enc(0, 0, 0, &[]))
                .unwrap()
                .to_value(DataType::Int)
                .unwrap(),
            Value::Int(0)
        );
        assert_eq!(numeric(&enc(0, 0, 0xC000, &[])).unwrap(), Numeric::NaN);
        assert!(numeric(&[0, 1]).is_err());
    }

    #[test]
    fn timestamps_reject_infinity() {
        assert!(timestamp(&i64::MAX.to_be_bytes()).is_err());
        assert_eq!(
            timestamp(&0i64.to_be_bytes()).unwrap().to_rfc3339(),
            "2000-01-01T00:00:00+00:00"
        );
        assert!(timestamp(&[1, 2]).is_err());
    }
}
