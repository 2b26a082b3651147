//! What the harness and its viewer process tell each other.
//!
//! The viewers run in a child process (the bench binary again, with
//! [`ROLE_VAR`] set) so that the server's `getrusage` holds the server's work only.
//! The child writes lines on its standard output:
//! - `READY` once every viewer is connected and holds the table;
//! - `DONE` once every viewer has its last update (or the deadline passed);
//! - `RESULT <json>`: the [`Report`];
//! - `FAIL <why>` instead, when it cannot go on.
//!
//! The harness writes one line on the child's standard input: `RUN <target> <secs>`:
//! for event streams the version each viewer waits for, for polling the number of
//! polls each viewer makes; `secs` bounds the run.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::usage::Cpu;

/// Set in the child's environment: `sse` or `poll`.
pub(crate) const ROLE_VAR: &str = "LIVETABLE_FANOUT_CHILD_ROLE";
const ADDR_VAR: &str = "LIVETABLE_FANOUT_CHILD_ADDR";
const CLIENTS_VAR: &str = "LIVETABLE_FANOUT_CHILD_CLIENTS";
const INTERVAL_VAR: &str = "LIVETABLE_FANOUT_CHILD_INTERVAL_MS";

/// The JSON snapshot path (the live table's and the polling baseline's).
pub(crate) const SNAPSHOT_PATH: &str = "/api/tables/packets";
/// The event-stream path.
pub(crate) const STREAM_PATH: &str = "/api/tables/packets/stream";
/// Header of a polling answer: the data's generation.
pub(crate) const GENERATION_HEADER: &str = "x-generation";
/// Header of a polling answer: when its fetch ended (unix ns).
pub(crate) const FETCH_END_HEADER: &str = "x-fetch-end-ns";

/// How the viewers watch the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// One server-sent-events stream each.
    Sse,
    /// A GET of the JSON snapshot every tick (the Dash `dcc.Interval` way).
    Poll,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Sse => "sse",
            Role::Poll => "poll",
        }
    }
}

/// What the child is told through its environment.
#[derive(Clone, Debug)]
pub(crate) struct ChildConfig {
    pub(crate) role: Role,
    pub(crate) addr: SocketAddr,
    pub(crate) clients: usize,
    pub(crate) interval: Duration,
}

impl ChildConfig {
    /// The environment variables that carry this configuration.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (ROLE_VAR, self.role.as_str().to_owned()),
            (ADDR_VAR, self.addr.to_string()),
            (CLIENTS_VAR, self.clients.to_string()),
            (INTERVAL_VAR, self.interval.as_millis().to_string()),
        ]
    }

    /// Reads the configuration back in the child.
    pub(crate) fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        let role = match var(ROLE_VAR)?.as_str() {
            "sse" => Role::Sse,
            "poll" => Role::Poll,
            other => return Err(format!("{ROLE_VAR}={other}: expected sse or poll")),
        };
        let addr = var(ADDR_VAR)?
            .parse()
            .map_err(|e| format!("{ADDR_VAR}: {e}"))?;
        let clients = var(CLIENTS_VAR)?
            .parse()
            .map_err(|e| format!("{CLIENTS_VAR}: {e}"))?;
        let interval = Duration::from_millis(
            var(INTERVAL_VAR)?
                .parse()
                .map_err(|e| format!("{INTERVAL_VAR}: {e}"))?,
        );
        Ok(ChildConfig {
            role,
            addr,
            clients,
            interval,
        })
    }
}

/// One update a viewer received.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Received {
    /// The version it brings (event streams) or the data's generation (polling).
    pub(crate) version: u64,
    /// Event streams: the end of the update's window (unix ms), which names the fetch.
    pub(crate) window_end_ms: i64,
    /// Polling: when the answer's fetch ended (unix ns), from its header.
    pub(crate) fetch_end_ns: u64,
    /// When the viewer had it whole (unix ns).
    pub(crate) at_ns: u64,
    /// Bytes of the event (`event:`, `id:`, `data:` lines and the blank line) or of the
    /// response body.
    pub(crate) bytes: u64,
    /// A full snapshot rather than a patch.
    pub(crate) snapshot: bool,
}

/// What one viewer saw.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ViewerReport {
    /// Bytes of the first full table it got (the stream's `snapshot` event or the
    /// warm-up poll's body).
    pub(crate) first_bytes: u64,
    /// Updates after the first.
    pub(crate) received: Vec<Received>,
    /// Patches that did not start from the version the viewer held.
    pub(crate) gaps: u64,
    /// Why it stopped early, if it did.
    pub(crate) error: Option<String>,
}

/// The child's answer.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Report {
    pub(crate) viewers: Vec<ViewerReport>,
    /// The child's own CPU time between `RUN` and `DONE`.
    pub(crate) cpu: Cpu,
}

/// Wall-clock now, in nanoseconds since the epoch: comparable across the two
/// processes of the harness.
pub(crate) fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}
