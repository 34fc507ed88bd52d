//! OCSF 1.8.0 Detection Finding (class 2004, category Findings) with the `cloud` profile.
//!
//! Mapping (siem.md §1, §7.2):
//! * `finding_info.uid` = the finding id (stable: re-sends and updates carry the same uid);
//!   `metadata.uid` = a per-emission id derived from the finding id, activity and time, so a
//!   retried emission is recognisably the same event.
//! * `time` = last seen (else first seen, else window start, else the context's now), in ms.
//! * Detection Finding has no top-level endpoints or traffic: the flow is in `evidences[0]`
//!   (`src_endpoint` with the ENI as `interface_uid`, `dst_endpoint`, `connection_info` with
//!   direction Outbound and the egress path as `boundary`), one more evidence per flow-log
//!   record (`file` + `data.line`), bytes and packets in `unmapped.traffic`.
//! * The bypassed control is the `policy` ("the policy that pertains to the control that
//!   triggered the event", a `security_control` profile attribute), with its remediation in
//!   `remediation`; control and path are also in `unmapped` for simple queries.
//! * The finding's own lifecycle: a finding with `activity = update` (a later revision of the
//!   same id) is always an Update (activity 2) with `finding_info.modified_time`; OCSF has no
//!   revision attribute, so the revision is `unmapped.revision`.
//! * Anomaly findings (behavioural baselines, EW-101..EW-105): `finding_info.analytic` is
//!   Behavioral (type 2) and `anomaly_analyses[0]` carries the profile as the analysis target,
//!   the observed value as the anomaly (with the anomaly window as its timespan) and the
//!   baseline value (with its sample count); the whole `anomaly` object (threshold, score,
//!   p95, unit, profile age, learning) is `unmapped.anomaly`, with `unmapped.dst_class`.
//!   A class-level anomaly has no destination address: `dst_endpoint` omits `ip` and names the
//!   destination class instead (`dst_endpoint.name`), and there is no destination observable.

use std::io::{self, Write};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    control_info, finding_time_ms, is_ipv6, rfc3339_to_ms, severity_caption, severity_id,
    FormatContext, PRODUCT, VENDOR,
};
use crate::detect::Finding;

pub const OCSF_VERSION: &str = "1.8.0";
pub const CATEGORY_UID: u32 = 2;
pub const CATEGORY_NAME: &str = "Findings";
pub const CLASS_UID: u32 = 2004;
pub const CLASS_NAME: &str = "Detection Finding";
/// The profiles applied (and filled) in every document: `cloud` (provider, region, account)
/// and `security_control` (egresswatch is a detective control: action Observed, disposition
/// Detected, and the bypassed control as the `policy`).
pub const PROFILES: &[&str] = &["cloud", "security_control"];

/// The finding lifecycle step an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activity {
    /// First emission of a finding.
    Create,
    /// A re-send of a known finding (new last seen, counts).
    Update,
    /// The finding is over (not an alert).
    Close,
}

impl Activity {
    pub fn id(self) -> u32 {
        match self {
            Activity::Create => 1,
            Activity::Update => 2,
            Activity::Close => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activity::Create => "Create",
            Activity::Update => "Update",
            Activity::Close => "Close",
        }
    }
}

/// `class_uid * 100 + activity_id`.
pub fn type_uid(activity: Activity) -> u64 {
    u64::from(CLASS_UID) * 100 + u64::from(activity.id())
}

