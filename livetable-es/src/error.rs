//! Maps what Elasticsearch answers (HTTP statuses, error bodies, transport failures)
//! onto livetable's [`Error`] kinds, with `backend` and `index` context.

use livetable_core::{Error, ErrorKind};
use serde_json::Value as Json;

/// The backend name put in every error's context.
pub(crate) const BACKEND: &str = "elasticsearch";

/// Adds the context every error of this crate carries.
pub(crate) fn with_context(err: Error, index: &str) -> Error {
    err.with_context("backend", BACKEND)
        .with_context("index", index)
}

/// An error about the configuration: names the bad field.
pub(crate) fn config(field: &'static str, message: impl Into<String>) -> Error {
    Error::invalid_spec(message)
        .with_context("field", field)
        .with_context("backend", BACKEND)
}

/// An answer this crate cannot interpret.
pub(crate) fn unexpected(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unexpected, message)
}

/// A failure before any HTTP status arrived (refused, DNS, TLS, timeout).
pub(crate) fn transport(err: elasticsearch::Error, index: &str) -> Error {
    let e = if err.is_timeout() {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "Elasticsearch did not answer within the request timeout ({err}); \
                 raise `request_timeout` or narrow the query"
            ),
        )
    } else {
        Error::unavailable(format!(
            "cannot reach Elasticsearch: {err}; check the URL and that the cluster is up"
        ))
    };
    with_context(e.with_source(err), index)
}

/// What an error body says: its `type` and a reason for people.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ErrorBody {
    /// `error.type`, e.g. `index_not_found_exception`.
    pub(crate) kind: Option<String>,
    /// `error.reason`, with the root cause or `caused_by` reason when they add detail.
    pub(crate) reason: String,
}

/// Reads an error body: the Elasticsearch / OpenSearch JSON shape, an old plain-string
/// `error`, or a body that is not JSON at all ("Unauthorized", an HTML proxy page).
pub(crate) fn parse_error_body(body: &[u8]) -> ErrorBody {
    let text = || {
        let s = String::from_utf8_lossy(body);
        let s = s.trim();
        if s.is_empty() {
            "(empty body)".to_owned()
        } else {
            // Keep logs and messages short: a proxy may answer with a whole HTML page.
            let mut end = s.len().min(200);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s[..end].to_owned()
        }
    };
    let Ok(json) = serde_json::from_slice::<Json>(body) else {
        return ErrorBody {
            kind: None,
            reason: text(),
        };
    };
    let error = &json["error"];
    if let Some(s) = error.as_str() {
        return ErrorBody {
            kind: None,
            reason: s.to_owned(),
        };
    }
    let kind = error["type"].as_str().map(str::to_owned);
    let mut reason = error["reason"].as_str().unwrap_or_default().to_owned();
    // The top reason is often generic ("all shards failed"): add the specific one.
    let detail = error["caused_by"]["reason"]
        .as_str()
        .or_else(|| error["root_cause"][0]["reason"].as_str())
        .or_else(|| error["details"].as_str())
        .filter(|d| !d.is_empty() && *d != reason);
    if let Some(d) = detail {
        if reason.is_empty() {
            reason = d.to_owned();
        } else {
            reason = format!("{reason}: {d}");
        }
    }
    if reason.is_empty() {
        reason = text();
    }
    ErrorBody { kind, reason }
}

/// The error for a non-2xx answer.
pub(crate) fn status(status: u16, body: &[u8], index: &str) -> Error {
    let ErrorBody { kind, reason } = parse_error_body(body);
    let ty = kind.as_deref().unwrap_or("");
    let e = match status {
        401 | 403 => Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "Elasticsearch refused the request (HTTP {status}): {reason}; check credentials \
                 (user and password or API key) and that the role may read index `{index}`"
            ),
        )
        .with_retryable(false),
        404 if ty == "index_not_found_exception" || reason.contains("no such index") => {
            Error::invalid_spec(format!(
                "index `{index}` does not exist ({reason}); check the index name or pattern"
            ))
        }
        404 => Error::invalid_spec(format!(
            "Elasticsearch answered HTTP 404 ({reason}); check the URL (a path prefix?) and \
             the index `{index}`"
        )),
        429 => Error::unavailable(format!(
            "Elasticsearch is overloaded and rejected the search (HTTP 429): {reason}; \
             it will be retried"
        )),
        _ if ty == "too_many_buckets_exception" => Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "Elasticsearch refused to build that many buckets ({reason}); lower `page_size`"
            ),
        ),
        408 | 504 => Error::new(
            ErrorKind::Timeout,
            format!("Elasticsearch timed out (HTTP {status}): {reason}"),
        ),
        400 => Error::invalid_spec(format!(
            "Elasticsearch rejected the query (HTTP 400): {reason}"
        )),
        500..=599 => Error::unavailable(format!("Elasticsearch failed (HTTP {status}): {reason}")),
        _ => Error::new(
            ErrorKind::Unexpected,
            format!("Elasticsearch answered HTTP {status}: {reason}"),
        ),
    };
    let e = e.with_context("status", status);
    let e = match kind {
        Some(k) => e.with_context("error_type", k),
        None => e,
    };
    with_context(e, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_plain_and_empty_bodies() {
        let body = br#"{"error":{"root_cause":[{"type":"x","reason":"inner"}],"type":"search_phase_execution_exception","reason":"all shards failed","caused_by":{"type":"y","reason":"field [a] not aggregatable"}},"status":400}"#;
        let parsed = parse_error_body(body);
        assert_eq!(
            parsed.kind.as_deref(),
            Some("search_phase_execution_exception")
        );
        assert_eq!(
            parsed.reason,
            "all shards failed: field [a] not aggregatable"
        );
        assert_eq!(parse_error_body(b"Unauthorized").reason, "Unauthorized");
        assert_eq!(parse_error_body(b"").reason, "(empty body)");
        assert_eq!(
            parse_error_body(br#"{"error":"old style"}"#).reason,
            "old style"
        );
        let long = "é".repeat(300);
        assert!(parse_error_body(long.as_bytes()).reason.len() <= 200);
    }

    #[test]
    fn maps_statuses_to_kinds() {
        let e = status(401, b"Unauthorized", "packets");
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(!e.is_retryable());
        assert!(e.message().contains("check credentials"), "{e}");
        assert_eq!(e.context_value("index"), Some("packets"));
        assert_eq!(e.context_value("backend"), Some("elasticsearch"));
        let e = status(429, b"{}", "p");
        assert!(e.is_retryable());
        let e = status(503, br#"{"error":{"type":"too_many_buckets_exception","reason":"Trying to create too many buckets"}}"#, "p");
        assert_eq!(e.kind(), ErrorKind::LimitExceeded);
        assert_eq!(status(418, b"", "p").kind(), ErrorKind::Unexpected);
    }
}
