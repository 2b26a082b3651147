//! The live runtime: what turns a [`TableQuery`](crate::TableQuery) into tables that
//! viewers watch.
//!
//! - `live_table`: [`LiveTable`], one refresh loop over one query with fixed viewer
//!   parameters ([`ViewSpec`]): snapshots, staleness, idling, backoff.
//! - `table`: [`Table`], a named definition (source, windows, formatting) that opens one
//!   shared [`LiveTable`] per distinct [`ViewParams`].
//! - `catalog`: [`Catalog`], the named tables an adapter serves.
//! - `subscription`: [`Subscription`], a viewer's gap-free stream of [`Update`]s.
//! - `patch`: [`Patch`], the row-level difference between two snapshots.

mod catalog;
mod live_table;
mod patch;
mod subscription;
mod table;

pub use catalog::Catalog;
pub use live_table::{LiveTable, LiveTableBuilder, RefreshConfig, TableStats, ViewSpec};
pub use patch::Patch;
pub(crate) use patch::diff;
pub use subscription::{Subscription, Update};
pub use table::{DEFAULT_MAX_VIEWS, SHARED_REFRESH_MAX_VIEWS, Table, TableBuilder, ViewParams};

#[cfg(test)]
mod tests;
