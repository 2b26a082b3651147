//! The table the fan-out harness serves: the top 500 rows of the reference packets
//! table, of which 1 % change at each tick, behind a source that counts its fetches and
//! stamps the end of each.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use livetable::{
    FetchContext, Fetched, MemorySource, Result, Row, Schema, TableQuery, Value, Window,
};
use livetable_testkit::workload::{EventLayout, Workload, five_dim_spec};
use tokio::sync::watch;

use super::wire::unix_nanos;

/// Rows in the table.
pub(crate) const ROWS: usize = 500;
/// Rows changed per tick: 1 %.
pub(crate) const CHANGED_PER_TICK: usize = ROWS / 100;

/// The top 500 (source, source port, destination, destination port, protocol) groups
/// of 200,000 reference packets (seed 42), as the 5-dimension spec computes them.
pub(crate) async fn reference_rows() -> Result<(Schema, Vec<Row>)> {
    let spec = five_dim_spec();
    let layout = EventLayout::new(&spec)?;
    let source = MemorySource::new(spec)?;
    // A fixed, valid date: the workload is the same in every run.
    let end = Utc
        .with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
        .single()
        .ok_or_else(|| livetable::Error::invalid_parameter("bad reference date"))?;
    let packets = Workload::new(42).generate(200_000, end);
    source.push_batch(layout.events(&packets))?;
    let window = Window::ending_at(end, Duration::from_secs(3600))?;
    let rows = source.fetch(&FetchContext::new(window)).await?.rows;
    Ok((source.schema().clone(), rows))
}

/// When the table's data changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Changes {
    /// Each fetch sees the next state (the live table fetches once per tick).
    OnFetch,
    /// [`Packets::advance`] is called by a ticker (the polling baseline, where a tick
    /// sees many fetches).
    OnTick,
}

struct State {
    generation: u64,
    rows: Vec<Row>,
}

/// The counting source.
pub(crate) struct Packets {
    schema: Schema,
    changes: Changes,
    state: Mutex<State>,
    count_column: usize,
    size_column: usize,
    fetches: AtomicU64,
    /// Wall-clock end of each fetch (unix ns), by the end of its window (unix ms):
    /// the live table's patches carry that window, so a viewer's receipt is matched to
    /// the fetch that produced it.
    fetch_ends: Mutex<HashMap<i64, u64>>,
    fetched: watch::Sender<u64>,
}

impl std::fmt::Debug for Packets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packets")
            .field("changes", &self.changes)
            .field("fetches", &self.fetches())
            .finish_non_exhaustive()
    }
}

impl Packets {
    pub(crate) fn new(schema: Schema, rows: Vec<Row>, changes: Changes) -> Result<Arc<Self>> {
        let (count_column, _) = schema.require("count")?;
        let (size_column, _) = schema.require("total_size")?;
        if rows.len() != ROWS {
            return Err(livetable::Error::invalid_parameter(format!(
                "the reference table has {} rows, expected {ROWS}",
                rows.len()
            )));
        }
        Ok(Arc::new(Packets {
            schema,
            changes,
            state: Mutex::new(State {
                generation: 0,
                rows,
            }),
            count_column,
            size_column,
            fetches: AtomicU64::new(0),
            fetch_ends: Mutex::new(HashMap::new()),
            fetched: watch::channel(0).0,
        }))
    }

    /// Fetches so far.
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Acquire)
    }

    /// The end of the fetch whose window ended at `window_end_ms`.
    pub(crate) fn fetch_end(&self, window_end_ms: i64) -> Option<u64> {
        let ends = self.fetch_ends.lock().unwrap_or_else(|e| e.into_inner());
        ends.get(&window_end_ms).copied()
    }

    /// Waits for the next fetch to end.
    pub(crate) async fn next_fetch(&self) {
        let mut rx = self.fetched.subscribe();
        rx.borrow_and_update();
        let _ = rx.changed().await; // the sender lives in `self`
    }

    /// Moves to the next state: 1 % of the rows (the next five, round robin) get more
    /// packets and bytes.
    pub(crate) fn advance(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Self::advance_locked(&mut state, self.count_column, self.size_column);
    }

    fn advance_locked(state: &mut State, count_column: usize, size_column: usize) {
        state.generation += 1;
        let g = state.generation;
        for j in 0..CHANGED_PER_TICK as u64 {
            let i = ((g * CHANGED_PER_TICK as u64 + j) % ROWS as u64) as usize;
            let values = state.rows[i].values_mut();
            let more = 1 + (g + j) as i64 % 7;
            if let Value::Int(n) = &mut values[count_column] {
                *n += more;
            }
            if let Value::Int(n) = &mut values[size_column] {
                *n += more * 1500;
            }
        }
    }

    /// One fetch: the rows of the current state (the next one for
    /// [`Changes::OnFetch`]), its generation and the fetch's end (unix ns). Both the
    /// live table (through [`TableQuery`]) and the polling handler fetch here.
    pub(crate) fn fetch_rows(&self, window: &Window) -> (u64, Vec<Row>, u64) {
        self.fetches.fetch_add(1, Ordering::AcqRel);
        let (generation, rows) = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if self.changes == Changes::OnFetch {
                Self::advance_locked(&mut state, self.count_column, self.size_column);
            }
            (state.generation, state.rows.clone())
        };
        let end = unix_nanos();
        if self.changes == Changes::OnFetch {
            let mut ends = self.fetch_ends.lock().unwrap_or_else(|e| e.into_inner());
            ends.insert(window.end.timestamp_millis(), end);
        }
        self.fetched.send_modify(|n| *n += 1);
        (generation, rows, end)
    }
}

/// The live table's view of [`Packets`].
#[derive(Debug, Clone)]
pub(crate) struct Source(pub(crate) Arc<Packets>);

impl TableQuery for Source {
    fn schema(&self) -> &Schema {
        &self.0.schema
    }

    async fn fetch(&self, ctx: &FetchContext) -> Result<Fetched> {
        let (_, rows, _) = self.0.fetch_rows(&ctx.window);
        Ok(rows.into())
    }
}
