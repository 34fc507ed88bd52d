//! AWS Security Hub (CSPM): ASFF findings, `BatchImportFindings` request bodies (at most 100
//! findings each) and their responses (siem.md §3.1).
//!
//! Security Hub matches findings on (`ProductArn`, `Id`) and only applies a re-import whose
//! `UpdatedAt` is later than the stored one, so `Id` is the stable finding id, `CreatedAt` the
//! finding's first seen (fixed), and `UpdatedAt` the context's now (advances on every send;
//! fixed per emission, so a retried request is idempotent). Severity and Types are also set in
//! `FindingProviderFields`, where providers are meant to set them.
//!
//! A later revision of a finding (`activity = update`, behavioural baselines) is a re-import of
//! the same `Id` with a later `UpdatedAt` and `RecordState` `ACTIVE`; its revision and, for
//! anomaly findings, the observed and baseline values are in `ProductFields`
//! (`egresswatch/Revision`, `egresswatch/Anomaly/Observed`, ...). A class-level anomaly has no
//! destination address: `Network` has no `DestinationIpV4`/`V6`, `egresswatch/DstClass` names
//! the class.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    control_info, finding_time_ms, format_rfc3339_ms, is_ipv6, rfc3339_to_ms, truncate_chars,
    Delivery, FormatContext, FormatError, PRODUCT, VENDOR,
};
use crate::detect::{Finding, Severity};

