//! [`BucketFetch`]: the paging of one bucketed composite fetch (partials per time
//! bucket and group, for the bucket cache), without I/O.

use livetable_core::{BucketRequest, BucketRow, Error, ErrorKind, MetricKind, Result};

use crate::fetch::{Paged, Pager};
use crate::plan::Plan;
use crate::request::{composite, filters};
use crate::response::buckets::{Layout, bucket_page};

/// The state of one bucketed fetch, independent of how requests travel — the
/// [`BucketQuery`](livetable_core::BucketQuery) side of [`EsAggregate`](crate::EsAggregate),
/// as [`CompositeFetch`](crate::sans_io::CompositeFetch) is its table side: ask
/// [`next_request`](BucketFetch::next_request) for a body, send it, hand the answer to
/// [`accept`](BucketFetch::accept), until `next_request` says `None`; then
/// [`finish`](BucketFetch::finish).
///
/// The search is a `composite` aggregation whose first source is a `date_histogram`
/// with `fixed_interval` = the request's width (buckets start at multiples of it since
/// the epoch), then one `terms` source per dimension (`missing_bucket` on), with the
/// sub-aggregations each partial needs: `sum` and `value_count` for `sum` and `avg`,
/// `min`, `max`; a `count` is the bucket's `doc_count`. The range and the spec's
/// static filters are in `bool.filter`.
///
/// All or nothing: an answer with failed shards or `timed_out` is a retryable error
/// (never a partial result), as is any error between pages; more (bucket, group) pairs
/// than `max_bucket_rows` is [`ErrorKind::LimitExceeded`].
///
/// ```
/// # use std::time::Duration;
/// # use livetable_core::{Aggregate, BucketRequest, DataType, Metric, Partial, Value, Window};
/// # use livetable_es::EsBuilder;
/// # let spec = Aggregate::builder().time_column("ts").window(Duration::from_secs(3600))
/// #     .dimension("protocol", DataType::Text).field("size", DataType::Int)
/// #     .metric(Metric::count("count")).metric(Metric::sum("bytes", "size")).build()?;
/// let source = EsBuilder::new("http://localhost:9200").index("packets").build()?.aggregate(spec)?;
/// let start = "2026-11-28T12:00:00Z".parse().unwrap();
/// let end = "2026-11-28T12:00:25Z".parse().unwrap();
/// let request = BucketRequest::new(Window::new(start, end)?, Duration::from_secs(10));
/// let mut fetch = source.start_buckets(&request)?;
/// let body: serde_json::Value = serde_json::from_slice(&fetch.next_request().unwrap()).unwrap();
/// assert_eq!(
///     body["aggs"]["groups"]["composite"]["sources"][0],
///     serde_json::json!({"bucket": {"date_histogram": {"field": "ts", "fixed_interval": "10s"}}})
/// );
/// fetch.accept(br#"{"timed_out": false, "aggregations": {"groups": {"buckets": [
///     {"key": {"bucket": 1795867210000, "protocol": "TCP"}, "doc_count": 3,
///      "m1": {"value": 1536.0}, "m1_n": {"value": 3}}]}}}"#)?;
/// let rows = fetch.finish()?;
/// assert_eq!(rows[0].start.to_rfc3339(), "2026-11-28T12:00:10+00:00");
/// assert_eq!(rows[0].partials[1], Partial::Sum { sum: Value::Int(1536), values: 3 });
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Debug)]
pub struct BucketFetch<'a> {
    plan: &'a Plan,
    layout: Layout,
    pager: Pager,
    rows: Vec<BucketRow>,
    max_rows: usize,
}

/// The name of the `date_histogram` source: `bucket`, with underscores appended until
/// it differs from every dimension (source names must be unique).
fn histogram_name(plan: &Plan) -> String {
    let mut name = "bucket".to_owned();
    while plan.dims.iter().any(|(d, _)| *d == name) {
        name.push('_');
    }
    name
}

