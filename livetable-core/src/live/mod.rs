//! The live runtime: refresh loops, snapshots, patches, views and the catalog.

mod catalog;
mod patch;
mod subscription;
mod table;
mod view;

pub use catalog::Catalog;
pub use patch::{Patch, diff};
pub use subscription::{Subscription, Update};
pub use table::{LiveTable, LiveTableBuilder, RefreshConfig, TableStats, ViewSpec};
pub use view::{
    DEFAULT_MAX_VIEWS, SHARED_REFRESH_MAX_VIEWS, Table, TableBuilder, TableInfo, ViewParams,
    format_window, parse_window,
};

#[cfg(test)]
mod tests;
