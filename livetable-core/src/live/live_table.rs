//! [`LiveTable`]: one shared refresh loop around a [`TableQuery`].
//!
//! A cheap-to-clone handle over shared state and one background task. The task is the
//! only caller of the source: however many viewers subscribe, the store sees one fetch
//! per tick. The task stops when the last handle (and the last subscription) is dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Notify, broadcast, watch};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::patch::{Patch, diff};
use super::subscription::{SubscriberGuard, Subscription};
use crate::error::{Error, ErrorKind, Result};
use crate::filter::Filter;
use crate::query::{FetchContext, Fetched, SharedQuery, TableQuery, Window};
use crate::schema::{Row, Schema};
use crate::snapshot::{FetchInfo, Snapshot, Status};

/// Refresh settings of a [`LiveTable`]. Defaults: a 6 s interval, a 1 s floor, a 30 s
/// fetch timeout, retries from 500 ms doubling up to the interval, idle after 60 s
/// without a viewer, a 1 h window.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RefreshConfig {
    /// Time between two fetches.
    pub interval: Duration,
    /// The smallest interval allowed, protecting the store.
    pub min_interval: Duration,
    /// How long a fetch may take before it is abandoned as a timeout.
    pub fetch_timeout: Duration,
    /// The first retry delay after an error; it doubles up to `interval`.
    pub retry_initial: Duration,
    /// How long a table with no subscriber keeps refreshing after the last demand.
    pub idle_grace: Duration,
    /// How many updates a subscriber may fall behind before it is resynchronised with
    /// a full snapshot.
    pub channel_capacity: usize,
    /// Tick on multiples of `interval` since the epoch (after the first fetch), so that
    /// every view of a table with the same interval fetches at the same instants.
    /// Default `false`; turned on for sources whose views share one refresh
    /// ([`TableQuery::shared_refresh`], e.g. a [`BucketCache`](crate::BucketCache)).
    pub align_ticks: bool,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            interval: Duration::from_secs(6),
            min_interval: Duration::from_secs(1),
            fetch_timeout: Duration::from_secs(30),
            retry_initial: Duration::from_millis(500),
            idle_grace: Duration::from_secs(60),
            channel_capacity: 32,
            align_ticks: false,
        }
    }
}

impl RefreshConfig {
    /// Checks the settings; the error names the bad one.
    pub fn validate(&self) -> Result<()> {
        if self.min_interval.is_zero() {
            return Err(Error::invalid_spec("min_interval must be positive"));
        }
        if self.interval < self.min_interval {
            return Err(Error::invalid_spec(format!(
                "refresh interval {:?} is below the floor of {:?}; raise the interval or \
                 lower min_interval",
                self.interval, self.min_interval
            )));
        }
        if self.fetch_timeout.is_zero() {
            return Err(Error::invalid_spec("fetch_timeout must be positive"));
        }
        if self.retry_initial.is_zero() {
            return Err(Error::invalid_spec("retry_initial must be positive"));
        }
        if self.channel_capacity == 0 {
            return Err(Error::invalid_spec("channel_capacity must be positive"));
        }
        Ok(())
    }
}

/// Counters of a [`LiveTable`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableStats {
    /// Fetches started.
    pub fetches: u64,
    /// Fetches that failed (timeouts included).
    pub errors: u64,
    /// Fetches abandoned after `fetch_timeout`.
    pub timeouts: u64,
    /// Ticks skipped because the previous fetch was still running.
    pub skipped_ticks: u64,
    /// How long the last finished fetch took.
    pub last_fetch: Option<Duration>,
    /// Subscriptions currently open.
    pub subscribers: usize,
    /// Whether the table has stopped fetching for lack of viewers.
    pub idle: bool,
    /// The current snapshot's version.
    pub version: u64,
}

#[derive(Debug, Default)]
struct RefreshCounters {
    fetches: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    skipped_ticks: AtomicU64,
    last_fetch_micros: AtomicU64,
}

