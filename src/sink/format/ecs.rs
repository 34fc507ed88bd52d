//! Elasticsearch/OpenSearch: an ECS alert document per finding, `_bulk` request bodies and
//! per-item triage of `_bulk` responses (siem.md §5).
//!
//! Re-sends are idempotent: every action line carries `_id` = the finding id, so `index`
//! replaces the document with its latest state and `create` turns a duplicate into a 409, which
//! [`parse_bulk_response`] counts as delivered.

use serde::{Deserialize, Serialize};

use super::{
    classify_http_status, finding_time_ms, format_rfc3339_ms, is_ipv6, severity_id, Delivery,
    FormatContext, FormatError, PRODUCT, VENDOR,
};
use crate::detect::findings::Evidence;
use crate::detect::{Finding, FindingResource};

/// The ECS version the documents follow.
pub const ECS_VERSION: &str = "9.4.0";

#[derive(Debug, Clone, Serialize)]
pub struct EcsDocument<'a> {
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    pub ecs: EcsVersion,
    pub message: &'a str,
    pub event: Event<'a>,
    pub rule: Rule<'a>,
    pub source: Source<'a>,
    pub destination: Destination<'a>,
    pub network: Network<'a>,
    pub cloud: Cloud<'a>,
    pub observer: Observer<'a>,
    pub labels: Labels<'a>,
    pub egresswatch: Extra<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EcsVersion {
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event<'a> {
    pub kind: &'static str,
    pub category: [&'static str; 1],
    #[serde(rename = "type")]
    pub type_: [&'static str; 2],
    pub id: &'a str,
    pub code: &'a str,
    pub action: &'a str,
    pub severity: u8,
    pub reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    pub dataset: &'static str,
    pub module: &'static str,
    pub provider: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rule<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub category: &'a str,
    pub description: &'a str,
    pub ruleset: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Source<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<&'a str>,
    pub bytes: u64,
    pub packets: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Destination<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Network<'a> {
    pub direction: &'static str,
    pub transport: &'a str,
    pub iana_number: String,
    /// `ipv4`/`ipv6` of the destination (else the source) address; omitted without either.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<&'static str>,
    pub bytes: u64,
    pub packets: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cloud<'a> {
    pub provider: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<CloudAccount<'a>>,
    pub service: CloudService,
}

#[derive(Debug, Clone, Serialize)]
pub struct CloudAccount<'a> {
    pub id: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CloudService {
    pub name: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Observer<'a> {
    pub vendor: &'static str,
    pub product: &'static str,
    pub version: &'a str,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub hostname: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Labels<'a> {
    pub eni: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<&'a str>,
}

/// Everything ECS has no field for, under `egresswatch.*` (names as in the JSONL contract).
#[derive(Debug, Clone, Serialize)]
pub struct Extra<'a> {
    pub severity: &'static str,
    pub control: &'a str,
    pub path: &'a str,
    pub eni: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<&'a str>,
    pub dst_ports: &'a [u16],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_service: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<&'a FindingResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_start: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<&'a str>,
    pub flows: u64,
    pub flows_seen_on_nat: u64,
    pub evidence: &'a [Evidence],
    pub evidence_omitted: u64,
    /// `new` or `update` (a later revision of the same finding id, which `_id` replaces).
    pub activity: &'static str,
    /// 1 when first raised; each update of the same finding id adds one.
    pub revision: u32,
    /// The destination class of an anomaly (`s3-gateway`, ...); a class-level anomaly has no
    /// `destination.ip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_class: Option<&'a str>,
    /// Why an anomaly finding fired (observed, baseline, unit, threshold, window, profile, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<&'a crate::baseline::Anomaly>,
}

/// The ECS alert document for `f`. `@timestamp` is the finding's last seen (else first seen,
/// window start, or the context's now).
pub fn document<'a>(f: &'a Finding, ctx: &'a FormatContext) -> EcsDocument<'a> {
    let time = finding_time_ms(f).unwrap_or(ctx.now_ms);
    let ts = |s: &Option<String>| super::rfc3339_to_ms(s.as_deref()).map(format_rfc3339_ms);
    EcsDocument {
        timestamp: format_rfc3339_ms(time),
        ecs: EcsVersion {
            version: ECS_VERSION,
        },
        message: &f.title,
        event: Event {
            kind: "alert",
            category: ["network"],
            type_: [
                "connection",
                if f.category == "blocked-egress-attempt" {
                    "denied"
                } else {
                    "info"
                },
            ],
            id: &f.id,
            code: &f.rule,
            action: &f.category,
            severity: severity_id(f.severity),
            reason: &f.description,
            start: ts(&f.first_seen),
            end: ts(&f.last_seen),
            dataset: "egresswatch.finding",
            module: "egresswatch",
            provider: PRODUCT,
        },
        rule: Rule {
            id: &f.rule,
            name: &f.category,
            category: &f.control,
            description: &f.description,
            ruleset: "egresswatch",
        },
        source: Source {
            ip: f.src_ip.as_deref(),
            bytes: f.bytes,
            packets: f.packets,
        },
        destination: Destination {
            ip: f.dst_ip.as_deref().filter(|ip| !ip.is_empty()),
            port: f.dst_port,
        },
        network: Network {
            direction: "egress",
            transport: &f.protocol_name,
            iana_number: f.protocol.to_string(),
            type_: f.dst_ip.as_deref().or(f.src_ip.as_deref()).map(|ip| {
                if is_ipv6(ip) {
                    "ipv6"
                } else {
                    "ipv4"
                }
            }),
            bytes: f.bytes,
            packets: f.packets,
        },
        cloud: Cloud {
            provider: "aws",
            region: ctx.region_for(f),
            account: ctx.account_for(f).map(|id| CloudAccount { id }),
            service: CloudService { name: "vpc" },
        },
        observer: Observer {
            vendor: VENDOR,
            product: PRODUCT,
            version: &ctx.product_version,
            type_: "ids",
            hostname: &ctx.hostname,
        },
        labels: Labels {
            eni: &f.eni,
            vpc_id: f.vpc_id.as_deref(),
            subnet_id: f.subnet_id.as_deref(),
        },
        egresswatch: Extra {
            severity: f.severity.as_str(),
            control: &f.control,
            path: &f.path,
            eni: &f.eni,
            vpc_id: f.vpc_id.as_deref(),
            subnet_id: f.subnet_id.as_deref(),
            dst_ports: &f.dst_ports,
            dst_service: f.dst_service.as_deref(),
            dst_region: f.dst_region.as_deref(),
            resource: f.resource.as_ref(),
            window_start: f.window_start.as_deref(),
            first_seen: f.first_seen.as_deref(),
            last_seen: f.last_seen.as_deref(),
            flows: f.flows,
            flows_seen_on_nat: f.flows_seen_on_nat,
            evidence: &f.evidence,
            evidence_omitted: f.evidence_omitted,
            activity: f.activity.as_str(),
            revision: f.revision,
            dst_class: f.dst_class.as_deref(),
            anomaly: f.anomaly.as_ref(),
        },
    }
}

/// The ECS document as compact JSON.
pub fn to_json(f: &Finding, ctx: &FormatContext) -> String {
    serde_json::to_string(&document(f, ctx)).expect("ECS documents always serialize")
}

/// The `_bulk` operation for each document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BulkAction {
    /// Add or replace (re-sends update the document to the latest state).
    #[default]
    Index,
    /// Add only (required by data streams); a re-send of a stored document yields 409.
    Create,
}

impl BulkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Index => "index",
            BulkAction::Create => "create",
        }
    }
}

