//! Enrich: attributes each record to an ENI and SageMaker resource, and decides its direction,
//! the path it took out of the VPC and what its destination is. Results are columns parallel to
//! the batch, in buffers reused from batch to batch.

pub mod classes;
pub mod model;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt16Type, UInt8Type};
use arrow_array::{
    Array, DictionaryArray, FixedSizeBinaryArray, PrimitiveArray, RecordBatch, StringArray,
};

pub use crate::inventory::{self, Inventory, InventoryError};
pub use classes::{Dir, DstClass, Path, RegionRel};
pub use model::{conf, EniKind, Model, RouteTarget, NONE, NO_SYM};

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
#[derive(Debug, Clone)]
pub struct EnrichConfig {
    /// AWS ip-ranges services whose addresses are other customers' content (EC2, CloudFront,
    /// Global Accelerator, ...): traffic to them is internet egress, not an AWS service call.
    pub internet_services: Vec<String>,
    /// Some rule looks at every ENI (`scope = "all"`): records of ENIs with no SageMaker
    /// resource are enriched too. Otherwise they are left unenriched, as no rule reads them.
    pub all_enis: bool,
    /// Some rule matches return traffic: its destination and path are worked out too.
    pub classify_return: bool,
}

impl Default for EnrichConfig {
    /// Enriches everything (the settings a rule pack can only narrow).
    fn default() -> Self {
        EnrichConfig {
            internet_services: Vec::new(),
            all_enis: true,
            classify_return: true,
        }
    }
}

/// Per-record enrichment of one batch. Rows whose `dir` is `Unknown` or whose `src_eni` is
/// `NONE` carry no other information (their other fields are stale).
#[derive(Debug, Default, Clone)]
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
    /// Confidence of `resource` (`model::conf` codes).
    pub conf: Vec<u8>,
}

impl Enriched {
    /// Only `dir` and `src_eni` are reset for every row; the enricher writes the other fields
    /// of every row whose direction it decides (the others keep values of earlier batches and
    /// are never read).
    fn reset(&mut self, n: usize) {
        self.rows = n;
        self.dir.clear();
        self.dir.resize(n, Dir::Unknown as u8);
        self.src_eni.clear();
        self.src_eni.resize(n, NONE);
        macro_rules! size {
            ($($f:ident = $v:expr),*) => { $( if self.$f.len() < n { self.$f.resize(n, $v); } )* };
        }
        size!(
            observed_eni = NONE,
            resource = NONE,
            path = Path::Unknown as u8,
            dst_class = DstClass::Unknown as u8,
            src = NO_IP,
            dst = NO_IP,
            svc = NO_SYM,
            dst_region = NO_SYM,
            region_rel = RegionRel::Unknown as u8,
            conf = conf::NONE
        );
    }
}

/// A dictionary-encoded string column: per-row keys into distinct values.
pub struct DictView<'a> {
    keys: &'a PrimitiveArray<Int32Type>,
    values: &'a StringArray,
}

impl<'a> DictView<'a> {
    pub fn new(a: &'a dyn Array) -> Option<Self> {
        let d: &DictionaryArray<Int32Type> = a.as_dictionary_opt()?;
        Some(DictView {
            keys: d.keys(),
            values: d.values().as_string_opt::<i32>()?,
        })
    }

    /// Number of distinct values.
    pub fn distinct(&self) -> usize {
        self.values.len()
    }

    pub fn value(&self, k: usize) -> Option<&'a str> {
        (!self.values.is_null(k)).then(|| self.values.value(k))
    }

    /// Dictionary index of row `i`, `None` when null.
    #[inline]
    pub fn key(&self, i: usize) -> Option<usize> {
        (!self.keys.is_null(i)).then(|| self.keys.value(i) as usize)
    }

    pub fn get(&self, i: usize) -> Option<&'a str> {
        self.key(i).and_then(|k| self.value(k))
    }
}

/// An address column: 16 big-endian bytes per row.
struct IpView<'a> {
    values: &'a [u8],
    array: &'a FixedSizeBinaryArray,
    /// No row is null (the common case: one branch per batch instead of per row).
    dense: bool,
    /// Every row is null (an absent field).
    absent: bool,
}