/// Wall-clock time derived from tokio's monotonic clock, so paused-time tests control
/// window edges too, and a wall-clock step never makes a window jump backwards.
#[derive(Debug, Clone, Copy)]
struct WallClock {
    base_utc: DateTime<Utc>,
    base: Instant,
}

impl WallClock {
    fn new() -> Self {
        WallClock {
            base_utc: Utc::now(),
            base: Instant::now(),
        }
    }

    /// The first instant after now on a multiple of `interval` since the epoch.
    fn next_multiple(&self, interval: Duration) -> Instant {
        let step = i64::try_from(interval.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let wait = step - self.now().timestamp_millis().rem_euclid(step);
        Instant::now() + Duration::from_millis(wait.unsigned_abs())
    }

    fn now(&self) -> DateTime<Utc> {
        let elapsed = TimeDelta::from_std(self.base.elapsed()).unwrap_or(TimeDelta::MAX);
        let t = self
            .base_utc
            .checked_add_signed(elapsed)
            .unwrap_or(self.base_utc);
        // Whole milliseconds: the precision every store (and JSON) keeps.
        DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
    }
}

/// What a live table fetches: its window length and viewer filters.
///
/// There is no row limit here: a live table keeps every row its source returns (the
/// source's own top-N, such as an [`Aggregate`](crate::Aggregate)'s `limit`, applies
/// in the source's order), so the runtime never cuts rows without knowing the order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ViewSpec {
    /// The window length; each tick fetches `[now - window, now)`.
    pub window: Duration,
    /// Filters on dimension columns, validated and normalised.
    pub filters: Vec<Filter>,
    /// The dimensions to group by (positions in the source's schema, in order), when
    /// fewer than the source's: see [`FetchContext::group_by`]. The view's rows are
    /// then in [`Schema::grouped`] of the source's schema.
    pub group_by: Option<Vec<usize>>,
    /// The metric whose per-step trend the view carries (see [`FetchContext::trend`]).
    pub trend: Option<String>,
}

impl ViewSpec {
    /// A view of `window` with no filter, grouped as the source is.
    pub fn new(window: Duration) -> Self {
        ViewSpec {
            window,
            filters: Vec::new(),
            group_by: None,
            trend: None,
        }
    }
}

pub(super) struct Shared {
    name: Arc<str>,
    instance: u64,
    query: SharedQuery,
    schema: Arc<Schema>,
    config: RefreshConfig,
    view: ViewSpec,
    clock: WallClock,
    snapshots: watch::Sender<Arc<Snapshot>>,
    updates: broadcast::Sender<Arc<Patch>>,
    wake: Notify,
    shutdown: AtomicBool,
    refresh_requested: AtomicBool,
    idle: AtomicBool,
    subscribers: AtomicUsize,
    /// The last time someone asked for data. Std mutexes here: never held across an
    /// `.await`.
    last_demand: Mutex<Instant>,
    /// The latest patches, oldest first, for subscribers resuming from a version. Its
    /// lock also makes "publish" and "read the state" atomic with respect to each other.
    history: Mutex<VecDeque<Arc<Patch>>>,
    counters: RefreshCounters,
}

impl Shared {
    /// Records a demand and wakes the task if it went idle.
    fn demand(&self) {
        if let Ok(mut t) = self.last_demand.lock() {
            *t = Instant::now();
        }
        if self.idle.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
    }

    pub(super) fn add_subscriber(&self) {
        self.subscribers.fetch_add(1, Ordering::AcqRel);
        self.demand();
    }

    pub(super) fn remove_subscriber(&self) {
        self.subscribers.fetch_sub(1, Ordering::AcqRel);
        self.demand(); // the grace period runs from the last viewer leaving
    }

    pub(super) fn snapshots(&self) -> &watch::Sender<Arc<Snapshot>> {
        &self.snapshots
    }

    pub(super) fn updates(&self) -> &broadcast::Sender<Arc<Patch>> {
        &self.updates
    }

