//! `EsAggregate` as a `BucketQuery`: the bucketed composite request (a `date_histogram`
//! source first, then the dimensions' `terms` sources), its paging, the partials read
//! back, and every way it must fail rather than return part of the data — against a
//! scripted stand-in that checks each request body, then against the evaluating
//! stand-in, where the buckets of a window must add up to what the direct fetch
//! returns for it.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use livetable_core::{
    Aggregate, BucketQuery, BucketRequest, BucketRow, DataType, ErrorKind, FetchContext, Filter,
    Metric, Partial, TableQuery, Value, Window,
};
use livetable_testkit::suite::cells_match;
use livetable_testkit::workload::packets_builder;
use serde_json::{Value as Json, json};
use support::eval::Index;
use support::{Answer, FakeEs};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn ms(s: &str) -> i64 {
    t(s).timestamp_millis()
}

fn ip(s: &str) -> Value {
    Value::Ip(s.parse::<IpAddr>().unwrap())
}

const WIDTH: Duration = Duration::from_secs(10);

/// A tail: from a bucket edge to a time inside a bucket.
fn tail() -> Window {
    Window::new(t("2026-11-28T11:59:30Z"), t("2026-11-28T12:00:05.25Z")).unwrap()
}

fn request() -> BucketRequest {
    BucketRequest::new(tail(), WIDTH)
}

/// Every mergeable metric, on an int field and a float one, and a static filter.
fn spec() -> Aggregate {
    packets_builder(&[("source_ip", DataType::Ip), ("protocol", DataType::Text)])
        .field("rtt", DataType::Float)
        .metric(Metric::avg("avg_size", "size"))
        .metric(Metric::min("min_size", "size"))
        .metric(Metric::max("max_size", "size"))
        .metric(Metric::sum("total_rtt", "rtt"))
        .filter(Filter::is_in("protocol", ["TCP", "UDP"]))
        .build()
        .unwrap()
}

/// What the client must send for `spec()` and `request()` (first page).
fn expected_body() -> Json {
    json!({
        "size": 0, "track_total_hits": false,
        "query": {"bool": {"filter": [
            {"range": {"ts": {"gte": "2026-11-28T11:59:30.000Z", "lt": "2026-11-28T12:00:05.250Z"}}},
            {"terms": {"protocol": ["TCP", "UDP"]}}]}},
        "aggs": {"groups": {
            "composite": {"size": 1000, "sources": [
                {"bucket": {"date_histogram": {"field": "ts", "fixed_interval": "10s"}}},
                {"source_ip": {"terms": {"field": "source_ip", "missing_bucket": true}}},
                {"protocol": {"terms": {"field": "protocol", "missing_bucket": true}}}]},
            "aggs": {
                "m1": {"sum": {"field": "size"}}, "m1_n": {"value_count": {"field": "size"}},
                "m2": {"sum": {"field": "size"}}, "m2_n": {"value_count": {"field": "size"}},
                "m3": {"min": {"field": "size"}}, "m4": {"max": {"field": "size"}},
                "m5": {"sum": {"field": "rtt"}}, "m5_n": {"value_count": {"field": "rtt"}}}}}
    })
}

/// A bucket of `spec()`: key, doc_count, the size sum / count / min / max, the rtt
/// sum / count, in Elasticsearch's shapes (sums are doubles, 0.0 when empty).
#[allow(clippy::too_many_arguments)]
fn bucket(
    start: &str,
    ip: Json,
    proto: Json,
    n: u64,
    size: (f64, u64, Json, Json),
    rtt: (f64, u64),
) -> Json {
    let (sum, values, min, max) = size;
    json!({"key": {"bucket": ms(start), "source_ip": ip, "protocol": proto}, "doc_count": n,
        "m1": {"value": sum}, "m1_n": {"value": values},
        "m2": {"value": sum}, "m2_n": {"value": values},
        "m3": {"value": min}, "m4": {"value": max},
        "m5": {"value": rtt.0}, "m5_n": {"value": rtt.1}})
}

fn answer(after_key: Option<Json>, buckets: Vec<Json>) -> Json {
    let mut groups = json!({"buckets": buckets});
    if let Some(k) = after_key {
        groups["after_key"] = k;
    }
    json!({"took": 3, "timed_out": false,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"max_score": null, "hits": []},
        "aggregations": {"groups": groups}})
}

