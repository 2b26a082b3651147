//! The live page: `index.html`, `app.js` and `style.css`, compiled into the binary.
//!
//! Every URL in the page is relative, so it works wherever the router is nested; the
//! page must therefore be served from a directory URL (`/tcpdump/`, not `/tcpdump`),
//! which [`index`] ensures with a redirect.

use axum::extract::{OriginalUri, Path, Request};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const INDEX: &str = include_str!("../assets/index.html");
static INDEX_PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");

/// The page's policy: only its own scripts, styles and endpoints. Styles set from
/// script (rule colours, bars) go through the CSSOM, which this allows.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'self'";

/// `GET /`: the page.
pub(crate) async fn index(OriginalUri(original): OriginalUri) -> Response {
    if let Some(redirect) = redirect_to_directory(&original) {
        return redirect;
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        // The assets' URLs carry the crate version, so browsers refetch after an upgrade.
        INDEX_PAGE
            .get_or_init(|| INDEX.replace("__VERSION__", env!("CARGO_PKG_VERSION")))
            .as_str(),
    )
        .into_response()
}

/// `GET /assets/{file}`.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return ApiError::no_route().into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            // The page asks for `?v=<crate version>`, so an upgrade is fetched anew.
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// For a request of the page itself, a redirect to its directory URL when the path
/// lacks the trailing slash (`/tcpdump` → `tcpdump/`), keeping the query.
pub(crate) fn trailing_slash_redirect(request: &Request) -> Option<Response> {
    let original = request
        .extensions()
        .get::<OriginalUri>()
        .map(|o| &o.0)
        .unwrap_or(request.uri());
    redirect_to_directory(original)
}

fn redirect_to_directory(original: &Uri) -> Option<Response> {
    let path = original.path();
    if path.ends_with('/') {
        return None;
    }
    // Relative, so it holds behind a proxy that rewrites the path prefix.
    let last = path.rsplit('/').next().unwrap_or("");
    let location = match original.query() {
        Some(q) => format!("{last}/?{q}"),
        None => format!("{last}/"),
    };
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_redirects_are_relative() {
        let r = redirect_to_directory(&Uri::from_static("/a/tcpdump?table=x")).map(|r| {
            r.headers()
                .get(header::LOCATION)
                .map(|v| v.to_str().unwrap_or_default().to_owned())
        });
        assert_eq!(r, Some(Some("tcpdump/?table=x".to_owned())));
        assert!(redirect_to_directory(&Uri::from_static("/a/tcpdump/")).is_none());
    }

    #[test]
    fn the_page_uses_only_relative_urls() {
        for text in [INDEX, APP_JS] {
            for bad in ["src=\"/", "href=\"/", "fetch('/", "EventSource('/", "http://", "https://"] {
                assert!(!text.contains(bad), "absolute URL `{bad}` in an asset");
            }
        }
    }
}
