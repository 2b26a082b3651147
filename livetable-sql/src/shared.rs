//! Logic that PostgreSQL and MySQL share, generic over the sqlx driver: each backend
//! passes the few parts that differ (its error mapping, its cell decoder).

use livetable_core::{BucketRow, DataType, Error, Result, Row, Schema, Value};
use sqlx::{Column as _, ColumnIndex, Database};

use crate::statement::BucketStatement;

/// A result cell of database `DB`, borrowed from its row.
pub(crate) type ValueRef<'r, DB> = <DB as Database>::ValueRef<'r>;

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
    D: for<'r> Fn(
        ValueRef<'r, R::Database>,
        &<R::Database as Database>::TypeInfo,
        &str,
        DataType,
    ) -> Result<Value>,
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
    D: for<'r> Fn(
        ValueRef<'r, R::Database>,
        &<R::Database as Database>::TypeInfo,
        &str,
        DataType,
    ) -> Result<Value>,
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
