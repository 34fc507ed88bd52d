//! Which sinks get a finding: per-sink selection, suppression of known-good traffic and
//! maintenance windows, and re-alert throttling with a durable record of what was sent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::config::{Select, Suppression};
use crate::detect::Finding;

/// `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

pub fn selects(s: &Select, f: &Finding) -> bool {
    let resource_ok = s.resource.is_empty()
        || f.resource.as_ref().is_some_and(|r| {
            let kind_name = format!("{}/{}", r.kind, r.name);
            s.resource
                .iter()
                .any(|g| glob(g, &kind_name) || r.arn.as_deref().is_some_and(|a| glob(g, a)))
        });
    s.min_severity.is_none_or(|m| f.severity >= m)
        && (s.severity.is_empty() || s.severity.contains(&f.severity))
        && (s.category.is_empty() || s.category.contains(&f.category))
        && (s.rule.is_empty() || s.rule.contains(&f.rule))
        && resource_ok
}

/// A suppression compiled once.
pub struct Suppressor {
    pub name: String,
    select: Select,
    nets: Vec<IpNet>,
    services: Vec<String>,
    window: Option<(i64, i64)>,
    classes: Vec<String>,
    pub owner: Option<String>,
    expires: Option<i64>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Suppressor {
    pub fn new(s: &Suppression) -> Self {
        let t = |v: &Option<String>| v.as_deref().and_then(crate::time::parse_rfc3339);
        Suppressor {
            name: s.name.clone(),
            select: s.select.clone(),
            nets: s.dst_cidrs.iter().filter_map(|c| c.parse().ok()).collect(),
            services: s
                .dst_services
                .iter()
                .map(|x| x.to_ascii_uppercase())
                .collect(),
            window: match (t(&s.from), t(&s.until)) {
                (None, None) => None,
                (a, b) => Some((a.unwrap_or(i64::MIN), b.unwrap_or(i64::MAX))),
            },
            classes: s.dst_classes.clone(),
            owner: s.owner.clone(),
            expires: {
                let e = t(&s.expires);
                if let Some(e) = e.filter(|&e| e <= now()) {
                    tracing::warn!(
                        suppression = %s.name,
                        owner = s.owner.as_deref().unwrap_or("-"),
                        expired = %crate::time::format_rfc3339(e),
                        "suppression has expired and no longer applies; renew or remove it"
                    );
                }
                e
            },
        }
    }

    fn class_ok(&self, f: &Finding) -> bool {
        let Some(c) = f.dst_class.as_deref() else {
            return false;
        };
        if self.classes.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => c.starts_with(prefix),
            None => c == p,
        }) {
            return true;
        }
        // An internet class inside an allowed CIDR block.
        c.strip_prefix("internet:")
            .and_then(|n| n.parse::<IpNet>().ok())
            .is_some_and(|n| self.nets.iter().any(|a| a.contains(&n)))
    }

    pub fn suppresses(&self, f: &Finding) -> bool {
        if !selects(&self.select, f) {
            return false;
        }
        if self.expires.is_some_and(|e| now() >= e) {
            return false;
        }
        let has_dst_filter =
            !self.nets.is_empty() || !self.services.is_empty() || !self.classes.is_empty();
        let dst_ok = !has_dst_filter
            || self.class_ok(f)
            || f.dst_ip
                .as_deref()
                .and_then(|d| d.parse::<std::net::IpAddr>().ok())
                .is_some_and(|ip| self.nets.iter().any(|n| n.contains(&ip)))
            || f.dst_service
                .as_deref()
                .is_some_and(|s| self.services.iter().any(|x| x == s));
        let time_ok = self.window.is_none_or(|(a, b)| {
            f.first_seen
                .as_deref()
                .and_then(crate::time::parse_rfc3339)
                .is_some_and(|t| a <= t && t <= b)
        });
        dst_ok && time_ok
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sent {
    /// Unix seconds of the last time the finding was handed to the sinks.
    pub at: i64,
    pub flows: u64,
    pub bytes: u64,
}

/// Durable record of sent finding ids (`state.json` beside the spools).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ThrottleState {
    pub sent: HashMap<String, Sent>,
    #[serde(skip)]
    path: PathBuf,
}

