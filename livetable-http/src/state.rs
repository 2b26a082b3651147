//! What every handler shares.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use livetable_core::{Catalog, LiveTable, Patch, Result, Snapshot, Table};

use crate::encode::EncodeCache;
use crate::params::parse_view_params;

/// The router's state: the catalog and the encodings shared between viewers.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) catalog: Catalog,
    pub(crate) keep_alive: Duration,
    pub(crate) retry: Duration,
    /// Snapshots as JSON bodies.
    pub(crate) snapshots: Arc<EncodeCache<Snapshot>>,
    /// Snapshots and patches as event-stream frames.
    pub(crate) snapshot_frames: Arc<EncodeCache<Snapshot>>,
    pub(crate) patch_frames: Arc<EncodeCache<Patch>>,
}

impl AppState {
    pub(crate) fn new(catalog: Catalog, keep_alive: Duration, retry: Duration) -> Self {
        AppState {
            catalog,
            keep_alive,
            retry,
            snapshots: Arc::new(EncodeCache::new(16)),
            snapshot_frames: Arc::new(EncodeCache::new(16)),
            patch_frames: Arc::new(EncodeCache::new(64)),
        }
    }

    /// The table named `name` and its live view for the query string, on behalf of
    /// `client` (its views count against its share).
    pub(crate) fn view(
        &self,
        name: &str,
        query: Option<&str>,
        client: &Client,
    ) -> Result<(Table, LiveTable)> {
        let table = self.catalog.get(name)?;
        let params = parse_view_params(query)?;
        let live = table.view_for(&params, &client.0)?;
        Ok((table, live))
    }
}

/// Who asks, for the per-client share of views: the peer's IP address as
/// [`serve`](crate::serve) (or axum's `into_make_service_with_connect_info`) records
/// it, IPv6 addresses by their /64 network (one host usually holds a whole /64);
/// `unknown` without one. Behind a reverse proxy every viewer has the proxy's
/// address, so they share one share.
#[derive(Debug)]
pub(crate) struct Client(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        let key = match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(addr)) => match addr.ip() {
                IpAddr::V4(ip) => ip.to_string(),
                IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                    Some(v4) => v4.to_string(),
                    None => {
                        let net = u128::from(ip) & !((1u128 << 64) - 1);
                        format!("{}/64", Ipv6Addr::from(net))
                    }
                },
            },
            None => "unknown".to_owned(),
        };
        Ok(Client(key))
    }
}