fn key_of(b: &Json) -> Json {
    b["key"].clone()
}

/// The three pages (and a last empty one) of the scripted answers: null keys, an
/// empty sum, int and float sums, min and max.
fn pages() -> Vec<Vec<Json>> {
    vec![
        vec![
            bucket(
                "2026-11-28T11:59:30Z",
                json!(null),
                json!("UDP"),
                2,
                (0.0, 0, json!(null), json!(null)),
                (0.0, 0),
            ),
            bucket(
                "2026-11-28T11:59:30Z",
                json!("10.0.0.2"),
                json!("TCP"),
                3,
                (4096.0, 3, json!(1000.0), json!(1548.0)),
                (0.75, 3),
            ),
        ],
        vec![bucket(
            "2026-11-28T11:59:50Z",
            json!("10.0.0.9"),
            json!(null),
            1,
            (60.0, 1, json!(60.0), json!(60.0)),
            (0.5, 1),
        )],
        vec![bucket(
            "2026-11-28T12:00:00Z",
            json!("10.0.0.2"),
            json!("TCP"),
            5,
            (7500.0, 4, json!(1500.0), json!(3000.0)),
            (1.25, 5),
        )],
    ]
}

/// A stand-in answering `pages()` by `after`, after checking that each body is the
/// expected one with `after` = the previous page's `after_key`; a body that differs is
/// answered with HTTP 400 naming the difference, which fails the fetch. `doctor`
/// rewrites the answer to page `i` (0-based) before it is sent.
async fn scripted(doctor: impl Fn(usize, Answer) -> Answer + Send + Sync + 'static) -> FakeEs {
    let pages = pages();
    FakeEs::start(move |r| {
        let after = r.body["aggs"]["groups"]["composite"].get("after").cloned();
        let i = match &after {
            None => 0,
            Some(a) => match pages.iter().position(|p| &key_of(p.last().unwrap()) == a) {
                Some(i) => i + 1,
                None => return Answer::json(400, json!({"error": {"type": "test", "reason": format!("unknown after {a}")}})),
            },
        };
        let mut want = expected_body();
        if let Some(a) = after {
            want["aggs"]["groups"]["composite"]["after"] = a;
        }
        if r.body != want || r.path != "/packets-*/_search" {
            return Answer::json(
                400,
                json!({"error": {"type": "test", "reason": format!("unexpected request {} {}", r.path, r.body)}}),
            );
        }
        let page = match pages.get(i) {
            // The last page with buckets still carries an after_key.
            Some(p) => answer(Some(key_of(p.last().unwrap())), p.clone()),
            None => answer(None, vec![]),
        };
        doctor(i, Answer::json(200, page))
    })
    .await
}

fn sum(v: impl Into<Value>, values: u64) -> Partial {
    Partial::Sum {
        sum: v.into(),
        values,
    }
}

#[tokio::test]
async fn pages_null_keys_and_partials() {
    let fake = scripted(|_, a| a).await;
    let source = fake.client("packets-*").aggregate(spec()).unwrap();
    let rows = source.fetch_buckets(&request()).await.unwrap();
    assert_eq!(fake.requests().len(), 4, "three pages, then an empty one");
    let row = |start: &str, key: Vec<Value>, events, partials| {
        BucketRow::new(t(start), key, events).with_partials(partials)
    };
    assert_eq!(
        rows,
        vec![
            // No size, no rtt: the sums are Null (not Elasticsearch's 0.0), min/max Null.
            row(
                "2026-11-28T11:59:30Z",
                vec![Value::Null, "UDP".into()],
                2,
                vec![
                    Partial::Count,
                    sum(Value::Null, 0),
                    sum(Value::Null, 0),
                    Partial::Extreme(Value::Null),
                    Partial::Extreme(Value::Null),
                    sum(Value::Null, 0),
                ]
            ),
            row(
                "2026-11-28T11:59:30Z",
                vec![ip("10.0.0.2"), "TCP".into()],
                3,
                vec![
                    Partial::Count,
                    sum(4096, 3),
                    sum(4096, 3), // avg: its sum and count, merged later
                    Partial::Extreme(1000.into()),
                    Partial::Extreme(1548.into()),
                    sum(0.75, 3),
                ]
            ),
            row(
                "2026-11-28T11:59:50Z",
                vec![ip("10.0.0.9"), Value::Null],
                1,
                vec![
                    Partial::Count,
                    sum(60, 1),
                    sum(60, 1),
                    Partial::Extreme(60.into()),
                    Partial::Extreme(60.into()),
                    sum(0.5, 1),
                ]
            ),
            row(
                "2026-11-28T12:00:00Z",
                vec![ip("10.0.0.2"), "TCP".into()],
                5,
                vec![
                    Partial::Count,
                    sum(7500, 4),
                    sum(7500, 4),
                    Partial::Extreme(1500.into()),
                    Partial::Extreme(3000.into()),
                    sum(1.25, 5),
                ]
            ),
        ]
    );
    // Ints stay ints, floats floats.
    assert!(matches!(
        &rows[1].partials[1],
        Partial::Sum {
            sum: Value::Int(_),
            ..
        }
    ));
    assert!(matches!(
        &rows[1].partials[5],
        Partial::Sum {
            sum: Value::Float(_),
            ..
        }
    ));
    assert_eq!(source.default_settle(), Duration::from_secs(30));
}

