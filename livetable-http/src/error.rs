//! [`ApiError`]: every error the adapter answers with, mapped to a status code and a
//! JSON body `{"error":{"kind":…,"message":…}}` in one place.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use livetable_core::{Error, ErrorKind};
use serde::Serialize;
use tracing::warn;

/// An error answered to an HTTP client. Built from a [`livetable_core::Error`] (its kind
/// picks the status) or by the adapter itself (unknown route, missing token).
///
/// Client errors (4xx) carry the core error's message, which says what was wrong and
/// what is allowed. Server-side errors (5xx) never show the message or the context,
/// which may name hosts, statements or credentials: they say the table is unavailable,
/// and the details go to the log.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    kind: &'a str,
    message: &'a str,
}

impl ApiError {
    /// The status code answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The kind shown to the client (`invalid_parameter`, `not_found`, …).
    pub fn kind(&self) -> &str {
        self.kind
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn unauthorized() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: "unauthorized",
            message: "a token is required: API clients send `Authorization: Bearer <token>`; \
                      browsers open the page once with `?token=<token>`"
                .to_owned(),
        }
    }

    pub(crate) fn no_route() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "not_found",
            message: "no such endpoint; the endpoints are `./` (the page), `./api/tables`, \
                      `./api/tables/{name}`, `./api/tables/{name}.csv`, \
                      `./api/tables/{name}/stream` and `./api/openapi.json`"
                .to_owned(),
        }
    }

    /// A path segment axum cannot decode (`/api/tables/%FF`: not UTF-8).
    pub(crate) fn bad_path(rejection: axum::extract::rejection::PathRejection) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_parameter",
            message: format!(
                "the table name in the path cannot be read ({}); percent-encode it as \
                 UTF-8 (./api/tables lists the names)",
                rejection.body_text()
            ),
        }
    }

    /// A request line longer than the server reads (414).
    pub(crate) fn uri_too_long(limit: usize) -> Self {
        ApiError {
            status: StatusCode::URI_TOO_LONG,
            kind: "uri_too_long",
            message: format!(
                "the address is longer than {limit} bytes; use fewer or shorter filter values"
            ),
        }
    }

    /// Request headers larger than the server reads (431).
    pub(crate) fn headers_too_large(limit: usize) -> Self {
        ApiError {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            kind: "headers_too_large",
            message: format!(
                "the request's headers exceed {limit} bytes; send fewer or smaller headers \
                 (cookies included)"
            ),
        }
    }

    pub(crate) fn method_not_allowed() -> Self {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            kind: "method_not_allowed",
            message: "only GET (and HEAD) are supported".to_owned(),
        }
    }
}

/// The status code for each kind. Store-side failures are 5xx; what the viewer asked
/// wrongly is 4xx.
fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidParameter | ErrorKind::InvalidEvent => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::LimitExceeded => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Unavailable | ErrorKind::PermissionDenied => StatusCode::SERVICE_UNAVAILABLE,
        // A wrong spec, an unsupported request or a confused store is the server's
        // problem, not the viewer's.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = status_of(error.kind());
        if status.is_server_error() {
            // The full error (context included) is for the operator only.
            warn!(error = %error, "request failed");
            let (kind, message) = if error.kind() == ErrorKind::Timeout {
                (
                    "timeout",
                    "the table's source did not answer in time; try again later",
                )
            } else {
                (
                    "unavailable",
                    "the table is unavailable right now; try again later",
                )
            };
            return ApiError {
                status,
                kind,
                message: message.to_owned(),
            };
        }
        ApiError {
            status,
            kind: error.kind().as_str(),
            message: error.message().to_owned(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                kind: self.kind,
                message: &self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"livetable\""),
            );
        }
        response
    }
}

/// The router's fallback: an unknown path.
pub(crate) async fn not_found() -> ApiError {
    ApiError::no_route()
}

/// The router's fallback for a known path with another method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_status_and_5xx_hide_the_message() {
        let cases = [
            (ErrorKind::InvalidParameter, 400),
            (ErrorKind::InvalidEvent, 400),
            (ErrorKind::NotFound, 404),
            (ErrorKind::LimitExceeded, 429),
            (ErrorKind::Timeout, 504),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::PermissionDenied, 503),
            (ErrorKind::InvalidSpec, 500),
            (ErrorKind::Unsupported, 500),
            (ErrorKind::Unexpected, 500),
        ];
        for (kind, status) in cases {
            let e = Error::new(kind, "SELECT secret FROM db.internal:5432")
                .with_context("host", "db.internal");
            let api = ApiError::from(e);
            assert_eq!(api.status().as_u16(), status, "{kind}");
            if status >= 500 {
                assert!(!api.message().contains("db.internal"), "{kind} leaks");
                assert!(!api.message().contains("SELECT"), "{kind} leaks");
            } else {
                assert_eq!(api.kind(), kind.as_str());
            }
        }
    }
}