#[derive(Debug, Clone, Serialize)]
pub struct DetectionFinding<'a> {
    pub activity_id: u32,
    pub activity_name: &'static str,
    pub category_uid: u32,
    pub category_name: &'static str,
    pub class_uid: u32,
    pub class_name: &'static str,
    pub type_uid: u64,
    pub type_name: String,
    pub severity_id: u8,
    pub severity: &'static str,
    pub status_id: u8,
    pub status: &'static str,
    pub is_alert: bool,
    pub action_id: u8,
    pub action: &'static str,
    pub disposition_id: u8,
    pub disposition: &'static str,
    pub time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub count: u64,
    pub message: &'a str,
    pub metadata: Metadata<'a>,
    pub cloud: Cloud<'a>,
    pub finding_info: FindingInfo<'a>,
    pub resources: Vec<Resource<'a>>,
    pub evidences: Vec<Evidence<'a>>,
    pub observables: Vec<Observable<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomaly_analyses: Vec<AnomalyAnalysis<'a>>,
    pub policy: Policy<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
    pub unmapped: Unmapped<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metadata<'a> {
    pub version: &'static str,
    pub uid: String,
    pub profiles: &'static [&'static str],
    pub log_name: &'static str,
    pub product: Product<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Product<'a> {
    pub name: &'static str,
    pub vendor_name: &'static str,
    pub version: &'a str,
    pub uid: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cloud<'a> {
    pub provider: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Account<'a>>,
    pub cloud_partition: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Account<'a> {
    pub uid: &'a str,
    pub type_id: u8,
    #[serde(rename = "type")]
    pub type_: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingInfo<'a> {
    pub uid: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub types: [&'a str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_time: Option<i64>,
    pub data_sources: [&'static str; 1],
    pub analytic: Analytic<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analytic<'a> {
    pub type_id: u8,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub uid: &'a str,
    pub name: &'a str,
    pub category: &'a str,
}

/// `anomaly_analysis` (OCSF 1.5+): what was analysed, the anomaly and the baseline it deviates
/// from.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyAnalysis<'a> {
    pub analysis_targets: Vec<AnalysisTarget<'a>>,
    pub anomalies: Vec<Pattern>,
    pub baselines: Vec<Pattern>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnalysisTarget<'a> {
    pub name: &'a str,
    #[serde(rename = "type")]
    pub type_: &'static str,
}

