//! MySQL and MariaDB (feature `mysql`): the same statements as PostgreSQL's through the
//! MySQL [dialect](crate::dialect), on sqlx's MySQL driver.

pub(crate) mod aggregate;
pub(crate) mod backend;
pub(crate) mod decode;
pub(crate) mod dialect;
pub(crate) mod encode;
pub(crate) mod error;
pub(crate) mod raw;
