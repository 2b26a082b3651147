//! The test evaluator on its own: it must compute the composite aggregation and the
//! filters correctly, or the behaviour suite run through it proves nothing.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value as Json, json};
use support::eval::{FieldType, Index};

fn index() -> Index {
    let mut i = Index::new(&[
        ("ts", FieldType::Date),
        ("ip", FieldType::Ip),
        ("proto", FieldType::Keyword),
        ("size", FieldType::Long),
    ]);
    for doc in [
        json!({"ts": "2026-11-28T11:00:00.000Z", "ip": "10.0.0.10", "proto": "TCP", "size": 10}),
        json!({"ts": "2026-11-28T11:30:00.000Z", "ip": "10.0.0.9", "proto": "TCP", "size": 5}),
        json!({"ts": "2026-11-28T11:30:00.000Z", "ip": "10.0.0.9", "proto": "UDP"}),
        json!({"ts": "2026-11-28T11:59:59.999Z", "proto": "UDP", "size": 7}),
        json!({"ts": "2026-11-28T12:00:00.000Z", "ip": "10.0.0.9", "proto": "TCP", "size": 100}),
    ] {
        i.add(&doc).unwrap();
    }
    i
}

fn body(after: Option<Json>, size: u64, filters: Json) -> Json {
    let mut b = json!({"size": 0, "track_total_hits": false,
        "query": {"bool": {"filter": filters}},
        "aggs": {"groups": {
            "composite": {"size": size, "sources": [
                {"ip": {"terms": {"field": "ip", "missing_bucket": true}}},
                {"proto": {"terms": {"field": "proto", "missing_bucket": true}}}]},
            "aggs": {"s": {"sum": {"field": "size"}}, "n": {"value_count": {"field": "size"}},
                     "a": {"avg": {"field": "size"}}, "lo": {"min": {"field": "size"}},
                     "d": {"cardinality": {"field": "proto"}}}}}});
    if let Some(a) = after {
        b["aggs"]["groups"]["composite"]["after"] = a;
    }
    b
}

fn window() -> Json {
    json!([{"range": {"ts": {"gte": "2026-11-28T11:00:00.000Z", "lt": "2026-11-28T12:00:00.000Z"}}}])
}

#[test]
fn groups_nulls_first_ips_numerically_and_computes_metrics() {
    let out = index().search(&body(None, 10, window())).unwrap();
    let buckets = out["aggregations"]["groups"]["buckets"].as_array().unwrap();
    let keys: Vec<&Json> = buckets.iter().map(|b| &b["key"]).collect();
    // The event at 12:00 is outside [11:00, 12:00); null first; 10.0.0.9 < 10.0.0.10.
    assert_eq!(
        keys,
        [
            &json!({"ip": null, "proto": "UDP"}),
            &json!({"ip": "10.0.0.9", "proto": "TCP"}),
            &json!({"ip": "10.0.0.9", "proto": "UDP"}),
            &json!({"ip": "10.0.0.10", "proto": "TCP"}),
        ]
    );
    let udp9 = &buckets[2];
    assert_eq!(udp9["doc_count"], 1);
    assert_eq!(udp9["s"]["value"], 0.0, "Elasticsearch sums nothing to 0.0");
    assert_eq!(udp9["n"]["value"], 0);
    assert_eq!(udp9["a"]["value"], Json::Null);
    assert_eq!(udp9["lo"]["value"], Json::Null);
    assert_eq!(buckets[0]["s"]["value"], 7.0);
    assert_eq!(buckets[3]["d"]["value"], 1);
    assert_eq!(
        out["aggregations"]["groups"]["after_key"],
        json!({"ip": "10.0.0.10", "proto": "TCP"})
    );
}

