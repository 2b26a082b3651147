//! # livetable-http
//!
//! The [axum] adapter of livetable: a [`Router`] that serves the tables of a
//! [`Catalog`] as JSON, CSV, server-sent events and a self-contained live page. Nest it
//! under any path; every link of the page is relative.
//!
//! ```no_run
//! # async fn run(catalog: livetable_core::Catalog) -> std::io::Result<()> {
//! // The page at /tcpdump/ (and /tcpdump), the API under /tcpdump/api/.
//! let app = livetable_http::nest("/tcpdump", livetable_http::router(catalog));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! livetable_http::serve(listener, app, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```
//!
//! # Endpoints
//! Relative to where the router is nested (an OpenAPI description is in
//! `livetable-http/openapi.yaml`):
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /` | the live page (`?table=name` picks a table; other parameters as below) |
//! | `GET /api/tables` | `{"tables":[…]}`: each table's name, title, schema, default and allowed windows, refresh interval, default order and formatting rules |
//! | `GET /api/tables/{name}` | the current snapshot as JSON: `schema`, `rows` (arrays in schema order), `version`, `window`, `taken_at`, `fetch_ms`, `approximate`, `partial`, `status` |
//! | `GET /api/tables/{name}.csv` | the same rows as CSV (a header of column names) |
//! | `GET /api/tables/{name}/stream` | server-sent events: `snapshot` first, then a `patch` per version; see below |
//! | `GET /api/openapi.json` | an OpenAPI 3.1 document of the tables served: one path per table, its windows and dimension filters as typed parameters (windows as an enum), for generic clients and API fuzzers |
//!
//! The snapshot, CSV and stream endpoints take view parameters in the query string:
//! `window=15m` (one of the table's allowed windows), filters on dimension columns,
//! `protocol=TCP`, a repeated key for several values (`port=80&port=443`), and
//! `group_by=source_ip,protocol` to group by fewer dimensions (a roll-up; tables whose
//! source cannot group answer 400, and `/api/tables` says `groupable: false`). See
//! [`parse_view_params`]. Viewers asking for the same parameters share one live view, so
//! the store sees one query per refresh however many people watch.
//!
//! ## The stream
//! Each event has `event: snapshot` or `event: patch`, `id: <epoch>-<instance>.<version>` and
//! one `data:` line of JSON. A patch (`from_version`, `to_version`, `inserted` rows,
//! `updated` rows, `removed` keys — the dimension values in schema order — and the new
//! `window`, `taken_at`, `fetch_ms`, `status`) applies to the version before it; a
//! status change (fresh ↔ stale) is a patch without row changes. A client reconnecting
//! with `Last-Event-ID` gets only the patches it missed when the table still holds
//! them, or a fresh snapshot. Comment lines keep the connection alive (every 15 s by
//! default).
//!
//! ## Status
//! `{"state":"loading"}`, `{"state":"fresh"}`, or
//! `{"state":"stale","since":…,"error":{"kind":…,"message":…,"retryable":…}}` while the
//! source fails: the rows are then the last good ones. The message is a plain sentence
//! for the kind (`"the store is unavailable; retrying"`, see
//! [`wire::viewer_message`]), never the store's own error text, which may
//! name hosts, URLs or relations: that goes to the log.
//!
//! ## Errors
//! A JSON body `{"error":{"kind":…,"message":…}}`, for every error: 400 for a bad
//! parameter (the message says what is allowed; a parameter without `=` is one) or an
//! undecodable path, 401 without a valid token, 404 for an unknown table or path, 405
//! for a method other than GET, 414 past [`MAX_URI_BYTES`], 431 past
//! [`MAX_HEADER_BYTES`], 429 when the client holds its share of a table's views or all
//! of them are watched (the default view is always served; see
//! [`Table`](livetable_core::Table#fair-views)), 503/504/500 when the store fails — those
//! never carry the store's message, which may name hosts or statements; it goes to the
//! log.
//!
//! ## Connections
//! [`serve`] bounds what one client can hold: a header-read timeout, an idle timeout, a
//! timeout for a stream reader that accepts no data, and a maximum number of open
//! connections; see [`ServeConfig`] for the defaults and [`serve_with`] to change them.
//!
//! ## Authentication
//! Off by default. With [`Options::token`], every route needs the token:
//! `Authorization: Bearer <token>` for API clients; a browser opens the page once with
//! `?token=<token>`, which is exchanged for an `HttpOnly`, `SameSite=Strict` cookie
//! (with an explicit `Path`: the page's directory) and a redirect without the token —
//! also when the cookie is already valid, so the token never stays in the address bar.
//! Tokens are 16 to 512 characters of `A-Z a-z 0-9 - . _ ~`; comparison is
//! constant-time whatever the lengths.

mod api;
mod auth;
mod encode;
mod error;
mod nest;
mod openapi;
mod page;
mod params;
mod serve;
mod sse;
mod state;
pub mod wire;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use livetable_core::{Catalog, Result};

/// The axum this adapter is built on: its [`Router`] is what [`router`] returns, so an
/// application can use this one without naming a matching version.
pub use axum;
pub use error::ApiError;
pub use nest::nest;
pub use params::parse_view_params;
pub use serve::{ServeConfig, graceful, serve, serve_with};

/// The router for `catalog` with default [`Options`] (no authentication).
///
/// ```
/// use livetable_core::Catalog;
/// let app: axum::Router = livetable_http::nest("/tables", livetable_http::router(Catalog::new()));
/// ```
pub fn router(catalog: Catalog) -> Router {
    Options::default().router(catalog)
}

