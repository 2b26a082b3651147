//! The live page: `index.html`, `app.js` and `style.css`, compiled into the binary.
//!
//! Every URL in the page is relative, so it works wherever the router is nested.

use std::sync::OnceLock;

use axum::extract::{OriginalUri, Path, Request};
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const INDEX: &str = include_str!("../assets/index.html");
static INDEX_PAGE: OnceLock<String> = OnceLock::new();
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");

/// The page's policy: only its own scripts, styles and endpoints. Styles set from
/// script (rule colours, bars) go through the CSSOM, which this allows.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self' data:; base-uri 'self'; \
                   form-action 'self'; frame-ancestors 'self'";

/// `GET /`: the page.
///
/// axum serves a router nested at `/tcpdump` at `/tcpdump` (no trailing slash), where
/// relative links would resolve against `/`. The page then gets a relative
/// `<base href="tcpdump/">`, which stays right behind a proxy that rewrites the prefix.
pub(crate) async fn index(OriginalUri(original): OriginalUri) -> Response {
    let page = INDEX_PAGE.get_or_init(|| INDEX.replace("__VERSION__", env!("CARGO_PKG_VERSION")));
    let body = match base_href(&original) {
        Some(base) => page.replacen("<head>", &format!("<head>\n<base href=\"{base}\">"), 1),
        None => page.clone(),
    };
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
        body,
    )
        .into_response()
}

/// The relative base for a page whose URL does not end with `/`, HTML-escaped.
fn base_href(original: &Uri) -> Option<String> {
    let path = original.path();
    if path.ends_with('/') {
        return None;
    }
    let last = path.rsplit('/').next().unwrap_or("");
    let escaped = last
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    Some(format!("{escaped}/"))
}

/// A relative URL of the page itself with `query` (`./?q` or `tcpdump?q`), as seen
/// from the page's own URL.
pub(crate) fn self_location(original: &Uri, query: &str) -> String {
    let path = original.path();
    let base = if path.ends_with('/') {
        "./"
    } else {
        path.rsplit('/').next().unwrap_or(".")
    };
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{query}")
    }
}

/// The browser-visible URI of a request: the one before nesting stripped a prefix.
pub(crate) fn original_uri(request: &Request) -> &Uri {
    request
        .extensions()
        .get::<OriginalUri>()
        .map(|o| &o.0)
        .unwrap_or(request.uri())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_pages_get_a_relative_base() {
        assert_eq!(
            base_href(&Uri::from_static("/a/tcpdump?x=1")).as_deref(),
            Some("tcpdump/")
        );
        assert_eq!(base_href(&Uri::from_static("/a/tcpdump/")), None);
        assert_eq!(base_href(&Uri::from_static("/")), None);
        assert_eq!(
            self_location(&Uri::from_static("/a/tcpdump"), "t=1"),
            "tcpdump?t=1"
        );
        assert_eq!(self_location(&Uri::from_static("/"), ""), "./");
    }

    #[test]
    fn the_page_never_spreads_rows_into_arguments() {
        // `Math.min(...values)` throws RangeError past ~125,000 values; the browser test
        // checks a 150,000-row table where Chromium is installed, this everywhere.
        for bad in ["Math.min(...", "Math.max(...", ".push(...", "apply(null"] {
            assert!(!APP_JS.contains(bad), "`{bad}` in app.js");
        }
        assert!(APP_JS.contains("const MAX_SHOWN = 2000;"));
        assert!(INDEX.contains("id=\"capped\""));
    }

    #[test]
    fn the_page_uses_only_relative_urls() {
        for text in [INDEX, APP_JS] {
            for bad in [
                "src=\"/",
                "href=\"/",
                "fetch('/",
                "EventSource('/",
                "http://",
                "https://",
            ] {
                assert!(!text.contains(bad), "absolute URL `{bad}` in an asset");
            }
        }
    }
}
