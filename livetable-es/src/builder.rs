//! [`EsBuilder`]: validates an [`EsConfig`] and builds an [`EsClient`].

use std::time::Duration;

use elasticsearch::auth::Credentials;
use elasticsearch::cert::CertificateValidation;
use elasticsearch::http::Url;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use livetable_core::Result;
use percent_encoding::percent_decode_str;

use crate::client::EsClient;
use crate::config::{EsConfig, SqlDialect};
use crate::error::config as bad;

/// The most buckets per page this crate asks for: well below `search.max_buckets`
/// (65,536 in Elasticsearch, 65,535 in OpenSearch), which counts sub-aggregations too.
pub const MAX_PAGE_SIZE: usize = 10_000;

/// Builds an [`EsClient`]; [`build`](EsBuilder::build) validates every setting and
/// names the field that is wrong.
///
/// ```
/// use std::time::Duration;
/// use livetable_es::EsBuilder;
///
/// let client = EsBuilder::new("https://es.internal:9200")
///     .index("packets-*")
///     .basic_auth("reader", "secret")
///     .verify_certificates(false)
///     .request_timeout(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(client.config().index, "packets-*");
///
/// let err = EsBuilder::new("https://es.internal:9200").index("packets").page_size(0).build().unwrap_err();
/// assert_eq!(err.context_value("field"), Some("page_size"));
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct EsBuilder {
    config: EsConfig,
}

impl EsBuilder {
    /// A builder for the cluster at `url` (`user:password@` in it is basic auth).
    pub fn new(url: impl Into<String>) -> Self {
        EsBuilder {
            config: EsConfig {
                url: url.into(),
                ..EsConfig::default()
            },
        }
    }

    /// A builder starting from a whole configuration (e.g. read from a file).
    pub fn from_config(config: EsConfig) -> Self {
        EsBuilder { config }
    }

    /// The index name or pattern to search.
    pub fn index(mut self, index: impl Into<String>) -> Self {
        self.config.index = index.into();
        self
    }

