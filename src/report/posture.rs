//! Posture findings (category `posture`, rules EW-2xx): configuration that lets data leave or
//! hides it from the flow logs, found in the inventory and backed by the bytes the scan
//! observed. The checks are code; the pack (`rules/posture/sagemaker-posture.toml`) names,
//! grades, enables and parameterises them, and is compiled into the binary like the flow pack.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path as FsPath;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::traffic::{Cell, Traffic};
use crate::detect::findings::{finding_id, render, Finding, FindingResource};
use crate::detect::Severity;
use crate::enrich::model::{Model, NONE, NO_SYM};
use crate::enrich::{DstClass, Inventory, Path};
use crate::inventory::files::{FileKind, RouteTable, VpcEndpoint};
use crate::time::format_rfc3339;

pub const BUILTIN: &str = include_str!("../../rules/posture/sagemaker-posture.toml");
pub const BUILTIN_NAME: &str = "rules/posture/sagemaker-posture.toml";

#[derive(Debug, thiserror::Error)]
pub enum PostureError {
    #[error("posture rules {file}: cannot read: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("posture rules {file}: {message}")]
    Invalid { file: String, message: String },
}

/// The checks egresswatch implements; a pack picks, names and grades them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    InterfaceEndpointMissing,
    S3GatewayEndpointMissing,
    EndpointPolicyOpen,
    JobWithoutVpc,
    IsolationDisabled,
    NotebookDirectInternet,
    NotebookRootAccess,
    ModelWithoutVpc,
    SubnetWithoutFlowLog,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostureRule {
    pub id: String,
    pub check: Check,
    pub severity: Severity,
    pub title: String,
    pub control: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Endpoint service names after `com.amazonaws.REGION.` (interface-endpoint-missing,
    /// endpoint-policy-open).
    #[serde(default)]
    pub services: Vec<String>,
    /// Resource kinds that must be network-isolated (isolation-disabled).
    #[serde(default)]
    pub kinds: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    schema: u32,
    pack: String,
    version: String,
    #[serde(default)]
    posture: Vec<PostureRule>,
}

/// A validated posture pack.
#[derive(Debug, Clone, Serialize)]
pub struct PosturePack {
    pub pack: String,
    pub version: String,
    /// SHA-256 of the pack file as read (the report's header cites it).
    pub sha256: String,
    pub file: String,
    pub rules: Vec<PostureRule>,
}

const KINDS: &[&str] = &["training-job", "processing-job", "model"];

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl PosturePack {
    pub fn builtin() -> Self {
        // The built-in pack is tested; failing here is a build defect, not bad input.
        match Self::parse(BUILTIN_NAME, BUILTIN) {
            Ok(p) => p,
            Err(e) => panic!("built-in posture pack is invalid: {e}"),
        }
    }

    pub fn load(path: &FsPath) -> Result<Self, PostureError> {
        let text = std::fs::read_to_string(path).map_err(|source| PostureError::Io {
            file: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Whether a TOML text is a posture pack (has `[[posture]]` tables) rather than a flow pack.
    pub fn looks_like(text: &str) -> bool {
        text.lines()
            .any(|l| l.trim_start().starts_with("[[posture]]"))
    }

    pub fn parse(file: &str, text: &str) -> Result<Self, PostureError> {
        let invalid = |message: String| PostureError::Invalid {
            file: file.to_string(),
            message,
        };
        let pf: PackFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(String::new(), |s| {
                format!("line {}: ", line_of(text, s.start))
            });
            invalid(format!("{at}{}", e.message()))
        })?;
        if pf.schema != 1 {
            return Err(invalid(format!(
                "schema {} is not supported (1)",
                pf.schema
            )));
        }
        if pf.posture.is_empty() {
            return Err(invalid("no [[posture]] rules".into()));
        }
        let mut ids = HashSet::new();
        let mut checks = HashSet::new();
        for r in &pf.posture {
            let at = text
                .find(&format!("\"{}\"", r.id))
                .map_or(1, |o| line_of(text, o));
            let bad = |m: String| invalid(format!("line {at}: rule {}: {m}", r.id));
            if !r.id.starts_with("EW-2") || r.id.len() != 6 {
                return Err(bad("posture rule ids are EW-2xx".into()));
            }
            if !ids.insert(r.id.clone()) {
                return Err(bad("duplicate rule id".into()));
            }
            if !checks.insert(r.check) {
                return Err(bad(format!("check {:?} is used by another rule", r.check)));
            }
            if r.title.trim().is_empty() || r.control.trim().is_empty() {
                return Err(bad("title and control must not be empty".into()));
            }
            let takes_services = matches!(
                r.check,
                Check::InterfaceEndpointMissing | Check::EndpointPolicyOpen
            );
            if takes_services && r.services.is_empty() {
                return Err(bad(
                    "`services` must list at least one endpoint service".into()
                ));
            }
            if !takes_services && !r.services.is_empty() {
                return Err(bad("`services` does not apply to this check".into()));
            }
            match (r.check == Check::IsolationDisabled, r.kinds.is_empty()) {
                (true, true) => return Err(bad("`kinds` must list resource kinds".into())),
                (false, false) => return Err(bad("`kinds` does not apply to this check".into())),
                _ => {}
            }
            if let Some(k) = r.kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
                return Err(bad(format!("unknown kind {k:?} (one of {KINDS:?})")));
            }
        }
        Ok(PosturePack {
            pack: pf.pack,
            version: pf.version,
            sha256: hex(&Sha256::digest(text.as_bytes())),
            file: file.to_string(),
            rules: pf.posture,
        })
    }
}

pub(crate) fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Service name after `com.amazonaws.REGION.` (`com.amazonaws.us-east-1.sagemaker.api` ->
/// `sagemaker.api`); other names (marketplace, `aws.sagemaker.REGION.notebook`) as they are.
pub fn short_service(name: &str) -> &str {
    match name.strip_prefix("com.amazonaws.") {
        Some(rest) => rest.split_once('.').map_or(rest, |(_, s)| s),
        None => name,
    }
}

pub fn is_s3_gateway(e: &VpcEndpoint) -> bool {
    short_service(&e.service_name) == "s3"
        && e.vpc_endpoint_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("gateway"))
}

/// The route table a subnet uses: its explicit association, else its VPC's main table.
pub fn route_table_of<'a>(inv: &'a Inventory, subnet: &str, vpc: &str) -> Option<&'a RouteTable> {
    inv.route_tables
        .iter()
        .find(|t| {
            t.associations
                .iter()
                .any(|a| a.subnet_id.as_deref() == Some(subnet))
        })
        .or_else(|| {
            inv.route_tables
                .iter()
                .find(|t| t.vpc_id == vpc && t.associations.iter().any(|a| a.main == Some(true)))
        })
}

