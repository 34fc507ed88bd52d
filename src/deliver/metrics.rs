//! Per-sink delivery counters and latency histograms.

use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct SinkMetrics {
    pub sent: u64,
    pub failed: u64,
    pub retried: u64,
    pub spooled: u64,
    /// Findings lost by the pipeline. The design keeps this at zero: a full spool refuses
    /// new findings (which then stay with their source) instead of dropping any.
    pub dropped: u64,
    pub suppressed: u64,
    pub throttled: u64,
    /// Milliseconds from spooling to the receiver's confirmation.
    pub latency_ms: Histogram<u64>,
}

impl Default for SinkMetrics {
    fn default() -> Self {
        SinkMetrics {
            sent: 0,
            failed: 0,
            retried: 0,
            spooled: 0,
            dropped: 0,
            suppressed: 0,
            throttled: 0,
            // 1 ms .. 1 day at 3 significant figures: constant, valid bounds.
            latency_ms: Histogram::new_with_bounds(1, 86_400_000, 3)
                .expect("constant histogram bounds are valid"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricsReport {
    pub sink: String,
    pub sent: u64,
    pub failed: u64,
    pub retried: u64,
    pub spooled: u64,
    pub dropped: u64,
    pub suppressed: u64,
    pub throttled: u64,
    pub pending: u64,
    pub latency_ms_p50: u64,
    pub latency_ms_p99: u64,
    pub latency_ms_max: u64,
}

impl SinkMetrics {
    pub fn record_latency(&mut self, ms: i64) {
        let v = ms.clamp(1, 86_400_000) as u64;
        let _ = self.latency_ms.record(v);
    }

    pub fn report(&self, sink: &str, pending: u64) -> MetricsReport {
        let h = &self.latency_ms;
        let q = |p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p)
            }
        };
        MetricsReport {
            sink: sink.to_string(),
            sent: self.sent,
            failed: self.failed,
            retried: self.retried,
            spooled: self.spooled,
            dropped: self.dropped,
            suppressed: self.suppressed,
            throttled: self.throttled,
            pending,
            latency_ms_p50: q(0.5),
            latency_ms_p99: q(0.99),
            latency_ms_max: if h.is_empty() { 0 } else { h.max() },
        }
    }
}