    /// The current snapshot and, for `since = Some(v)`, the patches after `v` when the
    /// history holds all of them (`None` otherwise).
    pub(super) fn state_since(
        &self,
        since: Option<u64>,
    ) -> (Arc<Snapshot>, Option<Vec<Arc<Patch>>>) {
        let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.snapshots.borrow().clone();
        let missed = since.and_then(|v| {
            if v == current.version {
                return Some(Vec::new());
            }
            let start = history.iter().position(|p| p.from_version == v)?;
            let missed: Vec<_> = history.iter().skip(start).cloned().collect();
            let chained = missed
                .windows(2)
                .all(|w| w[0].to_version == w[1].from_version);
            let complete = missed
                .last()
                .is_some_and(|p| p.to_version == current.version);
            (chained && complete).then_some(missed)
        });
        (current, missed)
    }

    fn is_idle(&self) -> bool {
        if self.subscribers.load(Ordering::Acquire) > 0 {
            return false;
        }
        let last = self
            .last_demand
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|_| Instant::now());
        last.elapsed() >= self.config.idle_grace
    }
}

/// Stops the task when the last handle goes.
pub(super) struct Guard(pub(super) Arc<Shared>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.shutdown.store(true, Ordering::Release);
        self.0.wake.notify_one();
    }
}

/// A live table: the latest snapshot of a [`TableQuery`], refreshed on an interval by
/// one background task and shared by every viewer.
///
/// - [`snapshot`](LiveTable::snapshot) returns the latest snapshot at once;
/// - [`subscribe`](LiveTable::subscribe) yields it, then patches and status changes;
/// - on errors the last good rows are kept, marked [`Status::Stale`], while the task
///   retries with backoff;
/// - with no subscriber and no demand for `idle_grace`, the table stops fetching, and
///   resumes on the next demand.
///
/// Cloning is cheap; the task stops when the last clone and subscription are dropped.
/// Must be started inside a tokio runtime.
///
/// ```
/// use std::time::Duration;
/// use livetable_core::{Column, DataType, FetchContext, Fetched, LiveTable, Result, Row, Schema, TableQuery, Value};
///
/// struct Clock(Schema);
/// impl TableQuery for Clock {
///     fn schema(&self) -> &Schema { &self.0 }
///     async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
///         Ok(vec![Row::new(vec![Value::from("now"), Value::from(ctx.window.end)])].into())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let schema = Schema::new(vec![
///     Column::dimension("what", DataType::Text),
///     Column::metric("at", DataType::Timestamp),
/// ])?;
/// let table = LiveTable::builder("clock", Clock(schema))
///     .interval(Duration::from_secs(2))
///     .start()?;
/// let first = table.ready().await;
/// assert_eq!(first.rows.len(), 1);
/// assert_eq!(table.stats().fetches, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct LiveTable {
    guard: Arc<Guard>,
}

impl std::fmt::Debug for LiveTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTable")
            .field("name", &self.name())
            .field("view", &self.shared().view)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Configures and starts a [`LiveTable`].
#[derive(Debug)]
pub struct LiveTableBuilder {
    name: String,
    query: SharedQuery,
    config: RefreshConfig,
    view: ViewSpec,
}

