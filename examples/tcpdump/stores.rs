//! The PostgreSQL, MySQL / MariaDB and Elasticsearch sources, and `--load-demo-data`:
//! create the table or index, fill it with a past hour of synthetic packets, keep
//! adding live ones.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use elasticsearch::http::request::JsonBody;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::indices::IndicesCreateParts;
use elasticsearch::{BulkParts, Elasticsearch};
use livetable::es::{EsBuilder, EsClient};
use livetable::sql::sqlx::mysql::{MySqlArguments, MySqlPool};
use livetable::sql::sqlx::{self, Arguments as _, AssertSqlSafe, PgPool};
use livetable::sql::{MySqlBackend, PgBackend};
use livetable::{
    Aggregate, BucketCache, BucketQuery, Error, ErrorKind, Result, SharedQuery, TableQuery,
};
use serde_json::json;
use tracing::info;

use super::cli::Args;
use super::traffic::{past_hour, spawn_live_traffic};
use super::workload::Packet;

/// The store's source as the table's query: behind a bucket cache (one query for the
/// newest buckets per tick, every view merged in memory), or, with `--direct`, asked
/// for the whole window by every view on every tick.
fn served<Q: BucketQuery + TableQuery>(args: &Args, query: Q) -> Result<SharedQuery> {
    if args.direct {
        return Ok(std::sync::Arc::new(query));
    }
    let longest = args.windows().last().copied().unwrap_or(args.window);
    let cache = BucketCache::builder(query)
        .retention(longest)
        .max_entries(args.cache_entries)
        .build()?;
    info!(
        bucket_width = ?cache.bucket_width(),
        settle = ?cache.settle(),
        retention = ?cache.retention(),
        "bucket cache in front of the store (--direct turns it off)"
    );
    Ok(std::sync::Arc::new(cache))
}

/// How long connecting to a store may take at startup.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows per INSERT / documents per bulk request when loading.
const LOAD_BATCH: usize = 10_000;
/// How often live demo packets are written.
const STREAM_TICK: Duration = Duration::from_secs(1);

/// The PostgreSQL source for `spec`, after `--load-demo-data` if asked.
pub(crate) async fn postgres(args: &Args, spec: Aggregate) -> Result<SharedQuery> {
    let url = args.database_url.clone().unwrap_or_default();
    let pg = PgBackend::builder()
        .url(url)
        .connect_timeout(CONNECT_TIMEOUT)
        .statement_timeout(Duration::from_secs(30))
        .build()?;
    // Validates the table name before anything is created with it.
    let query = pg.aggregate(&args.table, spec)?;
    if args.load_demo_data {
        let table = quote_table(&args.table)?;
        create_table(pg.pool(), &args.table, &table).await?;
        let started = Instant::now();
        let now = Utc::now();
        let (packets, traffic) = past_hour(args.seed, args.prefill(), now);
        for chunk in packets.chunks(LOAD_BATCH) {
            insert(pg.pool(), &table, chunk).await?;
        }
        info!(
            rows = packets.len(),
            table = %args.table,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded a past hour of demo packets"
        );
        let (pool, rate) = (pg.pool().clone(), args.rate);
        spawn_live_traffic(traffic, now, rate, STREAM_TICK, move |packets| {
            let (pool, table) = (pool.clone(), table.clone());
            async move { insert(&pool, &table, &packets).await }
        });
    }
    served(args, query)
}

/// `name` or `schema.name`, each part quoted as PostgreSQL identifiers.
fn quote_table(name: &str) -> Result<String> {
    quote_table_with(name, '"')
}

/// `name` or `schema.name` of letters, digits and `_`, each part quoted with `quote`.
fn quote_table_with(name: &str, quote: char) -> Result<String> {
    let parts: Vec<&str> = name.split('.').collect();
    let valid = |p: &str| {
        !p.is_empty()
            && !p.starts_with(|c: char| c.is_ascii_digit())
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if parts.len() > 2 || !parts.iter().all(|p| valid(p)) {
        return Err(Error::invalid_parameter(format!(
            "--table `{name}`: give `name` or `schema.name` of letters, digits and `_`"
        )));
    }
    Ok(parts
        .iter()
        .map(|p| format!("{quote}{p}{quote}"))
        .collect::<Vec<_>>()
        .join("."))
}

async fn exec(pool: &PgPool, sql: String) -> Result<()> {
    sqlx::query(AssertSqlSafe(sql.clone()))
        .execute(pool)
        .await
        .map_err(|e| pg_error(&sql, e))?;
    Ok(())
}

fn pg_error(what: &str, e: sqlx::Error) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("PostgreSQL: {e} (while running `{what}`)"),
    )
    .with_context("backend", "postgres")
}

