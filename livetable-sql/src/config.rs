//! [`PgConfig`]: the plain, serialisable connection settings.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Connection settings for [`PgBackend`](crate::PgBackend), e.g. from a config file.
///
/// Every field has a default, so a file only names what it changes. `Debug` hides the
/// password, whether it is in the URL's user info or in a `password=` parameter.
///
/// ```
/// use livetable_sql::PgConfig;
/// let config: PgConfig = serde_json::from_str(
///     r#"{"url": "postgres://app:s3cret@db/metrics", "statement_timeout": 5}"#,
/// ).unwrap();
/// assert_eq!(config.max_connections, 4);
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PgConfig {
    /// A `postgres://user:password@host:port/database?param=value` URL.
    pub url: String,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// How long a fetch waits for a connection (including connecting) before failing
    /// as unavailable, in seconds.
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    /// The server-side `statement_timeout`, in seconds; `None` keeps the server's.
    #[serde(with = "opt_secs")]
    pub statement_timeout: Option<Duration>,
    /// The `application_name` the server shows in `pg_stat_activity`.
    pub application_name: String,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            url: String::new(),
            max_connections: 4,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            application_name: "livetable".to_owned(),
        }
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("application_name", &self.application_name)
            .finish()
    }
}

pub(crate) use livetable_core::config::{redact_url, secs};

pub(crate) mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|s| Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_user_info_and_query_passwords() {
        assert_eq!(
            redact_url("postgres://app:p@ss:w@rd@db:5432/x?sslmode=require"),
            "postgres://app:***@db:5432/x?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/x?user=a&password=hunter2&sslmode=disable"),
            "postgres://db/x?user=a&password=***&sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://root@127.0.0.1/test"),
            "postgres://root@127.0.0.1/test"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn debug_hides_the_password() {
        let config = PgConfig {
            url: "postgres://app:topsecret@db/metrics".into(),
            ..PgConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(shown.contains("app:***@db"), "{shown}");
    }
}
