//! Wire formats for SIEM delivery: pure functions from a [`Finding`] (plus a small
//! [`FormatContext`]) to the documents each SIEM expects, and parsers for their responses.
//!
//! | module | wire document |
//! |---|---|
//! | [`ocsf`] | OCSF 1.8.0 Detection Finding (class 2004) with the `cloud` profile |
//! | [`ecs`] | Elasticsearch/OpenSearch ECS alert document, `_bulk` bodies and bulk-response triage |
//! | [`syslog`] | RFC 5424 messages with RFC 6587 octet-counting framing; JSON or ArcSight CEF payload |
//! | [`hec`] | Splunk HTTP Event Collector batches; HEC and indexer-ack responses |
//! | [`asff`] | AWS Security Hub ASFF findings, `BatchImportFindings` bodies (≤100) and responses |
//! | [`slack`] | Slack-compatible `{"text": ...}` and generic webhook bodies |
//!
//! Nothing here does I/O (except [`FormatContext::from_env`]) or reads a clock: "now" comes
//! from the context, so every document is a deterministic function of its inputs. Every
//! document carries the finding's stable id so that re-sends can be de-duplicated by the SIEM.

pub mod asff;
pub mod ecs;
pub mod hec;
pub mod ocsf;
pub mod slack;
pub mod syslog;

use std::borrow::Cow;

use crate::detect::{Finding, Severity};

/// Product and vendor name in every document.
pub const PRODUCT: &str = "egresswatch";
/// Vendor name (there is no separate vendor).
pub const VENDOR: &str = "egresswatch";

/// What a document needs beyond the finding itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatContext {
    /// egresswatch's version (`CARGO_PKG_VERSION`).
    pub product_version: String,
    /// AWS account of the findings; when `None`, taken from each finding's resource ARN.
    pub account_id: Option<String>,
    /// AWS region of the findings; when `None`, taken from each finding's resource ARN.
    pub region: Option<String>,
    /// The host egresswatch runs on (syslog HOSTNAME, HEC `host`, ECS `observer.hostname`).
    pub hostname: String,
    /// "Now" in Unix milliseconds: when this emission is made (syslog TIMESTAMP, ASFF
    /// `UpdatedAt`, the time of documents for findings without timestamps).
    pub now_ms: i64,
}

impl FormatContext {
    /// A context with the given version, host and time; account and region from ARNs.
    pub fn new(
        product_version: impl Into<String>,
        hostname: impl Into<String>,
        now_ms: i64,
    ) -> Self {
        Self {
            product_version: product_version.into(),
            account_id: None,
            region: None,
            hostname: hostname.into(),
            now_ms,
        }
    }

    /// This build's version, this machine's host name and the current time.
    pub fn from_env() -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self::new(env!("CARGO_PKG_VERSION"), local_hostname(), now_ms)
    }

    pub fn with_account(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The finding's AWS account: the context's, else its resource ARN's.
    pub fn account_for<'a>(&'a self, f: &'a Finding) -> Option<&'a str> {
        self.account_id
            .as_deref()
            .or_else(|| resource_arn(f).map(|a| a.account))
            .filter(|s| !s.is_empty())
    }

    /// The finding's AWS region: the context's, else its resource ARN's.
    pub fn region_for<'a>(&'a self, f: &'a Finding) -> Option<&'a str> {
        self.region
            .as_deref()
            .or_else(|| resource_arn(f).map(|a| a.region))
            .filter(|s| !s.is_empty())
    }

    /// The finding's AWS partition (`aws`, `aws-cn`, `aws-us-gov`): its resource ARN's, else
    /// derived from the region.
    pub fn partition_for<'a>(&'a self, f: &'a Finding) -> &'a str {
        if let Some(a) = resource_arn(f) {
            if !a.partition.is_empty() {
                return a.partition;
            }
        }
        match self.region_for(f) {
            Some(r) if r.starts_with("cn-") => "aws-cn",
            Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
            _ => "aws",
        }
    }
}

fn local_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// The parts of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Splits an ARN; `None` when it is not one.
pub fn parse_arn(s: &str) -> Option<Arn<'_>> {
    let mut it = s.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    Some(Arn {
        partition: it.next()?,
        service: it.next()?,
        region: it.next()?,
        account: it.next()?,
        resource: it.next()?,
    })
}

fn resource_arn(f: &Finding) -> Option<Arn<'_>> {
    f.resource.as_ref()?.arn.as_deref().and_then(parse_arn)
}