async fn create_table(pool: &PgPool, name: &str, table: &str) -> Result<()> {
    if let Some((schema, _)) = table.split_once('.') {
        exec(pool, format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await?;
    }
    exec(
        pool,
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (ts timestamptz NOT NULL, source_ip inet, \
             source_port int4, destination_ip inet, destination_port int4, protocol text, size int4)"
        ),
    )
    .await?;
    // Every fetch is a range on ts: index it. The name follows the table's.
    let index = format!("\"{}_ts\"", name.rsplit('.').next().unwrap_or(name));
    exec(
        pool,
        format!("CREATE INDEX IF NOT EXISTS {index} ON {table} (ts)"),
    )
    .await?;
    info!(table = name, "table ready (with an index on ts)");
    Ok(())
}

/// One `INSERT … SELECT FROM UNNEST(…)`: one array parameter per column.
async fn insert(pool: &PgPool, table: &str, packets: &[Packet]) -> Result<()> {
    if packets.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO {table} (ts, source_ip, source_port, destination_ip, destination_port, \
         protocol, size) SELECT * FROM UNNEST($1::timestamptz[], $2::inet[], $3::int4[], \
         $4::inet[], $5::int4[], $6::text[], $7::int4[])"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(packets.iter().map(|p| p.ts).collect::<Vec<DateTime<Utc>>>())
        .bind(packets.iter().map(|p| p.source_ip).collect::<Vec<IpAddr>>())
        .bind(
            packets
                .iter()
                .map(|p| i32::from(p.source_port))
                .collect::<Vec<_>>(),
        )
        .bind(
            packets
                .iter()
                .map(|p| p.destination_ip)
                .collect::<Vec<IpAddr>>(),
        )
        .bind(
            packets
                .iter()
                .map(|p| i32::from(p.destination_port))
                .collect::<Vec<_>>(),
        )
        .bind(packets.iter().map(|p| p.protocol).collect::<Vec<&str>>())
        .bind(
            packets
                .iter()
                .map(|p| i32::try_from(p.size).unwrap_or(i32::MAX))
                .collect::<Vec<_>>(),
        )
        .execute(pool)
        .await
        .map_err(|e| pg_error(&format!("INSERT INTO {table}"), e))?;
    Ok(())
}

/// The MySQL / MariaDB source for `spec`, after `--load-demo-data` if asked.
pub(crate) async fn mysql(args: &Args, spec: Aggregate) -> Result<SharedQuery> {
    let url = args.database_url.clone().unwrap_or_default();
    let db = MySqlBackend::builder()
        .url(url)
        .connect_timeout(CONNECT_TIMEOUT)
        .statement_timeout(Duration::from_secs(30))
        .build()?;
    // Validates the table name before anything is created with it.
    let query = db.aggregate(&args.table, spec)?;
    if args.load_demo_data {
        let table = quote_table_with(&args.table, '`')?;
        create_mysql_table(db.pool(), &args.table, &table).await?;
        let started = Instant::now();
        let now = Utc::now();
        let (packets, traffic) = past_hour(args.seed, args.prefill(), now);
        for chunk in packets.chunks(MYSQL_BATCH) {
            insert_mysql(db.pool(), &table, chunk).await?;
        }
        info!(
            rows = packets.len(),
            table = %args.table,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded a past hour of demo packets"
        );
        let (pool, rate) = (db.pool().clone(), args.rate);
        spawn_live_traffic(traffic, now, rate, STREAM_TICK, move |packets| {
            let (pool, table) = (pool.clone(), table.clone());
            async move {
                for chunk in packets.chunks(MYSQL_BATCH) {
                    insert_mysql(&pool, &table, chunk).await?;
                }
                Ok(())
            }
        });
    }
    served(args, query)
}

/// Rows per MySQL INSERT: 7 parameters a row, under the protocol's 65,535.
const MYSQL_BATCH: usize = 5_000;

