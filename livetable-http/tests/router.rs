//! Every endpoint and every 4xx, through `tower::ServiceExt::oneshot` (no socket).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Packets, packets_table, sample_rows};
use http_body_util::BodyExt;
use livetable_core::{Catalog, Table};
use livetable_http::Options;
use serde_json::Value as Json;
use tower::ServiceExt;

const TOKEN: &str = "s3cret-token-0123456789";

fn catalog() -> (Catalog, Packets) {
    let source = Packets::new(sample_rows());
    let catalog = Catalog::new()
        .with(packets_table(
            "packets",
            source.clone(),
            Duration::from_secs(3600),
        ))
        .unwrap();
    (catalog, source)
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    /// A 4xx/5xx with the JSON error body; returns its message.
    fn error(&self, status: u16, kind: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert!(
            self.header(header::CONTENT_TYPE)
                .starts_with("application/json")
        );
        let body = self.json();
        assert_eq!(body["error"]["kind"], kind, "{}", self.body);
        body["error"]["message"].as_str().unwrap().to_owned()
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

async fn get(app: &Router, uri: &str) -> Answer {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn page_and_assets() {
    let app = livetable_http::router(catalog().0);
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header(header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert!(
        page.header(header::CONTENT_SECURITY_POLICY)
            .contains("script-src 'self'")
    );
    assert_eq!(page.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        page.body
            .contains(&format!("src=\"assets/app.js?v={version}\""))
    );
    assert!(
        page.body
            .contains(&format!("href=\"assets/style.css?v={version}\""))
    );

    let js = get(&app, "/assets/app.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        js.header(header::CONTENT_TYPE)
            .starts_with("text/javascript")
    );
    assert!(js.body.contains("EventSource"));
    let css = get(&app, "/assets/style.css").await;
    assert!(css.header(header::CONTENT_TYPE).starts_with("text/css"));
    assert!(css.body.contains("--lt-bg"));

    get(&app, "/assets/secret.txt")
        .await
        .error(404, "not_found");
    get(&app, "/nowhere").await.error(404, "not_found");
}

#[tokio::test]
async fn table_list_describes_schema_windows_and_rules() {
    let app = livetable_http::router(catalog().0);
    let answer = get(&app, "/api/tables").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
    let body = answer.json();
    let table = &body["tables"][0];
    assert_eq!(table["name"], "packets");
    assert_eq!(table["title"], "Packets by source");
    assert_eq!(table["window"], "1h");
    assert_eq!(table["allowed_windows"], serde_json::json!(["15m", "1h"]));
    let columns = table["schema"]["columns"].as_array().unwrap();
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["source_ip", "protocol", "count", "total_size"]);
    assert_eq!(columns[3]["unit"], "bytes");
    assert_eq!(columns[0]["role"], "dimension");
    assert_eq!(table["format_rules"][0]["rule"], "threshold");
    assert_eq!(table["format_rules"][1]["rule"], "data_bar");
    assert_eq!(table["default_order"][0]["column"], "count");
}

#[tokio::test]
async fn snapshot_as_json_with_filters_and_window() {
    let app = livetable_http::router(catalog().0);
    let answer = get(&app, "/api/tables/packets").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(header::CONTENT_TYPE), "application/json");
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
    assert_eq!(answer.headers.get("x-livetable-status").unwrap(), "fresh");
    let body = answer.json();
    assert_eq!(body["status"]["state"], "fresh");
    assert_eq!(
        body["rows"],
        serde_json::json!([
            ["10.0.0.1", "TCP", 1200, 1_500_000],
            ["10.0.0.2", "UDP", 300, 45_000],
            ["10.0.0.3", "TCP", 50, 3_200],
        ])
    );
    assert!(body["version"].as_u64().unwrap() >= 1);
    assert!(body["fetch_ms"].as_f64().is_some());
    let length = chrono::DateTime::parse_from_rfc3339(body["window"]["end"].as_str().unwrap())
        .unwrap()
        - chrono::DateTime::parse_from_rfc3339(body["window"]["start"].as_str().unwrap()).unwrap();
    assert_eq!(length.num_seconds(), 3600);

    let count = |body: Json| body["rows"].as_array().unwrap().len();
    assert_eq!(
        count(get(&app, "/api/tables/packets?protocol=TCP").await.json()),
        2
    );
    assert_eq!(
        count(
            get(&app, "/api/tables/packets?protocol=TCP&protocol=UDP")
                .await
                .json()
        ),
        3
    );
    let one = get(&app, "/api/tables/packets?source_ip=10.0.0.2")
        .await
        .json();
    assert_eq!(
        one["rows"],
        serde_json::json!([["10.0.0.2", "UDP", 300, 45_000]])
    );
    let quarter = get(&app, "/api/tables/packets?window=15m&protocol=UDP")
        .await
        .json();
    let start =
        chrono::DateTime::parse_from_rfc3339(quarter["window"]["start"].as_str().unwrap()).unwrap();
    let end =
        chrono::DateTime::parse_from_rfc3339(quarter["window"]["end"].as_str().unwrap()).unwrap();
    assert_eq!((end - start).num_seconds(), 900);
    assert_eq!(count(quarter), 1);
}

#[tokio::test]
async fn snapshot_as_csv() {
    let app = livetable_http::router(catalog().0);
    let answer = get(&app, "/api/tables/packets.csv?protocol=TCP").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        answer.header(header::CONTENT_DISPOSITION),
        "attachment; filename=\"packets.csv\""
    );
    assert_eq!(
        answer.body,
        "source_ip,protocol,count,total_size\n10.0.0.1,TCP,1200,1500000\n10.0.0.3,TCP,50,3200\n"
    );
}

#[tokio::test]
async fn bad_parameters_are_400_saying_what_is_allowed() {
    let app = livetable_http::router(catalog().0);
    for path in [
        "/api/tables/packets",
        "/api/tables/packets.csv",
        "/api/tables/packets/stream",
    ] {
        let m = get(&app, &format!("{path}?window=2h"))
            .await
            .error(400, "invalid_parameter");
        assert!(m.contains("allowed: 15m, 1h"), "{m}");
        let m = get(&app, &format!("{path}?window=soon"))
            .await
            .error(400, "invalid_parameter");
        assert!(m.contains("15m, 1h or 90s"), "{m}");
        let m = get(&app, &format!("{path}?count=5"))
            .await
            .error(400, "invalid_parameter");
        assert!(m.contains("cannot filter on `count`"), "{m}");
        assert!(m.contains("`source_ip`, `protocol`"), "{m}");
        let m = get(&app, &format!("{path}?nope=1"))
            .await
            .error(400, "invalid_parameter");
        assert!(m.contains("`nope`"), "{m}");
        let m = get(&app, &format!("{path}?source_ip=web-1"))
            .await
            .error(400, "invalid_parameter");
        assert!(m.contains("not a valid ip"), "{m}");
        let m = get(&app, &format!("{path}?window=1h&window=15m"))
            .await
            .error(400, "invalid_parameter");
        assert!(m.contains("twice"), "{m}");
        get(&app, &format!("{path}?=x"))
            .await
            .error(400, "invalid_parameter");
    }
}

#[tokio::test]
async fn unknown_table_path_and_method() {
    let app = livetable_http::router(catalog().0);
    for path in [
        "/api/tables/nope",
        "/api/tables/nope.csv",
        "/api/tables/nope/stream",
    ] {
        let m = get(&app, path).await.error(404, "not_found");
        assert!(m.contains("valid ones are `packets`"), "{m}");
    }
    let m = get(&app, "/api/other").await.error(404, "not_found");
    assert!(m.contains("./api/tables"), "{m}");
    let post = send(
        &app,
        Request::builder()
            .method(Method::POST)
            .uri("/api/tables")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    post.error(405, "method_not_allowed");
}

/// A GET as `peer` would send it through `serve` (which records the address).
fn from(peer: &str, uri: &str) -> Request<Body> {
    let mut request = Request::get(uri).body(Body::empty()).unwrap();
    let addr: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    request
}

/// Opens a stream and keeps it (the subscription lives as long as the body).
async fn watch(app: &Router, request: Request<Body>) -> (StatusCode, Body) {
    let response = app.clone().oneshot(request).await.unwrap();
    (response.status(), response.into_body())
}

#[tokio::test]
async fn too_many_views_is_429_but_never_for_the_default_view() {
    let source = Packets::new(sample_rows());
    let table = Table::builder("packets", source)
        .refresh(common::refresh(Duration::from_secs(3600)))
        .allowed_windows([Duration::from_secs(900)])
        .max_views(1)
        .build()
        .unwrap();
    let app = livetable_http::router(Catalog::new().with(table).unwrap());
    // Plain GETs hold no slot: each new view replaces the unwatched one.
    for q in ["protocol=TCP", "protocol=UDP", "window=15m"] {
        let answer = get(&app, &format!("/api/tables/packets?{q}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{q}: {}", answer.body);
    }
    // A watched view holds the only slot; another is refused while it is watched.
    let (status, _held) = watch(
        &app,
        from("10.0.0.1", "/api/tables/packets/stream?window=15m"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let m = send(&app, from("10.0.0.2", "/api/tables/packets?protocol=TCP"))
        .await
        .error(429, "limit_exceeded");
    assert!(m.contains("live views"), "{m}");
    // The default view is always served.
    for _ in 0..3 {
        let answer = send(&app, from("10.0.0.2", "/api/tables/packets")).await;
        assert_eq!(answer.status, StatusCode::OK);
        let (status, _s) = watch(&app, from("10.0.0.3", "/api/tables/packets/stream")).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn one_client_flooding_filters_never_locks_out_another() {
    let (catalog, _) = catalog();
    let app = livetable_http::router(catalog);
    // Sixteen streams with sixteen filters from one address, as in the report.
    let mut held = Vec::new();
    let mut refused = 0;
    for i in 0..16 {
        let (status, body) = watch(
            &app,
            from(
                "203.0.113.9",
                &format!("/api/tables/packets/stream?protocol=z{i}"),
            ),
        )
        .await;
        match status {
            StatusCode::OK => held.push(body),
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("{other}"),
        }
    }
    assert_eq!(held.len(), 4, "one client holds its share of the views");
    assert_eq!(refused, 12);
    // Another client: the page's default view, another window, a new filter.
    for uri in [
        "/api/tables/packets",
        "/api/tables/packets?window=15m",
        "/api/tables/packets?protocol=TCP",
    ] {
        let answer = send(&app, from("198.51.100.4", uri)).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.body);
    }
    let (status, _s) = watch(
        &app,
        from("198.51.100.4", "/api/tables/packets/stream?window=15m"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The same client from another IPv6 address of its /64 shares its share.
    let v6 = |host: u16| format!("[2001:db8::{host:x}]");
    let mut v6_held = Vec::new();
    for i in 0..6u16 {
        let (status, body) = watch(
            &app,
            from(
                &v6(i + 1),
                &format!("/api/tables/packets/stream?protocol=v{i}"),
            ),
        )
        .await;
        if status == StatusCode::OK {
            v6_held.push(body);
        }
    }
    assert_eq!(v6_held.len(), 4);
}

/// Table names are any text: the router percent-decodes them, the OpenAPI document
/// encodes them, and a CSV's file name keeps only safe characters.
#[tokio::test]
async fn any_table_name_is_reachable() {
    let source = Packets::new(sample_rows());
    let hour = Duration::from_secs(3600);
    let catalog = Catalog::new()
        .with(packets_table("flows by host/ü", source.clone(), hour))
        .unwrap()
        .with(packets_table("x", source.clone(), hour))
        .unwrap()
        .with(packets_table("x.csv", source, hour))
        .unwrap();
    let app = livetable_http::router(catalog);
    let rows = sample_rows().len();
    let json = get(&app, "/api/tables/flows%20by%20host%2F%C3%BC")
        .await
        .json();
    assert_eq!(json["rows"].as_array().unwrap().len(), rows);
    let csv = get(&app, "/api/tables/flows%20by%20host%2F%C3%BC.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.body.lines().count(), rows + 1);
    assert_eq!(
        csv.header(header::CONTENT_DISPOSITION),
        "attachment; filename=\"flows_by_host__.csv\""
    );
    // An exact name wins over the `.csv` suffix: `x.csv` is the table, as JSON.
    let exact = get(&app, "/api/tables/x.csv").await;
    assert!(
        exact
            .header(header::CONTENT_TYPE)
            .starts_with("application/json")
    );
    let listed = get(&app, "/api/tables").await.json();
    let names: Vec<&str> = listed["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"flows by host/ü"), "{names:?}");
    let openapi = get(&app, "/api/openapi.json").await.json();
    let path = &openapi["paths"]["/api/tables/flows%20by%20host%2F%C3%BC/stream"];
    assert!(path.is_object(), "{}", openapi["paths"]);
}

#[tokio::test]
async fn every_error_is_json() {
    let app = livetable_http::router(catalog().0);
    for path in [
        "/api/tables/%FF",
        "/api/tables/%FF/stream",
        "/api/tables/%C3%28.csv",
    ] {
        let m = get(&app, path).await.error(400, "invalid_parameter");
        assert!(m.contains("percent-encode it as UTF-8"), "{m}");
    }
    let long = format!(
        "/api/tables/packets?protocol={}",
        "x".repeat(livetable_http::MAX_URI_BYTES)
    );
    let m = get(&app, &long).await.error(414, "uri_too_long");
    assert!(m.contains("longer than"), "{m}");
    let big = send(
        &app,
        Request::get("/api/tables")
            .header("x-padding", "y".repeat(livetable_http::MAX_HEADER_BYTES))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    big.error(431, "headers_too_large");
    // A bare name is a 400, as a bare `window` is.
    for q in ["protocol", "window", "protocol=TCP&source_ip"] {
        let m = get(&app, &format!("/api/tables/packets?{q}"))
            .await
            .error(400, "invalid_parameter");
        assert!(m.contains("has no value"), "{q}: {m}");
    }
    // 1,024 values of a long column name still fit the address.
    let many: Vec<String> = (0..1024)
        .map(|i| format!("source_ip=10.0.{}.{}", i / 256, i % 256))
        .collect();
    let answer = get(&app, &format!("/api/tables/packets?{}", many.join("&"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn failing_source_is_stale_and_leaks_nothing() {
    let (catalog, source) = catalog();
    source.fail(Some(common::BACKEND_MESSAGE));
    let app = livetable_http::router(catalog);
    let answer = get(&app, "/api/tables/packets").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers.get("x-livetable-status").unwrap(), "stale");
    let body = answer.json();
    assert_eq!(body["status"]["state"], "stale");
    assert_eq!(body["status"]["error"]["kind"], "unavailable");
    assert_eq!(
        body["status"]["error"]["message"],
        "the store is unavailable; retrying"
    );
    common::assert_no_backend_text(&answer.body);
    assert_eq!(body["rows"], serde_json::json!([]));
}

#[tokio::test]
async fn stream_starts_with_a_snapshot() {
    let app = livetable_http::router(catalog().0);
    let response = app
        .oneshot(
            Request::get("/api/tables/packets/stream?protocol=UDP")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    let mut body = response.into_body();
    let mut text = String::new();
    // The loading snapshot may come first; read until rows arrive.
    while !text.contains("10.0.0.2") {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("a frame in time")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(frame.data_ref().unwrap()).unwrap());
    }
    assert!(text.starts_with("event: snapshot\n"), "{text}");
    assert!(text.contains("\nretry: 2000\n"), "{text}");
    assert!(!text.contains("10.0.0.1"), "the filter applies: {text}");
}

#[tokio::test]
async fn token_is_required_everywhere() {
    let app = Options::default().token(TOKEN).unwrap().router(catalog().0);
    for path in [
        "/",
        "/assets/app.js",
        "/api/tables",
        "/api/tables/packets",
        "/api/tables/packets.csv",
        "/api/tables/packets/stream",
        "/nowhere",
        "/api/tables?token=s3cret-token-0123456789",
    ] {
        let answer = get(&app, path).await;
        answer.error(401, "unauthorized");
        assert_eq!(
            answer.header(header::WWW_AUTHENTICATE),
            "Bearer realm=\"livetable\""
        );
    }
    let with = |auth: &str| {
        Request::get("/api/tables")
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        send(&app, with(&format!("Bearer {TOKEN}"))).await.status,
        StatusCode::OK
    );
    send(&app, with("Bearer s3cret-token-0123456780"))
        .await
        .error(401, "unauthorized");
    send(&app, with(&format!("Basic {TOKEN}")))
        .await
        .error(401, "unauthorized");
    send(&app, with("Bearer")).await.error(401, "unauthorized");

    // The page exchanges `?token=` for a cookie and drops it from the address.
    let answer = get(&app, &format!("/?token={TOKEN}&table=packets")).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.header(header::LOCATION), "./?table=packets");
    let cookie = answer.header(header::SET_COOKIE).to_owned();
    assert!(
        cookie.starts_with(&format!("livetable_token={TOKEN};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("; Path=/;"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP here: {cookie}");
    let answer = get(&app, &format!("/?token={TOKEN}")).await;
    assert_eq!(answer.header(header::LOCATION), "./");
    let https = send(
        &app,
        Request::get(format!("/?token={TOKEN}"))
            .header("x-forwarded-proto", "https")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(https.header(header::SET_COOKIE).contains("; Secure"));
    get(&app, "/?token=s3cret-token-0123456780")
        .await
        .error(401, "unauthorized");

    let with_cookie = |path: &str, cookie: &str| {
        Request::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    let cookie = cookie.split(';').next().unwrap().to_owned();
    for path in [
        "/",
        "/assets/style.css",
        "/api/tables",
        "/api/tables/packets.csv",
    ] {
        let answer = send(&app, with_cookie(path, &format!("theme=dark; {cookie}"))).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
    }
    send(
        &app,
        with_cookie("/api/tables", "livetable_token=nope-nope-nope-nope"),
    )
    .await
    .error(401, "unauthorized");

    // Re-opening the `?token=` link with a valid cookie still takes the token out of
    // the address (the page would otherwise send it as a filter and in its CSV link).
    let again = send(
        &app,
        with_cookie(
            &format!("/?table=packets&token={TOKEN}&protocol=TCP"),
            &cookie,
        ),
    )
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(
        again.header(header::LOCATION),
        "./?table=packets&protocol=TCP"
    );
    // A stale or wrong token in the link with a valid cookie: the same redirect, no
    // new cookie.
    let wrong = send(
        &app,
        with_cookie("/?token=s3cret-token-0123456780", &cookie),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::SEE_OTHER);
    assert_eq!(wrong.header(header::LOCATION), "./");
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());
}

#[test]
fn bad_tokens_are_refused() {
    for bad in [
        "",
        "short",
        "has space 0123456789",
        "semi;colon0123456789",
        "hash#in-the-middle-0123",
        "plus+0123456789abcdef",
        "percent%200123456789ab",
    ] {
        let err = Options::default().token(bad).unwrap_err();
        assert!(err.message().contains("16 to 512"), "{err}");
    }
}

#[tokio::test]
async fn nested_router_keeps_its_links_right() {
    let inner = Options::default().token(TOKEN).unwrap().router(catalog().0);
    let app = Router::new().nest("/tcpdump", inner);

    // axum serves the nested page at `/tcpdump`: the token exchange redirects back
    // there, relative to the page's own URL.
    let answer = get(&app, &format!("/tcpdump?token={TOKEN}&table=packets")).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.header(header::LOCATION), "tcpdump?table=packets");
    // The cookie names the page's directory as the browser sees it.
    assert!(
        answer
            .header(header::SET_COOKIE)
            .contains("; Path=/tcpdump;"),
        "{}",
        answer.header(header::SET_COOKIE)
    );

    let cookie = format!("livetable_token={TOKEN}");
    let authed = |path: &str| {
        Request::get(path)
            .header(header::COOKIE, cookie.as_str())
            .body(Body::empty())
            .unwrap()
    };
    // The page's relative links resolve under `/tcpdump/` through a relative base.
    let page = send(&app, authed("/tcpdump")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<base href=\"tcpdump/\">"),
        "{}",
        page.body
    );
    assert!(page.body.contains("src=\"assets/app.js"));
    assert_eq!(
        send(&app, authed("/tcpdump/assets/app.js")).await.status,
        StatusCode::OK
    );
    let list = send(&app, authed("/tcpdump/api/tables")).await;
    assert_eq!(list.json()["tables"][0]["name"], "packets");
    let rows = send(&app, authed("/tcpdump/api/tables/packets?protocol=UDP")).await;
    assert_eq!(rows.json()["rows"].as_array().unwrap().len(), 1);
    send(&app, authed("/tcpdump/nowhere"))
        .await
        .error(404, "not_found");
    assert_eq!(get(&app, "/elsewhere").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn nest_serves_the_page_with_and_without_the_trailing_slash() {
    let inner = Options::default().token(TOKEN).unwrap().router(catalog().0);
    let app = livetable_http::nest("/tcpdump/", inner);
    let cookie = format!("livetable_token={TOKEN}");
    let authed = |path: &str| {
        Request::get(path)
            .header(header::COOKIE, cookie.as_str())
            .body(Body::empty())
            .unwrap()
    };
    let slash = send(&app, authed("/tcpdump/")).await;
    assert_eq!(slash.status, StatusCode::OK);
    assert!(slash.body.contains("src=\"assets/app.js"));
    assert!(
        !slash.body.contains("<base"),
        "no base needed under a slash"
    );
    let bare = send(&app, authed("/tcpdump")).await;
    assert!(bare.body.contains("<base href=\"tcpdump/\">"));
    // The token exchange works at the slash address too, and keeps the query.
    let answer = get(&app, &format!("/tcpdump/?table=packets&token={TOKEN}")).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.header(header::LOCATION), "./?table=packets");
    // Without the token, still refused.
    assert_eq!(
        get(&app, "/tcpdump/").await.status,
        StatusCode::UNAUTHORIZED
    );
    let list = send(&app, authed("/tcpdump/api/tables")).await;
    assert_eq!(list.json()["tables"][0]["name"], "packets");
}

/// The `(path, method)` pairs of openapi.yaml's `paths:` section: paths are its keys at
/// two spaces, methods the keys at four spaces under them.
fn documented_operations(spec: &str) -> Vec<(String, Method)> {
    let paths = spec
        .split_once("\npaths:\n")
        .expect("openapi.yaml has a `paths:` section")
        .1;
    let mut ops = Vec::new();
    let mut path = None;
    for line in paths.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            break; // the next top-level key
        }
        if let Some(p) = line.strip_prefix("  /").and_then(|p| p.strip_suffix(':')) {
            path = Some(format!("/{p}"));
        } else if let Some(m) = line
            .strip_prefix("    ")
            .and_then(|m| m.strip_suffix(':'))
            .filter(|m| !m.starts_with(' '))
        {
            let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap();
            ops.push((path.clone().expect("a method under a path"), method));
        }
    }
    ops
}

/// openapi.yaml against the router: every documented operation is served (not 404,
/// not 405) with `{name}` a real table, every other method on a documented path is
/// refused (405), and the paths the router describes for its tables are the
/// documented ones.
#[tokio::test]
async fn openapi_yaml_matches_the_routes() {
    let app = livetable_http::router(catalog().0);
    let ops = documented_operations(include_str!("../openapi.yaml"));
    let documented: Vec<&str> = ops.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        documented,
        [
            "/",
            "/api/tables",
            "/api/openapi.json",
            "/api/tables/{name}",
            "/api/tables/{name}/stream"
        ],
        "the endpoints of lib.rs's table"
    );
    for (path, method) in &ops {
        let uri = path.replace("{name}", "packets");
        // The status and headers only: a stream's body never ends.
        let request = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let status = app.clone().oneshot(request).await.unwrap().status();
        assert!(status.is_success(), "{method} {uri}: {status}");
        for other in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            if ops.iter().any(|(p, m)| p == path && *m == other) {
                continue;
            }
            let refused = send(
                &app,
                Request::builder()
                    .method(other.clone())
                    .uri(&uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            refused.error(405, "method_not_allowed");
        }
    }
    // A path the document does not have is not served.
    get(&app, "/api/nothing").await.error(404, "not_found");
    // The generated document's table paths are the documented ones with `{name}` filled
    // in (plus the `.csv` form of the snapshot that openapi.yaml describes with it).
    let doc = get(&app, "/api/openapi.json").await.json();
    let mut served: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    served.sort();
    let mut expected: Vec<String> = documented
        .iter()
        .filter(|p| p.starts_with("/api/tables"))
        .map(|p| p.replace("{name}", "packets"))
        .chain(["/api/tables/packets.csv".to_owned()])
        .collect();
    expected.sort();
    assert_eq!(served, expected);
}

#[tokio::test]
async fn openapi_document_of_the_tables_served() {
    let app = livetable_http::router(catalog().0);
    let answer = get(&app, "/api/openapi.json").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(header::CONTENT_TYPE), "application/json");
    let doc = answer.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "/api/tables",
            "/api/tables/packets",
            "/api/tables/packets.csv",
            "/api/tables/packets/stream"
        ]
    );
    let params = doc["paths"]["/api/tables/packets"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let by_name = |n: &str| params.iter().find(|p| p["name"] == n).unwrap().clone();
    assert_eq!(
        by_name("window")["schema"]["enum"],
        serde_json::json!(["15m", "1h"])
    );
    assert_eq!(by_name("protocol")["schema"]["items"]["type"], "string");
    assert_eq!(by_name("protocol")["explode"], true);
    assert!(by_name("source_ip")["schema"]["items"]["anyOf"].is_array());
    // Metrics are not filters.
    assert!(params.iter().all(|p| p["name"] != "count"));
    // Every documented parameter is accepted as documented.
    for uri in [
        "/api/tables/packets?window=15m",
        "/api/tables/packets?protocol=TCP&protocol=UDP",
        "/api/tables/packets?source_ip=10.0.0.1&source_ip=::1",
    ] {
        assert_eq!(get(&app, uri).await.status, StatusCode::OK, "{uri}");
    }
}

/// `group_by` rolls a MemorySource table up in JSON, CSV and the stream; a bad grouping
/// is a 400 naming the dimensions; a source that cannot group says so.
#[tokio::test]
async fn group_by_rolls_up_everywhere_and_is_validated() {
    use livetable_core::{Aggregate, DataType, MemorySource, Metric, Value};
    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension("host", DataType::Text)
        .dimension("port", DataType::Int)
        .field("size", DataType::Int)
        .metric(Metric::count("packets"))
        .metric(Metric::max("largest", "size"))
        .build()
        .unwrap();
    let memory = MemorySource::new(spec).unwrap();
    let now = chrono::Utc::now() - chrono::TimeDelta::seconds(5);
    for (host, port, size) in [("a", 80, 10), ("a", 443, 30), ("b", 80, 20), ("b", 80, 5)] {
        memory
            .push(&[
                Value::from(now),
                Value::from(host),
                Value::Int(port),
                Value::Int(size),
            ])
            .unwrap();
    }
    let (catalog, _) = catalog();
    let catalog = catalog
        .with(Table::builder("flows", memory).build().unwrap())
        .unwrap();
    let app = livetable_http::router(catalog);

    let json = get(&app, "/api/tables/flows?group_by=port").await.json();
    let names: Vec<&str> = json["schema"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["port", "packets", "largest"]);
    let mut rows = json["rows"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r[0].as_i64());
    assert_eq!(
        rows,
        [
            serde_json::json!([80, 3, 20]),
            serde_json::json!([443, 1, 30])
        ]
    );
    // A filter on the dimension the grouping drops still applies.
    let json = get(&app, "/api/tables/flows?group_by=port&host=b")
        .await
        .json();
    assert_eq!(json["rows"], serde_json::json!([[80, 2, 20]]));
    let csv = get(&app, "/api/tables/flows.csv?group_by=host").await;
    assert!(
        csv.body.starts_with("host,packets,largest\n"),
        "{}",
        csv.body
    );
    assert_eq!(csv.body.lines().count(), 3);
    let listed = get(&app, "/api/tables").await.json();
    let groupable: Vec<(String, bool)> = listed["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["groupable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(groupable.contains(&("flows".into(), true)), "{groupable:?}");
    assert!(
        groupable.contains(&("packets".into(), false)),
        "{groupable:?}"
    );
    let openapi = get(&app, "/api/openapi.json").await.json();
    let params = openapi["paths"]["/api/tables/flows"]["get"]["parameters"].to_string();
    assert!(params.contains("\"group_by\""), "{params}");
    let params = openapi["paths"]["/api/tables/packets"]["get"]["parameters"].to_string();
    assert!(!params.contains("\"group_by\""), "{params}");

    for (query, expected) in [
        (
            "group_by=packets",
            "not a dimension; valid ones are `host`, `port`",
        ),
        ("group_by=port,port", "in `group_by` twice"),
        ("group_by=", "needs at least one dimension"),
    ] {
        let m = get(&app, &format!("/api/tables/flows?{query}"))
            .await
            .error(400, "invalid_parameter");
        assert!(m.contains(expected), "{query}: {m}");
    }
    let m = get(&app, "/api/tables/packets?group_by=protocol")
        .await
        .error(400, "invalid_parameter");
    assert!(m.contains("cannot group its rows another way"), "{m}");

    // A trend: one series per row, its newest point holding the row's events.
    let json = get(&app, "/api/tables/flows?group_by=host&trend=packets")
        .await
        .json();
    let trend = &json["trend"];
    assert_eq!(trend["metric"], "packets");
    assert_eq!(trend["empty"], 0);
    let points = trend["points"].as_u64().unwrap() as usize;
    let series = trend["series"].as_array().unwrap();
    assert_eq!(series.len(), json["rows"].as_array().unwrap().len());
    for (row, s) in json["rows"].as_array().unwrap().iter().zip(series) {
        let s = s.as_array().unwrap();
        assert_eq!(s.len(), points);
        let total: i64 = s.iter().map(|p| p.as_i64().unwrap()).sum();
        assert_eq!(total, row[1].as_i64().unwrap(), "{row}: {s:?}");
    }
    assert!(get(&app, "/api/tables/flows").await.json()["trend"].is_null());
    let m = get(&app, "/api/tables/flows?trend=host")
        .await
        .error(400, "invalid_parameter");
    assert!(
        m.contains("not a metric; valid ones are `packets`, `largest`"),
        "{m}"
    );
    let m = get(&app, "/api/tables/packets?trend=count")
        .await
        .error(400, "invalid_parameter");
    assert!(m.contains("keeps no time steps"), "{m}");

    // The stream of a grouping starts with its rolled-up snapshot.
    let response = app
        .clone()
        .oneshot(
            Request::get("/api/tables/flows/stream?group_by=host")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut body = response.into_body();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("a frame in time")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(frame.data_ref().unwrap()).unwrap());
    }
    assert!(text.starts_with("event: snapshot\n"), "{text}");
    assert!(
        text.contains("[\"a\",2,30]") && text.contains("[\"b\",2,20]"),
        "{text}"
    );
}
