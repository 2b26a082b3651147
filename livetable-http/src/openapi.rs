//! `GET api/openapi.json`: an OpenAPI 3.1 document of the tables actually served —
//! one path per table, its windows and dimension filters as parameters with enums and
//! types — so a generic client or an API fuzzer can exercise the real API. The static
//! `livetable-http/openapi.yaml` describes the same endpoints for any table.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use livetable_core::{Column, DataType, Table, ViewParams};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value as Json, json};

use crate::params::MAX_VALUES;
use crate::state::AppState;
use crate::wire::windows_text;

/// What a path segment must encode: all but RFC 3986's unreserved characters.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `GET api/openapi.json`.
pub(crate) async fn document(State(state): State<AppState>) -> Response {
    let body = build(&state.catalog.tables()).to_string();
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_responses(codes: &[&str]) -> Map<String, Json> {
    codes
        .iter()
        .map(|c| {
            (
                (*c).to_owned(),
                json!({ "$ref": "#/components/responses/Error" }),
            )
        })
        .collect()
}

/// The schema of one filter value of a column of `data_type`, as a query string
/// carries it.
fn value_schema(data_type: DataType) -> Json {
    match data_type {
        DataType::Bool => json!({ "type": "boolean" }),
        DataType::Int => json!({
            "type": "integer", "format": "int64",
            "minimum": i64::MIN, "maximum": i64::MAX
        }),
        DataType::Float => json!({ "type": "number" }),
        DataType::Timestamp => json!({ "type": "string", "format": "date-time" }),
        DataType::Ip => json!({
            "anyOf": [
                { "type": "string", "format": "ipv4" },
                { "type": "string", "format": "ipv6" }
            ]
        }),
        // Text, and any type added later: written as text.
        _ => json!({ "type": "string" }),
    }
}

fn filter_parameter(column: &Column) -> Json {
    json!({
        "name": column.name,
        "in": "query",
        "style": "form",
        "explode": true,
        // The bounds are on the whole request, which a parameter's schema cannot say:
        // at most MAX_VALUES filter values in all, and the address within 32 KiB
        // (past them, a 400 or a 414).
        "description": format!(
            "Rows whose `{}` is one of these values (a repeated key). At most {MAX_VALUES} \
             filter values in all, in an address of at most 32 KiB (past them: 400, 414).",
            column.name
        ),
        "schema": {
            "type": "array",
            "items": value_schema(column.data_type),
        },
    })
}

fn table_paths(table: &Table, paths: &mut Map<String, Json>) {
    let dimensions: Vec<&Column> = table
        .schema()
        .dimensions()
        // `window` and `group_by` are parameters of their own, never filters.
        .filter(|c| !["window", "group_by", "trend"].contains(&c.name.as_str()))
        .collect();
    let mut parameters = vec![json!({
        "name": "window",
        "in": "query",
        "description": format!(
            "The window; {} when absent.",
            ViewParams::format_window(table.window())
        ),
        "schema": { "type": "string", "enum": windows_text(table.allowed_windows()) },
    })];
    if table.supports_grouping() {
        let names: Vec<&str> = table
            .schema()
            .dimensions()
            .map(|c| c.name.as_str())
            .collect();
        parameters.push(json!({
            "name": "group_by",
            "in": "query",
            "style": "form",
            "explode": false,
            "description": "Group by these dimensions only, in this order (comma-separated; \
                each at most once): every metric is rolled up exactly. Filters still apply \
                to every dimension. All dimensions when absent.",
            "schema": {
                "type": "array", "minItems": 1, "maxItems": names.len(),
                "uniqueItems": true, "items": { "type": "string", "enum": names }
            },
        }));
    }
    if table.supports_trend() {
        let metrics: Vec<&str> = table
            .schema()
            .columns()
            .iter()
            .filter(|c| !c.is_dimension())
            .map(|c| c.name.as_str())
            .collect();
        parameters.push(json!({
            "name": "trend",
            "in": "query",
            "description": "Each row also carries this metric per time step (`trend` in \
                the snapshot, its changes in each patch): the data of a sparkline.",
            "schema": { "type": "string", "enum": metrics },
        }));
    }
    parameters.extend(dimensions.iter().map(|c| filter_parameter(c)));
    let codes = ["400", "401", "414", "429", "503", "504"];
    // Paths are written as a client sends them: the name percent-encoded.
    let name = utf8_percent_encode(table.name(), PATH_SEGMENT).to_string();
    let mut json_responses = error_responses(&codes);
    json_responses.insert(
        "200".into(),
        json!({
            "description": "The current snapshot.",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Snapshot" } } }
        }),
    );
    let mut csv_responses = error_responses(&codes);
    csv_responses.insert(
        "200".into(),
        json!({
            "description": "The current rows as CSV, a header of column names first.",
            "content": { "text/csv": { "schema": { "type": "string" } } }
        }),
    );
    let mut stream_responses = error_responses(&codes);
    stream_responses.insert(
        "200".into(),
        json!({
            "description": "Server-sent events: a `snapshot`, then a `patch` per version.",
            "content": { "text/event-stream": { "schema": { "type": "string" } } }
        }),
    );
    let mut stream_parameters = parameters.clone();
    stream_parameters.push(json!({
        "name": "Last-Event-ID", "in": "header", "schema": { "type": "string" },
        "description": "The id of the last event received, to resume."
    }));
    paths.insert(
        format!("/api/tables/{name}"),
        json!({ "get": {
            "operationId": format!("snapshot_{name}"),
            "summary": format!("{}: the current snapshot as JSON.", table.title()),
            "parameters": parameters,
            "responses": json_responses,
        }}),
    );
    paths.insert(
        format!("/api/tables/{name}.csv"),
        json!({ "get": {
            "operationId": format!("csv_{name}"),
            "summary": format!("{}: the current rows as CSV.", table.title()),
            "parameters": parameters,
            "responses": csv_responses,
        }}),
    );
    paths.insert(
        format!("/api/tables/{name}/stream"),
        json!({ "get": {
            "operationId": format!("stream_{name}"),
            "summary": format!("{}: server-sent events (never ends).", table.title()),
            "parameters": stream_parameters,
            "responses": stream_responses,
        }}),
    );
}

/// The document for `tables`.
pub(crate) fn build(tables: &[Table]) -> Json {
    let mut paths = Map::new();
    let mut list_responses = error_responses(&["401"]);
    list_responses.insert(
        "200".into(),
        json!({
            "description": "Every table with its schema, windows and formatting rules.",
            "content": { "application/json": { "schema": {
                "type": "object",
                "required": ["tables"],
                "properties": { "tables": { "type": "array", "items": { "type": "object" } } }
            } } }
        }),
    );
    paths.insert(
        "/api/tables".into(),
        json!({ "get": { "operationId": "tables", "summary": "Every table.", "responses": list_responses } }),
    );
    for table in tables {
        table_paths(table, &mut paths);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "livetable tables",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The tables this server serves. Paths are relative to where the \
                application nests the router; with a token, send `Authorization: Bearer <token>`."
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": {
                "Error": {
                    "description": "An error, as JSON.",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "required": ["error"],
                        "properties": { "error": {
                            "type": "object",
                            "required": ["kind", "message"],
                            "properties": {
                                "kind": { "type": "string" },
                                "message": { "type": "string" }
                            }
                        } }
                    } } }
                }
            },
            "schemas": {
                "Snapshot": {
                    "type": "object",
                    "required": ["schema", "rows", "version", "window", "taken_at", "fetch_ms", "approximate", "status"],
                    "properties": {
                        "schema": { "type": "object" },
                        "rows": { "type": "array", "items": { "type": "array" } },
                        "version": { "type": "integer", "minimum": 0 },
                        "window": {
                            "type": "object",
                            "required": ["start", "end"],
                            "properties": {
                                "start": { "type": "string", "format": "date-time" },
                                "end": { "type": "string", "format": "date-time" }
                            }
                        },
                        "taken_at": { "type": "string", "format": "date-time" },
                        "fetch_ms": { "type": "number" },
                        "approximate": { "type": "boolean" },
                        "partial": { "type": ["string", "null"] },
                        "status": {
                            "type": "object",
                            "required": ["state"],
                            "properties": {
                                "state": { "enum": ["loading", "fresh", "stale"] },
                                "since": { "type": "string", "format": "date-time" },
                                "error": {
                                    "type": "object",
                                    "properties": {
                                        "kind": { "type": "string" },
                                        "message": { "type": "string" },
                                        "retryable": { "type": "boolean" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}
