//! The one error type of livetable: a kind, a message, context and retryability.

use std::fmt;

/// A `Result` with livetable's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a caller can act on.
///
/// Backends map their native codes (SQLSTATE, Elasticsearch error types, HTTP statuses)
/// onto these kinds; the HTTP adapter maps each kind onto one status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A table spec or source configuration is wrong (unknown column, bad type, unknown
    /// index or table). Fix the spec; retrying does not help.
    InvalidSpec,
    /// A viewer parameter is wrong (unknown column, wrong type, a window that is not
    /// allowed). Fix the request.
    InvalidParameter,
    /// An event pushed into a source does not match the source's columns.
    InvalidEvent,
    /// The store could not be reached or refused the work for now.
    Unavailable,
    /// The store did not answer in time.
    Timeout,
    /// The store rejected the credentials or the permissions are missing.
    PermissionDenied,
    /// A configured bound was hit (too many groups, too many views).
    LimitExceeded,
    /// A named thing (a table) does not exist.
    NotFound,
    /// The source or backend does not support what was asked.
    Unsupported,
    /// The store answered something this library cannot interpret, or a source failed
    /// in an unexpected way (including a panic inside a source).
    Unexpected,
}

impl ErrorKind {
    /// A stable snake_case name, used in logs and JSON error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidSpec => "invalid_spec",
            ErrorKind::InvalidParameter => "invalid_parameter",
            ErrorKind::InvalidEvent => "invalid_event",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unexpected => "unexpected",
        }
    }

    /// Whether an error of this kind is retryable unless said otherwise.
    fn default_retryable(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::Timeout)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// livetable's error: a [kind](ErrorKind), a message saying what was wrong and what to
/// do, key/value context (`table`, `backend`, `column`, …), the underlying error, and
/// whether retrying can help.
///
/// ```
/// use livetable_core::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::Unavailable, "connection refused")
///     .with_context("backend", "postgres")
///     .with_context("table", "packets");
/// assert!(err.is_retryable());
/// assert_eq!(err.to_string(), "unavailable: connection refused (backend: postgres, table: packets)");
/// ```
#[derive(Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    context: Vec<(&'static str, String)>,
    retryable: bool,
    #[source]
    source: Option<Source>,
}

impl Error {
    /// A new error. Retryability defaults from the kind (unavailable and timeout retry).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            context: Vec::new(),
            retryable: kind.default_retryable(),
            source: None,
        }
    }

    /// Shorthand for [`ErrorKind::InvalidSpec`].
    pub fn invalid_spec(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidSpec, message)
    }

    /// Shorthand for [`ErrorKind::InvalidParameter`].
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }

    /// Shorthand for [`ErrorKind::Unavailable`] (retryable).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// Adds a key/value pair of context. A key set twice keeps the first value, so the
    /// innermost layer (which knows most) wins.
    pub fn with_context(mut self, key: &'static str, value: impl fmt::Display) -> Self {
        if !self.context.iter().any(|(k, _)| *k == key) {
            self.context.push((key, value.to_string()));
        }
        self
    }

    /// Sets whether retrying can help.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without kind or context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The key/value context, innermost first.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }

    /// The value of one context key.
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether retrying the same operation later can succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if !self.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Builds the "valid ones are …" tail of a validation message.
pub(crate) fn one_of<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "there are none".to_owned()
    } else {
        format!("valid ones are {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability_follows_kind_unless_set() {
        assert!(Error::new(ErrorKind::Timeout, "t").is_retryable());
        assert!(!Error::invalid_spec("s").is_retryable());
        assert!(
            !Error::new(ErrorKind::Unavailable, "429")
                .with_retryable(false)
                .is_retryable()
        );
    }

    #[test]
    fn first_context_value_wins_and_source_is_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = Error::unavailable("cannot connect")
            .with_source(io)
            .with_context("table", "inner")
            .with_context("table", "outer");
        assert_eq!(err.context_value("table"), Some("inner"));
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn one_of_lists_names() {
        assert_eq!(one_of(["a", "b"]), "valid ones are `a`, `b`");
        assert_eq!(one_of([]), "there are none");
    }
}
