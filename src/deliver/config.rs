//! The routing file (TOML): spool, throttling, suppressions and sinks. Secrets are never in the
//! file's values or on the command line: each is named by an environment variable (`*_env`) or a
//! file (`*_file`), read at start, and never logged (`Secret`'s Debug prints `***`).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::detect::Severity;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("routing config {file}: {message}")]
    Invalid { file: String, message: String },
}

/// A secret value; prints as `***`.
#[derive(Clone, Default, PartialEq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SinkKind {
    #[default]
    File,
    Hec,
    Elastic,
    Syslog,
    Webhook,
    Slack,
    Securityhub,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Payload {
    #[default]
    Json,
    Cef,
    Ocsf,
}

/// Which findings a sink (or a suppression) applies to; empty lists match everything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    #[serde(default)]
    pub min_severity: Option<Severity>,
    #[serde(default)]
    pub severity: Vec<Severity>,
    #[serde(default)]
    pub category: Vec<String>,
    #[serde(default)]
    pub rule: Vec<String>,
    /// Globs (`*`) over `kind/name` (e.g. `training-job/fraud-*`) or the resource ARN.
    #[serde(default)]
    pub resource: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: SinkKind,
    #[serde(default)]
    pub url: Option<String>,
    /// File sink: where to append.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// File sink and syslog: `json`, `ocsf` or `cef` (syslog).
    #[serde(default)]
    pub payload: Payload,
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    #[serde(default)]
    pub url_env: Option<String>,
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// HEC: index, sourcetype, indexer acknowledgement.
    #[serde(default)]
    pub index: Option<String>,
    #[serde(default)]
    pub sourcetype: Option<String>,
    #[serde(default)]
    pub ack: bool,
    /// Syslog: `host:port` and TLS. `ca_file` (PEM) replaces the built-in roots for syslog TLS
    /// and for the HTTPS sinks (HEC, Elastic, webhook, Slack, Security Hub).
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub tls: bool,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// TLS server name when it differs from the host in `address`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Security Hub: region and account (ProductArn); credentials come from the standard
    /// AWS environment variables.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub batch_size: Option<usize>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default, rename = "select")]
    pub select: Select,
}

fn default_timeout() -> u64 {
    10
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// Per sink, e.g. `1GiB`, `512MiB`, or a byte count.
    #[serde(default = "default_spool_max")]
    pub max_size: String,
}

fn default_spool_max() -> String {
    "1GiB".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleConfig {
    /// A finding id already sent is re-sent at most once per this interval (e.g. `1h`).
    #[serde(default = "default_realert")]
    pub realert_interval: String,
}

fn default_realert() -> String {
    "1h".into()
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            realert_interval: default_realert(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    pub name: String,
    /// The findings it applies to (resource globs, rules, categories, severities).
    #[serde(flatten)]
    pub select: Select,
    /// Known-good destinations: CIDR blocks and AWS services.
    #[serde(default)]
    pub dst_cidrs: Vec<String>,
    #[serde(default)]
    pub dst_services: Vec<String>,
    /// Maintenance window (RFC 3339): findings first seen inside it are suppressed.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    /// Destination classes of anomaly findings (`s3-gateway`, `aws-service:KINESIS`,
    /// `internet:203.0.113.0/24`; a trailing `*` matches a prefix).
    #[serde(default)]
    pub dst_classes: Vec<String>,
    /// Who vouched for it (a person, a team, a ticket): carried into logs and metrics.
    #[serde(default)]
    pub owner: Option<String>,
    /// RFC 3339: past it (wall clock) the suppression no longer applies and says so at load.
    #[serde(default)]
    pub expires: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub spool: SpoolConfig,
    #[serde(default)]
    pub throttle: ThrottleConfig,
    #[serde(default, rename = "suppress")]
    pub suppressions: Vec<Suppression>,
    #[serde(rename = "sink")]
    pub sinks: Vec<SinkConfig>,
}

/// Parses `1GiB`, `512MiB`, `10KiB`, `1GB`, or a plain byte count.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

pub fn read_secret(
    env: Option<&str>,
    file: Option<&Path>,
    what: &str,
) -> Result<Option<Secret>, String> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(Secret(v.trim().to_string()))),
            _ => Err(format!("{what}: environment variable {var} is not set")),
        };
    }
    if let Some(path) = file {
        return std::fs::read_to_string(path)
            .map(|v| Some(Secret(v.trim().to_string())))
            .map_err(|e| format!("{what}: cannot read {}: {e}", path.display()));
    }
    Ok(None)
}

