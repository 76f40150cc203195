//! The node's metrics, in the Prometheus text format at `/metrics`.
//!
//! A handful of counters and histograms kept in atomics: no registry, no allocation on the
//! hot path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];
/// Upper bounds of the batch-size buckets.
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// A histogram with fixed buckets.
pub struct Histogram<const N: usize> {
    bounds: &'static [f64; N],
    counts: [AtomicU64; N],
    count: AtomicU64,
    /// The sum, in millionths.
    sum_micros: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    const fn new(bounds: &'static [f64; N]) -> Self {
        Histogram {
            bounds,
            counts: [const { AtomicU64::new(0) }; N],
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// Every metric the node keeps.
pub struct Metrics {
    /// Events stored (accepted on their chain).
    pub events_in: AtomicU64,
    /// Events stored that the process refused (each answered by an error event).
    pub events_refused: AtomicU64,
    /// Events sent again that the node held already.
    pub events_duplicate: AtomicU64,
    /// Requests answered with a 4xx problem.
    pub requests_rejected: AtomicU64,
    /// Requests refused by the rate limiter.
    pub requests_limited: AtomicU64,
    /// Requests refused because a signature they carry was used already.
    pub requests_replayed: AtomicU64,
    /// Time from a submission reaching the pipeline to its commit.
    pub pipeline_seconds: Histogram<14>,
    /// Submissions per storage transaction.
    pub batch_size: Histogram<9>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            events_in: AtomicU64::new(0),
            events_refused: AtomicU64::new(0),
            events_duplicate: AtomicU64::new(0),
            requests_rejected: AtomicU64::new(0),
            requests_limited: AtomicU64::new(0),
            requests_replayed: AtomicU64::new(0),
            pipeline_seconds: Histogram::new(&LATENCY_BUCKETS),
            batch_size: Histogram::new(&BATCH_BUCKETS),
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        for (name, help, value) in [
            (
                "accord_events_in_total",
                "Events stored on their chains.",
                &self.events_in,
            ),
            (
                "accord_events_refused_total",
                "Stored events the process refused, each answered by an error event.",
                &self.events_refused,
            ),
            (
                "accord_events_duplicate_total",
                "Events received again that the node held already.",
                &self.events_duplicate,
            ),
            (
                "accord_requests_rejected_total",
                "Requests answered with a client error (4xx).",
                &self.requests_rejected,
            ),
            (
                "accord_requests_rate_limited_total",
                "Requests refused by the per-key rate limit.",
                &self.requests_limited,
            ),
            (
                "accord_requests_replayed_total",
                "Requests refused because a signature they carry was used already.",
                &self.requests_replayed,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        self.pipeline_seconds.write(
            &mut out,
            "accord_pipeline_seconds",
            "Time from a submission reaching the pipeline to its commit.",
        );
        self.batch_size.write(
            &mut out,
            "accord_pipeline_batch_size",
            "Submissions committed per storage transaction.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.pipeline_seconds.observe(0.0003);
        m.pipeline_seconds.observe(0.003);
        m.pipeline_seconds.observe(30.0);
        m.events_in.fetch_add(2, Ordering::Relaxed);
        let text = m.render();
        assert!(text.contains("accord_events_in_total 2\n"), "{text}");
        assert!(text.contains("accord_pipeline_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("accord_pipeline_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("accord_pipeline_seconds_bucket{le=\"10\"} 2\n"));
        assert!(text.contains("accord_pipeline_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("accord_pipeline_seconds_count 3\n"));
    }
}
