//! Response parsing: values back to the column's type, search answers (composite and
//! top-N buckets, partial results), bucketed composite answers, SQL pages.

pub(crate) mod buckets;
pub(crate) mod convert;
pub(crate) mod search;
pub(crate) mod sql;
