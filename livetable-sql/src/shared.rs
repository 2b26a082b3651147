//! Logic that PostgreSQL and MySQL share, generic over the sqlx driver: each backend
//! passes the few parts that differ (its error mapping, its cell decoder).

use livetable_core::{BucketRow, Column, DataType, Error, ErrorKind, Result, Row, Schema, Value};
use sqlx::{Column as _, ColumnIndex, Database};

use crate::statement::BucketStatement;

/// A result cell of database `DB`, borrowed from its row.
pub(crate) type ValueRef<'r, DB> = <DB as Database>::ValueRef<'r>;

/// A backend's cell decoder: a cell, its column's driver type, the column's name and
/// the schema type to read it as.
pub(crate) trait DecodeCell<DB: Database>:
    for<'r> Fn(ValueRef<'r, DB>, &DB::TypeInfo, &str, DataType) -> Result<Value>
{
}

impl<DB: Database, F> DecodeCell<DB> for F where
    F: for<'r> Fn(ValueRef<'r, DB>, &DB::TypeInfo, &str, DataType) -> Result<Value>
{
}

/// Decodes one result row into the schema's columns, in order, with the backend's
/// `decode` for each cell and `map` for driver errors.
pub(crate) fn decode_row<R, D>(
    row: &R,
    schema: &Schema,
    map: fn(sqlx::Error) -> Error,
    decode: D,
) -> Result<Row>
where
    R: sqlx::Row,
    usize: ColumnIndex<R>,
    D: DecodeCell<R::Database>,
{
    let columns = schema.columns();
    if row.len() != columns.len() {
        return Err(Error::invalid_spec(format!(
            "the statement returns {} columns but the schema has {}",
            row.len(),
            columns.len()
        )));
    }
    let mut values = Vec::with_capacity(columns.len());
    for (i, column) in columns.iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(map)?;
        let type_info = row.columns()[i].type_info();
        values.push(decode(raw, type_info, &column.name, column.data_type)?);
    }
    Ok(Row::new(values))
}

/// Decodes the rows of a bucket statement into [`BucketRow`]s; `with_table` adds the
/// table to an error, `map` turns a driver error into ours, `decode` reads one cell.
pub(crate) fn decode_bucket_rows<R, D>(
    rows: &[R],
    statement: &BucketStatement,
    with_table: impl Fn(Error) -> Error,
    map: fn(sqlx::Error) -> Error,
    decode: D,
) -> Result<Vec<BucketRow>>
where
    R: sqlx::Row,
    usize: ColumnIndex<R>,
    D: DecodeCell<R::Database>,
{
    let targets = statement.targets();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if row.len() != targets.len() {
            return Err(with_table(Error::invalid_spec(format!(
                "the bucket statement returns {} columns; expected {}",
                row.len(),
                targets.len()
            ))));
        }
        let mut cells = Vec::with_capacity(targets.len());
        for (i, (name, t)) in targets.iter().enumerate() {
            let raw = row.try_get_raw(i).map_err(map)?;
            let type_info = row.columns()[i].type_info();
            cells.push(decode(raw, type_info, name, *t).map_err(&with_table)?);
        }
        out.push(statement.row(cells).map_err(&with_table)?);
    }
    Ok(out)
}

/// A raw statement's schema from [`build`](crate::PgRawBuilder::build): the declared
/// one, or the error saying how to get one.
pub(crate) fn declared_schema(schema: Option<Schema>) -> Result<Schema> {
    schema.ok_or_else(|| {
        Error::invalid_spec(
            "a raw statement needs a schema; declare one with .schema(..) or use .infer()",
        )
    })
}

/// A raw statement's schema from its `described` result columns (name and driver
/// type): the `declared` one when given (checked to have as many columns), else one
/// inferred with the backend's `infer_type`, with `dimensions` as the row key (or,
/// without them, the non-numeric columns). `unsupported` names a column whose type
/// cannot be read.
pub(crate) fn raw_schema<T>(
    described: &[(String, T)],
    declared: Option<Schema>,
    dimensions: Option<&[String]>,
    infer_type: fn(&T) -> Option<DataType>,
    unsupported: fn(&str, &T) -> Error,
) -> Result<Schema> {
    if let Some(schema) = declared {
        if schema.len() != described.len() {
            return Err(Error::invalid_spec(format!(
                "the statement returns {} columns but the declared schema has {}",
                described.len(),
                schema.len()
            )));
        }
        return Ok(schema);
    }
    if let Some(dims) = dimensions {
        for d in dims {
            if !described.iter().any(|(n, _)| n == d) {
                let names: Vec<String> = described.iter().map(|(n, _)| format!("`{n}`")).collect();
                return Err(Error::invalid_spec(format!(
                    "dimension `{d}` is not a result column; the statement returns {}",
                    names.join(", ")
                ))
                .with_context("column", d));
            }
        }
    }
    let mut columns = Vec::with_capacity(described.len());
    for (name, type_info) in described {
        let t = infer_type(type_info).ok_or_else(|| unsupported(name, type_info))?;
        let is_dimension = match dimensions {
            Some(dims) => dims.contains(name),
            None => !t.is_numeric(),
        };
        columns.push(if is_dimension {
            Column::dimension(name, t)
        } else {
            Column::metric(name, t)
        });
    }
    Schema::new(columns)
}

/// The error for a cell of `column` (of the database's type `type_name`) that cannot
/// be read as its schema type, saying `why`.
pub(crate) fn cell_error(column: &str, type_name: &str, why: String) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("column `{column}` ({type_name}): {why}"),
    )
    .with_context("column", column)
}

/// The setters both raw-statement builders share: [`schema`](crate::PgRawBuilder::schema)
/// and [`dimensions`](crate::PgRawBuilder::dimensions). The builder needs the fields
/// `schema: Option<Schema>` and `dimensions: Option<Vec<String>>`.
macro_rules! raw_setters {
    () => {
        /// Declares the schema: one column per result column, in order.
        pub fn schema(mut self, schema: livetable_core::Schema) -> Self {
            self.schema = Some(schema);
            self
        }

        /// For [`infer`](Self::infer): the result columns that form the row key. Without
        /// it, non-numeric columns are dimensions and numeric ones metrics.
        pub fn dimensions<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
            self.dimensions = Some(names.into_iter().map(Into::into).collect());
            self
        }
    };
}
pub(crate) use raw_setters;
