//! One 5-minute object of one VPC's flow log: runs of records per ENI (random lengths, many ENIs
//! per object, as AWS writes them), each flow as the records AWS logs for it (the egress record
//! and its answer on the ENI; for traffic through a NAT gateway also the four records on the NAT
//! gateway's ENI), idle ENIs as NODATA, the odd SKIPDATA.
//!
//! Every record carries the intent it was generated with (`Tag`); the equality checks are built
//! from those tags, never from a re-implementation of egresswatch's rules.

use crate::ranges;
use crate::rng::{Rng, Table};
use crate::world::{Default, Flow, Part, Role, World};

/// Services a v5 record names in pkt-src/dst-aws-service (only those the traffic reaches).
pub const SVC_NAMES: [&str; 5] = ["S3", "AMAZON", "DYNAMODB", "EC2", "CLOUDFRONT"];
pub const S3: u8 = 0;
pub const AMAZON: u8 = 1;
pub const DYNAMODB: u8 = 2;
pub const EC2: u8 = 3;
pub const NO_SVC: u8 = u8::MAX;
/// tcp-flags not applicable (NODATA/SKIPDATA).
pub const NO_FLAGS: u8 = u8::MAX;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Tag {
    Plain,
    /// SageMaker ENI, accepted initiated egress to a public non-AWS address through its subnet's
    /// NAT route: exactly what `internet-egress` must report (expected.tsv).
    SmInternet,
    SmReject,
    SmBypass,
    SmCrossRegion,
    /// Internet egress from an isolated subnet: no route, so no finding.
    SmNoRoute,
    /// Replies to internet clients: return traffic, no finding.
    SmReturnPublic,
    /// Internet egress of EC2, Lambda, ECS: out of scope.
    OtherInternet,
    NatLeg,
    NoData,
    SkipData,
}

pub const TAGS: [(&str, Tag); 11] = [
    ("plain", Tag::Plain),
    ("sagemaker_internet_egress_via_nat", Tag::SmInternet),
    ("sagemaker_rejected_egress", Tag::SmReject),
    ("sagemaker_aws_service_via_nat", Tag::SmBypass),
    ("sagemaker_cross_region_s3", Tag::SmCrossRegion),
    ("sagemaker_internet_attempt_no_route", Tag::SmNoRoute),
    ("sagemaker_return_to_public_client", Tag::SmReturnPublic),
    ("out_of_scope_internet_egress", Tag::OtherInternet),
    ("nat_gateway_eni_leg", Tag::NatLeg),
    ("nodata", Tag::NoData),
    ("skipdata", Tag::SkipData),
];

#[derive(Clone, Copy, Debug)]
pub struct Rec {
    pub eni: u16,
    pub src: u32,
    pub dst: u32,
    pub psrc: u32,
    pub pdst: u32,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub packets: u32,
    pub bytes: u64,
    pub start: u32,
    pub end: u32,
    /// 1 ACCEPT, 2 REJECT (0 for NODATA/SKIPDATA).
    pub action: u8,
    /// 0 OK, 1 NODATA, 2 SKIPDATA.
    pub status: u8,
    pub flags: u8,
    /// 1 ingress, 2 egress.
    pub dir: u8,
    /// 0 when AWS writes `-`.
    pub tpath: u8,
    pub ssvc: u8,
    pub dsvc: u8,
    pub tag: Tag,
}

/// Per-VPC lookups built once: who sends, who serves whom.
pub struct VpcPlan {
    table: Table,
    active: Vec<usize>,
    idle: Vec<usize>,
    workloads: Vec<usize>,
    db_clients: Vec<usize>,
    efs_clients: Vec<usize>,
    targets: Vec<usize>,
    albs: Vec<usize>,
    efs: Vec<usize>,
    rds: Vec<usize>,
}

