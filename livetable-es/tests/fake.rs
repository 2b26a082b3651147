//! livetable-es against a scripted fake Elasticsearch: the exact request structures
//! (compared as parsed JSON), paging, null keys and metrics, partial results, top-N,
//! SQL cursors, and every error mapping.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::Method;
use chrono::{DateTime, Utc};
use livetable_core::{
    Aggregate, Column, DataType, Direction, ErrorKind, FetchContext, Filter, Metric, Schema,
    TableQuery, Value, Window,
};
use livetable_es::SqlDialect;
use livetable_testkit::workload::packets_builder;
use serde_json::{Value as Json, json};
use support::{Answer, FakeEs};

fn window() -> Window {
    let end: DateTime<Utc> = "2026-11-28T12:00:00Z".parse().unwrap();
    Window::ending_at(end, Duration::from_secs(3600)).unwrap()
}

fn ip(s: &str) -> Value {
    Value::Ip(s.parse::<IpAddr>().unwrap())
}

/// The packets table of the reference, TCP and UDP only.
fn packets() -> Aggregate {
    packets_where(Filter::is_in("protocol", ["TCP", "UDP"]))
}

/// The packets table of the reference with the static filter `filter`.
fn packets_where(filter: Filter) -> Aggregate {
    packets_builder(&[("source_ip", DataType::Ip), ("protocol", DataType::Text)])
        .field("destination_ip", DataType::Ip)
        .metric(Metric::avg("avg_size", "size"))
        .metric(Metric::count_distinct("hosts", "destination_ip"))
        .filter(filter)
        .order_by("count", Direction::Desc)
        .build()
        .unwrap()
}

fn bucket(ip: Json, proto: Json, n: u64, sum: f64, values: u64, avg: Json, hosts: u64) -> Json {
    json!({"key": {"source_ip": ip, "protocol": proto}, "doc_count": n,
        "m1": {"value": sum}, "m1_n": {"value": values}, "m2": {"value": avg}, "m3": {"value": hosts}})
}

fn search_answer(after_key: Option<Json>, buckets: Vec<Json>) -> Json {
    let mut groups = json!({"buckets": buckets});
    if let Some(k) = after_key {
        groups["after_key"] = k;
    }
    json!({"took": 3, "timed_out": false,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"max_score": null, "hits": []},
        "aggregations": {"groups": groups}})
}