impl LiveTableBuilder {
    /// Time between fetches (default 6 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.config.interval = interval;
        self
    }

    /// The smallest interval allowed (default 1 s).
    pub fn min_interval(mut self, floor: Duration) -> Self {
        self.config.min_interval = floor;
        self
    }

    /// How long a fetch may run (default 30 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.config.fetch_timeout = timeout;
        self
    }

    /// How long the table keeps refreshing with nobody watching (default 60 s).
    pub fn idle_grace(mut self, grace: Duration) -> Self {
        self.config.idle_grace = grace;
        self
    }

    /// All refresh settings at once.
    pub fn config(mut self, config: RefreshConfig) -> Self {
        self.config = config;
        self
    }

    /// The window length (default 1 h).
    pub fn window(mut self, window: Duration) -> Self {
        self.view.window = window;
        self
    }

    /// The view: window, filters and limit. Filters must already be validated against
    /// the schema (see [`Table::view`](crate::Table::view)).
    pub fn view(mut self, view: ViewSpec) -> Self {
        self.view = view;
        self
    }

    /// Validates the settings and starts the background task.
    ///
    /// Fails outside a tokio runtime, or when a setting is out of range.
    pub fn start(mut self) -> Result<LiveTable> {
        self.config.validate()?;
        self.config.align_ticks |= self.query.shared_refresh();
        if self.view.window.is_zero() {
            return Err(Error::invalid_spec(
                "the window is zero; give a window length",
            ));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::new(
                ErrorKind::Unsupported,
                "a live table runs a background task: start it inside a tokio runtime",
            )
        })?;
        let schema = Arc::new(match &self.view.group_by {
            Some(positions) => self.query.schema().grouped(positions)?,
            None => self.query.schema().clone(),
        });
        let clock = WallClock::new();
        let window = Window::ending_at(clock.now(), self.view.window)?;
        let (snapshots, _) = watch::channel(Arc::new(Snapshot::loading(schema.clone(), window)));
        let (updates, _) = broadcast::channel(self.config.channel_capacity);
        // Process-unique, so a version number is never mistaken for one of another
        // table that had the same name (e.g. a view dropped and started again).
        static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);
        let shared = Arc::new(Shared {
            name: self.name.into(),
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            query: self.query,
            schema,
            config: self.config,
            view: self.view,
            clock,
            snapshots,
            updates,
            wake: Notify::new(),
            shutdown: AtomicBool::new(false),
            refresh_requested: AtomicBool::new(false),
            idle: AtomicBool::new(false),
            subscribers: AtomicUsize::new(0),
            last_demand: Mutex::new(Instant::now()),
            history: Mutex::new(VecDeque::new()),
            counters: RefreshCounters::default(),
        });
        runtime.spawn(refresh_loop(shared.clone()));
        Ok(LiveTable {
            guard: Arc::new(Guard(shared)),
        })
    }
}

impl LiveTable {
    /// A builder for a table named `name` (used in errors and logs) over `query`.
    pub fn builder(name: impl Into<String>, query: impl TableQuery) -> LiveTableBuilder {
        Self::builder_shared(name, Arc::new(query))
    }

    /// Like [`builder`](LiveTable::builder) for an already shared source.
    pub fn builder_shared(name: impl Into<String>, query: SharedQuery) -> LiveTableBuilder {
        LiveTableBuilder {
            name: name.into(),
            query,
            config: RefreshConfig::default(),
            view: ViewSpec::new(Duration::from_secs(3600)),
        }
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.guard.0
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.shared().name
    }