#[tokio::test]
async fn partial_answers_are_retryable_errors() {
    // Failed shards on the second page.
    let fake = scripted(|i, a| {
        if i != 1 {
            return a;
        }
        let mut page: Json = serde_json::from_str(&a.body).unwrap();
        page["_shards"] = json!({"total": 5, "successful": 4, "skipped": 0, "failed": 1,
            "failures": [{"shard": 2, "index": "packets-1", "reason": {"type": "x", "reason": "disk broke"}}]});
        Answer::json(200, page)
    })
    .await;
    let err = fake
        .client("packets-*")
        .aggregate(spec())
        .unwrap()
        .fetch_buckets(&request())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_retryable());
    assert!(
        err.message()
            .contains("1 of 5 shards failed (index packets-1, shard 2: disk broke)"),
        "{err}"
    );
    assert!(err.message().contains("all or nothing"), "{err}");
    assert_eq!(err.context_value("index"), Some("packets-*"));
    assert_eq!(fake.requests().len(), 2, "no page is asked after it");

    // A search that timed out on the first page.
    let fake = scripted(|_, a| {
        let mut page: Json = serde_json::from_str(&a.body).unwrap();
        page["timed_out"] = json!(true);
        Answer::json(200, page)
    })
    .await;
    let err = fake
        .client("packets-*")
        .aggregate(spec())
        .unwrap()
        .fetch_buckets(&request())
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert!(err.message().contains("timed out"), "{err}");
}

#[tokio::test]
async fn an_error_between_pages_fails_the_whole_fetch() {
    // (the answer to page 2, the kind, retryable)
    let cases = [
        (
            Answer::json(
                429,
                json!({"error": {"type": "es_rejected_execution_exception", "reason": "rejected"}, "status": 429}),
            ),
            ErrorKind::Unavailable,
            true,
        ),
        (
            Answer::text(502, "<html>Bad Gateway</html>"),
            ErrorKind::Unavailable,
            true,
        ),
        (Answer::text(200, "not json"), ErrorKind::Unexpected, false),
        (
            Answer::json(200, json!({"took": 1, "timed_out": false})),
            ErrorKind::Unexpected,
            false,
        ),
    ];
    for (bad, kind, retryable) in cases {
        let status = bad.status;
        let fake = scripted(move |i, a| if i == 2 { bad.clone() } else { a }).await;
        let result = fake
            .client("packets-*")
            .aggregate(spec())
            .unwrap()
            .fetch_buckets(&request())
            .await;
        let err = result.expect_err("nothing is returned when a page fails");
        assert_eq!(err.kind(), kind, "HTTP {status}: {err}");
        assert_eq!(err.is_retryable(), retryable, "HTTP {status}: {err}");
        assert_eq!(fake.requests().len(), 3, "stops at the failed page");
    }
}

