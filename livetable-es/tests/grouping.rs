//! Viewers' groupings: a grouped fetch sends the aggregation of the grouped spec —
//! only the kept dimensions' sources (or terms), in the order asked for, and still the
//! filters on the dimensions left out — and reads the answer into rows of the grouped
//! schema; against the evaluating fake, grouped fetches agree with `MemorySource`'s
//! roll-up in memory.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use livetable_core::{
    Aggregate, DataType, Direction, FetchContext, Filter, MemorySource, Metric, TableQuery, Value,
    Window,
};
use livetable_testkit::suite;
use livetable_testkit::workload::{
    EventLayout, PACKET_COLUMNS, Workload, five_dim_spec, packets_builder,
};
use serde_json::json;
use support::eval::Index;
use support::{Answer, FakeEs};

fn window() -> Window {
    let end: DateTime<Utc> = "2026-11-28T12:00:00Z".parse().unwrap();
    Window::ending_at(end, Duration::from_secs(3600)).unwrap()
}

fn ip(s: &str) -> Value {
    Value::Ip(s.parse::<IpAddr>().unwrap())
}

/// Packets by source, destination port and protocol (TCP and UDP only), with an
/// average size.
fn spec() -> Aggregate {
    packets_builder(&[
        ("source_ip", DataType::Ip),
        ("destination_port", DataType::Int),
        ("protocol", DataType::Text),
    ])
    .metric(Metric::avg("avg_size", "size"))
    .filter(Filter::is_in("protocol", ["TCP", "UDP"]))
    .order_by("count", Direction::Desc)
    .build()
    .unwrap()
}

/// The searches' common answer around `groups`.
fn answer(groups: serde_json::Value) -> Answer {
    Answer::json(
        200,
        json!({"took": 2, "timed_out": false,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"max_score": null, "hits": []},
            "aggregations": {"groups": groups}}),
    )
}

