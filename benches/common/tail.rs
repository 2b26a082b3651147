//! Percentiles of a benchmark's samples, for the harnesses under `benches/` that print
//! their own tails (p50, p95, p99, max).
// Each harness includes this file and uses part of it.
#![allow(dead_code)]

use std::time::Duration;

/// Percentiles of samples (milliseconds or percents).
pub(crate) struct Tail {
    sorted: Vec<f64>,
}

impl Tail {
    pub(crate) fn new(samples: impl IntoIterator<Item = f64>) -> Self {
        let mut sorted: Vec<f64> = samples.into_iter().collect();
        sorted.sort_by(f64::total_cmp);
        Tail { sorted }
    }

    pub(crate) fn of_durations(samples: &[Duration]) -> Self {
        Tail::new(samples.iter().map(|d| d.as_secs_f64() * 1e3))
    }

    pub(crate) fn at(&self, q: f64) -> f64 {
        if self.sorted.is_empty() {
            return f64::NAN;
        }
        let i = ((self.sorted.len() as f64 - 1.0) * q).round() as usize;
        self.sorted[i]
    }

    pub(crate) fn max(&self) -> f64 {
        self.sorted.last().copied().unwrap_or(f64::NAN)
    }

    pub(crate) fn ms(&self) -> String {
        format!(
            "p50 {:>8.2}  p95 {:>8.2}  p99 {:>8.2}  max {:>8.2} ms",
            self.at(0.5),
            self.at(0.95),
            self.at(0.99),
            self.max()
        )
    }

    pub(crate) fn percent(&self) -> String {
        format!("p50 {:>6.2} %  max {:>6.2} %", self.at(0.5), self.max())
    }
}