fn mysql_error(what: &str, e: sqlx::Error) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("MySQL: {e} (while running `{what}`)"),
    )
    .with_context("backend", "mysql")
}

/// The packets table: addresses as 4/16 bytes (`VARBINARY(16)`, which MySQL and
/// MariaDB both have), an index on ts.
async fn create_mysql_table(pool: &MySqlPool, name: &str, table: &str) -> Result<()> {
    if let Some((database, _)) = table.split_once('.') {
        let sql = format!("CREATE DATABASE IF NOT EXISTS {database}");
        sqlx::query(AssertSqlSafe(sql.clone()))
            .execute(pool)
            .await
            .map_err(|e| mysql_error(&sql, e))?;
    }
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {table} (ts DATETIME(6) NOT NULL, \
         source_ip VARBINARY(16), source_port INT, destination_ip VARBINARY(16), \
         destination_port INT, protocol VARCHAR(16), size INT, INDEX (ts))"
    );
    sqlx::query(AssertSqlSafe(sql.clone()))
        .execute(pool)
        .await
        .map_err(|e| mysql_error(&sql, e))?;
    info!(table = name, "table ready (with an index on ts)");
    Ok(())
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// One multi-row `INSERT … VALUES (?, …), …`.
async fn insert_mysql(pool: &MySqlPool, table: &str, packets: &[Packet]) -> Result<()> {
    if packets.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO {table} (ts, source_ip, source_port, destination_ip, destination_port, \
         protocol, size) VALUES {}",
        vec!["(?, ?, ?, ?, ?, ?, ?)"; packets.len()].join(", ")
    );
    let mut args = MySqlArguments::default();
    for p in packets {
        let added = args
            .add(p.ts.naive_utc())
            .and_then(|()| args.add(ip_bytes(p.source_ip)))
            .and_then(|()| args.add(i32::from(p.source_port)))
            .and_then(|()| args.add(ip_bytes(p.destination_ip)))
            .and_then(|()| args.add(i32::from(p.destination_port)))
            .and_then(|()| args.add(p.protocol))
            .and_then(|()| args.add(i32::try_from(p.size).unwrap_or(i32::MAX)));
        added
            .map_err(|e| Error::new(ErrorKind::Unexpected, format!("cannot bind a packet: {e}")))?;
    }
    sqlx::query_with(AssertSqlSafe(sql), args)
        .execute(pool)
        .await
        .map_err(|e| mysql_error(&format!("INSERT INTO {table}"), e))?;
    Ok(())
}

/// The Elasticsearch source for `spec`, after `--load-demo-data` if asked.
pub(crate) async fn elasticsearch(args: &Args, spec: Aggregate) -> Result<SharedQuery> {
    let mut builder = EsBuilder::new(args.es_url.clone().unwrap_or_default())
        .index(&args.index)
        .verify_certificates(!args.es_insecure)
        .request_timeout(Duration::from_secs(30));
    if let Some(key) = &args.es_api_key {
        builder = builder.encoded_api_key(key);
    }
    let client = builder.build()?;
    let query = client.aggregate(spec)?;
    if args.load_demo_data {
        let es = raw_client(&client)?;
        let index = args.index.clone();
        create_index(&es, &index).await?;
        let started = Instant::now();
        let now = Utc::now();
        let (packets, traffic) = past_hour(args.seed, args.prefill(), now);
        for chunk in packets.chunks(LOAD_BATCH) {
            bulk(&es, &index, chunk).await?;
        }
        info!(
            documents = packets.len(),
            index = %index,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded a past hour of demo packets"
        );
        spawn_live_traffic(traffic, now, args.rate, STREAM_TICK, move |packets| {
            let (es, index) = (es.clone(), index.clone());
            async move { bulk(&es, &index, &packets).await }
        });
    }
    served(args, query)
}