/// Settings of the router.
///
/// ```
/// use livetable_core::Catalog;
/// let router = livetable_http::Options::default()
///     .token("0123456789abcdef0123456789abcdef")?
///     .router(Catalog::new());
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    token: Option<auth::Token>,
    keep_alive: Duration,
    retry: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            token: None,
            keep_alive: Duration::from_secs(15),
            retry: Duration::from_secs(2),
        }
    }
}

impl Options {
    /// Requires this token on every route. It must be 16 to 512 characters of
    /// `A-Z a-z 0-9 - . _ ~` (URL-unreserved, so it travels unchanged in a header, a
    /// query string and a cookie; `#`, `+`, `%`, `&` would not); anything else is an
    /// error here, when the router is built.
    pub fn token(mut self, token: impl AsRef<str>) -> Result<Self> {
        self.token = Some(auth::Token::new(token.as_ref())?);
        Ok(self)
    }

    /// How often an idle event stream sends a keep-alive comment (default 15 s).
    pub fn keep_alive(mut self, every: Duration) -> Self {
        self.keep_alive = every;
        self
    }

    /// How long a disconnected browser waits before reconnecting (default 2 s; sent as
    /// the stream's `retry:` field).
    pub fn reconnect_after(mut self, delay: Duration) -> Self {
        self.retry = delay;
        self
    }

    /// The router serving `catalog` with these options (see [`router`] for the
    /// defaults); nest it with [`nest`].
    pub fn router(self, catalog: Catalog) -> Router {
        let state = state::AppState::new(catalog, self.keep_alive, self.retry);
        let router = Router::new()
            .route("/", get(page::index))
            .route("/assets/{file}", get(page::asset))
            .route("/api/tables", get(api::list))
            .route("/api/openapi.json", get(openapi::document))
            .route("/api/tables/{name}", get(api::snapshot))
            .route("/api/tables/{name}/stream", get(sse::stream))
            .fallback(error::not_found)
            .method_not_allowed_fallback(error::method_not_allowed)
            .with_state(state);
        let router = match self.token {
            Some(token) => router.layer(middleware::from_fn_with_state(token, auth::require)),
            None => router,
        };
        router
            .layer(middleware::from_fn(request_limits))
            .layer(middleware::map_response(security_headers))
    }
}

/// The longest request target answered (32 KiB): the most filter values a request
/// may carry (1,024) fit, with names like `destination_port`.
pub const MAX_URI_BYTES: usize = 32 * 1024;
/// The most header bytes answered (32 KiB, names and values).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// A 414 or 431 with the JSON error body, for requests past [`MAX_URI_BYTES`] or
/// [`MAX_HEADER_BYTES`]. (hyper answers requests past its own, larger, read buffer —
/// 64 KiB of request line, about 400 KiB of headers — with a bare status before any
/// handler runs.)
async fn request_limits(request: axum::extract::Request, next: middleware::Next) -> Response {
    let uri = request
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map(|o| &o.0)
        .unwrap_or(request.uri());
    let uri_len = uri.path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::uri_too_long(MAX_URI_BYTES).into_response();
    }
    let header_len: usize = request
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_len > MAX_HEADER_BYTES {
        return ApiError::headers_too_large(MAX_HEADER_BYTES).into_response();
    }
    next.run(request).await
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
