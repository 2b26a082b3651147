//! The bucket scenarios both dialects run the same way: the merged buckets of every
//! mergeable metric over the suite's events agree with the direct statement, rows at
//! known UTC times land in their buckets, identifiers are quoted, an overflowing sum
//! fails and distinct counts are refused. Each dialect's `buckets` test adds its own
//! column types and checks.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use livetable_core::{
    Aggregate, AggregateBuilder, BucketQuery, BucketRequest, DataType, ErrorKind, Filter, Metric,
    TableQuery, Value, Window,
};
use livetable_testkit::suite;

use super::dialect::literal;
use super::{Dialect, TestStore, merge};

/// `m` minutes before `anchor`.
pub fn minutes(anchor: DateTime<Utc>, m: i64) -> DateTime<Utc> {
    anchor - TimeDelta::minutes(m)
}

/// Every mergeable metric kind over the suite's columns, grouped by `dims`.
pub fn spec(dims: &[(&str, DataType)]) -> AggregateBuilder {
    let mut b = Aggregate::builder()
        .time_column("ts")
        .window(suite::SPAN)
        .field("size", DataType::Int)
        .field("latency", DataType::Float);
    for (name, t) in dims {
        b = b.dimension(*name, *t);
    }
    b.metric(Metric::count("count"))
        .metric(Metric::sum("bytes", "size"))
        .metric(Metric::avg("avg_size", "size"))
        .metric(Metric::sum("lat_sum", "latency"))
        .metric(Metric::avg("lat", "latency"))
        .metric(Metric::min("smallest", "size"))
        .metric(Metric::max("slowest", "latency"))
        .metric(Metric::max("last", "ts"))
}

/// [`spec`] grouped by every kind of dimension: address, integer, text, bool.
pub fn by_all() -> Aggregate {
    spec(&[
        ("src_ip", DataType::Ip),
        ("port", DataType::Int),
        ("host", DataType::Text),
        ("secure", DataType::Bool),
    ])
    .build()
    .unwrap()
}

/// `q` (over the suite's events ending at `anchor`) agrees with its direct statement:
/// over the whole hour in 1-minute buckets, in 10-second buckets over a cut window,
/// and with an end inside a bucket (the tail of a live table).
pub async fn agree_over_the_hour<Q: BucketQuery + TableQuery>(q: &Q, anchor: DateTime<Utc>) {
    let rows = merge::agree(q, minutes(anchor, 60), anchor, Duration::from_secs(60)).await;
    assert!(
        rows > 1_000,
        "{rows} bucket rows: the data spreads over many buckets"
    );
    merge::agree(
        q,
        minutes(anchor, 45),
        minutes(anchor, 5),
        Duration::from_secs(10),
    )
    .await;
    merge::agree(
        q,
        minutes(anchor, 30),
        minutes(anchor, 20) + TimeDelta::milliseconds(12_345),
        Duration::from_secs(60),
    )
    .await;
}

/// Rows inserted into `table` (the suite's columns) at known UTC times land in those
/// instants' 10-minute buckets, including either side of a bucket edge.
pub async fn known_times_land_in_their_buckets<S: TestStore>(db: &S, table: &str) {
    db.exec(&format!(
        "INSERT INTO {table} (ts, host) VALUES ('2001-02-03 04:05:06.789', 'known'), \
         ('2001-02-03 03:59:59.999', 'before'), ('2001-02-03 04:10:00', 'edge')"
    ))
    .await;
    let q = db
        .query(table, spec(&[("host", DataType::Text)]).build().unwrap())
        .unwrap();
    let at: DateTime<Utc> = "2001-02-03T03:50:00Z".parse().unwrap();
    let mut buckets = q
        .fetch_buckets(&BucketRequest::new(
            Window::new(at, at + TimeDelta::hours(1)).unwrap(),
            Duration::from_secs(600),
        ))
        .await
        .unwrap();
    buckets.sort_by_key(|b| b.start);
    let got: Vec<(String, Value)> = buckets
        .iter()
        .map(|b| (b.start.format("%H:%M").to_string(), b.key[0].clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("03:50".to_owned(), Value::from("before")),
            ("04:00".to_owned(), Value::from("known")),
            ("04:10".to_owned(), Value::from("edge")),
        ]
    );
}