/// A client of the `elasticsearch` crate with the validated settings of `client`, for
/// the writes livetable-es does not do (it only reads).
fn raw_client(client: &EsClient) -> Result<Elasticsearch> {
    let c = client.config();
    let url = elasticsearch::http::Url::parse(&c.url)
        .map_err(|e| Error::invalid_parameter(format!("--es-url: {e}")))?;
    let mut transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
        .timeout(CONNECT_TIMEOUT.max(c.request_timeout));
    if !c.verify_certificates {
        transport = transport.cert_validation(elasticsearch::cert::CertificateValidation::None);
    }
    use elasticsearch::auth::Credentials;
    match (&c.username, &c.api_key_id, &c.api_key) {
        (Some(user), _, _) => {
            transport = transport.auth(Credentials::Basic(
                user.clone(),
                c.password.clone().unwrap_or_default(),
            ));
        }
        (None, Some(id), Some(key)) => {
            transport = transport.auth(Credentials::ApiKey(id.clone(), key.clone()))
        }
        (None, None, Some(key)) => {
            transport = transport.auth(Credentials::EncodedApiKey(key.clone()))
        }
        _ => {}
    }
    let transport = transport.build().map_err(|e| {
        Error::invalid_parameter(format!("--es-url: cannot set up the client: {e}"))
    })?;
    Ok(Elasticsearch::new(transport))
}

fn es_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("Elasticsearch: {what}: {e}"),
    )
    .with_context("backend", "elasticsearch")
}

/// The status and JSON body of a response (the body may not be JSON: then `Null`).
async fn answer(response: elasticsearch::http::response::Response) -> (u16, serde_json::Value) {
    let status = response.status_code().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

async fn create_index(es: &Elasticsearch, index: &str) -> Result<()> {
    let mapping = json!({"mappings": {"properties": {
        "ts": {"type": "date"},
        "source_ip": {"type": "ip"},
        "source_port": {"type": "integer"},
        "destination_ip": {"type": "ip"},
        "destination_port": {"type": "integer"},
        "protocol": {"type": "keyword"},
        "size": {"type": "long"},
    }}});
    let response = es
        .indices()
        .create(IndicesCreateParts::Index(index))
        .body(mapping)
        .send()
        .await
        .map_err(|e| es_error(&format!("creating index `{index}`"), e))?;
    let (status, body) = answer(response).await;
    let kind = body["error"]["type"].as_str().unwrap_or_default();
    match status {
        200..=299 => info!(index, "index created"),
        400 if kind == "resource_already_exists_exception" => {
            info!(index, "index exists; adding to it")
        }
        _ => {
            return Err(es_error(
                &format!("creating index `{index}`"),
                format!(
                    "HTTP {status}: {}",
                    body["error"]["reason"].as_str().unwrap_or(kind)
                ),
            ));
        }
    }
    Ok(())
}

/// One `_bulk` request of `index` actions; fails when any item failed.
async fn bulk(es: &Elasticsearch, index: &str, packets: &[Packet]) -> Result<()> {
    if packets.is_empty() {
        return Ok(());
    }
    let mut lines: Vec<JsonBody<serde_json::Value>> = Vec::with_capacity(packets.len() * 2);
    for p in packets {
        lines.push(json!({"index": {}}).into());
        lines.push(
            json!({
                "ts": p.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "source_ip": p.source_ip.to_string(),
                "source_port": p.source_port,
                "destination_ip": p.destination_ip.to_string(),
                "destination_port": p.destination_port,
                "protocol": p.protocol,
                "size": p.size,
            })
            .into(),
        );
    }
    let response = es
        .bulk(BulkParts::Index(index))
        .body(lines)
        .send()
        .await
        .map_err(|e| es_error("bulk load", e))?;
    let (status, body) = answer(response).await;
    if !(200..300).contains(&status) {
        return Err(es_error("bulk load", format!("HTTP {status}: {body}")));
    }
    // HTTP 200 even when items fail: look at `errors` and the first failed item.
    if body["errors"].as_bool() != Some(false) {
        let first = body["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["index"]["error"].is_object()))
            .map(|i| i["index"]["error"].to_string())
            .unwrap_or_else(|| "no item says why".into());
        return Err(es_error(
            "bulk load",
            format!("some documents were refused: {first}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_quoted_or_refused() {
        assert_eq!(quote_table("packets").unwrap(), "\"packets\"");
        assert_eq!(
            quote_table("demo.Packets_1").unwrap(),
            "\"demo\".\"Packets_1\""
        );
        for bad in ["", "a.b.c", "1x", "p\"; drop table x; --", "a-b"] {
            assert!(
                quote_table(bad).unwrap_err().message().contains("--table"),
                "{bad}"
            );
        }
    }
}
