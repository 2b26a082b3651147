//! A small Elasticsearch evaluator: holds documents with a mapping and really computes
//! what livetable-es sends — a `bool` query of `term` / `terms` / `range` / `exists`
//! clauses and a `composite` aggregation of `terms` sources (after an optional
//! `date_histogram` one with `fixed_interval`) with `sum`, `avg`, `min`,
//! `max`, `value_count` and `cardinality` sub-aggregations — answering in the
//! reference's shapes. Anything else is refused, as a strict server would.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use livetable_core::{DataType, Value};
use serde_json::{Map, Value as Json, json};

/// Field types of the mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldType {
    Keyword,
    Ip,
    Long,
    Double,
    Date,
    Boolean,
}

impl FieldType {
    pub(crate) fn of(t: DataType) -> FieldType {
        match t {
            DataType::Text => FieldType::Keyword,
            DataType::Ip => FieldType::Ip,
            DataType::Int => FieldType::Long,
            DataType::Float => FieldType::Double,
            DataType::Timestamp => FieldType::Date,
            DataType::Bool => FieldType::Boolean,
            other => panic!("no mapping for {other}"),
        }
    }

    /// The mapping type name.
    pub(crate) fn es_name(self) -> &'static str {
        match self {
            FieldType::Keyword => "keyword",
            FieldType::Ip => "ip",
            FieldType::Long => "long",
            FieldType::Double => "double",
            FieldType::Date => "date",
            FieldType::Boolean => "boolean",
        }
    }
}

/// A doc value, ordered as Elasticsearch orders it for its type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Key {
    Str(String),
    Ip(IpAddr),
    Long(i64),
    Double(f64),
    /// Epoch milliseconds.
    Date(i64),
    Bool(bool),
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Str(a), Key::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            // Elasticsearch orders ips by their 16-byte (IPv4-mapped) form.
            (Key::Ip(a), Key::Ip(b)) => ip16(a).cmp(&ip16(b)),
            (Key::Long(a), Key::Long(b)) | (Key::Date(a), Key::Date(b)) => a.cmp(b),
            (Key::Double(a), Key::Double(b)) => a.total_cmp(b),
            (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
            _ => panic!("comparing keys of different types: {self:?} {other:?}"),
        }
    }
}

fn ip16(ip: &IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl Key {
    /// As a bucket key / `after_key` value.
    fn to_json(&self) -> Json {
        match self {
            Key::Str(s) => json!(s),
            Key::Ip(ip) => json!(ip.to_string()),
            Key::Long(i) | Key::Date(i) => json!(i),
            Key::Double(f) => json!(f),
            Key::Bool(b) => json!(b),
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Key::Long(i) | Key::Date(i) => Some(*i as f64),
            Key::Double(f) => Some(*f),
            _ => None,
        }
    }
}

/// Parses a value as a field of type `t` would (documents and query values alike).
pub(crate) fn parse(t: FieldType, v: &Json) -> Result<Key, String> {
    let bad = || format!("cannot parse {v} as a {}", t.es_name());
    Ok(match t {
        FieldType::Keyword => Key::Str(match v {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            _ => return Err(bad()),
        }),
        FieldType::Ip => Key::Ip(v.as_str().and_then(|s| s.parse().ok()).ok_or_else(bad)?),
        FieldType::Long => Key::Long(match v {
            Json::Number(n) => n.as_i64().ok_or_else(bad)?,
            Json::String(s) => s.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }),
        FieldType::Double => Key::Double(match v {
            Json::Number(n) => n.as_f64().ok_or_else(bad)?,
            Json::String(s) => s.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }),
        FieldType::Date => Key::Date(match v {
            Json::Number(n) => n.as_i64().ok_or_else(bad)?,
            Json::String(s) => {
                let t = DateTime::parse_from_rfc3339(s).map_err(|_| bad())?;
                // `date` keeps milliseconds: finer digits are truncated.
                t.timestamp_millis()
            }
            _ => return Err(bad()),
        }),
        FieldType::Boolean => Key::Bool(match v {
            Json::Bool(b) => *b,
            Json::String(s) if s == "true" => true,
            Json::String(s) if s == "false" => false,
            _ => return Err(bad()),
        }),
    })
}

/// An index: a mapping and documents (a missing field is absent from the document).
#[derive(Clone, Debug, Default)]
pub(crate) struct Index {
    pub(crate) mapping: BTreeMap<String, FieldType>,
    /// Parsed doc values per document.
    pub(crate) docs: Vec<BTreeMap<String, Key>>,
}

/// A livetable value as it appears in a document's `_source`.
pub(crate) fn source_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Text(s) => json!(s),
        Value::Timestamp(t) => json!(t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        Value::Ip(ip) => json!(ip.to_string()),
    }
}