#[tokio::test]
async fn too_many_bucket_rows_is_an_error_not_a_cut() {
    let fake = FakeEs::start(|r| {
        let after = r.body["aggs"]["groups"]["composite"]["after"]["bucket"].as_i64();
        let first = after.map_or(ms("2026-11-28T11:59:30Z"), |b| b + 10_000);
        let buckets: Vec<Json> = (0..3)
            .map(|i| {
                let start = DateTime::from_timestamp_millis(first + i * 10_000).unwrap();
                bucket(
                    &start.to_rfc3339(),
                    json!("10.0.0.1"),
                    json!("TCP"),
                    1,
                    (1.0, 1, json!(1.0), json!(1.0)),
                    (1.0, 1),
                )
            })
            .collect();
        let last = key_of(&buckets[2]);
        Answer::json(200, answer(Some(last), buckets))
    })
    .await;
    let client = fake
        .builder("p")
        .page_size(3)
        .max_bucket_rows(5)
        .build()
        .unwrap();
    let long = Window::new(t("2026-11-28T11:59:30Z"), t("2026-11-28T13:00:00Z")).unwrap();
    let err = client
        .aggregate(spec())
        .unwrap()
        .fetch_buckets(&BucketRequest::new(long, WIDTH))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    assert!(
        err.message().contains("more than 5 (bucket, group) pairs"),
        "{err}"
    );
    assert_eq!(err.context_value("max_bucket_rows"), Some("5"));
    assert_eq!(
        fake.requests().len(),
        2,
        "stops at the page that passes the bound"
    );
    // The bound is its own setting: max_groups does not limit bucket rows.
    let client = fake
        .builder("p")
        .page_size(3)
        .max_groups(1)
        .build()
        .unwrap();
    assert_eq!(client.config().max_bucket_rows, 2_000_000);
}