/// `fixed_interval` for a width of `ms` milliseconds: whole seconds as `{n}s`, else
/// `{n}ms`.
fn fixed_interval(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl<'a> BucketFetch<'a> {
    /// Checks the spec and the request, and builds the first page's body.
    pub(crate) fn new(
        plan: &'a Plan,
        request: &BucketRequest,
        page_size: usize,
        max_rows: usize,
    ) -> Result<Self> {
        if let Some(m) = plan
            .metrics
            .iter()
            .find(|m| m.kind == MetricKind::CountDistinct)
        {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "metric `{}` is count_distinct, which the bucket cache cannot merge: the \
                     distinct counts of buckets do not add up (a value seen in two buckets \
                     would count twice); use the direct mode for this table, or drop the metric",
                    m.column
                ),
            )
            .with_context("column", &m.column));
        }
        let width = request.width;
        let width_ms = i64::try_from(width.as_millis())
            .ok()
            .filter(|ms| *ms > 0 && width.subsec_nanos().is_multiple_of(1_000_000))
            .ok_or_else(|| {
                Error::invalid_parameter(format!(
                    "the bucket width {width:?} is not a positive whole number of \
                     milliseconds; give one such as 10 s"
                ))
            })?;
        let start = request.range.start;
        if !start.timestamp_subsec_nanos().is_multiple_of(1_000_000)
            || start.timestamp_millis().rem_euclid(width_ms) != 0
        {
            return Err(Error::invalid_parameter(format!(
                "the range starts at {}, which is not a bucket boundary (a multiple of \
                 {width:?} since the epoch); start it on one",
                start.to_rfc3339()
            )));
        }
        let time = plan.spec.time_column();
        let query = filters::query(time, &request.range, plan.spec.filters())?;
        let source = histogram_name(plan);
        let histogram = composite::date_histogram(&source, time, &fixed_interval(width_ms));
        Ok(BucketFetch {
            plan,
            layout: Layout {
                source,
                width_ms,
                range: request.range,
            },
            pager: Pager::new(composite::body(plan, query, page_size, Some(histogram))),
            rows: Vec::new(),
            max_rows,
        })
    }

    /// The JSON body of the next search, or `None` when every (bucket, group) has been
    /// read.
    pub fn next_request(&self) -> Option<Vec<u8>> {
        self.pager.next_request()
    }

    /// Reads the answer to the last request: appends its rows and moves to the next
    /// page. Fails on an answer it cannot read or whose bucket keys are not the
    /// requested buckets, on a partial answer (failed shards, `timed_out`: retryable),
    /// when the rows pass `max_bucket_rows` ([`ErrorKind::LimitExceeded`]), or when the
    /// server repeats an `after_key`.
    pub fn accept(&mut self, body: &[u8]) -> Result<()> {
        self.pager.check_open()?;
        let page = bucket_page(self.plan, &self.layout, body, &mut self.rows, self.max_rows)?;
        if let Some(why) = page.partial {
            // A cache must never apply part of a tail: it would replace whole buckets
            // with some of their rows.
            return Err(Error::unavailable(format!(
                "Elasticsearch answered with part of the data ({why}); a bucket fetch is \
                 all or nothing, so nothing was applied and it will be retried"
            )));
        }
        self.pager.advance(page.after_key, page.buckets)
    }

    /// The pages read so far.
    pub fn pages(&self) -> usize {
        self.pager.pages()
    }

    /// Every (bucket, group) row, in the server's order (bucket, then dimensions).
    /// Fails if pages are still unread: a bucket fetch is never silently truncated.
    pub fn finish(self) -> Result<Vec<BucketRow>> {
        if !self.pager.is_done() {
            return Err(Error::new(
                ErrorKind::Unexpected,
                "the bucket fetch stopped before its last page",
            ));
        }
        Ok(self.rows)
    }
}

impl Paged for BucketFetch<'_> {
    fn next_request(&self) -> Option<Vec<u8>> {
        BucketFetch::next_request(self)
    }

    fn accept(&mut self, body: &[u8]) -> Result<()> {
        BucketFetch::accept(self, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(fixed_interval(10_000), "10s");
        assert_eq!(fixed_interval(60_000), "60s");
        assert_eq!(fixed_interval(1_500), "1500ms");
    }
}