/// The last hour, to the second after now.
fn last_hour() -> Window {
    let now = Utc::now();
    Window::new(now - TimeDelta::hours(1), now + TimeDelta::seconds(1)).unwrap()
}

/// A weird (quoted) dimension with SQL in its name and values buckets as data, and
/// leaves the `victim` table alone; `count_distinct` is refused with an error that
/// says why and what to do. Returns the refused query, for dialect-specific checks.
pub async fn identifiers_are_quoted_and_distinct_counts_refused<S: TestStore>(
    db: &S,
) -> <S::Backend as Dialect>::Query {
    // Both dialects' identifier quotes, a semicolon and SQL.
    const WEIRD: &str = "we\"i`rd'; DROP TABLE victim; --";
    let (t, victim) = (db.table("events"), db.table("victim"));
    let ago = <S::Backend as Dialect>::ago(1, "minute");
    db.exec(&format!(
        "CREATE TABLE {t} (ts {}, {} {}, n {})",
        <S::Backend as Dialect>::TIMESTAMP,
        <S::Backend as Dialect>::quote(WEIRD),
        <S::Backend as Dialect>::TEXT,
        <S::Backend as Dialect>::BIGINT,
    ))
    .await;
    db.exec(&format!(
        "CREATE TABLE {victim} (id {})",
        <S::Backend as Dialect>::INT
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES ({ago}, {}, 1), ({ago}, 'a', 2)",
        literal(&format!("'; DROP TABLE {victim}; --"))
    ))
    .await;
    let spec = |b: AggregateBuilder| {
        b.time_column("ts")
            .window(Duration::from_secs(3600))
            .dimension(WEIRD, DataType::Text)
            .field("n", DataType::Int)
            .metric(Metric::sum("total", "n"))
    };
    let request = BucketRequest::new(last_hour(), Duration::from_secs(10));
    let q = db
        .query(
            &t,
            spec(Aggregate::builder())
                .filter(Filter::is_in(WEIRD, ["a", "'; DROP TABLE x; --"]))
                .build()
                .unwrap(),
        )
        .unwrap();
    let buckets = q.fetch_buckets(&request).await.unwrap();
    assert_eq!(buckets.len(), 1);
    assert_eq!(buckets[0].key, vec![Value::from("a")]);
    assert_eq!(
        db.count(&victim).await,
        0,
        "the victim table is still there"
    );

    let q = db
        .query(
            &t,
            spec(Aggregate::builder())
                .metric(Metric::count_distinct("ns", "n"))
                .build()
                .unwrap(),
        )
        .unwrap();
    let e = q.fetch_buckets(&request).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.message().contains("cannot merge distinct counts"), "{e}");
    assert!(e.message().contains("direct mode"), "{e}");
    q
}

/// Two `i64::MAX` in one bucket: an error, never a wrapped sum.
pub async fn an_integer_sum_that_overflows_a_bucket_is_an_error<S: TestStore>(db: &S) {
    let t = db.table("overflow");
    let ago = <S::Backend as Dialect>::ago(1, "minute");
    db.exec(&format!(
        "CREATE TABLE {t} (ts {}, host {}, n {})",
        <S::Backend as Dialect>::TIMESTAMP,
        <S::Backend as Dialect>::TEXT,
        <S::Backend as Dialect>::BIGINT,
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {t} VALUES ({ago}, 'a', {m}), ({ago}, 'a', {m})",
        m = i64::MAX
    ))
    .await;
    let q = db
        .query(
            &t,
            Aggregate::builder()
                .time_column("ts")
                .window(Duration::from_secs(3600))
                .dimension("host", DataType::Text)
                .field("n", DataType::Int)
                .metric(Metric::sum("total", "n"))
                .build()
                .unwrap(),
        )
        .unwrap();
    let e = q
        .fetch_buckets(&BucketRequest::new(last_hour(), Duration::from_secs(3600)))
        .await
        .unwrap_err();
    assert!(e.message().contains("64-bit"), "{e}");
}
