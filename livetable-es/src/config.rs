//! [`EsConfig`]: everything needed to reach a cluster, as plain serialisable data.

use std::fmt;
use std::time::Duration;

use livetable_core::config::redact_url;
use serde::{Deserialize, Serialize};

/// Which SQL endpoint [`EsSql`](crate::EsSql) talks to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SqlDialect {
    /// Elasticsearch SQL: `POST /_sql?format=json` (`columns` / `rows` / `cursor`).
    #[default]
    Elasticsearch,
    /// The OpenSearch SQL plugin: `POST /_plugins/_sql` (`schema` / `datarows`).
    OpenSearch,
    /// The Open Distro SQL plugin (older OpenSearch and Elasticsearch 7 builds):
    /// `POST /_opendistro/_sql`, same shapes as [`SqlDialect::OpenSearch`].
    OpenDistro,
}

impl SqlDialect {
    /// The endpoint queries are posted to.
    pub fn path(self) -> &'static str {
        match self {
            SqlDialect::Elasticsearch => "/_sql",
            SqlDialect::OpenSearch => "/_plugins/_sql",
            SqlDialect::OpenDistro => "/_opendistro/_sql",
        }
    }

    /// The endpoint that frees a cursor.
    pub fn close_path(self) -> &'static str {
        match self {
            SqlDialect::Elasticsearch => "/_sql/close",
            SqlDialect::OpenSearch => "/_plugins/_sql/close",
            SqlDialect::OpenDistro => "/_opendistro/_sql/close",
        }
    }
}

/// The configuration of an Elasticsearch / OpenSearch connection.
///
/// Plain data (serde, `Default`) so it can come from a config file; turn it into a
/// client with [`EsBuilder::from_config`](crate::EsBuilder::from_config), which
/// validates it. `Debug` never shows the password, the API key or credentials in the URL.
///
/// ```
/// use livetable_es::EsConfig;
/// let config: EsConfig = serde_json::from_str(
///     r#"{"url": "https://elastic:secret@es.internal:9200", "index": "packets-*", "api_key": null}"#,
/// ).unwrap();
/// assert_eq!(config.page_size, 1000);
/// let shown = format!("{config:?}");
/// assert!(!shown.contains("secret"), "{shown}");
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct EsConfig {
    /// The cluster's base URL, e.g. `https://es.internal:9200`. `user:password@` in it
    /// is used as basic auth. A path prefix (behind a proxy) is kept.
    pub url: String,
    /// The index name or pattern searched (`packets`, `packets-*`, `a,b`).
    pub index: String,
    /// Basic-auth user name.
    pub username: Option<String>,
    /// Basic-auth password.
    pub password: Option<String>,
    /// API key id; with [`api_key`](EsConfig::api_key) it forms the `ApiKey` header.
    pub api_key_id: Option<String>,
    /// API key: the secret when `api_key_id` is set, otherwise the base64 `id:secret`
    /// string Kibana shows as "encoded".
    pub api_key: Option<String>,
    /// Verify the server's TLS certificate (the original app's `ES_VERIFY_CERTS`).
    /// Turn off only for test clusters with self-signed certificates.
    pub verify_certificates: bool,
    /// How long one HTTP request may take, in seconds in config files. The client has
    /// no timeout of its own, so one is always set.
    #[serde(with = "livetable_core::config::secs")]
    pub request_timeout: Duration,
    /// Composite buckets asked for per page (1..=10000; Elasticsearch refuses more
    /// than `search.max_buckets`, 65,536, in one response).
    pub page_size: usize,
    /// The most groups (rows) one fetch may collect before it fails with
    /// [`ErrorKind::LimitExceeded`](livetable_core::ErrorKind) — a runaway
    /// cardinality stops with a clear error instead of exhausting memory.
    pub max_groups: usize,
    /// The most (time bucket, group) pairs one bucket fetch (for the bucket cache) may
    /// collect before it fails with [`ErrorKind::LimitExceeded`](livetable_core::ErrorKind).
    /// Default 2,000,000: the first fetch reads the whole retention, and the reference
    /// workload's 10 M packets an hour hold 1.52 M (minute, 5-tuple) pairs.
    pub max_bucket_rows: usize,
    /// The SQL endpoint for [`EsSql`](crate::EsSql).
    pub sql_dialect: SqlDialect,
}

impl Default for EsConfig {
    fn default() -> Self {
        EsConfig {
            url: "http://localhost:9200".to_owned(),
            index: String::new(),
            username: None,
            password: None,
            api_key_id: None,
            api_key: None,
            verify_certificates: true,
            request_timeout: Duration::from_secs(30),
            page_size: 1000,
            max_groups: 100_000,
            max_bucket_rows: 2_000_000,
            sql_dialect: SqlDialect::Elasticsearch,
        }
    }
}

impl fmt::Debug for EsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &Option<String>| s.as_ref().map(|_| "***");
        f.debug_struct("EsConfig")
            .field("url", &redact_url(&self.url))
            .field("index", &self.index)
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("api_key_id", &self.api_key_id)
            .field("api_key", &hidden(&self.api_key))
            .field("verify_certificates", &self.verify_certificates)
            .field("request_timeout", &self.request_timeout)
            .field("page_size", &self.page_size)
            .field("max_groups", &self.max_groups)
            .field("max_bucket_rows", &self.max_bucket_rows)
            .field("sql_dialect", &self.sql_dialect)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_every_secret() {
        let config = EsConfig {
            url: "https://elastic:hunter2@es:9200".into(),
            password: Some("pw-secret".into()),
            api_key: Some("key-secret".into()),
            ..EsConfig::default()
        };
        let shown = format!("{config:?}");
        for secret in ["hunter2", "pw-secret", "key-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("elastic"), "{shown}");
    }
}