/// A `_bulk` NDJSON body: per finding, the action line `{"index":{"_index":..,"_id":<id>}}`
/// and the document line; every line ends with `\n` (the last one too, as the API requires).
pub fn bulk_body(
    findings: &[Finding],
    index: &str,
    action: BulkAction,
    ctx: &FormatContext,
) -> String {
    #[derive(Serialize)]
    struct Meta<'a> {
        _index: &'a str,
        _id: &'a str,
    }
    let mut out = Vec::with_capacity(findings.len() * 1536);
    for f in findings {
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(action.as_str().as_bytes());
        out.extend_from_slice(b"\":");
        serde_json::to_writer(
            &mut out,
            &Meta {
                _index: index,
                _id: &f.id,
            },
        )
        .expect("writing to a Vec cannot fail");
        out.extend_from_slice(b"}\n");
        serde_json::to_writer(&mut out, &document(f, ctx)).expect("writing to a Vec cannot fail");
        out.push(b'\n');
    }
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The outcome of one `_bulk` item, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkItem {
    /// The item's `_id` (the finding id), when the response has it.
    pub id: Option<String>,
    pub status: u16,
    pub outcome: Delivery,
    /// `error.type` (e.g. `mapper_parsing_exception`, `es_rejected_execution_exception`).
    pub error_type: Option<String>,
    pub reason: Option<String>,
}

/// Triage of one item status (siem.md §5.2): 200/201 ok; 409 (a `create` of a document
/// already stored) ok; `es_rejected_execution_exception`, 429 and 5xx retryable; other 4xx
/// (mapping errors, 400/404) permanent.
pub fn classify_bulk_item(status: u16, error_type: Option<&str>) -> Delivery {
    if error_type == Some("es_rejected_execution_exception") {
        return Delivery::Retryable;
    }
    match status {
        409 => Delivery::Ok,
        _ => classify_http_status(status),
    }
}

/// Parses a `_bulk` response body (HTTP 200; `errors: true` when any item failed) into one
/// outcome per item, in request order.
pub fn parse_bulk_response(body: &[u8]) -> Result<Vec<BulkItem>, FormatError> {
    #[derive(Deserialize)]
    struct Resp {
        items: Vec<std::collections::BTreeMap<String, RespItem>>,
    }
    #[derive(Deserialize)]
    struct RespItem {
        #[serde(rename = "_id")]
        id: Option<String>,
        status: u16,
        error: Option<RespError>,
    }
    #[derive(Deserialize)]
    struct RespError {
        #[serde(rename = "type")]
        type_: Option<String>,
        reason: Option<String>,
    }
    let resp: Resp = serde_json::from_slice(body)?;
    resp.items
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let (_, item) = m
                .into_iter()
                .next()
                .ok_or_else(|| FormatError::Shape(format!("items[{i}] has no operation")))?;
            let (error_type, reason) = item.error.map_or((None, None), |e| (e.type_, e.reason));
            Ok(BulkItem {
                outcome: classify_bulk_item(item.status, error_type.as_deref()),
                id: item.id,
                status: item.status,
                error_type,
                reason,
            })
        })
        .collect()
}
