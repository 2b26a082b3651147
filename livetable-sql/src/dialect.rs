//! What differs between the SQL dialects, and only that.
//!
//! The statement builder (`statement.rs`) writes one statement shape for every store:
//! `SELECT keys, metrics FROM table WHERE time >= ? AND time < ? AND filters GROUP BY
//! keys ORDER BY … LIMIT ?`, and its bucketed form. Everything a dialect must spell its
//! own way goes through [`Dialect`]:
//!
//! | concern | PostgreSQL | MySQL / MariaDB |
//! |---|---|---|
//! | identifier quoting | `"a""b"`, 63 bytes | `` `a``b` ``, 64 characters |
//! | placeholders | `$1`, `$2`, … | `?` |
//! | text: group, match, order by bytes | deterministic default collation; `COLLATE "C"` to order | `CAST(CONVERT(c USING utf8mb4) AS BINARY)` (the default collations are case- and accent-insensitive) |
//! | `Null` first ascending, last descending | `NULLS FIRST` / `NULLS LAST` written out | the default (`NULL` is the smallest value) |
//! | IP addresses | `inet`, ordered by family then address | `INET6`, text or `VARBINARY(16)`: ordered by a `family ‖ address` byte key |
//! | `in` | `= ANY($n)` with one array parameter | `IN (?, …)`, one parameter per value |
//! | integer `sum` | `sum(c)::int8` (the cast fails on overflow) | `SUM(c)` is a `DECIMAL`; decoding fails when it does not fit 64 bits |
//! | `avg` | `avg(c)::float8` | `AVG(c + 0E0)` (a `DOUBLE`; `AVG` of integers is a `DECIMAL` rounded to 4 places) |
//! | time bucket | `date_bin($n::interval, t, '1970-01-01 00:00:00+00')` | `FLOOR(TIMESTAMPDIFF(SECOND, '1970-01-01', t) / ?) * ?` (epoch seconds) |
//! | no limit | `LIMIT NULL` | no `LIMIT` clause |

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use livetable_core::{DataType, Direction, MetricKind, Result, Value};

/// How a column's values are stored, where a dialect has several ways for one
/// livetable type. PostgreSQL has one way for each ([`Storage::Native`]); MySQL has
/// three for IP addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(not(feature = "mysql"), allow(dead_code))] // the other storages are MySQL's
pub(crate) enum Storage {
    /// The store's own type for the livetable type.
    #[default]
    Native,
    /// An IP address as text (`VARCHAR`, `CHAR`, `TEXT`; MariaDB's `INET4`, which
    /// converts from and to text).
    IpText,
    /// An IP address as 4 or 16 bytes (`VARBINARY(16)`, what `INET6_ATON` returns).
    IpBinary,
    /// MariaDB's `INET6` (IPv4 addresses are held as `::ffff:a.b.c.d`).
    Inet6,
}

/// How the store holds each column: by name (matched without case, as MySQL matches
/// column names), and one storage for the others. The default is
/// [`Storage::Native`] for every column.
#[derive(Clone, Debug, Default)]
pub(crate) struct Storages {
    columns: Vec<(String, Storage)>,
    others: Storage,
}

impl Storages {
    /// `columns` stored as said, every other column as `others`.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))] // PostgreSQL's are all native
    pub(crate) fn new(columns: Vec<(String, Storage)>, others: Storage) -> Self {
        Storages { columns, others }
    }

    /// How the store holds the column `name`.
    pub(crate) fn of(&self, name: &str) -> Storage {
        self.columns
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(self.others, |(_, s)| *s)
    }
}

/// A column as the builder sees it: quoted name, livetable type, storage.
#[derive(Clone, Debug)]
pub(crate) struct Col {
    /// The quoted identifier.
    pub(crate) q: String,
    /// The livetable type.
    pub(crate) t: DataType,
    /// How the store holds it.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))] // read by the MySQL dialect
    pub(crate) storage: Storage,
}

