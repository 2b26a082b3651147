//! The MySQL / MariaDB [`Dialect`]: what its statements spell differently from
//! PostgreSQL's (see the table in `crate::dialect`).

use std::net::IpAddr;

use livetable_core::{DataType, Direction, Error, MetricKind, Result, Value};

use crate::dialect::{Binder, Col, Dialect, Param, Slot, Storage, bad_ident, check_ident};

/// MySQL and MariaDB (5.7+ / 10.5+ for `INET6`).
#[derive(Debug)]
pub(crate) struct MySql;

/// MySQL and MariaDB reject identifiers longer than 64 characters.
const MAX_IDENT_CHARS: usize = 64;

/// The byte-order key of a text column: its characters as UTF-8 bytes, whatever the
/// column's character set and collation (the defaults are case- and accent-insensitive
/// and ignore trailing spaces, which would merge groups and change the order).
fn text_key(q: &str) -> String {
    format!("CAST(CONVERT({q} USING utf8mb4) AS BINARY)")
}

/// The order key of an IP address: `0x04 ‖ 4 bytes` for IPv4, `0x06 ‖ 16 bytes` for
/// IPv6, so that byte order is `Value`'s order (IPv4 first, then by address).
pub(crate) fn ip_sort_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => std::iter::once(4).chain(a.octets()).collect(),
        IpAddr::V6(a) => std::iter::once(6).chain(a.octets()).collect(),
    }
}

/// The SQL for the sort key of address bytes `b` (4 or 16 bytes): an IPv4-mapped IPv6
/// address is keyed as its IPv4 address, as the decoder reads it.
fn ip_key(b: &str) -> String {
    format!(
        "IF(IS_IPV4_MAPPED({b}), CONCAT(X'04', SUBSTR({b}, 13)), \
         CONCAT(IF(LENGTH({b}) = 4, X'04', X'06'), {b}))"
    )
}