    /// The schema of the rows.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.shared().schema
    }

    /// A number unique to this live table within the process. Versions count from 0
    /// for every live table, so a client resuming from a version must also name the
    /// instance (the HTTP adapter puts both in its event ids).
    pub fn instance_id(&self) -> u64 {
        self.shared().instance
    }

    /// The view this table fetches.
    pub fn view(&self) -> &ViewSpec {
        &self.shared().view
    }

    /// How often it refreshes, when it times out, idles and gives up waiting.
    pub fn config(&self) -> &RefreshConfig {
        &self.shared().config
    }

    /// The latest snapshot, at once: never waits on the store. Counts as a demand, so
    /// an idle table resumes refreshing.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared().demand();
        self.shared().snapshots.borrow().clone()
    }

    /// Waits for the first fetch to finish (successfully or not) and returns the
    /// snapshot; returns at once after that.
    pub async fn ready(&self) -> Arc<Snapshot> {
        self.shared().demand();
        let mut rx = self.shared().snapshots.subscribe();
        let got = rx
            .wait_for(|s| !matches!(s.status, Status::Loading))
            .await
            .map(|s| s.clone());
        // The sender lives in `Shared`, which `self` keeps alive: the wait cannot fail.
        got.unwrap_or_else(|_| self.shared().snapshots.borrow().clone())
    }

    /// Asks for a fetch now rather than at the next tick and waits for its snapshot.
    /// A fetch already running is shared rather than doubled, and the interval floor
    /// still applies between two fetches.
    pub async fn refresh(&self) -> Arc<Snapshot> {
        let shared = self.shared();
        let mut rx = shared.snapshots.subscribe();
        let seen = rx.borrow_and_update().version;
        shared.refresh_requested.store(true, Ordering::Release);
        shared.demand();
        shared.wake.notify_one();
        let got = rx.wait_for(|s| s.version > seen).await.map(|s| s.clone());
        got.unwrap_or_else(|_| shared.snapshots.borrow().clone())
    }

    /// The current snapshot, then every update: patches and status changes, or a full
    /// snapshot when the subscriber fell behind. See [`Subscription`].
    pub fn subscribe(&self) -> Subscription {
        Subscription::new(
            self.guard.clone(),
            SubscriberGuard::new(self.shared().clone()),
            None,
        )
    }

    /// Resumes a subscriber that holds `version` (e.g. from an SSE `Last-Event-ID`): it
    /// receives only the patches it missed when they are all still held (the last
    /// `channel_capacity` versions), or a full snapshot first otherwise.
    pub fn subscribe_from(&self, version: u64) -> Subscription {
        Subscription::new(
            self.guard.clone(),
            SubscriberGuard::new(self.shared().clone()),
            Some(version),
        )
    }

    /// Fetches, errors, timeouts, skipped ticks and subscribers so far, and the last
    /// fetch's duration.
    pub fn stats(&self) -> TableStats {
        let s = self.shared();
        let c = &s.counters;
        let last = c.last_fetch_micros.load(Ordering::Acquire);
        TableStats {
            fetches: c.fetches.load(Ordering::Acquire),
            errors: c.errors.load(Ordering::Acquire),
            timeouts: c.timeouts.load(Ordering::Acquire),
            skipped_ticks: c.skipped_ticks.load(Ordering::Acquire),
            last_fetch: (last > 0).then(|| Duration::from_micros(last)),
            subscribers: s.subscribers.load(Ordering::Acquire),
            idle: s.idle.load(Ordering::Acquire),
            version: s.snapshots.borrow().version,
        }
    }
}

/// Aborts a spawned fetch when dropped: a timed-out fetch must not keep running.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one fetch in its own task so a panic in the source becomes an error, and
/// abandons it after the timeout.
async fn guarded_fetch(shared: &Shared, ctx: FetchContext) -> Result<Fetched> {
    let query = shared.query.clone();
    let mut task = AbortOnDrop(tokio::spawn(async move { query.dyn_fetch(&ctx).await }));
    let timeout = shared.config.fetch_timeout;
    match tokio::time::timeout(timeout, &mut task.0).await {
        Err(_) => {
            shared.counters.timeouts.fetch_add(1, Ordering::AcqRel);
            Err(Error::new(
                ErrorKind::Timeout,
                format!("the source did not answer within {timeout:?}; it will be retried"),
            ))
        }
        Ok(Err(join)) => {
            let why = if join.is_panic() {
                let payload = join.into_panic();
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".to_owned());
                format!("the source panicked: {msg}")
            } else {
                "the fetch task was cancelled".to_owned()
            };
            Err(Error::new(ErrorKind::Unexpected, why).with_retryable(true))
        }
        Ok(Ok(result)) => result,
    }
}