    /// Basic authentication.
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.config.username = Some(username.into());
        self.config.password = Some(password.into());
        self
    }

    /// API key authentication with the key's id and secret.
    pub fn api_key(mut self, id: impl Into<String>, key: impl Into<String>) -> Self {
        self.config.api_key_id = Some(id.into());
        self.config.api_key = Some(key.into());
        self
    }

    /// API key authentication with the base64-encoded `id:secret`.
    pub fn encoded_api_key(mut self, key: impl Into<String>) -> Self {
        self.config.api_key_id = None;
        self.config.api_key = Some(key.into());
        self
    }

    /// Whether to verify the server's TLS certificate (default true).
    pub fn verify_certificates(mut self, verify: bool) -> Self {
        self.config.verify_certificates = verify;
        self
    }

    /// The timeout of one HTTP request (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// Composite buckets per page (default 1000, at most [`MAX_PAGE_SIZE`]).
    pub fn page_size(mut self, size: usize) -> Self {
        self.config.page_size = size;
        self
    }

    /// The most groups one fetch may collect (default 100,000).
    pub fn max_groups(mut self, max: usize) -> Self {
        self.config.max_groups = max;
        self
    }

    /// The most (time bucket, group) pairs one bucket fetch may collect (default
    /// 2,000,000; see [`EsConfig::max_bucket_rows`]).
    pub fn max_bucket_rows(mut self, max: usize) -> Self {
        self.config.max_bucket_rows = max;
        self
    }

    /// The SQL endpoint (default Elasticsearch SQL).
    pub fn sql_dialect(mut self, dialect: SqlDialect) -> Self {
        self.config.sql_dialect = dialect;
        self
    }

    /// Validates the settings and builds the client (no request is sent).
    pub fn build(self) -> Result<EsClient> {
        let mut config = self.config;
        let mut url = Url::parse(&config.url).map_err(|e| {
            config_err_url(format!(
                "`url` is not a valid URL ({e}); give one such as http://localhost:9200"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(config_err_url(format!(
                "`url` has scheme `{}`; use http or https",
                url.scheme()
            )));
        }
        // Credentials in the URL become basic auth, and leave the URL so that neither
        // logs nor `Debug` show them.
        if !url.username().is_empty() {
            if config.username.is_some() {
                return Err(bad(
                    "username",
                    "credentials are given both in `url` and in `username`; give them once",
                ));
            }
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            config.username = Some(decode(url.username()));
            config.password = Some(decode(url.password().unwrap_or_default()));
            // A http(s) URL can always take a user name and password.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            config.url = url.to_string();
        }
        if config.password.is_some() && config.username.is_none() {
            return Err(bad("password", "`password` is set without `username`"));
        }
        if config.api_key_id.is_some() && config.api_key.is_none() {
            return Err(bad("api_key", "`api_key_id` is set without `api_key`"));
        }
        if config.api_key.is_some() && config.username.is_some() {
            return Err(bad(
                "api_key",
                "both basic auth (`username`) and `api_key` are set; choose one",
            ));
        }
        check_index(&config.index)?;
        if config.page_size == 0 || config.page_size > MAX_PAGE_SIZE {
            return Err(bad(
                "page_size",
                format!(
                    "`page_size` is {}; give 1..={MAX_PAGE_SIZE} (Elasticsearch refuses more than \
                     65,536 buckets in one response)",
                    config.page_size
                ),
            ));
        }
        if config.max_groups == 0 {
            return Err(bad(
                "max_groups",
                "`max_groups` is 0; give a positive bound",
            ));
        }
        if config.max_bucket_rows == 0 {
            return Err(bad(
                "max_bucket_rows",
                "`max_bucket_rows` is 0; give a positive bound",
            ));
        }
        if config.request_timeout.is_zero() {
            return Err(bad(
                "request_timeout",
                "`request_timeout` is 0; give a positive duration such as 30 s",
            ));
        }

        let mut transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(config.request_timeout);
        if !config.verify_certificates {
            transport = transport.cert_validation(CertificateValidation::None);
        }
        let credentials = match (&config.username, &config.api_key_id, &config.api_key) {
            (Some(user), _, _) => Some(Credentials::Basic(
                user.clone(),
                config.password.clone().unwrap_or_default(),
            )),
            (None, Some(id), Some(key)) => Some(Credentials::ApiKey(id.clone(), key.clone())),
            (None, None, Some(key)) => Some(Credentials::EncodedApiKey(key.clone())),
            _ => None,
        };
        if let Some(c) = credentials {
            transport = transport.auth(c);
        }
        let transport = transport.build().map_err(|e| {
            bad(
                "url",
                format!("cannot set up the HTTP client: {e}; check the TLS settings"),
            )
        })?;
        Ok(EsClient::new(
            elasticsearch::Elasticsearch::new(transport),
            config,
        ))
    }
}

fn config_err_url(message: String) -> livetable_core::Error {
    bad("url", message)
}

/// Index names and patterns: not empty, and none of the characters Elasticsearch
/// forbids in index names except the pattern ones (`*`, `,`).
pub(crate) fn check_index(index: &str) -> Result<()> {
    if index.is_empty() {
        return Err(bad(
            "index",
            "no `index`; give the index name or pattern to search, e.g. packets-*",
        ));
    }
    if let Some(c) = index.chars().find(|c| {
        c.is_whitespace() || matches!(c, '/' | '\\' | '?' | '"' | '<' | '>' | '|' | '#' | '%')
    }) {
        return Err(bad(
            "index",
            format!("`index` `{index}` contains `{c}`, which index names cannot contain"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(b: EsBuilder) -> String {
        b.build()
            .unwrap_err()
            .context_value("field")
            .unwrap()
            .to_owned()
    }

    #[test]
    fn each_bad_setting_is_named() {
        let ok = || EsBuilder::new("http://localhost:9200").index("p");
        assert_eq!(field(EsBuilder::new("not a url").index("p")), "url");
        assert_eq!(field(EsBuilder::new("ftp://x").index("p")), "url");
        assert_eq!(field(ok().index("")), "index");
        assert_eq!(field(ok().index("a b")), "index");
        assert_eq!(field(ok().page_size(MAX_PAGE_SIZE + 1)), "page_size");
        assert_eq!(field(ok().max_groups(0)), "max_groups");
        assert_eq!(field(ok().max_bucket_rows(0)), "max_bucket_rows");
        assert_eq!(
            field(ok().request_timeout(Duration::ZERO)),
            "request_timeout"
        );
        assert_eq!(
            field(ok().basic_auth("u", "p").encoded_api_key("k")),
            "api_key"
        );
        assert_eq!(
            field(
                EsBuilder::new("http://u:p@h:9200")
                    .index("p")
                    .basic_auth("v", "q")
            ),
            "username"
        );
        assert!(ok().index("packets-*,other").build().is_ok());
    }

    #[test]
    fn url_credentials_move_to_basic_auth() {
        let client = EsBuilder::new("http://elastic:p%40ss@localhost:9200/prefix")
            .index("p")
            .build()
            .unwrap();
        let c = client.config();
        assert_eq!(c.username.as_deref(), Some("elastic"));
        assert_eq!(c.password.as_deref(), Some("p@ss"));
        assert!(!c.url.contains("p%40ss"), "{}", c.url);
        assert!(!format!("{client:?}").contains("p@ss"));
    }
}