pub fn plans(w: &World) -> Vec<VpcPlan> {
    (0..w.vpcs.len())
        .map(|v| {
            let mine: Vec<usize> = (0..w.enis.len()).filter(|&e| w.vpc_of(e) == v).collect();
            let sel = |f: &dyn Fn(&Role) -> bool| -> Vec<usize> {
                mine.iter()
                    .copied()
                    .filter(|&e| !w.enis[e].idle && f(&w.enis[e].role))
                    .collect()
            };
            let active: Vec<usize> = mine
                .iter()
                .copied()
                .filter(|&e| w.enis[e].weight > 0)
                .collect();
            VpcPlan {
                table: Table::new(active.iter().map(|&e| w.enis[e].weight)),
                idle: mine.iter().copied().filter(|&e| w.enis[e].idle).collect(),
                active,
                workloads: sel(&|r| {
                    matches!(
                        r,
                        Role::Sm { .. } | Role::Ec2 { .. } | Role::Lambda { .. } | Role::Ecs { .. }
                    )
                }),
                db_clients: sel(&|r| {
                    matches!(
                        r,
                        Role::Ec2 {
                            public_ip: None,
                            ..
                        } | Role::Lambda { .. }
                            | Role::Ecs { .. }
                    )
                }),
                efs_clients: sel(&|r| {
                    matches!(
                        r,
                        Role::Sm {
                            part: Part::Algo | Part::Notebook,
                            ..
                        } | Role::Ec2 {
                            public_ip: None,
                            ..
                        }
                    )
                }),
                targets: sel(&|r| {
                    matches!(
                        r,
                        Role::Ec2 {
                            public_ip: None,
                            ..
                        } | Role::Ecs { .. }
                    )
                }),
                albs: sel(&|r| matches!(r, Role::Alb { .. })),
                efs: sel(&|r| matches!(r, Role::Efs { .. })),
                rds: sel(&|r| matches!(r, Role::Rds { .. })),
            }
        })
        .collect()
}

struct Gen<'w> {
    w: &'w World,
    p: &'w VpcPlan,
    rng: Rng,
    t0: u32,
    out: Vec<Rec>,
    /// NAT gateway legs waiting to be written as a run of the NAT ENI.
    pending: Vec<(usize, Vec<Rec>)>,
}

/// Packets and bytes of one direction of a flow: log-uniform packet count, a per-flow mean
/// packet size.
fn size(rng: &mut Rng, pk: (f64, f64), avg: (u64, u64)) -> (u32, u64) {
    let p = rng.log_uniform(pk.0, pk.1) as u32;
    (p, p as u64 * rng.range(avg.0, avg.1))
}

/// TCP flags of the side that opened the connection in one aggregation interval: SYN (first
/// interval), SYN+FIN (short connection), FIN (last interval) or none recorded (0).
const OPENER_FLAGS: [u8; 6] = [2, 3, 0, 0, 0, 1];

fn answer_flags(opener: u8) -> u8 {
    match opener {
        2 => 18,
        3 => 19,
        x => x,
    }
}