#[tokio::test]
async fn composite_request_pages_nulls_and_order() {
    let k1 = json!({"source_ip": null, "protocol": "UDP"});
    let k2 = json!({"source_ip": "10.0.0.9", "protocol": "UDP"});
    let k3 = json!({"source_ip": "10.0.0.10", "protocol": null});
    let (a1, a2, a3) = (k1.clone(), k2.clone(), k3.clone());
    let fake = FakeEs::start(move |r| {
        let after = r.body["aggs"]["groups"]["composite"].get("after").cloned();
        let page = match after {
            None => search_answer(
                Some(a1.clone()),
                vec![
                    bucket(
                        json!("10.0.0.2"),
                        json!("TCP"),
                        3,
                        4096.0,
                        3,
                        json!(1365.3),
                        2,
                    ),
                    bucket(json!(null), json!("UDP"), 2, 0.0, 0, json!(null), 1),
                ],
            ),
            Some(a) if a == a1 => search_answer(
                Some(a2.clone()),
                vec![bucket(
                    json!("10.0.0.9"),
                    json!("UDP"),
                    1,
                    60.0,
                    1,
                    json!(60.0),
                    1,
                )],
            ),
            // The last short page still carries an after_key.
            Some(a) if a == a2 => search_answer(
                Some(a3.clone()),
                vec![bucket(
                    json!("10.0.0.10"),
                    json!(null),
                    5,
                    0.0,
                    2,
                    json!(0.0),
                    3,
                )],
            ),
            Some(a) if a == a3 => search_answer(None, vec![]),
            Some(other) => panic!("unexpected after {other}"),
        };
        Answer::json(200, page)
    })
    .await;
    // Every scripted row satisfies both filters: the static one keeps TCP, UDP and a
    // missing protocol; the viewer's keeps these sources and a missing one.
    let spec = packets_where(Filter::In {
        column: "protocol".into(),
        values: vec!["TCP".into(), "UDP".into(), Value::Null],
    });
    let source = fake.client("packets-*").aggregate(spec).unwrap();
    let ctx = FetchContext::new(window()).with_filters(vec![
        Filter::In {
            column: "source_ip".into(),
            values: vec![
                "10.0.0.2".into(),
                "10.0.0.9".into(),
                "10.0.0.10".into(),
                Value::Null,
            ],
        }
        .normalised(DataType::Ip)
        .unwrap(),
    ]);
    let table = source.fetch(&ctx).await.unwrap();

    let requests = fake.requests();
    assert_eq!(
        requests.len(),
        4,
        "three pages with groups, then an empty one"
    );
    for r in &requests {
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.path, "/packets-*/_search");
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
    }
    let expected_first = json!({
        "size": 0, "track_total_hits": false,
        "query": {"bool": {"filter": [
            {"range": {"ts": {"gte": "2026-11-28T11:00:00.000Z", "lt": "2026-11-28T12:00:00.000Z"}}},
            {"bool": {"should": [{"terms": {"protocol": ["TCP", "UDP"]}},
                {"bool": {"must_not": [{"exists": {"field": "protocol"}}]}}],
                "minimum_should_match": 1}},
            {"bool": {"should": [{"terms": {"source_ip": ["10.0.0.2", "10.0.0.9", "10.0.0.10"]}},
                {"bool": {"must_not": [{"exists": {"field": "source_ip"}}]}}],
                "minimum_should_match": 1}}]}},
        "aggs": {"groups": {
            "composite": {"size": 1000, "sources": [
                {"source_ip": {"terms": {"field": "source_ip", "missing_bucket": true}}},
                {"protocol": {"terms": {"field": "protocol", "missing_bucket": true}}}]},
            "aggs": {
                "m1": {"sum": {"field": "size"}}, "m1_n": {"value_count": {"field": "size"}},
                "m2": {"avg": {"field": "size"}}, "m3": {"cardinality": {"field": "destination_ip"}}}}}
    });
    assert_eq!(requests[0].body, expected_first);
    // Later pages: the same body with `after` = the previous after_key, as received.
    for (r, k) in requests[1..].iter().zip([&k1, &k2, &k3]) {
        let mut want = expected_first.clone();
        want["aggs"]["groups"]["composite"]["after"] = k.clone();
        assert_eq!(&r.body, &want);
    }

    let rows: Vec<Vec<Value>> = table.rows.iter().map(|r| r.values().to_vec()).collect();
    assert_eq!(
        rows,
        vec![
            vec![
                ip("10.0.0.10"),
                Value::Null,
                5.into(),
                0.into(),
                0.0.into(),
                3.into()
            ],
            vec![
                ip("10.0.0.2"),
                "TCP".into(),
                3.into(),
                4096.into(),
                1365.3.into(),
                2.into()
            ],
            // A null key sorts first among equal counts; no value: sum and avg are Null.
            vec![
                Value::Null,
                "UDP".into(),
                2.into(),
                Value::Null,
                Value::Null,
                1.into()
            ],
            vec![
                ip("10.0.0.9"),
                "UDP".into(),
                1.into(),
                60.into(),
                60.0.into(),
                1.into()
            ],
        ]
    );
    assert!(table.approximate, "cardinality is an estimate");
    assert_eq!(table.partial, None);
}