/// Re-applies the view's filters (sources may ignore them) and checks the rows (and
/// their trend) against the schema, so a faulty source cannot publish a malformed table.
fn finish_rows(shared: &Shared, fetched: &mut Fetched) -> Result<()> {
    for row in &fetched.rows {
        shared.schema.check_row(row)?;
    }
    match (&shared.view.trend, &fetched.trend) {
        (Some(_), Some(trend)) => trend.check(fetched.rows.len())?,
        // No rows need no series (a source with nothing yet may say nothing).
        (Some(_), None) if fetched.rows.is_empty() => {}
        (Some(metric), None) => {
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!("the source returned no trend of `{metric}` although asked"),
            ));
        }
        (None, _) => fetched.trend = None,
    }
    if !shared.view.filters.is_empty() {
        let filters: Vec<(usize, &Filter)> = shared
            .view
            .filters
            .iter()
            .filter_map(|f| shared.schema.index_of(f.column()).map(|i| (i, f)))
            .collect();
        let keep: Vec<bool> = fetched
            .rows
            .iter()
            .map(|r| filters.iter().all(|(i, f)| f.matches(&r[*i])))
            .collect();
        let mut kept = keep.iter();
        fetched.rows.retain(|_| kept.next() == Some(&true));
        if let Some(trend) = &mut fetched.trend {
            let mut kept = keep.iter();
            trend.series.retain(|_| kept.next() == Some(&true));
        }
    }
    Ok(())
}

/// Publishes a new snapshot and the patch to it.
fn publish(shared: &Shared, next: Snapshot) {
    let next = Arc::new(next);
    let previous = shared.snapshots.borrow().clone();
    // Diffing costs O(rows): skip it when nobody listens for patches (a subscriber
    // arriving later starts from a full snapshot anyway).
    let patch = (shared.updates.receiver_count() > 0).then(|| Arc::new(diff(&previous, &next)));
    let mut history = shared.history.lock().unwrap_or_else(|e| e.into_inner());
    shared.snapshots.send_replace(next);
    match patch {
        Some(patch) => {
            if history.len() >= shared.config.channel_capacity {
                history.pop_front();
            }
            history.push_back(patch.clone());
            let _ = shared.updates.send(patch); // no receiver left is fine
        }
        None => history.clear(),
    }
}

async fn refresh_loop(shared: Arc<Shared>) {
    let mut schedule = Schedule::new(shared.config.clone());
    debug!(table = %shared.name, "live table started");
    while schedule.wait(&shared).await {
        let started = Instant::now();
        schedule.last_start = Some(started);
        let taken_at = shared.clock.now();
        let result = fetch_once(&shared, taken_at).await;
        let took = started.elapsed();
        shared
            .counters
            .last_fetch_micros
            .store(took.as_micros().max(1) as u64, Ordering::Release);
        match result {
            Ok((window, rows, fetched)) => {
                schedule.succeeded(&shared);
                publish_fresh(&shared, rows, window, fetched, taken_at, took);
            }
            Err(error) => {
                let error = error
                    .with_context("table", &shared.name)
                    .with_context("after", format!("{took:?}"));
                let since = schedule.failed(&shared, &error, taken_at);
                publish_stale(&shared, since, error);
            }
        }
    }
    debug!(table = %shared.name, "live table stopped");
}

/// The refresh loop's state between fetches: when the next one starts, and the run of
/// failures that sets the backoff and the stale time.
struct Schedule {
    config: RefreshConfig,
    /// When the next fetch starts.
    next_tick: Instant,
    /// When the last fetch started: a refresh request waits `min_interval` after it.
    last_start: Option<Instant>,
    /// Fetches failed in a row.
    failures: u32,
    /// When the first fetch of the current run of failures started.
    stale_since: Option<DateTime<Utc>>,
}

impl Schedule {
    fn new(config: RefreshConfig) -> Self {
        Schedule {
            config,
            next_tick: Instant::now(),
            last_start: None,
            failures: 0,
            stale_since: None,
        }
    }

    /// Waits for the next tick or an earlier refresh request, sleeping while no viewer
    /// watches; `false` once the table shuts down.
    async fn wait(&mut self, shared: &Shared) -> bool {
        loop {
            if shared.shutdown.load(Ordering::Acquire) {
                return false;
            }
            if shared.is_idle() {
                if !shared.idle.swap(true, Ordering::AcqRel) {
                    debug!(table = %shared.name, "no viewer: refresh paused");
                }
                // `demand` checks the flag after setting it, so no wake-up is lost.
                if shared.is_idle() {
                    shared.wake.notified().await;
                }
                continue;
            }
            if shared.idle.swap(false, Ordering::AcqRel) {
                debug!(table = %shared.name, "viewer back: refresh resumed");
                self.next_tick = Instant::now();
            }
            if shared.refresh_requested.swap(false, Ordering::AcqRel) {
                let earliest = self
                    .last_start
                    .map_or(Instant::now(), |t| t + self.config.min_interval);
                self.next_tick = self.next_tick.min(earliest.max(Instant::now()));
            }
            tokio::select! {
                _ = tokio::time::sleep_until(self.next_tick) => return true,
                _ = shared.wake.notified() => continue,
            }
        }
    }

