//! Baseline settings: the `[baseline]` table of a rule pack. Every threshold a detector uses is
//! here, with the default the built-in pack documents; a pack overrides any of them.

use serde::{Deserialize, Serialize};

use crate::detect::Severity;

/// One detector's identity in findings (rule id, severity) and whether it runs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorId {
    pub id: String,
    pub severity: Severity,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A family key chosen by the pack: resources whose name matches `match` (`*` wildcards, as in
/// route selections) belong to `family`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyOverride {
    #[serde(rename = "match")]
    pub pattern: String,
    pub family: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
// No deny_unknown_fields: serde does not support it beside `flatten`.
#[serde(default)]
pub struct VolumeSpike {
    #[serde(flatten)]
    pub rule: DetectorId,
    /// Robust z: observed above median + `mad_k` x 1.4826 x MAD.
    pub mad_k: f64,
    /// ... and at least `min_ratio` times the median ...
    pub min_ratio: f64,
    /// ... and at least `min_bytes` above it (an absolute floor: small numbers never alert).
    pub min_bytes: u64,
    /// Past values a baseline needs (hour-of-week slot for long-lived resources, runs for jobs).
    pub min_samples: usize,
}

impl Default for VolumeSpike {
    fn default() -> Self {
        VolumeSpike {
            rule: DetectorId {
                id: "EW-101".into(),
                severity: Severity::High,
                enabled: true,
            },
            mad_k: 6.0,
            min_ratio: 4.0,
            min_bytes: 256 << 20,
            min_samples: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
// No deny_unknown_fields: serde does not support it beside `flatten`.
#[serde(default)]
pub struct Sustained {
    #[serde(flatten)]
    pub rule: DetectorId,
    /// CUSUM allowance: hours at or below `drift` times the usual add nothing.
    pub drift: f64,
    /// CUSUM decision interval: raise when the sum of (ratio - drift) reaches it.
    pub threshold: f64,
    /// Ratio cap per hour, so one burst (a volume spike) cannot make an episode alone.
    pub max_ratio: f64,
    /// The usual hourly bytes are never taken below this (quiet hours would inflate ratios).
    pub min_hourly_bytes: u64,
}

impl Default for Sustained {
    fn default() -> Self {
        Sustained {
            rule: DetectorId {
                id: "EW-102".into(),
                severity: Severity::Medium,
                enabled: true,
            },
            drift: 2.0,
            threshold: 4.0,
            max_ratio: 4.0,
            min_hourly_bytes: 1 << 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
// No deny_unknown_fields: serde does not support it beside `flatten`.
#[serde(default)]
pub struct NewDestination {
    #[serde(flatten)]
    pub rule: DetectorId,
    /// A new destination must carry at least this much in its first hour.
    pub min_bytes: u64,
    /// A destination not seen for this long is new again.
    pub forget_after_days: i64,
    /// Destinations remembered per profile (oldest forgotten first).
    pub max_destinations: usize,
}

impl Default for NewDestination {
    fn default() -> Self {
        NewDestination {
            rule: DetectorId {
                id: "EW-103".into(),
                severity: Severity::Medium,
                enabled: true,
            },
            min_bytes: 10 << 20,
            forget_after_days: 30,
            max_destinations: 256,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
// No deny_unknown_fields: serde does not support it beside `flatten`.
#[serde(default)]
pub struct NewPort {
    #[serde(flatten)]
    pub rule: DetectorId,
    pub forget_after_days: i64,
    pub max_ports: usize,
}

impl Default for NewPort {
    fn default() -> Self {
        NewPort {
            rule: DetectorId {
                id: "EW-104".into(),
                severity: Severity::Medium,
                enabled: true,
            },
            forget_after_days: 30,
            max_ports: 64,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
// No deny_unknown_fields: serde does not support it beside `flatten`.
#[serde(default)]
pub struct Beaconing {
    #[serde(flatten)]
    pub rule: DetectorId,
    /// Callbacks (new connections) needed before a pair is scored.
    pub min_callbacks: usize,
    /// ... spread over at least this many minutes.
    pub min_span_minutes: i64,
    /// Intervals shorter than this are one burst, not a callback pattern (flow logs aggregate
    /// over 1 or 10 minutes; see README "What flow logs cannot show").
    pub min_interval_seconds: f64,
    /// Score (0..1, RITA-style mean of interval and size regularity) that raises.
    pub threshold: f64,
    /// Hours of callbacks scored together.
    pub window_hours: i64,
    /// Callback times kept per (resource, destination, port).
    pub max_callbacks: usize,
}

impl Default for Beaconing {
    fn default() -> Self {
        Beaconing {
            rule: DetectorId {
                id: "EW-105".into(),
                severity: Severity::High,
                enabled: true,
            },
            min_callbacks: 12,
            min_span_minutes: 60,
            min_interval_seconds: 10.0,
            threshold: 0.8,
            window_hours: 6,
            max_callbacks: 384,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineConfig {
    pub enabled: bool,
    /// A window closes this long after its end in event time; later records are late.
    pub lateness_minutes: i64,
    /// A job family learns for this many completed runs ...
    pub learning_runs: u32,
    /// ... a long-lived resource (endpoint, notebook) for this many days.
    pub learning_days: i64,
    /// A job run ends this long after its last record (when its end time is not known).
    pub run_idle_minutes: i64,
    /// Profiles idle this long are forgotten.
    pub forget_after_days: i64,
    #[serde(rename = "family")]
    pub families: Vec<FamilyOverride>,
    #[serde(rename = "volume-spike")]
    pub volume_spike: VolumeSpike,
    #[serde(rename = "sustained-egress")]
    pub sustained_egress: Sustained,
    #[serde(rename = "new-destination")]
    pub new_destination: NewDestination,
    #[serde(rename = "new-port")]
    pub new_port: NewPort,
    pub beaconing: Beaconing,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            enabled: true,
            lateness_minutes: 15,
            learning_runs: 3,
            learning_days: 7,
            run_idle_minutes: 120,
            forget_after_days: 30,
            families: Vec::new(),
            volume_spike: VolumeSpike::default(),
            sustained_egress: Sustained::default(),
            new_destination: NewDestination::default(),
            new_port: NewPort::default(),
            beaconing: Beaconing::default(),
        }
    }
}

impl BaselineConfig {
    /// Checks values a typo would make meaningless.
    pub fn validate(&self) -> Result<(), String> {
        let v = &self.volume_spike;
        if !(v.mad_k > 0.0 && v.min_ratio >= 1.0) {
            return Err("volume-spike: mad_k must be > 0 and min_ratio >= 1".into());
        }
        let s = &self.sustained_egress;
        if !(s.drift >= 1.0 && s.threshold > 0.0 && s.max_ratio > s.drift) {
            return Err(
                "sustained-egress: need drift >= 1, threshold > 0, max_ratio > drift".into(),
            );
        }
        let b = &self.beaconing;
        if !(0.0..=1.0).contains(&b.threshold) || b.min_callbacks < 4 || b.window_hours < 1 {
            return Err(
                "beaconing: threshold must be within 0..1, min_callbacks >= 4, window_hours >= 1"
                    .into(),
            );
        }
        if self.lateness_minutes < 0 || self.learning_days < 0 {
            return Err("lateness_minutes and learning_days must not be negative".into());
        }
        for f in &self.families {
            if f.pattern.is_empty() || f.family.is_empty() {
                return Err("[[baseline.family]] needs a non-empty `match` and `family`".into());
            }
        }
        Ok(())
    }
}