/// One bind parameter, before a driver encodes it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "mysql"), allow(dead_code))] // `Bytes` and `Seconds` are MySQL's
pub(crate) enum Param {
    /// A timestamp (the window bounds).
    Time(DateTime<Utc>),
    /// A filter value (never `Null`: a `Null` is matched with `IS NULL`).
    Value(Value),
    /// Raw bytes (an IP address stored as bytes, or an IP sort key).
    Bytes(Vec<u8>),
    /// The values of an `in` filter as one array (PostgreSQL).
    Array(DataType, Vec<Value>),
    /// A row limit; `None` is no limit.
    Limit(Option<i64>),
    /// A bucket width, as an interval (PostgreSQL).
    Interval(std::time::Duration),
    /// A bucket width in whole seconds (MySQL).
    Seconds(i64),
}

/// A parameter known when the statement is built, or one of the values each fetch
/// gives.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Slot {
    /// The window's start.
    Start,
    /// The window's end.
    End,
    /// The bucket width.
    Width,
    /// A value fixed by the spec (a static filter's).
    Fixed(Param),
}

/// Collects the parameters of a statement in the order the text uses them and writes
/// their placeholders.
#[derive(Clone, Debug)]
pub(crate) struct Binder {
    dialect: &'static dyn Dialect,
    pub(crate) slots: Vec<Slot>,
}

impl Binder {
    pub(crate) fn new(dialect: &'static dyn Dialect) -> Self {
        Binder {
            dialect,
            slots: Vec::new(),
        }
    }

    /// Adds a parameter and returns its placeholder.
    pub(crate) fn bind(&mut self, slot: Slot) -> String {
        self.slots.push(slot);
        self.dialect.placeholder(self.slots.len())
    }

    /// Adds a fixed parameter and returns its placeholder.
    pub(crate) fn value(&mut self, p: Param) -> String {
        self.bind(Slot::Fixed(p))
    }
}

/// The spelling of one SQL dialect; see the module docs for the table of differences.
pub(crate) trait Dialect: Debug + Send + Sync {
    /// The store's name in messages (`PostgreSQL`).
    fn name(&self) -> &'static str;

    /// The `backend` context value of errors (`postgres`).
    fn backend(&self) -> &'static str;

    /// Quotes one identifier, or says why the store cannot hold it.
    fn quote_ident(&self, name: &str, what: &str) -> Result<String>;

    /// The placeholder of the `n`-th parameter (1-based).
    fn placeholder(&self, n: usize) -> String;

    /// The expression a dimension is grouped and matched (`=`, `in`) by.
    fn key(&self, c: &Col) -> String;

    /// The expression a dimension is selected as (a function of its
    /// [`key`](Dialect::key), in a form the decoder reads unambiguously).
    fn select(&self, c: &Col) -> String {
        self.key(c)
    }

    /// The expression a column is ordered and range-compared by, in [`Value`]'s order
    /// (except `Null`, which [`order`](Dialect::order) places).
    fn sort_key(&self, c: &Col) -> String;

    /// `expr` in ORDER BY with `Null` first ascending and last descending.
    fn order(&self, expr: &str, dir: Direction) -> String;

    /// The parameter compared with [`key`](Dialect::key) for a non-null value.
    fn key_param(&self, c: &Col, v: &Value) -> Param {
        let _ = c;
        Param::Value(v.clone())
    }

    /// The parameter compared with [`sort_key`](Dialect::sort_key) for a non-null
    /// value.
    fn sort_key_param(&self, c: &Col, v: &Value) -> Param {
        self.key_param(c, v)
    }

    /// `key IN (values)`, binding the values (non-null, at least one).
    fn in_list(&self, key: &str, c: &Col, values: &[Value], b: &mut Binder) -> String {
        let placeholders: Vec<String> = values
            .iter()
            .map(|v| b.value(self.key_param(c, v)))
            .collect();
        format!("{key} IN ({})", placeholders.join(", "))
    }

    /// The expression of a metric over its input column (`None` for `count`); `None`
    /// when the dialect cannot compute it.
    fn metric(&self, kind: MetricKind, c: Option<&Col>) -> Option<String>;

    /// The start of the time bucket of `time` (binding the width).
    fn bucket(&self, time: &str, b: &mut Binder) -> String;

    /// The type the bucket expression is decoded as: a timestamp, or epoch seconds as
    /// an integer.
    fn bucket_type(&self) -> DataType;

    /// The parameter a bucket width is bound as.
    fn width_param(&self, width: std::time::Duration) -> Result<Param>;

