//! Enrich: attributes each record to an ENI and SageMaker resource, and decides its direction,
//! the path it took out of the VPC and what its destination is. Results are columns parallel to
//! the batch, in buffers reused from batch to batch.

pub mod classes;
pub mod inventory;
pub mod model;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt16Type, UInt8Type};
use arrow_array::{Array, FixedSizeBinaryArray, PrimitiveArray, RecordBatch, StringArray};

pub use classes::{Dir, DstClass, Path, RegionRel};
pub use inventory::{Inventory, InventoryError};
pub use model::{EniKind, Model, RouteTarget, NONE, NO_SYM};

use crate::net::{ip, FastMap, IpKey, NO_IP};
use crate::schema::{self, F};

/// Service names a record's `pkt-*-aws-service` field may hold (AWS's documented list plus the
/// newer ip-ranges subsets).
pub const KNOWN_SERVICES: &[&str] = &[
    "AMAZON",
    "AMAZON_APPFLOW",
    "AMAZON_CONNECT",
    "API_GATEWAY",
    "AURORA_DSQL",
    "CHIME_MEETINGS",
    "CHIME_VOICECONNECTOR",
    "CLOUD9",
    "CLOUDFRONT",
    "CLOUDFRONT_ORIGIN_FACING",
    "CODEBUILD",
    "DYNAMODB",
    "EBS",
    "EC2",
    "EC2_INSTANCE_CONNECT",
    "EFS",
    "GLOBALACCELERATOR",
    "IOT_CORE",
    "IVS_LOW_LATENCY",
    "IVS_REALTIME",
    "KINESIS_VIDEO_STREAMS",
    "MEDIA_PACKAGE_V2",
    "ROUTE53",
    "ROUTE53_HEALTHCHECKS",
    "ROUTE53_HEALTHCHECKS_PUBLISHING",
    "ROUTE53_RESOLVER",
    "S3",
    "WORKSPACES_GATEWAYS",
];

/// Enrichment settings that come from the rule pack and the command line.
#[derive(Debug, Clone, Default)]
pub struct EnrichConfig {
    /// AWS ip-ranges services whose addresses are other customers' content (EC2, CloudFront,
    /// Global Accelerator, ...): traffic to them is internet egress, not an AWS service call.
    pub internet_services: Vec<String>,
}

/// Per-record enrichment of one batch.
#[derive(Debug, Default)]
pub struct Enriched {
    pub rows: usize,
    /// ENI the traffic originated from (the workload, also for records seen on a NAT ENI).
    pub src_eni: Vec<u32>,
    /// ENI whose flow log recorded the record.
    pub observed_eni: Vec<u32>,
    pub resource: Vec<u32>,
    pub dir: Vec<u8>,
    pub path: Vec<u8>,
    pub dst_class: Vec<u8>,
    pub src: Vec<IpKey>,
    pub dst: Vec<IpKey>,
    pub svc: Vec<u16>,
    pub dst_region: Vec<u16>,
    pub region_rel: Vec<u8>,
}

impl Enriched {
    fn reset(&mut self, n: usize) {
        self.rows = n;
        macro_rules! fill {
            ($($f:ident = $v:expr),*) => { $( self.$f.clear(); self.$f.resize(n, $v); )* };
        }
        fill!(
            src_eni = NONE,
            observed_eni = NONE,
            resource = NONE,
            dir = Dir::Unknown as u8,
            path = Path::Unknown as u8,
            dst_class = DstClass::Unknown as u8,
            src = NO_IP,
            dst = NO_IP,
            svc = NO_SYM,
            dst_region = NO_SYM,
            region_rel = RegionRel::Unknown as u8
        );
    }
}

/// Typed views of the batch columns the enricher reads.
struct Cols<'a> {
    eni: &'a StringArray,
    src: &'a FixedSizeBinaryArray,
    dst: &'a FixedSizeBinaryArray,
    psrc: &'a FixedSizeBinaryArray,
    pdst: &'a FixedSizeBinaryArray,
    sport: &'a PrimitiveArray<UInt16Type>,
    dport: &'a PrimitiveArray<UInt16Type>,
    proto: &'a PrimitiveArray<UInt8Type>,
    flags: &'a PrimitiveArray<UInt16Type>,
    status: &'a PrimitiveArray<UInt8Type>,
    fdir: &'a PrimitiveArray<UInt8Type>,
    tpath: &'a PrimitiveArray<UInt8Type>,
    start: &'a PrimitiveArray<Int64Type>,
    region: &'a StringArray,
    dst_svc: &'a StringArray,
    next_hop: &'a StringArray,
}