impl Dialect for MySql {
    fn name(&self) -> &'static str {
        "MySQL"
    }

    fn backend(&self) -> &'static str {
        super::error::BACKEND
    }

    fn quote_ident(&self, name: &str, what: &str) -> Result<String> {
        check_ident(name, what, self.name())?;
        if name.chars().count() > MAX_IDENT_CHARS {
            return Err(bad_ident(
                name,
                what,
                "is longer than MySQL's 64-character identifier limit",
            ));
        }
        if name.ends_with(' ') {
            return Err(bad_ident(
                name,
                what,
                "ends with a space, which MySQL identifiers cannot",
            ));
        }
        Ok(format!("`{}`", name.replace('`', "``")))
    }

    fn placeholder(&self, _n: usize) -> String {
        "?".to_owned()
    }

    fn key(&self, c: &Col) -> String {
        match c.t {
            DataType::Text => text_key(&c.q),
            _ => c.q.clone(),
        }
    }

    fn select(&self, c: &Col) -> String {
        // IPs are selected as text in every storage: INET6 and VARBINARY(16) both
        // arrive as binary strings of up to 16 bytes, which bytes alone cannot tell
        // apart.
        match (c.t, c.storage) {
            (DataType::Ip, Storage::IpBinary) => format!("INET6_NTOA({})", c.q),
            (DataType::Ip, Storage::Inet6) => format!("CAST({} AS CHAR)", c.q),
            _ => self.key(c),
        }
    }

    fn sort_key(&self, c: &Col) -> String {
        let q = &c.q;
        match (c.t, c.storage) {
            (DataType::Text, _) => text_key(q),
            (DataType::Ip, Storage::IpBinary) => ip_key(q),
            (DataType::Ip, Storage::IpText) => ip_key(&format!("INET6_ATON({q})")),
            // INET6 holds IPv4 as ::ffff:a.b.c.d.
            (DataType::Ip, _) => ip_key(&format!("CAST({q} AS BINARY(16))")),
            _ => q.clone(),
        }
    }

    fn order(&self, expr: &str, dir: Direction) -> String {
        // MySQL sorts NULL as the smallest value: first ascending, last descending,
        // which is `Value`'s order (there is no NULLS FIRST / LAST to write).
        match dir {
            Direction::Asc => format!("{expr} ASC"),
            Direction::Desc => format!("{expr} DESC"),
        }
    }

    fn key_param(&self, c: &Col, v: &Value) -> Param {
        match (v, c.storage) {
            (Value::Ip(ip), Storage::IpBinary) => Param::Bytes(match ip {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            }),
            // INET6 does not take an IPv4 literal, only its mapped form.
            (Value::Ip(IpAddr::V4(a)), Storage::Inet6) => {
                Param::Value(Value::Text(format!("::ffff:{a}")))
            }
            (Value::Ip(ip), _) => Param::Value(Value::Text(ip.to_string())),
            (v, _) => Param::Value(v.clone()),
        }
    }

    fn sort_key_param(&self, c: &Col, v: &Value) -> Param {
        match v {
            Value::Ip(ip) => Param::Bytes(ip_sort_bytes(ip)),
            v => self.key_param(c, v),
        }
    }

    fn metric(&self, kind: MetricKind, c: Option<&Col>) -> Option<String> {
        Some(match (kind, c) {
            (MetricKind::Count, _) => "COUNT(*)".to_owned(),
            // SUM of integers is a DECIMAL(65): it cannot wrap, and the decoder fails
            // when it does not fit 64 bits.
            (MetricKind::Sum, Some(c)) => format!("SUM({})", c.q),
            // AVG of integers is a DECIMAL rounded to 4 places; `+ 0E0` makes it a
            // DOUBLE average like every other store's.
            (MetricKind::Avg, Some(c)) => format!("AVG({} + 0E0)", c.q),
            (MetricKind::Min, Some(c)) => format!("MIN({})", c.q),
            (MetricKind::Max, Some(c)) => format!("MAX({})", c.q),
            (MetricKind::CountDistinct, Some(c)) => format!("COUNT(DISTINCT {})", self.key(c)),
            _ => return None,
        })
    }

    fn bucket(&self, time: &str, b: &mut Binder) -> String {
        // Epoch seconds of the bucket start. TIMESTAMPDIFF from the epoch reads a
        // DATETIME as written (UTC by convention) and a TIMESTAMP in the session time
        // zone, which the backend sets to UTC; unlike UNIX_TIMESTAMP it has no 2038
        // limit on MariaDB before 11.5 and does not depend on the session time zone
        // for DATETIME.
        let w1 = b.bind(Slot::Width);
        let w2 = b.bind(Slot::Width);
        format!("FLOOR(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {time}) / {w1}) * {w2}")
    }

    fn bucket_type(&self) -> DataType {
        DataType::Int
    }

    fn width_param(&self, width: std::time::Duration) -> Result<Param> {
        if width.subsec_nanos() != 0 || width.is_zero() {
            return Err(Error::invalid_parameter(format!(
                "a bucket width of {width:?}: MySQL buckets are whole seconds"
            )));
        }
        Ok(Param::Seconds(
            i64::try_from(width.as_secs()).unwrap_or(i64::MAX),
        ))
    }

    fn limit(&self, n: Option<i64>, b: &mut Binder) -> String {
        match n {
            Some(n) => format!(" LIMIT {}", b.value(Param::Limit(Some(n)))),
            None => String::new(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::Storages;
    use crate::statements::Statements;
    use chrono::Utc;
    use livetable_core::{Aggregate, FetchContext, Filter, Metric, Window};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn quotes_with_backticks_and_rejects_what_mysql_cannot_hold() {
        assert_eq!(MySql.quote_ident("a`b", "column").unwrap(), "`a``b`");
        assert!(MySql.quote_ident(&"x".repeat(65), "column").is_err());
        assert!(MySql.quote_ident("x ", "column").is_err());
        assert!(MySql.quote_ident("", "column").is_err());
    }

    #[test]
    fn ip_sort_keys_order_like_values() {
        let ips: Vec<IpAddr> = [
            "10.0.0.9",
            "10.0.0.10",
            "255.255.255.255",
            "::1",
            "2001:db8::1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let keys: Vec<Vec<u8>> = ips.iter().map(ip_sort_bytes).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn renders_positional_placeholders_and_byte_order_keys() {
        let spec = Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(60))
            .dimension("host", DataType::Text)
            .dimension("ip", DataType::Ip)
            .field("size", DataType::Int)
            .metric(Metric::count("n"))
            .metric(Metric::sum("bytes", "size"))
            .filter(Filter::is_in(
                "host",
                [Value::from("a"), Value::from("b"), Value::Null],
            ))
            .order_by("bytes", Direction::Desc)
            .build()
            .unwrap();
        let storage = Storages::new(vec![("ip".to_owned(), Storage::IpBinary)], Storage::Native);
        let st = Statements::new(&MySql, "db.t", Arc::new(spec), storage).unwrap();
        let window = Window::ending_at(Utc::now(), Duration::from_secs(60)).unwrap();
        let r = st
            .direct(None)
            .unwrap()
            .render(&FetchContext::new(window))
            .unwrap();
        let host = "CAST(CONVERT(`host` USING utf8mb4) AS BINARY)";
        assert_eq!(
            r.sql,
            format!(
                "SELECT {host} AS `host`, INET6_NTOA(`ip`) AS `ip`, COUNT(*) AS `n`, SUM(`size`) AS `bytes` \
                 FROM `db`.`t` WHERE `ts` >= ? AND `ts` < ? \
                 AND ({host} IN (?, ?) OR `host` IS NULL) \
                 GROUP BY {host}, `ip` \
                 ORDER BY 4 DESC, {host} ASC, {} ASC",
                ip_key("`ip`")
            )
        );
        assert_eq!(r.params.len(), 4, "no LIMIT parameter without a limit");
        // Grouped by the address: the host, left out, is still filtered on.
        let by_ip = FetchContext::new(window)
            .with_filters(vec![Filter::eq("host", "a")])
            .with_group_by(Some(vec![1]));
        let r = st.direct(Some(&[1])).unwrap().render(&by_ip).unwrap();
        assert_eq!(
            r.sql,
            format!(
                "SELECT INET6_NTOA(`ip`) AS `ip`, COUNT(*) AS `n`, SUM(`size`) AS `bytes` \
                 FROM `db`.`t` WHERE `ts` >= ? AND `ts` < ? \
                 AND ({host} IN (?, ?) OR `host` IS NULL) AND {host} = ? \
                 GROUP BY `ip` ORDER BY 3 DESC, {} ASC",
                ip_key("`ip`")
            )
        );
        let b = st.bucket().unwrap();
        assert!(
            b.sql().starts_with(
                "SELECT FLOOR(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', `ts`) / ?) * ?, "
            ),
            "{}",
            b.sql()
        );
        let r = b
            .render(&livetable_core::BucketRequest::new(
                window,
                Duration::from_secs(10),
            ))
            .unwrap();
        assert_eq!(&r.params[..2], &[Param::Seconds(10), Param::Seconds(10)]);
        assert!(
            b.render(&livetable_core::BucketRequest::new(
                window,
                Duration::from_millis(1500)
            ))
            .is_err()
        );
    }
}