impl<'a> IpView<'a> {
    fn new(array: &'a FixedSizeBinaryArray) -> Self {
        IpView {
            values: array.value_data(),
            array,
            dense: array.null_count() == 0 && array.value_length() == 16,
            absent: array.null_count() == array.len(),
        }
    }

    #[inline(always)]
    fn get(&self, i: usize) -> Option<IpKey> {
        if self.dense {
            let b: &[u8; 16] = self.values[i * 16..i * 16 + 16].try_into().ok()?;
            Some(u128::from_be_bytes(*b))
        } else if self.absent {
            None
        } else {
            ip_at(self.array, i)
        }
    }
}

/// Typed views of the batch columns the enricher reads.
struct Cols<'a> {
    eni: DictView<'a>,
    src: IpView<'a>,
    dst: IpView<'a>,
    psrc: IpView<'a>,
    pdst: IpView<'a>,
    sport: Prim<'a, UInt16Type>,
    dport: Prim<'a, UInt16Type>,
    proto: Prim<'a, UInt8Type>,
    flags: Prim<'a, UInt16Type>,
    status: Prim<'a, UInt8Type>,
    fdir: Prim<'a, UInt8Type>,
    tpath: Prim<'a, UInt8Type>,
    start: Prim<'a, Int64Type>,
    bytes: Prim<'a, Int64Type>,
    subnet: DictView<'a>,
    instance: DictView<'a>,
    region: DictView<'a>,
    dst_svc: DictView<'a>,
    next_hop: DictView<'a>,
}

fn ip_at(a: &FixedSizeBinaryArray, i: usize) -> Option<IpKey> {
    if a.is_null(i) {
        None
    } else {
        ip::from_bytes(a.value(i))
    }
}

/// A primitive column with its null shape decided once per batch (absent fields are all-null
/// columns; present ones usually have no nulls).
struct Prim<'a, T: arrow_array::ArrowPrimitiveType> {
    array: &'a PrimitiveArray<T>,
    values: &'a [T::Native],
    dense: bool,
    absent: bool,
}

impl<'a, T: arrow_array::ArrowPrimitiveType> Prim<'a, T> {
    fn new(array: &'a PrimitiveArray<T>) -> Self {
        Prim {
            array,
            values: array.values(),
            dense: array.null_count() == 0,
            absent: array.null_count() == array.len(),
        }
    }
}

#[inline(always)]
fn opt<T: arrow_array::ArrowPrimitiveType>(a: &Prim<'_, T>, i: usize) -> Option<T::Native> {
    if a.dense {
        a.values.get(i).copied()
    } else if a.absent {
        None
    } else {
        (!a.array.is_null(i)).then(|| a.array.value(i))
    }
}

fn str_at<'a>(a: &DictView<'a>, i: usize) -> Option<&'a str> {
    a.get(i)
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

/// What the flow log says about an ENI no source knows, decided from its first records.
#[derive(Debug, Clone, Copy)]
pub struct UnknownEni {
    /// Its subnet (the record's `subnet-id`, else the subnet holding its address), `NONE`
    /// while undecided.
    pub subnet: u32,
    /// No instance id (`-` for requester-managed ENIs, or no such field) in a subnet some
    /// SageMaker resource uses.
    pub could_be_sagemaker: bool,
    pub records: u64,
    /// Egress through a NAT gateway or an internet gateway.
    pub egress_records: u64,
    pub egress_bytes: u64,
}

