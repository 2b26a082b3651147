//! Decodes MySQL / MariaDB result cells into [`Value`]s of a schema's types.
//!
//! Supported: `TINYINT` … `BIGINT`, signed and unsigned (an unsigned value above
//! `i64::MAX` is an error for an integer column, never a wrapped number), `BOOLEAN`
//! (`TINYINT(1)`: 0 and 1), `DECIMAL` (exactly: an integer column takes only whole
//! values that fit 64 bits), `FLOAT`, `DOUBLE`, `CHAR` / `VARCHAR` / `TEXT`, binary
//! strings holding UTF-8 text, `DATETIME` and `TIMESTAMP` (UTC: the session time zone is
//! UTC), `DATE` (midnight UTC), and IP addresses stored as MariaDB's `INET6`, as text or
//! as 4 or 16 bytes (`INET6_ATON`). An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how
//! `INET6` holds IPv4) is read as the IPv4 address. Anything else is an error naming the
//! column and its type, never a panic.

use std::net::IpAddr;

use chrono::{NaiveDate, NaiveDateTime};
use livetable_core::{DataType, Error, Result, Row, Schema, Value};
use sqlx::mysql::{MySqlRow, MySqlTypeInfo, MySqlValueRef};
use sqlx::{Decode, MySql, TypeInfo as _, ValueRef as _};

/// The broad class of a MySQL result type, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Bool,
    Signed,
    Unsigned,
    Float,
    Double,
    Decimal,
    Text,
    Bytes,
    DateTime,
    Date,
    Other,
}

fn class(type_info: &MySqlTypeInfo) -> Class {
    let name = type_info.name();
    match name {
        "BOOLEAN" => Class::Bool,
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => Class::Signed,
        "YEAR" | "BIT" => Class::Unsigned,
        n if n.ends_with(" UNSIGNED") => Class::Unsigned,
        "FLOAT" => Class::Float,
        "DOUBLE" => Class::Double,
        "DECIMAL" => Class::Decimal,
        "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET" => {
            Class::Text
        }
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => Class::Bytes,
        "DATETIME" | "TIMESTAMP" => Class::DateTime,
        "DATE" => Class::Date,
        _ => Class::Other,
    }
}

/// The livetable type of a MySQL type, for inferring a raw statement's schema.
/// `DECIMAL` infers as float (declare the schema for integers); binary strings as text.
pub(crate) fn infer_type(type_info: &MySqlTypeInfo) -> Option<DataType> {
    Some(match class(type_info) {
        Class::Bool => DataType::Bool,
        Class::Signed | Class::Unsigned => DataType::Int,
        Class::Float | Class::Double | Class::Decimal => DataType::Float,
        Class::Text | Class::Bytes => DataType::Text,
        Class::DateTime | Class::Date => DataType::Timestamp,
        Class::Other => return None,
    })
}

/// The error for a column whose MySQL type livetable cannot read.
pub(crate) fn unsupported_type(column: &str, type_info: &MySqlTypeInfo) -> Error {
    Error::invalid_spec(format!(
        "column `{column}` has MySQL type {}, which livetable cannot decode; cast it in the \
         statement to one of SIGNED, DOUBLE, DECIMAL, CHAR or DATETIME",
        type_info.name()
    ))
    .with_context("column", column)
}

/// Decodes one result row into the schema's columns, in order.
pub(crate) fn decode_row(row: &MySqlRow, schema: &Schema) -> Result<Row> {
    crate::shared::decode_row(row, schema, super::error::map, decode_value)
}