pub const SCHEMA_VERSION: &str = "2018-10-08";
/// Findings per `BatchImportFindings` request (API maximum).
pub const MAX_BATCH: usize = 100;
pub const MAX_TITLE_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// `Remediation.Recommendation.Text` limit.
pub const MAX_RECOMMENDATION_CHARS: usize = 512;
/// Evidence records listed in `ProductFields` (fewer when other keys leave less room).
pub const MAX_EVIDENCE_FIELDS: usize = 20;
/// `ProductFields` holds at most 50 keys.
pub const MAX_PRODUCT_FIELDS: usize = 50;
/// `ProductFields` value limit.
pub const MAX_PRODUCT_FIELD_CHARS: usize = 2048;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffFinding<'a> {
    pub schema_version: &'static str,
    pub id: &'a str,
    pub product_arn: String,
    pub product_name: &'static str,
    pub company_name: &'static str,
    pub generator_id: &'a str,
    pub aws_account_id: &'a str,
    pub types: Vec<&'static str>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_observed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_observed_at: Option<String>,
    pub severity: AsffSeverity,
    pub finding_provider_fields: FindingProviderFields,
    pub title: Cow<'a, str>,
    pub description: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
    pub network: Network<'a>,
    pub resources: Vec<Resource>,
    pub product_fields: BTreeMap<String, String>,
    pub record_state: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffSeverity {
    pub label: &'static str,
    pub original: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FindingProviderFields {
    pub severity: AsffSeverity,
    pub types: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Remediation {
    pub recommendation: Recommendation,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Recommendation {
    pub text: Cow<'static, str>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network<'a> {
    pub direction: &'static str,
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip_v4: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip_v6: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_ip_v4: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_ip_v6: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_port: Option<u16>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    #[serde(rename = "Type")]
    pub type_: &'static str,
    pub id: String,
    pub partition: String,
    pub region: String,
    pub details: serde_json::Value,
}

/// `INFORMATIONAL|LOW|MEDIUM|HIGH|CRITICAL`.
pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Info => "INFORMATIONAL",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// ASFF `Types` (namespace/category) for a finding category: every finding is
/// `Unusual Behaviors/Network Flow`; data leaving the controls' boundary adds
/// `Effects/Data Exfiltration`, cleartext adds `Effects/Data Exposure`, an endpoint bypass
/// `Software and Configuration Checks/AWS Security Best Practices/Network Reachability`, DNS
/// to a foreign resolver `TTPs/Command and Control`.
pub fn types(category: &str) -> Vec<&'static str> {
    let mut t = vec!["Unusual Behaviors/Network Flow"];
    match category {
        "isolation-violation" | "internet-egress" | "cross-region-s3" => {
            t.push("Effects/Data Exfiltration")
        }
        "plaintext-transit" => t.push("Effects/Data Exposure"),
        "endpoint-bypass" => t.push(
            "Software and Configuration Checks/AWS Security Best Practices/Network Reachability",
        ),
        "dns-egress" | "beaconing" => t.push("TTPs/Command and Control"),
        "volume-spike" | "sustained-egress" => t.push("Effects/Data Exfiltration"),
        _ => {}
    }
    t
}

/// `arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default` (the account's own product).
pub fn product_arn(partition: &str, region: &str, account: &str) -> String {
    format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default")
}

fn product_fields(f: &Finding) -> BTreeMap<String, String> {
    fn put(m: &mut BTreeMap<String, String>, k: &str, v: &str) {
        m.insert(
            format!("{PRODUCT}/{k}"),
            truncate_chars(v, MAX_PRODUCT_FIELD_CHARS).into_owned(),
        );
    }
    let mut m = BTreeMap::new();
    put(&mut m, "RuleId", &f.rule);
    put(&mut m, "Category", &f.category);
    put(&mut m, "Control", &f.control);
    put(&mut m, "Path", &f.path);
    put(&mut m, "Eni", &f.eni);
    if let Some(v) = &f.vpc_id {
        put(&mut m, "VpcId", v);
    }
    if let Some(v) = &f.subnet_id {
        put(&mut m, "SubnetId", v);
    }
    let ports: Vec<String> = f.dst_ports.iter().map(u16::to_string).collect();
    put(&mut m, "DstPorts", &ports.join(","));
    if let Some(v) = &f.dst_service {
        put(&mut m, "DstService", v);
    }
    if let Some(v) = &f.dst_region {
        put(&mut m, "DstRegion", v);
    }
    if let Some(v) = &f.window_start {
        put(&mut m, "WindowStart", v);
    }
    put(&mut m, "Flows", &f.flows.to_string());
    put(&mut m, "Packets", &f.packets.to_string());
    put(&mut m, "Bytes", &f.bytes.to_string());
    put(&mut m, "FlowsSeenOnNat", &f.flows_seen_on_nat.to_string());
    put(&mut m, "Activity", f.activity.as_str());
    put(&mut m, "Revision", &f.revision.to_string());
    if let Some(v) = &f.dst_class {
        put(&mut m, "DstClass", v);
    }
    if let Some(v) = f.resource.as_ref().and_then(|r| r.family.as_deref()) {
        put(&mut m, "Family", v);
    }
    if let Some(a) = &f.anomaly {
        put(&mut m, "Anomaly/Observed", &a.observed.to_string());
        put(&mut m, "Anomaly/Baseline", &a.baseline.to_string());
        put(&mut m, "Anomaly/Unit", &a.unit);
        put(&mut m, "Anomaly/Threshold", &a.threshold.to_string());
        put(&mut m, "Anomaly/Score", &a.score.to_string());
        if let Some(p) = a.p95 {
            put(&mut m, "Anomaly/P95", &p.to_string());
        }
        put(&mut m, "Anomaly/Profile", &a.profile);
        put(
            &mut m,
            "Anomaly/ProfileAgeHours",
            &a.profile_age_hours.to_string(),
        );
        put(
            &mut m,
            "Anomaly/Learning",
            if a.learning { "true" } else { "false" },
        );
        put(&mut m, "Anomaly/WindowStart", &a.window_start);
        put(&mut m, "Anomaly/WindowEnd", &a.window_end);
        put(&mut m, "Anomaly/Samples", &a.samples.to_string());
    }
    // Room left for evidence, keeping one key for EvidenceOmitted.
    let room = MAX_PRODUCT_FIELDS.saturating_sub(m.len() + 1);
    let listed = f.evidence.len().min(MAX_EVIDENCE_FIELDS).min(room);
    for (i, e) in f.evidence.iter().take(listed).enumerate() {
        put(
            &mut m,
            &format!("Evidence/{i}"),
            &format!("{}:{}", e.file, e.line),
        );
    }
    let omitted = f.evidence_omitted + (f.evidence.len() - listed) as u64;
    put(&mut m, "EvidenceOmitted", &omitted.to_string());
    m
}

/// The ASFF finding for `f`; account and region come from the context or the resource ARN
/// and are required (they make up `ProductArn`).
pub fn finding<'a>(f: &'a Finding, ctx: &'a FormatContext) -> Result<AsffFinding<'a>, FormatError> {
    let account = ctx
        .account_for(f)
        .ok_or(FormatError::Missing("AWS account id"))?;
    let region = ctx
        .region_for(f)
        .ok_or(FormatError::Missing("AWS region"))?;
    let partition = ctx.partition_for(f);
    let first = rfc3339_to_ms(f.first_seen.as_deref());
    let last = rfc3339_to_ms(f.last_seen.as_deref());
    let created = first
        .or_else(|| rfc3339_to_ms(f.window_start.as_deref()))
        .or_else(|| finding_time_ms(f))
        .unwrap_or(ctx.now_ms);
    let types = types(&f.category);
    let severity = || AsffSeverity {
        label: severity_label(f.severity),
        original: f.severity.as_str(),
    };

    let mut eni_details = serde_json::Map::new();
    eni_details.insert("NetworkInterfaceId".into(), f.eni.clone().into());
    if let Some(ip) = &f.src_ip {
        eni_details.insert(
            "PrivateIpAddresses".into(),
            serde_json::json!([{ "PrivateIpAddress": ip }]),
        );
    }
    let mut resources = Vec::with_capacity(2);
    // Anomaly findings built from cells without an ENI name it `-`: no ENI resource then
    // (unless there is no other resource, since Resources must not be empty).
    if (!f.eni.is_empty() && f.eni != "-") || f.resource.is_none() {
        resources.push(Resource {
            type_: "AwsEc2NetworkInterface",
            id: format!(
                "arn:{partition}:ec2:{region}:{account}:network-interface/{}",
                f.eni
            ),
            partition: partition.to_string(),
            region: region.to_string(),
            details: serde_json::json!({ "AwsEc2NetworkInterface": eni_details }),
        });
    }
    if let Some(r) = &f.resource {
        let mut other = serde_json::Map::new();
        other.insert("Kind".into(), r.kind.clone().into());
        other.insert("Name".into(), r.name.clone().into());
        if let Some(iso) = r.network_isolation {
            other.insert("NetworkIsolation".into(), iso.to_string().into());
        }
        resources.push(Resource {
            type_: "Other",
            id: r.arn.clone().unwrap_or_else(|| r.name.clone()),
            partition: partition.to_string(),
            region: region.to_string(),
            details: serde_json::json!({ "Other": other }),
        });
    }

    let (src4, src6) = match f.src_ip.as_deref() {
        Some(ip) if is_ipv6(ip) => (None, Some(ip)),
        Some(ip) => (Some(ip), None),
        None => (None, None),
    };
    let (dst4, dst6) = match f.dst_ip.as_deref().filter(|ip| !ip.is_empty()) {
        Some(ip) if is_ipv6(ip) => (None, Some(ip)),
        Some(ip) => (Some(ip), None),
        None => (None, None),
    };

    Ok(AsffFinding {
        schema_version: SCHEMA_VERSION,
        id: &f.id,
        product_arn: product_arn(partition, region, account),
        product_name: PRODUCT,
        company_name: VENDOR,
        generator_id: &f.rule,
        aws_account_id: account,
        types: types.clone(),
        created_at: format_rfc3339_ms(created),
        updated_at: format_rfc3339_ms(ctx.now_ms),
        first_observed_at: first.map(format_rfc3339_ms),
        last_observed_at: last.map(format_rfc3339_ms),
        severity: severity(),
        finding_provider_fields: FindingProviderFields {
            severity: severity(),
            types,
        },
        title: truncate_chars(&f.title, MAX_TITLE_CHARS),
        description: if f.description.trim().is_empty() {
            truncate_chars(&f.title, MAX_DESCRIPTION_CHARS)
        } else {
            truncate_chars(&f.description, MAX_DESCRIPTION_CHARS)
        },
        remediation: control_info(&f.control).map(|c| Remediation {
            recommendation: Recommendation {
                text: truncate_chars(c.1, MAX_RECOMMENDATION_CHARS),
            },
        }),
        network: Network {
            direction: "OUT",
            protocol: f.protocol_name.to_ascii_uppercase(),
            source_ip_v4: src4,
            source_ip_v6: src6,
            destination_ip_v4: dst4,
            destination_ip_v6: dst6,
            destination_port: f.dst_port,
        },
        resources,
        product_fields: product_fields(f),
        record_state: "ACTIVE",
    })
}

/// `BatchImportFindings` request bodies `{"Findings":[...]}`, at most [`MAX_BATCH`] findings
/// each, in order. Fails (naming nothing sent) when a finding lacks account or region.
pub fn batch_import_bodies(
    findings: &[Finding],
    ctx: &FormatContext,
) -> Result<Vec<String>, FormatError> {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "Findings")]
        findings: Vec<AsffFinding<'a>>,
    }
    findings
        .chunks(MAX_BATCH)
        .map(|chunk| {
            let findings = chunk
                .iter()
                .map(|f| finding(f, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(serde_json::to_string(&Body { findings })?)
        })
        .collect()
}

/// A `BatchImportFindings` response; HTTP 200 can still carry per-finding failures.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchImportResponse {
    pub failed_count: u64,
    pub success_count: u64,
    #[serde(default)]
    pub failed_findings: Vec<FailedFinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailedFinding {
    pub id: String,
    pub error_code: String,
    #[serde(default)]
    pub error_message: String,
}

impl FailedFinding {
    /// Throttling and internal errors are retryable; invalid input or access are not.
    pub fn delivery(&self) -> Delivery {
        match self.error_code.as_str() {
            "ThrottlingException"
            | "TooManyRequestsException"
            | "LimitExceededException"
            | "InternalException"
            | "InternalFailure"
            | "ServiceUnavailable" => Delivery::Retryable,
            _ => Delivery::Permanent,
        }
    }
}

/// Parses a `BatchImportFindings` response body.
pub fn parse_batch_import_response(body: &[u8]) -> Result<BatchImportResponse, FormatError> {
    Ok(serde_json::from_slice(body)?)
}
