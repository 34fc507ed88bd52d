//! The controls table: one row per control and resource, with its state (held, violated, not
//! observable), the bytes that prove it and the findings that violate it. "Held" is claimed only
//! with evidence: traffic totals that show the control carried the traffic, or (for
//! configuration-only controls) the inventory.

use std::collections::BTreeMap;

use super::posture::{
    self, flow_logs_covering, has_flow_log_inventory, is_s3_gateway, route_table_of,
    sagemaker_subnets, short_service,
};
use super::requirements::RequirementTable;
use super::traffic::{Cell, CellKey, Traffic};
use super::{human_bytes, ControlRow, State};
use crate::detect::Finding;
use crate::enrich::model::{Model, NONE};
use crate::enrich::{DstClass, Inventory, Path};

/// A SageMaker resource as the inventory describes it.
#[derive(Debug, Clone)]
pub struct Res {
    pub kind: &'static str,
    pub name: String,
    pub idx: Option<u32>,
    pub has_vpc: bool,
    pub subnets: Vec<String>,
    pub vpc: Option<String>,
    pub isolation: Option<bool>,
}

impl Res {
    pub fn label(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

fn vpc_of(inv: &Inventory, subnets: &[String]) -> Option<String> {
    subnets.iter().find_map(|s| {
        inv.subnets
            .iter()
            .find(|x| &x.subnet_id == s)
            .map(|x| x.vpc_id.clone())
    })
}

/// Every SageMaker resource of the inventory, in a stable order.
pub fn resources(inv: &Inventory, model: &Model) -> Vec<Res> {
    let idx = |kind: &str, name: &str| {
        model
            .resources
            .iter()
            .position(|r| r.kind_str() == kind && &*r.name == name)
            .map(|i| i as u32)
    };
    let mut out = Vec::new();
    let mut push = |kind: &'static str, name: &str, subnets: Vec<String>, iso: Option<bool>| {
        out.push(Res {
            kind,
            name: name.to_string(),
            idx: idx(kind, name),
            has_vpc: !subnets.is_empty(),
            vpc: vpc_of(inv, &subnets),
            subnets,
            isolation: iso,
        });
    };
    for j in &inv.training_jobs {
        let s = j
            .vpc_config
            .as_ref()
            .map_or_else(Vec::new, |c| c.subnets.clone());
        push(
            "training-job",
            &j.training_job_name,
            s,
            j.enable_network_isolation,
        );
    }
    for j in &inv.processing_jobs {
        let n = j.network_config.as_ref();
        let s = n
            .and_then(|n| n.vpc_config.as_ref())
            .map_or_else(Vec::new, |c| c.subnets.clone());
        push(
            "processing-job",
            &j.processing_job_name,
            s,
            n.and_then(|n| n.enable_network_isolation),
        );
    }
    for m in &inv.models {
        let s = m
            .vpc_config
            .as_ref()
            .map_or_else(Vec::new, |c| c.subnets.clone());
        push("model", &m.model_name, s, m.enable_network_isolation);
    }
    for e in &inv.endpoints {
        let cfg = inv
            .endpoint_configs
            .iter()
            .find(|c| c.endpoint_config_name == e.endpoint_config_name);
        let models: Vec<&crate::inventory::files::Model> = cfg
            .map(|c| {
                c.production_variants
                    .iter()
                    .filter_map(|v| v.model_name.as_deref())
                    .filter_map(|n| inv.models.iter().find(|m| m.model_name == n))
                    .collect()
            })
            .unwrap_or_default();
        let s: Vec<String> = models
            .iter()
            .filter_map(|m| m.vpc_config.as_ref())
            .flat_map(|c| c.subnets.iter().cloned())
            .collect();
        let iso = if models.is_empty() {
            None
        } else {
            Some(
                models
                    .iter()
                    .all(|m| m.enable_network_isolation == Some(true)),
            )
        };
        push("endpoint", &e.endpoint_name, s, iso);
    }
    for n in &inv.notebooks {
        push(
            "notebook-instance",
            &n.notebook_instance_name,
            n.subnet_id.iter().cloned().collect(),
            None,
        );
    }
    for d in &inv.domains {
        let name = d.domain_name.clone().unwrap_or_else(|| d.domain_id.clone());
        push("studio-domain", &name, d.subnet_ids.clone(), None);
    }
    out
}

fn sum<'a>(cells: impl Iterator<Item = (&'a CellKey, &'a Cell)>) -> Cell {
    let mut t = Cell::default();
    for (_, c) in cells {
        posture::add(&mut t, c);
    }
    t
}

