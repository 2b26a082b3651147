//! [`nest`]: mount the router under a path, with the page at `path` and `path/`.

use axum::Router;
use axum::extract::Request;
use tower::ServiceExt;

/// Mounts `tables` (a [`router`](crate::router)) under `path`, serving the page at both
/// `path` and `path/`.
///
/// `Router::nest("/tcpdump", …)` alone serves the page at `/tcpdump` only, and
/// `/tcpdump/` — the address people type and share — is a 404. This routes `path/` to
/// the same page; the page's relative links resolve either way. An empty `path` returns
/// `tables` unchanged.
///
/// ```
/// use livetable_core::Catalog;
/// let app: axum::Router = livetable_http::nest("/tcpdump", livetable_http::router(Catalog::new()))
///     .route("/", axum::routing::get(|| async { "my application" }));
/// ```
pub fn nest(path: &str, tables: Router) -> Router {
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        return tables;
    }
    // `path/` is the page of the inner router, `/`, with the query kept. The outer
    // router has recorded the URL the browser sees (`OriginalUri`), which the page uses
    // for its relative base.
    let page = tables.clone().map_request(|mut request: Request| {
        let query = request
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        if let Ok(uri) = format!("/{query}").parse() {
            *request.uri_mut() = uri;
        }
        request
    });
    Router::new()
        .nest(path, tables)
        .route_service(&format!("{path}/"), page)
}