/// Whether a policy document has an unconditioned Allow of every principal, action and resource.
/// `None` when the document is not JSON.
pub fn policy_allows_everything(doc: &str) -> Option<bool> {
    let v: serde_json::Value = serde_json::from_str(doc).ok()?;
    let is_star = |x: &serde_json::Value| match x {
        serde_json::Value::String(s) => s == "*",
        serde_json::Value::Array(a) => a.iter().any(|s| s.as_str() == Some("*")),
        _ => false,
    };
    let principal_star = |x: Option<&serde_json::Value>| match x {
        Some(serde_json::Value::String(s)) => s == "*",
        Some(serde_json::Value::Object(o)) => o.get("AWS").is_some_and(is_star),
        _ => false,
    };
    let statements: Vec<&serde_json::Value> = match v.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.iter().collect(),
        Some(o @ serde_json::Value::Object(_)) => vec![o],
        _ => Vec::new(),
    };
    Some(statements.iter().any(|s| {
        s.get("Effect").and_then(|e| e.as_str()) == Some("Allow")
            && principal_star(s.get("Principal"))
            && s.get("Action").is_some_and(is_star)
            && s.get("Resource").is_some_and(is_star)
            && s.get("Condition").is_none()
    }))
}

/// Traffic totals seen through the inventory: cells resolved to VPC, subnet and resource.
#[derive(Debug, Default)]
pub struct TrafficView {
    /// (vpc id) -> NAT/IGW bytes to AWS services other than the gateway-endpoint ones, by path.
    pub vpc_aws_via_nat: BTreeMap<String, BTreeMap<&'static str, Cell>>,
    /// (vpc id, subnet id) -> S3 bytes through NAT/IGW, by path.
    pub subnet_s3_via_nat: BTreeMap<(String, String), BTreeMap<&'static str, Cell>>,
    /// vpc id -> S3 bytes through the gateway endpoint.
    pub vpc_s3_gateway: BTreeMap<String, Cell>,
    /// interface endpoint ENI id -> bytes sent to it.
    pub via_endpoint_eni: BTreeMap<String, Cell>,
    /// model resource index -> egress bytes.
    pub resource_egress: BTreeMap<u32, Cell>,
}

