//! [`CompositeFetch`]: the paging of one composite fetch, without I/O; [`Pager`], the
//! `after_key` paging it shares with [`BucketFetch`](crate::sans_io::BucketFetch).

use std::sync::Arc;

use livetable_core::{Error, ErrorKind, FetchContext, Fetched, Result, Row};
use serde_json::Value as Json;

use crate::plan::Plan;
use crate::request::{composite, filters};
use crate::response::search;

/// The state of one composite-aggregation fetch, independent of how requests travel:
/// ask [`next_request`](CompositeFetch::next_request) for a body, send it, hand the
/// answer to [`accept`](CompositeFetch::accept), until `next_request` says `None`;
/// then [`finish`](CompositeFetch::finish).
///
/// [`EsAggregate`](crate::EsAggregate) drives it over HTTP; see
/// [`sans_io`](crate::sans_io) for when to drive it yourself.
///
/// ```
/// # use std::time::Duration;
/// # use livetable_core::{Aggregate, DataType, FetchContext, Metric, Window};
/// # use livetable_es::EsBuilder;
/// # let spec = Aggregate::builder().time_column("ts").window(Duration::from_secs(60))
/// #     .dimension("protocol", DataType::Text).metric(Metric::count("count")).build()?;
/// let source = EsBuilder::new("http://localhost:9200").index("packets").build()?.aggregate(spec)?;
/// # let ctx = FetchContext::new(Window::ending_at(chrono::Utc::now(), Duration::from_secs(60))?);
/// let mut fetch = source.start(&ctx)?;
/// let first = fetch.next_request().expect("a first page is always asked for");
/// let body: serde_json::Value = serde_json::from_slice(&first).unwrap();
/// assert_eq!(body["size"], 0);
/// fetch.accept(br#"{"timed_out": false, "aggregations": {"groups": {"buckets": [
///     {"key": {"protocol": "TCP"}, "doc_count": 3}]}}}"#)?;
/// assert!(fetch.next_request().is_none()); // no after_key: done
/// let table = fetch.finish()?;
/// assert_eq!(table.rows[0].values(), &["TCP".into(), 3.into()]);
/// # Ok::<(), livetable_core::Error>(())
/// ```
#[derive(Debug)]
pub struct CompositeFetch {
    /// The plan of the fetch's grouping (the source's own, or a grouped one it keeps).
    plan: Arc<Plan>,
    pager: Pager,
    rows: Vec<Row>,
    partial: Vec<String>,
    max_groups: usize,
    limit: Option<usize>,
}

/// The paging of one composite aggregation named `groups`: the body of the next
/// request, and moving to the next page by the `after_key` of the last.
#[derive(Debug)]
pub(crate) struct Pager {
    body: Json,
    pages: usize,
    done: bool,
}

impl Pager {
    pub(crate) fn new(body: Json) -> Self {
        Pager {
            body,
            pages: 0,
            done: false,
        }
    }

    /// The JSON body of the next search, or `None` when every page has been read.
    pub(crate) fn next_request(&self) -> Option<Vec<u8>> {
        // Serialising a `serde_json::Value` cannot fail: its keys are strings.
        (!self.done).then(|| serde_json::to_vec(&self.body).unwrap_or_default())
    }

    /// Fails when an answer arrives after the last page.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.done {
            return Err(Error::new(
                ErrorKind::Unexpected,
                "a composite page arrived after the last one",
            ));
        }
        Ok(())
    }

    /// Moves past a page of `buckets` buckets that ended with `after_key`. Fails when
    /// the server repeats an `after_key`, as paging would never end.
    pub(crate) fn advance(&mut self, after_key: Option<Json>, buckets: usize) -> Result<()> {
        self.pages += 1;
        match after_key {
            Some(after) if buckets > 0 => {
                let slot = &self.body["aggs"]["groups"]["composite"];
                if slot.get("after") == Some(&after) {
                    return Err(Error::new(
                        ErrorKind::Unexpected,
                        format!(
                            "the server sent the same after_key twice ({after}); paging would never end"
                        ),
                    ));
                }
                composite::set_after(&mut self.body, after);
            }
            // No buckets, or no `after_key`: that was the last page.
            _ => self.done = true,
        }
        Ok(())
    }

    /// The pages read so far.
    pub(crate) fn pages(&self) -> usize {
        self.pages
    }

    /// Whether the last page has been read.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }
}

/// A paged fetch as [`EsAggregate`](crate::EsAggregate) drives it over HTTP.
pub(crate) trait Paged {
    /// The next body to send, or `None` when done.
    fn next_request(&self) -> Option<Vec<u8>>;
    /// Reads the answer to the last body sent.
    fn accept(&mut self, body: &[u8]) -> Result<()>;
}

impl CompositeFetch {
    pub(crate) fn new(
        plan: Arc<Plan>,
        ctx: &FetchContext,
        page_size: usize,
        max_groups: usize,
    ) -> Result<Self> {
        let query = filters::query(
            plan.spec.time_column(),
            &ctx.window,
            plan.spec.filters().iter().chain(&ctx.filters),
        )?;
        Ok(CompositeFetch {
            pager: Pager::new(composite::body(&plan, query, page_size, None)),
            plan,
            rows: Vec::new(),
            partial: Vec::new(),
            max_groups,
            limit: ctx.limit,
        })
    }

    /// The JSON body of the next search, or `None` when every group has been read.
    pub fn next_request(&self) -> Option<Vec<u8>> {
        self.pager.next_request()
    }

    /// Reads the answer to the last request: appends its groups and moves to the next
    /// page. Fails on an answer it cannot read, when the groups pass `max_groups`
    /// ([`ErrorKind::LimitExceeded`]), or when the server repeats an `after_key`.
    pub fn accept(&mut self, body: &[u8]) -> Result<()> {
        self.pager.check_open()?;
        let page = search::composite_page(&self.plan, body, &mut self.rows, self.max_groups)?;
        if let Some(p) = page.partial
            && !self.partial.contains(&p)
        {
            self.partial.push(p);
        }
        self.pager.advance(page.after_key, page.buckets)
    }

    /// The pages read so far.
    pub fn pages(&self) -> usize {
        self.pager.pages()
    }

    /// The rows, ordered and limited like every backend ([`Aggregate::order_and_limit`](
    /// livetable_core::Aggregate::order_and_limit)), flagged approximate when a metric is an
    /// estimate and partial when a page was. Fails if pages are still unread: a table is
    /// never silently truncated.
    pub fn finish(self) -> Result<Fetched> {
        if !self.pager.is_done() {
            return Err(Error::new(
                ErrorKind::Unexpected,
                "the composite fetch stopped before its last page",
            ));
        }
        let mut rows = self.rows;
        self.plan.spec.order_and_limit(&mut rows, self.limit);
        let mut fetched = Fetched::new(rows).approximate(self.plan.has_estimates());
        if !self.partial.is_empty() {
            fetched = fetched.partial(self.partial.join("; "));
        }
        Ok(fetched)
    }
}

impl Paged for CompositeFetch {
    fn next_request(&self) -> Option<Vec<u8>> {
        CompositeFetch::next_request(self)
    }

    fn accept(&mut self, body: &[u8]) -> Result<()> {
        CompositeFetch::accept(self, body)
    }
}
