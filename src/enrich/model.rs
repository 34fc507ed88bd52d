//! The network model built once from the inventory: ENIs and what they belong to, VPC CIDRs,
//! each subnet's route table as a longest-prefix-match map, NAT and endpoint ENIs, and the AWS
//! address ranges. Every per-record lookup is a hash probe or a binary search.

use std::collections::{HashMap, HashSet};

use ipnet::IpNet;

use crate::inventory::{Inventory, VpcConfig};
use crate::net::{ip, FastMap, IpKey, RangeMap, RangeMapBuilder};

pub const NONE: u32 = u32::MAX;
pub const NO_SYM: u16 = u16::MAX;

/// Interned strings (service names, regions) referred to by `u16` in hot columns.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, u16>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u16 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.names.len() as u16;
        self.names.push(s.into());
        self.index.insert(s.into(), i);
        i
    }

    pub fn get(&self, s: &str) -> Option<u16> {
        self.index.get(s).copied()
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn name(&self, i: u16) -> Option<&str> {
        self.names.get(i as usize).map(|s| &**s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EniKind {
    Workload,
    NatGateway,
    InterfaceEndpoint,
    Lambda,
    OtherService,
}

#[derive(Debug, Clone)]
pub struct EniInfo {
    pub id: Box<str>,
    pub vpc: u32,
    pub subnet: u32,
    pub kind: EniKind,
    pub region: u16,
    pub ips: Vec<IpKey>,
    /// SageMaker (or labelled) resources this ENI may belong to; several only when VpcConfigs
    /// are identical, then the record's time picks one.
    pub resources: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct VpcInfo {
    pub id: Box<str>,
    pub cidrs: RangeMap<()>,
    /// The Amazon DNS server: base of each VPC IPv4 CIDR plus two.
    pub resolvers: Vec<IpKey>,
    pub region: u16,
    pub main_route_table: u32,
}

#[derive(Debug, Clone)]
pub struct SubnetInfo {
    pub id: Box<str>,
    pub vpc: u32,
    pub route_table: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTarget {
    Local,
    InternetGateway,
    NatGateway,
    GatewayEndpoint,
    Peering,
    TransitGateway,
    Vpn,
    LocalGateway,
    /// An appliance ENI, instance, Cloud WAN or an unrecognised target.
    Other,
    Blackhole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    TrainingJob,
    ProcessingJob,
    Endpoint,
    Model,
    NotebookInstance,
    StudioDomain,
    Labelled,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::TrainingJob => "training-job",
            ResourceKind::ProcessingJob => "processing-job",
            ResourceKind::Endpoint => "endpoint",
            ResourceKind::Model => "model",
            ResourceKind::NotebookInstance => "notebook-instance",
            ResourceKind::StudioDomain => "studio-domain",
            ResourceKind::Labelled => "labelled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub kind: ResourceKind,
    /// For labelled ENIs, the kind the user wrote.
    pub kind_label: Option<Box<str>>,
    pub name: Box<str>,
    pub arn: Option<Box<str>>,
    pub network_isolation: Option<bool>,
    pub sagemaker: bool,
    /// When the resource ran (Unix seconds), used to choose between resources sharing ENIs.
    pub window: Option<(i64, i64)>,
}

impl ResourceInfo {
    pub fn kind_str(&self) -> &str {
        self.kind_label.as_deref().unwrap_or(self.kind.as_str())
    }
}

/// The built model. Construct with [`Model::build`].
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub services: Interner,
    pub regions: Interner,
    pub enis: Vec<EniInfo>,
    pub eni_by_id: FastMap<Box<str>, u32>,
    /// Address of an ENI within a VPC.
    pub addr: FastMap<(u32, IpKey), u32>,
    pub vpcs: Vec<VpcInfo>,
    pub subnets: Vec<SubnetInfo>,
    pub route_tables: Vec<RangeMap<RouteTarget>>,
    pub resources: Vec<ResourceInfo>,
    /// AWS ranges: (service, region) of each address, a specific service (S3, DYNAMODB, EC2,
    /// ...) winning over the catch-all AMAZON subset. Indexed by /16 for IPv4 lookups.
    pub aws: RangeMap<(u16, u16)>,
    pub has_ip_ranges: bool,
    /// Services reachable through gateway endpoints (S3, DynamoDB).
    pub gateway_services: [u16; 2],
    /// Inventory problems that did not stop the build (reported once).
    pub warnings: Vec<String>,
}

/// Region of an availability zone: `us-east-1a` -> `us-east-1`, `us-west-2-lax-1a` -> `us-west-2`.
pub fn region_of_az(az: &str) -> Option<&str> {
    let trimmed = az.trim_end_matches(|c: char| c.is_ascii_lowercase());
    let mut end = 0;
    for part in trimmed.split('-') {
        end += part.len();
        if !part.is_empty() && part.bytes().all(|c| c.is_ascii_digit()) {
            return Some(&trimmed[..end]);
        }
        end += 1;
    }
    None
}

/// Region named in an ARN: `arn:aws:sagemaker:REGION:...`.
pub fn region_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Service and region named by an endpoint service name: `com.amazonaws.us-east-1.s3`.
fn endpoint_service(name: &str) -> Option<(&str, &str)> {
    let mut parts = name.split('.');
    let (a, b, region) = (parts.next()?, parts.next()?, parts.next()?);
    let svc = parts.next()?;
    (a == "com" && b == "amazonaws").then_some((region, svc))
}

const SAGEMAKER_NOTEBOOK_DESC: &str =
    "[Do not delete] Network Interface created to access resources in your VPC for SageMaker Notebook Instance ";
const STUDIO_DESC: &str = "[DO NOT DELETE] ENI managed by SageMaker for Studio Domain(";

/// Descriptions of requester-managed ENIs that belong to other services; such ENIs are never
/// attributed to SageMaker through a VpcConfig match.
const OTHER_SERVICE_DESCS: &[&str] = &[
    "Interface for NAT Gateway",
    "VPC Endpoint Interface",
    "AWS Lambda VPC ENI",
    "ELB ",
    "RDSNetworkInterface",
    "RedshiftNetworkInterface",
    "arn:aws:ecs:",
    "ElastiCache",
    "Route 53 Resolver",
    "AWS created network interface for directory",
    "Created By Amazon Workspaces",
    "Attached to Glue",
    "EFS mount target",
    "Network Interface for Transit Gateway Attachment",
];

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>().ok().map(|n| n.trunc())
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let a: HashSet<&str> = a.iter().map(String::as_str).collect();
    let b: HashSet<&str> = b.iter().map(String::as_str).collect();
    !a.is_empty() && a == b
}

fn window(start: Option<i64>, end: Option<i64>) -> Option<(i64, i64)> {
    start.map(|s| (s, end.unwrap_or(i64::MAX)))
}

struct Candidate {
    resource: u32,
    config: VpcConfig,
}

impl Model {
    /// Builds the model. `default_region` applies to VPCs whose region cannot be derived.
    pub fn build(inv: &Inventory, default_region: Option<&str>) -> Model {
        let mut m = Model::default();
        // Names a record's pkt-dst-aws-service may carry, so they resolve without ip-ranges.json.
        for s in super::KNOWN_SERVICES {
            m.services.intern(s);
        }
        m.gateway_services = [m.services.intern("S3"), m.services.intern("DYNAMODB")];

        // AWS address ranges. A specific service wins over AMAZON for the same address.
        let mut specific = RangeMapBuilder::new();
        let mut amazon = RangeMapBuilder::new();
        let mut by_service_region: HashMap<(u16, u16), Vec<IpNet>> = HashMap::new();
        for r in &inv.ip_ranges {
            for p in r.prefixes.iter().chain(&r.ipv6_prefixes) {
                let Some(net) = p
                    .ip_prefix
                    .as_deref()
                    .or(p.ipv6_prefix.as_deref())
                    .and_then(parse_net)
                else {
                    continue;
                };
                let svc = m.services.intern(&p.service);
                let reg = m.regions.intern(&p.region);
                if p.service == "AMAZON" {
                    amazon.insert(&net, (svc, reg));
                } else {
                    specific.insert(&net, (svc, reg));
                    by_service_region.entry((svc, reg)).or_default().push(net);
                }
            }
        }
        m.has_ip_ranges = !inv.ip_ranges.is_empty();
        // Deterministic tie-break for the same block listed under two specific services.
        let specific = specific.build(|a, b| a <= b);
        m.aws = specific.overlay(&amazon.build(|a, b| a <= b));
        m.aws.index_v4();

        // VPCs.
        let mut vpc_by_id: HashMap<&str, u32> = HashMap::new();
        for v in &inv.vpcs {
            if vpc_by_id.contains_key(v.vpc_id.as_str()) {
                continue;
            }
            let mut cidrs = RangeMapBuilder::new();
            let mut resolvers = Vec::new();
            let blocks = v
                .cidr_block
                .iter()
                .chain(
                    v.cidr_block_association_set
                        .iter()
                        .filter_map(|c| c.cidr_block.as_ref()),
                )
                .chain(
                    v.ipv6_cidr_block_association_set
                        .iter()
                        .filter_map(|c| c.ipv6_cidr_block.as_ref()),
                );
            for b in blocks {
                if let Some(net) = parse_net(b) {
                    if let IpNet::V4(n4) = net {
                        resolvers.push(ip::from_v4(u32::from(n4.network()) + 2));
                    }
                    cidrs.insert(&net, ());
                }
            }
            vpc_by_id.insert(&v.vpc_id, m.vpcs.len() as u32);
            m.vpcs.push(VpcInfo {
                id: v.vpc_id.as_str().into(),
                cidrs: cidrs.build(|_, _| true),
                resolvers,
                region: NO_SYM,
                main_route_table: NONE,
            });
        }
        // A VPC known only from its subnets, ENIs or route tables still gets an entry.
        let mut extra_vpcs: HashMap<String, u32> = HashMap::new();
        let mut vpc_of = |m: &mut Model, id: &str| -> u32 {
            if let Some(&i) = vpc_by_id.get(id).or_else(|| extra_vpcs.get(id)) {
                return i;
            }
            let i = m.vpcs.len() as u32;
            m.vpcs.push(VpcInfo {
                id: id.into(),
                cidrs: RangeMap::default(),
                resolvers: Vec::new(),
                region: NO_SYM,
                main_route_table: NONE,
            });
            m.warnings.push(format!(
                "VPC {id} is not in the inventory (describe-vpcs); its CIDRs are unknown"
            ));
            extra_vpcs.insert(id.to_string(), i);
            i
        };

        // Subnets.
        let mut subnet_by_id: HashMap<&str, u32> = HashMap::new();
        for s in &inv.subnets {
            if subnet_by_id.contains_key(s.subnet_id.as_str()) {
                continue;
            }
            let vpc = vpc_of(&mut m, &s.vpc_id);
            if let Some(r) = s.availability_zone.as_deref().and_then(region_of_az) {
                let r = m.regions.intern(r);
                if m.vpcs[vpc as usize].region == NO_SYM {
                    m.vpcs[vpc as usize].region = r;
                }
            }
            subnet_by_id.insert(&s.subnet_id, m.subnets.len() as u32);
            m.subnets.push(SubnetInfo {
                id: s.subnet_id.as_str().into(),
                vpc,
                route_table: NONE,
            });
        }

        // Endpoints by id, for resolving prefix-list routes.
        let endpoint_by_id: HashMap<&str, &crate::inventory::VpcEndpoint> = inv
            .vpc_endpoints
            .iter()
            .map(|e| (e.vpc_endpoint_id.as_str(), e))
            .collect();
        let gateway_prefixes = |m: &mut Model, vpce: &str| -> Vec<IpNet> {
            let Some(ep) = endpoint_by_id.get(vpce) else {
                return Vec::new();
            };
            let Some((region, svc)) = endpoint_service(&ep.service_name) else {
                return Vec::new();
            };
            let svc = svc.to_ascii_uppercase();
            match (m.services.get(&svc), m.regions.get(region)) {
                (Some(s), Some(r)) => by_service_region.get(&(s, r)).cloned().unwrap_or_default(),
                _ => Vec::new(),
            }
        };

        // Route tables.
        let mut missing_ranges_warned = false;
        for rt in &inv.route_tables {
            let mut b = RangeMapBuilder::new();
            let mut gateway_routes: HashSet<&str> = HashSet::new();
            for r in &rt.routes {
                let target = if r.state.as_deref() == Some("blackhole") {
                    RouteTarget::Blackhole
                } else if let Some(g) = r.gateway_id.as_deref() {
                    if g == "local" {
                        RouteTarget::Local
                    } else if g.starts_with("igw-") {
                        RouteTarget::InternetGateway
                    } else if g.starts_with("vpce-") && r.destination_prefix_list_id.is_some() {
                        RouteTarget::GatewayEndpoint
                    } else if g.starts_with("vgw-") {
                        RouteTarget::Vpn
                    } else {
                        RouteTarget::Other
                    }
                } else if r.nat_gateway_id.is_some() {
                    RouteTarget::NatGateway
                } else if r.egress_only_internet_gateway_id.is_some()
                    || r.carrier_gateway_id.is_some()
                {
                    RouteTarget::InternetGateway
                } else if r.transit_gateway_id.is_some() {
                    RouteTarget::TransitGateway
                } else if r.vpc_peering_connection_id.is_some() {
                    RouteTarget::Peering
                } else if r.local_gateway_id.is_some() {
                    RouteTarget::LocalGateway
                } else {
                    RouteTarget::Other
                };
                let dests = r
                    .destination_cidr_block
                    .iter()
                    .chain(&r.destination_ipv6_cidr_block);
                for d in dests {
                    if let Some(net) = parse_net(d) {
                        b.insert(&net, target);
                    }
                }
                if r.destination_prefix_list_id.is_some() {
                    if let Some(g) = r.gateway_id.as_deref().filter(|g| g.starts_with("vpce-")) {
                        gateway_routes.insert(g);
                    }
                }
            }
            // Gateway endpoints also list the route tables they serve.
            for ep in &inv.vpc_endpoints {
                if ep.route_table_ids.contains(&rt.route_table_id) {
                    gateway_routes.insert(&ep.vpc_endpoint_id);
                }
            }
            for vpce in gateway_routes {
                let nets = gateway_prefixes(&mut m, vpce);
                if nets.is_empty() && !missing_ranges_warned {
                    missing_ranges_warned = true;
                    m.warnings.push(format!(
                        "route table {} routes a prefix list to {vpce}, but no ip-ranges.json entries resolve it; gateway-endpoint traffic is inferred only from traffic-path",
                        rt.route_table_id
                    ));
                }
                for n in nets {
                    b.insert(&n, RouteTarget::GatewayEndpoint);
                }
            }
            let idx = m.route_tables.len() as u32;
            // An explicit CIDR route and a prefix-list route for the same block: the explicit
            // route is what AWS prefers for an exact tie.
            m.route_tables
                .push(b.build(|a, _| *a != RouteTarget::GatewayEndpoint));
            let vpc = vpc_of(&mut m, &rt.vpc_id);
            for a in &rt.associations {
                if a.main == Some(true) {
                    m.vpcs[vpc as usize].main_route_table = idx;
                }
                if let Some(s) = a.subnet_id.as_deref().and_then(|s| subnet_by_id.get(s)) {
                    m.subnets[*s as usize].route_table = idx;
                }
            }
        }

        // SageMaker resources.
        let mut candidates: Vec<Candidate> = Vec::new();
        let push_resource = |m: &mut Model, r: ResourceInfo| -> u32 {
            m.resources.push(r);
            (m.resources.len() - 1) as u32
        };
        for j in &inv.training_jobs {
            let start = j
                .training_start_time
                .as_ref()
                .or(j.creation_time.as_ref())
                .and_then(|t| t.secs());
            let end = j.training_end_time.as_ref().and_then(|t| t.secs());
            let r = push_resource(
                &mut m,
                ResourceInfo {
                    kind: ResourceKind::TrainingJob,
                    kind_label: None,
                    name: j.training_job_name.as_str().into(),
                    arn: Some(j.training_job_arn.as_str().into()),
                    network_isolation: Some(j.enable_network_isolation.unwrap_or(false)),
                    sagemaker: true,
                    window: window(start, end),
                },
            );
            if let Some(c) = &j.vpc_config {
                candidates.push(Candidate {
                    resource: r,
                    config: c.clone(),
                });
            }
        }
        for j in &inv.processing_jobs {
            let nc = j.network_config.clone().unwrap_or_default();
            let start = j
                .processing_start_time
                .as_ref()
                .or(j.creation_time.as_ref())
                .and_then(|t| t.secs());
            let end = j.processing_end_time.as_ref().and_then(|t| t.secs());
            let r = push_resource(
                &mut m,
                ResourceInfo {
                    kind: ResourceKind::ProcessingJob,
                    kind_label: None,
                    name: j.processing_job_name.as_str().into(),
                    arn: Some(j.processing_job_arn.as_str().into()),
                    network_isolation: Some(nc.enable_network_isolation.unwrap_or(false)),
                    sagemaker: true,
                    window: window(start, end),
                },
            );
            if let Some(c) = nc.vpc_config {
                candidates.push(Candidate {
                    resource: r,
                    config: c,
                });
            }
        }
        // Endpoints: Endpoint -> EndpointConfig -> Model(s) -> VpcConfig.
        let models: HashMap<&str, &crate::inventory::Model> = inv
            .models
            .iter()
            .map(|x| (x.model_name.as_str(), x))
            .collect();
        let configs: HashMap<&str, &crate::inventory::EndpointConfig> = inv
            .endpoint_configs
            .iter()
            .map(|x| (x.endpoint_config_name.as_str(), x))
            .collect();
        let mut served_models: HashSet<&str> = HashSet::new();
        for e in &inv.endpoints {
            let cfg = configs.get(e.endpoint_config_name.as_str());
            let mut isolation = cfg.and_then(|c| c.enable_network_isolation);
            let mut vpc = cfg.and_then(|c| c.vpc_config.clone());
            if let Some(c) = cfg {
                for v in c
                    .production_variants
                    .iter()
                    .chain(&c.shadow_production_variants)
                {
                    let Some(model) = v.model_name.as_deref().and_then(|n| models.get(n)) else {
                        continue;
                    };
                    served_models.insert(&model.model_name);
                    if model.enable_network_isolation == Some(true) {
                        isolation = Some(true);
                    } else if isolation.is_none() {
                        isolation = model.enable_network_isolation;
                    }
                    if vpc.is_none() {
                        vpc = model.vpc_config.clone();
                    }
                }
            } else {
                m.warnings.push(format!(
                    "endpoint {} uses endpoint config {} which is not in the inventory; its VpcConfig is unknown",
                    e.endpoint_name, e.endpoint_config_name
                ));
            }
            let r = push_resource(
                &mut m,
                ResourceInfo {
                    kind: ResourceKind::Endpoint,
                    kind_label: None,
                    name: e.endpoint_name.as_str().into(),
                    arn: Some(e.endpoint_arn.as_str().into()),
                    network_isolation: Some(isolation.unwrap_or(false)),
                    sagemaker: true,
                    window: None,
                },
            );
            if let Some(c) = vpc {
                candidates.push(Candidate {
                    resource: r,
                    config: c,
                });
            }
        }
        // Models not behind an endpoint still create ENIs (batch transform).
        for model in &inv.models {
            if served_models.contains(model.model_name.as_str()) {
                continue;
            }
            let r = push_resource(
                &mut m,
                ResourceInfo {
                    kind: ResourceKind::Model,
                    kind_label: None,
                    name: model.model_name.as_str().into(),
                    arn: Some(model.model_arn.as_str().into()),
                    network_isolation: Some(model.enable_network_isolation.unwrap_or(false)),
                    sagemaker: true,
                    window: None,
                },
            );
            if let Some(c) = &model.vpc_config {
                candidates.push(Candidate {
                    resource: r,
                    config: c.clone(),
                });
            }
        }
        let mut notebook_by_name: HashMap<&str, u32> = HashMap::new();
        let mut notebook_by_eni: HashMap<&str, u32> = HashMap::new();
        for nb in &inv.notebooks {
            let r = push_resource(
                &mut m,
                ResourceInfo {
                    kind: ResourceKind::NotebookInstance,
                    kind_label: None,
                    name: nb.notebook_instance_name.as_str().into(),
                    arn: Some(nb.notebook_instance_arn.as_str().into()),
                    network_isolation: Some(false),
                    sagemaker: true,
                    window: None,
                },
            );
            notebook_by_name.insert(&nb.notebook_instance_name, r);
            if let Some(eni) = nb.network_interface_id.as_deref() {
                notebook_by_eni.insert(eni, r);
            }
        }
        let mut domain_by_id: HashMap<String, u32> = HashMap::new();
        for d in &inv.domains {
            let r = push_resource(
                &mut m,
                ResourceInfo {
                    kind: ResourceKind::StudioDomain,
                    kind_label: None,
                    name: d.domain_name.as_deref().unwrap_or(&d.domain_id).into(),
                    arn: Some(d.domain_arn.as_str().into()),
                    network_isolation: Some(false),
                    sagemaker: true,
                    window: None,
                },
            );
            domain_by_id.insert(d.domain_id.clone(), r);
        }
        let mut labels: HashMap<&str, u32> = HashMap::new();
        for l in &inv.labels {
            let r = push_resource(
                &mut m,
                ResourceInfo {
                    kind: ResourceKind::Labelled,
                    kind_label: Some(l.kind.as_str().into()),
                    name: l.name.as_str().into(),
                    arn: l.arn.as_deref().map(Into::into),
                    network_isolation: l.network_isolation,
                    sagemaker: l.sagemaker.unwrap_or(true),
                    window: None,
                },
            );
            labels.insert(&l.network_interface_id, r);
        }

        // NAT gateway and interface endpoint ENIs as listed by their own APIs.
        let mut nat_enis: HashSet<&str> = HashSet::new();
        let mut nat_ips: HashMap<&str, Vec<IpKey>> = HashMap::new();
        for n in &inv.nat_gateways {
            for a in &n.nat_gateway_addresses {
                if let Some(e) = a.network_interface_id.as_deref() {
                    nat_enis.insert(e);
                    if let Some(k) = a
                        .private_ip
                        .as_deref()
                        .and_then(|s| ip::parse(s.as_bytes()))
                    {
                        nat_ips.entry(e).or_default().push(k);
                    }
                }
            }
        }
        let vpce_enis: HashSet<&str> = inv
            .vpc_endpoints
            .iter()
            .flat_map(|e| e.network_interface_ids.iter().map(String::as_str))
            .collect();

        // ENIs.
        for e in &inv.enis {
            if e.network_interface_id.is_empty()
                || m.eni_by_id.contains_key(e.network_interface_id.as_str())
            {
                continue;
            }
            let id = e.network_interface_id.as_str();
            let desc = e.description.as_deref().unwrap_or("");
            let itype = e.interface_type.as_deref().unwrap_or("interface");
            let kind = if itype == "nat_gateway"
                || desc.starts_with("Interface for NAT Gateway")
                || nat_enis.contains(id)
            {
                EniKind::NatGateway
            } else if itype == "vpc_endpoint"
                || desc.starts_with("VPC Endpoint Interface")
                || vpce_enis.contains(id)
            {
                EniKind::InterfaceEndpoint
            } else if itype == "lambda" || desc.starts_with("AWS Lambda VPC ENI") {
                EniKind::Lambda
            } else if itype != "interface"
                || OTHER_SERVICE_DESCS.iter().any(|p| desc.starts_with(p))
            {
                EniKind::OtherService
            } else {
                EniKind::Workload
            };
            let vpc = match e.vpc_id.as_deref() {
                Some(v) => vpc_of(&mut m, v),
                None => NONE,
            };
            let subnet = e
                .subnet_id
                .as_deref()
                .and_then(|s| subnet_by_id.get(s).copied())
                .unwrap_or(NONE);
            let region = e
                .availability_zone
                .as_deref()
                .and_then(region_of_az)
                .map(|r| m.regions.intern(r))
                .unwrap_or(NO_SYM);
            if vpc != NONE && region != NO_SYM && m.vpcs[vpc as usize].region == NO_SYM {
                m.vpcs[vpc as usize].region = region;
            }
            let mut ips: Vec<IpKey> = e
                .private_ip_address
                .iter()
                .chain(e.private_ip_addresses.iter().map(|p| &p.private_ip_address))
                .chain(e.ipv6_addresses.iter().map(|p| &p.ipv6_address))
                .filter_map(|s| ip::parse(s.as_bytes()))
                .collect();
            if let Some(extra) = nat_ips.get(id) {
                ips.extend(extra);
            }
            ips.sort_unstable();
            ips.dedup();

            let mut resources = Vec::new();
            if let Some(&r) = labels.get(id) {
                resources.push(r);
            } else if let Some(&r) = notebook_by_eni.get(id) {
                resources.push(r);
            } else if let Some(name) = desc.strip_prefix(SAGEMAKER_NOTEBOOK_DESC) {
                let r = match notebook_by_name.get(name.trim()) {
                    Some(&r) => r,
                    None => push_resource(
                        &mut m,
                        ResourceInfo {
                            kind: ResourceKind::NotebookInstance,
                            kind_label: None,
                            name: name.trim().into(),
                            arn: None,
                            network_isolation: Some(false),
                            sagemaker: true,
                            window: None,
                        },
                    ),
                };
                resources.push(r);
            } else if let Some(rest) = desc.strip_prefix(STUDIO_DESC) {
                let domain = rest.split(')').next().unwrap_or(rest);
                let r = match domain_by_id.get(domain) {
                    Some(&r) => r,
                    None => {
                        let r = push_resource(
                            &mut m,
                            ResourceInfo {
                                kind: ResourceKind::StudioDomain,
                                kind_label: None,
                                name: domain.into(),
                                arn: None,
                                network_isolation: Some(false),
                                sagemaker: true,
                                window: None,
                            },
                        );
                        domain_by_id.insert(domain.to_string(), r);
                        r
                    }
                };
                resources.push(r);
            } else if kind == EniKind::Workload && e.requester_managed == Some(true) {
                let groups: Vec<String> = e.groups.iter().map(|g| g.group_id.clone()).collect();
                let subnet_id = e.subnet_id.as_deref().unwrap_or("");
                for c in &candidates {
                    if c.config.subnets.iter().any(|s| s == subnet_id)
                        && same_set(&c.config.security_group_ids, &groups)
                    {
                        resources.push(c.resource);
                    }
                }
            }

            let idx = m.enis.len() as u32;
            if vpc != NONE {
                for &k in &ips {
                    m.addr.entry((vpc, k)).or_insert(idx);
                }
            }
            m.eni_by_id.insert(id.into(), idx);
            m.enis.push(EniInfo {
                id: id.into(),
                vpc,
                subnet,
                kind,
                region,
                ips,
                resources,
            });
        }
        // Labels for ENIs missing from describe-network-interfaces still attribute records.
        for l in &inv.labels {
            if m.eni_by_id.contains_key(l.network_interface_id.as_str()) {
                continue;
            }
            let idx = m.enis.len() as u32;
            m.eni_by_id
                .insert(l.network_interface_id.as_str().into(), idx);
            m.enis.push(EniInfo {
                id: l.network_interface_id.as_str().into(),
                vpc: NONE,
                subnet: NONE,
                kind: EniKind::Workload,
                region: NO_SYM,
                ips: Vec::new(),
                resources: labels
                    .get(l.network_interface_id.as_str())
                    .copied()
                    .into_iter()
                    .collect(),
            });
        }

        // Regions for VPCs still unknown: from SageMaker ARNs of resources using them, then the
        // caller's default.
        let fallback = default_region.map(|r| m.regions.intern(r));
        for i in 0..m.enis.len() {
            let vpc = m.enis[i].vpc;
            if vpc == NONE || m.vpcs[vpc as usize].region != NO_SYM {
                continue;
            }
            let from_arn = m.enis[i]
                .resources
                .iter()
                .filter_map(|&r| {
                    m.resources[r as usize]
                        .arn
                        .as_deref()
                        .and_then(region_of_arn)
                        .map(str::to_string)
                })
                .next();
            if let Some(r) = from_arn {
                let r = m.regions.intern(&r);
                m.vpcs[vpc as usize].region = r;
            }
        }
        if let Some(f) = fallback {
            for v in &mut m.vpcs {
                if v.region == NO_SYM {
                    v.region = f;
                }
            }
        }
        m
    }

    /// The route table governing a subnet: its explicit association, else the VPC's main table.
    pub fn route_table_of(&self, subnet: u32) -> Option<&RangeMap<RouteTarget>> {
        let s = self.subnets.get(subnet as usize)?;
        let rt = if s.route_table != NONE {
            s.route_table
        } else {
            self.vpcs.get(s.vpc as usize)?.main_route_table
        };
        self.route_tables.get(rt as usize)
    }

    /// AWS service and region of a public address; specific services beat AMAZON.
    pub fn aws_range(&self, k: IpKey) -> Option<(u16, u16)> {
        self.aws.get(k).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_from_zones_and_arns() {
        assert_eq!(region_of_az("us-east-1a"), Some("us-east-1"));
        assert_eq!(region_of_az("us-gov-west-1b"), Some("us-gov-west-1"));
        assert_eq!(region_of_az("us-west-2-lax-1a"), Some("us-west-2"));
        assert_eq!(region_of_az("nowhere"), None);
        assert_eq!(
            region_of_arn("arn:aws:sagemaker:eu-west-3:1:training-job/x"),
            Some("eu-west-3")
        );
        assert_eq!(
            endpoint_service("com.amazonaws.us-east-1.s3"),
            Some(("us-east-1", "s3"))
        );
        assert_eq!(endpoint_service("aws.sagemaker.us-east-1.notebook"), None);
    }
}