fn ip_at(a: &FixedSizeBinaryArray, i: usize) -> Option<IpKey> {
    if a.is_null(i) {
        None
    } else {
        ip::from_bytes(a.value(i))
    }
}

fn opt<T: arrow_array::ArrowPrimitiveType>(a: &PrimitiveArray<T>, i: usize) -> Option<T::Native> {
    (!a.is_null(i)).then(|| a.value(i))
}

fn str_at(a: &StringArray, i: usize) -> Option<&str> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// Outbound packets that answer a connection the remote side opened: a SYN-ACK, or a flow from
/// a service port to an ephemeral port. A record with only SYN is an initiator.
pub fn is_return(proto: u8, flags: Option<u16>, sport: Option<u16>, dport: Option<u16>) -> bool {
    if proto == 6 {
        if let Some(f) = flags {
            if f & 0x12 == 0x12 {
                return true;
            }
            if f & 0x02 != 0 {
                return false;
            }
        }
    }
    match (sport, dport) {
        (Some(s), Some(d)) if s != 0 || d != 0 => {
            (s < 1024 && d >= 1024) || (s < 32768 && d >= 32768)
        }
        _ => false,
    }
}

/// Stateful enricher: holds the model and interns ENIs the inventory does not know.
pub struct Enricher<'m> {
    model: &'m Model,
    internet_svc: Vec<bool>,
    unknown_enis: FastMap<Box<str>, u32>,
    unknown_names: Vec<Box<str>>,
    /// The previous record's ENI id: objects are mostly runs of one ENI, so this skips the hash.
    last: u32,
    pub out: Enriched,
}

impl<'m> Enricher<'m> {
    pub fn new(model: &'m Model, cfg: &EnrichConfig) -> Self {
        let mut internet_svc = vec![false; u16::MAX as usize + 1];
        for s in &cfg.internet_services {
            if let Some(i) = model.services.get(s) {
                internet_svc[i as usize] = true;
            }
        }
        Enricher {
            model,
            internet_svc,
            unknown_enis: FastMap::default(),
            unknown_names: Vec::new(),
            last: NONE,
            out: Enriched::default(),
        }
    }

    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// Name of an ENI id produced by this enricher (inventory or interned).
    pub fn eni_name(&self, id: u32) -> Option<&str> {
        let known = self.model.enis.len() as u32;
        if id == NONE {
            None
        } else if id < known {
            Some(&self.model.enis[id as usize].id)
        } else {
            self.unknown_names.get((id - known) as usize).map(|s| &**s)
        }
    }

    fn eni_id(&mut self, name: &str) -> u32 {
        if self.eni_name(self.last) == Some(name) {
            return self.last;
        }
        self.last = self.lookup_eni(name);
        self.last
    }

    fn lookup_eni(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.model.eni_by_id.get(name) {
            return i;
        }
        if let Some(&i) = self.unknown_enis.get(name) {
            return i;
        }
        let i = self.model.enis.len() as u32 + self.unknown_names.len() as u32;
        self.unknown_names.push(name.into());
        self.unknown_enis.insert(name.into(), i);
        i
    }