#[tokio::test]
async fn viewer_limit_applies_after_merging_pages() {
    let fake = FakeEs::start(|r| {
        let after = r.body["aggs"]["groups"]["composite"].get("after").cloned();
        let b = |ip: &str, n| bucket(json!(ip), json!("TCP"), n, 1.0, 1, json!(1.0), 1);
        Answer::json(
            200,
            match after {
                None => search_answer(
                    Some(json!({"source_ip": "10.0.0.2", "protocol": "TCP"})),
                    vec![b("10.0.0.1", 1), b("10.0.0.2", 9)],
                ),
                Some(_)
                    if r.body["aggs"]["groups"]["composite"]["after"]["source_ip"]
                        == "10.0.0.2" =>
                {
                    search_answer(
                        Some(json!({"source_ip": "10.0.0.3", "protocol": "TCP"})),
                        vec![b("10.0.0.3", 5)],
                    )
                }
                Some(_) => search_answer(None, vec![]),
            },
        )
    })
    .await;
    let source = fake.client("p").aggregate(packets()).unwrap();
    let table = source
        .fetch(&FetchContext::new(window()).with_limit(Some(2)))
        .await
        .unwrap();
    let ips: Vec<&Value> = table.rows.iter().map(|r| &r[0]).collect();
    assert_eq!(
        ips,
        [&ip("10.0.0.2"), &ip("10.0.0.3")],
        "top 2 by count over all pages"
    );
}

