//! Response parsing: values back to the column's type, search answers (composite and
//! top-N buckets, partial results), SQL pages.

pub(crate) mod convert;
pub(crate) mod search;
pub(crate) mod sql;
