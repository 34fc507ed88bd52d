//! Deliver: routes findings to SIEM sinks through durable per-sink spools.
//!
//! `route` decides, per finding, which sinks get it (selection, suppression, re-alert
//! throttling) and writes it to each selected sink's spool (fsynced): from then on the finding
//! survives a SIEM outage, a crash or a restart. `drain` then delivers each spool on its own
//! thread, so a slow or failing SIEM never holds up the others. A finding leaves a spool only
//! when its receiver confirmed it, or, refused for good, into that spool's `rejected.ndjson`.

pub mod config;
pub mod engine;
pub mod metrics;
pub mod retry;
pub mod route;
pub mod spool;
pub mod transport;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use config::{RouteConfig, SinkConfig, SinkKind};
pub use engine::{DrainEnd, Outcome, Transport};
pub use metrics::{MetricsReport, SinkMetrics};
pub use spool::{Spool, SpoolError};

use crate::detect::Finding;
use route::{Decision, Suppressor, ThrottleState};

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("sink {sink}: {message}")]
    Sink { sink: String, message: String },
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("throttle state {path}: {source}")]
    State {
        path: String,
        source: std::io::Error,
    },
}

struct SinkState {
    cfg: SinkConfig,
    spool: Spool,
    metrics: SinkMetrics,
}

/// The routing engine for one run.
pub struct Router {
    cfg: RouteConfig,
    sinks: Vec<SinkState>,
    suppressors: Vec<Suppressor>,
    state: ThrottleState,
    interval: i64,
}

/// What `route` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteReport {
    pub findings: u64,
    pub suppressed: u64,
    pub throttled: u64,
    /// Findings written to at least one spool.
    pub spooled: u64,
    /// Sinks whose spool was full: those findings were not accepted (their source must not be
    /// acknowledged); nothing was dropped.
    pub refused_sinks: Vec<String>,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Router {
    pub fn open(cfg: RouteConfig) -> Result<Router, DeliverError> {
        let max = config::parse_size(&cfg.spool.max_size).unwrap_or(1 << 30);
        let mut sinks = Vec::new();
        for s in &cfg.sinks {
            let dir = cfg.spool.dir.join(&s.name);
            let spool = Spool::open(&dir, max)?;
            if spool.torn_lines > 0 {
                tracing::warn!(sink = %s.name, bytes = spool.torn_lines, "spool had a line cut short by a crash; it was never acknowledged as spooled and was discarded");
            }
            sinks.push(SinkState {
                cfg: s.clone(),
                spool,
                metrics: SinkMetrics::default(),
            });
        }
        let state_path: PathBuf = cfg.spool.dir.join("state.json");
        let state = ThrottleState::load(&state_path).map_err(|source| DeliverError::State {
            path: state_path.display().to_string(),
            source,
        })?;
        let interval = crate::time::parse_duration(&cfg.throttle.realert_interval).unwrap_or(3600);
        Ok(Router {
            suppressors: cfg.suppressions.iter().map(Suppressor::new).collect(),
            cfg,
            sinks,
            state,
            interval,
        })
    }

    /// Spools findings for their sinks. Returns after every selected sink has them on disk (or
    /// refused them because its spool is full, which the report says).
    pub fn route(&mut self, findings: &[Finding]) -> Result<RouteReport, DeliverError> {
        let now = now_secs();
        let mut report = RouteReport {
            findings: findings.len() as u64,
            ..Default::default()
        };
        let mut per_sink: Vec<Vec<(u8, Finding)>> = vec![Vec::new(); self.sinks.len()];
        let mut recorded = Vec::new();
        for f in findings {
            if let Some(s) = self.suppressors.iter().find(|s| s.suppresses(f)) {
                tracing::debug!(finding = %f.id, suppression = %s.name, "suppressed");
                report.suppressed += 1;
                for sink in &mut self.sinks {
                    sink.metrics.suppressed += 1;
                }
                continue;
            }
            let activity = match self.state.decide(f, now, self.interval) {
                Decision::New => 1,
                Decision::Update => 2,
                Decision::Throttled => {
                    report.throttled += 1;
                    for sink in &mut self.sinks {
                        sink.metrics.throttled += 1;
                    }
                    continue;
                }
            };
            let mut any = false;
            for (i, sink) in self.sinks.iter().enumerate() {
                if route::selects(&sink.cfg.select, f) {
                    per_sink[i].push((activity, f.clone()));
                    any = true;
                }
            }
            if any {
                report.spooled += 1;
                recorded.push(f);
            }
        }
        let mut all_ok = true;
        for (sink, items) in self.sinks.iter_mut().zip(per_sink) {
            match sink.spool.push(&items) {
                Ok(()) => {
                    sink.metrics.spooled += items.len() as u64;
                    let max = config::parse_size(&self.cfg.spool.max_size).unwrap_or(u64::MAX);
                    if sink.spool.bytes() > max / 10 * 8 {
                        tracing::warn!(sink = %sink.cfg.name, bytes = sink.spool.bytes(), max, "spool is over 80% full: the SIEM is not keeping up or is down");
                    }
                }
                Err(SpoolError::Full { bytes, max, .. }) => {
                    all_ok = false;
                    tracing::error!(sink = %sink.cfg.name, bytes, max, refused = items.len(), "SPOOL FULL: the SIEM has been unreachable long enough to fill the spool; new findings are refused (not dropped) until it drains");
                    report.refused_sinks.push(sink.cfg.name.clone());
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Throttling remembers a finding only once every sink holds it, so a refusal is retried.
        if all_ok {
            for f in recorded {
                self.state.record(f, now);
            }
        }
        let keep = (self.interval * 24).max(7 * 86_400);
        let path = self.cfg.spool.dir.join("state.json");
        self.state
            .save(now, keep)
            .map_err(|source| DeliverError::State {
                path: path.display().to_string(),
                source,
            })?;
        Ok(report)
    }

    /// Delivers every spool until empty, halted, or `timeout`; one thread per sink.
    pub fn drain(&mut self, timeout: Duration) -> Vec<(MetricsReport, DrainEnd)> {
        let deadline = Instant::now() + timeout;
        let ctx = crate::sink::format::FormatContext::from_env();
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .sinks
                .iter_mut()
                .map(|sink| {
                    let ctx = ctx.clone();
                    scope.spawn(move || {
                        let name = sink.cfg.name.clone();
                        let end = match transport::build(&sink.cfg, ctx) {
                            Ok(mut t) => {
                                let mut backoff = retry::Backoff::new(
                                    Duration::from_millis(250),
                                    Duration::from_secs(30),
                                );
                                engine::drain(
                                    &name,
                                    &mut sink.spool,
                                    t.as_mut(),
                                    &mut sink.metrics,
                                    &mut backoff,
                                    deadline,
                                    &mut std::thread::sleep,
                                )
                                .unwrap_or_else(|e| {
                                    tracing::error!(sink = %name, "spool error: {e}");
                                    DrainEnd::Halted
                                })
                            }
                            Err(e) => {
                                tracing::error!(sink = %name, "cannot start sink: {e}");
                                DrainEnd::Halted
                            }
                        };
                        (sink.metrics.report(&name, sink.spool.len()), end)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    }

    pub fn pending(&self) -> u64 {
        self.sinks.iter().map(|s| s.spool.len()).sum()
    }
}
