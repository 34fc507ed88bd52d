//! Findings as users and SIEMs see them: stable ids, resource, evidence, rendered titles.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::rules::{CompiledRules, Severity};
use super::{Agg, FindingKey};
use crate::enrich::model::{Model, NONE, NO_SYM};
use crate::enrich::Path;
use crate::net::ip;
use crate::time::format_rfc3339;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingResource {
    pub kind: String,
    pub name: String,
    pub arn: Option<String>,
    pub network_isolation: Option<bool>,
    /// The baseline family (anomaly findings): `training-job/fraud-xgb`, `endpoint/risk-scoring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

/// Whether a finding is raised for the first time or is a later revision of the same id with
/// cumulative counters (continuous modes); a scan emits each finding once, `new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activity {
    #[default]
    New,
    Update,
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::New => "new",
            Activity::Update => "update",
        }
    }
}

fn first_revision() -> u32 {
    1
}

/// How sure the attribution of a finding's ENI to its resource is (README "Forensic replay").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// SageMaker named the ENI (NotebookInstance.NetworkInterfaceId, a Studio tag, a label).
    Exact,
    /// CloudTrail shows the ENI created for exactly one resource (role, subnet, groups, time).
    Strong,
    /// Several resources match equally (parallel tuning children): see `candidates`.
    Group,
    /// No record of the ENI; the record's subnet and time fit one resource's VpcConfig and run.
    Inferred,
    /// No source knows the ENI.
    Unknown,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Exact => "exact",
            Confidence::Strong => "strong",
            Confidence::Group => "group",
            Confidence::Inferred => "inferred",
            Confidence::Unknown => "unknown",
        }
    }
}

/// Why a finding names its resource: the confidence, the sources that said so
/// (`cloudtrail:<eventID>`, `inventory:<file>`, `flowlog-context`, ...), and the resources that
/// matched equally when there were several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    pub confidence: Confidence,
    pub sources: Vec<String>,
    #[serde(default)]
    pub candidates: Vec<FindingResource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Shared by every evidence entry of the same object (thousands of findings can cite it).
    pub file: std::sync::Arc<str>,
    pub line: u64,
}

/// One aggregated finding. Field names are a contract with users' scripts and SIEM parsers:
/// add, never rename. Deserialize reads findings back from the delivery spool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub rule: String,
    pub category: String,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub control: String,
    pub eni: String,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub src_ip: Option<String>,
    /// Null for a class-level anomaly (`dst_class` says which class).
    pub dst_ip: Option<String>,
    pub dst_port: Option<u16>,
    pub dst_ports: Vec<u16>,
    pub protocol: u8,
    pub protocol_name: String,
    pub path: String,
    pub dst_service: Option<String>,
    pub dst_region: Option<String>,
    pub resource: Option<FindingResource>,
    /// How the ENI was attributed to `resource`; absent only in findings read back from spools
    /// written before attribution existed.
    #[serde(default)]
    pub attribution: Option<Attribution>,
    pub window_start: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Flows seen on a NAT gateway's ENI and attributed to `eni` by the original source address
    /// (included in `flows`).
    pub flows_seen_on_nat: u64,
    pub evidence: Vec<Evidence>,
    /// Records behind the finding beyond those listed in `evidence`.
    pub evidence_omitted: u64,
    #[serde(default)]
    pub activity: Activity,
    /// 1 when first raised; each update of the same id adds one.
    #[serde(default = "first_revision")]
    pub revision: u32,
    /// The destination class of an anomaly (`s3-gateway`, `internet:203.0.113.0/24`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_class: Option<String>,
    /// Why an anomaly finding fired: observed against baseline (README "Baselines").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<crate::baseline::Anomaly>,
}

impl Finding {
    /// The destination in words for printers: the address, else the anomaly's class.
    pub fn dst(&self) -> &str {
        self.dst_ip
            .as_deref()
            .or(self.dst_class.as_deref())
            .unwrap_or("-")
    }
}

/// Deterministic finding id: the same rule, ENI, destination and window always give the same id,
/// so sinks can de-duplicate re-sent findings.
pub fn finding_id(rule: &str, eni: &str, dst: &str, window_start: i64) -> String {
    let mut h = Sha256::new();
    h.update(b"egresswatch/finding/v1\n");
    for part in [rule, eni, dst] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    h.update(window_start.to_string().as_bytes());
    let d = h.finalize();
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

pub fn protocol_name(p: u8) -> &'static str {
    match p {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        47 => "gre",
        50 => "esp",
        58 => "icmpv6",
        132 => "sctp",
        _ => "other",
    }
}

