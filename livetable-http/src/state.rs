//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use livetable_core::{Catalog, LiveTable, Patch, Result, Snapshot, Table};

use crate::encode::EncodeCache;
use crate::params::parse_view_params;

/// The router's state: the catalog and the encodings shared between viewers.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) catalog: Catalog,
    pub(crate) keep_alive: Duration,
    pub(crate) retry: Duration,
    pub(crate) snapshots: Arc<EncodeCache<Snapshot>>,
    pub(crate) patches: Arc<EncodeCache<Patch>>,
}

impl AppState {
    pub(crate) fn new(catalog: Catalog, keep_alive: Duration, retry: Duration) -> Self {
        AppState {
            catalog,
            keep_alive,
            retry,
            snapshots: Arc::new(EncodeCache::new(16)),
            patches: Arc::new(EncodeCache::new(64)),
        }
    }

    /// The table named `name` and its live view for the query string.
    pub(crate) fn view(&self, name: &str, query: Option<&str>) -> Result<(Table, LiveTable)> {
        let table = self.catalog.get(name)?;
        let params = parse_view_params(query)?;
        let live = table.view(&params)?;
        Ok((table, live))
    }
}