#[tokio::test]
async fn too_many_groups_is_an_error_not_a_truncated_table() {
    let fake = FakeEs::start(|r| {
        let n = r.body["aggs"]["groups"]["composite"]["after"]["source_ip"]
            .as_str()
            .map_or(0, |s| s.rsplit('.').next().unwrap().parse::<u32>().unwrap());
        let buckets = (n + 1..=n + 3)
            .map(|i| {
                bucket(
                    json!(format!("10.0.0.{i}")),
                    json!("TCP"),
                    1,
                    1.0,
                    1,
                    json!(1.0),
                    1,
                )
            })
            .collect();
        let after = json!({"source_ip": format!("10.0.0.{}", n + 3), "protocol": "TCP"});
        Answer::json(200, search_answer(Some(after), buckets))
    })
    .await;
    let client = fake
        .builder("p")
        .page_size(3)
        .max_groups(5)
        .build()
        .unwrap();
    let err = client
        .aggregate(packets())
        .unwrap()
        .fetch(&FetchContext::new(window()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    assert!(err.message().contains("more than 5 groups"), "{err}");
    assert_eq!(err.context_value("index"), Some("p"));
    assert_eq!(
        fake.requests().len(),
        2,
        "stops at the page that passes the bound"
    );
}

#[tokio::test]
async fn failed_shards_and_timeouts_flag_the_table_partial() {
    let fake = FakeEs::start(|_| {
        let mut page = search_answer(None, vec![bucket(json!("10.0.0.1"), json!("TCP"), 1, 1.0, 1, json!(1.0), 1)]);
        page["timed_out"] = json!(true);
        page["_shards"] = json!({"total": 5, "successful": 4, "skipped": 0, "failed": 1,
            "failures": [{"shard": 0, "index": "packets-1", "reason": {"type": "x", "reason": "disk broke"}}]});
        Answer::json(200, page)
    })
    .await;
    let table = fake
        .client("packets-*")
        .aggregate(packets())
        .unwrap()
        .fetch(&FetchContext::new(window()))
        .await
        .unwrap();
    let why = table.partial.expect("flagged partial");
    assert!(why.contains("timed out"), "{why}");
    assert!(
        why.contains("1 of 5 shards failed (index packets-1, shard 0: disk broke)"),
        "{why}"
    );
    assert_eq!(table.rows.len(), 1);
}

#[tokio::test]
async fn repeated_after_key_stops_with_an_error() {
    let fake = FakeEs::start(|_| {
        Answer::json(
            200,
            search_answer(
                Some(json!({"source_ip": "10.0.0.1", "protocol": "TCP"})),
                vec![bucket(
                    json!("10.0.0.1"),
                    json!("TCP"),
                    1,
                    1.0,
                    1,
                    json!(1.0),
                    1,
                )],
            ),
        )
    })
    .await;
    let err = fake
        .client("p")
        .aggregate(packets())
        .unwrap()
        .fetch(&FetchContext::new(window()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unexpected);
    assert!(err.message().contains("same after_key"), "{err}");
}

async fn error_for(answer: Answer, timeout: Duration) -> livetable_core::Error {
    let fake = FakeEs::start(move |_| answer.clone()).await;
    let client = fake
        .builder("packets")
        .request_timeout(timeout)
        .build()
        .unwrap();
    client
        .aggregate(packets())
        .unwrap()
        .fetch(&FetchContext::new(window()))
        .await
        .unwrap_err()
}

fn es_error(status: u16, ty: &str, reason: &str) -> Answer {
    Answer::json(
        status,
        json!({"error": {"root_cause": [{"type": ty, "reason": reason}],
        "type": ty, "reason": reason}, "status": status}),
    )
}

#[tokio::test]
async fn every_error_maps_to_a_kind_with_context() {
    let t = Duration::from_secs(5);
    // (answer, kind, retryable, text the message must hold)
    let cases = [
        (
            es_error(429, "es_rejected_execution_exception", "rejected execution"),
            ErrorKind::Unavailable,
            true,
            "HTTP 429",
        ),
        (
            Answer::text(401, "Unauthorized"),
            ErrorKind::PermissionDenied,
            false,
            "check credentials",
        ),
        (
            Answer::text(401, ""),
            ErrorKind::PermissionDenied,
            false,
            "(empty body)",
        ),
        (
            es_error(
                403,
                "security_exception",
                "action [indices:data/read/search] is unauthorized",
            ),
            ErrorKind::PermissionDenied,
            false,
            "is unauthorized",
        ),
        (
            es_error(404, "index_not_found_exception", "no such index [packets]"),
            ErrorKind::InvalidSpec,
            false,
            "index `packets` does not exist",
        ),
        (
            es_error(400, "parsing_exception", "unknown query [foo]"),
            ErrorKind::InvalidSpec,
            false,
            "unknown query [foo]",
        ),
        (
            es_error(
                400,
                "too_many_buckets_exception",
                "Trying to create too many buckets",
            ),
            ErrorKind::LimitExceeded,
            false,
            "lower `page_size`",
        ),
        (
            Answer::text(502, "<html>Bad Gateway</html>"),
            ErrorKind::Unavailable,
            true,
            "Bad Gateway",
        ),
        (
            Answer::text(200, "not json"),
            ErrorKind::Unexpected,
            false,
            "not JSON",
        ),
    ];
    for (answer, kind, retryable, text) in cases {
        let status = answer.status;
        let err = error_for(answer, t).await;
        assert_eq!(err.kind(), kind, "HTTP {status}: {err}");
        assert_eq!(err.is_retryable(), retryable, "HTTP {status}: {err}");
        assert!(err.message().contains(text), "HTTP {status}: {err}");
        assert_eq!(err.context_value("backend"), Some("elasticsearch"), "{err}");
        assert_eq!(err.context_value("index"), Some("packets"), "{err}");
    }
    // 400 with `caused_by`: the specific reason is kept.
    let err = error_for(
        Answer::json(
            400,
            json!({"error": {"type": "search_phase_execution_exception",
        "reason": "all shards failed", "caused_by": {"type": "illegal_argument_exception",
        "reason": "Field [protocol] of type [text] is not aggregatable"}}, "status": 400}),
        ),
        t,
    )
    .await;
    assert!(
        err.message()
            .contains("all shards failed: Field [protocol] of type [text] is not aggregatable"),
        "{err}"
    );
    assert_eq!(
        err.context_value("error_type"),
        Some("search_phase_execution_exception")
    );
}

#[tokio::test]
async fn transport_failures_are_retryable() {
    // A port nothing listens on: connection refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = livetable_es::EsBuilder::new(format!("http://{addr}"))
        .index("packets")
        .build()
        .unwrap();
    let err = client
        .aggregate(packets())
        .unwrap()
        .fetch(&FetchContext::new(window()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_retryable());
    assert_eq!(err.context_value("index"), Some("packets"));

    // A server slower than the request timeout.
    let slow = Answer {
        delay: Some(Duration::from_secs(3)),
        ..Answer::json(200, search_answer(None, vec![]))
    };
    let err = error_for(slow, Duration::from_millis(200)).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn credentials_reach_the_server() {
    let fake = FakeEs::start(|_| Answer::json(200, search_answer(None, vec![]))).await;
    let fetch = |client: livetable_es::EsClient| async move {
        client
            .aggregate(packets())
            .unwrap()
            .fetch(&FetchContext::new(window()))
            .await
            .unwrap();
    };
    // Credentials in the URL (percent-encoded) become basic auth and leave the URL.
    let client = livetable_es::EsBuilder::new(format!("http://reader:s%3Acret@{}", fake.addr))
        .index("p")
        .build()
        .unwrap();
    assert!(!format!("{client:?}").contains("s:cret"));
    fetch(client).await;
    fetch(fake.builder("p").api_key("kid", "ksecret").build().unwrap()).await;
    fetch(fake.client("p")).await;
    let auth: Vec<Option<String>> = fake
        .requests()
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    assert_eq!(
        auth,
        [
            Some("Basic cmVhZGVyOnM6Y3JldA==".to_owned()),
            Some("ApiKey a2lkOmtzZWNyZXQ=".to_owned()),
            None,
        ]
    );
}

fn top_spec(dims: &[&str]) -> Aggregate {
    let mut b = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600));
    for d in dims {
        b = b.dimension(
            *d,
            if *d == "source_ip" {
                DataType::Ip
            } else {
                DataType::Text
            },
        );
    }
    b.field("size", DataType::Int)
        .metric(Metric::count("count"))
        .metric(Metric::sum("total_size", "size"))
        .order_by("total_size", Direction::Desc)
        .limit(2)
        .build()
        .unwrap()
}

#[tokio::test]
async fn top_n_uses_multi_terms_and_is_approximate() {
    let fake = FakeEs::start(|_| {
        Answer::json(
            200,
            json!({"took": 1, "timed_out": false,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "aggregations": {"groups": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 7,
                "buckets": [
                    {"key": ["10.0.0.2", "TCP"], "key_as_string": "10.0.0.2|TCP", "doc_count": 3,
                     "m1": {"value": 4096.0}, "m1_n": {"value": 3}},
                    {"key": ["10.0.0.9", "UDP"], "key_as_string": "10.0.0.9|UDP", "doc_count": 1,
                     "m1": {"value": 60.0}, "m1_n": {"value": 1}}]}}}),
        )
    })
    .await;
    let source = fake
        .client("packets")
        .top_n(top_spec(&["source_ip", "protocol"]))
        .unwrap();
    let table = source.fetch(&FetchContext::new(window())).await.unwrap();
    let body = &fake.requests()[0].body;
    assert_eq!(
        body["aggs"]["groups"],
        json!({
        "multi_terms": {"terms": [{"field": "source_ip"}, {"field": "protocol"}], "size": 2,
            "order": [{"m1": "desc"}, {"_key": "asc"}]},
        "aggs": {"m1": {"sum": {"field": "size"}}, "m1_n": {"value_count": {"field": "size"}}}})
    );
    assert_eq!(body["size"], 0);
    assert!(table.approximate);
    assert_eq!(
        table.rows[0].values(),
        &[ip("10.0.0.2"), "TCP".into(), 3.into(), 4096.into()]
    );
    assert_eq!(
        table.rows[1].values(),
        &[ip("10.0.0.9"), "UDP".into(), 1.into(), 60.into()]
    );

    // One dimension: a plain `terms` aggregation.
    let one = fake
        .client("packets")
        .top_n(top_spec(&["protocol"]))
        .unwrap();
    let req = one.request(&FetchContext::new(window())).unwrap();
    assert_eq!(
        req["aggs"]["groups"]["terms"],
        json!({"field": "protocol", "size": 2,
        "order": [{"m1": "desc"}, {"_key": "asc"}]})
    );

    // Ordered by a dimension first, or without a limit: refused with a reason.
    let by_dim = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(60))
        .dimension("protocol", DataType::Text)
        .metric(Metric::count("count"))
        .order_by("protocol", Direction::Asc)
        .limit(5)
        .build()
        .unwrap();
    let err = fake.client("p").top_n(by_dim).unwrap_err();
    assert!(err.message().contains("ordered by a metric first"), "{err}");
    let err = fake.client("p").top_n(packets()).unwrap_err();
    assert!(err.message().contains("needs a limit"), "{err}");
}

fn sql_schema() -> Schema {
    Schema::new(vec![
        Column::dimension("source_ip", DataType::Ip),
        Column::dimension("protocol", DataType::Text),
        Column::metric("count", DataType::Int),
    ])
    .unwrap()
}

#[tokio::test]
async fn elasticsearch_sql_follows_cursors_and_maps_columns_by_name() {
    let fake = FakeEs::start(|r| {
        let page = match r.body.get("cursor").and_then(Json::as_str) {
            None => json!({"columns": [
                    {"name": "count", "type": "long"}, {"name": "protocol", "type": "keyword"},
                    {"name": "source_ip", "type": "ip"}],
                "rows": [[3, "TCP", "10.0.0.2"], [1, null, "10.0.0.9"]], "cursor": "c1"}),
            Some("c1") => json!({"rows": [[2, "UDP", null]], "cursor": "c2"}),
            Some("c2") => json!({"rows": [[5, "TCP", "::1"]]}),
            Some(other) => panic!("unknown cursor {other}"),
        };
        Answer::json(200, page)
    })
    .await;
    let query = "SELECT COUNT(*) AS count, protocol, source_ip FROM packets WHERE ts >= ? AND ts < ? GROUP BY 2, 3";
    let source = fake
        .client("packets")
        .sql(query, sql_schema())
        .unwrap()
        .with_window_params()
        .unwrap();
    let table = source.fetch(&FetchContext::new(window())).await.unwrap();
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3, "no close: the last page frees the cursor");
    for r in &reqs {
        assert_eq!(r.path, "/_sql");
        assert_eq!(r.query.as_deref(), Some("format=json"));
    }
    assert_eq!(
        reqs[0].body,
        json!({"query": query, "fetch_size": 1000,
        "params": ["2026-11-28T11:00:00.000Z", "2026-11-28T12:00:00.000Z"]})
    );
    assert_eq!(reqs[1].body, json!({"cursor": "c1"}));
    assert_eq!(reqs[2].body, json!({"cursor": "c2"}));
    let rows: Vec<Vec<Value>> = table.rows.iter().map(|r| r.values().to_vec()).collect();
    assert_eq!(
        rows,
        vec![
            vec![ip("10.0.0.2"), "TCP".into(), 3.into()],
            vec![ip("10.0.0.9"), Value::Null, 1.into()],
            vec![Value::Null, "UDP".into(), 2.into()],
            vec![ip("::1"), "TCP".into(), 5.into()],
        ]
    );
}