/// What to do with a finding seen again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// First report (OCSF activity 1).
    New,
    /// Re-send with updated counters (activity 2).
    Update,
    /// Already sent within the interval.
    Throttled,
}

impl ThrottleState {
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let mut s: ThrottleState = match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                tracing::warn!(file = %path.display(), "throttle state unreadable ({e}); starting empty: findings may be re-sent once");
                ThrottleState::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ThrottleState::default(),
            Err(e) => return Err(e),
        };
        s.path = path.to_path_buf();
        Ok(s)
    }

    pub fn decide(&self, f: &Finding, now: i64, interval: i64) -> Decision {
        match self.sent.get(&f.id) {
            None => Decision::New,
            Some(s) if s.flows == f.flows && s.bytes == f.bytes => Decision::Throttled,
            Some(s) if now - s.at >= interval => Decision::Update,
            Some(_) => Decision::Throttled,
        }
    }

    pub fn record(&mut self, f: &Finding, now: i64) {
        self.sent.insert(
            f.id.clone(),
            Sent {
                at: now,
                flows: f.flows,
                bytes: f.bytes,
            },
        );
    }

    /// Writes atomically (temp file, fsync, rename). Entries older than `keep` seconds go.
    pub fn save(&mut self, now: i64, keep: i64) -> std::io::Result<()> {
        self.sent.retain(|_, s| now - s.at <= keep);
        let tmp = self.path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            serde_json::to_writer(&mut f, &*self)?;
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        let r = write();
        if r.is_err() {
            // The previous state.json stays whole; the torn temporary file goes.
            let _ = std::fs::remove_file(&tmp);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("training-job/fraud-*", "training-job/fraud-train-1"));
        assert!(glob("*", "anything"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(!glob("endpoint/*", "training-job/x"));
        assert!(glob(
            "arn:aws:sagemaker:*:111122223333:*",
            "arn:aws:sagemaker:us-east-1:111122223333:endpoint/x"
        ));
    }

    fn anomaly(dst_class: &str) -> Finding {
        serde_json::from_value(serde_json::json!({
            "id": "a1", "rule": "EW-103", "category": "new-destination", "severity": "medium",
            "title": "t", "description": "d", "control": "behavioural-baseline",
            "eni": "eni-1", "vpc_id": null, "subnet_id": null, "src_ip": null, "dst_ip": null,
            "dst_port": null, "dst_ports": [], "protocol": 6, "protocol_name": "tcp",
            "path": "nat-gateway", "dst_service": null, "dst_region": null, "resource": null,
            "window_start": null, "first_seen": "2026-11-05T11:00:00Z", "last_seen": null,
            "flows": 1, "packets": 1, "bytes": 1, "flows_seen_on_nat": 0, "evidence": [],
            "evidence_omitted": 0, "dst_class": dst_class
        }))
        .unwrap()
    }

    fn sup(extra: &str) -> Suppressor {
        let s: Suppression = toml::from_str(&format!(
            "name = \"partner\"\ncategory = [\"new-destination\"]\n{extra}"
        ))
        .unwrap();
        Suppressor::new(&s)
    }

    #[test]
    fn suppressions_cover_anomaly_classes_and_expire() {
        let f = anomaly("internet:203.0.113.0/24");
        // A CIDR holding the class's network, a class pattern, and neither.
        assert!(sup("dst_cidrs = [\"203.0.0.0/16\"]").suppresses(&f));
        assert!(!sup("dst_cidrs = [\"198.51.100.0/24\"]").suppresses(&f));
        assert!(sup("dst_classes = [\"internet:203.0.113.*\"]").suppresses(&f));
        assert!(!sup("dst_classes = [\"s3-gateway\"]").suppresses(&f));
        // Owner is kept; an expired suppression no longer applies, a future one does.
        let s = sup("owner = \"team-ml (JIRA-42)\"\nexpires = \"2020-01-01T00:00:00Z\"");
        assert_eq!(s.owner.as_deref(), Some("team-ml (JIRA-42)"));
        assert!(!s.suppresses(&f));
        assert!(sup("expires = \"2999-01-01T00:00:00Z\"").suppresses(&f));
    }
}
