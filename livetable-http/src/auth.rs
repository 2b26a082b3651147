//! Optional token authentication for every route.
//!
//! - API clients send `Authorization: Bearer <token>`.
//! - A browser's `EventSource` cannot send headers, so the page is opened once with
//!   `?token=<token>`: the answer sets an `HttpOnly`, `SameSite=Strict` cookie and
//!   redirects to the same address without the token, so the
//!   token does not stay in the address bar or the history.
//! - Tokens are compared in constant time; anything else is a 401.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use livetable_core::{Error, Result};
use std::sync::Arc;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::page;

const COOKIE: &str = "livetable_token";

/// A secret token. Its `Debug` does not show it.
#[derive(Clone)]
pub(crate) struct Token(Arc<str>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Token {
    /// Accepts a token that can travel in a header, a query string and a cookie
    /// unchanged: 16 to 512 visible ASCII characters without `;`, `,`, `"`, `\` or space.
    pub(crate) fn new(token: &str) -> Result<Self> {
        let fits = token.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'"' | b'\\' | b'%' | b'+' | b'&')
        });
        if !(16..=512).contains(&token.len()) || !fits {
            return Err(Error::invalid_spec(
                "the access token must be 16 to 512 characters of letters, digits and \
                 punctuation other than ; , \" \\ % + & (e.g. 32 random hex digits)",
            ));
        }
        Ok(Token(token.into()))
    }

    fn matches(&self, given: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(given).into()
    }
}

fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| {
            let pair = pair.trim_ascii();
            let (name, value) = pair.split_at_checked(COOKIE.len() + 1)?;
            (name.strip_suffix(b"=")? == COOKIE.as_bytes()).then_some(value)
        })
}

/// The middleware: lets a request through with a valid token, exchanges `?token=` on
/// the page for a cookie, answers 401 otherwise.
pub(crate) async fn require(State(token): State<Token>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let by_header = bearer(headers).is_some_and(|t| token.matches(t));
    // Every cookie of that name is tried: another app on the same host may set one.
    let by_cookie = cookies(headers).any(|t| token.matches(t));
    if by_header || by_cookie {
        return next.run(request).await;
    }
    if request.uri().path() == "/"
        && let Some(given) = query_token(request.uri().query())
    {
        return exchange(&token, &given, &request);
    }
    ApiError::unauthorized().into_response()
}

fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// `?token=` on the page: a cookie and a redirect without the token, or a 401.
fn exchange(token: &Token, given: &str, request: &Request) -> Response {
    if !token.matches(given.as_bytes()) {
        return ApiError::unauthorized().into_response();
    }
    let rest: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
                .filter(|(k, _)| k != "token"),
        )
        .finish();
    let location = page::self_location(page::original_uri(request), &rest);
    let https = request.uri().scheme_str() == Some("https")
        || request
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    // No `Path`: the browser scopes the cookie to the directory of the page's URL as it
    // sees it (`/` for `/tcpdump`, `/tcpdump` for `/tcpdump/`), which covers the API
    // under it and stays right behind a proxy that rewrites paths. The token's
    // characters were checked to be cookie-safe.
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict{}",
        token.0,
        if https { "; Secure" } else { "" }
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let (Ok(location), Ok(cookie)) = (
        HeaderValue::from_str(&location),
        HeaderValue::from_str(&cookie),
    ) {
        headers.insert(header::LOCATION, location);
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_hidden() {
        assert!(Token::new("short").is_err());
        assert!(Token::new("0123456789abcdef; x").is_err());
        let t = Token::new("0123456789abcdef").unwrap();
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert!(t.matches(b"0123456789abcdef"));
        assert!(!t.matches(b"0123456789abcdeF"));
        assert!(!t.matches(b"0123456789abcde"));
    }

    #[test]
    fn bearer_and_cookies_are_read() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer(&h), Some(&b"abc"[..]));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; livetable_token=xyz; livetable_tokenx=2"),
        );
        assert_eq!(cookies(&h).collect::<Vec<_>>(), vec![&b"xyz"[..]]);
    }
}