#[tokio::test]
async fn sql_cursor_is_closed_when_the_bound_stops_paging() {
    let closes = Arc::new(AtomicUsize::new(0));
    let seen = closes.clone();
    let fake = FakeEs::start(move |r| {
        if r.path == "/_sql/close" {
            seen.fetch_add(1, Ordering::SeqCst);
            return Answer::json(200, json!({"succeeded": true}));
        }
        let rows = json!([[1, "TCP", "10.0.0.1"], [1, "UDP", "10.0.0.1"]]);
        match r.body.get("cursor") {
            None => Answer::json(
                200,
                json!({"columns": [{"name": "count", "type": "long"},
                {"name": "protocol", "type": "keyword"}, {"name": "source_ip", "type": "ip"}],
                "rows": rows, "cursor": "more"}),
            ),
            Some(_) => Answer::json(200, json!({"rows": rows, "cursor": "more"})),
        }
    })
    .await;
    let client = fake.builder("packets").max_groups(3).build().unwrap();
    let err = client
        .sql("SELECT 1", sql_schema())
        .unwrap()
        .fetch(&FetchContext::new(window()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    assert_eq!(closes.load(Ordering::SeqCst), 1);
    let close = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/_sql/close")
        .unwrap();
    assert_eq!(close.body, json!({"cursor": "more"}));
}

#[tokio::test]
async fn opensearch_sql_plugin_shapes_and_errors() {
    let fake = FakeEs::start(|r| match r.body.get("query").and_then(Json::as_str) {
        Some("bad") => Answer::json(400, json!({"error": {"reason": "Invalid SQL query",
            "details": "Failed to parse query due to offending symbol", "type": "SyntaxCheckException"},
            "status": 400})),
        _ => Answer::json(200, json!({"schema": [{"name": "source_ip", "type": "ip"},
            {"name": "protocol", "type": "keyword"}, {"name": "count", "type": "long"}],
            "datarows": [["10.0.0.2", "TCP", 28]], "total": 1, "size": 1, "status": 200})),
    })
    .await;
    let client = fake
        .builder("packets")
        .sql_dialect(SqlDialect::OpenSearch)
        .build()
        .unwrap();
    let table = client
        .sql("SELECT ...", sql_schema())
        .unwrap()
        .fetch(&FetchContext::new(window()))
        .await
        .unwrap();
    assert_eq!(
        table.rows[0].values(),
        &[ip("10.0.0.2"), "TCP".into(), 28.into()]
    );
    let r = &fake.requests()[0];
    assert_eq!(r.path, "/_plugins/_sql");
    assert_eq!(r.query, None);
    assert_eq!(r.body, json!({"query": "SELECT ...", "fetch_size": 1000}));

    let err = client
        .sql("bad", sql_schema())
        .unwrap()
        .fetch(&FetchContext::new(window()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSpec);
    assert!(
        err.message()
            .contains("Invalid SQL query: Failed to parse query"),
        "{err}"
    );

    // Window parameters are an Elasticsearch SQL feature.
    let err = client
        .sql("SELECT 1", sql_schema())
        .unwrap()
        .with_window_params()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[tokio::test]
async fn sql_columns_must_exist_and_fit() {
    let fake = FakeEs::start(|_| {
        Answer::json(
            200,
            json!({"columns": [
        {"name": "source_ip", "type": "keyword"}, {"name": "protocol", "type": "keyword"}],
        "rows": []}),
        )
    })
    .await;
    let mut schema_cols = sql_schema().columns().to_vec();
    let err = fake
        .client("p")
        .sql("SELECT 1", sql_schema())
        .unwrap()
        .fetch(&FetchContext::new(window()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSpec);
    assert!(
        err.message()
            .contains("`source_ip` is keyword but the schema declares it ip"),
        "{err}"
    );
    schema_cols.remove(0);
    let err = fake
        .client("p")
        .sql("SELECT 1", Schema::new(schema_cols).unwrap())
        .unwrap()
        .fetch(&FetchContext::new(window()))
        .await
        .unwrap_err();
    assert!(
        err.message()
            .contains("no column `count`; it has `source_ip`, `protocol`"),
        "{err}"
    );
}

#[tokio::test]
async fn ip_ranges_split_by_family() {
    let fake = FakeEs::start(|_| Answer::json(200, search_answer(None, vec![]))).await;
    let source = fake.client("p").aggregate(packets()).unwrap();
    let range = Filter::range("source_ip", Some(ip("10.0.0.10")), Some(ip("2001:db8::2")));
    source
        .fetch(&FetchContext::new(window()).with_filters(vec![range]))
        .await
        .unwrap();
    let clause = &fake.requests()[0].body["query"]["bool"]["filter"][2];
    assert_eq!(
        clause,
        &json!({"bool": {"should": [
        {"range": {"source_ip": {"gte": "10.0.0.10", "lte": "255.255.255.255"}}},
        {"bool": {"filter": [{"range": {"source_ip": {"gte": "::", "lt": "2001:db8::2"}}}],
                  "must_not": [{"range": {"source_ip": {"gte": "0.0.0.0", "lte": "255.255.255.255"}}}]}}],
        "minimum_should_match": 1}})
    );
}