    pub fn enrich(&mut self, batch: &RecordBatch) {
        let n = batch.num_rows();
        self.out.reset(n);
        let c = |f: F| batch.column(f.index());
        let (Some(eni), Some(region), Some(dst_svc), Some(next_hop)) = (
            c(F::InterfaceId).as_string_opt::<i32>(),
            c(F::Region).as_string_opt::<i32>(),
            c(F::PktDstAwsService).as_string_opt::<i32>(),
            c(F::NextHopInterfaceType).as_string_opt::<i32>(),
        ) else {
            return;
        };
        let fsb = |f: F| c(f).as_fixed_size_binary_opt();
        let (Some(src), Some(dst), Some(psrc), Some(pdst)) = (
            fsb(F::SrcAddr),
            fsb(F::DstAddr),
            fsb(F::PktSrcAddr),
            fsb(F::PktDstAddr),
        ) else {
            return;
        };
        let u16c = |f: F| c(f).as_primitive_opt::<UInt16Type>();
        let u8c = |f: F| c(f).as_primitive_opt::<UInt8Type>();
        let (Some(sport), Some(dport), Some(flags)) =
            (u16c(F::SrcPort), u16c(F::DstPort), u16c(F::TcpFlags))
        else {
            return;
        };
        let (Some(proto), Some(status), Some(fdir), Some(tpath)) = (
            u8c(F::Protocol),
            u8c(F::LogStatus),
            u8c(F::FlowDirection),
            u8c(F::TrafficPath),
        ) else {
            return;
        };
        let Some(start) = c(F::Start).as_primitive_opt::<Int64Type>() else {
            return;
        };
        let cols = Cols {
            eni,
            src,
            dst,
            psrc,
            pdst,
            sport,
            dport,
            proto,
            flags,
            status,
            fdir,
            tpath,
            start,
            region,
            dst_svc,
            next_hop,
        };
        for i in 0..n {
            self.row(&cols, i);
        }
    }