impl Gen<'_> {
    fn times(&mut self) -> (u32, u32) {
        let end = self.t0 + self.rng.below(300) as u32;
        (end - self.rng.below(60) as u32, end)
    }

    fn ephemeral(&mut self) -> u16 {
        // Linux's default ip_local_port_range.
        self.rng.range(32768, 61000) as u16
    }

    fn base(&self, e: usize) -> Rec {
        Rec {
            eni: e as u16,
            src: 0,
            dst: 0,
            psrc: 0,
            pdst: 0,
            sport: 0,
            dport: 0,
            proto: 6,
            packets: 0,
            bytes: 0,
            start: 0,
            end: 0,
            action: 1,
            status: 0,
            flags: 0,
            dir: 2,
            tpath: 0,
            ssvc: NO_SVC,
            dsvc: NO_SVC,
            tag: Tag::Plain,
        }
    }

    /// The ENI opens a connection to `remote`: its egress record, the answer's ingress record,
    /// and the NAT gateway's four legs when `nat` is given.
    #[allow(clippy::too_many_arguments)]
    fn client(
        &mut self,
        e: usize,
        remote: u32,
        rport: u16,
        proto: u8,
        up: (u32, u64),
        down: (u32, u64),
        tpath: u8,
        rsvc: u8,
        tag: Tag,
        nat: Option<usize>,
    ) {
        let local = self.w.enis[e].ip;
        let (start, end) = self.times();
        let (sport, flags) = match proto {
            1 => (0, 0),
            6 => (self.ephemeral(), *self.rng.pick(&OPENER_FLAGS)),
            _ => (self.ephemeral(), 0),
        };
        let dport = if proto == 1 { 0 } else { rport };
        let out = Rec {
            src: local,
            dst: remote,
            psrc: local,
            pdst: remote,
            sport,
            dport,
            proto,
            packets: up.0,
            bytes: up.1,
            start,
            end,
            flags,
            dir: 2,
            tpath,
            dsvc: rsvc,
            tag,
            ..self.base(e)
        };
        let back = Rec {
            src: remote,
            dst: local,
            psrc: remote,
            pdst: local,
            sport: dport,
            dport: sport,
            packets: down.0,
            bytes: down.1,
            flags: if proto == 6 { answer_flags(flags) } else { 0 },
            dir: 1,
            tpath: 0,
            ssvc: rsvc,
            dsvc: NO_SVC,
            tag: Tag::Plain,
            ..out
        };
        self.out.push(out);
        self.out.push(back);
        if let Some(n) = nat {
            self.nat_legs(n, &out, &back);
        }
    }

    /// What the NAT gateway's own ENI logs for a flow it translates (AWS's NAT example): the
    /// workload's packet arriving (pkt-dstaddr is the internet host), the translated packet
    /// leaving from the NAT's address and a new source port, the answer arriving, and the
    /// answer forwarded to the workload (pkt-srcaddr is the internet host).
    fn nat_legs(&mut self, n: usize, out: &Rec, back: &Rec) {
        let nat = &self.w.nats[n];
        let neni = nat.eni;
        let nip = self.w.enis[neni].ip;
        let nport = if out.proto == 1 {
            0
        } else {
            self.rng.range(1024, 65536) as u16
        };
        let legs = [
            Rec {
                src: out.src,
                dst: nip,
                psrc: out.src,
                pdst: out.dst,
                dir: 1,
                tpath: 0,
                dsvc: out.dsvc,
                ..*out
            },
            Rec {
                src: nip,
                dst: out.dst,
                psrc: nip,
                pdst: out.dst,
                sport: nport,
                dir: 2,
                tpath: 8,
                ..*out
            },
            Rec {
                src: back.src,
                dst: nip,
                psrc: back.src,
                pdst: nip,
                dport: nport,
                dir: 1,
                ..*back
            },
            Rec {
                src: nip,
                dst: back.dst,
                psrc: back.src,
                pdst: back.dst,
                dir: 2,
                tpath: 0,
                ssvc: back.ssvc,
                ..*back
            },
        ];
        let slot = match self.pending.iter().position(|p| p.0 == n) {
            Some(i) => i,
            None => {
                self.pending.push((n, Vec::new()));
                self.pending.len() - 1
            }
        };
        for l in legs {
            self.pending[slot].1.push(Rec {
                eni: neni as u16,
                tag: Tag::NatLeg,
                ..l
            });
        }
    }

    /// The ENI serves a connection `client` opened: the request's ingress record and the
    /// reply's egress record (return traffic).
    #[allow(clippy::too_many_arguments)]
    fn server(
        &mut self,
        e: usize,
        client: u32,
        port: u16,
        req: (u32, u64),
        resp: (u32, u64),
        tpath: u8,
        csvc: u8,
        tag: Tag,
    ) {
        let local = self.w.enis[e].ip;
        let (start, end) = self.times();
        let cport = self.ephemeral();
        let flags = *self.rng.pick(&OPENER_FLAGS);
        let inb = Rec {
            src: client,
            dst: local,
            psrc: client,
            pdst: local,
            sport: cport,
            dport: port,
            packets: req.0,
            bytes: req.1,
            start,
            end,
            flags,
            dir: 1,
            ssvc: csvc,
            ..self.base(e)
        };
        let reply = Rec {
            src: local,
            dst: client,
            psrc: local,
            pdst: client,
            sport: port,
            dport: cport,
            packets: resp.0,
            bytes: resp.1,
            flags: answer_flags(flags),
            dir: 2,
            tpath,
            ssvc: NO_SVC,
            dsvc: csvc,
            tag,
            ..inb
        };
        self.out.push(inb);
        self.out.push(reply);
    }

    /// One egress record that gets no answer (rejected, or dropped for want of a route).
    fn lone(&mut self, e: usize, remote: u32, d: crate::world::Dest, action: u8, tag: Tag) {
        let (start, end) = self.times();
        let sport = if d.proto == 1 { 0 } else { self.ephemeral() };
        let packets = 1 + self.rng.below(3) as u32;
        let r = Rec {
            src: self.w.enis[e].ip,
            dst: remote,
            psrc: self.w.enis[e].ip,
            pdst: remote,
            sport,
            dport: d.port,
            proto: d.proto,
            packets,
            bytes: packets as u64 * if d.proto == 6 { 60 } else { 76 },
            start,
            end,
            action,
            flags: if d.proto == 6 { 2 } else { 0 },
            tag,
            ..self.base(e)
        };
        self.out.push(r);
    }

    /// An AWS public address reached from `e` by its subnet's routes: a gateway endpoint when
    /// the table has one for the service, else the default route.
    fn aws_public(&mut self, e: usize, dst: u32, svc: u8, gateway: bool, tag: Tag) {
        let up = size(&mut self.rng, (4.0, 300.0), (60, 220));
        let down = size(&mut self.rng, (10.0, 20000.0), (1200, 1449));
        let sm = self.w.is_sagemaker(e);
        if gateway {
            // Gateway endpoint: 7 on Nitro instances, 2 on the rest.
            let tp = if self.rng.chance(0.85) { 7 } else { 2 };
            self.client(e, dst, 443, 6, up, down, tp, svc, Tag::Plain, None);
            return;
        }
        match self.w.default_route(e) {
            Default::Nat(n) => {
                let t = if sm { tag } else { Tag::Plain };
                self.client(e, dst, 443, 6, up, down, 1, svc, t, Some(n));
            }
            Default::Igw => self.client(e, dst, 443, 6, up, down, 8, svc, Tag::Plain, None),
            Default::None => {
                let d = crate::world::Dest {
                    ip: dst,
                    port: 443,
                    proto: 6,
                };
                self.lone(e, dst, d, 1, Tag::Plain);
            }
        }
    }

    fn flow(&mut self, e: usize, flow: Flow) {
        let w = self.w;
        let rt = &w.rts[w.subnets[w.enis[e].subnet].rt];
        let sm = w.is_sagemaker(e);
        let az = w.az(e);
        match flow {
            Flow::S3Get | Flow::S3Put => {
                let dst = crate::world::random_in(&mut self.rng, ranges::S3_USE1);
                let small = size(&mut self.rng, (4.0, 300.0), (60, 220));
                let big = size(&mut self.rng, (20.0, 40000.0), (1200, 1449));
                let (up, down) = if flow == Flow::S3Get {
                    (small, big)
                } else {
                    (big, small)
                };
                match (rt.s3.is_some(), w.default_route(e)) {
                    (true, _) => {
                        let tp = if self.rng.chance(0.85) { 7 } else { 2 };
                        self.client(e, dst, 443, 6, up, down, tp, S3, Tag::Plain, None)
                    }
                    (false, Default::Igw) => {
                        self.client(e, dst, 443, 6, up, down, 8, S3, Tag::Plain, None)
                    }
                    _ => self.aws_public(e, dst, S3, false, Tag::SmBypass),
                }
            }
            Flow::Ddb => {
                let dst = crate::world::random_in(&mut self.rng, ranges::DDB_USE1);
                self.aws_public(e, dst, DYNAMODB, rt.ddb.is_some(), Tag::SmBypass);
            }
            Flow::Vpce(svc) => {
                let ep = w
                    .endpoints
                    .iter()
                    .find(|x| !x.gateway && x.vpc == w.vpc_of(e) && x.short == svc.short());
                match ep {
                    Some(ep) => {
                        let target = ep
                            .enis
                            .iter()
                            .copied()
                            .find(|&x| w.az(x) == az)
                            .unwrap_or(ep.enis[0]);
                        let up = size(&mut self.rng, (3.0, 200.0), (80, 900));
                        let down = if svc == crate::world::Svc::EcrDkr {
                            size(&mut self.rng, (10.0, 3000.0), (1000, 1449))
                        } else {
                            size(&mut self.rng, (3.0, 200.0), (80, 1200))
                        };
                        let ip = w.enis[target].ip;
                        self.client(e, ip, 443, 6, up, down, 1, NO_SVC, Tag::Plain, None);
                    }
                    // No endpoint in this VPC: the SDK reaches the public regional endpoint.
                    None => {
                        let dst = crate::world::public_endpoint(&mut self.rng, svc.short());
                        self.aws_public(e, dst, AMAZON, false, Tag::SmBypass);
                    }
                }
            }
            Flow::OwnPeer => {
                let Role::Sm { res, .. } = w.enis[e].role else {
                    return;
                };
                let peers: Vec<usize> = w.resources[res]
                    .enis
                    .iter()
                    .copied()
                    .filter(|&x| {
                        x != e
                            && matches!(
                                w.enis[x].role,
                                Role::Sm {
                                    part: Part::Algo,
                                    ..
                                }
                            )
                    })
                    .collect();
                if peers.is_empty() {
                    return;
                }
                let peer = *self.rng.pick(&peers);
                let port = *self.rng.pick(&[7777u16, 29500, 29500]);
                let a = size(&mut self.rng, (100.0, 200000.0), (6000, 8950));
                let b = size(&mut self.rng, (100.0, 200000.0), (6000, 8950));
                let ip = w.enis[peer].ip;
                self.client(e, ip, port, 6, a, b, 0, NO_SVC, Tag::Plain, None);
            }
            Flow::Efs => {
                let Some(&t) = self
                    .p
                    .efs
                    .iter()
                    .find(|&&x| w.az(x) == az)
                    .or(self.p.efs.first())
                else {
                    return;
                };
                let a = size(&mut self.rng, (10.0, 20000.0), (300, 8950));
                let b = size(&mut self.rng, (10.0, 20000.0), (300, 8950));
                let ip = w.enis[t].ip;
                self.client(e, ip, 2049, 6, a, b, 0, NO_SVC, Tag::Plain, None);
            }
            Flow::Internet => {
                if w.enis[e].dests.is_empty() {
                    return self.flow(e, Flow::S3Get);
                }
                let weights: Vec<u32> = w.enis[e].dests.iter().map(|d| d.1).collect();
                let d = w.enis[e].dests[self.rng.weighted(&weights)].0;
                let (up, down) = match d.proto {
                    17 => (
                        size(&mut self.rng, (1.0, 4.0), (60, 90)),
                        size(&mut self.rng, (1.0, 4.0), (90, 300)),
                    ),
                    1 => {
                        let p = size(&mut self.rng, (1.0, 10.0), (84, 85));
                        (p, p)
                    }
                    _ => (
                        size(&mut self.rng, (4.0, 600.0), (60, 400)),
                        size(&mut self.rng, (4.0, 8000.0), (900, 1449)),
                    ),
                };
                match w.default_route(e) {
                    Default::Nat(n) => {
                        let tag = if sm {
                            Tag::SmInternet
                        } else {
                            Tag::OtherInternet
                        };
                        self.client(e, d.ip, d.port, d.proto, up, down, 1, NO_SVC, tag, Some(n));
                    }
                    Default::Igw => {
                        self.client(
                            e,
                            d.ip,
                            d.port,
                            d.proto,
                            up,
                            down,
                            8,
                            NO_SVC,
                            Tag::OtherInternet,
                            None,
                        );
                    }
                    Default::None => {
                        let tag = if sm { Tag::SmNoRoute } else { Tag::Plain };
                        self.lone(e, d.ip, d, 1, tag);
                    }
                }
            }
            Flow::Reject => {
                let d = if w.enis[e].dests.is_empty() || self.rng.chance(0.3) {
                    crate::world::Dest {
                        ip: crate::world::test_net_host(&mut self.rng),
                        port: *self.rng.pick(&[443u16, 443, 25, 22, 8080]),
                        proto: 6,
                    }
                } else {
                    self.rng.pick(&w.enis[e].dests).0
                };
                let d = crate::world::Dest {
                    proto: if d.proto == 1 { 6 } else { d.proto },
                    port: if d.proto == 1 { 443 } else { d.port },
                    ..d
                };
                let tag = if sm { Tag::SmReject } else { Tag::Plain };
                self.lone(e, d.ip, d, 2, tag);
            }
            Flow::Bypass => {
                // The SDK's default STS endpoint, not the regional endpoint behind PrivateLink.
                let dst = crate::world::public_endpoint(&mut self.rng, "sts-global");
                self.aws_public(e, dst, AMAZON, false, Tag::SmBypass);
            }
            Flow::CrossRegionS3 => {
                let dst = crate::world::random_in(&mut self.rng, ranges::S3_EUW1);
                self.aws_public(e, dst, S3, false, Tag::SmCrossRegion);
            }
            Flow::PublicClient => {
                let c = crate::world::test_net_host(&mut self.rng);
                let req = size(&mut self.rng, (2.0, 40.0), (100, 1200));
                let resp = size(&mut self.rng, (2.0, 40.0), (100, 1449));
                let tag = if sm { Tag::SmReturnPublic } else { Tag::Plain };
                // Back out through the load balancer: a resource in the VPC (traffic-path 1).
                self.server(e, c, 8443, req, resp, 1, NO_SVC, tag);
            }
            Flow::Ec2Api => {
                let dst = crate::world::random_in(&mut self.rng, ranges::EC2_USE1);
                let up = size(&mut self.rng, (4.0, 300.0), (60, 400));
                let down = size(&mut self.rng, (4.0, 3000.0), (600, 1449));
                let (tp, nat) = match w.default_route(e) {
                    Default::Nat(n) => (1, Some(n)),
                    _ => (8, None),
                };
                let tag = Tag::OtherInternet;
                self.client(e, dst, 443, 6, up, down, tp, EC2, tag, nat);
            }
            Flow::RdsClient => {
                let Some(&t) = self.p.rds.first() else { return };
                let t = if self.p.rds.len() > 1 && self.rng.chance(0.1) {
                    self.p.rds[1]
                } else {
                    t
                };
                let a = size(&mut self.rng, (2.0, 500.0), (80, 600));
                let b = size(&mut self.rng, (2.0, 2000.0), (200, 1449));
                let ip = w.enis[t].ip;
                self.client(e, ip, 5432, 6, a, b, 0, NO_SVC, Tag::Plain, None);
            }
            Flow::Serve(port) => {
                let pool = match port {
                    5432 => &self.p.db_clients,
                    2049 => &self.p.efs_clients,
                    _ => &self.p.workloads,
                };
                if pool.is_empty() {
                    return;
                }
                let c = w.enis[*self.rng.pick(pool)].ip;
                let req = size(&mut self.rng, (2.0, 500.0), (80, 1200));
                let resp = size(&mut self.rng, (2.0, 2000.0), (200, 1449));
                self.server(e, c, port, req, resp, 0, NO_SVC, Tag::Plain);
            }
            Flow::AlbTargetIn => {
                if self.p.albs.is_empty() {
                    return;
                }
                let c = w.enis[*self.rng.pick(&self.p.albs)].ip;
                let req = size(&mut self.rng, (2.0, 100.0), (100, 1200));
                let resp = size(&mut self.rng, (2.0, 300.0), (200, 1449));
                self.server(e, c, 8080, req, resp, 0, NO_SVC, Tag::Plain);
            }
            Flow::AlbPublicIn => {
                let (c, svc) = if self.rng.chance(0.8) {
                    (crate::world::test_net_host(&mut self.rng), NO_SVC)
                } else {
                    (
                        crate::world::random_in(&mut self.rng, ranges::EC2_USE1),
                        EC2,
                    )
                };
                let req = size(&mut self.rng, (2.0, 100.0), (100, 1200));
                let resp = size(&mut self.rng, (2.0, 300.0), (200, 1449));
                self.server(e, c, 443, req, resp, 8, svc, Tag::Plain);
            }
            Flow::AlbToTarget => {
                if self.p.targets.is_empty() {
                    return;
                }
                let t = w.enis[*self.rng.pick(&self.p.targets)].ip;
                let a = size(&mut self.rng, (2.0, 100.0), (100, 1200));
                let b = size(&mut self.rng, (2.0, 300.0), (200, 1449));
                self.client(e, t, 8080, 6, a, b, 0, NO_SVC, Tag::Plain, None);
            }
        }
    }

    fn special(&mut self, e: usize, status: u8) {
        let start = self.t0 + self.rng.below(240) as u32;
        self.out.push(Rec {
            status,
            action: 0,
            proto: 0,
            flags: NO_FLAGS,
            dir: 0,
            start,
            end: start + 59,
            tag: if status == 1 {
                Tag::NoData
            } else {
                Tag::SkipData
            },
            ..self.base(e)
        });
    }

    fn flush_nat(&mut self, all: bool) {
        let mut i = 0;
        while i < self.pending.len() {
            // AWS writes an ENI's records in batches; flush a NAT's legs once enough piled up.
            if all || self.pending[i].1.len() >= 40 + self.rng.below(400) as usize {
                let (_, legs) = self.pending.swap_remove(i);
                self.out.extend(legs);
            } else {
                i += 1;
            }
        }
    }
}

