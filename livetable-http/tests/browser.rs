//! The live page in a real browser: headless Debian Chromium driven over WebDriver.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`apt-get install -y chromium
//! chromium-driver`; `CHROMIUM` and `CHROMEDRIVER` override the paths). Without them the
//! test is skipped with a notice, and fails when `LIVETABLE_REQUIRE_SERVICES=1`.
//!
//! The page is nested under `/tcpdump` behind a token, as an application would serve it.
//! The screenshots go to `$CARGO_TARGET_TMPDIR/` (`screenshot.png`, the table; `grouped.png`,
//! a drill-down with trends), and to `docs/` when `LIVETABLE_SCREENSHOT=1`.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use common::{Packets, Server, row};

use fantoccini::{Client, ClientBuilder, Locator};
use livetable_core::{
    Aggregate, Catalog, Column, DataType, Direction, FetchContext, Fetched, LiveTable,
    MemorySource, Metric, Row, Schema, Table, TableQuery, Value, ViewParams,
};
use livetable_http::Options;
use serde_json::{Value as Json, json};
use tokio::process::{Child, Command};

const TOKEN: &str = "browser-test-token-0123456789";
const DEADLINE: Duration = Duration::from_secs(20);

/// Connections per destination port: an integer dimension (an identifier, shown without
/// thousands separators) beside an integer metric (a quantity, shown with them).
struct Ports(Schema);

impl TableQuery for Ports {
    fn schema(&self) -> &Schema {
        &self.0
    }
    async fn fetch(&self, _: &FetchContext) -> livetable_core::Result<Fetched> {
        Ok(vec![Row::new(vec![Value::Int(54321), Value::Int(12345)])].into())
    }
}

fn ports_table() -> Table {
    let schema = Schema::new(vec![
        Column::dimension("port", DataType::Int),
        Column::metric("connections", DataType::Int),
    ])
    .unwrap();
    Table::builder("ports", Ports(schema)).build().unwrap()
}

/// Integer dimensions are identifiers: `54321`, not `54,321`; metrics are grouped.
async fn integer_dimensions_are_not_grouped(client: &Client, base: &str) {
    client.goto(&format!("{base}?table=ports")).await.unwrap();
    wait_for(
        client,
        "the ports table",
        "return document.querySelectorAll('#body tr').length === 1;",
    )
    .await;
    let cell = |col: &str| {
        format!("return document.querySelector(`#body td[data-col='{col}']`).textContent;")
    };
    assert_eq!(js(client, &cell("port")).await, "54321");
    assert_eq!(js(client, &cell("connections")).await, "12,345");
}

/// Source hosts of the `traffic` table.
const HOSTS: [&str; 6] = [
    "10.0.0.5",
    "10.0.0.9",
    "10.0.1.17",
    "172.16.0.4",
    "192.168.1.20",
    "192.168.1.33",
];
/// Destination ports and protocols of the `traffic` table (53 and 443 with two each).
const SERVICES: [(i64, &str); 6] = [
    (22, "TCP"),
    (53, "UDP"),
    (53, "TCP"),
    (80, "TCP"),
    (443, "TCP"),
    (443, "UDP"),
];

/// The `traffic` table over a `MemorySource`: three dimensions (so the page can group and drill
/// twice), trends, ordered by bytes (so the trend follows bytes, the default order's
/// first metric). Returns the source too, to push more events.
fn flows_table() -> (Table, MemorySource) {
    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(3600))
        .dimension("source_ip", DataType::Ip)
        .dimension("destination_port", DataType::Int)
        .dimension("protocol", DataType::Text)
        .field("size", DataType::Int)
        .metric(Metric::count("packets"))
        .metric(Metric::sum("bytes", "size"))
        .order_by("bytes", Direction::Desc)
        .build()
        .unwrap();
    let memory = MemorySource::new(spec).unwrap();
    // 50 minutes of traffic in waves; not every host talks to every service.
    let now = chrono::Utc::now();
    for minute in 0..50_i64 {
        let at = now - chrono::TimeDelta::minutes(minute) - chrono::TimeDelta::seconds(1);
        let mut events = Vec::new();
        for (h, host) in HOSTS.iter().enumerate() {
            for (s, (port, protocol)) in SERVICES.iter().enumerate() {
                if (h + s) % 3 == 0 {
                    continue;
                }
                let phase = minute as f64 / (3 + h) as f64 + s as f64;
                let n = (2.0 + 2.0 * phase.sin()).round() as usize;
                for _ in 0..n {
                    events.push(vec![
                        Value::from(at),
                        Value::Ip(host.parse().unwrap()),
                        Value::Int(*port),
                        Value::from(*protocol),
                        Value::Int(60 + 40 * h as i64 + 100 * s as i64 + minute),
                    ]);
                }
            }
        }
        memory.push_batch(events).unwrap();
    }
    let table = Table::builder("traffic", memory.clone())
        .title("Traffic by source")
        .refresh(common::refresh(Duration::from_millis(300)))
        .build()
        .unwrap();
    (table, memory)
}