    fn row(&mut self, c: &Cols<'_>, i: usize) {
        if opt(c.status, i).is_some_and(|s| s != schema::STATUS_OK) {
            return;
        }
        let m = self.model;
        let observed = match str_at(c.eni, i) {
            Some(name) => self.eni_id(name),
            None => NONE,
        };
        let src = ip_at(c.src, i).unwrap_or(NO_IP);
        let dst = ip_at(c.dst, i).unwrap_or(NO_IP);
        let psrc = ip_at(c.psrc, i).unwrap_or(src);
        let pdst = ip_at(c.pdst, i).unwrap_or(dst);
        let info = m.enis.get(observed as usize);
        let o = &mut self.out;
        o.observed_eni[i] = observed;

        let mut src_eni = observed;
        let mut eff_src = psrc;
        let mut forced_path = None;
        let mut dir = match opt(c.fdir, i) {
            Some(schema::DIR_EGRESS) => Dir::Egress,
            Some(schema::DIR_INGRESS) => Dir::Ingress,
            _ => match info.filter(|e| !e.ips.is_empty()) {
                Some(e)
                    if e.ips.binary_search(&src).is_ok() || e.ips.binary_search(&psrc).is_ok() =>
                {
                    Dir::Egress
                }
                Some(e)
                    if e.ips.binary_search(&dst).is_ok() || e.ips.binary_search(&pdst).is_ok() =>
                {
                    Dir::Ingress
                }
                Some(_) => Dir::Unknown,
                None if src != NO_IP && !ip::is_public(src) && ip::is_public(pdst) => Dir::Egress,
                None if psrc != NO_IP && ip::is_public(psrc) && !ip::is_public(dst) => Dir::Ingress,
                None => Dir::Unknown,
            },
        };

        // A NAT gateway ENI sees the workload's packets on their way out: attribute them to the
        // original source by address; the NAT's own legs are never egress of a workload.
        if let Some(nat) = info.filter(|e| e.kind == EniKind::NatGateway) {
            let attributed = (nat.ips.binary_search(&psrc).is_err())
                .then(|| m.addr.get(&(nat.vpc, psrc)).copied())
                .flatten()
                .filter(|&w| w != observed);
            match attributed {
                Some(w) => {
                    src_eni = w;
                    eff_src = psrc;
                    dir = Dir::Egress;
                    forced_path = Some(Path::NatGateway);
                }
                None => dir = Dir::Unknown,
            }
        }

        let proto = opt(c.proto, i).unwrap_or(0);
        if dir == Dir::Egress && is_return(proto, opt(c.flags, i), opt(c.sport, i), opt(c.dport, i))
        {
            dir = Dir::Return;
        }
        o.dir[i] = dir as u8;
        o.src_eni[i] = src_eni;
        o.src[i] = eff_src;
        o.dst[i] = pdst;
        if dir != Dir::Egress && dir != Dir::Return {
            return;
        }

        let sinfo = m.enis.get(src_eni as usize);
        // Resource: the ENI's, or among several the one running at the record's time.
        if let Some(e) = sinfo {
            o.resource[i] = match e.resources.as_slice() {
                [] => NONE,
                [r] => *r,
                many => {
                    let t = opt(c.start, i).unwrap_or(0);
                    many.iter()
                        .copied()
                        .find(|&r| {
                            m.resources[r as usize]
                                .window
                                .is_some_and(|(s, e)| s <= t && t <= e)
                        })
                        .unwrap_or(many[0])
                }
            };
        }

        // Destination class.
        let vpc_idx = sinfo.map_or(NONE, |e| e.vpc);
        let vpc = m.vpcs.get(vpc_idx as usize);
        let nat_own_ip = info
            .is_some_and(|e| e.kind == EniKind::NatGateway && e.ips.binary_search(&pdst).is_ok());
        let mut svc = NO_SYM;
        let mut dreg = NO_SYM;
        let class = if pdst == NO_IP || nat_own_ip {
            DstClass::Unknown
        } else if let Some(v) = vpc.filter(|v| v.cidrs.contains(pdst)) {
            if v.resolvers.contains(&pdst) {
                DstClass::VpcResolver
            } else if let Some(peer) = m
                .addr
                .get(&(vpc_idx, pdst))
                .and_then(|&p| m.enis.get(p as usize))
            {
                if peer.kind == EniKind::InterfaceEndpoint {
                    DstClass::InterfaceEndpoint
                } else if o.resource[i] != NONE && peer.resources.contains(&o.resource[i]) {
                    DstClass::OwnPeer
                } else {
                    DstClass::Vpc
                }
            } else {
                DstClass::Vpc
            }
        } else if ip::is_link_local_resolver(pdst) {
            DstClass::VpcResolver
        } else if !ip::is_public(pdst) {
            DstClass::Private
        } else {
            if let Some((s, r)) = m.aws_range(pdst) {
                svc = s;
                dreg = r;
            } else if let Some(name) = str_at(c.dst_svc, i) {
                svc = m.services.get(name).unwrap_or(NO_SYM);
            }
            // No AWS range and no service named by the record: the open internet. Ranges of
            // customer-content services (EC2, CloudFront, ...) count as internet too.
            if (svc == NO_SYM && str_at(c.dst_svc, i).is_none())
                || (svc != NO_SYM && self.internet_svc[svc as usize])
            {
                DstClass::Internet
            } else {
                DstClass::AwsService
            }
        };
        o.dst_class[i] = class as u8;
        o.svc[i] = svc;
        o.dst_region[i] = dreg;
        if dreg != NO_SYM {
            let src_region = vpc
                .map(|v| v.region)
                .filter(|&r| r != NO_SYM)
                .or_else(|| sinfo.map(|e| e.region).filter(|&r| r != NO_SYM))
                .or_else(|| str_at(c.region, i).and_then(|r| m.regions.get(r)));
            o.region_rel[i] = match src_region {
                Some(r) if r == dreg => RegionRel::Same,
                Some(_) => RegionRel::Other,
                None => RegionRel::Unknown,
            } as u8;
        }

        // Path.
        let route = sinfo
            .and_then(|e| m.route_table_of(e.subnet))
            .map(|rt| rt.get(pdst).copied());
        let path = forced_path.unwrap_or_else(|| {
            decide_path(
                str_at(c.next_hop, i),
                opt(c.tpath, i),
                class,
                route,
                pdst,
                svc,
                m,
            )
        });
        o.path[i] = path as u8;
    }
}

