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
    /// When the ENI existed, grace included (`i64::MIN`/`MAX` when unknown): records outside
    /// are not attributed to its resource.
    pub life: (i64, i64),
    /// Confidence of the attribution to `resources` (a `Confidence` code).
    pub conf: u8,
    /// What said so: `inventory:<file>`, `cloudtrail:<eventID>`, `snapshot:<file>`, ...
    pub sources: Vec<Box<str>>,
    /// The resource named when several candidates match a record equally (`NONE` if one).
    pub group: u32,
}

/// Confidence codes carried per record (`Confidence` in the findings).
pub mod conf {
    pub const EXACT: u8 = 0;
    pub const STRONG: u8 = 1;
    pub const GROUP: u8 = 2;
    pub const INFERRED: u8 = 3;
    pub const UNKNOWN: u8 = 4;
    /// No resource and nothing to say (an ENI that is not SageMaker's).
    pub const NONE: u8 = u8::MAX;
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

/// Flag of an `addr` value that indexes `addr_multi`.
pub const MULTI: u32 = 1 << 31;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    TrainingJob,
    ProcessingJob,
    Endpoint,
    Model,
    NotebookInstance,
    StudioDomain,
    TransformJob,
    TuningJob,
    /// Traffic of an ENI no source knows, in a subnet SageMaker uses.
    Unknown,
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
            ResourceKind::TransformJob => "transform-job",
            ResourceKind::TuningJob => "hyper-parameter-tuning-job",
            ResourceKind::Unknown => "unknown",
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
    /// When it was created: its ENIs are created after this.
    pub created: Option<i64>,
    /// Its execution role: the role that creates its ENIs.
    pub role: Option<Box<str>>,
    /// The tuning job of a tuning child (`NONE` otherwise).
    pub parent: u32,
    /// For a group: the resources it stands for.
    pub members: Vec<u32>,
    /// ENIs the resource creates, where documented: a training job creates two per instance
    /// (algorithm container; S3 and logging), one with network isolation.
    pub expected_enis: Option<u32>,
}