pub(crate) fn add(into: &mut Cell, c: &Cell) {
    into.flows += c.flows;
    into.packets += c.packets;
    into.bytes += c.bytes;
    into.first = into.first.min(c.first);
    into.last = into.last.max(c.last);
}

impl TrafficView {
    pub fn new(traffic: &Traffic, model: &Model) -> Self {
        let mut v = TrafficView::default();
        let s3 = model.gateway_services[0];
        let ddb = model.gateway_services[1];
        for (k, c) in &traffic.cells {
            if k.resource != NONE {
                add(v.resource_egress.entry(k.resource).or_default(), c);
            }
            let Some(eni) = model
                .eni_by_id
                .get(k.eni.as_str())
                .and_then(|&i| model.enis.get(i as usize))
            else {
                continue;
            };
            let Some(vpc) = model.vpcs.get(eni.vpc as usize) else {
                continue;
            };
            let path = Path::from_u8(k.path);
            let out = matches!(path, Path::NatGateway | Path::InternetGateway);
            let class = DstClass::from_u8(k.class);
            if out && class == DstClass::AwsService && k.svc != s3 && k.svc != ddb {
                add(
                    v.vpc_aws_via_nat
                        .entry(vpc.id.to_string())
                        .or_default()
                        .entry(path.as_str())
                        .or_default(),
                    c,
                );
            }
            if k.svc == s3 && k.svc != NO_SYM {
                if out {
                    let subnet = model
                        .subnets
                        .get(eni.subnet as usize)
                        .map_or_else(String::new, |s| s.id.to_string());
                    add(
                        v.subnet_s3_via_nat
                            .entry((vpc.id.to_string(), subnet))
                            .or_default()
                            .entry(path.as_str())
                            .or_default(),
                        c,
                    );
                } else if path == Path::GatewayEndpoint {
                    add(v.vpc_s3_gateway.entry(vpc.id.to_string()).or_default(), c);
                }
            }
            if k.via != NONE {
                if let Some(e) = model.enis.get(k.via as usize) {
                    add(v.via_endpoint_eni.entry(e.id.to_string()).or_default(), c);
                }
            }
        }
        v
    }
}

fn paths_of(m: &BTreeMap<&'static str, Cell>) -> (Cell, String) {
    let mut total = Cell::default();
    for c in m.values() {
        add(&mut total, c);
    }
    let names: Vec<&str> = m.keys().copied().collect();
    (total, names.join(" and "))
}

/// Inputs of a posture finding.
struct Subject<'a> {
    subject: String,
    vpc: Option<String>,
    subnet: Option<String>,
    resource: Option<FindingResource>,
    detail: String,
    cell: Option<Cell>,
    path: &'a str,
    dst_service: Option<String>,
}