    /// After a good fetch: the failures are over, and the next tick is the next one on
    /// the schedule (ticks that passed during the fetch are skipped, never stacked).
    fn succeeded(&mut self, shared: &Shared) {
        if self.failures > 0 {
            debug!(table = %shared.name, "source recovered");
        }
        self.failures = 0;
        self.stale_since = None;
        self.next_tick += self.config.interval;
        let now = Instant::now();
        while self.next_tick <= now {
            self.next_tick += self.config.interval;
            shared.counters.skipped_ticks.fetch_add(1, Ordering::AcqRel);
        }
        if self.config.align_ticks {
            self.next_tick = shared.clock.next_multiple(self.config.interval);
        }
    }

    /// After a failed fetch that started at `taken_at`: counts it, backs off
    /// exponentially (at most one interval), and returns since when the table is stale.
    fn failed(&mut self, shared: &Shared, error: &Error, taken_at: DateTime<Utc>) -> DateTime<Utc> {
        shared.counters.errors.fetch_add(1, Ordering::AcqRel);
        self.failures = self.failures.saturating_add(1);
        let failures = self.failures;
        warn!(table = %shared.name, error = %error, failures, "fetch failed; serving the last good snapshot");
        let backoff = self
            .config
            .retry_initial
            .saturating_mul(1u32 << (failures - 1).min(16))
            .min(self.config.interval);
        self.next_tick = Instant::now() + backoff;
        *self.stale_since.get_or_insert(taken_at)
    }
}

/// One fetch of the view's window ending at `taken_at`, its rows checked and filtered.
async fn fetch_once(
    shared: &Shared,
    taken_at: DateTime<Utc>,
) -> Result<(Window, Vec<Row>, Fetched)> {
    shared.counters.fetches.fetch_add(1, Ordering::AcqRel);
    let window = Window::ending_at(taken_at, shared.view.window)?;
    let ctx = FetchContext::new(window)
        .with_filters(shared.view.filters.clone())
        .with_group_by(shared.view.group_by.clone())
        .with_trend(shared.view.trend.clone());
    let mut fetched = guarded_fetch(shared, ctx).await?;
    finish_rows(shared, &mut fetched)?;
    let rows = std::mem::take(&mut fetched.rows);
    Ok((window, rows, fetched))
}

/// Publishes the rows of a good fetch as the next version, fresh.
fn publish_fresh(
    shared: &Shared,
    rows: Vec<Row>,
    window: Window,
    fetched: Fetched,
    taken_at: DateTime<Utc>,
    took: Duration,
) {
    let version = shared.snapshots.borrow().version + 1;
    publish(
        shared,
        Snapshot {
            schema: shared.schema.clone(),
            rows,
            version,
            fetch: FetchInfo {
                window: fetched.covered.unwrap_or(window),
                taken_at,
                fetch_duration: took,
                approximate: fetched.approximate,
                partial: fetched.partial,
            },
            status: Status::Fresh,
            trend: fetched.trend.map(Arc::new),
        },
    );
}

/// Publishes the last good rows again as the next version, stale since `since`.
fn publish_stale(shared: &Shared, since: DateTime<Utc>, error: Error) {
    let previous = shared.snapshots.borrow().clone();
    publish(
        shared,
        Snapshot {
            version: previous.version + 1,
            status: Status::Stale {
                since,
                error: Arc::new(error),
            },
            ..(*previous).clone()
        },
    );
}
