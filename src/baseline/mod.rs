//! Behavioural baselines: per SageMaker resource and job family, what its egress usually is,
//! and findings when it departs from that (`volume-spike`, `sustained-egress`,
//! `new-destination`, `new-port`, `beaconing`; rules EW-101..105, thresholds in the pack's
//! `[baseline]` table).
//!
//! - `observe`: the scan workers' aggregation (hot path, fixed-size keys, order-free sums).
//! - `engine`: open hours, event-time closing, scoring in time order, the persisted state.
//! - `dest`, `family`: destination classes and family keys; `stats`: median/MAD, regularity.

pub mod config;
pub mod dest;
pub mod engine;
pub mod family;
pub mod observe;
pub mod persist;
pub mod stage;
pub mod stats;

pub use config::BaselineConfig;
pub use engine::{Anomaly, BaselineSummary, Engine, State};
pub use observe::{Observations, Observer};