fn finding(rule: &PostureRule, s: Subject<'_>) -> Finding {
    let cell = s.cell.unwrap_or_default();
    let bytes = super::human_bytes(cell.bytes);
    let vars = [
        ("subject", s.subject.as_str()),
        ("vpc", s.vpc.as_deref().unwrap_or("-")),
        ("detail", s.detail.as_str()),
        ("bytes", bytes.as_str()),
    ];
    let known = cell.first <= cell.last;
    Finding {
        id: finding_id(&rule.id, &s.subject, "posture", 0),
        rule: rule.id.clone(),
        category: "posture".into(),
        severity: rule.severity,
        title: render(&rule.title, &vars),
        description: rule.description.clone(),
        control: rule.control.clone(),
        eni: String::new(),
        vpc_id: s.vpc,
        subnet_id: s.subnet,
        src_ip: None,
        // Kept as an empty string (not null) as posture findings always had it.
        dst_ip: Some(String::new()),
        dst_port: None,
        dst_ports: Vec::new(),
        protocol: 0,
        protocol_name: "other".into(),
        path: s.path.to_string(),
        dst_service: s.dst_service,
        dst_region: None,
        resource: s.resource,
        attribution: None,
        window_start: None,
        first_seen: known.then(|| format_rfc3339(cell.first)),
        last_seen: known.then(|| format_rfc3339(cell.last)),
        flows: cell.flows,
        packets: cell.packets,
        bytes: cell.bytes,
        flows_seen_on_nat: 0,
        evidence: Vec::new(),
        evidence_omitted: cell.flows,
        activity: crate::detect::findings::Activity::New,
        revision: 1,
        dst_class: None,
        anomaly: None,
    }
}

fn resource_ref(model: &Model, kind: &str, name: &str) -> (Option<u32>, FindingResource) {
    let idx = model
        .resources
        .iter()
        .position(|r| r.kind_str() == kind && &*r.name == name)
        .map(|i| i as u32);
    let r = idx.and_then(|i| model.resources.get(i as usize));
    (
        idx,
        FindingResource {
            kind: kind.to_string(),
            name: name.to_string(),
            arn: r.and_then(|r| r.arn.as_deref().map(str::to_string)),
            network_isolation: r.and_then(|r| r.network_isolation),
            family: None,
        },
    )
}

/// VPCs whose ENIs belong to SageMaker resources (or that SageMaker VpcConfigs name).
pub fn sagemaker_subnets(inv: &Inventory, model: &Model) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for e in &model.enis {
        if e.resources
            .iter()
            .any(|&r| model.resources.get(r as usize).is_some_and(|r| r.sagemaker))
        {
            if let (Some(v), Some(s)) = (
                model.vpcs.get(e.vpc as usize),
                model.subnets.get(e.subnet as usize),
            ) {
                out.insert((v.id.to_string(), s.id.to_string()));
            }
        }
    }
    let subnet_vpc = |s: &str| {
        inv.subnets
            .iter()
            .find(|x| x.subnet_id == s)
            .map(|x| x.vpc_id.clone())
    };
    let configs = inv
        .training_jobs
        .iter()
        .filter_map(|j| j.vpc_config.as_ref())
        .chain(inv.processing_jobs.iter().filter_map(|j| {
            j.network_config
                .as_ref()
                .and_then(|n| n.vpc_config.as_ref())
        }))
        .chain(inv.models.iter().filter_map(|m| m.vpc_config.as_ref()));
    for c in configs {
        for s in &c.subnets {
            if let Some(v) = subnet_vpc(s) {
                out.insert((v, s.clone()));
            }
        }
    }
    for n in &inv.notebooks {
        if let Some(s) = &n.subnet_id {
            if let Some(v) = subnet_vpc(s) {
                out.insert((v, s.clone()));
            }
        }
    }
    out
}

/// Whether the inventory says anything about flow logs (a describe-flow-logs file was loaded).
pub fn has_flow_log_inventory(inv: &Inventory) -> bool {
    inv.recognised
        .iter()
        .any(|(_, kinds)| kinds.contains(&FileKind::FlowLogs))
}

