//! [`EsClient`]: one connection to a cluster, shared by every query built from it.

use std::fmt;
use std::sync::Arc;

use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use livetable_core::{Aggregate, Result, Schema};

use crate::builder::check_index;
use crate::config::EsConfig;
use crate::error;
use crate::query::{EsAggregate, EsSql, EsTopN};

/// A validated connection to an Elasticsearch or OpenSearch cluster. Cheap to clone.
///
/// Build one with [`EsBuilder`](crate::EsBuilder); then turn table specs into sources:
/// [`aggregate`](EsClient::aggregate) (exact, composite aggregation),
/// [`top_n`](EsClient::top_n) (approximate top rows) or [`sql`](EsClient::sql).
#[derive(Clone)]
pub struct EsClient {
    inner: Arc<Inner>,
}

struct Inner {
    client: elasticsearch::Elasticsearch,
    config: EsConfig,
}

impl fmt::Debug for EsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The transport's own Debug prints credentials: show only the redacted config.
        f.debug_struct("EsClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl EsClient {
    pub(crate) fn new(client: elasticsearch::Elasticsearch, config: EsConfig) -> Self {
        EsClient {
            inner: Arc::new(Inner { client, config }),
        }
    }

    /// The validated configuration (credentials from the URL moved to `username` /
    /// `password`).
    pub fn config(&self) -> &EsConfig {
        &self.inner.config
    }

    /// The same connection searching another index or pattern.
    pub fn with_index(&self, index: impl Into<String>) -> Result<EsClient> {
        let index = index.into();
        check_index(&index)?;
        let mut config = self.inner.config.clone();
        config.index = index;
        Ok(EsClient::new(self.inner.client.clone(), config))
    }

    /// An exact source for `spec`: a composite aggregation, paged until all groups are
    /// read. See [`EsAggregate`].
    pub fn aggregate(&self, spec: Aggregate) -> Result<EsAggregate> {
        EsAggregate::new(self.clone(), spec)
    }

    /// An approximate top-N source for `spec` (which needs a limit and an order whose
    /// first key is a metric). See [`EsTopN`].
    pub fn top_n(&self, spec: Aggregate) -> Result<EsTopN> {
        EsTopN::new(self.clone(), spec)
    }

    /// A source running your own SQL, its columns mapped onto `schema` by name. See
    /// [`EsSql`].
    pub fn sql(&self, query: impl Into<String>, schema: Schema) -> Result<EsSql> {
        EsSql::new(self.clone(), query.into(), schema)
    }

    /// `POST path?query` with a JSON body; the body of a 2xx answer, or the mapped error.
    pub(crate) async fn post(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let index = &self.inner.config.index;
        tracing::debug!(path, bytes = body.len(), "elasticsearch request");
        let query = (!query.is_empty()).then_some(query);
        let response = self
            .inner
            .client
            .send(
                Method::Post,
                path,
                HeaderMap::new(),
                query,
                Some(body),
                None,
            )
            .await
            .map_err(|e| error::transport(e, index))?;
        let status = response.status_code().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| error::transport(e, index))?;
        if !(200..300).contains(&status) {
            let err = error::status(status, &bytes, index);
            tracing::warn!(status, error = %err, "elasticsearch error");
            return Err(err);
        }
        // Zero-copy when the buffer is not shared, which it is not here.
        Ok(Vec::from(bytes))
    }
}