/// Events per host over a one-minute window: one-second buckets, so its trend moves on a
/// step every second.
fn pulse_table() -> (Table, MemorySource) {
    let spec = Aggregate::builder()
        .time_column("ts")
        .window(Duration::from_secs(60))
        .dimension("host", DataType::Text)
        .metric(Metric::count("events"))
        .build()
        .unwrap();
    let memory = MemorySource::new(spec).unwrap();
    let table = Table::builder("pulse", memory.clone())
        .refresh(common::refresh(Duration::from_millis(200)))
        .build()
        .unwrap();
    (table, memory)
}

/// While events arrive and time passes, patches move every series on (the steps' shift)
/// and change the newest points: the sparklines stay the server's, with no new stream.
/// The link asks for the trend itself.
async fn trends_move_on_with_time(client: &Client, base: &str, memory: &MemorySource) {
    let push = |host: &str, n: usize| {
        let now = chrono::Utc::now();
        let events: Vec<Vec<Value>> = (0..n)
            .map(|_| vec![Value::from(now), Value::from(host)])
            .collect();
        memory.push_batch(events).unwrap();
    };
    push("a", 3);
    push("b", 1);
    client
        .goto(&format!("{base}?table=pulse&trend=events"))
        .await
        .unwrap();
    let start = trends_match_server(client, "pulse").await;
    let streams = js(client, "return document.body.dataset.streams;").await;
    for i in 0..30 {
        push(if i % 3 == 0 { "b" } else { "a" }, 1 + i % 4);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let later = trends_match_server(client, "pulse").await;
    assert_ne!(start, later, "the steps moved on");
    assert_eq!(
        js(client, "return document.body.dataset.streams;").await,
        streams,
        "patches applied in place, no new stream"
    );
}

/// Waits until the page shows the rows (keys and `packets`) and the columns the server's
/// JSON has for the view in the address; returns the server's rows, in its order.
async fn rows_match_server(client: &Client, what: &str) -> Vec<Json> {
    const SCRIPT: &str = r#"
        const done = arguments[arguments.length - 1];
        const q = new URLSearchParams(location.search);
        q.delete('table');
        fetch('api/tables/traffic?' + q, { headers: { Accept: 'application/json' } })
          .then((r) => r.json())
          .then((j) => {
            const names = j.schema.columns.map((c) => c.name);
            const dims = j.schema.columns.filter((c) => c.role === 'dimension').length;
            const packets = names.indexOf('packets');
            const want = j.rows.map((r) => JSON.stringify(r.slice(0, dims)) + ' ' + r[packets]).sort();
            const got = [...document.querySelectorAll('#body tr')].map((tr) => tr.dataset.key + ' '
              + tr.querySelector("td[data-col='packets']").textContent.replace(/,/g, '')).sort();
            const head = [...document.querySelectorAll('#head th[data-col]')].map((th) => th.dataset.col);
            const agree = JSON.stringify(want) === JSON.stringify(got)
              && JSON.stringify(head) === JSON.stringify(names);
            done({ agree, rows: j.rows, want, got, head, names });
          }, (e) => done({ agree: false, error: String(e) }));
    "#;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let v = client.execute_async(SCRIPT, vec![]).await.unwrap();
        if v["agree"] == true {
            let rows = v["rows"].as_array().unwrap().clone();
            assert!(!rows.is_empty(), "{what}: no rows");
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: the page does not show the server's rows: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The view parameters in the address (without `table`), sorted.
async fn address_view(client: &Client) -> Vec<(String, String)> {
    let url = client.current_url().await.unwrap();
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "table")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    pairs
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    v.sort();
    v
}

/// The breadcrumb's items, each by its first part (a filter's chip without its ×).
async fn crumbs(client: &Client) -> Vec<String> {
    let v = js(
        client,
        "return [...document.querySelectorAll('#crumbs li')].map(li => li.firstChild.textContent);",
    )
    .await;
    serde_json::from_value(v).unwrap()
}

async fn press(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys("\u{e007}") // Enter
        .await
        .unwrap();
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits until every row's sparkline shows the series of the server's JSON for the view
/// in the address, at the same version.
/// Returns the trend's start.
async fn trends_match_server(client: &Client, table: &str) -> String {
    let script = format!(
        r#"
        const done = arguments[arguments.length - 1];
        const q = new URLSearchParams(location.search);
        q.delete('table');
        fetch('api/tables/{table}?' + q, {{ headers: {{ Accept: 'application/json' }} }})
          .then((r) => r.json())
          .then((j) => {{
            const dims = j.schema.columns.filter((c) => c.role === 'dimension').length;
            const want = j.rows.map((r, i) => JSON.stringify(r.slice(0, dims)) + ' '
              + JSON.stringify(j.trend.series[i])).sort();
            const got = [...document.querySelectorAll('#body tr')].map((tr) =>
              tr.dataset.key + ' ' + tr.querySelector('td.trend').dataset.series).sort();
            const agree = Number(document.body.dataset.version) === j.version && want.length > 0
              && JSON.stringify(want) === JSON.stringify(got);
            done({{ agree, want, got, start: j.trend.start }});
          }}, (e) => done({{ agree: false, error: String(e) }}));
        "#
    );
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let v = client.execute_async(&script, vec![]).await.unwrap();
        if v["agree"] == true {
            return v["start"].as_str().unwrap().to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sparklines are not the server's trends: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Grouping with the toggles, drilling down twice, the breadcrumb back up, a plain
/// server filter and its chip, and trends kept up to date by patches; each step
/// against the server's JSON and the address.
async fn grouping_drill_down_and_trends(client: &Client, base: &str, memory: &MemorySource) {
    client.goto(&format!("{base}?table=traffic")).await.unwrap();
    rows_match_server(client, "the whole table").await;
    let toggles = js(
        client,
        "return [...document.querySelectorAll('#grouping button')].map(b => b.dataset.dim + ' ' + b.getAttribute('aria-pressed'));",
    )
    .await;
    assert_eq!(
        toggles,
        json!(["source_ip true", "destination_port true", "protocol true"])
    );
    assert_eq!(crumbs(client).await, ["All"]);
    assert_eq!(
        js(
            client,
            "return document.getElementById('filter').placeholder;"
        )
        .await,
        "Search shown rows"
    );

    // Group by source_ip alone: one toggle with the keyboard, one with the mouse.
    press(client, "#grouping button[data-dim='protocol']").await;
    wait_for(
        client,
        "the first toggle",
        "return location.search.includes('group_by=source_ip%2Cdestination_port');",
    )
    .await;
    click(client, "#grouping button[data-dim='destination_port']").await;
    let by_host = rows_match_server(client, "grouped by source_ip").await;
    assert_eq!(by_host.len(), HOSTS.len());
    assert_eq!(
        address_view(client).await,
        pairs(&[("group_by", "source_ip")])
    );
    assert_eq!(crumbs(client).await, ["All", "by source_ip"]);
    assert_eq!(
        js(
            client,
            "return document.querySelector(`#grouping button[data-dim='source_ip']`).disabled;"
        )
        .await,
        true,
        "a grouping keeps one dimension"
    );

    // Trends: the default order's first metric, a line per row.
    click(client, "#trend").await;
    rows_match_server(client, "grouped, with trends").await;
    assert_eq!(
        address_view(client).await,
        pairs(&[("group_by", "source_ip"), ("trend", "bytes")])
    );
    wait_for(
        client,
        "a sparkline per row",
        "const rows = [...document.querySelectorAll('#body tr')];          return rows.length > 0 && rows.every(tr => tr.querySelector('td.trend svg.spark polyline'));",
    )
    .await;

    // Drill into the busiest host (the server's first row), with the keyboard.
    let host = by_host[0][0].as_str().unwrap().to_owned();
    let host_key = json!([host]).to_string();
    press(
        client,
        &format!("tr[data-key='{host_key}'] td[data-col='source_ip'] button.drill"),
    )
    .await;
    let by_port = rows_match_server(client, "drilled into the host").await;
    let level_one = pairs(&[
        ("group_by", "source_ip,destination_port"),
        ("source_ip", &host),
        ("trend", "bytes"),
    ]);
    assert_eq!(address_view(client).await, level_one);
    assert_eq!(
        crumbs(client).await,
        [
            "All".to_owned(),
            format!("source_ip = {host}"),
            "by destination_port".to_owned()
        ]
    );
    assert!(by_port.iter().all(|r| r[0] == json!(host)), "{by_port:?}");

    // A screenshot of a drill-down with trends, once the new rows' highlight is over.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let png = client.screenshot().await.unwrap();
    save_screenshot("grouped.png", &png);

    // The trend follows new events through patches, without a new stream.
    let port = by_port[0][1].as_i64().unwrap();
    let port_key = json!([host, port]).to_string();
    trends_match_server(client, "traffic").await;
    let spark = format!("tr[data-key='{port_key}'] td.trend svg.spark");
    let before = js(
        client,
        &format!("return document.querySelector(`{spark}`).innerHTML;"),
    )
    .await;
    let streams = js(client, "return document.body.dataset.streams;").await;
    let protocol = SERVICES.iter().find(|(p, _)| *p == port).unwrap().1;
    let now = chrono::Utc::now();
    let burst: Vec<Vec<Value>> = (0..40)
        .map(|_| {
            vec![
                Value::from(now),
                Value::Ip(host.parse().unwrap()),
                Value::Int(port),
                Value::from(protocol),
                Value::Int(5_000),
            ]
        })
        .collect();
    memory.push_batch(burst).unwrap();
    wait_for(
        client,
        "the sparkline to change",
        &format!("const svg = document.querySelector(`{spark}`); return svg && svg.innerHTML !== {before};"),
    )
    .await;
    trends_match_server(client, "traffic").await;
    rows_match_server(client, "after the burst").await;
    assert_eq!(
        js(client, "return document.body.dataset.streams;").await,
        streams,
        "patches applied in place, no new stream"
    );

    // Drill into that port (the view is rolled up to protocol next), with the mouse.
    click(
        client,
        &format!("tr[data-key='{port_key}'] td[data-col='destination_port'] button.drill"),
    )
    .await;
    let by_protocol = rows_match_server(client, "drilled into the port").await;
    assert!(
        by_protocol
            .iter()
            .all(|r| r[0] == json!(host) && r[1] == json!(port)),
        "{by_protocol:?}"
    );
    let port_text = port.to_string();
    assert_eq!(
        address_view(client).await,
        pairs(&[
            ("group_by", "source_ip,destination_port,protocol"),
            ("source_ip", &host),
            ("destination_port", &port_text),
            ("trend", "bytes"),
        ])
    );
    assert_eq!(
        crumbs(client).await,
        [
            "All".to_owned(),
            format!("source_ip = {host}"),
            format!("destination_port = {port}"),
            "by protocol".to_owned()
        ]
    );
    assert_eq!(
        js(
            client,
            "return document.querySelectorAll('#body button.drill').length;"
        )
        .await,
        0,
        "every dimension is shown: nothing left to drill into"
    );

    // Back up one level with the breadcrumb, then to the top.
    click(client, "#crumbs li:nth-child(2) button.crumb").await;
    rows_match_server(client, "one level up").await;
    assert_eq!(address_view(client).await, level_one);
    click(client, "#crumbs li:first-child button.crumb").await;
    let top = rows_match_server(client, "back at the top").await;
    assert_eq!(
        address_view(client).await,
        pairs(&[("group_by", "source_ip"), ("trend", "bytes")])
    );
    assert_eq!(top.len(), HOSTS.len());
    // The browser's Back button returns to the view before.
    client.back().await.unwrap();
    rows_match_server(client, "back").await;
    assert_eq!(address_view(client).await, level_one);
    click(client, "#crumbs li:first-child button.crumb").await;
    rows_match_server(client, "at the top again").await;

    // Every dimension on again (the table's own view), then a plain server filter from
    // a value's button, shown as a chip that removes it.
    click(client, "#grouping button[data-dim='destination_port']").await;
    wait_for(
        client,
        "two dimensions",
        "return location.search.includes('group_by=source_ip%2Cdestination_port');",
    )
    .await;
    click(client, "#grouping button[data-dim='protocol']").await;
    let all = rows_match_server(client, "every dimension").await;
    assert_eq!(address_view(client).await, pairs(&[("trend", "bytes")]));
    let udp = all.iter().find(|r| r[2] == json!("UDP")).unwrap();
    let udp_key = json!([udp[0], udp[1], udp[2]]).to_string();
    click(
        client,
        &format!("tr[data-key='{udp_key}'] td[data-col='packets']"),
    )
    .await;
    click(
        client,
        &format!("tr[data-key='{udp_key}'] td[data-col='protocol'] button.only"),
    )
    .await;
    let only_udp = rows_match_server(client, "only UDP").await;
    assert!(
        only_udp.iter().all(|r| r[2] == json!("UDP")),
        "{only_udp:?}"
    );
    assert!(only_udp.len() < all.len());
    assert_eq!(
        address_view(client).await,
        pairs(&[("protocol", "UDP"), ("trend", "bytes")])
    );
    assert_eq!(crumbs(client).await, ["All", "protocol = UDP"]);
    click(client, "#crumbs li.chip button.remove").await;
    rows_match_server(client, "the filter removed").await;
    assert_eq!(address_view(client).await, pairs(&[("trend", "bytes")]));

    // A table without trends: no toggle, and a link asking for one (a 400) shows the
    // table without it.
    client
        .goto(&format!("{base}?table=packets&trend=count"))
        .await
        .unwrap();
    wait_for(
        client,
        "the rows without the trend",
        "return document.querySelectorAll('#body tr').length === 12 \
         && !location.search.includes('trend') && document.getElementById('trend').hidden \
         && !document.querySelector('th.trend');",
    )
    .await;
}

/// Writes a screenshot to `$CARGO_TARGET_TMPDIR/<name>`, and to `docs/<name>` when
/// `LIVETABLE_SCREENSHOT=1`.
fn save_screenshot(name: &str, png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name), png).unwrap();
    if std::env::var("LIVETABLE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(name), png).unwrap();
    }
}

fn tool(var: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    path.exists().then_some(path)
}

/// The browser and its driver, or `None` (after a notice) when they are missing and not
/// required.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let found =
        tool("CHROMIUM", "/usr/bin/chromium").zip(tool("CHROMEDRIVER", "/usr/bin/chromedriver"));
    if found.is_none() {
        livetable_testkit::services::missing(
            "chromium and chromedriver",
            "apt-get install -y chromium chromium-driver",
        );
    }
    found
}

/// 150,000 rows: past the ~125,000 arguments a spread (`Math.max(...values)`) takes.
const BIG: usize = 150_000;

fn big_rows() -> Vec<Row> {
    (0..BIG)
        .map(|i| {
            let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            let protocol = if i % 3 == 0 { "UDP" } else { "TCP" };
            row(&ip, protocol, i as i64, 1000 + i as i64)
        })
        .collect()
}

/// Re-opening the `?token=` link with the cookie set: the token leaves the address
/// bar and is neither a filter nor in the CSV link.
async fn the_token_link_again_leaves_no_token(client: &Client, base: &str) {
    client
        .goto(&format!("{base}?token={TOKEN}&table=packets"))
        .await
        .unwrap();
    let url = client.current_url().await.unwrap();
    assert!(!url.as_str().contains("token"), "{url}");
    wait_for(
        client,
        "fresh",
        "return document.getElementById('state').dataset.state === 'fresh';",
    )
    .await;
    let csv = js(client, "return document.getElementById('csv').href;").await;
    assert!(!csv.as_str().unwrap().contains("token"), "{csv}");
    assert_eq!(
        js(client, "return document.getElementById('conn').hidden;").await,
        true
    );
}

/// A table of 150,000 rows: the page keeps them all, shows the first rows in order
/// with a note, and its formatting rules (a data bar) do not throw.
async fn a_very_large_table_shows_its_first_rows_with_a_note(client: &Client, base: &str) {
    client.goto(&format!("{base}?table=wide")).await.unwrap();
    let note = wait_for(
        client,
        "the capped-rows note",
        "const n = document.getElementById('capped'); return !n.hidden && n.textContent;",
    )
    .await;
    assert!(note.as_str().unwrap().contains("150,000"), "{note}");
    let shown = js(
        client,
        "return document.querySelectorAll('#body tr').length;",
    )
    .await;
    let shown = shown.as_u64().unwrap();
    assert!((1..=5000).contains(&shown), "{shown} rows in the DOM");
    let count = js(
        client,
        "return document.getElementById('count').textContent;",
    )
    .await;
    assert_eq!(count, "150,000 rows");
    // The default order (count, descending): the first row shown is the largest.
    let first = js(
        client,
        "return document.querySelector('#body tr td[data-col=\"count\"]').textContent;",
    )
    .await;
    assert_eq!(first, "149,999");
    // The data bar rule ran over every row without a RangeError.
    let bar = js(
        client,
        "return document.querySelector('#body tr td[data-col=\"count\"]').style.backgroundImage;",
    )
    .await;
    assert!(bar.as_str().unwrap().contains("linear-gradient"), "{bar}");
    // The filter box searches every row, not only those shown.
    let filter = client.find(Locator::Css("#filter")).await.unwrap();
    filter.send_keys("10.2.72.255").await.unwrap();
    wait_for(
        client,
        "one matching row",
        "return document.getElementById('count').textContent === '1 of 150,000 rows' \
         && document.getElementById('capped').hidden;",
    )
    .await;
}

/// A chromedriver on a free port, killed when dropped.
struct Driver {
    url: String,
    _child: Child,
}

async fn start_driver(path: &Path) -> Driver {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not listen in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver {
        url: format!("http://127.0.0.1:{port}"),
        _child: child,
    }
}

async fn open_browser(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--lang=en-US",
                "--window-size=1200,720", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

/// Evaluates `script` (a function body that returns a value) until the value is truthy.
async fn wait_for(client: &Client, what: &str, script: &str) -> Json {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let value = client.execute(script, vec![]).await.unwrap();
        let truthy = !matches!(&value, Json::Null | Json::Bool(false))
            && value != json!(0)
            && value != json!("");
        if truthy {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            let url = client
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let page = client
                .execute("return document.getElementById('conn').textContent + ' | ' + document.getElementById('state').textContent + ' | ' + document.getElementById('count').textContent;", vec![])
                .await
                .unwrap_or_default();
            panic!("timed out waiting for {what}; last value {value}; at {url}: {page}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn js(client: &Client, script: &str) -> Json {
    client.execute(script, vec![]).await.unwrap()
}

/// The row keys in display order.
async fn shown_keys(client: &Client) -> Vec<String> {
    let keys = js(
        client,
        "return [...document.querySelectorAll('#body tr')].map(tr => tr.dataset.key);",
    )
    .await;
    serde_json::from_value(keys).unwrap()
}

fn key(ip: &str, protocol: &str) -> String {
    json!([ip, protocol]).to_string()
}

/// A realistic slice of a packet table: a few busy hosts, many quiet ones.
fn packet_rows() -> Vec<Row> {
    vec![
        row("10.12.0.41", "TCP", 48_213, 61_877_120),
        row("10.12.0.7", "TCP", 31_904, 40_112_344),
        row("192.168.1.20", "UDP", 12_877, 1_918_673),
        row("10.12.3.150", "TCP", 9_412, 7_233_901),
        row("172.16.4.9", "TCP", 6_031, 812_440),
        row("192.168.1.33", "UDP", 4_410, 655_120),
        row("10.12.0.41", "UDP", 2_877, 431_550),
        row("172.16.8.201", "TCP", 1_902, 2_604_380),
        row("10.12.7.18", "ICMP", 1_204, 117_992),
        row("192.168.1.20", "TCP", 988, 94_710),
        row("10.12.3.150", "UDP", 412, 61_800),
        row("172.16.4.9", "ICMP", 96, 9_408),
    ]
}

fn with_count(rows: &mut [Row], ip: &str, protocol: &str, count: i64, size: i64) {
    let target = row(ip, protocol, 0, 0);
    let r = rows
        .iter_mut()
        .find(|r| r.values()[..2] == target.values()[..2])
        .unwrap();
    r.values_mut()[2] = count.into();
    r.values_mut()[3] = size.into();
}

async fn subscribers_become(live: &LiveTable, n: usize) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while live.stats().subscribers != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} subscribers, have {}",
            live.stats().subscribers
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_page_in_chromium() {
    let Some((chromium, chromedriver)) = browser_tools() else {
        return;
    };
    let mut rows = packet_rows();
    let source = Packets::new(rows.clone());
    let flows = flows_table();
    let memory = flows.1.clone();
    let pulse = pulse_table();
    let pulse_memory = pulse.1.clone();
    let catalog = Catalog::new()
        .with(common::packets_table(
            "packets",
            source.clone(),
            Duration::from_millis(500),
        ))
        .unwrap()
        .with(ports_table())
        .unwrap()
        .with(common::packets_table(
            "wide",
            Packets::new(big_rows()),
            Duration::from_secs(3600),
        ))
        .unwrap()
        .with(flows.0)
        .unwrap()
        .with(pulse.0)
        .unwrap();
    let app = Router::new().nest(
        "/tcpdump",
        Options::default()
            .token(TOKEN)
            .unwrap()
            .router(catalog.clone()),
    );
    let server = Server::start(app).await;
    let live = catalog
        .get("packets")
        .unwrap()
        .view(&ViewParams::default())
        .unwrap();

    let driver = start_driver(&chromedriver).await;
    let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("chromium-profile-{}", std::process::id()));
    let client = open_browser(&driver, &chromium, &profile).await;
    // Run the steps in a task so the browser is closed even when one fails.
    let base = server.url("/tcpdump");
    let steps = tokio::spawn({
        let client = client.clone();
        async move {
            drive(&client, &base, &source, &live, &mut rows).await;
            integer_dimensions_are_not_grouped(&client, &base).await;
            the_token_link_again_leaves_no_token(&client, &base).await;
            grouping_drill_down_and_trends(&client, &base, &memory).await;
            trends_move_on_with_time(&client, &base, &pulse_memory).await;
            a_very_large_table_shows_its_first_rows_with_a_note(&client, &base).await;
        }
    })
    .await;
    let _ = client.close().await;
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    server.stop().await.unwrap();
    if let Err(failure) = steps {
        std::panic::resume_unwind(failure.into_panic());
    }
}

async fn drive(client: &Client, base: &str, source: &Packets, live: &LiveTable, rows: &mut [Row]) {
    // The token is exchanged for a cookie and leaves the address bar.
    client.goto(&format!("{base}?token={TOKEN}")).await.unwrap();
    let url = client.current_url().await.unwrap();
    assert_eq!(url.path(), "/tcpdump");
    assert!(!url.as_str().contains("token"), "{url}");

    // The page loads and shows the rows, formatted, in the table's default order.
    wait_for(
        client,
        "12 rows",
        "return document.querySelectorAll('#body tr').length === 12;",
    )
    .await;
    wait_for(
        client,
        "fresh",
        "return document.getElementById('state').dataset.state === 'fresh';",
    )
    .await;
    assert_eq!(
        js(
            client,
            "return document.getElementById('title').textContent;"
        )
        .await,
        "Packets by source"
    );
    let busiest = key("10.12.0.41", "TCP");
    assert_eq!(
        shown_keys(client).await[0],
        busiest,
        "ordered by count, descending"
    );
    let cell = |k: &str, col: &str| {
        format!(
            "return document.querySelector(`tr[data-key='{k}'] td[data-col='{col}']`).textContent;"
        )
    };
    assert_eq!(js(client, &cell(&busiest, "count")).await, "48,213");
    assert_eq!(js(client, &cell(&busiest, "total_size")).await, "61.9 MB");
    assert_eq!(
        js(client, &cell(&key("172.16.4.9", "ICMP"), "total_size")).await,
        "9.4 KB"
    );
    // The threshold rule (> 1,000,000 bytes) and the data bar on `count`.
    let style = |k: &str, col: &str, prop: &str| {
        format!(
            "return getComputedStyle(document.querySelector(`tr[data-key='{k}'] td[data-col='{col}']`)).{prop};"
        )
    };
    assert_eq!(
        js(client, &style(&busiest, "total_size", "fontWeight")).await,
        "700"
    );
    assert_eq!(
        js(
            client,
            &style(&key("172.16.4.9", "ICMP"), "total_size", "fontWeight")
        )
        .await,
        "400"
    );
    let bar = js(client, &style(&busiest, "count", "backgroundImage")).await;
    assert!(bar.as_str().unwrap().contains("linear-gradient"), "{bar}");
    assert!(js(client, "return document.getElementById('stale').hidden;").await == json!(true));
    let meta = js(
        client,
        "return document.getElementById('meta').textContent;",
    )
    .await;
    let meta = meta.as_str().unwrap();
    assert!(
        meta.contains("window 1h") && meta.contains("updated") && meta.contains("fetch"),
        "{meta}"
    );
    assert_eq!(
        js(
            client,
            "return document.getElementById('csv').getAttribute('href');"
        )
        .await,
        "api/tables/packets.csv"
    );

    // A change in the source appears without a reload.
    js(client, "window.stillHere = true; return null;").await;
    with_count(rows, "10.12.3.150", "TCP", 9_999, 7_300_000);
    source.set_rows(rows.to_vec());
    wait_for(
        client,
        "the new count",
        &format!(
            "{} === '9,999'",
            cell(&key("10.12.3.150", "TCP"), "count").trim_end_matches(';')
        ),
    )
    .await;
    assert_eq!(
        js(client, "return window.stillHere === true;").await,
        true,
        "no reload"
    );

    // Sort by bytes with the keyboard (headers are buttons), select a row.
    let header = client
        .find(Locator::Css("th button[data-col='total_size']"))
        .await
        .unwrap();
    header.send_keys("\u{e007}").await.unwrap(); // Enter
    wait_for(client, "aria-sort", "return document.querySelector(\"th[data-col='total_size']\").getAttribute('aria-sort') === 'descending';").await;
    let by_size = |rows: &[Row]| {
        let mut sorted = rows.to_vec();
        sorted.sort_by(|a, b| b.values()[3].cmp(&a.values()[3]));
        sorted
            .iter()
            .map(|r| json!([r.values()[0], r.values()[1]]).to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(shown_keys(client).await, by_size(rows));
    let quiet = key("172.16.4.9", "ICMP");
    client
        .find(Locator::Css(&format!("tr[data-key='{quiet}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The next update keeps the sort (and the selection): the quiet row becomes the
    // largest and moves to the top.
    let version = js(client, "return Number(document.body.dataset.version);").await;
    with_count(rows, "172.16.4.9", "ICMP", 120, 90_000_000);
    source.set_rows(rows.to_vec());
    wait_for(
        client,
        "the update",
        &format!(
            "return Number(document.body.dataset.version) > {version} && {} === '90.0 MB';",
            cell(&quiet, "total_size")
                .trim_start_matches("return ")
                .trim_end_matches(';')
        ),
    )
    .await;
    wait_for(
        client,
        "the moved row",
        &format!("return document.querySelector('#body tr').dataset.key === '{quiet}';"),
    )
    .await;
    assert_eq!(shown_keys(client).await, by_size(rows));
    assert_eq!(
        js(client, "return document.querySelector(\"th[data-col='total_size']\").getAttribute('aria-sort');").await,
        "descending"
    );
    assert_eq!(
        js(client, &format!("return document.querySelector(`tr[data-key='{quiet}']`).classList.contains('selected');")).await,
        true
    );

    // The filter box hides rows and keeps them hidden across updates.
    let filter = client.find(Locator::Css("#filter")).await.unwrap();
    filter.send_keys("udp").await.unwrap();
    let visible =
        "return [...document.querySelectorAll('#body tr')].filter(tr => !tr.hidden).length;";
    wait_for(
        client,
        "4 UDP rows",
        &format!("{} === 4;", visible.trim_end_matches(';')),
    )
    .await;
    let version = js(client, "return Number(document.body.dataset.version);").await;
    wait_for(
        client,
        "another tick",
        &format!("return Number(document.body.dataset.version) > {version};"),
    )
    .await;
    assert_eq!(js(client, visible).await, 4);
    filter.clear().await.unwrap();
    js(
        client,
        "document.getElementById('filter').dispatchEvent(new Event('input')); return null;",
    )
    .await;
    wait_for(
        client,
        "all rows",
        &format!("{} === 12;", visible.trim_end_matches(';')),
    )
    .await;

    // The stale banner appears while the source fails, with the error, and goes.
    source.fail(Some(common::BACKEND_MESSAGE));
    let banner = wait_for(
        client,
        "the stale banner",
        "const b = document.getElementById('stale'); return !b.hidden && b.textContent;",
    )
    .await;
    assert!(
        banner
            .as_str()
            .unwrap()
            .contains("the store is unavailable; retrying"),
        "{banner}"
    );
    common::assert_no_backend_text(banner.as_str().unwrap());
    assert_eq!(
        js(
            client,
            "return document.getElementById('state').dataset.state;"
        )
        .await,
        "stale"
    );
    assert_eq!(
        js(
            client,
            "return document.querySelectorAll('#body tr').length;"
        )
        .await,
        12,
        "the last good rows stay"
    );
    source.fail(None);
    wait_for(client, "the banner to go", "return document.getElementById('stale').hidden && document.getElementById('state').dataset.state === 'fresh';").await;

    // Pause closes the stream (the table loses its only viewer); resume reopens it.
    subscribers_become(live, 1).await;
    client
        .find(Locator::Css("#pause"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    subscribers_become(live, 0).await;
    assert_eq!(
        js(
            client,
            "return document.getElementById('state').dataset.state;"
        )
        .await,
        "paused"
    );
    client
        .find(Locator::Css("#pause"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    subscribers_become(live, 1).await;
    wait_for(
        client,
        "fresh again",
        "return document.getElementById('state').dataset.state === 'fresh';",
    )
    .await;

    // A hidden tab closes its stream (the table loses its viewer); shown again, it
    // reopens. The browser's visibility is stood in for by the same event a real tab
    // switch fires.
    let visibility = |hidden: bool| {
        format!(
            "Object.defineProperty(document, 'hidden', {{ configurable: true, get: () => {hidden} }}); \
             document.dispatchEvent(new Event('visibilitychange')); return null;"
        )
    };
    js(client, &visibility(true)).await;
    subscribers_become(live, 0).await;
    js(client, &visibility(false)).await;
    subscribers_become(live, 1).await;

    // Themes: the button cycles auto → light → dark through the CSS variables.
    let theme = client.find(Locator::Css("#theme")).await.unwrap();
    theme.click().await.unwrap();
    assert_eq!(
        js(
            client,
            "return getComputedStyle(document.body).backgroundColor;"
        )
        .await,
        "rgb(255, 255, 255)"
    );
    theme.click().await.unwrap();
    assert_eq!(
        js(client, "return document.documentElement.dataset.theme;").await,
        "dark"
    );
    assert_eq!(
        js(
            client,
            "return getComputedStyle(document.body).backgroundColor;"
        )
        .await,
        "rgb(15, 20, 25)"
    );
    let dark = client.screenshot().await.unwrap();
    std::fs::write(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshot-dark.png"),
        dark,
    )
    .unwrap();
    theme.click().await.unwrap();
    assert_eq!(
        js(
            client,
            "return document.documentElement.dataset.theme || 'auto';"
        )
        .await,
        "auto"
    );

    // A screenshot of the page as a viewer sees it, just after an update.
    client
        .find(Locator::Css("th button[data-col='count']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    with_count(rows, "10.12.0.7", "TCP", 32_410, 40_733_002);
    source.set_rows(rows.to_vec());
    wait_for(
        client,
        "the last update",
        &format!(
            "{} === '32,410'",
            cell(&key("10.12.0.7", "TCP"), "count").trim_end_matches(';')
        ),
    )
    .await;
    let png = client.screenshot().await.unwrap();
    save_screenshot("screenshot.png", &png);
}