#[tokio::test]
async fn sums_of_int_fields_must_be_exact_integers() {
    // (the size sum the server sends, whether it is accepted)
    let cases = [
        (4096.5, false),
        (9_007_199_254_740_991.0, true),  // 2^53 − 1
        (9_007_199_254_740_992.0, false), // 2^53: may be rounded
        (-2.0e18, false),
    ];
    for (value, ok) in cases {
        let fake = FakeEs::start(move |_| {
            let b = bucket(
                "2026-11-28T11:59:30Z",
                json!("10.0.0.1"),
                json!("TCP"),
                1,
                (value, 1, json!(1.0), json!(1.0)),
                (1.0, 1),
            );
            Answer::json(200, answer(None, vec![b]))
        })
        .await;
        let result = fake
            .client("p")
            .aggregate(spec())
            .unwrap()
            .fetch_buckets(&request())
            .await;
        match result {
            Ok(rows) if ok => assert_eq!(rows[0].partials[1], sum(value as i64, 1)),
            Err(e) if !ok => {
                assert_eq!(e.kind(), ErrorKind::Unexpected, "{e}");
                assert!(e.message().contains("metric `total_size`"), "{e}");
                assert_eq!(e.context_value("column"), Some("total_size"));
            }
            other => panic!("{value}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn keys_must_be_the_requested_buckets() {
    // (the bucket key sent, what the error says)
    let cases = [
        (json!(ms("2026-11-28T11:59:35Z")), "not a multiple"),
        (
            json!(ms("2026-11-28T11:59:20Z")),
            "outside the requested range",
        ),
        (
            json!(ms("2026-11-28T12:00:10Z")),
            "outside the requested range",
        ),
        (json!("2026-11-28T11:59:30Z"), "not epoch milliseconds"),
        (json!(null), "not epoch milliseconds"),
    ];
    for (key, text) in cases {
        let k = key.clone();
        let fake = FakeEs::start(move |_| {
            let mut b = bucket(
                "2026-11-28T11:59:30Z",
                json!("10.0.0.1"),
                json!("TCP"),
                1,
                (1.0, 1, json!(1.0), json!(1.0)),
                (1.0, 1),
            );
            b["key"]["bucket"] = k.clone();
            Answer::json(200, answer(None, vec![b]))
        })
        .await;
        let err = fake
            .client("p")
            .aggregate(spec())
            .unwrap()
            .fetch_buckets(&request())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unexpected, "{key}: {err}");
        assert!(err.message().contains(text), "{key}: {err}");
    }
}

#[tokio::test]
async fn refused_before_sending_anything() {
    let fake = FakeEs::start(|_| Answer::json(200, answer(None, vec![]))).await;
    let client = fake.client("p");

    // count_distinct cannot be merged from buckets.
    let distinct = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension("protocol", DataType::Text)
        .field("destination_ip", DataType::Ip)
        .metric(Metric::count("count"))
        .metric(Metric::count_distinct("hosts", "destination_ip"))
        .build()
        .unwrap();
    let source = client.aggregate(distinct).unwrap();
    let err = source.fetch_buckets(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(
        err.message().contains("count_distinct") && err.message().contains("direct mode"),
        "{err}"
    );
    assert_eq!(err.context_value("column"), Some("hosts"));
    assert_eq!(err.context_value("backend"), Some("elasticsearch"));
    // … while the direct mode still serves it.
    source
        .fetch(&FetchContext::new(request().range))
        .await
        .unwrap();

    let source = client.aggregate(spec()).unwrap();
    // A range that does not start on a bucket edge.
    let off = Window::new(t("2026-11-28T11:59:35Z"), t("2026-11-28T12:00:00Z")).unwrap();
    let err = source
        .fetch_buckets(&BucketRequest::new(off, WIDTH))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{err}");
    assert!(err.message().contains("not a bucket boundary"), "{err}");
    // A width that is not whole milliseconds, or zero.
    for width in [Duration::from_micros(1500), Duration::ZERO] {
        let err = source
            .fetch_buckets(&BucketRequest::new(tail(), width))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{err}");
        assert!(
            err.message().contains("whole number of milliseconds"),
            "{err}"
        );
    }
    assert_eq!(fake.requests().len(), 1, "only the direct fetch was sent");
}

#[tokio::test]
async fn the_histogram_source_name_never_clashes_with_a_dimension() {
    let fake = FakeEs::start(|_| Answer::json(200, answer(None, vec![]))).await;
    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension("bucket", DataType::Text)
        .metric(Metric::count("count"))
        .build()
        .unwrap();
    let minute = Window::new(t("2026-11-28T11:00:00Z"), t("2026-11-28T12:00:00Z")).unwrap();
    let rows = fake
        .client("p")
        .aggregate(spec)
        .unwrap()
        .fetch_buckets(&BucketRequest::new(minute, Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(rows.is_empty());
    assert_eq!(
        fake.requests()[0].body["aggs"]["groups"]["composite"]["sources"],
        json!([{"bucket_": {"date_histogram": {"field": "ts", "fixed_interval": "60s"}}},
               {"bucket": {"terms": {"field": "bucket", "missing_bucket": true}}}])
    );
    assert!(
        fake.requests()[0].body["aggs"]["groups"]
            .get("aggs")
            .is_none(),
        "count needs no sub-aggregation"
    );
}

// ---- Agreement with the direct fetch, through the evaluating stand-in ----

const COLUMNS: [(&str, DataType); 5] = [
    ("ts", DataType::Timestamp),
    ("source_ip", DataType::Ip),
    ("protocol", DataType::Text),
    ("size", DataType::Int),
    ("rtt", DataType::Float),
];

/// `n` events around `[t0, t0 + 10 min)` (some before and after), deterministic in
/// `seed`: missing values in every column but the time, a protocol the spec's filter
/// drops, and now and then a size near 10^12 so that bucket sums reach 16 digits.
fn events(seed: u64, n: usize, t0: DateTime<Utc>) -> Vec<Vec<Value>> {
    let mut x = seed;
    let mut next = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x >> 33
    };
    const IPS: [&str; 6] = [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.10",
        "192.168.1.7",
        "::1",
        "2001:db8::5",
    ];
    const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "ICMP"];
    (0..n)
        .map(|_| {
            let ts = t0 + TimeDelta::milliseconds(next() as i64 % 640_000 - 20_000);
            let source_ip = match next() % 7 {
                0 => Value::Null,
                i => ip(IPS[(i as usize + next() as usize) % IPS.len()]),
            };
            let protocol = match next() % 8 {
                0 => Value::Null,
                i => PROTOCOLS[i as usize % 3].into(),
            };
            let size = match next() % 50 {
                0..=4 => Value::Null,
                5 => Value::Int(1_000_000_000_000 + (next() % 1000) as i64),
                _ => Value::Int((next() % 1500) as i64),
            };
            let rtt = match next() % 6 {
                0 => Value::Null,
                _ => Value::Float((next() % 1_000_000) as f64 / 7919.0),
            };
            vec![Value::Timestamp(ts), source_ip, protocol, size, rtt]
        })
        .collect()
}

fn agreement_spec() -> Aggregate {
    packets_builder(&[("source_ip", DataType::Ip), ("protocol", DataType::Text)])
        .field("rtt", DataType::Float)
        .metric(Metric::avg("avg_size", "size"))
        .metric(Metric::min("min_size", "size"))
        .metric(Metric::max("max_size", "size"))
        .metric(Metric::sum("total_rtt", "rtt"))
        .metric(Metric::avg("avg_rtt", "rtt"))
        .metric(Metric::min("min_rtt", "rtt"))
        .metric(Metric::max("last_seen", "ts"))
        .filter(Filter::In {
            column: "protocol".into(),
            values: vec!["TCP".into(), "UDP".into(), Value::Null],
        })
        .build()
        .unwrap()
}

/// The bucket rows of a window merged per group, as table rows (dimensions, then
/// metrics): what a bucket cache computes. Written here from the partials' contract
/// alone, independently of the cache.
fn merge(spec: &Aggregate, rows: &[BucketRow]) -> BTreeMap<Vec<Value>, Vec<Value>> {
    use livetable_core::MetricKind;
    let mut groups: BTreeMap<Vec<Value>, (u64, Vec<Partial>)> = BTreeMap::new();
    for row in rows {
        let (events, acc) = groups
            .entry(row.key.clone())
            .or_insert_with(|| (0, row.partials.clone()));
        if *events > 0 {
            for ((m, a), p) in spec.metrics().iter().zip(acc.iter_mut()).zip(&row.partials) {
                match (a, p) {
                    (Partial::Count, Partial::Count) => {}
                    (
                        Partial::Sum { sum, values },
                        Partial::Sum {
                            sum: s2,
                            values: v2,
                        },
                    ) => {
                        *values += v2;
                        *sum = match (&*sum, s2) {
                            (Value::Null, v) | (v, Value::Null) => v.clone(),
                            (Value::Int(a), Value::Int(b)) => {
                                Value::Int(a.checked_add(*b).unwrap())
                            }
                            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
                            other => panic!("mixed sums {other:?}"),
                        };
                    }
                    (Partial::Extreme(a), Partial::Extreme(b)) => {
                        let take = match (&*a, b) {
                            (_, Value::Null) => false,
                            (Value::Null, _) => true,
                            (a, b) if m.kind == MetricKind::Min => b < a,
                            (a, b) => b > a,
                        };
                        if take {
                            *a = b.clone();
                        }
                    }
                    other => panic!("partials of different kinds {other:?}"),
                }
            }
        }
        *events += row.events;
    }
    groups
        .into_iter()
        .map(|(key, (events, partials))| {
            let metrics = spec.metrics().iter().zip(partials).map(|(m, p)| match p {
                Partial::Count => Value::Int(events as i64),
                Partial::Sum { sum, values } if m.kind == MetricKind::Avg => match sum {
                    _ if values == 0 => Value::Null,
                    v => Value::Float(v.as_f64().unwrap() / values as f64),
                },
                Partial::Sum { sum, .. } => sum,
                Partial::Extreme(v) => v,
                other => panic!("unknown partial {other:?}"),
            });
            let mut row = key.clone();
            row.extend(metrics);
            (key, row)
        })
        .collect()
}

/// Asserts that `merged` (from buckets) and `direct` hold the same groups and cells.
/// Integer cells must be equal; float cells within a relative 1e-9, because float
/// addition is not associative: the buckets' sums added up differ from one sum over
/// the window in the last bits.
fn assert_agree(merged: &BTreeMap<Vec<Value>, Vec<Value>>, direct: &[Vec<Value>], what: &str) {
    let dims = 2;
    let direct: BTreeMap<Vec<Value>, &Vec<Value>> =
        direct.iter().map(|r| (r[..dims].to_vec(), r)).collect();
    assert_eq!(
        merged.keys().collect::<Vec<_>>(),
        direct.keys().collect::<Vec<_>>(),
        "{what}: the groups differ"
    );
    for (key, row) in merged {
        let d = direct[key];
        for (i, (a, b)) in row.iter().zip(d.iter()).enumerate() {
            assert!(
                cells_match(b, a),
                "{what}: group {key:?}, column {i}: buckets give {a:?}, direct {b:?}"
            );
        }
    }
}

#[tokio::test]
async fn buckets_add_up_to_the_direct_fetch() {
    let t0 = t("2026-11-28T11:00:00Z");
    let events = events(11, 3000, t0);
    let fake = FakeEs::evaluating(Index::from_events(&COLUMNS, &events)).await;
    let spec = agreement_spec();
    let source = fake
        .builder("events")
        .page_size(37)
        .build()
        .unwrap()
        .aggregate(spec.clone())
        .unwrap();

    // (range, width): a tail ending inside a bucket; whole minutes; one bucket wider
    // than the range.
    let cases = [
        (
            Window::new(t0, t0 + TimeDelta::milliseconds(303_250)).unwrap(),
            Duration::from_secs(10),
        ),
        (
            Window::new(t0, t0 + TimeDelta::minutes(10)).unwrap(),
            Duration::from_secs(60),
        ),
        (
            Window::new(t0, t0 + TimeDelta::seconds(42)).unwrap(),
            Duration::from_secs(3600),
        ),
    ];
    for (range, width) in cases {
        let what = format!("{range} in {width:?} buckets");
        let rows = source
            .fetch_buckets(&BucketRequest::new(range, width))
            .await
            .unwrap();
        // Independent of the evaluator: every event of the range that passes the
        // filter is counted once.
        let expected_events = events
            .iter()
            .filter(|e| matches!(e[0], Value::Timestamp(ts) if range.contains(ts)))
            .filter(|e| e[2] != Value::from("ICMP"))
            .count() as u64;
        assert_eq!(
            rows.iter().map(|r| r.events).sum::<u64>(),
            expected_events,
            "{what}"
        );
        let width_ms = width.as_millis() as i64;
        for r in &rows {
            assert_eq!(r.start.timestamp_millis() % width_ms, 0, "{what}");
            assert!(range.start <= r.start && r.start < range.end, "{what}");
        }
        let mut seen = std::collections::BTreeSet::new();
        assert!(
            rows.iter().all(|r| seen.insert((r.start, r.key.clone()))),
            "{what}: a (bucket, group) pair came twice"
        );

        // The whole range.
        let direct = source.fetch(&FetchContext::new(range)).await.unwrap();
        let direct: Vec<Vec<Value>> = direct.rows.iter().map(|r| r.values().to_vec()).collect();
        assert_agree(&merge(&spec, &rows), &direct, &what);

        // Each bucket on its own: the rows fall in the right bucket.
        let starts: std::collections::BTreeSet<DateTime<Utc>> =
            rows.iter().map(|r| r.start).collect();
        for start in starts {
            let end = (start + TimeDelta::from_std(width).unwrap()).min(range.end);
            let one: Vec<BucketRow> = rows.iter().filter(|r| r.start == start).cloned().collect();
            let direct = source
                .fetch(&FetchContext::new(Window::new(start, end).unwrap()))
                .await
                .unwrap();
            let direct: Vec<Vec<Value>> = direct.rows.iter().map(|r| r.values().to_vec()).collect();
            assert_agree(
                &merge(&spec, &one),
                &direct,
                &format!("{what}, bucket {start}"),
            );
        }
    }
    // Every bucket request: the histogram first, then the dimensions with
    // missing_bucket, the range on the time field first in bool.filter.
    let bucketed: Vec<Json> = fake
        .requests()
        .into_iter()
        .map(|r| r.body)
        .filter(|b| {
            b["aggs"]["groups"]["composite"]["sources"][0]
                .get("bucket")
                .is_some()
        })
        .collect();
    assert!(!bucketed.is_empty());
    for b in &bucketed {
        let sources = &b["aggs"]["groups"]["composite"]["sources"];
        let interval = &sources[0]["bucket"]["date_histogram"]["fixed_interval"];
        assert!(
            ["10s", "60s", "3600s"].contains(&interval.as_str().unwrap()),
            "{b}"
        );
        assert_eq!(sources[0]["bucket"]["date_histogram"]["field"], "ts", "{b}");
        assert_eq!(
            sources[1],
            json!({"source_ip": {"terms": {"field": "source_ip", "missing_bucket": true}}})
        );
        assert_eq!(
            sources[2],
            json!({"protocol": {"terms": {"field": "protocol", "missing_bucket": true}}})
        );
        assert!(
            b["query"]["bool"]["filter"][0]["range"]["ts"]["gte"].is_string(),
            "{b}"
        );
        assert!(
            b["query"]["bool"]["filter"][0]["range"]["ts"]["lt"].is_string(),
            "{b}"
        );
    }
    let paged = bucketed
        .iter()
        .filter(|b| {
            b["aggs"]["groups"]["composite"]["after"]
                .get("bucket")
                .is_some()
        })
        .count();
    assert!(paged > 0, "the bucket fetches should have paged");
}
