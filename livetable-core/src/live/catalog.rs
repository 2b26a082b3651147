//! [`Catalog`]: the named tables an adapter serves.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::table::Table;
use crate::error::{Error, ErrorKind, Result, one_of};

/// Named tables, for adapters to serve (`livetable_http::router(catalog)`).
///
/// Cheap to clone; tables can be added while serving.
///
/// ```
/// use livetable_core::{Catalog, Column, DataType, FetchContext, Fetched, Result, Schema, Table, TableQuery};
/// struct Empty(Schema);
/// impl TableQuery for Empty {
///     fn schema(&self) -> &Schema { &self.0 }
///     async fn fetch(&self, _: &FetchContext) -> Result<Fetched> { Ok(Fetched::default()) }
/// }
/// let schema = Schema::new(vec![Column::dimension("k", DataType::Int)])?;
/// let catalog = Catalog::new();
/// catalog.insert(Table::builder("empty", Empty(schema)).build()?)?;
/// assert!(catalog.get("empty").is_ok());
/// assert!(catalog.get("nope").unwrap_err().message().contains("valid ones are `empty`"));
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    tables: Arc<RwLock<BTreeMap<String, Table>>>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a table; fails if the name is taken.
    pub fn insert(&self, table: Table) -> Result<()> {
        let mut tables = self.tables.write().unwrap_or_else(|e| e.into_inner());
        if tables.contains_key(table.name()) {
            return Err(Error::invalid_spec(format!(
                "a table named `{}` is already in the catalog; names must be unique",
                table.name()
            )));
        }
        tables.insert(table.name().to_owned(), table);
        Ok(())
    }

    /// Adds a table, builder style.
    pub fn with(self, table: Table) -> Result<Self> {
        self.insert(table)?;
        Ok(self)
    }

    /// A table by name; the error (kind [`ErrorKind::NotFound`]) lists the names.
    pub fn get(&self, name: &str) -> Result<Table> {
        let tables = self.tables.read().unwrap_or_else(|e| e.into_inner());
        tables.get(name).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "no table named `{name}`; {}",
                    one_of(tables.keys().map(String::as_str))
                ),
            )
        })
    }

    /// Every table, by name.
    pub fn tables(&self) -> Vec<Table> {
        let tables = self.tables.read().unwrap_or_else(|e| e.into_inner());
        tables.values().cloned().collect()
    }
}