/// Stateful enricher: holds the model and interns ENIs the inventory does not know.
pub struct Enricher<'m> {
    model: &'m Model,
    internet_svc: Vec<bool>,
    unknown_enis: FastMap<Box<str>, u32>,
    unknown_names: Vec<Box<str>>,
    /// Per unknown ENI (same order as `unknown_names`).
    pub unknown: Vec<UnknownEni>,
    /// Per dictionary value of the batch's `interface_id`: its ENI id, or NONE when no rule
    /// can match its records (the row is then left unenriched).
    eni_keys: Vec<u32>,
    /// Per dictionary value of `pkt_dst_aws_service`: the interned service.
    svc_keys: Vec<u16>,
    /// Per inventory ENI: whether a rule can match its records (SageMaker resources, or a NAT
    /// gateway whose records are attributed to workloads).
    relevant: Vec<bool>,
    all_enis: bool,
    classify_return: bool,
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
            unknown: Vec::new(),
            eni_keys: Vec::new(),
            svc_keys: Vec::new(),
            relevant: model
                .enis
                .iter()
                .map(|e| {
                    e.kind == EniKind::NatGateway
                        || e.resources
                            .iter()
                            .any(|&r| model.resources.get(r as usize).is_some_and(|r| r.sagemaker))
                })
                .collect(),
            all_enis: cfg.all_enis,
            classify_return: cfg.classify_return,
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

    fn lookup_eni(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.model.eni_by_id.get(name) {
            return i;
        }
        if let Some(&i) = self.unknown_enis.get(name) {
            return i;
        }
        let i = self.model.enis.len() as u32 + self.unknown_names.len() as u32;
        self.unknown_names.push(name.into());
        self.unknown.push(UnknownEni {
            subnet: NONE,
            could_be_sagemaker: false,
            records: 0,
            egress_records: 0,
            egress_bytes: 0,
        });
        self.unknown_enis.insert(name.into(), i);
        i
    }

    pub fn enrich(&mut self, batch: &RecordBatch) {
        let n = batch.num_rows();
        self.out.reset(n);
        let c = |f: F| batch.column(f.index());
        let (Some(eni), Some(region), Some(dst_svc), Some(next_hop)) = (
            DictView::new(c(F::InterfaceId)),
            DictView::new(c(F::Region)),
            DictView::new(c(F::PktDstAwsService)),
            DictView::new(c(F::NextHopInterfaceType)),
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
        let (Some(start), Some(bytes)) = (
            c(F::Start).as_primitive_opt::<Int64Type>(),
            c(F::Bytes).as_primitive_opt::<Int64Type>(),
        ) else {
            return;
        };
        let (Some(subnet), Some(instance)) = (
            DictView::new(c(F::SubnetId)),
            DictView::new(c(F::InstanceId)),
        ) else {
            return;
        };
        let cols = Cols {
            eni,
            src: IpView::new(src),
            dst: IpView::new(dst),
            psrc: IpView::new(psrc),
            pdst: IpView::new(pdst),
            sport: Prim::new(sport),
            dport: Prim::new(dport),
            proto: Prim::new(proto),
            flags: Prim::new(flags),
            status: Prim::new(status),
            fdir: Prim::new(fdir),
            tpath: Prim::new(tpath),
            start: Prim::new(start),
            bytes: Prim::new(bytes),
            subnet,
            instance,
            region,
            dst_svc,
            next_hop,
        };
        // Each distinct value of the string columns is resolved once per batch.
        self.eni_keys.clear();
        for k in 0..cols.eni.distinct() {
            let id = match cols.eni.value(k) {
                Some(name) => self.lookup_eni(name),
                None => NONE,
            };
            // ENIs no source knows are always enriched: their egress is counted (never
            // silent) and raises findings when it could be SageMaker's.
            let relevant = self.all_enis
                || id >= self.model.enis.len() as u32
                || self.relevant.get(id as usize).copied().unwrap_or(false);
            self.eni_keys.push(if relevant { id } else { NONE });
        }
        let m = self.model;
        self.svc_keys.clear();
        self.svc_keys.extend((0..cols.dst_svc.distinct()).map(|k| {
            cols.dst_svc
                .value(k)
                .map_or(NO_SYM, |name| m.services.get(name).unwrap_or(NO_SYM))
        }));
        for i in 0..n {
            self.row(&cols, i);
        }
    }

    #[inline]
    fn row(&mut self, c: &Cols<'_>, i: usize) {
        // Records of ENIs no rule can match (and of no ENI) stay unenriched.
        let Some(observed) = c
            .eni
            .key(i)
            .map(|k| self.eni_keys[k])
            .filter(|&e| e != NONE)
        else {
            return;
        };
        if opt(&c.status, i).is_some_and(|s| s != schema::STATUS_OK) {
            return;
        }
        let m = self.model;
        let src = c.src.get(i).unwrap_or(NO_IP);
        let dst = c.dst.get(i).unwrap_or(NO_IP);
        let psrc = c.psrc.get(i).unwrap_or(src);
        let pdst = c.pdst.get(i).unwrap_or(dst);
        let info = m.enis.get(observed as usize);
        let t = opt(&c.start, i).unwrap_or(0);
        let o = &mut self.out;
        o.observed_eni[i] = observed;

        let mut src_eni = observed;
        let mut eff_src = psrc;
        let mut forced_path = None;
        let mut dir = match opt(&c.fdir, i) {
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
        // original source by address; the NAT's own legs are never egress of a workload. A
        // record addressed to the NAT itself (the default format has no pkt-dstaddr) names no
        // destination beyond the NAT: the workload's own record of that flow carries it.
        if let Some(nat) = info.filter(|e| e.kind == EniKind::NatGateway) {
            let attributed = (nat.ips.binary_search(&psrc).is_err()
                && nat.ips.binary_search(&pdst).is_err())
            .then(|| m.addr_at(nat.vpc, psrc, t))
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

        let proto = opt(&c.proto, i).unwrap_or(0);
        if dir == Dir::Egress
            && is_return(proto, opt(&c.flags, i), opt(&c.sport, i), opt(&c.dport, i))
        {
            dir = Dir::Return;
        }
        o.dir[i] = dir as u8;
        o.src_eni[i] = src_eni;
        o.src[i] = eff_src;
        o.dst[i] = pdst;
        o.resource[i] = NONE;
        o.dst_class[i] = DstClass::Unknown as u8;
        o.svc[i] = NO_SYM;
        o.dst_region[i] = NO_SYM;
        o.region_rel[i] = RegionRel::Unknown as u8;
        o.path[i] = Path::Unknown as u8;
        o.conf[i] = conf::NONE;
        let known = m.enis.len() as u32;
        if src_eni >= known {
            self.unknown_context(c, i, src_eni - known, src, dst);
        }
        let o = &mut self.out;
        if dir != Dir::Egress && (dir != Dir::Return || !self.classify_return) {
            return;
        }

        let sinfo = m.enis.get(src_eni as usize);
        let (resource, confidence) = match sinfo {
            Some(e) => resource_at(m, e, t),
            None => match self.unknown.get((src_eni - known) as usize) {
                Some(u) if u.could_be_sagemaker => subnet_resource_at(m, u.subnet, t),
                _ => (NONE, conf::NONE),
            },
        };
        o.resource[i] = resource;
        o.conf[i] = confidence;

        // Destination class. An ENI no source knows is placed by its flow-log context.
        let ctx_subnet = match sinfo {
            Some(e) => e.subnet,
            None => self
                .unknown
                .get((src_eni - known) as usize)
                .map_or(NONE, |u| u.subnet),
        };
        let vpc_idx = match sinfo {
            Some(e) => e.vpc,
            None => m.subnets.get(ctx_subnet as usize).map_or(NONE, |s| s.vpc),
        };
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
                .addr_at(vpc_idx, pdst, t)
                .and_then(|p| m.enis.get(p as usize))
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
            let named = c.dst_svc.key(i).filter(|&k| c.dst_svc.value(k).is_some());
            if let Some((s, r)) = m.aws_range(pdst) {
                svc = s;
                dreg = r;
            } else if let Some(k) = named {
                svc = self.svc_keys[k];
            }
            // No AWS range and no service named by the record: the open internet. Ranges of
            // customer-content services (EC2, CloudFront, ...) count as internet too.
            if (svc == NO_SYM && named.is_none())
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
                .or_else(|| str_at(&c.region, i).and_then(|r| m.regions.get(r)));
            o.region_rel[i] = match src_region {
                Some(r) if r == dreg => RegionRel::Same,
                Some(_) => RegionRel::Other,
                None => RegionRel::Unknown,
            } as u8;
        }

        // Path.
        let route = m
            .route_table_at(ctx_subnet, opt(&c.start, i).unwrap_or(0))
            .map(|rt| rt.get(pdst).copied());
        let path = forced_path.unwrap_or_else(|| {
            decide_path(
                str_at(&c.next_hop, i),
                opt(&c.tpath, i),
                class,
                route,
                pdst,
                svc,
                m,
            )
        });
        o.path[i] = path as u8;
        if src_eni >= known
            && dir == Dir::Egress
            && matches!(path, Path::NatGateway | Path::InternetGateway)
        {
            if let Some(u) = self.unknown.get_mut((src_eni - known) as usize) {
                u.egress_records += 1;
                u.egress_bytes += opt(&c.bytes, i).unwrap_or(0).max(0) as u64;
            }
        }
    }

    /// Counts a record of an unknown ENI and, until decided, works out its subnet and whether
    /// it could be SageMaker's.
    #[cold]
    fn unknown_context(&mut self, c: &Cols<'_>, i: usize, u: u32, src: IpKey, dst: IpKey) {
        let m = self.model;
        let Some(info) = self.unknown.get_mut(u as usize) else {
            return;
        };
        info.records += 1;
        if info.subnet != NONE {
            return;
        }
        let subnet = str_at(&c.subnet, i)
            .and_then(|s| m.subnet_by_id.get(s).copied())
            .or_else(|| m.subnet_of_addr.get(src).copied())
            .or_else(|| m.subnet_of_addr.get(dst).copied());
        let Some(subnet) = subnet else {
            return;
        };
        // SageMaker instances live in a service account: their ENIs have no instance id.
        let no_instance = str_at(&c.instance, i).is_none_or(|s| s == "-");
        info.subnet = subnet;
        info.could_be_sagemaker = no_instance
            && m.subnet_candidates
                .get(subnet as usize)
                .is_some_and(|c| !c.is_empty());
    }
}

/// The resource of a known ENI at time `t`, with its confidence: outside the ENI's lifetime
/// nothing is attributed; among several candidates the one running at `t`, else their group.
#[inline]
pub fn resource_at(m: &Model, e: &model::EniInfo, t: i64) -> (u32, u8) {
    if e.resources.is_empty() {
        return (NONE, conf::NONE);
    }
    if t < e.life.0 || t > e.life.1 {
        return (m.unknown_resource, conf::UNKNOWN);
    }
    match e.resources.as_slice() {
        [r] => (*r, e.conf),
        many => {
            let mut running = many.iter().copied().filter(|&r| {
                m.resources[r as usize]
                    .window
                    .is_some_and(|(s, e)| s <= t && t <= e)
            });
            match (running.next(), running.next()) {
                (Some(r), None) => (r, e.conf),
                _ if e.group != NONE => (e.group, conf::GROUP),
                _ => (many[0], conf::GROUP),
            }
        }
    }
}

/// The resource of an unknown ENI in `subnet` at time `t` from the flow-log context alone:
/// the one SageMaker resource using the subnet and running then (inferred), their group
/// (several), or `unknown`.
pub fn subnet_resource_at(m: &Model, subnet: u32, t: i64) -> (u32, u8) {
    let Some(cands) = m.subnet_candidates.get(subnet as usize) else {
        return (m.unknown_resource, conf::UNKNOWN);
    };
    let running = |r: &&u32| {
        m.resources[**r as usize]
            .window
            .is_none_or(|(s, e)| s <= t && t <= e)
    };
    let mut it = cands.iter().filter(running);
    let (Some(&first), second) = (it.next(), it.next()) else {
        return (m.unknown_resource, conf::UNKNOWN);
    };
    if second.is_none() {
        return (first, conf::INFERRED);
    }
    // Several at once: the tuning job when they are all its children, else the subnet's
    // group (which lists every resource using the subnet).
    let parent = m.resources[first as usize].parent;
    if parent != NONE
        && cands
            .iter()
            .filter(running)
            .all(|&r| m.resources[r as usize].parent == parent)
    {
        if let Some(&g) = m.parent_group.get(&parent) {
            return (g, conf::GROUP);
        }
    }
    match m.subnet_group.get(subnet as usize) {
        Some(&g) if g != NONE => (g, conf::GROUP),
        _ => (m.unknown_resource, conf::UNKNOWN),
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
    let gateway_service = svc != NO_SYM && m.gateway_services.contains(&svc);
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