impl Index {
    pub(crate) fn new(mapping: &[(&str, FieldType)]) -> Index {
        Index {
            mapping: mapping.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            docs: Vec::new(),
        }
    }

    /// Indexes one `_source` document; null and absent fields are missing.
    pub(crate) fn add(&mut self, doc: &Json) -> Result<(), String> {
        let mut parsed = BTreeMap::new();
        for (name, v) in doc.as_object().ok_or("a document must be an object")? {
            let t = *self
                .mapping
                .get(name)
                .ok_or_else(|| format!("field [{name}] is not mapped"))?;
            if !v.is_null() {
                parsed.insert(name.clone(), parse(t, v)?);
            }
        }
        self.docs.push(parsed);
        Ok(())
    }

    /// An index of livetable events (`columns` order).
    pub(crate) fn from_events(columns: &[(&str, DataType)], events: &[Vec<Value>]) -> Index {
        let mapping: Vec<(&str, FieldType)> = columns
            .iter()
            .map(|(n, t)| (*n, FieldType::of(*t)))
            .collect();
        let mut index = Index::new(&mapping);
        for e in events {
            let doc: Map<String, Json> = columns
                .iter()
                .zip(e)
                .map(|((n, _), v)| (n.to_string(), source_json(v)))
                .collect();
            index
                .add(&Json::Object(doc))
                .expect("events fit their columns");
        }
        index
    }

    fn field(&self, name: &str) -> Result<FieldType, String> {
        self.mapping
            .get(name)
            .copied()
            .ok_or_else(|| format!("no mapping for field [{name}]"))
    }