/// Decodes one cell into a value of `target`.
pub(crate) fn decode_value(
    raw: MySqlValueRef<'_>,
    type_info: &MySqlTypeInfo,
    column: &str,
    target: DataType,
) -> Result<Value> {
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let fail = |why: String| crate::shared::cell_error(column, type_info.name(), why);
    let de = |e: sqlx::error::BoxDynError| fail(e.to_string());
    let natural = match class(type_info) {
        Class::Bool | Class::Signed => {
            let i = <i64 as Decode<MySql>>::decode(raw).map_err(de)?;
            if target == DataType::Bool {
                return match i {
                    0 => Ok(Value::Bool(false)),
                    1 => Ok(Value::Bool(true)),
                    other => Err(fail(format!("{other} is not a boolean (0 or 1)"))),
                };
            }
            Value::Int(i)
        }
        Class::Unsigned => {
            let u = <u64 as Decode<MySql>>::decode(raw).map_err(de)?;
            match i64::try_from(u) {
                Ok(i) if target == DataType::Bool => {
                    return match i {
                        0 => Ok(Value::Bool(false)),
                        1 => Ok(Value::Bool(true)),
                        other => Err(fail(format!("{other} is not a boolean (0 or 1)"))),
                    };
                }
                Ok(i) => Value::Int(i),
                Err(_) if target == DataType::Float => Value::Float(u as f64),
                Err(_) => {
                    return Err(fail(format!(
                        "{u} does not fit a signed 64-bit integer; declare the column as \
                         float or cast it in the statement"
                    )));
                }
            }
        }
        Class::Float => Value::Float(<f32 as Decode<MySql>>::decode(raw).map_err(de)?.into()),
        Class::Double => Value::Float(<f64 as Decode<MySql>>::decode(raw).map_err(de)?),
        Class::Decimal => {
            let text = <&str as Decode<MySql>>::decode(raw).map_err(de)?;
            return decimal(text, target).map_err(fail);
        }
        Class::Text => {
            let s = <&str as Decode<MySql>>::decode(raw).map_err(de)?;
            if target == DataType::Ip {
                return parse_ip(s).map(Value::Ip).map_err(fail);
            }
            Value::from(s)
        }
        Class::Bytes => {
            let b = <&[u8] as Decode<MySql>>::decode(raw).map_err(de)?;
            if target == DataType::Ip {
                return ip_from_bytes(b).map(Value::Ip).map_err(fail);
            }
            let s = std::str::from_utf8(b)
                .map_err(|e| fail(format!("binary data that is not UTF-8 text: {e}")))?;
            Value::from(s)
        }
        Class::DateTime => {
            let t = <NaiveDateTime as Decode<MySql>>::decode(raw).map_err(de)?;
            Value::Timestamp(t.and_utc())
        }
        Class::Date => {
            let d = <NaiveDate as Decode<MySql>>::decode(raw).map_err(de)?;
            Value::Timestamp(d.and_time(chrono::NaiveTime::MIN).and_utc())
        }
        Class::Other => return Err(unsupported_type(column, type_info)),
    };
    if natural.fits(target) {
        return Ok(natural);
    }
    let shown = format!("{natural:?}");
    target
        .coerce(natural)
        .ok_or_else(|| fail(format!("{shown} is not a valid {target}")))
}

/// An IP address from text; an IPv4-mapped IPv6 address is the IPv4 address.
fn parse_ip(s: &str) -> std::result::Result<IpAddr, String> {
    s.trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .map_err(|_| format!("{s:?} is not an IP address"))
}

/// An IP address from a binary string: 4 bytes are IPv4; other lengths are text (how
/// MariaDB sends `INET6`); 16 bytes are text when they read as an address, else the
/// IPv6 address's bytes (`INET6_ATON`). In a raw statement, select binary addresses as
/// `INET6_NTOA(c)` to leave no doubt.
fn ip_from_bytes(b: &[u8]) -> std::result::Result<IpAddr, String> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        return Ok(IpAddr::from(v4));
    }
    let text = std::str::from_utf8(b).ok().map(parse_ip);
    match (text, <[u8; 16]>::try_from(b)) {
        (Some(Ok(ip)), _) => Ok(ip),
        (_, Ok(v6)) => Ok(IpAddr::from(v6).to_canonical()),
        (Some(Err(e)), _) => Err(e),
        (None, _) => Err(format!(
            "{} bytes are not an IP address (expected 4 or 16, or text)",
            b.len()
        )),
    }
}

/// A `DECIMAL` (its text, `-123.4500`) as an exact integer or a float.
fn decimal(text: &str, target: DataType) -> std::result::Result<Value, String> {
    match target {
        DataType::Int => {
            let (int, frac) = text.split_once('.').unwrap_or((text, ""));
            if frac.bytes().any(|c| c != b'0') {
                return Err(format!("{text} is not an integer"));
            }
            int.parse::<i64>().map(Value::Int).map_err(|_| {
                format!(
                    "{text} does not fit a 64-bit integer (an integer sum overflows; declare \
                     the field as float to sum it)"
                )
            })
        }
        DataType::Float => text
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|e| format!("{text}: {e}")),
        DataType::Text => Ok(Value::from(text)),
        t => Err(format!("{text} is not a valid {t}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_or_refused() {
        assert_eq!(decimal("12.000", DataType::Int).unwrap(), Value::Int(12));
        assert_eq!(decimal("-7", DataType::Int).unwrap(), Value::Int(-7));
        assert!(decimal("12.5", DataType::Int).is_err());
        let e = decimal("18446744073709551614", DataType::Int).unwrap_err();
        assert!(e.contains("64-bit"), "{e}");
        assert_eq!(
            decimal("12.5", DataType::Float).unwrap(),
            Value::Float(12.5)
        );
    }

    #[test]
    fn ips_from_text_and_bytes() {
        let v4: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(parse_ip("::ffff:10.0.0.9").unwrap(), v4);
        assert_eq!(ip_from_bytes(&[10, 0, 0, 9]).unwrap(), v4);
        let mut mapped = [0u8; 16];
        mapped[10] = 0xff;
        mapped[11] = 0xff;
        mapped[12..].copy_from_slice(&[10, 0, 0, 9]);
        assert_eq!(ip_from_bytes(&mapped).unwrap(), v4);
        assert_eq!(
            ip_from_bytes(b"::ffff:10.0.0.10").unwrap(),
            "10.0.0.10".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            ip_from_bytes(b"2001:db8::1").unwrap(),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert!(ip_from_bytes(&[1, 2, 3]).is_err());
        assert!(parse_ip("nope").is_err());
    }
}
