//! Property-based fuzzing of what the server reads from strangers: query strings (the
//! parser and every endpoint behind it) and the spec's serde input (`Aggregate`,
//! `Filter`, `ViewParams`, `FormatRule`, `Value`). No input may panic; the endpoints
//! answer a JSON 2xx or 4xx, never a 5xx. (The `Last-Event-ID` parser is private; its
//! property test sits beside it in `src/sse.rs`.)
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::{Packets, packets_table, sample_rows};
use http_body_util::BodyExt;
use livetable_core::{Aggregate, Catalog, Filter, FormatRule, Value, ViewParams};
use livetable_http::parse_view_params;
use proptest::prelude::*;
use serde_json::{Value as Json, json};
use tower::ServiceExt;

/// Query strings: pieces of real syntax (names, `=`, `&`, escapes, windows, addresses)
/// mixed with arbitrary text.
fn query_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("window".to_owned()),
        Just("protocol".to_owned()),
        Just("source_ip".to_owned()),
        Just("count".to_owned()),
        Just("=".to_owned()),
        Just("&".to_owned()),
        Just("+".to_owned()),
        Just("%".to_owned()),
        Just("%FF".to_owned()),
        Just("%C3%28".to_owned()),
        Just("%00".to_owned()),
        Just("15m".to_owned()),
        Just("1h".to_owned()),
        Just("99999999999999999999h".to_owned()),
        Just("10.0.0.1".to_owned()),
        Just("::1".to_owned()),
        Just("TCP".to_owned()),
        "[a-z0-9_]{0,8}",
        "\\PC{0,6}",
        any::<u64>().prop_map(|n| n.to_string()),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

/// JSON shaped like the inputs (known keys, plausible and implausible values).
fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(-1.0)),
        Just(json!(1e300)),
        Just(json!(u64::MAX)),
        prop_oneof![
            Just("ts"),
            Just("host"),
            Just("size"),
            Just("count"),
            Just("text"),
            Just("int"),
            Just("float"),
            Just("ip"),
            Just("timestamp"),
            Just("bool"),
            Just("sum"),
            Just("avg"),
            Just("count_distinct"),
            Just("eq"),
            Just("in"),
            Just("range"),
            Just("desc"),
            Just("threshold"),
            Just("top_n"),
            Just("color_scale"),
            Just("data_bar"),
            Just("gt"),
            Just("bytes"),
            Just("#ff0000"),
            Just("15m"),
            Just(""),
        ]
        .prop_map(Json::from),
        "\\PC{0,10}".prop_map(Json::from),
    ];
    let key = prop_oneof![
        Just("time_column"),
        Just("window"),
        Just("dimensions"),
        Just("fields"),
        Just("metrics"),
        Just("filters"),
        Just("order_by"),
        Just("limit"),
        Just("name"),
        Just("type"),
        Just("kind"),
        Just("column"),
        Just("unit"),
        Just("label"),
        Just("op"),
        Just("value"),
        Just("values"),
        Just("gte"),
        Just("lt"),
        Just("direction"),
        Just("rule"),
        Just("style"),
        Just("n"),
        Just("low"),
        Just("high"),
        Just("color"),
        Just("background"),
        Just("bold"),
        Just("other"),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::from),
            prop::collection::btree_map(key.clone(), inner, 0..8).prop_map(|m| {
                Json::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// A valid spec, to mutate one field at a time.
fn valid_spec() -> Json {
    json!({
        "time_column": "ts",
        "window": 3600.0,
        "dimensions": [{"name": "host", "type": "text"}],
        "fields": [{"name": "size", "type": "int"}],
        "metrics": [{"name": "count", "kind": "count"}, {"name": "bytes", "kind": "sum", "column": "size"}],
        "filters": [{"op": "in", "column": "host", "values": ["a", "b"]}],
        "order_by": [{"column": "count", "direction": "desc"}],
        "limit": 10
    })
}

fn parse_everything(text: &str) {
    let _ = serde_json::from_str::<Aggregate>(text);
    let _ = serde_json::from_str::<Filter>(text);
    let _ = serde_json::from_str::<ViewParams>(text);
    let _ = serde_json::from_str::<FormatRule>(text);
    let _ = serde_json::from_str::<Value>(text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_query_parser_never_panics(query in query_string()) {
        if let Ok(params) = parse_view_params(Some(&query)) {
            // What it accepts, the table validates without panicking either.
            let table = packets_table("packets", Packets::new(vec![]), Duration::from_secs(3600));
            let _ = table.normalise(&params);
        }
    }

    #[test]
    fn spec_input_never_panics(value in json_value()) {
        parse_everything(&value.to_string());
    }

    #[test]
    fn a_valid_spec_with_one_field_replaced_never_panics(
        field in prop_oneof![
            Just("time_column"), Just("window"), Just("dimensions"), Just("fields"),
            Just("metrics"), Just("filters"), Just("order_by"), Just("limit"),
        ],
        value in json_value(),
    ) {
        let mut spec = valid_spec();
        spec[field] = value;
        let _ = serde_json::from_value::<Aggregate>(spec);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,64}") {
        parse_everything(&text);
        let _ = parse_view_params(Some(&text));
    }
}

#[test]
fn the_valid_spec_is_valid() {
    // The mutations above start from a spec that parses.
    serde_json::from_value::<Aggregate>(valid_spec()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Through the router: every endpoint answers a JSON 200 or 4xx for any query
    /// string, never a 5xx.
    #[test]
    fn endpoints_answer_json_4xx_never_5xx(query in query_string(), endpoint in 0..3usize) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let source = Packets::new(sample_rows());
            let app = livetable_http::router(
                Catalog::new()
                    .with(packets_table("packets", source, Duration::from_secs(3600)))
                    .unwrap(),
            );
            let path = ["/api/tables/packets", "/api/tables/packets.csv", "/api/tables/packets/stream"][endpoint];
            // A query string the HTTP layer would accept as a URI.
            let escaped: String = query
                .bytes()
                .map(|b| if b.is_ascii_graphic() && b != b'#' { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect();
            let Ok(request) = Request::get(format!("{path}?{escaped}")).body(Body::empty()) else {
                return Ok(());
            };
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            prop_assert!(!status.is_server_error(), "{status} for {escaped:?}");
            if status.is_client_error() {
                let body = response.into_body().collect().await.unwrap().to_bytes();
                let json: Json = serde_json::from_slice(&body).unwrap();
                prop_assert!(json["error"]["message"].is_string());
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}