/// Generates one object's records, exactly `records` of them, into `buf` (cleared first; the
/// caller hands the same buffer back for every object, so memory does not churn).
pub fn object(
    w: &World,
    p: &VpcPlan,
    rng: Rng,
    t0: i64,
    records: usize,
    mut buf: Vec<Rec>,
) -> Vec<Rec> {
    buf.clear();
    let mut g = Gen {
        w,
        p,
        rng,
        t0: t0 as u32,
        out: buf,
        pending: Vec::new(),
    };
    // Idle ENIs log one NODATA per interval; now and then an interval loses records (SKIPDATA).
    let mut specials: Vec<(usize, u8)> = p.idle.iter().map(|&e| (e, 1)).collect();
    if g.rng.chance(0.3) && !p.active.is_empty() {
        specials.push((*g.rng.pick(&p.active), 2));
    }
    let pending_len = |g: &Gen| g.pending.iter().map(|p| p.1.len()).sum::<usize>();
    while g.out.len() + pending_len(&g) + specials.len() < records && !p.table.is_empty() {
        let e = p.active[p.table.pick(&mut g.rng)];
        let run = g.rng.log_uniform(1.0, 600.0) as usize;
        let target = g.out.len() + run;
        let weights: Vec<u32> = w.enis[e].flows.iter().map(|f| f.1).collect();
        if weights.is_empty() {
            continue;
        }
        while g.out.len() < target {
            let flow = w.enis[e].flows[g.rng.weighted(&weights)].0;
            let before = g.out.len();
            g.flow(e, flow);
            if g.out.len() == before {
                // A flow kind with nothing to talk to in this VPC; do not spin.
                break;
            }
        }
        g.flush_nat(false);
        if !specials.is_empty() && g.rng.chance(0.02) {
            let (e, s) = specials.pop().unwrap_or((e, 1));
            g.special(e, s);
        }
    }
    while let Some((e, s)) = specials.pop() {
        g.special(e, s);
    }
    g.flush_nat(true);
    g.out.truncate(records);
    g.out
}