struct Ctx<'a> {
    inv: &'a Inventory,
    model: &'a Model,
    traffic: Option<&'a Traffic>,
    by_res: BTreeMap<u32, Vec<(&'a CellKey, &'a Cell)>>,
    findings: &'a [Finding],
    reqs: &'a RequirementTable,
    flow_inv: bool,
}

struct Verdict {
    state: State,
    evidence: String,
    bytes: u64,
    ids: Vec<String>,
}

fn held(evidence: String, bytes: u64) -> Verdict {
    Verdict {
        state: State::Held,
        evidence,
        bytes,
        ids: Vec::new(),
    }
}

fn blind(evidence: String) -> Verdict {
    Verdict {
        state: State::NotObservable,
        evidence,
        bytes: 0,
        ids: Vec::new(),
    }
}

fn violated(evidence: String, bytes: u64, ids: Vec<String>) -> Verdict {
    Verdict {
        state: State::Violated,
        evidence,
        bytes,
        ids,
    }
}

impl<'a> Ctx<'a> {
    fn cells(&self, r: &Res) -> &[(&'a CellKey, &'a Cell)] {
        r.idx
            .and_then(|i| self.by_res.get(&i))
            .map_or(&[], Vec::as_slice)
    }

    fn of_resource<'f>(&'f self, r: &'f Res) -> impl Iterator<Item = &'a Finding> + 'f {
        self.findings.iter().filter(move |f| {
            f.resource
                .as_ref()
                .is_some_and(|x| x.kind == r.kind && x.name == r.name)
        })
    }

    fn ids(&self, r: &Res, control: &str) -> (Vec<String>, u64) {
        let mut ids = Vec::new();
        let mut bytes = 0;
        for f in self.of_resource(r).filter(|f| f.control == control) {
            ids.push(f.id.clone());
            bytes += f.bytes;
        }
        (ids, bytes)
    }

    /// Why the resource's traffic cannot be judged, if it cannot.
    fn blind_reason(&self, r: &Res) -> Option<String> {
        if !r.has_vpc {
            return Some(if r.kind == "notebook-instance" {
                "no SubnetId: the notebook runs in a SageMaker-managed network; its traffic is not in your flow logs".into()
            } else {
                "no VpcConfig: its traffic never reaches your VPC or its flow logs".into()
            });
        }
        if self.flow_inv {
            let uncovered: Vec<&str> = r
                .subnets
                .iter()
                .filter(|s| {
                    r.vpc
                        .as_deref()
                        .is_none_or(|v| flow_logs_covering(self.inv, self.model, v, s).is_empty())
                })
                .map(String::as_str)
                .collect();
            if !uncovered.is_empty() && uncovered.len() == r.subnets.len() {
                return Some(format!("no flow log on {}", uncovered.join(", ")));
            }
        }
        if self.traffic.is_none() {
            return Some(
                "report built from a findings file: no traffic totals to prove the control held"
                    .into(),
            );
        }
        if r.idx.is_none() || self.cells(r).iter().all(|(_, c)| c.flows == 0) {
            return Some(
                "no egress from its ENIs in the period (ENIs unknown to the inventory, or it did not run)"
                    .into(),
            );
        }
        None
    }

    fn sum_where(&self, r: &Res, f: impl Fn(&CellKey) -> bool) -> Cell {
        sum(self.cells(r).iter().filter(|(k, _)| f(k)).copied())
    }

    fn endpoint_names(&self, via: impl Iterator<Item = u32>) -> Vec<String> {
        let mut names: Vec<String> = via
            .filter(|&v| v != NONE)
            .filter_map(|v| self.model.enis.get(v as usize))
            .map(|e| {
                self.inv
                    .vpc_endpoints
                    .iter()
                    .find(|x| x.network_interface_ids.iter().any(|n| *n == *e.id))
                    .map_or_else(
                        || e.id.to_string(),
                        |x| format!("{} ({})", x.vpc_endpoint_id, short_service(&x.service_name)),
                    )
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn is_out(k: &CellKey) -> bool {
        matches!(
            Path::from_u8(k.path),
            Path::NatGateway | Path::InternetGateway
        )
    }

    fn privatelink(&self, r: &Res) -> Verdict {
        let gw = self.model.gateway_services;
        let (own, _) = self.ids(r, "privatelink");
        let mut ids = own.clone();
        if let Some(v) = &r.vpc {
            ids.extend(
                self.findings
                    .iter()
                    .filter(|f| f.rule_is_posture("privatelink") && f.vpc_id.as_deref() == Some(v))
                    .map(|f| f.id.clone()),
            );
        }
        let present: Vec<&str> = self
            .inv
            .vpc_endpoints
            .iter()
            .filter(|e| e.vpc_id.is_some() && e.vpc_id == r.vpc)
            .map(|e| short_service(&e.service_name))
            .collect();
        let missing: Vec<&str> = ["sagemaker.api", "sagemaker.runtime"]
            .into_iter()
            .filter(|s| !present.contains(s))
            .collect();
        if let Some(why) = self.blind_reason(r) {
            if ids.is_empty() {
                return blind(why);
            }
        }
        let out = self.sum_where(r, |k| {
            Self::is_out(k)
                && DstClass::from_u8(k.class) == DstClass::AwsService
                && k.svc != gw[0]
                && k.svc != gw[1]
        });
        let missing_text = if missing.is_empty() {
            String::new()
        } else {
            format!(
                "; the VPC has no interface endpoint for {}",
                missing.join(", ")
            )
        };
        if out.bytes > 0 || !own.is_empty() {
            return violated(
                format!(
                    "{} to AWS service addresses through NAT/IGW instead of interface endpoints{missing_text}",
                    human_bytes(out.bytes)
                ),
                out.bytes,
                ids,
            );
        }
        if !missing.is_empty() {
            return violated(
                format!(
                    "no interface endpoint for {} in {}",
                    missing.join(", "),
                    r.vpc.as_deref().unwrap_or("its VPC")
                ),
                0,
                ids,
            );
        }
        let via = self.sum_where(r, |k| {
            DstClass::from_u8(k.class) == DstClass::InterfaceEndpoint
        });
        let names = self.endpoint_names(self.cells(r).iter().map(|(k, _)| k.via));
        held(
            format!(
                "{} to interface endpoints{}; nothing to AWS services through NAT/IGW",
                human_bytes(via.bytes),
                if names.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", names.join(", "))
                }
            ),
            via.bytes,
        )
    }

    fn gateway_endpoint(&self, r: &Res) -> Verdict {
        let s3 = self.model.gateway_services[0];
        let (mut ids, _) = self.ids(r, "gateway-endpoint");
        ids.extend(
            self.findings
                .iter()
                .filter(|f| {
                    f.rule_is_posture("gateway-endpoint")
                        && f.subnet_id.as_ref().is_some_and(|s| r.subnets.contains(s))
                })
                .map(|f| f.id.clone()),
        );
        let vpc = r.vpc.clone().unwrap_or_default();
        let rtbs: Vec<String> = r
            .subnets
            .iter()
            .filter_map(|s| route_table_of(self.inv, s, &vpc))
            .map(|t| t.route_table_id.clone())
            .collect();
        let endpoints: Vec<&str> = self
            .inv
            .vpc_endpoints
            .iter()
            .filter(|e| is_s3_gateway(e) && e.route_table_ids.iter().any(|t| rtbs.contains(t)))
            .map(|e| e.vpc_endpoint_id.as_str())
            .collect();
        let all_routed = !rtbs.is_empty()
            && rtbs.iter().all(|t| {
                self.inv
                    .vpc_endpoints
                    .iter()
                    .any(|e| is_s3_gateway(e) && e.route_table_ids.contains(t))
            });
        if let Some(why) = self.blind_reason(r) {
            if ids.is_empty() {
                return blind(why);
            }
        }
        let out = self.sum_where(r, |k| Self::is_out(k) && k.svc == s3);
        if out.bytes > 0 || !ids.is_empty() {
            return violated(
                format!("{} to S3 through NAT/IGW", human_bytes(out.bytes)),
                out.bytes,
                ids,
            );
        }
        let via = self.sum_where(r, |k| {
            Path::from_u8(k.path) == Path::GatewayEndpoint && k.svc == s3
        });
        let mut rtbs_u = rtbs.clone();
        rtbs_u.sort();
        rtbs_u.dedup();
        if via.bytes > 0 {
            return held(
                format!(
                    "{} to S3, all via {}",
                    human_bytes(via.bytes),
                    if endpoints.is_empty() {
                        "the gateway endpoint".to_string()
                    } else {
                        endpoints.join(", ")
                    }
                ),
                via.bytes,
            );
        }
        if all_routed {
            held(
                format!(
                    "no S3 traffic in the period; {} route S3 to {}",
                    rtbs_u.join(", "),
                    endpoints.join(", ")
                ),
                0,
            )
        } else {
            violated(
                format!(
                    "no S3 gateway endpoint on {}",
                    if rtbs_u.is_empty() {
                        "its route table".to_string()
                    } else {
                        rtbs_u.join(", ")
                    }
                ),
                0,
                ids,
            )
        }
    }

    fn isolation(&self, r: &Res) -> Verdict {
        let (flow, post): (Vec<&Finding>, Vec<&Finding>) = self
            .of_resource(r)
            .filter(|f| f.control == "network-isolation")
            .partition(|f| f.category != "posture");
        let post: Vec<String> = post.iter().map(|f| f.id.clone()).collect();
        let egress = sum(self.cells(r).iter().copied());
        if !flow.is_empty() {
            let bytes: u64 = flow.iter().map(|f| f.bytes).sum();
            let mut all: Vec<String> = flow.iter().map(|f| f.id.clone()).collect();
            all.extend(post);
            return violated(
                format!(
                    "{} sent outside the destinations isolation allows",
                    human_bytes(bytes)
                ),
                bytes,
                all,
            );
        }
        match r.isolation {
            Some(true) if !r.has_vpc => blind(
                "EnableNetworkIsolation true, but no VpcConfig: nothing of it is in your flow logs"
                    .into(),
            ),
            Some(true) => match self.blind_reason(r) {
                Some(why) if self.traffic.is_none() || why.starts_with("no flow log") => blind(why),
                _ => held(
                    format!(
                        "EnableNetworkIsolation true; {} egress observed, all to destinations isolation allows",
                        human_bytes(egress.bytes)
                    ),
                    egress.bytes,
                ),
            },
            _ if !post.is_empty() => violated(
                format!(
                    "EnableNetworkIsolation not set (required by the posture pack); {} egress observed",
                    human_bytes(egress.bytes)
                ),
                egress.bytes,
                post,
            ),
            _ => blind("EnableNetworkIsolation not set, and the posture pack does not require it for this kind".into()),
        }
    }

    fn internet(&self, r: &Res) -> Verdict {
        let (ids, _) = self.ids(r, "no-direct-internet-access");
        let out = self.sum_where(r, |k| {
            Self::is_out(k) && DstClass::from_u8(k.class) == DstClass::Internet
        });
        let config = self
            .inv
            .notebooks
            .iter()
            .find(|n| r.kind == "notebook-instance" && n.notebook_instance_name == r.name)
            .and_then(|n| n.direct_internet_access.clone());
        let flow_bytes: u64 = self
            .of_resource(r)
            .filter(|f| f.control == "no-direct-internet-access" && f.category != "posture")
            .map(|f| f.bytes)
            .sum();
        if !ids.is_empty() || out.bytes > 0 {
            let bytes = out.bytes.max(flow_bytes);
            let cfg = config
                .as_deref()
                .filter(|c| c.eq_ignore_ascii_case("enabled"))
                .map_or(String::new(), |_| "; DirectInternetAccess Enabled".into());
            return violated(
                format!(
                    "{} to internet addresses through NAT/IGW{cfg}",
                    human_bytes(bytes)
                ),
                bytes,
                ids,
            );
        }
        if let Some(why) = self.blind_reason(r) {
            return blind(why);
        }
        let egress = sum(self.cells(r).iter().copied());
        held(
            format!(
                "{} egress observed, none to internet addresses{}",
                human_bytes(egress.bytes),
                config.map_or(String::new(), |c| format!("; DirectInternetAccess {c}"))
            ),
            egress.bytes,
        )
    }

    fn log_has_encryption_status(&self, r: &Res) -> Option<bool> {
        let vpc = r.vpc.as_deref()?;
        let logs: Vec<String> = r
            .subnets
            .iter()
            .flat_map(|s| flow_logs_covering(self.inv, self.model, vpc, s))
            .collect();
        if logs.is_empty() {
            return None;
        }
        Some(logs.iter().all(|id| {
            self.inv
                .flow_logs
                .iter()
                .find(|f| &f.flow_log_id == id)
                .and_then(|f| f.log_format.as_deref())
                .is_some_and(|f| f.contains("${encryption-status}"))
        }))
    }

    fn tls(&self, r: &Res) -> Verdict {
        let (ids, bytes) = self.ids(r, "tls-in-transit");
        if !ids.is_empty() {
            return violated(
                format!("{} on cleartext protocols", human_bytes(bytes)),
                bytes,
                ids,
            );
        }
        if let Some(why) = self.blind_reason(r) {
            return blind(why);
        }
        let egress = sum(self.cells(r).iter().copied());
        let how = match self.log_has_encryption_status(r) {
            Some(true) => "by encryption-status",
            _ => "by destination port: the log format has no encryption-status field",
        };
        held(
            format!(
                "{} egress observed, none cleartext (judged {how})",
                human_bytes(egress.bytes)
            ),
            egress.bytes,
        )
    }

    fn resolver(&self, r: &Res) -> Verdict {
        let (ids, bytes) = self.ids(r, "vpc-resolver");
        if !ids.is_empty() {
            return violated(
                format!(
                    "{} of DNS to resolvers other than the VPC's",
                    human_bytes(bytes)
                ),
                bytes,
                ids,
            );
        }
        if let Some(why) = self.blind_reason(r) {
            return blind(why);
        }
        let dns = self.sum_where(r, |k| DstClass::from_u8(k.class) == DstClass::VpcResolver);
        held(
            format!(
                "{} of DNS to the VPC resolver; none to other resolvers",
                human_bytes(dns.bytes)
            ),
            dns.bytes,
        )
    }

    fn row(&self, control: &str, resource: String, vpc: Option<String>, v: Verdict) -> ControlRow {
        ControlRow {
            control: control.to_string(),
            control_name: self.reqs.name(control),
            resource,
            vpc_id: vpc,
            state: v.state,
            evidence: v.evidence,
            bytes: v.bytes,
            finding_ids: v.ids,
            requirements: self.reqs.tags(control),
        }
    }
}

trait PostureControl {
    fn rule_is_posture(&self, control: &str) -> bool;
}

impl PostureControl for Finding {
    fn rule_is_posture(&self, control: &str) -> bool {
        self.category == "posture" && self.control == control
    }
}

/// The controls table.
pub fn rows(
    inv: &Inventory,
    model: &Model,
    traffic: Option<&Traffic>,
    findings: &[Finding],
    reqs: &RequirementTable,
) -> Vec<ControlRow> {
    let mut by_res: BTreeMap<u32, Vec<(&CellKey, &Cell)>> = BTreeMap::new();
    if let Some(t) = traffic {
        for (k, c) in t.sorted() {
            if k.resource != NONE {
                by_res.entry(k.resource).or_default().push((k, c));
            }
        }
    }
    let cx = Ctx {
        inv,
        model,
        traffic,
        by_res,
        findings,
        reqs,
        flow_inv: has_flow_log_inventory(inv),
    };
    let mut out = Vec::new();
    let res = resources(inv, model);
    for r in &res {
        let runs = r.kind != "model";
        let label = r.label();
        if runs {
            out.push(cx.row(
                "privatelink",
                label.clone(),
                r.vpc.clone(),
                cx.privatelink(r),
            ));
            out.push(cx.row(
                "gateway-endpoint",
                label.clone(),
                r.vpc.clone(),
                cx.gateway_endpoint(r),
            ));
        }
        if matches!(
            r.kind,
            "training-job" | "processing-job" | "model" | "endpoint"
        ) {
            out.push(cx.row(
                "network-isolation",
                label.clone(),
                r.vpc.clone(),
                cx.isolation(r),
            ));
        }
        if runs {
            out.push(cx.row(
                "no-direct-internet-access",
                label.clone(),
                r.vpc.clone(),
                cx.internet(r),
            ));
            out.push(cx.row("tls-in-transit", label.clone(), r.vpc.clone(), cx.tls(r)));
            out.push(cx.row("vpc-resolver", label.clone(), r.vpc.clone(), cx.resolver(r)));
        }
    }
    // Endpoint policies of the endpoints in VPCs that hold SageMaker resources.
    let vpcs: Vec<&str> = res.iter().filter_map(|r| r.vpc.as_deref()).collect();
    for e in &inv.vpc_endpoints {
        let svc = short_service(&e.service_name);
        if !matches!(svc, "s3" | "sagemaker.api" | "sagemaker.runtime")
            || !e.vpc_id.as_deref().is_some_and(|v| vpcs.contains(&v))
        {
            continue;
        }
        let label = format!("vpc-endpoint/{} ({svc})", e.vpc_endpoint_id);
        let ids: Vec<&Finding> = findings
            .iter()
            .filter(|f| {
                f.rule_is_posture("endpoint-policy") && f.title.starts_with(&e.vpc_endpoint_id)
            })
            .collect();
        let v = if !ids.is_empty() {
            let bytes = ids.iter().map(|f| f.bytes).sum();
            violated(
                format!(
                    "policy allows every principal, action and resource; {} carried through it",
                    human_bytes(bytes)
                ),
                bytes,
                ids.iter().map(|f| f.id.clone()).collect(),
            )
        } else {
            match e.policy_document.as_deref().map(posture::policy_allows_everything) {
                None => blind("no PolicyDocument in the describe-vpc-endpoints output".into()),
                Some(None) => blind("PolicyDocument is not valid JSON".into()),
                Some(Some(true)) => blind(
                    "policy allows everything, but the posture pack does not check this endpoint"
                        .into(),
                ),
                Some(Some(false)) => held(
                    "policy restricts principals, actions or resources (no unconditioned Allow of *)"
                        .into(),
                    0,
                ),
            }
        };
        out.push(cx.row("endpoint-policy", label, e.vpc_id.clone(), v));
    }
    // Flow-log coverage of the subnets that hold SageMaker ENIs.
    for (vpc, subnet) in sagemaker_subnets(inv, model) {
        let v = if !cx.flow_inv {
            blind("describe-flow-logs output not in the inventory".into())
        } else if let Some(f) = findings
            .iter()
            .find(|f| f.rule_is_posture("flow-logs") && f.subnet_id.as_deref() == Some(&subnet))
        {
            violated(
                "no flow log on the subnet, its VPC or its SageMaker ENIs".into(),
                0,
                vec![f.id.clone()],
            )
        } else {
            let logs = flow_logs_covering(inv, model, &vpc, &subnet);
            held(format!("recorded by {}", logs.join(", ")), 0)
        };
        out.push(cx.row("flow-logs", format!("subnet/{subnet}"), Some(vpc), v));
    }
    out
}