    /// Whether a document matches a query clause.
    pub(crate) fn matches(&self, doc: &BTreeMap<String, Key>, q: &Json) -> Result<bool, String> {
        let (kind, body) = single(q)?;
        match kind {
            "match_all" => Ok(true),
            "bool" => {
                let body = body.as_object().ok_or("[bool] must be an object")?;
                let clauses = |name: &str| -> Vec<&Json> {
                    match body.get(name) {
                        Some(Json::Array(a)) => a.iter().collect(),
                        Some(one) => vec![one],
                        None => Vec::new(),
                    }
                };
                for k in body.keys() {
                    if ![
                        "filter",
                        "must",
                        "must_not",
                        "should",
                        "minimum_should_match",
                    ]
                    .contains(&k.as_str())
                    {
                        return Err(format!("[bool] does not support [{k}]"));
                    }
                }
                for c in clauses("filter").into_iter().chain(clauses("must")) {
                    if !self.matches(doc, c)? {
                        return Ok(false);
                    }
                }
                for c in clauses("must_not") {
                    if self.matches(doc, c)? {
                        return Ok(false);
                    }
                }
                let should = clauses("should");
                if !should.is_empty() {
                    let min = body
                        .get("minimum_should_match")
                        .and_then(Json::as_u64)
                        .unwrap_or(0) as usize;
                    let mut hits = 0;
                    for c in should {
                        hits += usize::from(self.matches(doc, c)?);
                    }
                    if hits < min {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            "term" => {
                let (field, v) = single(body)?;
                let v = v.get("value").unwrap_or(v);
                let want = parse(self.field(field)?, v)?;
                Ok(doc.get(field) == Some(&want))
            }
            "terms" => {
                let (field, vs) = single(body)?;
                let t = self.field(field)?;
                let vs = vs.as_array().ok_or("[terms] needs an array")?;
                let want = vs
                    .iter()
                    .map(|v| parse(t, v))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(doc.get(field).is_some_and(|k| want.contains(k)))
            }
            "range" => {
                let (field, bounds) = single(body)?;
                let t = self.field(field)?;
                let Some(have) = doc.get(field) else {
                    return Ok(false);
                };
                for (op, v) in bounds.as_object().ok_or("[range] needs bounds")? {
                    let b = parse(t, v)?;
                    let ok = match op.as_str() {
                        "gte" => *have >= b,
                        "gt" => *have > b,
                        "lte" => *have <= b,
                        "lt" => *have < b,
                        other => return Err(format!("[range] does not support [{other}]")),
                    };
                    if !ok {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            "exists" => {
                let field = body["field"].as_str().ok_or("[exists] needs a field")?;
                Ok(doc.contains_key(field))
            }
            other => Err(format!("unknown query [{other}]")),
        }
    }

    /// Answers a `_search` body, or a `parsing_exception`-style reason.
    pub(crate) fn search(&self, body: &Json) -> Result<Json, String> {
        let body = body.as_object().ok_or("the body must be an object")?;
        for k in body.keys() {
            if !["size", "track_total_hits", "query", "aggs"].contains(&k.as_str()) {
                return Err(format!("unknown key [{k}] in the search body"));
            }
        }
        if body.get("size") != Some(&json!(0)) {
            return Err("this evaluator answers aggregations only: send size 0".into());
        }
        let matching: Vec<&BTreeMap<String, Key>> = match body.get("query") {
            Some(q) => {
                let mut out = Vec::new();
                for d in &self.docs {
                    if self.matches(d, q)? {
                        out.push(d);
                    }
                }
                out
            }
            None => self.docs.iter().collect(),
        };
        let mut aggregations = Map::new();
        for (name, agg) in body
            .get("aggs")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
        {
            aggregations.insert(name.clone(), self.composite(agg, &matching)?);
        }
        Ok(json!({
            "took": 1, "timed_out": false,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"max_score": null, "hits": []},
            "aggregations": aggregations,
        }))
    }

    fn composite(&self, agg: &Json, docs: &[&BTreeMap<String, Key>]) -> Result<Json, String> {
        let c = agg
            .get("composite")
            .ok_or("this evaluator supports composite aggregations only")?;
        for k in agg.as_object().into_iter().flatten().map(|(k, _)| k) {
            if k != "composite" && k != "aggs" {
                return Err(format!("unknown key [{k}] beside composite"));
            }
        }
        let size = c.get("size").and_then(Json::as_u64).unwrap_or(10) as usize;
        let mut sources: Vec<Source> = Vec::new();
        for s in c["sources"]
            .as_array()
            .ok_or("[sources] must be an array")?
        {
            let (name, def) = single(s)?;
            let (kind, body) = single(def)?;
            let body = body
                .as_object()
                .ok_or_else(|| format!("[{kind}] must be an object"))?;
            let allowed: &[&str] = match kind {
                "terms" => &["field", "missing_bucket"],
                "date_histogram" => &["field", "fixed_interval", "missing_bucket"],
                other => return Err(format!("unsupported composite source type [{other}]")),
            };
            if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
                // `calendar_interval`, `offset`, `time_zone`, `format`… change the keys.
                return Err(format!(
                    "[{kind}] source [{name}]: [{k}] is not supported here"
                ));
            }
            let field = body
                .get("field")
                .and_then(Json::as_str)
                .ok_or_else(|| format!("a {kind} source needs a field"))?;
            let t = self.field(field)?;
            let interval = match kind {
                "date_histogram" => {
                    if t != FieldType::Date {
                        return Err(format!(
                            "date_histogram on [{field}], a {} field",
                            t.es_name()
                        ));
                    }
                    let iv = body
                        .get("fixed_interval")
                        .ok_or("a date_histogram needs [fixed_interval]")?;
                    Some(fixed_interval_ms(iv)?)
                }
                _ => None,
            };
            let missing_bucket = body
                .get("missing_bucket")
                .and_then(Json::as_bool)
                .unwrap_or(false);
            if sources.iter().any(|s| s.name == name) {
                return Err(format!("duplicate composite source [{name}]"));
            }
            sources.push(Source {
                name: name.to_owned(),
                field: field.to_owned(),
                t,
                missing_bucket,
                interval,
            });
        }
        let mut groups: BTreeMap<Vec<Option<Key>>, Vec<&BTreeMap<String, Key>>> = BTreeMap::new();
        'docs: for d in docs {
            let mut key = Vec::with_capacity(sources.len());
            for s in &sources {
                match (d.get(&s.field), s.interval) {
                    (Some(Key::Date(ms)), Some(iv)) => {
                        key.push(Some(Key::Date(ms.div_euclid(iv) * iv)));
                    }
                    (Some(k), _) => key.push(Some(k.clone())),
                    (None, _) if s.missing_bucket => key.push(None),
                    (None, _) => continue 'docs,
                }
            }
            groups.entry(key).or_default().push(d);
        }
        let after: Option<Vec<Option<Key>>> = match c.get("after") {
            None => None,
            Some(a) => {
                let a = a.as_object().ok_or("[after] must be an object")?;
                if a.len() != sources.len() {
                    return Err("[after] has a different number of sources".into());
                }
                let mut key = Vec::new();
                for s in &sources {
                    let v = a
                        .get(&s.name)
                        .ok_or_else(|| format!("[after] lacks [{}]", s.name))?;
                    key.push(if v.is_null() {
                        None
                    } else {
                        Some(parse(s.t, v)?)
                    });
                }
                Some(key)
            }
        };
        let sub = agg.get("aggs").and_then(Json::as_object);
        let mut buckets = Vec::new();
        let mut last = None;
        for (key, members) in groups
            .iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| *k > a))
            .take(size)
        {
            let mut bucket = Map::new();
            let key_json: Map<String, Json> = sources
                .iter()
                .zip(key)
                .map(|(s, k)| (s.name.clone(), k.as_ref().map_or(Json::Null, Key::to_json)))
                .collect();
            bucket.insert("key".into(), Json::Object(key_json.clone()));
            bucket.insert("doc_count".into(), json!(members.len()));
            for (name, def) in sub.into_iter().flatten() {
                bucket.insert(name.clone(), self.metric(def, members)?);
            }
            buckets.push(Json::Object(bucket));
            last = Some(key_json);
        }
        let mut out = Map::new();
        if let Some(k) = last {
            out.insert("after_key".into(), Json::Object(k));
        }
        out.insert("buckets".into(), Json::Array(buckets));
        Ok(Json::Object(out))
    }

    fn metric(&self, def: &Json, docs: &[&BTreeMap<String, Key>]) -> Result<Json, String> {
        let (op, body) = single(def)?;
        let field = body["field"].as_str().ok_or("a metric needs a field")?;
        let t = self.field(field)?;
        let values: Vec<&Key> = docs.iter().filter_map(|d| d.get(field)).collect();
        let nums = || -> Result<Vec<f64>, String> {
            values
                .iter()
                .map(|k| {
                    k.as_f64()
                        .ok_or_else(|| format!("[{op}] on non-numeric [{field}]"))
                })
                .collect()
        };
        let with_string = |v: Option<f64>| {
            let mut out = json!({"value": v});
            if let (FieldType::Date, Some(ms)) = (t, v) {
                let s = DateTime::<Utc>::from_timestamp_millis(ms as i64)
                    .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true));
                out["value_as_string"] = json!(s);
            }
            out
        };
        Ok(match op {
            // Elasticsearch: the sum of nothing is 0.0.
            "sum" => json!({"value": nums()?.iter().sum::<f64>()}),
            "avg" => {
                let n = nums()?;
                let v = (!n.is_empty()).then(|| n.iter().sum::<f64>() / n.len() as f64);
                json!({"value": v})
            }
            "min" => with_string(nums()?.into_iter().reduce(f64::min)),
            "max" => with_string(nums()?.into_iter().reduce(f64::max)),
            "value_count" => json!({"value": values.len()}),
            // Exact here; Elasticsearch's is exact below its precision threshold.
            "cardinality" => json!({"value": values.iter().collect::<BTreeSet<_>>().len()}),
            other => return Err(format!("unknown metric aggregation [{other}]")),
        })
    }
}

/// One composite value source.
struct Source {
    name: String,
    field: String,
    t: FieldType,
    missing_bucket: bool,
    /// For a `date_histogram`: the bucket width in milliseconds; keys are
    /// `floor(ms / width) * width`, multiples of the width since the epoch.
    interval: Option<i64>,
}

/// A `fixed_interval` time value (`10s`, `500ms`, `1m`, `2h`, `1d`) in milliseconds.
/// Calendar-free units only, as Elasticsearch requires for `fixed_interval`.
pub(crate) fn fixed_interval_ms(v: &Json) -> Result<i64, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("[fixed_interval] must be a string, got {v}"))?;
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("failed to parse [fixed_interval] {s}"))?;
    let per = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "[fixed_interval] {s}: unknown or calendar unit [{unit}]"
            ));
        }
    };
    if n <= 0 {
        return Err(format!("[fixed_interval] must be positive, got {s}"));
    }
    Ok(n * per)
}

/// The only key of a single-key object, and its value.
fn single(v: &Json) -> Result<(&str, &Json), String> {
    match v.as_object() {
        Some(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().expect("one entry");
            Ok((k.as_str(), v))
        }
        _ => Err(format!("expected an object with one key, got {v}")),
    }
}