#[tokio::test]
async fn a_grouped_composite_fetch_sends_the_kept_sources_in_order_and_every_filter() {
    let fake = FakeEs::start(|_| {
        answer(json!({"buckets": [
            {"key": {"destination_port": 443, "source_ip": "10.0.0.2"}, "doc_count": 3,
             "m1": {"value": 4096.0}, "m1_n": {"value": 3}, "m2": {"value": 1365.5}},
            {"key": {"destination_port": 53, "source_ip": null}, "doc_count": 5,
             "m1": {"value": 0.0}, "m1_n": {"value": 0}, "m2": {"value": null}}]}))
    })
    .await;
    let source = fake.client("packets").aggregate(spec()).unwrap();
    assert!(source.supports_grouping());
    // By destination port then source (reordered), TCP only: `protocol` is left out.
    let ctx = FetchContext::new(window())
        .with_filters(vec![Filter::eq("protocol", "TCP")])
        .with_group_by(Some(vec![1, 0]));
    let table = source.fetch(&ctx).await.unwrap();

    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "no after_key: one page");
    assert_eq!(
        requests[0].body,
        json!({
            "size": 0, "track_total_hits": false,
            "query": {"bool": {"filter": [
                {"range": {"ts": {"gte": "2026-11-28T11:00:00.000Z", "lt": "2026-11-28T12:00:00.000Z"}}},
                {"terms": {"protocol": ["TCP", "UDP"]}},
                {"term": {"protocol": "TCP"}}]}},
            "aggs": {"groups": {
                "composite": {"size": 1000, "sources": [
                    {"destination_port": {"terms": {"field": "destination_port", "missing_bucket": true}}},
                    {"source_ip": {"terms": {"field": "source_ip", "missing_bucket": true}}}]},
                "aggs": {"m1": {"sum": {"field": "size"}}, "m1_n": {"value_count": {"field": "size"}},
                         "m2": {"avg": {"field": "size"}}}}}
        })
    );
    // Rows of the grouped schema, in the grouped spec's order (count descending).
    let rows: Vec<&[Value]> = table.rows.iter().map(|r| r.values()).collect();
    assert_eq!(
        rows,
        [
            &[53.into(), Value::Null, 5.into(), Value::Null, Value::Null][..],
            &[
                443.into(),
                ip("10.0.0.2"),
                3.into(),
                4096.into(),
                1365.5.into()
            ][..],
        ]
    );
    assert_eq!(
        spec().schema().grouped(&[1, 0]).unwrap(),
        *spec().grouped(&[1, 0]).unwrap().schema().as_ref()
    );

    // Not a grouping of the dimensions: refused before anything is sent.
    let bad = FetchContext::new(window()).with_group_by(Some(vec![3]));
    assert!(source.fetch(&bad).await.is_err());
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_grouped_top_n_ranks_the_kept_dimensions_itself() {
    let fake = FakeEs::start(|_| {
        answer(
            json!({"doc_count_error_upper_bound": 0, "sum_other_doc_count": 4,
            "buckets": [
                {"key": 443, "doc_count": 7, "m1": {"value": 700.0}, "m1_n": {"value": 7},
                 "m2": {"value": 100.0}},
                {"key": 80, "doc_count": 2, "m1": {"value": 90.0}, "m1_n": {"value": 2},
                 "m2": {"value": 45.0}}]}),
        )
    })
    .await;
    let mut top = spec().spec().clone();
    top.limit = Some(2);
    let source = fake
        .client("packets")
        .top_n(Aggregate::from_spec(top).unwrap())
        .unwrap();
    assert!(source.supports_grouping());
    let ctx = FetchContext::new(window())
        .with_filters(vec![Filter::eq("source_ip", ip("10.0.0.2"))])
        .with_group_by(Some(vec![1]));
    let table = source.fetch(&ctx).await.unwrap();
    let body = &fake.requests()[0].body;
    // One kept dimension: a plain `terms`, ranked by the grouped rows' count.
    assert_eq!(
        body["aggs"]["groups"]["terms"],
        json!({"field": "destination_port", "size": 2, "order": [{"_count": "desc"}, {"_key": "asc"}]})
    );
    assert_eq!(
        body["query"]["bool"]["filter"][2],
        json!({"term": {"source_ip": "10.0.0.2"}}),
        "the filter on the left-out source"
    );
    assert!(table.approximate);
    let rows: Vec<&[Value]> = table.rows.iter().map(|r| r.values()).collect();
    assert_eq!(
        rows,
        [
            &[443.into(), 7.into(), 700.into(), 100.0.into()][..],
            &[80.into(), 2.into(), 90.into(), 45.0.into()][..],
        ]
    );
    // Two kept dimensions, reordered: a `multi_terms` in that order.
    let two = source
        .request(&FetchContext::new(window()).with_group_by(Some(vec![2, 0])))
        .unwrap();
    assert_eq!(
        two["aggs"]["groups"]["multi_terms"]["terms"],
        json!([{"field": "protocol"}, {"field": "source_ip"}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_fetches_agree_with_the_in_memory_roll_up() {
    let spec = five_dim_spec();
    let layout = EventLayout::new(&spec).unwrap();
    let columns: Vec<(&str, DataType)> = spec
        .event_columns()
        .map(|(name, _)| *PACKET_COLUMNS.iter().find(|(n, _)| *n == name).unwrap())
        .collect();
    let end = Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap();
    let packets = Workload::new(14).generate(5_000, end);
    let events: Vec<Vec<Value>> = layout.events(&packets).collect();
    let memory = MemorySource::builder(spec.clone())
        .bucket_width(Duration::from_secs(60))
        .retention(Duration::from_secs(7200))
        .build()
        .unwrap();
    memory.push_batch(&events).unwrap();
    let fake = FakeEs::evaluating(Index::from_events(&columns, &events)).await;
    // A small page, so that grouped fetches page too.
    let es = fake
        .builder("packets")
        .page_size(97)
        .build()
        .unwrap()
        .aggregate(spec.clone())
        .unwrap();

    let window = Window::ending_at(end, Duration::from_secs(3600)).unwrap();
    let groupings: [(&[usize], Vec<Filter>); 4] = [
        (&[4], vec![]),
        (&[0, 4], vec![]),
        (&[4, 0], vec![]),
        // By destination port, UDP only: a filter on a left-out dimension.
        (&[3], vec![Filter::eq("protocol", "UDP")]),
    ];
    for (by, filters) in groupings {
        let ctx = FetchContext::new(window)
            .with_filters(filters.clone())
            .with_group_by(Some(by.to_vec()));
        let expected = memory.fetch(&ctx).await.unwrap();
        assert_eq!(expected.covered, Some(window), "whole buckets");
        assert!(expected.rows.len() > 1, "{by:?}: too few rows to tell");
        let actual = es.fetch(&ctx).await.unwrap();
        if let Err(diff) = suite::compare(&spec.grouped(by).unwrap(), &expected.rows, &actual.rows)
        {
            panic!("{by:?} with {filters:?}:\n{diff}");
        }
    }
}