/// Fills `{name}` placeholders in one pass; unknown placeholders are kept as written.
pub(crate) fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').map(|close| (&after[..close], close)) {
            Some((name, close)) => {
                match vars.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

impl Confidence {
    pub fn from_code(c: u8) -> Confidence {
        use crate::enrich::conf;
        match c {
            conf::EXACT => Confidence::Exact,
            conf::STRONG => Confidence::Strong,
            conf::GROUP => Confidence::Group,
            conf::INFERRED => Confidence::Inferred,
            _ => Confidence::Unknown,
        }
    }
}

fn resource_of(r: &crate::enrich::model::ResourceInfo) -> FindingResource {
    FindingResource {
        kind: r.kind_str().to_string(),
        name: r.name.to_string(),
        arn: r.arn.as_deref().map(str::to_string),
        network_isolation: r.network_isolation,
        family: None,
    }
}

/// Why the finding names its resource: the ENI's sources for ENIs some source knows, the
/// flow-log context for the others; the group's members as candidates.
fn attribution(
    model: &Model,
    eni: Option<&crate::enrich::model::EniInfo>,
    rep: &super::Representative,
) -> Attribution {
    attribution_of(model, eni, rep.resource, rep.conf)
}

/// How an ENI is attributed, as its sources say (anomaly findings: a profile's ENI).
pub fn eni_attribution(model: &Model, eni: &crate::enrich::model::EniInfo) -> Attribution {
    attribution_of(model, Some(eni), NONE, eni.conf)
}

fn attribution_of(
    model: &Model,
    eni: Option<&crate::enrich::model::EniInfo>,
    resource: u32,
    conf: u8,
) -> Attribution {
    let confidence = Confidence::from_code(conf);
    let mut sources: Vec<String> = match eni {
        Some(e) => e.sources.iter().map(|s| s.to_string()).collect(),
        None => Vec::new(),
    };
    if eni.is_none() || matches!(confidence, Confidence::Inferred) {
        sources.push("flowlog-context".to_string());
    }
    if let Some(e) = eni {
        if resource == model.unknown_resource && e.life != (i64::MIN, i64::MAX) {
            sources.push("outside-eni-lifetime".to_string());
        }
    }
    let candidates = model
        .resources
        .get(resource as usize)
        .map(|r| {
            r.members
                .iter()
                .filter_map(|&m| model.resources.get(m as usize))
                .map(resource_of)
                .collect()
        })
        .unwrap_or_default();
    Attribution {
        confidence,
        sources,
        candidates,
    }
}

/// Attributes an emitted finding again with a newer model (an ENI the ledger learned about
/// after the finding was emitted): the same id, counters and evidence, the resource and
/// attribution the ENI has now at the finding's first record. Returns whether it changed.
pub fn reattribute(f: &mut Finding, model: &Model) -> bool {
    let Some(e) = model
        .eni_by_id
        .get(f.eni.as_str())
        .and_then(|&i| model.enis.get(i as usize))
    else {
        return false;
    };
    let Some(t) = f.first_seen.as_deref().and_then(crate::time::parse_rfc3339) else {
        return false;
    };
    let (r, c) = crate::enrich::resource_at(model, e, t);
    let Some(res) = model.resources.get(r as usize).map(resource_of) else {
        return false;
    };
    let attribution = attribution_of(model, Some(e), r, c);
    if f.resource.as_ref() == Some(&res)
        && f.attribution.as_ref().map(|a| a.confidence) == Some(attribution.confidence)
    {
        return false;
    }
    let (old_kind, old_name) = f
        .resource
        .as_ref()
        .map_or(("ENI".to_string(), f.eni.clone()), |o| {
            (o.kind.clone(), o.name.clone())
        });
    f.title = f.title.replacen(
        &format!("{old_kind} {old_name}"),
        &format!("{} {}", res.kind, res.name),
        1,
    );
    f.vpc_id = model.vpcs.get(e.vpc as usize).map(|v| v.id.to_string());
    f.subnet_id = model
        .subnets
        .get(e.subnet as usize)
        .map(|s| s.id.to_string());
    f.resource = Some(res);
    f.attribution = Some(attribution);
    true
}

/// Builds user-facing findings, sorted by severity (highest first), first seen, then id.
pub fn build(
    merged: impl IntoIterator<Item = (FindingKey, Agg)>,
    rules: &CompiledRules,
    model: &Model,
    files: &[String],
) -> Vec<Finding> {
    let files: Vec<std::sync::Arc<str>> = files.iter().map(|f| f.as_str().into()).collect();
    let mut out: Vec<Finding> = merged
        .into_iter()
        .filter_map(|(k, a)| {
            let rule = rules.rules.get(k.rule as usize)?;
            let dst_ip = ip::to_std(k.dst).to_string();
            let src_ip =
                (a.rep.src != crate::net::NO_IP).then(|| ip::to_std(a.rep.src).to_string());
            let res = (a.rep.resource != NONE)
                .then(|| model.resources.get(a.rep.resource as usize))
                .flatten();
            let resource = res.map(resource_of);
            let dst_service = (a.rep.svc != NO_SYM)
                .then(|| model.services.name(a.rep.svc).map(str::to_string))
                .flatten();
            let dst_region = (a.rep.dst_region != NO_SYM)
                .then(|| model.regions.name(a.rep.dst_region).map(str::to_string))
                .flatten();
            let mut ports = a.ports.clone();
            ports.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            let dst_port = ports.first().map(|p| p.0);
            let mut dst_ports: Vec<u16> = ports.iter().map(|p| p.0).collect();
            dst_ports.sort_unstable();
            let path = Path::from_u8(a.rep.path).as_str();
            let port_s = dst_port.map_or_else(|| "-".to_string(), |p| p.to_string());
            let (kind, name) = resource.as_ref().map_or(("ENI", k.eni.as_str()), |r| {
                (r.kind.as_str(), r.name.as_str())
            });
            let vars = [
                ("kind", kind),
                ("name", name),
                ("eni", k.eni.as_str()),
                ("src_ip", src_ip.as_deref().unwrap_or("-")),
                ("dst_ip", dst_ip.as_str()),
                ("dst_port", port_s.as_str()),
                ("path", path),
                (
                    "dst_service",
                    dst_service.as_deref().unwrap_or("unknown service"),
                ),
                (
                    "dst_region",
                    dst_region.as_deref().unwrap_or("unknown region"),
                ),
            ];
            let has_time = a.first_seen.is_some();
            let eni_info = model
                .eni_by_id
                .get(k.eni.as_str())
                .and_then(|&e| model.enis.get(e as usize));
            let vpc_id = eni_info
                .and_then(|e| model.vpcs.get(e.vpc as usize))
                .map(|v| v.id.to_string());
            let subnet_id = eni_info
                .and_then(|e| model.subnets.get(e.subnet as usize))
                .map(|s| s.id.to_string());
            let evidence: Vec<Evidence> = a
                .evidence
                .iter()
                .map(|&(f, line)| Evidence {
                    file: files.get(f as usize).cloned().unwrap_or_else(|| "".into()),
                    line,
                })
                .collect();
            Some(Finding {
                id: finding_id(&rule.def.id, &k.eni, &dst_ip, k.window),
                rule: rule.def.id.clone(),
                category: rule.def.category.clone(),
                severity: rule.def.severity,
                title: render(&rule.def.title, &vars),
                description: rule.def.description.clone(),
                control: rule.def.control.clone(),
                eni: k.eni.clone(),
                vpc_id,
                subnet_id,
                src_ip,
                dst_ip: Some(dst_ip),
                dst_port,
                dst_ports,
                protocol: a.rep.proto,
                protocol_name: protocol_name(a.rep.proto).to_string(),
                path: path.to_string(),
                dst_service,
                dst_region,
                resource,
                attribution: Some(attribution(model, eni_info, &a.rep)),
                window_start: has_time.then(|| format_rfc3339(k.window)),
                first_seen: a.first_seen.map(format_rfc3339),
                last_seen: a.last_seen.map(format_rfc3339),
                flows: a.flows,
                packets: a.packets,
                bytes: a.bytes,
                flows_seen_on_nat: a.attributed,
                evidence_omitted: a.flows.saturating_sub(evidence.len() as u64),
                evidence,
                activity: Activity::New,
                revision: 1,
                dst_class: None,
                anomaly: None,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.id.cmp(&b.id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_placeholders() {
        let vars = [("name", "job"), ("dst_ip", "203.0.113.5")];
        assert_eq!(render("{name} -> {dst_ip}", &vars), "job -> 203.0.113.5");
        assert_eq!(render("{nope} {name} {", &vars), "{nope} job {");
        assert_eq!(render("plain", &vars), "plain");
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = finding_id("EW-002", "eni-1", "203.0.113.5", 3600);
        assert_eq!(a, finding_id("EW-002", "eni-1", "203.0.113.5", 3600));
        assert_eq!(a.len(), 32);
        assert_ne!(a, finding_id("EW-002", "eni-1", "203.0.113.5", 7200));
        assert_ne!(a, finding_id("EW-003", "eni-1", "203.0.113.5", 3600));
        // Field boundaries matter: no ambiguity from concatenation.
        assert_ne!(finding_id("a", "bc", "d", 0), finding_id("ab", "c", "d", 0));
    }
}
