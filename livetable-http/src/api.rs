//! The JSON and CSV endpoints.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use livetable_core::{DataType, Error, ErrorKind, Result, Snapshot, Status, Value};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::{AppState, Client};
use crate::wire::{self, TableInfo};

/// The body of `GET api/tables`.
#[derive(Serialize)]
struct Tables {
    tables: Vec<TableInfo>,
}

/// `GET api/tables`: every table with its schema, windows and formatting rules.
pub(crate) async fn list(State(state): State<AppState>) -> Response {
    let tables = state.catalog.tables().iter().map(TableInfo::of).collect();
    with_no_store(axum::Json(Tables { tables }).into_response())
}

/// `GET api/tables/{name}` (JSON) and `GET api/tables/{name}.csv` (CSV): the current
/// snapshot of the view the query string asks for. A view's first request waits for
/// its first fetch (bounded by the fetch timeout).
pub(crate) async fn snapshot(
    State(state): State<AppState>,
    client: Client,
    name: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let Path(name) = name.map_err(ApiError::bad_path)?;
    // A table's exact name wins, so a table may itself be named `x.csv`.
    let (name, csv) = match name.strip_suffix(".csv") {
        Some(base) if state.catalog.get(&name).is_err() => (base, true),
        _ => (name.as_str(), false),
    };
    let (_, live) = state.view(name, query.as_deref(), &client)?;
    let snapshot = live.ready().await;
    let mut response = if csv {
        csv_response(name, &snapshot)?
    } else {
        let json = state
            .snapshots
            .get(&snapshot, |s| wire::snapshot_json(s).into());
        ([(header::CONTENT_TYPE, "application/json")], json).into_response()
    };
    let headers = response.headers_mut();
    headers.insert("x-livetable-version", HeaderValue::from(snapshot.version));
    headers.insert(
        "x-livetable-status",
        HeaderValue::from_static(match snapshot.status {
            Status::Loading => "loading",
            Status::Fresh => "fresh",
            Status::Stale { .. } => "stale",
        }),
    );
    Ok(with_no_store(response))
}

fn with_no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn csv_response(name: &str, snapshot: &Arc<Snapshot>) -> Result<Response> {
    let body = to_csv(snapshot)?;
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{}.csv\"", file_name(name)))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// A file name for a table's CSV: letters, digits, `-`, `_` and `.` kept, anything
/// else (quotes, slashes, spaces, non-ASCII) an `_`, so the header needs no escaping.
fn file_name(table: &str) -> String {
    table
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The snapshot as CSV: a header of column names, then one record per row. Nulls are
/// empty, timestamps RFC 3339. Text cells that a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, tab or carriage return) are prefixed with `'`.
pub(crate) fn to_csv(snapshot: &Snapshot) -> Result<Vec<u8>> {
    let fail = |e: csv::Error| Error::new(ErrorKind::Unexpected, format!("cannot write CSV: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    let columns = snapshot.schema.columns();
    writer
        .write_record(columns.iter().map(|c| c.name.as_str()))
        .map_err(fail)?;
    let mut record = Vec::with_capacity(columns.len());
    for row in &snapshot.rows {
        record.clear();
        for (value, column) in row.values().iter().zip(columns) {
            record.push(cell(value, column.data_type));
        }
        writer.write_record(&record).map_err(fail)?;
    }
    writer
        .into_inner()
        .map_err(|e| Error::new(ErrorKind::Unexpected, format!("cannot write CSV: {e}")))
}

fn cell(value: &Value, data_type: DataType) -> String {
    let text = value.to_string();
    let risky = data_type == DataType::Text && text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky { format!("'{text}") } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livetable_core::{Column, Row, Schema, Window};

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let schema = Arc::new(
            Schema::new(vec![
                Column::dimension("host", DataType::Text),
                Column::metric("n", DataType::Int),
            ])
            .unwrap(),
        );
        let window =
            Window::ending_at(chrono::Utc::now(), std::time::Duration::from_secs(60)).unwrap();
        let rows = vec![
            Row::new(vec![Value::from("a,\"b\""), Value::Int(-1)]),
            Row::new(vec![Value::from("=1+1"), Value::Null]),
        ];
        let csv = String::from_utf8(to_csv(&Snapshot::new(schema, rows, window)).unwrap()).unwrap();
        assert_eq!(csv, "host,n\n\"a,\"\"b\"\"\",-1\n'=1+1,\n");
    }
}