/// The shape shared by the `anomaly` and `baseline` objects.
#[derive(Debug, Clone, Serialize)]
pub struct Pattern {
    pub observation_parameter: String,
    pub observation_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_pattern: Option<&'static str>,
    pub observations: Vec<Observation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Observation {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timespan: Option<Timespan>,
}

/// A `timespan` given by its interval (type 9, Time Interval).
#[derive(Debug, Clone, Serialize)]
pub struct Timespan {
    pub start_time: i64,
    pub end_time: i64,
    pub duration: i64,
    pub type_id: u8,
    #[serde(rename = "type")]
    pub type_: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resource<'a> {
    pub uid: &'a str,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub type_: String,
    pub role_id: u8,
    pub role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    pub cloud_partition: &'a str,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Evidence<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<Endpoint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_endpoint: Option<Endpoint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_info: Option<ConnectionInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<File<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<EvidenceData>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Endpoint<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svc_name: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionInfo<'a> {
    pub direction_id: u8,
    pub direction: &'static str,
    pub protocol_num: u8,
    pub protocol_name: &'a str,
    pub protocol_ver_id: u8,
    pub boundary_id: u8,
    pub boundary: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct File<'a> {
    pub name: &'a str,
    pub path: &'a str,
    pub type_id: u8,
    #[serde(rename = "type")]
    pub type_: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvidenceData {
    pub line: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Observable<'a> {
    pub name: &'static str,
    pub type_id: u8,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub value: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Policy<'a> {
    pub uid: &'a str,
    pub name: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Remediation {
    pub desc: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unmapped<'a> {
    pub rule: &'a str,
    pub category: &'a str,
    pub control: &'a str,
    pub path: &'a str,
    pub traffic: Traffic,
    pub dst_ports: &'a [u16],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_service: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_start: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_isolation: Option<bool>,
    pub flows_seen_on_nat: u64,
    pub evidence_omitted: u64,
    /// How the ENI was attributed: confidence, sources, candidates (the JSONL `attribution`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<&'a crate::detect::findings::Attribution>,
    /// 1 when first raised; each update of the same finding id adds one.
    pub revision: u32,
    /// The destination class of an anomaly (`s3-gateway`, `internet:203.0.113.0/24`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_class: Option<&'a str>,
    /// The baseline family of the resource (anomaly findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<&'a str>,
    /// Why an anomaly finding fired, as in the JSONL `anomaly`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<&'a crate::baseline::Anomaly>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Traffic {
    pub bytes: u64,
    pub packets: u64,
    pub flows: u64,
}

/// OCSF `connection_info.boundary_id` and caption for an egress path.
pub fn boundary(path: &str) -> (u8, &'static str) {
    match path {
        "local" | "interface-endpoint" => (4, "Same VPC"),
        "gateway-endpoint" => (10, "Gateway VPC"),
        "internet-gateway" => (11, "Internet Gateway"),
        "local-gateway" => (9, "Local Gateway"),
        "vpn" => (6, "Virtual Private Gateway"),
        "nat-gateway" => (99, "NAT Gateway"),
        "peering" => (99, "VPC Peering"),
        "transit-gateway" => (99, "Transit Gateway"),
        _ => (0, "Unknown"),
    }
}

/// CloudFormation-style resource type of a SageMaker resource kind.
pub fn resource_type(kind: &str) -> String {
    let known = match kind {
        "training-job" => "AWS::SageMaker::TrainingJob",
        "processing-job" => "AWS::SageMaker::ProcessingJob",
        "endpoint" => "AWS::SageMaker::Endpoint",
        "model" => "AWS::SageMaker::Model",
        "notebook-instance" => "AWS::SageMaker::NotebookInstance",
        "studio-domain" => "AWS::SageMaker::Domain",
        "transform-job" => "AWS::SageMaker::TransformJob",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    // A label's own kind: "my-thing" -> "AWS::SageMaker::MyThing".
    let mut out = String::from("AWS::SageMaker::");
    for part in kind.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut cs = part.chars();
        if let Some(c) = cs.next() {
            out.push(c.to_ascii_uppercase());
            out.extend(cs);
        }
    }
    out
}

fn event_uid(f: &Finding, activity: Activity, time: i64) -> String {
    let mut h = Sha256::new();
    h.update(b"egresswatch/ocsf-event/v1\n");
    h.update(f.id.as_bytes());
    h.update(b"\n");
    h.update(activity.id().to_string().as_bytes());
    h.update(b"\n");
    h.update(time.to_string().as_bytes());
    let d = h.finalize();
    // Formatted as a UUID (version nibble 5-like, RFC 4122 variant) for consumers that expect one.
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The finding's activity: a finding that is itself an update (a later revision of the same
/// id) is an Update even when the caller reports it as new; Close stays Close.
pub fn effective_activity(f: &Finding, activity: Activity) -> Activity {
    match (activity, f.activity) {
        (Activity::Create, crate::detect::findings::Activity::Update) => Activity::Update,
        (a, _) => a,
    }
}

/// The analysis methodology and the anomalous pattern of an anomaly category.
fn analysis_kind(category: &str) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    match category {
        "volume-spike" => ("Volume Analysis", Some("SURGE"), Some("NORMAL_VOLUME")),
        "sustained-egress" => (
            "Volume Analysis",
            Some("HIGH_VOLUME"),
            Some("NORMAL_VOLUME"),
        ),
        "new-destination" | "new-port" => ("Frequency Analysis", Some("UNSEEN"), None),
        "beaconing" => ("Time Pattern Analysis", Some("PERIODIC"), None),
        _ => ("Other", None, None),
    }
}

/// `anomaly_analyses[0]` for an anomaly finding.
fn anomaly_analysis<'a>(f: &'a Finding, a: &'a crate::baseline::Anomaly) -> AnomalyAnalysis<'a> {
    let (observation_type, observed, expected) = analysis_kind(&f.category);
    let parameter = format!("{} to {}", a.unit, a.dst_class);
    let start = rfc3339_to_ms(Some(&a.window_start));
    let end = rfc3339_to_ms(Some(&a.window_end));
    let timespan = match (start, end) {
        (Some(s), Some(e)) if e >= s => Some(Timespan {
            start_time: s,
            end_time: e,
            duration: e - s,
            type_id: 9,
            type_: "Time Interval",
        }),
        _ => None,
    };
    AnomalyAnalysis {
        analysis_targets: vec![AnalysisTarget {
            name: &a.profile,
            type_: "Baseline Profile",
        }],
        anomalies: vec![Pattern {
            observation_parameter: parameter.clone(),
            observation_type,
            observed_pattern: observed,
            observations: vec![Observation {
                value: a.observed.to_string(),
                count: Some(f.flows),
                timespan,
            }],
        }],
        baselines: vec![Pattern {
            observation_parameter: parameter,
            observation_type,
            observed_pattern: expected,
            observations: vec![Observation {
                value: a.baseline.to_string(),
                count: Some(a.samples as u64),
                timespan: None,
            }],
        }],
    }
}

fn file_name(path: &str) -> &str {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    if name.is_empty() {
        path
    } else {
        name
    }
}

/// The Detection Finding for `f`. `Update` (also chosen for a finding whose own activity is
/// `update`, see [`effective_activity`]) sets `finding_info.modified_time`; `Close` clears
/// `is_alert`.
pub fn detection_finding<'a>(
    f: &'a Finding,
    ctx: &'a FormatContext,
    activity: Activity,
) -> DetectionFinding<'a> {
    let activity = effective_activity(f, activity);
    // Anomaly findings built from cells without an ENI name it `-`.
    let eni = Some(f.eni.as_str()).filter(|e| !e.is_empty() && *e != "-");
    let first = rfc3339_to_ms(f.first_seen.as_deref());
    let last = rfc3339_to_ms(f.last_seen.as_deref());
    let time = finding_time_ms(f).unwrap_or(ctx.now_ms);
    let region = ctx.region_for(f);
    let partition = ctx.partition_for(f);
    let (boundary_id, boundary) = boundary(&f.path);
    let control = control_info(&f.control);

    let mut resources = Vec::with_capacity(2);
    if let Some(r) = &f.resource {
        resources.push(Resource {
            uid: r.arn.as_deref().unwrap_or(&r.name),
            name: &r.name,
            type_: resource_type(&r.kind),
            role_id: 1,
            role: "Target",
            region,
            cloud_partition: partition,
        });
    }
    if eni.is_some() || f.resource.is_none() {
        resources.push(Resource {
            uid: &f.eni,
            name: &f.eni,
            type_: "AWS::EC2::NetworkInterface".to_string(),
            role_id: if f.resource.is_some() { 4 } else { 1 },
            role: if f.resource.is_some() {
                "Related"
            } else {
                "Target"
            },
            region,
            cloud_partition: partition,
        });
    }
    let dst_ip = f.dst_ip.as_deref().filter(|ip| !ip.is_empty());
    let dst_endpoint = Endpoint {
        ip: dst_ip,
        // Without an address the class is what names the destination.
        name: if dst_ip.is_none() {
            f.dst_class.as_deref()
        } else {
            None
        },
        port: f.dst_port,
        svc_name: f.dst_service.as_deref(),
        ..Default::default()
    };
    let dst_named =
        dst_endpoint.ip.is_some() || dst_endpoint.name.is_some() || dst_endpoint.svc_name.is_some();
    let ip_version = dst_ip.or(f.src_ip.as_deref());

    let mut evidences = Vec::with_capacity(1 + f.evidence.len());
    evidences.push(Evidence {
        name: Some("flow"),
        src_endpoint: (f.src_ip.is_some() || eni.is_some()).then(|| Endpoint {
            ip: f.src_ip.as_deref(),
            interface_uid: eni,
            vpc_uid: f.vpc_id.as_deref(),
            subnet_uid: f.subnet_id.as_deref(),
            ..Default::default()
        }),
        dst_endpoint: dst_named.then_some(dst_endpoint),
        connection_info: Some(ConnectionInfo {
            direction_id: 2,
            direction: "Outbound",
            protocol_num: f.protocol,
            protocol_name: &f.protocol_name,
            protocol_ver_id: match ip_version {
                Some(ip) if is_ipv6(ip) => 6,
                Some(_) => 4,
                None => 0,
            },
            boundary_id,
            boundary,
        }),
        ..Default::default()
    });
    evidences.extend(f.evidence.iter().map(|e| Evidence {
        name: Some("flow log record"),
        file: Some(File {
            name: file_name(&e.file),
            path: &e.file,
            type_id: 1,
            type_: "Regular File",
        }),
        data: Some(EvidenceData { line: e.line }),
        ..Default::default()
    }));

    let mut observables = Vec::with_capacity(3);
    if let Some(ip) = f.src_ip.as_deref() {
        observables.push(Observable {
            name: "evidences[].src_endpoint.ip",
            type_id: 2,
            type_: "IP Address",
            value: ip,
        });
    }
    if let Some(ip) = dst_ip {
        observables.push(Observable {
            name: "evidences[].dst_endpoint.ip",
            type_id: 2,
            type_: "IP Address",
            value: ip,
        });
    }
    for r in &resources {
        observables.push(Observable {
            name: "resources[].uid",
            type_id: 10,
            type_: "Resource UID",
            value: r.uid,
        });
    }

    DetectionFinding {
        activity_id: activity.id(),
        activity_name: activity.name(),
        category_uid: CATEGORY_UID,
        category_name: CATEGORY_NAME,
        class_uid: CLASS_UID,
        class_name: CLASS_NAME,
        type_uid: type_uid(activity),
        type_name: format!("{CLASS_NAME}: {}", activity.name()),
        severity_id: severity_id(f.severity),
        severity: severity_caption(f.severity),
        status_id: 1,
        status: "New",
        is_alert: activity != Activity::Close,
        action_id: 3,
        action: "Observed",
        disposition_id: 15,
        disposition: "Detected",
        time,
        start_time: first,
        end_time: last,
        count: f.flows,
        message: &f.title,
        metadata: Metadata {
            version: OCSF_VERSION,
            uid: event_uid(f, activity, time),
            profiles: PROFILES,
            log_name: "egresswatch-findings",
            product: Product {
                name: PRODUCT,
                vendor_name: VENDOR,
                version: &ctx.product_version,
                uid: PRODUCT,
            },
        },
        cloud: Cloud {
            provider: "AWS",
            region,
            account: ctx.account_for(f).map(|uid| Account {
                uid,
                type_id: 10,
                type_: "AWS Account",
            }),
            cloud_partition: partition,
        },
        finding_info: FindingInfo {
            uid: &f.id,
            title: &f.title,
            desc: &f.description,
            types: [&f.category],
            created_time: first.or(Some(time)),
            modified_time: (activity != Activity::Create).then_some(time),
            first_seen_time: first,
            last_seen_time: last,
            data_sources: ["AWS VPC Flow Logs"],
            analytic: Analytic {
                type_id: if f.anomaly.is_some() { 2 } else { 1 },
                type_: if f.anomaly.is_some() {
                    "Behavioral"
                } else {
                    "Rule"
                },
                uid: &f.rule,
                name: &f.category,
                category: &f.control,
            },
        },
        resources,
        evidences,
        observables,
        anomaly_analyses: f
            .anomaly
            .as_ref()
            .map(|a| anomaly_analysis(f, a))
            .into_iter()
            .collect(),
        policy: Policy {
            uid: &f.control,
            name: control.map_or(f.control.as_str(), |c| c.0),
        },
        remediation: control.map(|c| Remediation { desc: c.1 }),
        unmapped: Unmapped {
            rule: &f.rule,
            category: &f.category,
            control: &f.control,
            path: &f.path,
            traffic: Traffic {
                bytes: f.bytes,
                packets: f.packets,
                flows: f.flows,
            },
            dst_ports: &f.dst_ports,
            dst_service: f.dst_service.as_deref(),
            dst_region: f.dst_region.as_deref(),
            window_start: f.window_start.as_deref(),
            network_isolation: f.resource.as_ref().and_then(|r| r.network_isolation),
            flows_seen_on_nat: f.flows_seen_on_nat,
            evidence_omitted: f.evidence_omitted,
            attribution: f.attribution.as_ref(),
            revision: f.revision,
            dst_class: f.dst_class.as_deref(),
            family: f.resource.as_ref().and_then(|r| r.family.as_deref()),
            anomaly: f.anomaly.as_ref(),
        },
    }
}

/// The Detection Finding as compact JSON.
pub fn to_json(f: &Finding, ctx: &FormatContext, activity: Activity) -> String {
    serde_json::to_string(&detection_finding(f, ctx, activity))
        .expect("OCSF documents always serialize")
}

/// The Detection Finding as a `serde_json::Value` (for callers that add or inspect fields).
pub fn to_value(f: &Finding, ctx: &FormatContext, activity: Activity) -> serde_json::Value {
    serde_json::to_value(detection_finding(f, ctx, activity))
        .expect("OCSF documents always serialize")
}

/// One Detection Finding per line.
pub fn write_jsonl(
    w: &mut dyn Write,
    findings: &[Finding],
    ctx: &FormatContext,
    activity: Activity,
) -> io::Result<()> {
    for f in findings {
        serde_json::to_writer(&mut *w, &detection_finding(f, ctx, activity))?;
        w.write_all(b"\n")?;
    }
    Ok(())
}
