//! [`Statements`]: the statements one aggregate source runs — its direct statement, its
//! bucketed one, and one direct statement per grouping viewers ask for, built on first
//! use and kept.

use std::sync::Arc;

use livetable_core::{Aggregate, Error, ErrorKind, PerGrouping, Result};

use crate::dialect::{Dialect, Storages};
use crate::statement::{BucketStatement, DirectStatement};

/// The statements of one [`Aggregate`] over one table.
#[derive(Debug)]
pub(crate) struct Statements {
    dialect: &'static dyn Dialect,
    table: String,
    spec: Arc<Aggregate>,
    storage: Storages,
    direct: Arc<DirectStatement>,
    /// The bucketed statement, or why this spec has none (`Error` is not `Clone`:
    /// kept as its kind, message and column).
    bucket: std::result::Result<BucketStatement, (ErrorKind, String, Option<String>)>,
    /// The direct statement of each grouping asked for, by dimension positions.
    grouped: PerGrouping<DirectStatement>,
}

impl Statements {
    /// Builds the statements of `spec` over `table`; `storage` says how the store holds
    /// each column. Fails when a name cannot be quoted or a metric is not supported.
    pub(crate) fn new(
        dialect: &'static dyn Dialect,
        table: &str,
        spec: Arc<Aggregate>,
        storage: Storages,
    ) -> Result<Self> {
        let direct = DirectStatement::new(dialect, table, &spec, None, &storage)?;
        let bucket = BucketStatement::new(dialect, table, &spec, &storage).map_err(|e| {
            (
                e.kind(),
                e.message().to_owned(),
                e.context_value("column").map(str::to_owned),
            )
        });
        Ok(Statements {
            dialect,
            table: table.to_owned(),
            spec,
            storage,
            direct: Arc::new(direct),
            bucket,
            grouped: PerGrouping::default(),
        })
    }

    /// The direct statement of a fetch grouped by `group_by` (dimension positions), or
    /// by every dimension when `None`. Fails when the positions are not a grouping of
    /// the spec's dimensions.
    pub(crate) fn direct(&self, group_by: Option<&[usize]>) -> Result<Arc<DirectStatement>> {
        let Some(positions) = group_by else {
            return Ok(self.direct.clone());
        };
        self.grouped.get_or_try_build(positions, || {
            DirectStatement::new(
                self.dialect,
                &self.table,
                &self.spec,
                Some(positions),
                &self.storage,
            )
        })
    }

    /// The bucketed statement, or an error saying why this spec cannot have one.
    pub(crate) fn bucket(&self) -> Result<&BucketStatement> {
        self.bucket.as_ref().map_err(|(kind, message, column)| {
            let e =
                Error::new(*kind, message.clone()).with_context("backend", self.dialect.backend());
            match column {
                Some(c) => e.with_context("column", c),
                None => e,
            }
        })
    }

    /// How many grouped statements are kept (for tests).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.grouped.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use livetable_core::{DataType, Metric};

    use super::*;
    use crate::dialect::Postgres;

    fn statements(dimensions: usize) -> Statements {
        let mut b = Aggregate::builder()
            .time_column("ts")
            .window(Duration::from_secs(60));
        for i in 0..dimensions {
            b = b.dimension(format!("d{i}"), DataType::Int);
        }
        let spec = b.metric(Metric::count("n")).build().unwrap();
        Statements::new(&Postgres, "t", Arc::new(spec), Storages::default()).unwrap()
    }

    #[test]
    fn each_grouping_is_built_once_and_the_kept_ones_are_bounded() {
        let st = statements(2);
        assert!(Arc::ptr_eq(
            &st.direct(None).unwrap(),
            &st.direct(None).unwrap()
        ));
        let by_second = st.direct(Some(&[1])).unwrap();
        assert!(Arc::ptr_eq(&by_second, &st.direct(Some(&[1])).unwrap()));
        assert!(!Arc::ptr_eq(&by_second, &st.direct(Some(&[0])).unwrap()));
        assert_eq!(st.kept(), 2);
        assert!(st.direct(Some(&[1, 1])).is_err());
        assert_eq!(st.kept(), 2, "a refused grouping is not kept");
        // The bound on kept groupings is `PerGrouping`'s, tested in livetable-core.
    }
}