/// Decides the path of an egress record: the v11 next hop when present, then traffic-path, then
/// the source subnet's route table. `route` is `None` when the route table is unknown and
/// `Some(None)` when it has no route for the destination.
pub fn decide_path(
    next_hop: Option<&str>,
    traffic_path: Option<u8>,
    class: DstClass,
    route: Option<Option<RouteTarget>>,
    dst: IpKey,
    svc: u16,
    m: &Model,
) -> Path {
    match next_hop {
        Some("nat_gateway" | "regional_nat_gateway" | "private_nat_gateway") => {
            return Path::NatGateway
        }
        Some("vpc_endpoint") => return Path::InterfaceEndpoint,
        Some("transit_gateway") => return Path::TransitGateway,
        Some("internet_gateway" | "egress_only_internet_gateway") => return Path::InternetGateway,
        Some("gateway_endpoint" | "gateway_vpc_endpoint") => return Path::GatewayEndpoint,
        Some("vpc_peering_connection" | "vpc_peering") => return Path::Peering,
        _ => {}
    }
    match class {
        DstClass::Vpc | DstClass::VpcResolver | DstClass::OwnPeer => return Path::Local,
        DstClass::InterfaceEndpoint => return Path::InterfaceEndpoint,
        _ => {}
    }
    let from_route = |t: Option<RouteTarget>| match t {
        Some(RouteTarget::Local) => Path::Local,
        Some(RouteTarget::InternetGateway) => Path::InternetGateway,
        Some(RouteTarget::NatGateway) => Path::NatGateway,
        Some(RouteTarget::GatewayEndpoint) => Path::GatewayEndpoint,
        Some(RouteTarget::Peering) => Path::Peering,
        Some(RouteTarget::TransitGateway) => Path::TransitGateway,
        Some(RouteTarget::Vpn) => Path::Vpn,
        Some(RouteTarget::LocalGateway) => Path::LocalGateway,
        Some(RouteTarget::Other | RouteTarget::Blackhole) | None => Path::Unknown,
    };
    let gateway_service = m
        .services
        .name(svc)
        .is_some_and(|s| s == "S3" || s == "DYNAMODB");
    match traffic_path {
        // Through a resource in the VPC: from a workload towards a public address, a NAT gateway.
        Some(1) => match route {
            Some(Some(RouteTarget::NatGateway)) => Path::NatGateway,
            None if ip::is_public(dst) => Path::NatGateway,
            Some(None) | None => Path::Unknown,
            Some(t) => match from_route(t) {
                Path::InternetGateway | Path::GatewayEndpoint => Path::Unknown,
                p => p,
            },
        },
        // Internet gateway or gateway endpoint: the route table tells which.
        Some(2) => match route {
            Some(Some(RouteTarget::GatewayEndpoint)) => Path::GatewayEndpoint,
            Some(_) => Path::InternetGateway,
            None if gateway_service => Path::Unknown,
            None => Path::InternetGateway,
        },
        Some(3) => Path::Vpn,
        Some(4 | 5) => Path::Peering,
        Some(6) => Path::LocalGateway,
        Some(7) => Path::GatewayEndpoint,
        Some(8) => Path::InternetGateway,
        Some(_) => Path::Unknown,
        None => route.map_or(Path::Unknown, from_route),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_traffic_heuristics() {
        assert!(is_return(6, Some(18), Some(443), Some(50000)));
        assert!(!is_return(6, Some(2), Some(50000), Some(443)));
        assert!(is_return(6, Some(0), Some(8080), Some(45000)));
        assert!(!is_return(6, None, Some(45000), Some(443)));
        assert!(!is_return(17, None, Some(40000), Some(53)));
        assert!(!is_return(1, None, Some(0), Some(0)));
        assert!(is_return(6, None, Some(22), Some(20641)));
    }

    #[test]
    fn path_from_traffic_path_and_routes() {
        let m = Model::default();
        let public = ip::parse(b"203.0.113.5").unwrap();
        let p = |tp, route| decide_path(None, tp, DstClass::Internet, route, public, NO_SYM, &m);
        assert_eq!(p(Some(8), None), Path::InternetGateway);
        assert_eq!(p(Some(7), None), Path::GatewayEndpoint);
        assert_eq!(p(Some(1), None), Path::NatGateway);
        assert_eq!(
            p(Some(2), Some(Some(RouteTarget::GatewayEndpoint))),
            Path::GatewayEndpoint
        );
        assert_eq!(
            p(Some(2), Some(Some(RouteTarget::InternetGateway))),
            Path::InternetGateway
        );
        assert_eq!(
            p(None, Some(Some(RouteTarget::NatGateway))),
            Path::NatGateway
        );
        assert_eq!(p(None, Some(None)), Path::Unknown);
        assert_eq!(p(None, None), Path::Unknown);
        assert_eq!(
            decide_path(
                Some("regional_nat_gateway"),
                Some(8),
                DstClass::Internet,
                None,
                public,
                NO_SYM,
                &m
            ),
            Path::NatGateway
        );
        assert_eq!(p(Some(4), None), Path::Peering);
    }
}