    /// ` LIMIT …` for a limit (or none).
    fn limit(&self, n: Option<i64>, b: &mut Binder) -> String;
}

/// PostgreSQL (14+: `date_bin`).
#[derive(Debug)]
pub(crate) struct Postgres;

/// PostgreSQL truncates longer identifiers (NAMEDATALEN - 1), which could silently
/// name another column.
const PG_MAX_IDENT_BYTES: usize = 63;

impl Dialect for Postgres {
    fn name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn backend(&self) -> &'static str {
        crate::error::BACKEND
    }

    fn quote_ident(&self, name: &str, what: &str) -> Result<String> {
        check_ident(name, what, self.name())?;
        if name.len() > PG_MAX_IDENT_BYTES {
            return Err(bad_ident(
                name,
                what,
                "is longer than PostgreSQL's 63-byte identifier limit",
            ));
        }
        Ok(format!("\"{}\"", name.replace('"', "\"\"")))
    }

    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    fn key(&self, c: &Col) -> String {
        c.q.clone()
    }

    fn sort_key(&self, c: &Col) -> String {
        // Text compares bytes, like `Value`'s order; `inet` already orders by family
        // then address.
        if c.t == DataType::Text {
            format!("{} COLLATE \"C\"", c.q)
        } else {
            c.q.clone()
        }
    }

    fn order(&self, expr: &str, dir: Direction) -> String {
        match dir {
            Direction::Asc => format!("{expr} ASC NULLS FIRST"),
            Direction::Desc => format!("{expr} DESC NULLS LAST"),
        }
    }

    fn in_list(&self, key: &str, c: &Col, values: &[Value], b: &mut Binder) -> String {
        let n = b.value(Param::Array(c.t, values.to_vec()));
        format!("{key} = ANY({n})")
    }

    fn metric(&self, kind: MetricKind, c: Option<&Col>) -> Option<String> {
        Some(match (kind, c) {
            (MetricKind::Count, _) => "count(*)".to_owned(),
            // The cast fails instead of wrapping when the sum overflows 64 bits.
            (MetricKind::Sum, Some(c)) if c.t == DataType::Int => format!("sum({})::int8", c.q),
            (MetricKind::Sum, Some(c)) => format!("sum({})::float8", c.q),
            (MetricKind::Avg, Some(c)) => format!("avg({})::float8", c.q),
            (MetricKind::Min, Some(c)) => format!("min({})", c.q),
            (MetricKind::Max, Some(c)) => format!("max({})", c.q),
            (MetricKind::CountDistinct, Some(c)) => format!("count(DISTINCT {})", c.q),
            _ => return None,
        })
    }

    fn bucket(&self, time: &str, b: &mut Binder) -> String {
        // The origin is an untyped literal, so it takes the time column's type: a
        // `timestamptz` origin for a `timestamptz` column (the epoch, whatever the
        // session time zone), a `timestamp` origin for a `timestamp` column (whose
        // values are then taken as UTC: store UTC in it).
        let w = b.bind(Slot::Width);
        format!("date_bin({w}::interval, {time}, '1970-01-01 00:00:00+00')")
    }

    fn bucket_type(&self) -> DataType {
        DataType::Timestamp
    }

    fn width_param(&self, width: std::time::Duration) -> Result<Param> {
        Ok(Param::Interval(width))
    }

    fn limit(&self, n: Option<i64>, b: &mut Binder) -> String {
        // `LIMIT NULL` is no limit, so every view shape shares one statement text.
        format!(" LIMIT {}", b.value(Param::Limit(n)))
    }
}

/// The checks every dialect makes on an identifier.
pub(crate) fn check_ident(name: &str, what: &str, store: &str) -> Result<()> {
    if name.is_empty() {
        return Err(bad_ident(name, what, "is empty"));
    }
    if name.contains('\0') {
        return Err(bad_ident(
            name,
            what,
            &format!("contains a NUL character, which {store} identifiers cannot hold"),
        ));
    }
    Ok(())
}

/// The error for an identifier the store cannot hold.
pub(crate) fn bad_ident(name: &str, what: &str, why: &str) -> livetable_core::Error {
    livetable_core::Error::invalid_spec(format!("{what} `{}` {why}", name.escape_debug()))
        .with_context("column", name)
}
