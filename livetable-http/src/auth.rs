//! Optional token authentication for every route.
//!
//! - API clients send `Authorization: Bearer <token>`.
//! - A browser's `EventSource` cannot send headers, so the page is opened once with
//!   `?token=<token>`: the answer sets an `HttpOnly`, `SameSite=Strict` cookie and
//!   redirects to the same address without the token, so the
//!   token does not stay in the address bar or the history.
//! - Opening the page with `?token=` always redirects to the address without it, even
//!   when the cookie is already valid, so the token never stays in the address bar
//!   (where the page would read it as a filter and put it in its CSV link).
//! - The cookie is `HttpOnly`, `SameSite=Strict`, `Secure` over HTTPS, with an explicit
//!   `Path`: the page's directory as the browser sees it (`/tcpdump` for `/tcpdump/`),
//!   behind a proxy that strips a prefix, prefixed with `X-Forwarded-Prefix`.
//! - Tokens are 16 to 512 characters of `A-Z a-z 0-9 - . _ ~` (URL-unreserved: they
//!   travel unchanged in a header, a query string and a cookie), compared in constant
//!   time whatever the lengths; anything else is a 401.

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
    /// Accepts a token that travels unchanged in a header, a query string and a
    /// cookie: 16 to 512 characters of `A-Z a-z 0-9 - . _ ~`.
    pub(crate) fn new(token: &str) -> Result<Self> {
        let fits = token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !(16..=512).contains(&token.len()) || !fits {
            return Err(Error::invalid_spec(
                "the access token must be 16 to 512 characters of letters, digits, `-`, \
                 `.`, `_` and `~` (they travel unchanged in URLs, headers and cookies), \
                 e.g. 32 random hex digits",
            ));
        }
        Ok(Token(token.into()))
    }

    /// Constant time whatever the lengths: every byte of `given` is compared with the
    /// token's byte at the same position (cycling), so the time depends on the length
    /// of the guess only, never on the token's length or on where they differ.
    fn matches(&self, given: &[u8]) -> bool {
        let secret = self.0.as_bytes();
        // `secret` is never empty (16 bytes at least).
        let mut same = (given.len() as u64).ct_eq(&(secret.len() as u64));
        for (i, b) in given.iter().enumerate() {
            same &= b.ct_eq(&secret[i % secret.len()]);
        }
        same.into()
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
    let on_page = request.uri().path() == "/";
    let given = on_page
        .then(|| query_token(request.uri().query()))
        .flatten();
    match given {
        // The page with `?token=`: a cookie for a valid token, and in every case a
        // redirect without it, so it leaves the address bar.
        Some(given) if token.matches(given.as_bytes()) => exchange(&token, &request, true),
        Some(_) if by_header || by_cookie => exchange(&token, &request, false),
        _ if by_header || by_cookie => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// `?token=` on the page: a redirect to the same address without the token, with the
/// cookie when `set_cookie` (the token given was right).
fn exchange(token: &Token, request: &Request, set_cookie: bool) -> Response {
    let rest: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
                .filter(|(k, _)| k != "token"),
        )
        .finish();
    let original = page::original_uri(request);
    let location = page::self_location(original, &rest);
    let https = request.uri().scheme_str() == Some("https")
        || request
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    if set_cookie {
        // The token's characters were checked to be cookie-safe.
        let cookie = format!(
            "{COOKIE}={}; Path={}; HttpOnly; SameSite=Strict{}",
            token.0,
            cookie_path(original.path(), request.headers()),
            if https { "; Secure" } else { "" }
        );
        if let Ok(cookie) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, cookie);
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The cookie's `Path`: the page's path as the browser sees it, without a trailing
/// `/` (`/tcpdump` covers `/tcpdump`, `/tcpdump/` and the API under it), after the
/// `X-Forwarded-Prefix` a prefix-stripping proxy sends; `/` when unsure.
fn cookie_path(page_path: &str, headers: &HeaderMap) -> String {
    let prefix = headers
        .get("x-forwarded-prefix")
        .and_then(|p| p.to_str().ok())
        .unwrap_or("")
        .trim_end_matches('/');
    let path = format!("{prefix}{page_path}");
    let path = path.trim_end_matches('/');
    let safe = path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'"' | b'\\'));
    if path.is_empty() || !safe {
        "/".to_owned()
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_hidden() {
        assert!(Token::new("short").is_err());
        assert!(Token::new("0123456789abcdef; x").is_err());
        // `#` cannot travel in a query string; `+`, `%`, `&`, `=` change meaning there.
        for bad in [
            "0123456789abcdef#",
            "0123456789abcdef+",
            "0123456789abcdef=",
            "0123456789abcdef!",
        ] {
            assert!(Token::new(bad).is_err(), "{bad}");
        }
        assert!(Token::new("AZaz09-._~AZaz09-._~").is_ok());
        let t = Token::new("0123456789abcdef").unwrap();
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert!(t.matches(b"0123456789abcdef"));
        assert!(!t.matches(b"0123456789abcdeF"));
        assert!(!t.matches(b"0123456789abcde"));
        assert!(!t.matches(b""));
        // A guess that repeats the token is not the token.
        assert!(!t.matches(b"0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn comparison_time_does_not_reveal_the_token_length() {
        // Guesses of the token's length and of one byte more: the old comparison
        // returned at once when the lengths differed, which told the length.
        let token = Token::new(&"a".repeat(512)).unwrap();
        let time = |guess: &[u8]| {
            (0..9)
                .map(|_| {
                    let start = std::time::Instant::now();
                    for _ in 0..500 {
                        assert!(!token.matches(std::hint::black_box(guess)));
                    }
                    start.elapsed()
                })
                .min()
                .unwrap()
        };
        let same_length = time(&[b'b'; 512]);
        let one_more = time(&[b'b'; 513]);
        let ratio = same_length.as_secs_f64() / one_more.as_secs_f64();
        assert!(
            (0.5..2.0).contains(&ratio),
            "512-byte guess {same_length:?}, 513-byte guess {one_more:?}"
        );
    }

    #[test]
    fn the_cookie_path_is_the_page_directory() {
        let none = HeaderMap::new();
        assert_eq!(cookie_path("/", &none), "/");
        assert_eq!(cookie_path("/tcpdump", &none), "/tcpdump");
        assert_eq!(cookie_path("/tcpdump/", &none), "/tcpdump");
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-prefix", HeaderValue::from_static("/ops/"));
        assert_eq!(cookie_path("/tcpdump/", &proxied), "/ops/tcpdump");
        assert_eq!(cookie_path("/", &proxied), "/ops");
        assert_eq!(cookie_path("/a;b", &none), "/");
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
