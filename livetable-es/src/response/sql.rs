//! SQL pages, from Elasticsearch (`columns` / `rows` / `cursor`) and the OpenSearch /
//! Open Distro plugin (`schema` / `datarows` / `cursor`), mapped onto a [`Schema`].

use livetable_core::{DataType, Error, Result, Row, Schema};
use serde::Deserialize;
use serde_json::Value as Json;

use super::convert::column_value;
use crate::error::unexpected;

/// A result column as the server describes it.
#[derive(Debug, Deserialize)]
pub(crate) struct SqlColumn {
    name: String,
    /// OpenSearch's legacy engine names `SELECT a AS b` as `name: a, alias: b`.
    #[serde(default)]
    alias: Option<String>,
    #[serde(rename = "type", default)]
    ty: String,
}

/// One page of rows.
#[derive(Debug, Deserialize)]
pub(crate) struct SqlPage {
    /// Present on the first page only.
    #[serde(default, alias = "schema")]
    pub(crate) columns: Option<Vec<SqlColumn>>,
    #[serde(default, alias = "datarows")]
    pub(crate) rows: Vec<Vec<Json>>,
    /// More pages follow when set.
    #[serde(default)]
    pub(crate) cursor: Option<String>,
}

/// Parses a page.
pub(crate) fn page(body: &[u8]) -> Result<SqlPage> {
    serde_json::from_slice(body).map_err(|e| {
        unexpected(format!(
            "the SQL answer is not a page of rows ({e}); check the SQL dialect setting"
        ))
        .with_source(e)
    })
}

/// Whether a server column type can fill a column of type `t`. Unknown server types
/// are accepted; their values are then checked one by one.
fn fits(server: &str, t: DataType) -> bool {
    let server = server.to_ascii_lowercase();
    let known = |group: &[&str]| group.contains(&server.as_str());
    const TEXT: &[&str] = &["keyword", "text", "constant_keyword", "wildcard", "string"];
    const INT: &[&str] = &["long", "integer", "short", "byte", "unsigned_long"];
    const FLOAT: &[&str] = &["double", "float", "half_float", "scaled_float"];
    const TIME: &[&str] = &["datetime", "date", "timestamp", "date_nanos"];
    const ALL: [&[&str]; 6] = [TEXT, INT, FLOAT, TIME, &["ip"], &["boolean"]];
    if !ALL.iter().any(|g| known(g)) {
        return true;
    }
    match t {
        DataType::Text => known(TEXT),
        DataType::Int => known(INT),
        DataType::Float => known(FLOAT) || known(INT),
        DataType::Timestamp => known(TIME),
        DataType::Ip => server == "ip",
        DataType::Bool => server == "boolean",
        _ => true,
    }
}

/// For each schema column, the position of the result column of that name. The error
/// names the missing column and lists the ones the query returns.
pub(crate) fn map_columns(schema: &Schema, columns: &[SqlColumn]) -> Result<Vec<usize>> {
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c.alias.as_deref().unwrap_or(&c.name))
        .collect();
    schema
        .columns()
        .iter()
        .map(|col| {
            let Some(i) = names.iter().position(|n| *n == col.name) else {
                return Err(Error::invalid_spec(format!(
                    "the SQL result has no column `{}`; it has {}; rename it with AS or fix the schema",
                    col.name,
                    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                ))
                .with_context("column", &col.name));
            };
            if !fits(&columns[i].ty, col.data_type) {
                return Err(Error::invalid_spec(format!(
                    "SQL column `{}` is {} but the schema declares it {}; cast it in the query \
                     or change the schema",
                    col.name, columns[i].ty, col.data_type
                ))
                .with_context("column", &col.name));
            }
            Ok(i)
        })
        .collect()
}

/// Converts rows through the column map and appends them.
pub(crate) fn push_rows(
    schema: &Schema,
    map: &[usize],
    rows: Vec<Vec<Json>>,
    out: &mut Vec<Row>,
) -> Result<()> {
    out.reserve(rows.len());
    for row in rows {
        let values = schema
            .columns()
            .iter()
            .zip(map)
            .map(|(col, &i)| {
                let cell = row.get(i).unwrap_or(&Json::Null);
                column_value(cell, col.data_type, &col.name)
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(Row::new(values));
    }
    Ok(())
}