impl RouteConfig {
    pub fn load(path: &Path) -> Result<RouteConfig, ConfigError> {
        let file = path.display().to_string();
        let invalid = |message: String| ConfigError::Invalid {
            file: file.clone(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        Self::parse(&text).map_err(invalid)
    }

    pub fn parse(text: &str) -> Result<RouteConfig, String> {
        let cfg: RouteConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            match line {
                Some(l) => format!("line {l}: {}", e.message().trim()),
                None => e.message().trim().to_string(),
            }
        })?;
        if parse_size(&cfg.spool.max_size).is_none() {
            return Err(format!(
                "spool.max_size {:?} is not a size like 1GiB",
                cfg.spool.max_size
            ));
        }
        if crate::time::parse_duration(&cfg.throttle.realert_interval).is_none() {
            return Err(format!(
                "throttle.realert_interval {:?} is not a duration like 1h",
                cfg.throttle.realert_interval
            ));
        }
        let mut names = std::collections::HashSet::new();
        for s in &cfg.sinks {
            if !names.insert(s.name.as_str()) {
                return Err(format!("sink name {} is used twice", s.name));
            }
            if s.name.is_empty()
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "sink name {:?}: use letters, digits, - and _",
                    s.name
                ));
            }
            let needs_url = matches!(
                s.kind,
                SinkKind::Hec | SinkKind::Elastic | SinkKind::Webhook | SinkKind::Slack
            );
            if needs_url && s.url.is_none() && s.url_env.is_none() && s.url_file.is_none() {
                return Err(format!("sink {}: needs url, url_env or url_file", s.name));
            }
            if s.kind == SinkKind::Syslog && s.address.is_none() {
                return Err(format!(
                    "sink {}: syslog needs address = \"host:port\"",
                    s.name
                ));
            }
            if s.kind == SinkKind::File && s.path.is_none() {
                return Err(format!("sink {}: file needs path", s.name));
            }
        }
        for sup in &cfg.suppressions {
            for c in &sup.dst_cidrs {
                if c.parse::<ipnet::IpNet>().is_err() {
                    return Err(format!("suppression {}: {c} is not a CIDR block", sup.name));
                }
            }
            for t in sup.from.iter().chain(&sup.until).chain(&sup.expires) {
                if crate::time::parse_rfc3339(t).is_none() {
                    return Err(format!(
                        "suppression {}: {t} is not an RFC 3339 time",
                        sup.name
                    ));
                }
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let c = RouteConfig::parse(include_str!("../../samples/route.example.toml")).unwrap();
        assert_eq!(c.sinks.len(), 6);
        assert_eq!(c.suppressions.len(), 3);
        assert_eq!(
            c.suppressions[2].owner.as_deref(),
            Some("ml-platform (SEC-1234)")
        );
    }

    #[test]
    fn parses_a_full_config_and_rejects_mistakes() {
        let text = r#"
[spool]
dir = "/tmp/spool"
max_size = "64MiB"

[throttle]
realert_interval = "30m"

[[suppress]]
name = "mirror"
resource = ["training-job/fraud-*"]
dst_cidrs = ["203.0.113.0/24"]

[[sink]]
name = "splunk"
type = "hec"
url = "http://127.0.0.1:8088"
token_env = "HEC_TOKEN"
ack = true
[sink.select]
min_severity = "high"

[[sink]]
name = "archive"
type = "file"
path = "/tmp/findings.ocsf.jsonl"
payload = "ocsf"
"#;
        let c = RouteConfig::parse(text).unwrap();
        assert_eq!(c.sinks.len(), 2);
        assert_eq!(c.sinks[0].select.min_severity, Some(Severity::High));
        assert_eq!(c.suppressions[0].select.resource, ["training-job/fraud-*"]);
        assert!(
            RouteConfig::parse(&text.replace("\"hec\"", "\"carrier-pigeon\""))
                .unwrap_err()
                .contains("line")
        );
        assert!(RouteConfig::parse(&text.replace("203.0.113.0/24", "nope"))
            .unwrap_err()
            .contains("CIDR"));
        assert!(RouteConfig::parse(&text.replace("token_env", "token")).is_err());
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("1 parsec"), None);
        assert_eq!(format!("{:?}", Secret("hunter2".into())), "***");
    }
}
