//! Test support: an HTTP server inside the test process standing in for Elasticsearch
//! (it records every request with its parsed JSON body and answers through a
//! closure), and the evaluator in [`eval`].
#![allow(dead_code)] // each test binary uses part of the support

pub(crate) mod eval;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use livetable_es::{EsBuilder, EsClient};
use serde_json::{Value as Json, json};

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) authorization: Option<String>,
    /// The parsed body (`Null` when empty). A body that is not JSON fails the test.
    pub(crate) body: Json,
}

/// An answer: status, body text, and an optional delay (to provoke timeouts).
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) delay: Option<Duration>,
}

impl Answer {
    pub(crate) fn json(status: u16, body: Json) -> Answer {
        Answer {
            status,
            body: body.to_string(),
            delay: None,
        }
    }

    pub(crate) fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: body.to_owned(),
            delay: None,
        }
    }
}

type Responder = Arc<dyn Fn(&Recorded) -> Answer + Send + Sync>;

#[derive(Clone)]
struct Shared {
    requests: Arc<Mutex<Vec<Recorded>>>,
    responder: Responder,
}

/// The fake server; stops when dropped.
pub(crate) struct FakeEs {
    pub(crate) addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeEs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = if body.is_empty() {
        Json::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(j) => j,
            Err(e) => {
                return (
                    StatusCode::IM_A_TEAPOT,
                    format!("the fake got a body that is not JSON: {e}"),
                )
                    .into_response();
            }
        }
    };
    let rec = Recorded {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: parsed,
    };
    shared
        .requests
        .lock()
        .expect("not poisoned")
        .push(rec.clone());
    let answer = (shared.responder)(&rec);
    if let Some(d) = answer.delay {
        tokio::time::sleep(d).await;
    }
    let ct = if serde_json::from_str::<Json>(&answer.body).is_ok() {
        "application/json"
    } else {
        "text/plain"
    };
    (
        StatusCode::from_u16(answer.status).expect("a valid status"),
        [(header::CONTENT_TYPE, ct)],
        answer.body,
    )
        .into_response()
}

impl FakeEs {
    /// Starts a server on 127.0.0.1:0 answering through `responder`.
    pub(crate) async fn start(
        responder: impl Fn(&Recorded) -> Answer + Send + Sync + 'static,
    ) -> FakeEs {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            requests: requests.clone(),
            responder: Arc::new(responder),
        };
        let app = Router::new().fallback(handle).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("a bound address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the fake server runs");
        });
        FakeEs {
            addr,
            requests,
            task,
        }
    }

    /// A fake that evaluates searches over `index` (errors become HTTP 400).
    pub(crate) async fn evaluating(index: eval::Index) -> FakeEs {
        let index = Arc::new(index);
        FakeEs::start(move |r| {
            if r.method != Method::POST || !r.path.ends_with("/_search") {
                return Answer::json(404, json!({"error": {"type": "not_found", "reason": r.path}, "status": 404}));
            }
            match index.search(&r.body) {
                Ok(j) => Answer::json(200, j),
                Err(reason) => Answer::json(
                    400,
                    json!({"error": {"root_cause": [{"type": "parsing_exception", "reason": reason}],
                        "type": "parsing_exception", "reason": reason}, "status": 400}),
                ),
            }
        })
        .await
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A builder pointing at this server.
    pub(crate) fn builder(&self, index: &str) -> EsBuilder {
        EsBuilder::new(self.url())
            .index(index)
            .request_timeout(Duration::from_secs(5))
    }

    pub(crate) fn client(&self, index: &str) -> EsClient {
        self.builder(index).build().expect("a valid client")
    }

    /// The requests received so far.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("not poisoned").clone()
    }
}