/// Flow logs covering a subnet: on the subnet itself, on its VPC, or on every SageMaker ENI in it.
pub fn flow_logs_covering(inv: &Inventory, model: &Model, vpc: &str, subnet: &str) -> Vec<String> {
    let direct: Vec<String> = inv
        .flow_logs
        .iter()
        .filter(|f| f.resource_id == vpc || f.resource_id == subnet)
        .map(|f| f.flow_log_id.clone())
        .collect();
    if !direct.is_empty() {
        return direct;
    }
    let enis: Vec<&str> = model
        .enis
        .iter()
        .filter(|e| {
            model
                .subnets
                .get(e.subnet as usize)
                .is_some_and(|s| &*s.id == subnet)
                && !e.resources.is_empty()
        })
        .map(|e| &*e.id)
        .collect();
    let per_eni: Vec<String> = inv
        .flow_logs
        .iter()
        .filter(|f| enis.contains(&f.resource_id.as_str()))
        .map(|f| f.flow_log_id.clone())
        .collect();
    let covered = enis
        .iter()
        .all(|e| inv.flow_logs.iter().any(|f| f.resource_id == *e));
    if !enis.is_empty() && covered {
        per_eni
    } else {
        Vec::new()
    }
}

/// Evaluates the pack over the inventory; `traffic` adds the observed bytes (absent when the
/// report is built from a findings file).
pub fn evaluate(
    pack: &PosturePack,
    inv: &Inventory,
    model: &Model,
    traffic: Option<&Traffic>,
) -> Vec<Finding> {
    let view = traffic
        .map(|t| TrafficView::new(t, model))
        .unwrap_or_default();
    let mut out = Vec::new();
    let egress_of = |idx: Option<u32>| idx.and_then(|i| view.resource_egress.get(&i)).copied();
    for rule in pack.rules.iter().filter(|r| r.enabled) {
        match rule.check {
            Check::InterfaceEndpointMissing => {
                for (vpc, paths) in &view.vpc_aws_via_nat {
                    let present: HashSet<&str> = inv
                        .vpc_endpoints
                        .iter()
                        .filter(|e| e.vpc_id.as_deref() == Some(vpc.as_str()))
                        .filter(|e| {
                            !e.vpc_endpoint_type
                                .as_deref()
                                .is_some_and(|t| t.eq_ignore_ascii_case("gateway"))
                        })
                        .map(|e| short_service(&e.service_name))
                        .collect();
                    let missing: Vec<&str> = rule
                        .services
                        .iter()
                        .map(String::as_str)
                        .filter(|s| !present.contains(s))
                        .collect();
                    if missing.is_empty() {
                        continue;
                    }
                    let (cell, detail) = paths_of(paths);
                    let path = paths.keys().next().copied().unwrap_or("unknown");
                    out.push(finding(
                        rule,
                        Subject {
                            subject: missing.join(", "),
                            vpc: Some(vpc.clone()),
                            subnet: None,
                            resource: None,
                            detail,
                            cell: Some(cell),
                            path,
                            dst_service: Some("AMAZON".into()),
                        },
                    ));
                }
            }
            Check::S3GatewayEndpointMissing => {
                for ((vpc, subnet), paths) in &view.subnet_s3_via_nat {
                    let rtb = route_table_of(inv, subnet, vpc);
                    let has_endpoint = rtb.is_some_and(|t| {
                        inv.vpc_endpoints.iter().any(|e| {
                            is_s3_gateway(e) && e.route_table_ids.contains(&t.route_table_id)
                        })
                    });
                    if has_endpoint {
                        continue;
                    }
                    let (cell, detail) = paths_of(paths);
                    let path = paths.keys().next().copied().unwrap_or("unknown");
                    let subject = match rtb {
                        Some(t) => format!("{subnet} (route table {})", t.route_table_id),
                        None => subnet.clone(),
                    };
                    out.push(finding(
                        rule,
                        Subject {
                            subject,
                            vpc: Some(vpc.clone()),
                            subnet: Some(subnet.clone()),
                            resource: None,
                            detail,
                            cell: Some(cell),
                            path,
                            dst_service: Some("S3".into()),
                        },
                    ));
                }
            }
            Check::EndpointPolicyOpen => {
                for e in &inv.vpc_endpoints {
                    let svc = short_service(&e.service_name);
                    if !rule.services.iter().any(|s| s == svc) {
                        continue;
                    }
                    let Some(doc) = e.policy_document.as_deref() else {
                        continue;
                    };
                    match policy_allows_everything(doc) {
                        Some(true) => {}
                        Some(false) => continue,
                        None => {
                            tracing::warn!(endpoint = %e.vpc_endpoint_id, "endpoint policy is not JSON; not evaluated");
                            continue;
                        }
                    }
                    let vpc = e.vpc_id.clone();
                    let (cell, path) = if is_s3_gateway(e) {
                        (
                            vpc.as_ref()
                                .and_then(|v| view.vpc_s3_gateway.get(v))
                                .copied(),
                            Path::GatewayEndpoint.as_str(),
                        )
                    } else {
                        let mut c = Cell::default();
                        for n in &e.network_interface_ids {
                            if let Some(x) = view.via_endpoint_eni.get(n) {
                                add(&mut c, x);
                            }
                        }
                        (Some(c), Path::InterfaceEndpoint.as_str())
                    };
                    out.push(finding(
                        rule,
                        Subject {
                            subject: format!("{} ({svc})", e.vpc_endpoint_id),
                            vpc,
                            subnet: None,
                            resource: None,
                            detail: svc.to_string(),
                            cell,
                            path,
                            dst_service: Some(svc.to_string()),
                        },
                    ));
                }
            }
            Check::JobWithoutVpc => {
                let jobs = inv
                    .training_jobs
                    .iter()
                    .filter(|j| j.vpc_config.as_ref().is_none_or(|c| c.subnets.is_empty()))
                    .map(|j| ("training-job", j.training_job_name.as_str()))
                    .chain(
                        inv.processing_jobs
                            .iter()
                            .filter(|j| {
                                j.network_config
                                    .as_ref()
                                    .and_then(|n| n.vpc_config.as_ref())
                                    .is_none_or(|c| c.subnets.is_empty())
                            })
                            .map(|j| ("processing-job", j.processing_job_name.as_str())),
                    );
                for (kind, name) in jobs {
                    let (_, res) = resource_ref(model, kind, name);
                    out.push(finding(
                        rule,
                        Subject {
                            subject: format!("{kind}/{name}"),
                            vpc: None,
                            subnet: None,
                            resource: Some(res),
                            detail: String::new(),
                            cell: None,
                            path: Path::Unknown.as_str(),
                            dst_service: None,
                        },
                    ));
                }
            }
            Check::IsolationDisabled => {
                let want = |k: &str| rule.kinds.iter().any(|x| x == k);
                let mut list: Vec<(&str, &str)> = Vec::new();
                if want("training-job") {
                    list.extend(
                        inv.training_jobs
                            .iter()
                            .filter(|j| j.enable_network_isolation != Some(true))
                            .map(|j| ("training-job", j.training_job_name.as_str())),
                    );
                }
                if want("processing-job") {
                    list.extend(
                        inv.processing_jobs
                            .iter()
                            .filter(|j| {
                                j.network_config
                                    .as_ref()
                                    .and_then(|n| n.enable_network_isolation)
                                    != Some(true)
                            })
                            .map(|j| ("processing-job", j.processing_job_name.as_str())),
                    );
                }
                if want("model") {
                    list.extend(
                        inv.models
                            .iter()
                            .filter(|m| m.enable_network_isolation != Some(true))
                            .map(|m| ("model", m.model_name.as_str())),
                    );
                }
                for (kind, name) in list {
                    let (idx, res) = resource_ref(model, kind, name);
                    out.push(finding(
                        rule,
                        Subject {
                            subject: format!("{kind}/{name}"),
                            vpc: None,
                            subnet: None,
                            resource: Some(res),
                            detail: String::new(),
                            cell: egress_of(idx),
                            path: Path::Unknown.as_str(),
                            dst_service: None,
                        },
                    ));
                }
            }
            Check::NotebookDirectInternet | Check::NotebookRootAccess => {
                for n in &inv.notebooks {
                    let value = if rule.check == Check::NotebookDirectInternet {
                        n.direct_internet_access.as_deref()
                    } else {
                        n.root_access.as_deref()
                    };
                    if !value.is_some_and(|v| v.eq_ignore_ascii_case("enabled")) {
                        continue;
                    }
                    let (idx, res) =
                        resource_ref(model, "notebook-instance", &n.notebook_instance_name);
                    let vpc = n.subnet_id.as_ref().and_then(|s| {
                        inv.subnets
                            .iter()
                            .find(|x| &x.subnet_id == s)
                            .map(|x| x.vpc_id.clone())
                    });
                    out.push(finding(
                        rule,
                        Subject {
                            subject: format!("notebook-instance/{}", n.notebook_instance_name),
                            vpc,
                            subnet: n.subnet_id.clone(),
                            resource: Some(res),
                            detail: String::new(),
                            cell: egress_of(idx),
                            path: Path::Unknown.as_str(),
                            dst_service: None,
                        },
                    ));
                }
            }
            Check::ModelWithoutVpc => {
                for m in inv
                    .models
                    .iter()
                    .filter(|m| m.vpc_config.as_ref().is_none_or(|c| c.subnets.is_empty()))
                {
                    let (_, res) = resource_ref(model, "model", &m.model_name);
                    out.push(finding(
                        rule,
                        Subject {
                            subject: format!("model/{}", m.model_name),
                            vpc: None,
                            subnet: None,
                            resource: Some(res),
                            detail: String::new(),
                            cell: None,
                            path: Path::Unknown.as_str(),
                            dst_service: None,
                        },
                    ));
                }
            }
            Check::SubnetWithoutFlowLog => {
                if !has_flow_log_inventory(inv) {
                    continue;
                }
                for (vpc, subnet) in sagemaker_subnets(inv, model) {
                    if !flow_logs_covering(inv, model, &vpc, &subnet).is_empty() {
                        continue;
                    }
                    out.push(finding(
                        rule,
                        Subject {
                            subject: subnet.clone(),
                            vpc: Some(vpc),
                            subnet: Some(subnet),
                            resource: None,
                            detail: String::new(),
                            cell: None,
                            path: Path::Unknown.as_str(),
                            dst_service: None,
                        },
                    ));
                }
            }
        }
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pack_is_valid_and_covers_every_check() {
        let p = PosturePack::builtin();
        assert_eq!(p.rules.len(), 9);
        assert!(p.rules.iter().all(|r| r.id.starts_with("EW-2")));
        assert_eq!(p.sha256.len(), 64);
    }

    #[test]
    fn bad_packs_name_file_and_line() {
        let base = "schema = 1\npack = \"p\"\nversion = \"1\"\n";
        let e = PosturePack::parse(
            "x.toml",
            &format!("{base}[[posture]]\nid = \"EW-201\"\ncheck = \"nope\"\nseverity = \"high\"\ntitle = \"t\"\ncontrol = \"c\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("x.toml") && e.contains("line 6"), "{e}");
        let dup = "[[posture]]\nid = \"EW-206\"\ncheck = \"notebook-root-access\"\nseverity = \"low\"\ntitle = \"t\"\ncontrol = \"c\"\n";
        let e = PosturePack::parse("y.toml", &format!("{base}{dup}{dup}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("duplicate"), "{e}");
        let e = PosturePack::parse(
            "z.toml",
            &format!("{base}[[posture]]\nid = \"EW-205\"\ncheck = \"isolation-disabled\"\nseverity = \"low\"\ntitle = \"t\"\ncontrol = \"c\"\nkinds = [\"endpoint\"]\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown kind"), "{e}");
    }

    #[test]
    fn open_policies() {
        let open = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
        assert_eq!(policy_allows_everything(open), Some(true));
        let aws_star = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["*"],"Resource":"*"}}"#;
        assert_eq!(policy_allows_everything(aws_star), Some(true));
        let scoped = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::corp-*/*"}]}"#;
        assert_eq!(policy_allows_everything(scoped), Some(false));
        let conditioned = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}}]}"#;
        assert_eq!(policy_allows_everything(conditioned), Some(false));
        assert_eq!(policy_allows_everything("not json"), None);
    }

    #[test]
    fn short_service_names() {
        assert_eq!(
            short_service("com.amazonaws.us-east-1.sagemaker.api"),
            "sagemaker.api"
        );
        assert_eq!(short_service("com.amazonaws.eu-west-1.s3"), "s3");
        assert_eq!(
            short_service("aws.sagemaker.us-east-1.notebook"),
            "aws.sagemaker.us-east-1.notebook"
        );
    }
}
