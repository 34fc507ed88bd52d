//! Draining a sink's spool: batches from the head, sent through the sink's transport, retried
//! with backoff, acknowledged only on the receiver's confirmation.

use std::time::{Duration, Instant};

use super::metrics::SinkMetrics;
use super::spool::{Entry, Spool, SpoolError};

/// What the receiver did with one entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Confirmed (HTTP 2xx, HEC ack, bulk item success, syslog write + flush).
    Accepted,
    /// Temporary failure (429, 5xx, timeout, connection): try again later.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// The receiver refuses this entry for good (malformed for it): moved to `rejected.ndjson`.
    Reject(String),
    /// The sink is misconfigured (401, 403, 404): stop, keep everything spooled, report.
    Halt(String),
}

/// A destination. `send` returns one outcome per entry, in order.
pub trait Transport: Send {
    fn max_batch(&self) -> usize;
    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainEnd {
    /// Nothing left to deliver.
    Empty,
    /// The deadline passed with entries still spooled (they stay on disk).
    Deadline,
    /// The sink refused on configuration grounds; entries stay on disk.
    Halted,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Sends everything spooled, retrying with `backoff`, until the spool is empty, the sink halts,
/// or `deadline` passes. `sleep` is injectable so tests run without real waits.
pub fn drain(
    name: &str,
    spool: &mut Spool,
    transport: &mut dyn Transport,
    metrics: &mut SinkMetrics,
    backoff: &mut super::retry::Backoff,
    deadline: Instant,
    sleep: &mut dyn FnMut(Duration),
) -> Result<DrainEnd, SpoolError> {
    loop {
        let batch = spool.peek(transport.max_batch().max(1))?;
        if batch.is_empty() {
            return Ok(DrainEnd::Empty);
        }
        let sent_at = Instant::now();
        let outcomes = transport.send(&batch);
        let mut retry: Option<(String, Option<Duration>)> = None;
        for (i, entry) in batch.iter().enumerate() {
            // A transport that returns fewer outcomes than entries did not settle the rest.
            let outcome = outcomes.get(i).cloned().unwrap_or(Outcome::Retry {
                reason: "no outcome from transport".into(),
                after: None,
            });
            match outcome {
                Outcome::Accepted => {
                    spool.ack(entry.seq)?;
                    metrics.sent += 1;
                    metrics.record_latency(now_ms() - entry.queued_at);
                }
                Outcome::Reject(why) => {
                    tracing::error!(sink = name, finding = %entry.finding.id, "receiver refused the finding permanently: {why}; kept in rejected.ndjson");
                    spool.reject(entry, &why)?;
                    metrics.failed += 1;
                }
                Outcome::Halt(why) => {
                    tracing::error!(sink = name, "sink halted, findings stay spooled: {why}");
                    return Ok(DrainEnd::Halted);
                }
                Outcome::Retry { reason, after } => {
                    retry = Some((reason, after));
                    break;
                }
            }
        }
        tracing::debug!(
            sink = name,
            n = batch.len(),
            ms = sent_at.elapsed().as_millis() as u64,
            "batch sent"
        );
        match retry {
            None => backoff.reset(),
            Some((reason, after)) => {
                metrics.retried += 1;
                let wait = backoff.next(after);
                if Instant::now() + wait > deadline {
                    tracing::warn!(sink = name, pending = spool.len(), "delivery deadline reached: {reason}; findings stay spooled for the next run");
                    return Ok(DrainEnd::Deadline);
                }
                tracing::warn!(
                    sink = name,
                    attempt = backoff.attempts(),
                    wait_ms = wait.as_millis() as u64,
                    "delivery failed, retrying: {reason}"
                );
                sleep(wait);
            }
        }
    }
}
