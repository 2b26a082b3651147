//! CPU time of this process (`getrusage(RUSAGE_SELF)`) and the open-files limit.

use std::time::Duration;

use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage, setrlimit};
use nix::sys::time::TimeVal;
use serde::{Deserialize, Serialize};

/// User and system CPU time consumed by every thread of this process so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cpu {
    pub(crate) user: Duration,
    pub(crate) system: Duration,
}

impl Cpu {
    /// Now.
    pub(crate) fn now() -> Result<Cpu, String> {
        let usage = getrusage(UsageWho::RUSAGE_SELF).map_err(|e| format!("getrusage: {e}"))?;
        Ok(Cpu {
            user: duration(usage.user_time()),
            system: duration(usage.system_time()),
        })
    }

    /// The time spent since `earlier`.
    pub(crate) fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    /// User + system.
    pub(crate) fn total(self) -> Duration {
        self.user + self.system
    }
}

fn duration(t: TimeVal) -> Duration {
    let micros = t.tv_sec() as i128 * 1_000_000 + t.tv_usec() as i128;
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

/// Raises the soft limit on open files to at least `needed` (up to the hard limit) and
/// returns the limit in force. Children inherit it.
pub(crate) fn raise_open_files(needed: u64) -> Result<u64, String> {
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit(NOFILE): {e}"))?;
    if soft >= needed {
        return Ok(soft);
    }
    let target = needed.min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, target, hard)
        .map_err(|e| format!("setrlimit(NOFILE, {target}): {e}"))?;
    Ok(target)
}
