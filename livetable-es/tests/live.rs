//! Live tests against a real Elasticsearch / OpenSearch cluster, run when
//! `LIVETABLE_ES_URL` is set (e.g. `http://elastic:changeme@localhost:9200`; set
//! `LIVETABLE_ES_INSECURE=1` for a self-signed certificate). They create an index with
//! a mapping (ip, keyword, integer, date…), bulk-load the behaviour suite's events,
//! compare every suite case with `MemorySource`, and delete the index.
//!
//! Without the variable they print a notice and pass — unless `LIVETABLE_REQUIRE_ES` is `1` or `true`,
//! when they fail. They are opt-in, unlike the PostgreSQL tests that
//! `LIVETABLE_REQUIRE_SERVICES=1` makes mandatory: no Elasticsearch can run on the
//! machines this crate is developed and tested on (CI included), so they have not been
//! run there.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::transport::Transport;
use livetable_core::{Aggregate, DataType, Result, SharedQuery, Value};
use livetable_es::{EsBuilder, EsClient};
use livetable_testkit::suite::{self, SuiteBackend};
use serde_json::{Value as Json, json};
use support::eval::{FieldType, source_json};

fn live_url() -> Option<String> {
    match std::env::var("LIVETABLE_ES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            livetable_testkit::services::missing_unless(
                "LIVETABLE_REQUIRE_ES",
                "a live Elasticsearch",
                "set LIVETABLE_ES_URL to run the live tests",
            );
            None
        }
    }
}

/// A raw client for index management (the backend itself only reads).
fn admin(url: &str) -> elasticsearch::Elasticsearch {
    elasticsearch::Elasticsearch::new(
        Transport::single_node(url).expect("a valid LIVETABLE_ES_URL"),
    )
}

async fn call(
    es: &elasticsearch::Elasticsearch,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Json {
    let mut headers = HeaderMap::new();
    if path.contains("_bulk") {
        headers.insert("content-type", "application/x-ndjson".parse().unwrap());
    }
    let resp = es
        .send(
            method,
            path,
            headers,
            None::<&()>,
            body,
            Some(Duration::from_secs(60)),
        )
        .await
        .expect("the cluster answers");
    let status = resp.status_code().as_u16();
    let text = resp.text().await.unwrap();
    assert!(
        status < 300 || (status == 404 && method == Method::Delete),
        "{path}: HTTP {status}: {text}"
    );
    serde_json::from_str(&text).unwrap_or(Json::Null)
}

struct Live {
    url: String,
    index: String,
    admin: elasticsearch::Elasticsearch,
}

impl SuiteBackend for Live {
    async fn load(&mut self, columns: &[(&str, DataType)], events: &[Vec<Value>]) -> Result<()> {
        let es = &self.admin;
        call(es, Method::Delete, &format!("/{}", self.index), None).await;
        let properties: serde_json::Map<String, Json> = columns
            .iter()
            .map(|(n, t)| {
                let ty = match t {
                    DataType::Int => "long",
                    other => FieldType::of(*other).es_name(),
                };
                (n.to_string(), json!({"type": ty}))
            })
            .collect();
        call(
            es,
            Method::Put,
            &format!("/{}", self.index),
            Some(json!({"mappings": {"properties": properties}}).to_string()),
        )
        .await;
        for chunk in events.chunks(2000) {
            let mut ndjson = String::new();
            for e in chunk {
                let doc: serde_json::Map<String, Json> = columns
                    .iter()
                    .zip(e)
                    .filter(|(_, v)| !v.is_null())
                    .map(|((n, _), v)| (n.to_string(), source_json(v)))
                    .collect();
                ndjson.push_str("{\"index\":{}}\n");
                ndjson.push_str(&Json::Object(doc).to_string());
                ndjson.push('\n');
            }
            let out = call(
                es,
                Method::Post,
                &format!("/{}/_bulk?refresh=true", self.index),
                Some(ndjson),
            )
            .await;
            assert_eq!(out["errors"], json!(false), "bulk load failed: {out}");
        }
        Ok(())
    }

    async fn query(&self, spec: &Aggregate) -> Result<SharedQuery> {
        Ok(Arc::new(
            client(&self.url, &self.index)?.aggregate(spec.clone())?,
        ))
    }
}

fn client(url: &str, index: &str) -> Result<EsClient> {
    EsBuilder::new(url)
        .index(index)
        .page_size(50)
        .verify_certificates(std::env::var("LIVETABLE_ES_INSECURE").as_deref() != Ok("1"))
        .request_timeout(Duration::from_secs(30))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_cluster_agrees_with_memory_source() {
    let Some(url) = live_url() else { return };
    let index = "livetable-test-suite".to_owned();
    let mut backend = Live {
        admin: admin(&url),
        url: url.clone(),
        index: index.clone(),
    };
    suite::run(&mut backend).await;
    // A missing index is an invalid spec naming it.
    let spec = suite::cases(suite::anchor_now()).remove(0);
    let missing = client(&url, "livetable-no-such-index")
        .unwrap()
        .aggregate(spec.spec)
        .unwrap();
    let err = livetable_core::TableQuery::fetch(&missing, &spec.ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), livetable_core::ErrorKind::InvalidSpec, "{err}");
    call(&backend.admin, Method::Delete, &format!("/{index}"), None).await;
}