/// OCSF-style numeric severity: info 1, low 2, medium 3, high 4, critical 5.
pub fn severity_id(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

/// The caption of [`severity_id`] (OCSF `severity`).
pub fn severity_caption(s: Severity) -> &'static str {
    match s {
        Severity::Info => "Informational",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

/// An RFC 3339 timestamp of the finding in Unix milliseconds (`None` when absent or invalid).
pub fn rfc3339_to_ms(s: Option<&str>) -> Option<i64> {
    s.and_then(crate::time::parse_rfc3339)
        .and_then(|secs| secs.checked_mul(1000))
}

/// The finding's event time in Unix milliseconds: last seen, else first seen, else window start.
pub fn finding_time_ms(f: &Finding) -> Option<i64> {
    rfc3339_to_ms(f.last_seen.as_deref())
        .or_else(|| rfc3339_to_ms(f.first_seen.as_deref()))
        .or_else(|| rfc3339_to_ms(f.window_start.as_deref()))
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for Unix milliseconds.
pub fn format_rfc3339_ms(ms: i64) -> String {
    let secs = crate::time::format_rfc3339(ms.div_euclid(1000));
    // "...SSZ" -> "...SS.mmmZ"
    format!("{}.{:03}Z", &secs[..secs.len() - 1], ms.rem_euclid(1000))
}

/// Cuts `s` to at most `max` characters, ending with `…` when cut.
pub fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some(_) if max == 0 => Cow::Borrowed(""),
        Some(_) => {
            let end = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            let mut out = String::with_capacity(end + 3);
            out.push_str(&s[..end]);
            out.push('…');
            Cow::Owned(out)
        }
    }
}

/// Whether an address string is IPv6.
pub(crate) fn is_ipv6(ip: &str) -> bool {
    ip.contains(':')
}

/// Human name and remediation for the controls the built-in rules check (`Finding::control`).
pub fn control_info(control: &str) -> Option<(&'static str, &'static str)> {
    Some(match control {
        "network-isolation" => (
            "SageMaker network isolation (EnableNetworkIsolation)",
            "Check the job or model was created with EnableNetworkIsolation and that its containers cannot reach the NAT or internet gateway; find what in the container opened the connection.",
        ),
        "no-direct-internet-access" => (
            "No direct internet access for SageMaker workloads",
            "Run the workload in private subnets whose route tables have no NAT or internet gateway route (DirectInternetAccess Disabled for notebooks) and reach AWS services through VPC endpoints.",
        ),
        "privatelink" => (
            "Interface VPC endpoints (AWS PrivateLink)",
            "Create an interface VPC endpoint with private DNS for the AWS service in this VPC and make sure the workload resolves the service name to it.",
        ),
        "gateway-endpoint" => (
            "S3/DynamoDB gateway VPC endpoint",
            "Route S3 through a gateway endpoint in the same region and restrict the bucket and endpoint policies to the expected buckets and region.",
        ),
        "tls-in-transit" => (
            "TLS encryption in transit",
            "Use TLS for this connection (HTTPS, or enable inter-container traffic encryption) and block cleartext ports in the security group.",
        ),
        "vpc-resolver" => (
            "VPC resolver (Route 53 Resolver) only",
            "Send DNS only to the VPC resolver (Route 53 Resolver) and block outbound 53/853 elsewhere with security groups, NACLs or DNS Firewall.",
        ),
        "security-groups-nacls" => (
            "Security groups and network ACLs",
            "The egress was blocked; confirm why the workload attempted it and whether the destination is expected.",
        ),
        _ => return None,
    })
}

/// Outcome of a delivery attempt, per request or per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Stored (or already stored: a duplicate of a re-send).
    Ok,
    /// Transient: send again later (429, 5xx except 501, back-pressure).
    Retryable,
    /// Will fail again as is (4xx: configuration, authentication, mapping errors).
    Permanent,
}

/// Whole-request triage of an HTTP status: 2xx ok; 408, 429 and 5xx except 501 retryable;
/// everything else permanent.
pub fn classify_http_status(status: u16) -> Delivery {
    match status {
        200..=299 => Delivery::Ok,
        408 | 429 => Delivery::Retryable,
        501 => Delivery::Permanent,
        500..=599 => Delivery::Retryable,
        _ => Delivery::Permanent,
    }
}

/// A SIEM response that could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("response is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("response has an unexpected shape: {0}")]
    Shape(String),
    #[error("{0} is unknown: set it in the format context or give the finding a resource ARN")]
    Missing(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_parts() {
        let a = parse_arn("arn:aws:sagemaker:us-east-1:111122223333:training-job/x:y").unwrap();
        assert_eq!(a.partition, "aws");
        assert_eq!(a.service, "sagemaker");
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.account, "111122223333");
        assert_eq!(a.resource, "training-job/x:y");
        assert!(parse_arn("eni-123").is_none());
        assert!(parse_arn("arn:aws:s3").is_none());
    }

    #[test]
    fn millisecond_timestamps() {
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339_ms(1_763_629_498_123),
            "2025-11-20T09:04:58.123Z"
        );
        assert_eq!(
            rfc3339_to_ms(Some("2025-11-20T09:04:58Z")),
            Some(1_763_629_498_000)
        );
        assert_eq!(rfc3339_to_ms(Some("nope")), None);
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_chars("äöüß", 3).chars().count(), 3);
        assert_eq!(truncate_chars("abc", 0), "");
    }

    #[test]
    fn http_triage() {
        assert_eq!(classify_http_status(200), Delivery::Ok);
        assert_eq!(classify_http_status(429), Delivery::Retryable);
        assert_eq!(classify_http_status(503), Delivery::Retryable);
        assert_eq!(classify_http_status(501), Delivery::Permanent);
        assert_eq!(classify_http_status(400), Delivery::Permanent);
        assert_eq!(classify_http_status(403), Delivery::Permanent);
    }
}