impl Default for ResourceInfo {
    fn default() -> Self {
        ResourceInfo {
            kind: ResourceKind::Labelled,
            kind_label: None,
            name: "".into(),
            arn: None,
            network_isolation: None,
            sagemaker: true,
            window: None,
            created: None,
            role: None,
            parent: NONE,
            members: Vec::new(),
            expected_enis: None,
        }
    }
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
    /// Address of an ENI within a VPC; a value with `MULTI` set indexes `addr_multi`, for
    /// addresses several ENIs held at different times.
    pub addr: FastMap<(u32, IpKey), u32>,
    pub addr_multi: Vec<Vec<u32>>,
    /// Subnet of an address (for ENIs no source knows; overlapping VPCs: the first subnet).
    pub subnet_of_addr: RangeMap<u32>,
    pub subnet_by_id: FastMap<Box<str>, u32>,
    /// Per subnet: the SageMaker resources whose VpcConfig (or notebook/domain) names it, and
    /// a group resource standing for them.
    pub subnet_candidates: Vec<Vec<u32>>,
    pub subnet_group: Vec<u32>,
    /// The resource of could-be-SageMaker traffic no source attributes.
    pub unknown_resource: u32,
    group_cache: HashMap<Vec<u32>, u32>,
    /// Per tuning job: the group resource of its children.
    pub parent_group: HashMap<u32, u32>,
    pub vpcs: Vec<VpcInfo>,
    pub subnets: Vec<SubnetInfo>,
    pub route_tables: Vec<RangeMap<RouteTarget>>,
    /// Route tables of earlier snapshots (the ledger's), by time: see [`Model::route_table_at`].
    pub route_epochs: Vec<RouteEpoch>,
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

/// The routing of one earlier snapshot.
#[derive(Debug, Clone)]
pub struct RouteEpoch {
    /// When the snapshot was taken: it governs records from then to the next snapshot.
    pub from: i64,
    pub tables: Vec<RangeMap<RouteTarget>>,
    /// Per model subnet: the table (explicit association, else the VPC's main table) in
    /// `tables`, `NONE` when the snapshot did not know the subnet.
    pub subnet_rt: Vec<u32>,
}

/// Two ENIs per training instance, one with network isolation (the SageMaker developer guide's
/// "Give SageMaker training jobs access to resources in your Amazon VPC").
fn expected_training_enis(instances: Option<u32>, isolation: Option<bool>) -> Option<u32> {
    let n = instances?;
    Some(if isolation == Some(true) { n } else { 2 * n })
}

/// The ENI count as a cross-check of the job-to-ENI join. A job whose ENIs are all accounted
/// for by ENIs only it matches cannot own an ENI several jobs match: it leaves those
/// candidate lists, and an ENI left with one candidate is that job's (strong, source
/// `eni-count`). A job matched by more ENIs than it creates is a warning: something else
/// shares its role, subnet and groups.
fn corroborate_by_count(m: &mut Model) {
    for _ in 0..3 {
        let mut sole = vec![0u32; m.resources.len()];
        for e in &m.enis {
            if let ([r], conf::STRONG) = (e.resources.as_slice(), e.conf) {
                sole[*r as usize] += 1;
            }
        }
        let full = |r: u32| {
            m.resources[r as usize]
                .expected_enis
                .is_some_and(|n| sole[r as usize] >= n)
        };
        let mut changed = false;
        let mut updates: Vec<(usize, Vec<u32>)> = Vec::new();
        for (i, e) in m.enis.iter().enumerate() {
            if e.resources.len() < 2 || e.conf != conf::STRONG {
                continue;
            }
            let left: Vec<u32> = e.resources.iter().copied().filter(|&r| !full(r)).collect();
            if !left.is_empty() && left.len() < e.resources.len() {
                updates.push((i, left));
            }
        }
        for (i, left) in updates {
            let group = if left.len() > 1 {
                group_resource(m, &left)
            } else {
                NONE
            };
            let e = &mut m.enis[i];
            e.group = group;
            if e.sources.len() < MAX_SOURCES {
                e.sources.push("eni-count".into());
            }
            e.resources = left;
            changed = true;
        }
        if !changed {
            break;
        }
    }
    let mut sole = vec![0u32; m.resources.len()];
    for e in &m.enis {
        if let ([r], conf::STRONG) = (e.resources.as_slice(), e.conf) {
            sole[*r as usize] += 1;
        }
    }
    for (r, res) in m.resources.iter().enumerate() {
        if let Some(n) = res.expected_enis {
            if sole[r] > n {
                m.warnings.push(format!(
                    "{} {}: {} ENIs match it but it creates {n}; another workload shares its role, subnets and security groups",
                    res.kind_str(),
                    res.name,
                    sole[r]
                ));
            }
        }
    }
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
        let mut subnet_cidrs = RangeMapBuilder::new();
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
            let idx = m.subnets.len() as u32;
            subnet_by_id.insert(&s.subnet_id, idx);
            m.subnet_by_id.insert(s.subnet_id.as_str().into(), idx);
            for c in s.cidr_block.iter().chain(
                s.ipv6_cidr_block_association_set
                    .iter()
                    .filter_map(|c| c.ipv6_cidr_block.as_ref()),
            ) {
                if let Some(net) = parse_net(c) {
                    subnet_cidrs.insert(&net, idx);
                }
            }
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

        // Routing of earlier snapshots, each built like the inventory's own from the same VPCs,
        // subnets and ip-ranges (so prefix-list routes resolve the same way).
        for snap in &inv.history.routes {
            let Some(from) = snap.taken_at else { continue };
            let variant = Inventory {
                vpcs: inv.vpcs.clone(),
                subnets: inv.subnets.clone(),
                ip_ranges: inv.ip_ranges.clone(),
                route_tables: snap.route_tables.clone(),
                vpc_endpoints: snap.vpc_endpoints.clone(),
                ..Default::default()
            };
            let vm = Model::build(&variant, default_region);
            let subnet_rt = m
                .subnets
                .iter()
                .map(|s| {
                    let Some(&vi) = vm.subnet_by_id.get(&s.id) else {
                        return NONE;
                    };
                    let vs = &vm.subnets[vi as usize];
                    if vs.route_table != NONE {
                        vs.route_table
                    } else {
                        vm.vpcs
                            .get(vs.vpc as usize)
                            .map_or(NONE, |v| v.main_route_table)
                    }
                })
                .collect();
            m.route_epochs.push(RouteEpoch {
                from,
                tables: vm.route_tables,
                subnet_rt,
            });
        }
        m.route_epochs.sort_by_key(|e| e.from);

        // SageMaker resources: the inventory's Describe outputs first, then those only the
        // ledger knows (CloudTrail Create* calls, state-change events): jobs whose Describe
        // output was not collected, or is gone with the resource.
        let hist = &inv.history;
        let (grace_before, grace_after) = inv.eni_grace.unwrap_or(DEFAULT_GRACE);
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut named: HashMap<(ResourceKind, String), u32> = HashMap::new();
        fn push(
            m: &mut Model,
            named: &mut HashMap<(ResourceKind, String), u32>,
            r: ResourceInfo,
        ) -> u32 {
            let i = m.resources.len() as u32;
            named.entry((r.kind, r.name.to_string())).or_insert(i);
            m.resources.push(r);
            i
        }
        let secs = |t: &Option<crate::inventory::AwsTime>| t.as_ref().and_then(|t| t.secs());
        let tuning_of = |m: &mut Model,
                         named: &mut HashMap<(ResourceKind, String), u32>,
                         arn_or_name: &str|
         -> u32 {
            let name = arn_or_name.rsplit('/').next().unwrap_or(arn_or_name);
            if let Some(&r) = named.get(&(ResourceKind::TuningJob, name.to_string())) {
                return r;
            }
            push(
                m,
                named,
                ResourceInfo {
                    kind: ResourceKind::TuningJob,
                    name: name.into(),
                    arn: arn_or_name.starts_with("arn:").then(|| arn_or_name.into()),
                    ..Default::default()
                },
            )
        };
        for j in &inv.training_jobs {
            let created = secs(&j.creation_time);
            let start = secs(&j.training_start_time).or(created);
            let end = secs(&j.training_end_time);
            let parent = match j.tuning_job_arn.as_deref() {
                Some(t) => tuning_of(&mut m, &mut named, t),
                None => NONE,
            };
            let r = push(
                &mut m,
                &mut named,
                ResourceInfo {
                    kind: ResourceKind::TrainingJob,
                    name: j.training_job_name.as_str().into(),
                    arn: Some(j.training_job_arn.as_str().into()),
                    network_isolation: Some(j.enable_network_isolation.unwrap_or(false)),
                    window: window(earliest(start, created), end),
                    created,
                    role: j.role_arn.as_deref().map(Into::into),
                    parent,
                    expected_enis: expected_training_enis(
                        j.resource_config.as_ref().and_then(|r| r.instance_count),
                        j.enable_network_isolation,
                    ),
                    ..Default::default()
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
            let created = secs(&j.creation_time);
            let start = secs(&j.processing_start_time).or(created);
            let end = secs(&j.processing_end_time);
            let r = push(
                &mut m,
                &mut named,
                ResourceInfo {
                    kind: ResourceKind::ProcessingJob,
                    name: j.processing_job_name.as_str().into(),
                    arn: Some(j.processing_job_arn.as_str().into()),
                    network_isolation: Some(nc.enable_network_isolation.unwrap_or(false)),
                    window: window(earliest(start, created), end),
                    created,
                    role: j.role_arn.as_deref().map(Into::into),
                    ..Default::default()
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
            let mut role = None;
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
                    if role.is_none() {
                        role = model.execution_role_arn.as_deref().map(Into::into);
                    }
                }
            } else {
                m.warnings.push(format!(
                    "endpoint {} uses endpoint config {} which is not in the inventory; its VpcConfig is unknown",
                    e.endpoint_name, e.endpoint_config_name
                ));
            }
            let r = push(
                &mut m,
                &mut named,
                ResourceInfo {
                    kind: ResourceKind::Endpoint,
                    name: e.endpoint_name.as_str().into(),
                    arn: Some(e.endpoint_arn.as_str().into()),
                    network_isolation: Some(isolation.unwrap_or(false)),
                    created: secs(&e.creation_time),
                    role,
                    ..Default::default()
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
            let r = push(
                &mut m,
                &mut named,
                ResourceInfo {
                    kind: ResourceKind::Model,
                    name: model.model_name.as_str().into(),
                    arn: Some(model.model_arn.as_str().into()),
                    network_isolation: Some(model.enable_network_isolation.unwrap_or(false)),
                    role: model.execution_role_arn.as_deref().map(Into::into),
                    ..Default::default()
                },
            );
            if let Some(c) = &model.vpc_config {
                candidates.push(Candidate {
                    resource: r,
                    config: c.clone(),
                });
            }
        }
        let mut notebook_by_name: HashMap<String, u32> = HashMap::new();
        let mut notebook_by_eni: HashMap<&str, u32> = HashMap::new();
        let mut extra_subnet_users: Vec<(String, u32)> = Vec::new();
        for nb in &inv.notebooks {
            let r = push(
                &mut m,
                &mut named,
                ResourceInfo {
                    kind: ResourceKind::NotebookInstance,
                    name: nb.notebook_instance_name.as_str().into(),
                    arn: Some(nb.notebook_instance_arn.as_str().into()),
                    network_isolation: Some(false),
                    role: nb.role_arn.as_deref().map(Into::into),
                    ..Default::default()
                },
            );
            notebook_by_name.insert(nb.notebook_instance_name.clone(), r);
            if let Some(eni) = nb.network_interface_id.as_deref() {
                notebook_by_eni.insert(eni, r);
            }
            // A notebook whose ENI is named is never the owner of an ENI nobody knows.
            if let (Some(s), None) = (&nb.subnet_id, &nb.network_interface_id) {
                extra_subnet_users.push((s.clone(), r));
            }
        }
        let mut domain_by_id: HashMap<String, u32> = HashMap::new();
        for d in &inv.domains {
            let r = push(
                &mut m,
                &mut named,
                ResourceInfo {
                    kind: ResourceKind::StudioDomain,
                    name: d.domain_name.as_deref().unwrap_or(&d.domain_id).into(),
                    arn: Some(d.domain_arn.as_str().into()),
                    network_isolation: Some(false),
                    ..Default::default()
                },
            );
            domain_by_id.insert(d.domain_id.clone(), r);
            for s in &d.subnet_ids {
                extra_subnet_users.push((s.clone(), r));
            }
        }
        self::history_resources(
            &mut m,
            &mut named,
            &mut candidates,
            &mut notebook_by_name,
            &mut extra_subnet_users,
            hist,
            &models,
        );
        let mut labels: HashMap<&str, u32> = HashMap::new();
        for l in &inv.labels {
            let r = push(
                &mut m,
                &mut named,
                ResourceInfo {
                    kind: ResourceKind::Labelled,
                    kind_label: Some(l.kind.as_str().into()),
                    name: l.name.as_str().into(),
                    arn: l.arn.as_deref().map(Into::into),
                    network_isolation: l.network_isolation,
                    sagemaker: l.sagemaker.unwrap_or(true),
                    ..Default::default()
                },
            );
            labels.insert(&l.network_interface_id, r);
        }
        m.unknown_resource = push(
            &mut m,
            &mut named,
            ResourceInfo {
                kind: ResourceKind::Unknown,
                name: "unknown".into(),
                ..Default::default()
            },
        );

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

        // ENIs: those the inventory lists, then those only the ledger remembers (deleted).
        let listed: HashSet<&str> = inv
            .enis
            .iter()
            .map(|e| e.network_interface_id.as_str())
            .collect();
        let from_ledger: Vec<crate::inventory::Eni> = hist
            .enis
            .values()
            .filter(|l| !listed.contains(l.eni.as_str()))
            .map(eni_from_life)
            .collect();
        for e in inv.enis.iter().chain(&from_ledger) {
            if e.network_interface_id.is_empty()
                || m.eni_by_id.contains_key(e.network_interface_id.as_str())
            {
                continue;
            }
            let id = e.network_interface_id.as_str();
            let life = hist.enis.get(id);
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
                .or(life.and_then(|l| l.region.as_deref()))
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
                .chain(life.into_iter().flat_map(|l| &l.private_ips))
                .filter_map(|s| ip::parse(s.as_bytes()))
                .collect();
            if let Some(extra) = nat_ips.get(id) {
                ips.extend(extra);
            }
            ips.sort_unstable();
            ips.dedup();

            let mut sources: Vec<Box<str>> = Vec::new();
            if let Some(f) = &e.source {
                sources.push(format!("inventory:{f}").into());
            }
            for ev in life.iter().flat_map(|l| &l.evidence) {
                let s: Box<str> = format!("{}:{}", ev.source, ev.id).into();
                if sources.len() < MAX_SOURCES && !sources.contains(&s) {
                    sources.push(s);
                }
            }
            let created_at = life.and_then(|l| l.start());
            let ended_at = life.and_then(|l| l.end());
            let created_by = life.and_then(|l| l.created_by.as_ref());
            let creator_role = created_by.and_then(|c| c.session_issuer_arn.as_deref());
            let tag = |k: &str| {
                e.tag_set
                    .iter()
                    .find(|t| t.key == k)
                    .map(|t| t.value.as_str())
                    .or_else(|| life.and_then(|l| l.tags.get(k)).map(String::as_str))
            };

            let mut resources = Vec::new();
            let mut conf_code = conf::NONE;
            let mut group = NONE;
            if let Some(&r) = labels.get(id) {
                resources.push(r);
                conf_code = conf::EXACT;
            } else if let Some(&r) = notebook_by_eni.get(id) {
                resources.push(r);
                conf_code = conf::EXACT;
            } else if let Some(name) = desc.strip_prefix(SAGEMAKER_NOTEBOOK_DESC) {
                let name = name.trim();
                let r = match notebook_by_name.get(name) {
                    Some(&r) => r,
                    None => push(
                        &mut m,
                        &mut named,
                        ResourceInfo {
                            kind: ResourceKind::NotebookInstance,
                            name: name.into(),
                            network_isolation: Some(false),
                            ..Default::default()
                        },
                    ),
                };
                resources.push(r);
                conf_code = conf::EXACT;
            } else if let Some(domain) = desc
                .strip_prefix(STUDIO_DESC)
                .map(|rest| rest.split(')').next().unwrap_or(rest).to_string())
                .or_else(|| {
                    // The Studio tag names the node: arn:...:node/<domain>/<profile>/<kind>.
                    tag(STUDIO_TAG)
                        .and_then(|arn| arn.split(":node/").nth(1))
                        .and_then(|n| n.split('/').next())
                        .map(str::to_string)
                })
            {
                let r = match domain_by_id.get(&domain) {
                    Some(&r) => r,
                    None => {
                        let r = push(
                            &mut m,
                            &mut named,
                            ResourceInfo {
                                kind: ResourceKind::StudioDomain,
                                name: domain.as_str().into(),
                                network_isolation: Some(false),
                                ..Default::default()
                            },
                        );
                        domain_by_id.insert(domain.clone(), r);
                        r
                    }
                };
                if let Some(node) = tag(STUDIO_TAG) {
                    if sources.len() < MAX_SOURCES {
                        sources.push(format!("tag:{STUDIO_TAG}={node}").into());
                    }
                }
                resources.push(r);
                conf_code = conf::EXACT;
            } else if kind == EniKind::Workload
                && (e.requester_managed == Some(true)
                    || created_by.is_some_and(|c| {
                        c.session_name.as_deref() == Some("SageMaker")
                            || c.invoked_by
                                .as_deref()
                                .is_some_and(|i| i.contains("sagemaker"))
                    }))
            {
                let groups: Vec<String> = e.groups.iter().map(|g| g.group_id.clone()).collect();
                let subnet_id = e.subnet_id.as_deref().unwrap_or("");
                for c in &candidates {
                    let res = &m.resources[c.resource as usize];
                    let in_time = created_at.is_none_or(|t| {
                        res.created
                            .or(res.window.map(|w| w.0))
                            .is_none_or(|cr| t + 300 >= cr)
                            && res.window.is_none_or(|(_, end)| t <= end)
                    });
                    let same_role = match (creator_role, res.role.as_deref()) {
                        (Some(a), Some(b)) => a == b,
                        _ => true,
                    };
                    if c.config.subnets.iter().any(|s| s == subnet_id)
                        && same_set(&c.config.security_group_ids, &groups)
                        && in_time
                        && same_role
                        && !resources.contains(&c.resource)
                    {
                        resources.push(c.resource);
                    }
                }
                match resources.len() {
                    0 => {}
                    1 => conf_code = conf::STRONG,
                    _ => {
                        conf_code = conf::STRONG;
                        group = group_resource(&mut m, &resources);
                    }
                }
            }
            // What a snapshot decided when the resource could still be described.
            if resources.is_empty() {
                if let Some(o) = life.and_then(|l| l.owner.as_ref()) {
                    let k = kind_from_str(&o.kind);
                    let r = match named.get(&(k, o.name.clone())) {
                        Some(&r) => r,
                        None => push(
                            &mut m,
                            &mut named,
                            ResourceInfo {
                                kind: k,
                                kind_label: (k == ResourceKind::Labelled)
                                    .then(|| o.kind.as_str().into()),
                                name: o.name.as_str().into(),
                                arn: o.arn.as_deref().map(Into::into),
                                network_isolation: o.network_isolation,
                                ..Default::default()
                            },
                        ),
                    };
                    resources.push(r);
                    conf_code = conf_from_str(o.confidence.as_deref().unwrap_or("inferred"));
                }
            }

            let idx = m.enis.len() as u32;
            m.eni_by_id.insert(id.into(), idx);
            m.enis.push(EniInfo {
                id: id.into(),
                vpc,
                subnet,
                kind,
                region,
                ips,
                resources,
                life: (
                    created_at.map_or(i64::MIN, |t| t - grace_before),
                    ended_at.map_or(i64::MAX, |t| t.saturating_add(grace_after)),
                ),
                conf: conf_code,
                sources,
                group,
            });
            if vpc != NONE {
                let ips = m.enis[idx as usize].ips.clone();
                for k in ips {
                    m.add_addr(vpc, k, idx);
                }
            }
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
                life: (i64::MIN, i64::MAX),
                conf: conf::EXACT,
                sources: vec!["label".into()],
                group: NONE,
            });
        }

        corroborate_by_count(&mut m);

        // Subnets SageMaker uses: where an ENI no source knows could be a SageMaker one.
        m.subnet_of_addr = subnet_cidrs.build(|a, b| a <= b);
        m.subnet_candidates = vec![Vec::new(); m.subnets.len()];
        let users = candidates
            .iter()
            .flat_map(|c| {
                c.config
                    .subnets
                    .iter()
                    .map(move |s| (s.as_str(), c.resource))
            })
            .chain(extra_subnet_users.iter().map(|(s, r)| (s.as_str(), *r)));
        for (s, r) in users {
            if let Some(&i) = subnet_by_id.get(s) {
                let list = &mut m.subnet_candidates[i as usize];
                if !list.contains(&r) {
                    list.push(r);
                }
            }
        }
        // Children of one tuning job stand for their parent when several run at once.
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for (i, r) in m.resources.iter().enumerate() {
            if r.parent != NONE && r.members.is_empty() {
                children.entry(r.parent).or_default().push(i as u32);
            }
        }
        let mut parents: Vec<(u32, Vec<u32>)> = children.into_iter().collect();
        parents.sort_unstable();
        for (p, kids) in parents {
            if kids.len() > 1 {
                let g = group_resource(&mut m, &kids);
                m.parent_group.insert(p, g);
            }
        }
        m.subnet_group = vec![NONE; m.subnets.len()];
        for i in 0..m.subnets.len() {
            if m.subnet_candidates[i].len() > 1 {
                let members = m.subnet_candidates[i].clone();
                m.subnet_group[i] = group_resource(&mut m, &members);
            }
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

    /// Records that `eni` held `k` in `vpc` (over its lifetime).
    fn add_addr(&mut self, vpc: u32, k: IpKey, eni: u32) {
        match self.addr.get(&(vpc, k)).copied() {
            None => {
                self.addr.insert((vpc, k), eni);
            }
            Some(v) if v & MULTI != 0 => self.addr_multi[(v & !MULTI) as usize].push(eni),
            Some(v) => {
                self.addr_multi.push(vec![v, eni]);
                self.addr
                    .insert((vpc, k), MULTI | (self.addr_multi.len() as u32 - 1));
            }
        }
    }

    /// The ENI that held `k` in `vpc` at time `t`: a private address moves to a new job's ENI
    /// minutes after the old one is deleted. Among lifetimes that hold `t`, a known one (with
    /// an end) beats one only known to be alive now.
    #[inline]
    pub fn addr_at(&self, vpc: u32, k: IpKey, t: i64) -> Option<u32> {
        let v = *self.addr.get(&(vpc, k))?;
        let holds = |e: u32| {
            self.enis
                .get(e as usize)
                .is_some_and(|x| x.life.0 <= t && t <= x.life.1)
        };
        if v & MULTI == 0 {
            return holds(v).then_some(v);
        }
        self.addr_multi[(v & !MULTI) as usize]
            .iter()
            .copied()
            .filter(|&e| holds(e))
            .max_by_key(|&e| {
                let l = self.enis[e as usize].life;
                (l.1 != i64::MAX, l.0, std::cmp::Reverse(e))
            })
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

    /// The route table governing a subnet at time `t`: the snapshot in effect then (the
    /// latest taken at or before `t`; the first one for earlier records), or the inventory's
    /// own for records after the last snapshot, without snapshots, or for a subnet the
    /// snapshot did not know. Latest-before rather than nearest: a gateway endpoint first seen
    /// on day 10 must not reroute the traffic of day 9.
    #[inline]
    pub fn route_table_at(&self, subnet: u32, t: i64) -> Option<&RangeMap<RouteTarget>> {
        if self.route_epochs.is_empty() {
            return self.route_table_of(subnet);
        }
        let k = self.route_epochs.partition_point(|e| e.from <= t);
        if k == self.route_epochs.len() {
            return self.route_table_of(subnet);
        }
        let e = &self.route_epochs[k.saturating_sub(1)];
        match e.subnet_rt.get(subnet as usize) {
            Some(&rt) if rt != NONE => e.tables.get(rt as usize),
            _ => self.route_table_of(subnet),
        }
    }

    /// AWS service and region of a public address; specific services beat AMAZON.
    pub fn aws_range(&self, k: IpKey) -> Option<(u16, u16)> {
        self.aws.get(k).copied()
    }
}

/// Grace around an ENI's known lifetime: flow records are aggregated for up to 10 minutes and
/// delivered late, clocks differ (eni-history 8.2). `--eni-grace` changes it.
pub const DEFAULT_GRACE: (i64, i64) = (120, 1200);
/// Sources listed per ENI (the ledger keeps them all).
const MAX_SOURCES: usize = 8;
/// The tag SageMaker puts on Studio ENIs, naming the node (domain, profile or space, app).
const STUDIO_TAG: &str = "ManagedByAmazonSageMakerResource";

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

pub fn kind_from_str(s: &str) -> ResourceKind {
    match s {
        "training-job" => ResourceKind::TrainingJob,
        "processing-job" => ResourceKind::ProcessingJob,
        "endpoint" => ResourceKind::Endpoint,
        "model" => ResourceKind::Model,
        "notebook-instance" => ResourceKind::NotebookInstance,
        "studio-domain" => ResourceKind::StudioDomain,
        "transform-job" => ResourceKind::TransformJob,
        "hyper-parameter-tuning-job" => ResourceKind::TuningJob,
        "unknown" => ResourceKind::Unknown,
        _ => ResourceKind::Labelled,
    }
}

pub fn conf_from_str(s: &str) -> u8 {
    match s {
        "exact" => conf::EXACT,
        "strong" => conf::STRONG,
        "group" => conf::GROUP,
        "inferred" => conf::INFERRED,
        _ => conf::UNKNOWN,
    }
}

pub fn conf_name(c: u8) -> Option<&'static str> {
    Some(match c {
        conf::EXACT => "exact",
        conf::STRONG => "strong",
        conf::GROUP => "group",
        conf::INFERRED => "inferred",
        conf::UNKNOWN => "unknown",
        _ => return None,
    })
}

/// An inventory-shaped ENI from a ledger lifetime (an ENI no longer listed).
fn eni_from_life(l: &crate::inventory::ledger::EniLife) -> crate::inventory::Eni {
    use crate::inventory::{Eni, GroupRef, Tag};
    Eni {
        network_interface_id: l.eni.clone(),
        subnet_id: l.subnet_id.clone(),
        vpc_id: l.vpc_id.clone(),
        availability_zone: l.az.clone(),
        description: l.description.clone(),
        interface_type: l.interface_type.clone(),
        requester_managed: l.requester_managed,
        requester_id: l.requester_id.clone(),
        groups: l
            .security_groups
            .iter()
            .map(|g| GroupRef {
                group_id: g.clone(),
            })
            .collect(),
        owner_id: l.account.clone(),
        tag_set: l
            .tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        ..Default::default()
    }
}

/// A resource standing for several that match equally: their common parent (the tuning job
/// of parallel children) when they have one, else the list of their names. Its `members` are
/// the candidates listed in findings.
fn group_resource(m: &mut Model, members: &[u32]) -> u32 {
    let mut key = members.to_vec();
    key.sort_unstable();
    if let Some(&g) = m.group_cache.get(&key) {
        return g;
    }
    let rs: Vec<&ResourceInfo> = key.iter().map(|&r| &m.resources[r as usize]).collect();
    let parent = rs[0].parent;
    let common = |f: &dyn Fn(&ResourceInfo) -> Option<bool>| {
        let v = f(rs[0]);
        rs.iter().all(|r| f(r) == v).then_some(v).flatten()
    };
    let isolation = common(&|r| r.network_isolation);
    let info = if parent != NONE && rs.iter().all(|r| r.parent == parent) {
        let p = &m.resources[parent as usize];
        ResourceInfo {
            kind: p.kind,
            kind_label: p.kind_label.clone(),
            name: p.name.clone(),
            arn: p.arn.clone(),
            network_isolation: isolation,
            members: key.clone(),
            ..Default::default()
        }
    } else {
        let same_kind = rs.iter().all(|r| r.kind_str() == rs[0].kind_str());
        let mut names: Vec<&str> = rs.iter().map(|r| &*r.name).collect();
        names.sort_unstable();
        let shown = names.len().min(3);
        let mut name = names[..shown].join(" | ");
        if names.len() > shown {
            name.push_str(&format!(" | +{} more", names.len() - shown));
        }
        ResourceInfo {
            kind: if same_kind {
                rs[0].kind
            } else {
                ResourceKind::Labelled
            },
            kind_label: if same_kind {
                rs[0].kind_label.clone()
            } else {
                Some("sagemaker-group".into())
            },
            name: name.into(),
            network_isolation: isolation,
            members: key.clone(),
            ..Default::default()
        }
    };
    let i = m.resources.len() as u32;
    m.resources.push(info);
    m.group_cache.insert(key, i);
    i
}

/// Resources only the ledger knows (their Describe output was not collected or is gone).
fn history_resources(
    m: &mut Model,
    named: &mut HashMap<(ResourceKind, String), u32>,
    candidates: &mut Vec<Candidate>,
    notebooks: &mut HashMap<String, u32>,
    subnet_users: &mut Vec<(String, u32)>,
    hist: &crate::inventory::ledger::Ledger,
    models: &HashMap<&str, &crate::inventory::Model>,
) {
    use crate::inventory::ledger::ResourceFact;
    let facts = &hist.resources;
    let fact = |kind: &str, name: &str| facts.get(&(kind.to_string(), name.to_string()));
    // A model's network settings: its Describe output, else its CreateModel call.
    type NetCfg = (Vec<String>, Vec<String>, Option<bool>, Option<String>);
    let model_cfg = |name: &str| -> Option<NetCfg> {
        if let Some(mo) = models.get(name) {
            let c = mo.vpc_config.clone().unwrap_or_default();
            return Some((
                c.subnets,
                c.security_group_ids,
                mo.enable_network_isolation,
                mo.execution_role_arn.clone(),
            ));
        }
        fact("model", name).map(|f| {
            (
                f.subnets.clone(),
                f.security_groups.clone(),
                f.network_isolation,
                f.role_arn.clone(),
            )
        })
    };
    for f in facts.values() {
        let kind = kind_from_str(&f.kind);
        if matches!(kind, ResourceKind::Model | ResourceKind::Labelled) {
            continue; // configs of endpoints and transform jobs, not ENI owners of their own
        }
        if named.contains_key(&(kind, f.name.clone())) {
            continue;
        }
        let (mut subnets, mut sgs, mut isolation, mut role) = (
            f.subnets.clone(),
            f.security_groups.clone(),
            f.network_isolation,
            f.role_arn.clone(),
        );
        let models_of = |f: &ResourceFact| -> Vec<String> {
            match kind {
                ResourceKind::TransformJob => f.parent.iter().cloned().collect(),
                ResourceKind::Endpoint => f
                    .parent
                    .as_deref()
                    .and_then(|c| fact("endpoint-config", c))
                    .map(|c| c.models.clone())
                    .unwrap_or_default(),
                _ => Vec::new(),
            }
        };
        for mo in models_of(f) {
            if let Some((s, g, iso, r)) = model_cfg(&mo) {
                if subnets.is_empty() {
                    subnets = s;
                    sgs = g;
                }
                isolation = isolation.or(iso);
                role = role.or(r);
            }
        }
        let parent = match (kind, f.parent.as_deref()) {
            (ResourceKind::TrainingJob, Some(p)) => {
                let name = p.rsplit('/').next().unwrap_or(p).to_string();
                match named.get(&(ResourceKind::TuningJob, name.clone())) {
                    Some(&r) => r,
                    None => {
                        let r = m.resources.len() as u32;
                        named.insert((ResourceKind::TuningJob, name.clone()), r);
                        m.resources.push(ResourceInfo {
                            kind: ResourceKind::TuningJob,
                            name: name.into(),
                            arn: p.starts_with("arn:").then(|| p.into()),
                            ..Default::default()
                        });
                        r
                    }
                }
            }
            _ => NONE,
        };
        let start = earliest(f.created_at, f.started_at);
        let r = m.resources.len() as u32;
        named.insert((kind, f.name.clone()), r);
        m.resources.push(ResourceInfo {
            kind,
            name: f.name.as_str().into(),
            arn: f.arn.as_deref().map(Into::into),
            network_isolation: Some(isolation.unwrap_or(false)),
            window: match kind {
                ResourceKind::Endpoint | ResourceKind::NotebookInstance => {
                    f.ended_at.map(|e| (start.unwrap_or(i64::MIN), e))
                }
                _ => window(start, f.ended_at),
            },
            created: f.created_at,
            role: role.as_deref().map(Into::into),
            parent,
            expected_enis: if kind == ResourceKind::TrainingJob {
                expected_training_enis(f.instance_count, isolation)
            } else {
                None
            },
            ..Default::default()
        });
        if kind == ResourceKind::NotebookInstance {
            notebooks.entry(f.name.clone()).or_insert(r);
            for s in &subnets {
                subnet_users.push((s.clone(), r));
            }
        } else if !subnets.is_empty() {
            candidates.push(Candidate {
                resource: r,
                config: VpcConfig {
                    subnets,
                    security_group_ids: sgs,
                },
            });
        }
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