#[test]
fn pages_follow_after_and_end_without_after_key() {
    let i = index();
    let p1 = i.search(&body(None, 3, window())).unwrap();
    let after = p1["aggregations"]["groups"]["after_key"].clone();
    assert_eq!(after, json!({"ip": "10.0.0.9", "proto": "UDP"}));
    let p2 = i.search(&body(Some(after), 3, window())).unwrap();
    assert_eq!(
        p2["aggregations"]["groups"]["buckets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let after = p2["aggregations"]["groups"]["after_key"].clone();
    let p3 = i.search(&body(Some(after), 3, window())).unwrap();
    assert_eq!(p3["aggregations"]["groups"]["buckets"], json!([]));
    assert!(p3["aggregations"]["groups"].get("after_key").is_none());
    // A null in `after` resumes after the missing-value bucket.
    let p = i
        .search(&body(
            Some(json!({"ip": null, "proto": "UDP"})),
            10,
            window(),
        ))
        .unwrap();
    assert_eq!(
        p["aggregations"]["groups"]["buckets"][0]["key"]["ip"],
        "10.0.0.9"
    );
}

#[test]
fn filters_term_terms_exists_should_and_range() {
    let i = index();
    let count = |filters: Json| -> u64 {
        let out = i.search(&body(None, 100, filters)).unwrap();
        out["aggregations"]["groups"]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["doc_count"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(count(json!([])), 5);
    assert_eq!(count(json!([{"term": {"proto": "UDP"}}])), 2);
    assert_eq!(
        count(json!([{"terms": {"ip": ["10.0.0.9", "10.0.0.10"]}}])),
        4
    );
    assert_eq!(
        count(json!([{"bool": {"must_not": [{"exists": {"field": "ip"}}]}}])),
        1
    );
    assert_eq!(
        count(json!([{"bool": {"should": [{"term": {"proto": "TCP"}},
            {"bool": {"must_not": [{"exists": {"field": "ip"}}]}}], "minimum_should_match": 1}}])),
        4
    );
    assert_eq!(
        count(json!([{"range": {"size": {"gte": 7, "lt": 100}}}])),
        2
    );
    assert_eq!(
        count(json!([{"range": {"size": {"gte": 0}}}])),
        4,
        "range skips missing"
    );
}

#[test]
fn refuses_what_it_does_not_know() {
    let i = index();
    assert!(i.search(&json!({"size": 10})).is_err());
    assert!(
        i.search(&body(None, 1, json!([{"match": {"proto": "TCP"}}])))
            .is_err()
    );
    assert!(
        i.search(&body(None, 1, json!([{"term": {"nope": 1}}])))
            .is_err()
    );
    assert!(
        i.search(&body(None, 1, json!([{"term": {"ip": "not-an-ip"}}])))
            .is_err()
    );
    let mut dup = body(None, 1, json!([]));
    dup["aggs"]["groups"]["composite"]["sources"][1] = json!({"ip": {"terms": {"field": "proto"}}});
    assert!(i.search(&dup).is_err());
}

fn histogram_body(interval: Json, after: Option<Json>) -> Json {
    let mut b = json!({"size": 0, "track_total_hits": false,
        "query": {"bool": {"filter": [{"range": {"ts": {"gte": "2026-11-28T11:00:00.000Z",
            "lt": "2026-11-28T13:00:00.000Z"}}}]}},
        "aggs": {"groups": {
            "composite": {"size": 10, "sources": [
                {"bucket": {"date_histogram": {"field": "ts", "fixed_interval": interval}}},
                {"proto": {"terms": {"field": "proto", "missing_bucket": true}}}]},
            "aggs": {"s": {"sum": {"field": "size"}}, "n": {"value_count": {"field": "size"}}}}}});
    if let Some(a) = after {
        b["aggs"]["groups"]["composite"]["after"] = a;
    }
    b
}

/// Epoch milliseconds of an RFC 3339 instant.
fn ms(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t)
        .unwrap()
        .timestamp_millis()
}

#[test]
fn date_histogram_keys_are_epoch_aligned_bucket_starts() {
    let out = index().search(&histogram_body(json!("30m"), None)).unwrap();
    let buckets = out["aggregations"]["groups"]["buckets"].as_array().unwrap();
    let got: Vec<(Json, u64, f64)> = buckets
        .iter()
        .map(|b| {
            (
                b["key"].clone(),
                b["doc_count"].as_u64().unwrap(),
                b["s"]["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                json!({"bucket": ms("2026-11-28T11:00:00Z"), "proto": "TCP"}),
                1,
                10.0
            ),
            (
                json!({"bucket": ms("2026-11-28T11:30:00Z"), "proto": "TCP"}),
                1,
                5.0
            ),
            // 11:30:00.000 and 11:59:59.999 share the 11:30 bucket.
            (
                json!({"bucket": ms("2026-11-28T11:30:00Z"), "proto": "UDP"}),
                2,
                7.0
            ),
            (
                json!({"bucket": ms("2026-11-28T12:00:00Z"), "proto": "TCP"}),
                1,
                100.0
            ),
        ]
    );
    // Paging resumes after a (bucket, term) key.
    let after = json!({"bucket": ms("2026-11-28T11:30:00Z"), "proto": "TCP"});
    let out = index()
        .search(&histogram_body(json!("30m"), Some(after)))
        .unwrap();
    let keys: Vec<&Json> = out["aggregations"]["groups"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["key"]["proto"])
        .collect();
    assert_eq!(keys, [&json!("UDP"), &json!("TCP")]);
    // Units: 1h buckets put 11:00..11:59:59.999 together.
    let out = index().search(&histogram_body(json!("1h"), None)).unwrap();
    assert_eq!(
        out["aggregations"]["groups"]["buckets"][1]["key"],
        json!({"bucket": ms("2026-11-28T11:00:00Z"), "proto": "UDP"})
    );
    assert_eq!(out["aggregations"]["groups"]["buckets"][1]["doc_count"], 2);
}

#[test]
fn date_histogram_refuses_what_changes_the_keys() {
    let i = index();
    for bad in [json!("1M"), json!("10"), json!("0s"), json!(10)] {
        assert!(
            i.search(&histogram_body(bad.clone(), None)).is_err(),
            "{bad}"
        );
    }
    for (k, v) in [
        ("offset", json!("+5s")),
        ("time_zone", json!("+01:00")),
        ("format", json!("epoch_second")),
        ("calendar_interval", json!("1h")),
    ] {
        let mut b = histogram_body(json!("10s"), None);
        b["aggs"]["groups"]["composite"]["sources"][0]["bucket"]["date_histogram"][k] = v;
        assert!(i.search(&b).is_err(), "{k}");
    }
    let mut b = histogram_body(json!("10s"), None);
    b["aggs"]["groups"]["composite"]["sources"][0]["bucket"]["date_histogram"]["field"] =
        json!("proto");
    assert!(i.search(&b).is_err(), "a keyword field");
}
