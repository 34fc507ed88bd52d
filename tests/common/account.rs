//! A deterministic, labelled multi-week SageMaker account: VPC Flow Logs (hourly `.log.gz`
//! objects, optionally the same records as Parquet), the AWS-CLI inventory egresswatch reads,
//! and `labels.json` saying where the injected anomalies are.
//!
//! Why it exists: a behavioural-baseline detector needs weeks of *ordinary* traffic with daily
//! and weekly rhythms, benign novelty (a new job family, bigger runs, growth) and known,
//! labelled anomalies on top, to measure both its detections and its false positives. Real
//! accounts cannot be shared and hand-written fixtures have no rhythm, so this generates one.
//!
//! Used by integration tests (`mod common; common::account::generate(&cfg, dir)`) and by
//! `examples/gen_account.rs`, which includes this file with `#[path]`; it therefore depends
//! only on crates (serde, serde_json, flate2, arrow, parquet), never on egresswatch itself, so
//! the generator cannot inherit the bugs of the code it tests.
//!
//! Determinism: every random draw comes from a seeded xorshift stream; what a run *is* (times,
//! byte totals, anomalies) is drawn from plan streams that do not depend on `scale`, and only
//! the split of those bytes into records uses the per-hour record streams. So bytes totals and
//! labels are the same at every scale, and the same seed gives byte-identical files.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "us-east-1";
pub const VPC_ID: &str = "vpc-0a20000000000a016";
pub const FLOW_LOG_ID: &str = "fl-0abc";
/// Monday 2026-10-05T00:00:00Z.
pub const START: i64 = 1_791_158_400;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;
pub const WEEK: i64 = 7 * DAY;
/// Bump when the output changes for a given configuration.
pub const GENERATOR: &str = "gen_account/1";

/// The custom flow-log format (also the header line of every text object).
pub const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id flow-direction traffic-path pkt-srcaddr pkt-dstaddr pkt-dst-aws-service tcp-flags";

/// `traffic-path` codes (AWS "Flow log records"): 1 = through another resource in the VPC
/// (NAT gateway, interface endpoint), 7 = through a gateway VPC endpoint (Nitro instances, as
/// every ml.* type used here is). Ingress records carry `-`.
pub const TP_IN_VPC: u8 = 1;
pub const TP_GATEWAY_ENDPOINT: u8 = 7;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Weeks from [`START`]: the first two warm up, the last one carries the injected
    /// anomalies, those in between are benign. At least 3.
    pub weeks: u32,
    pub seed: u64,
    /// Multiplies the number of records (not the bytes): 1.0 gives ~200k records in 5 weeks.
    pub scale: f64,
    /// Also write every object as Parquet under `flowlogs-parquet/`.
    pub parquet: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            weeks: 5,
            seed: 20261005,
            scale: 1.0,
            parquet: false,
        }
    }
}

/// A time range in Unix seconds (end exclusive), with its RFC 3339 spelling for humans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub start_utc: String,
    pub end_utc: String,
}

impl Window {
    fn new(start: i64, end: i64) -> Window {
        Window {
            start,
            end,
            start_utc: rfc3339(start),
            end_utc: rfc3339(end),
        }
    }
}

/// One injected anomaly. Times are Unix seconds: the records that carry it start in
/// `[start, end)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub id: String,
    /// `volume-spike`, `sustained-egress`, `new-destination`, `new-port` or `beaconing`.
    pub category: String,
    /// As egresswatch names kinds (`ResourceKind::as_str`): `training-job`, `endpoint`,
    /// `notebook-instance`, ...
    pub resource_kind: String,
    pub resource_name: String,
    pub family: String,
    pub start: i64,
    pub end: i64,
    pub start_utc: String,
    pub end_utc: String,
    /// Multiple of the usual volume (`volume-spike`, `sustained-egress`); for the others 1.0.
    pub strength: f64,
    /// An address (`203.0.113.22`), a /24 (`192.0.2.0/24`) or a class (`s3`).
    pub dst: String,
    pub dst_port: u16,
    /// `gateway-endpoint` or `nat-gateway`, as egresswatch names paths.
    pub path: String,
    /// Egress bytes of the anomalous traffic (for spikes: the whole window's, usual part
    /// included).
    pub bytes: u64,
    /// Egress records carrying it.
    pub records: u64,
    pub enis: Vec<String>,
    pub note: String,
}

/// Unlabelled-on-purpose behaviour changes a good detector must *not* raise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Novelty {
    /// `new-family`, `bigger-run` or `growth`.
    pub kind: String,
    pub resource_kind: String,
    pub family: String,
    /// The run (bigger-run), else empty.
    pub resource_name: String,
    pub start: i64,
    pub factor: f64,
    pub note: String,
}

/// A SageMaker resource of the account, with the ENIs its traffic is logged on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub kind: String,
    pub name: String,
    pub family: String,
    pub arn: String,
    pub start: i64,
    pub end: i64,
    pub enis: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Data lines of all text objects (= Parquet rows when written).
    pub records: u64,
    pub egress_records: u64,
    pub ingress_records: u64,
    /// Text objects (and, with `--parquet`, as many Parquet objects).
    pub objects: u64,
    pub parquet_objects: u64,
    pub egress_bytes: u64,
    pub ingress_bytes: u64,
    pub enis: u64,
    pub inventory_files: u64,
}

/// `labels.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    pub generator: String,
    pub config: Config,
    pub account: String,
    pub region: String,
    pub vpc_id: String,
    /// Unix seconds; the whole generated range.
    pub start: i64,
    pub end: i64,
    /// End of the warm-up weeks (train baselines before this).
    pub warm_until: i64,
    /// Weeks with no injected anomaly after the warm-up (false-positive measurement).
    pub benign: Window,
    /// The week carrying the anomalies.
    pub injected: Window,
    /// Over `benign`: sum over resources of the hours in which it sent any egress record.
    pub workload_hours: u64,
    /// The same, per family.
    pub workload_hours_by_family: BTreeMap<String, u64>,
    pub anomalies: Vec<Anomaly>,
    pub novelties: Vec<Novelty>,
    pub resources: Vec<Resource>,
    pub counts: Counts,
}

// ---------------------------------------------------------------------------------------------
// Randomness and time

/// xorshift64* seeded through splitmix64: small, fast, and the same on every platform.
pub struct Rng(u64);

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64, stream: u64) -> Rng {
        let z = splitmix(seed ^ splitmix(stream.wrapping_add(0x5851_f42d_4c95_7f2d)));
        Rng(if z == 0 { 0x2545_f491_4f6c_dd1d } else { z })
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo).max(1) as u64) as i64
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    pub fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    /// Log-normal with the given mean and log-space sigma.
    pub fn lognormal(&mut self, mean: f64, sigma: f64) -> f64 {
        mean * (sigma * self.normal() - sigma * sigma / 2.0).exp()
    }
}

/// Stable, seed-independent hash of a string: ENI ids and object hashes stay put when only the
/// seed's traffic draws change.
fn hash_str(s: &str, salt: u64) -> u64 {
    s.bytes()
        .fold(splitmix(salt), |h, b| splitmix(h ^ u64::from(b)))
}

/// (year, month, day, hour, minute, second) of a Unix time (UTC), Hinnant's civil_from_days.
pub fn civil(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(DAY);
    let secs = t.rem_euclid(DAY);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
    )
}

pub fn rfc3339(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// As the AWS CLI prints SageMaker times (milliseconds, `+00:00`).
fn cli_time(t_ms: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t_ms.div_euclid(1000));
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}000+00:00",
        t_ms.rem_euclid(1000)
    )
}

// ---------------------------------------------------------------------------------------------
// The world

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

fn ip(a: u32) -> String {
    let b = a.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// S3 us-east-1 prefixes (real ones): every S3 record draws its destination from all of them,
/// as DNS answers for a bucket rotate through S3's address space.
const S3_PREFIXES: &[(u32, u8)] = &[
    (v4(52, 216, 0, 0), 15),
    (v4(3, 5, 0, 0), 19),
    (v4(54, 231, 0, 0), 17),
    (v4(16, 182, 0, 0), 16),
    (v4(18, 34, 0, 0), 19),
];
/// Only in the AMAZON subset (public API endpoints).
const AMAZON_PREFIXES: &[(u32, u8)] = &[(v4(54, 239, 0, 0), 17), (v4(52, 94, 224, 0), 20)];
const DDB_PREFIXES: &[(u32, u8)] = &[(v4(3, 218, 180, 0), 22)];
/// EC2 public space ("internet" hosted on AWS). The partner /24 is listed as EC2 too.
const EC2_PREFIXES: &[(u32, u8)] = &[
    (v4(54, 144, 0, 0), 14),
    (v4(3, 80, 0, 0), 12),
    (v4(44, 192, 0, 0), 11),
    (v4(198, 51, 100, 0), 24),
];

/// The endpoint's partner API (inside the EC2 ranges).
pub const PARTNER: u32 = v4(198, 51, 100, 40);
/// The internet host etl-features pulls from (a fixed /24 inside the EC2 ranges).
pub const ETL_SOURCE_NET: u32 = v4(54, 144, 22, 0);
/// PyPI-like package mirrors the notebook uses (not AWS).
const PYPI_NETS: &[u32] = &[
    v4(151, 101, 0, 0),
    v4(151, 101, 64, 0),
    v4(151, 101, 128, 0),
    v4(151, 101, 192, 0),
];
/// Injected destinations; none of them appears before the injected week.
pub const NEW_DEST_NET: u32 = v4(192, 0, 2, 0);
pub const NEW_PORT_HOST: u32 = v4(203, 0, 113, 22);
pub const BEACON_HOST: u32 = v4(44, 210, 77, 13);

const AZS: [&str; 2] = ["us-east-1a", "us-east-1b"];
const AZ_IDS: [&str; 2] = ["use1-az1", "use1-az2"];
const PRIVATE_SUBNETS: [&str; 2] = ["subnet-0a20000000000a101", "subnet-0a20000000000b102"];
const PRIVATE_CIDRS: [(u32, u8); 2] = [(v4(10, 20, 16, 0), 20), (v4(10, 20, 32, 0), 20)];
const PUBLIC_SUBNET: &str = "subnet-0a20000000000c001";
const NAT_ID: &str = "nat-0a20000000000f001";
const NAT_ENI: &str = "eni-0a20000000000f001";
const NAT_PRIVATE_IP: u32 = v4(10, 20, 0, 10);
const NAT_PUBLIC_IP: u32 = v4(54, 145, 10, 20);
const IGW_ID: &str = "igw-0a20000000000f001";
const S3_GATEWAY_ENDPOINT: &str = "vpce-0a20000000000e000";
const S3_PREFIX_LIST: &str = "pl-63a5400a";
const RT_PRIVATE: &str = "rtb-0a20000000000a001";
const RT_PUBLIC: &str = "rtb-0a20000000000a002";
const RT_MAIN: &str = "rtb-0a20000000000a000";
/// Interface endpoints: (short service name, endpoint id). Each has one ENI per private subnet.
const INTERFACE_ENDPOINTS: [(&str, &str); 4] = [
    ("sagemaker.api", "vpce-0a20000000000e001"),
    ("sagemaker.runtime", "vpce-0a20000000000e002"),
    ("ecr.dkr", "vpce-0a20000000000e003"),
    ("logs", "vpce-0a20000000000e004"),
];
const VPCE_SG: &str = "sg-0a20000000000e000";
const SVC_API: usize = 0;
const SVC_ECR: usize = 2;
const SVC_LOGS: usize = 3;

fn vpce_eni_id(svc: usize, az: usize) -> String {
    format!("eni-0a20000000000e{svc}{az}{}", 0)
}

fn vpce_ip(svc: usize, az: usize) -> u32 {
    PRIVATE_CIDRS[az].0 + 10 + svc as u32
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Training,
    Processing,
    Endpoint,
    Notebook,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Training => "training-job",
            Kind::Processing => "processing-job",
            Kind::Endpoint => "endpoint",
            Kind::Notebook => "notebook-instance",
        }
    }
}

struct Res {
    kind: Kind,
    name: String,
    family: &'static str,
    sg: &'static str,
    instance_type: &'static str,
    instances: u32,
    /// Milliseconds: SageMaker's times carry them.
    created_ms: i64,
    start: i64,
    end: i64,
    enis: Vec<usize>,
}

impl Res {
    fn arn(&self) -> String {
        format!(
            "arn:aws:sagemaker:{REGION}:{ACCOUNT}:{}/{}",
            self.kind.as_str(),
            self.name
        )
    }
}

struct Eni {
    id: String,
    ip: u32,
    az: usize,
    res: usize,
}

#[derive(Default)]
struct World {
    res: Vec<Res>,
    enis: Vec<Eni>,
    next_host: [u32; 2],
}

impl World {
    /// A resource with `n` new ENIs, alternating between the private subnets; addresses are
    /// never reused, so an address names one ENI for the whole range.
    fn add(&mut self, r: Res, n: usize) -> usize {
        let idx = self.res.len();
        self.res.push(r);
        for k in 0..n {
            let az = (idx + k) % 2;
            let host = 100 + self.next_host[az];
            self.next_host[az] += 1;
            let name = format!("{}#{k}", self.res[idx].name);
            let id = format!("eni-0{:016x}", hash_str(&name, 0xe41));
            self.enis.push(Eni {
                id,
                ip: PRIVATE_CIDRS[az].0 + host,
                az,
                res: idx,
            });
            let e = self.enis.len() - 1;
            self.res[idx].enis.push(e);
        }
        idx
    }
}

// ---------------------------------------------------------------------------------------------
// Traffic plan: segments of one flow kind on one ENI within one hour

#[derive(Clone, Copy, Debug)]
enum Dst {
    /// A random S3 address for every record (gateway endpoint).
    S3,
    /// The service's interface-endpoint ENI in the ENI's AZ.
    Vpce(usize),
    /// One internet host (via the NAT gateway).
    Host(u32),
    /// A random host of one of these /24s (via the NAT gateway).
    Nets(&'static [u32]),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    /// Long-lived transfers: mostly mid-connection records, some SYN / FIN.
    Bulk,
    /// One short connection per record: fresh source port, SYN|FIN, no ingress record.
    Callback,
}

#[derive(Clone, Debug)]
struct Seg {
    eni: usize,
    t0: i64,
    t1: i64,
    dst: Dst,
    dport: u16,
    egress: u64,
    ingress: u64,
    /// Records at scale 1.0 (egress; ingress records are ~40% of these when `ingress > 0`).
    n: f64,
    style: Style,
    /// Fixed record count whatever the scale (injected traffic).
    fixed: Option<u32>,
}

struct Plan {
    hours: Vec<Vec<Seg>>,
}

impl Plan {
    /// Spreads `egress`/`ingress` bytes and `per_hour` records over `[a, b)` on `eni`, cutting
    /// at hour boundaries so that every record starts and ends inside its object's hour. Byte
    /// shares are cumulative-rounded, so the totals are exact.
    #[allow(clippy::too_many_arguments)]
    fn spread(
        &mut self,
        eni: usize,
        a: i64,
        b: i64,
        dst: Dst,
        dport: u16,
        egress: u64,
        ingress: u64,
        per_hour: f64,
    ) {
        if b <= a {
            return;
        }
        let len = (b - a) as f64;
        let mut t = a;
        let (mut done_e, mut done_i) = (0u64, 0u64);
        while t < b {
            let h_end = (t.div_euclid(HOUR) + 1) * HOUR;
            let u = h_end.min(b);
            let frac_to = (u - a) as f64 / len;
            let e_to = if u == b {
                egress
            } else {
                (egress as f64 * frac_to) as u64
            };
            let i_to = if u == b {
                ingress
            } else {
                (ingress as f64 * frac_to) as u64
            };
            self.push(Seg {
                eni,
                t0: t,
                t1: u,
                dst,
                dport,
                egress: e_to - done_e,
                ingress: i_to - done_i,
                n: per_hour * (u - t) as f64 / HOUR as f64,
                style: Style::Bulk,
                fixed: None,
            });
            done_e = e_to;
            done_i = i_to;
            t = u;
        }
    }

    fn push(&mut self, s: Seg) {
        let h = ((s.t0 - START) / HOUR) as usize;
        if let Some(v) = self.hours.get_mut(h) {
            v.push(s);
        }
    }
}

/// Hour-of-day activity of the endpoint relative to night (business-hours peak ~3x night).
fn endpoint_profile(t: i64) -> f64 {
    let h = civil(t).3;
    let wd = weekday(t);
    let f = match h {
        0..=6 | 22..=23 => 1.0,
        7 | 8 | 19..=21 => 2.0,
        _ => 3.0,
    };
    if wd >= 5 {
        f * 0.5
    } else {
        f
    }
}

/// 0 = Monday.
fn weekday(t: i64) -> i64 {
    (t.div_euclid(DAY) + 3).rem_euclid(7)
}

fn mean_endpoint_profile() -> f64 {
    (0..168)
        .map(|h| endpoint_profile(START + h * HOUR))
        .sum::<f64>()
        / 168.0
}

const MB: f64 = 1e6;
const GB: f64 = 1e9;

/// Records per hour (scale 1.0) of the main flows.
const N_JOB_S3: f64 = 70.0;
const N_JOB_LOGS: f64 = 6.0;
const N_NB_S3: f64 = 160.0;
const N_NB_PYPI: f64 = 24.0;
const N_EP_S3: f64 = 26.0;
const N_EP_PARTNER: f64 = 16.0;
const N_EP_LOGS: f64 = 6.0;

/// Everything about the run that does not depend on scale.
struct Built {
    world: World,
    plan: Plan,
    anomalies: Vec<Anomaly>,
    novelties: Vec<Novelty>,
    /// Per anomaly index: (eni, t0, t1, dst filter) to count its records while rendering.
    probes: Vec<Probe>,
}

#[derive(Clone)]
struct Probe {
    enis: Vec<usize>,
    t0: i64,
    t1: i64,
    dst: ProbeDst,
}

#[derive(Clone, Copy)]
enum ProbeDst {
    S3,
    Net24(u32),
    Host(u32, u16),
}

fn sm_name_ms(family: &str, t_ms: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t_ms.div_euclid(1000));
    format!(
        "{family}-{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}-{s:02}-{:03}",
        t_ms.rem_euclid(1000)
    )
}

/// Job traffic common to every training/processing run: the image pull through the ECR
/// interface endpoint at start (layers themselves come from S3), CloudWatch Logs through the
/// logs endpoint. ENI 1 of each instance is SageMaker's S3-and-logging ENI.
fn job_overheads(plan: &mut Plan, rng: &mut Rng, w: &World, r: usize) {
    let res = &w.res[r];
    for (k, &e) in res.enis.iter().enumerate() {
        if k % 2 == 0 {
            // The algorithm container's ENI: the image pull happens on the host.
            let pull_end = (res.start + 240).min(res.end);
            plan.spread(
                e,
                res.start,
                pull_end,
                Dst::Vpce(SVC_ECR),
                443,
                rng.range(150_000, 400_000) as u64,
                rng.range(2_000_000, 6_000_000) as u64,
                12.0,
            );
            plan.spread(
                e,
                res.start,
                pull_end,
                Dst::S3,
                443,
                rng.range(1_000_000, 3_000_000) as u64,
                (rng.uniform(0.8, 1.6) * GB) as u64,
                30.0,
            );
        } else {
            let hours = (res.end - res.start) as f64 / HOUR as f64;
            plan.spread(
                e,
                res.start,
                res.end,
                Dst::Vpce(SVC_LOGS),
                443,
                (rng.uniform(0.5, 1.5) * MB * hours.max(0.2)) as u64,
                (rng.uniform(0.02, 0.05) * MB * hours.max(0.2)) as u64,
                N_JOB_LOGS,
            );
        }
    }
}

/// S3 egress of a job spread over its ENIs (both ENIs of an instance carry S3 traffic: the
/// container writes checkpoints, SageMaker uploads the model), with an input download.
fn job_s3(plan: &mut Plan, rng: &mut Rng, w: &World, r: usize, egress: u64, a: i64, b: i64) {
    let res = &w.res[r];
    let n = res.enis.len() as u64;
    let ingress = (egress as f64 * rng.uniform(1.0, 2.0)) as u64;
    for (k, &e) in res.enis.iter().enumerate() {
        let share = egress / n + if k == 0 { egress % n } else { 0 };
        let ishare = ingress / n + if k == 0 { ingress % n } else { 0 };
        plan.spread(e, a, b, Dst::S3, 443, share, ishare, N_JOB_S3);
    }
}

fn build(cfg: &Config) -> Built {
    let weeks = i64::from(cfg.weeks);
    let end = START + weeks * WEEK;
    let inj = end - WEEK;
    let mut world = World::default();
    let mut plan = Plan {
        hours: vec![Vec::new(); (weeks * WEEK / HOUR) as usize],
    };
    let mut anomalies = Vec::new();
    let mut novelties = Vec::new();
    let mut probes = Vec::new();
    let seed = cfg.seed;

    // Long-lived resources first, so their ENIs get the low addresses.
    let ep = world.add(
        Res {
            kind: Kind::Endpoint,
            name: "risk-scoring".into(),
            family: "risk-scoring",
            sg: "sg-0a20000000000d005",
            instance_type: "ml.c5.xlarge",
            instances: 2,
            created_ms: (START - 40 * DAY) * 1000 + 417,
            start: START - 40 * DAY,
            end,
            enis: Vec::new(),
        },
        2,
    );
    let nb = world.add(
        Res {
            kind: Kind::Notebook,
            name: "quant-research-nb".into(),
            family: "quant-research-nb",
            sg: "sg-0a20000000000d006",
            instance_type: "ml.m5.2xlarge",
            instances: 1,
            created_ms: (START - 90 * DAY) * 1000 + 88,
            start: START - 90 * DAY,
            end,
            enis: Vec::new(),
        },
        1,
    );

    // Injected-week schedule (days after the injected Monday).
    let fraud_spike_day = 3; // Thursday's run: 8x its usual total.
    let fraud_port_day = 1; // Tuesday's run: connects to an internet host on tcp/22.

    // fraud-xgb: daily at 23:01, 60-100 min, ~2 GB +-20% to S3.
    let mut prng = Rng::new(seed, 1);
    for day in 0..weeks * 7 {
        let t = START + day * DAY + 23 * HOUR + 60;
        let (y, mo, d, h, mi, _) = civil(t);
        let name = format!("fraud-xgb-{y:04}-{mo:02}-{d:02}-{h:02}{mi:02}");
        let mut minutes = prng.range(60, 101);
        let mut bytes = prng.uniform(0.8, 1.2) * 2.0 * GB;
        let big = prng.unit() < 1.0 / 6.0;
        let big_factor = prng.uniform(2.0, 3.0);
        let in_injected = t >= inj;
        let spike = in_injected && day == (inj - START) / DAY + fraud_spike_day;
        let port = in_injected && day == (inj - START) / DAY + fraud_port_day;
        // Bigger runs only after the warm-up (benign novelty), never on the injected runs.
        let big = big && t >= START + 2 * WEEK && !spike && !port;
        if big {
            minutes = (minutes as f64 * big_factor) as i64;
            bytes *= big_factor;
        }
        let usual = bytes;
        if spike {
            bytes *= 8.0;
        }
        let start = t + prng.range(90, 240);
        let r = world.add(
            Res {
                kind: Kind::Training,
                name: name.clone(),
                family: "fraud-xgb",
                sg: "sg-0a20000000000d001",
                instance_type: "ml.m5.4xlarge",
                instances: 1,
                created_ms: t * 1000 + prng.range(0, 1000),
                start,
                end: start + minutes * 60,
                enis: Vec::new(),
            },
            2,
        );
        job_overheads(&mut plan, &mut prng, &world, r);
        let (a, b) = (world.res[r].start + 240, world.res[r].end - 60);
        job_s3(&mut plan, &mut prng, &world, r, bytes as u64, a, b);
        if big {
            novelties.push(Novelty {
                kind: "bigger-run".into(),
                resource_kind: "training-job".into(),
                family: "fraud-xgb".into(),
                resource_name: name.clone(),
                start,
                factor: (big_factor * 100.0).round() / 100.0,
                note: "longer run at the usual rate: total S3 bytes and duration both scale".into(),
            });
        }
        if spike {
            anomalies.push(Anomaly {
                id: String::new(),
                category: "volume-spike".into(),
                resource_kind: "training-job".into(),
                resource_name: name.clone(),
                family: "fraud-xgb".into(),
                start: a,
                end: b,
                start_utc: rfc3339(a),
                end_utc: rfc3339(b),
                strength: 8.0,
                dst: "s3".into(),
                dst_port: 443,
                path: "gateway-endpoint".into(),
                bytes: bytes as u64,
                records: 0,
                enis: Vec::new(),
                note: format!(
                    "run sends 8x its usual S3 total ({:.2} GB instead of {:.2} GB) in a usual-length run",
                    bytes / GB,
                    usual / GB
                ),
            });
            probes.push(Probe {
                enis: world.res[r].enis.clone(),
                t0: a,
                t1: b,
                dst: ProbeDst::S3,
            });
        }
        if port {
            let e = world.res[r].enis[0];
            let t0 = a + 600;
            let mut irng = Rng::new(seed, 0x22);
            for k in 0..4 {
                let s = t0 + k * 120;
                plan.push(Seg {
                    eni: e,
                    t0: s,
                    t1: s + 60,
                    dst: Dst::Host(NEW_PORT_HOST),
                    dport: 22,
                    egress: irng.range(400_000, 900_000) as u64,
                    ingress: irng.range(20_000, 60_000) as u64,
                    n: 1.0,
                    style: Style::Bulk,
                    fixed: Some(1),
                });
            }
            anomalies.push(Anomaly {
                id: String::new(),
                category: "new-port".into(),
                resource_kind: "training-job".into(),
                resource_name: name.clone(),
                family: "fraud-xgb".into(),
                start: t0,
                end: t0 + 4 * 120,
                start_utc: rfc3339(t0),
                end_utc: rfc3339(t0 + 4 * 120),
                strength: 1.0,
                dst: ip(NEW_PORT_HOST),
                dst_port: 22,
                path: "nat-gateway".into(),
                bytes: 0,
                records: 0,
                enis: Vec::new(),
                note: "training container opens SSH (tcp/22) to an internet host through the NAT gateway; the family only ever used 443".into(),
            });
            probes.push(Probe {
                enis: vec![e],
                t0,
                t1: t0 + 4 * 120,
                dst: ProbeDst::Host(NEW_PORT_HOST, 22),
            });
        }
    }

    // churn-train: weekly on Mondays at 02:00, 3-4 h, 2 instances, ~5 GB to S3.
    let mut prng = Rng::new(seed, 2);
    for wk in 0..weeks {
        let t_ms = (START + wk * WEEK + 2 * HOUR + prng.range(5, 40)) * 1000 + prng.range(0, 1000);
        let name = sm_name_ms("churn-train", t_ms);
        let start = t_ms / 1000 + prng.range(120, 300);
        let minutes = prng.range(180, 241);
        let r = world.add(
            Res {
                kind: Kind::Training,
                name,
                family: "churn-train",
                sg: "sg-0a20000000000d002",
                instance_type: "ml.m5.12xlarge",
                instances: 2,
                created_ms: t_ms,
                start,
                end: start + minutes * 60,
                enis: Vec::new(),
            },
            4,
        );
        job_overheads(&mut plan, &mut prng, &world, r);
        let bytes = prng.uniform(0.85, 1.15) * 5.0 * GB;
        let (a, b) = (world.res[r].start + 240, world.res[r].end - 60);
        job_s3(&mut plan, &mut prng, &world, r, bytes as u64, a, b);
    }

    // etl-features: daily processing at 05:00, 30 min, ~500 MB to S3, pulls from the
    // internet source through the NAT gateway.
    let mut prng = Rng::new(seed, 3);
    for day in 0..weeks * 7 {
        let t_ms = (START + day * DAY + 5 * HOUR + prng.range(2, 20)) * 1000 + prng.range(0, 1000);
        let name = sm_name_ms("etl-features", t_ms);
        let start = t_ms / 1000 + prng.range(60, 180);
        let r = world.add(
            Res {
                kind: Kind::Processing,
                name,
                family: "etl-features",
                sg: "sg-0a20000000000d003",
                instance_type: "ml.m5.2xlarge",
                instances: 1,
                created_ms: t_ms,
                start,
                end: start + prng.range(27, 34) * 60,
                enis: Vec::new(),
            },
            2,
        );
        job_overheads(&mut plan, &mut prng, &world, r);
        let bytes = prng.uniform(0.8, 1.2) * 500.0 * MB;
        let (a, b) = (world.res[r].start + 240, world.res[r].end - 60);
        job_s3(&mut plan, &mut prng, &world, r, bytes as u64, a, b);
        let e = world.res[r].enis[0];
        let host = ETL_SOURCE_NET + 10 + prng.below(4) as u32;
        plan.spread(
            e,
            a,
            a + 600,
            Dst::Host(host),
            443,
            prng.range(2_000_000, 6_000_000) as u64,
            (prng.uniform(200.0, 400.0) * MB) as u64,
            30.0,
        );
    }

    // ltv-model: a new training family from week 3 on, daily at 14:00, 40-60 min, ~1 GB.
    let mut prng = Rng::new(seed, 4);
    let ltv_from = START + 2 * WEEK;
    for day in (ltv_from - START) / DAY..weeks * 7 {
        let t_ms = (START + day * DAY + 14 * HOUR + prng.range(0, 90)) * 1000 + prng.range(0, 1000);
        let (y, mo, d, h, mi, s) = civil(t_ms / 1000);
        let name = format!("ltv-model-{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}");
        let start = t_ms / 1000 + prng.range(90, 200);
        let r = world.add(
            Res {
                kind: Kind::Training,
                name,
                family: "ltv-model",
                sg: "sg-0a20000000000d004",
                instance_type: "ml.g4dn.xlarge",
                instances: 1,
                created_ms: t_ms,
                start,
                end: start + prng.range(40, 61) * 60,
                enis: Vec::new(),
            },
            2,
        );
        job_overheads(&mut plan, &mut prng, &world, r);
        let bytes = prng.uniform(0.8, 1.2) * GB;
        let (a, b) = (world.res[r].start + 240, world.res[r].end - 60);
        job_s3(&mut plan, &mut prng, &world, r, bytes as u64, a, b);
    }
    if weeks > 2 {
        novelties.push(Novelty {
            kind: "new-family".into(),
            resource_kind: "training-job".into(),
            family: "ltv-model".into(),
            resource_name: String::new(),
            start: ltv_from,
            factor: 1.0,
            note: "a new training family appears at the start of the benign weeks and runs daily at 14:00".into(),
        });
    }
    novelties.push(Novelty {
        kind: "growth".into(),
        resource_kind: "endpoint".into(),
        family: "risk-scoring".into(),
        resource_name: "risk-scoring".into(),
        start: START,
        factor: 1.005,
        note: "endpoint traffic grows 0.5% per day (compounded), all destinations".into(),
    });

    // The endpoint: every hour, 2 instances, daily and weekly cycle, growth.
    let mut prng = Rng::new(seed, 5);
    let norm = mean_endpoint_profile();
    let (sus_t0, sus_t1) = (inj + DAY + 10 * HOUR, inj + DAY + 16 * HOUR);
    let (bea_t0, bea_t1) = (inj + 4 * DAY + HOUR, inj + 4 * DAY + 7 * HOUR);
    let mut sustained_bytes = 0u64;
    for h in 0..weeks * 168 {
        let t = START + h * HOUR;
        let growth = 1.005f64.powf(((t - START) / DAY) as f64);
        let f = endpoint_profile(t) / norm * growth;
        let s3 = prng.lognormal(50.0 * MB * f, 0.2);
        let mut partner = prng.lognormal(5.0 * MB * f, 0.2);
        let sustained = (sus_t0..sus_t1).contains(&t);
        if sustained {
            partner *= 3.0;
            sustained_bytes += partner as u64;
        }
        let rel = (f / growth).clamp(0.5, 3.0);
        for (k, &e) in world.res[ep].enis.iter().enumerate() {
            let share = if k == 0 { 0.55 } else { 0.45 };
            plan.spread(
                e,
                t,
                t + HOUR,
                Dst::S3,
                443,
                (s3 * share) as u64,
                (s3 * share * 0.1) as u64,
                N_EP_S3 * rel,
            );
            plan.spread(
                e,
                t,
                t + HOUR,
                Dst::Host(PARTNER),
                443,
                (partner * share) as u64,
                (partner * share * 1.5) as u64,
                N_EP_PARTNER * rel * if sustained { 2.0 } else { 1.0 },
            );
            plan.spread(
                e,
                t,
                t + HOUR,
                Dst::Vpce(SVC_LOGS),
                443,
                (prng.uniform(0.3, 0.8) * MB * rel) as u64,
                (prng.uniform(0.01, 0.03) * MB) as u64,
                N_EP_LOGS,
            );
        }
    }
    let ep_enis = world.res[ep].enis.clone();
    anomalies.push(Anomaly {
        id: String::new(),
        category: "sustained-egress".into(),
        resource_kind: "endpoint".into(),
        resource_name: "risk-scoring".into(),
        family: "risk-scoring".into(),
        start: sus_t0,
        end: sus_t1,
        start_utc: rfc3339(sus_t0),
        end_utc: rfc3339(sus_t1),
        strength: 3.0,
        dst: ip(PARTNER),
        dst_port: 443,
        path: "nat-gateway".into(),
        bytes: sustained_bytes,
        records: 0,
        enis: ep_enis.iter().map(|&e| world.enis[e].id.clone()).collect(),
        note: "6 hours of 3x the usual partner-API egress through the NAT gateway (same destination, same port)".into(),
    });
    probes.push(Probe {
        enis: ep_enis.clone(),
        t0: sus_t0,
        t1: sus_t1,
        dst: ProbeDst::Host(PARTNER, 443),
    });
    // Beaconing: one short connection every 60 s +-20% for 6 hours, to a host never seen.
    let mut brng = Rng::new(seed, 0xbea);
    let mut t = bea_t0 + brng.range(0, 60);
    let mut beacon_bytes = 0u64;
    let e = ep_enis[0];
    while t < bea_t1 {
        let bytes = brng.range(280, 520) as u64;
        beacon_bytes += bytes;
        // The record ends within the hour of its start.
        let end = (t + brng.range(0, 3)).min((t.div_euclid(HOUR) + 1) * HOUR - 1);
        plan.push(Seg {
            eni: e,
            t0: t,
            t1: end + 1,
            dst: Dst::Host(BEACON_HOST),
            dport: 443,
            egress: bytes,
            ingress: 0,
            n: 1.0,
            style: Style::Callback,
            fixed: Some(1),
        });
        t += brng.range(48, 73);
    }
    anomalies.push(Anomaly {
        id: String::new(),
        category: "beaconing".into(),
        resource_kind: "endpoint".into(),
        resource_name: "risk-scoring".into(),
        family: "risk-scoring".into(),
        start: bea_t0,
        end: bea_t1,
        start_utc: rfc3339(bea_t0),
        end_utc: rfc3339(bea_t1),
        strength: 1.0,
        dst: ip(BEACON_HOST),
        dst_port: 443,
        path: "nat-gateway".into(),
        bytes: beacon_bytes,
        records: 0,
        enis: vec![world.enis[e].id.clone()],
        note: "one record per callback every 60 s +-20%: fresh source port, tcp-flags 3 (SYN|FIN), 280-520 bytes, no reply record".into(),
    });
    probes.push(Probe {
        enis: vec![e],
        t0: bea_t0,
        t1: bea_t1,
        dst: ProbeDst::Host(BEACON_HOST, 443),
    });

    // The notebook: working days 09:00-18:00 UTC only.
    let mut prng = Rng::new(seed, 6);
    let nb_eni = world.res[nb].enis[0];
    let spike_hour = inj + 2 * DAY + 14 * HOUR;
    let newdst_hour = inj + 3 * DAY + 11 * HOUR;
    let mut spike_bytes = 0u64;
    for h in 0..weeks * 168 {
        let t = START + h * HOUR;
        let hod = civil(t).3;
        if weekday(t) >= 5 || !(9..18).contains(&hod) {
            continue;
        }
        // Mean 1.9 GB/h, p95 ~3.4 GB/h (log-normal, sigma 0.4).
        let mut s3 = prng.lognormal(1.9 * GB, 0.4);
        let reads = s3 * prng.uniform(0.6, 1.4);
        let spike = t == spike_hour;
        if spike {
            s3 = 10.0 * 1.9 * GB;
            spike_bytes = s3 as u64;
        }
        plan.spread(
            nb_eni,
            t,
            t + HOUR,
            Dst::S3,
            443,
            s3 as u64,
            reads as u64,
            N_NB_S3 * if spike { 2.0 } else { 1.0 },
        );
        plan.spread(
            nb_eni,
            t,
            t + HOUR,
            Dst::Vpce(SVC_API),
            443,
            prng.range(20_000, 120_000) as u64,
            prng.range(40_000, 300_000) as u64,
            4.0,
        );
        // pip installs: some hours download packages, every hour touches the index.
        let pip = prng.unit() < 0.35;
        plan.spread(
            nb_eni,
            t,
            t + HOUR,
            Dst::Nets(PYPI_NETS),
            443,
            prng.range(100_000, 800_000) as u64 * if pip { 4 } else { 1 },
            if pip {
                (prng.uniform(20.0, 250.0) * MB) as u64
            } else {
                prng.range(200_000, 2_000_000) as u64
            },
            N_NB_PYPI * if pip { 1.0 } else { 0.3 },
        );
        if t == newdst_hour {
            let host = NEW_DEST_NET + 50;
            let t0 = t + 23 * 60;
            let parts = 6i64;
            for k in 0..parts {
                let s = t0 + k * 60;
                plan.push(Seg {
                    eni: nb_eni,
                    t0: s,
                    t1: s + 60,
                    dst: Dst::Host(host),
                    dport: 443,
                    egress: 50_000_000 / parts as u64,
                    ingress: 40_000,
                    n: 1.0,
                    style: Style::Bulk,
                    fixed: Some(1),
                });
            }
            anomalies.push(Anomaly {
                id: String::new(),
                category: "new-destination".into(),
                resource_kind: "notebook-instance".into(),
                resource_name: "quant-research-nb".into(),
                family: "quant-research-nb".into(),
                start: t0,
                end: t0 + parts * 60,
                start_utc: rfc3339(t0),
                end_utc: rfc3339(t0 + parts * 60),
                strength: 1.0,
                dst: format!("{}/24", ip(NEW_DEST_NET)),
                dst_port: 443,
                path: "nat-gateway".into(),
                bytes: 50_000_000,
                records: 0,
                enis: vec![world.enis[nb_eni].id.clone()],
                note: format!(
                    "50 MB uploaded over tcp/443 to {} in a /24 never seen before",
                    ip(host)
                ),
            });
            probes.push(Probe {
                enis: vec![nb_eni],
                t0,
                t1: t0 + parts * 60,
                dst: ProbeDst::Net24(NEW_DEST_NET),
            });
        }
    }
    anomalies.push(Anomaly {
        id: String::new(),
        category: "volume-spike".into(),
        resource_kind: "notebook-instance".into(),
        resource_name: "quant-research-nb".into(),
        family: "quant-research-nb".into(),
        start: spike_hour,
        end: spike_hour + HOUR,
        start_utc: rfc3339(spike_hour),
        end_utc: rfc3339(spike_hour + HOUR),
        strength: 10.0,
        dst: "s3".into(),
        dst_port: 443,
        path: "gateway-endpoint".into(),
        bytes: spike_bytes,
        records: 0,
        enis: vec![world.enis[nb_eni].id.clone()],
        note: "one weekday hour with 10x the notebook's mean hourly S3 egress (19 GB) through the gateway endpoint".into(),
    });
    probes.push(Probe {
        enis: vec![nb_eni],
        t0: spike_hour,
        t1: spike_hour + HOUR,
        dst: ProbeDst::S3,
    });

    // Fill in ENI ids of the training anomalies, order by time and number them.
    for (a, p) in anomalies.iter_mut().zip(&probes) {
        if a.enis.is_empty() {
            a.enis = p.enis.iter().map(|&e| world.enis[e].id.clone()).collect();
        }
    }
    let mut pairs: Vec<(Anomaly, Probe)> = anomalies.into_iter().zip(probes).collect();
    pairs.sort_by(|x, y| (x.0.start, &x.0.category).cmp(&(y.0.start, &y.0.category)));
    let (mut anomalies, probes): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
    for (i, a) in anomalies.iter_mut().enumerate() {
        a.id = format!("A{:02}-{}", i + 1, a.category);
    }
    Built {
        world,
        plan,
        anomalies,
        novelties,
        probes,
    }
}

// ---------------------------------------------------------------------------------------------
// Records

struct Rec {
    eni: usize,
    src: u32,
    dst: u32,
    sport: u16,
    dport: u16,
    proto: u8,
    packets: u64,
    bytes: u64,
    start: i64,
    end: i64,
    egress: bool,
    tpath: Option<u8>,
    svc: &'static str,
    flags: u16,
}

fn in_prefix(rng: &mut Rng, (base, len): (u32, u8)) -> u32 {
    let size = 1u64 << (32 - u32::from(len));
    // Skip network and broadcast-looking addresses.
    base + 1 + rng.below(size - 2) as u32
}

/// Splits `total` into `n` positive parts with random (exponential) weights; the sum is exact.
fn split(rng: &mut Rng, total: u64, n: usize) -> Vec<u64> {
    let n = n.min(total as usize).max(1);
    let w: Vec<f64> = (0..n)
        .map(|_| -(rng.unit().max(1e-9)).ln() + 0.05)
        .collect();
    let sum: f64 = w.iter().sum();
    let spare = total - n as u64;
    let mut out = Vec::with_capacity(n);
    let mut acc = 0.0;
    let mut done = 0u64;
    for (i, x) in w.iter().enumerate() {
        acc += x;
        let to = if i + 1 == n {
            spare
        } else {
            ((spare as f64) * acc / sum) as u64
        };
        out.push(1 + to - done);
        done = to;
    }
    out
}

fn records_of(n: f64, scale: f64, rng: &mut Rng) -> usize {
    let x = n * scale;
    let base = x.floor();
    (base as usize + usize::from(rng.unit() < x - base)).max(1)
}

fn render_seg(w: &World, s: &Seg, scale: f64, rng: &mut Rng, out: &mut Vec<Rec>) {
    let eni = &w.enis[s.eni];
    let (tpath, svc_is_s3) = match s.dst {
        Dst::S3 => (TP_GATEWAY_ENDPOINT, true),
        _ => (TP_IN_VPC, false),
    };
    let n = s
        .fixed
        .map_or_else(|| records_of(s.n, scale, rng), |f| f as usize);
    let hour_end = (s.t0.div_euclid(HOUR) + 1) * HOUR - 1;
    // Every record starts and ends inside the hour of its object.
    let span = (s.t1.min(hour_end + 1) - s.t0).max(1);
    let flow = |rng: &mut Rng, bytes: u64, egress: bool, out: &mut Vec<Rec>| {
        let remote = match s.dst {
            Dst::S3 => {
                let p = S3_PREFIXES[rng.below(S3_PREFIXES.len() as u64) as usize];
                in_prefix(rng, p)
            }
            Dst::Vpce(svc) => vpce_ip(svc, eni.az),
            Dst::Host(h) => h,
            Dst::Nets(nets) => {
                nets[rng.below(nets.len() as u64) as usize] + 1 + rng.below(254) as u32
            }
        };
        let svc = match s.dst {
            Dst::S3 => "S3",
            Dst::Vpce(_) => "-",
            _ if in_ec2(remote) => "EC2",
            _ => "-",
        };
        let start = s.t0 + rng.below(span as u64) as i64;
        let dur = if s.style == Style::Callback {
            rng.range(0, 3)
        } else {
            rng.range(0, 61)
        };
        let end = (start + dur).min(hour_end).max(start);
        let eph = rng.range(32768, 61000) as u16;
        let mss = if s.style == Style::Callback {
            80
        } else if svc_is_s3 {
            rng.range(1300, 8500) as u64
        } else {
            rng.range(400, 1400) as u64
        };
        let packets = bytes.div_ceil(mss).max(1);
        let flags = match s.style {
            Style::Callback => 3,
            Style::Bulk => match (egress, rng.below(10)) {
                (_, 0..=6) => 0,
                (true, 7 | 8) => 2,
                (false, 7 | 8) => 18,
                _ => 1,
            },
        };
        out.push(if egress {
            Rec {
                eni: s.eni,
                src: eni.ip,
                dst: remote,
                sport: eph,
                dport: s.dport,
                proto: 6,
                packets,
                bytes,
                start,
                end,
                egress: true,
                tpath: Some(tpath),
                svc,
                flags,
            }
        } else {
            Rec {
                eni: s.eni,
                src: remote,
                dst: eni.ip,
                sport: s.dport,
                dport: eph,
                proto: 6,
                packets,
                bytes,
                start,
                end,
                egress: false,
                tpath: None,
                svc: "-",
                flags,
            }
        });
    };
    if s.egress > 0 {
        for b in split(rng, s.egress, n) {
            flow(rng, b, true, out);
        }
    }
    if s.ingress > 0 {
        let ni = ((n as f64) * 0.4).round().max(1.0) as usize;
        for b in split(rng, s.ingress, ni) {
            flow(rng, b, false, out);
        }
    }
}

fn in_ec2(a: u32) -> bool {
    EC2_PREFIXES.iter().any(|&(b, l)| {
        let mask = if l == 0 { 0 } else { u32::MAX << (32 - l) };
        a & mask == b
    })
}

fn put_line(buf: &mut String, w: &World, r: &Rec) {
    use std::fmt::Write as _;
    let eni = &w.enis[r.eni];
    let tp = r.tpath.map_or("-".to_string(), |t| t.to_string());
    let _ = writeln!(
        buf,
        "5 {ACCOUNT} {} {} {} {} {} {} {} {} {} {} ACCEPT OK {VPC_ID} {} {} {tp} {} {} {} {}",
        eni.id,
        ip(r.src),
        ip(r.dst),
        r.sport,
        r.dport,
        r.proto,
        r.packets,
        r.bytes,
        r.start,
        r.end,
        PRIVATE_SUBNETS[eni.az],
        if r.egress { "egress" } else { "ingress" },
        ip(r.src),
        ip(r.dst),
        r.svc,
        r.flags
    );
}

fn parquet_batch(w: &World, recs: &[Rec]) -> Result<arrow_array::RecordBatch, String> {
    use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let i32f = |n: &str| Field::new(n, DataType::Int32, true);
    let i64f = |n: &str| Field::new(n, DataType::Int64, true);
    let schema = Arc::new(Schema::new(vec![
        i32f("version"),
        s("account_id"),
        s("interface_id"),
        s("srcaddr"),
        s("dstaddr"),
        i32f("srcport"),
        i32f("dstport"),
        i32f("protocol"),
        i64f("packets"),
        i64f("bytes"),
        i64f("start"),
        i64f("end"),
        s("action"),
        s("log_status"),
        s("vpc_id"),
        s("subnet_id"),
        s("flow_direction"),
        i32f("traffic_path"),
        s("pkt_srcaddr"),
        s("pkt_dstaddr"),
        s("pkt_dst_aws_service"),
        i32f("tcp_flags"),
    ]));
    let strs = |f: &dyn Fn(&Rec) -> String| -> ArrayRef {
        Arc::new(recs.iter().map(|r| Some(f(r))).collect::<StringArray>())
    };
    let i32s = |f: &dyn Fn(&Rec) -> Option<i32>| -> ArrayRef {
        Arc::new(recs.iter().map(f).collect::<Int32Array>())
    };
    let i64s = |f: &dyn Fn(&Rec) -> i64| -> ArrayRef {
        Arc::new(recs.iter().map(|r| Some(f(r))).collect::<Int64Array>())
    };
    let cols: Vec<ArrayRef> = vec![
        i32s(&|_| Some(5)),
        strs(&|_| ACCOUNT.to_string()),
        strs(&|r| w.enis[r.eni].id.clone()),
        strs(&|r| ip(r.src)),
        strs(&|r| ip(r.dst)),
        i32s(&|r| Some(i32::from(r.sport))),
        i32s(&|r| Some(i32::from(r.dport))),
        i32s(&|r| Some(i32::from(r.proto))),
        i64s(&|r| r.packets as i64),
        i64s(&|r| r.bytes as i64),
        i64s(&|r| r.start),
        i64s(&|r| r.end),
        strs(&|_| "ACCEPT".to_string()),
        strs(&|_| "OK".to_string()),
        strs(&|_| VPC_ID.to_string()),
        strs(&|r| PRIVATE_SUBNETS[w.enis[r.eni].az].to_string()),
        strs(&|r| if r.egress { "egress" } else { "ingress" }.to_string()),
        i32s(&|r| r.tpath.map(i32::from)),
        strs(&|r| ip(r.src)),
        strs(&|r| ip(r.dst)),
        strs(&|r| r.svc.to_string()),
        i32s(&|r| Some(i32::from(r.flags))),
    ];
    RecordBatch::try_new(schema, cols).map_err(|e| e.to_string())
}

fn write_parquet(path: &Path, w: &World, recs: &[Rec]) -> std::io::Result<()> {
    use parquet::arrow::arrow_writer::ArrowWriterOptions;
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;
    let batch = parquet_batch(w, recs).map_err(std::io::Error::other)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by("egresswatch gen_account (parquet-rs)".into())
        .build();
    // AWS's objects carry no Arrow schema in the footer.
    let opts = ArrowWriterOptions::new()
        .with_properties(props)
        .with_skip_arrow_metadata(true);
    let mut wr =
        ArrowWriter::try_new_with_options(std::fs::File::create(path)?, batch.schema(), opts)
            .map_err(std::io::Error::other)?;
    wr.write(&batch).map_err(std::io::Error::other)?;
    wr.close().map_err(std::io::Error::other)?;
    Ok(())
}

fn object_path(root: &Path, t: i64, ext: &str) -> PathBuf {
    let (y, mo, d, h, mi, _) = civil(t);
    let hash = hash_str(&format!("{t}{ext}"), 0x0b1ec7) as u32;
    root.join(format!("AWSLogs/{ACCOUNT}/vpcflowlogs/{REGION}/{y:04}/{mo:02}/{d:02}"))
        .join(format!(
            "{ACCOUNT}_vpcflowlogs_{REGION}_{FLOW_LOG_ID}_{y:04}{mo:02}{d:02}T{h:02}{mi:02}Z_{hash:08x}.{ext}"
        ))
}

// ---------------------------------------------------------------------------------------------
// Inventory (AWS CLI shapes, as in samples/inventory)

fn write_json(path: &Path, v: &Value) -> std::io::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut text = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}

fn cidr((b, l): (u32, u8)) -> String {
    format!("{}/{l}", ip(b))
}

fn write_inventory(dir: &Path, w: &World) -> std::io::Result<u64> {
    let ec2 = dir.join("ec2");
    let sm = dir.join("sagemaker");
    let mut files = 0u64;
    let name_tag = |n: &str| json!([{"Key": "Name", "Value": n}]);

    write_json(
        &ec2.join("vpcs.json"),
        &json!({"Vpcs": [{"VpcId": VPC_ID, "CidrBlock": "10.20.0.0/16", "State": "available", "OwnerId": ACCOUNT, "IsDefault": false,
            "CidrBlockAssociationSet": [{"AssociationId": "vpc-cidr-assoc-0a20000000000a016", "CidrBlock": "10.20.0.0/16", "CidrBlockState": {"State": "associated"}}],
            "Tags": name_tag("ml-prod")}]}),
    )?;
    let mut subnets = vec![
        json!({"SubnetId": PUBLIC_SUBNET, "VpcId": VPC_ID, "CidrBlock": "10.20.0.0/24", "AvailabilityZone": AZS[0], "AvailabilityZoneId": AZ_IDS[0], "MapPublicIpOnLaunch": true, "State": "available", "OwnerId": ACCOUNT, "Tags": name_tag("ml-prod-public-a")}),
    ];
    for az in 0..2 {
        subnets.push(json!({"SubnetId": PRIVATE_SUBNETS[az], "VpcId": VPC_ID, "CidrBlock": cidr(PRIVATE_CIDRS[az]), "AvailabilityZone": AZS[az], "AvailabilityZoneId": AZ_IDS[az], "MapPublicIpOnLaunch": false, "State": "available", "OwnerId": ACCOUNT, "Tags": name_tag(&format!("ml-prod-private-{}", &AZS[az][9..]))}));
    }
    write_json(&ec2.join("subnets.json"), &json!({ "Subnets": subnets }))?;
    write_json(
        &ec2.join("route-tables.json"),
        &json!({"RouteTables": [
            {"RouteTableId": RT_MAIN, "VpcId": VPC_ID, "OwnerId": ACCOUNT,
             "Associations": [{"Main": true, "RouteTableAssociationId": "rtbassoc-0a20000000000a000", "RouteTableId": RT_MAIN, "AssociationState": {"State": "associated"}}],
             "Routes": [{"DestinationCidrBlock": "10.20.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"}],
             "Tags": name_tag("ml-prod-main")},
            {"RouteTableId": RT_PUBLIC, "VpcId": VPC_ID, "OwnerId": ACCOUNT,
             "Associations": [{"Main": false, "SubnetId": PUBLIC_SUBNET, "RouteTableAssociationId": "rtbassoc-0a20000000000a002", "RouteTableId": RT_PUBLIC, "AssociationState": {"State": "associated"}}],
             "Routes": [{"DestinationCidrBlock": "10.20.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
                        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": IGW_ID, "Origin": "CreateRoute", "State": "active"}],
             "Tags": name_tag("ml-prod-public")},
            {"RouteTableId": RT_PRIVATE, "VpcId": VPC_ID, "OwnerId": ACCOUNT,
             "Associations": [
                {"Main": false, "SubnetId": PRIVATE_SUBNETS[0], "RouteTableAssociationId": "rtbassoc-0a20000000000a011", "RouteTableId": RT_PRIVATE, "AssociationState": {"State": "associated"}},
                {"Main": false, "SubnetId": PRIVATE_SUBNETS[1], "RouteTableAssociationId": "rtbassoc-0a20000000000a012", "RouteTableId": RT_PRIVATE, "AssociationState": {"State": "associated"}}],
             "Routes": [{"DestinationCidrBlock": "10.20.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
                        {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": NAT_ID, "Origin": "CreateRoute", "State": "active"},
                        {"DestinationPrefixListId": S3_PREFIX_LIST, "GatewayId": S3_GATEWAY_ENDPOINT, "Origin": "CreateRoute", "State": "active"}],
             "Tags": name_tag("ml-prod-private")}
        ]}),
    )?;
    write_json(
        &ec2.join("nat-gateways.json"),
        &json!({"NatGateways": [{"NatGatewayId": NAT_ID, "SubnetId": PUBLIC_SUBNET, "VpcId": VPC_ID, "State": "available", "ConnectivityType": "public",
            "CreateTime": "2026-03-02T10:00:00.000000+00:00",
            "NatGatewayAddresses": [{"AllocationId": "eipalloc-0a20000000000f001", "NetworkInterfaceId": NAT_ENI, "PrivateIp": ip(NAT_PRIVATE_IP), "PublicIp": ip(NAT_PUBLIC_IP), "IsPrimary": true, "Status": "succeeded"}],
            "Tags": name_tag("ml-prod-nat-a")}]}),
    )?;
    let mut endpoints = vec![
        json!({"VpcEndpointId": S3_GATEWAY_ENDPOINT, "VpcEndpointType": "Gateway", "VpcId": VPC_ID,
        "ServiceName": format!("com.amazonaws.{REGION}.s3"), "State": "available", "RouteTableIds": [RT_PRIVATE], "SubnetIds": [], "NetworkInterfaceIds": [],
        "PrivateDnsEnabled": false, "RequesterManaged": false, "OwnerId": ACCOUNT, "CreationTimestamp": "2026-03-02T10:05:00+00:00",
        "PolicyDocument": "{\"Version\":\"2008-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}),
    ];
    for (k, (svc, id)) in INTERFACE_ENDPOINTS.iter().enumerate() {
        endpoints.push(json!({"VpcEndpointId": id, "VpcEndpointType": "Interface", "VpcId": VPC_ID,
            "ServiceName": format!("com.amazonaws.{REGION}.{svc}"), "State": "available", "RouteTableIds": [],
            "SubnetIds": PRIVATE_SUBNETS, "NetworkInterfaceIds": [vpce_eni_id(k, 0), vpce_eni_id(k, 1)],
            "Groups": [{"GroupId": VPCE_SG, "GroupName": "ml-prod-vpce"}], "PrivateDnsEnabled": true, "RequesterManaged": false,
            "OwnerId": ACCOUNT, "CreationTimestamp": "2026-03-02T10:05:00+00:00", "IpAddressType": "ipv4"}));
    }
    write_json(
        &ec2.join("vpc-endpoints.json"),
        &json!({ "VpcEndpoints": endpoints }),
    )?;
    write_json(
        &ec2.join("flow-logs.json"),
        &json!({"FlowLogs": [{"FlowLogId": FLOW_LOG_ID, "ResourceId": VPC_ID, "TrafficType": "ALL", "LogDestinationType": "s3",
            "LogDestination": "arn:aws:s3:::ml-prod-flow-logs/flowlogs", "FlowLogStatus": "ACTIVE", "DeliverLogsStatus": "SUCCESS",
            "MaxAggregationInterval": 60,
            "LogFormat": HEADER.split(' ').map(|f| format!("${{{f}}}")).collect::<Vec<_>>().join(" ")}]}),
    )?;
    files += 7;

    // ENIs: the NAT gateway's, the interface endpoints', and every SageMaker one (job ENIs
    // are listed although a real snapshot would no longer show finished jobs' ENIs).
    let dns = |a: u32| format!("ip-{}.ec2.internal", ip(a).replace('.', "-"));
    let mut enis = vec![
        json!({"NetworkInterfaceId": NAT_ENI, "Description": format!("Interface for NAT Gateway {NAT_ID}"),
        "InterfaceType": "nat_gateway", "RequesterManaged": true, "RequesterId": "036872051663", "Status": "in-use",
        "SubnetId": PUBLIC_SUBNET, "VpcId": VPC_ID, "AvailabilityZone": AZS[0], "OwnerId": ACCOUNT, "Groups": [], "SourceDestCheck": false,
        "PrivateIpAddress": ip(NAT_PRIVATE_IP), "PrivateDnsName": dns(NAT_PRIVATE_IP),
        "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": ip(NAT_PRIVATE_IP), "PrivateDnsName": dns(NAT_PRIVATE_IP),
            "Association": {"IpOwnerId": "amazon", "PublicIp": ip(NAT_PUBLIC_IP)}}],
        "Association": {"IpOwnerId": "amazon", "PublicIp": ip(NAT_PUBLIC_IP)},
        "Attachment": {"AttachmentId": "ela-attach-0a20000000000f001", "DeleteOnTermination": false, "DeviceIndex": 1, "InstanceOwnerId": "amazon-aws", "Status": "attached"},
        "TagSet": []}),
    ];
    for (k, (_, id)) in INTERFACE_ENDPOINTS.iter().enumerate() {
        for az in 0..2 {
            let a = vpce_ip(k, az);
            enis.push(json!({"NetworkInterfaceId": vpce_eni_id(k, az), "Description": format!("VPC Endpoint Interface {id}"),
                "InterfaceType": "vpc_endpoint", "RequesterManaged": true, "RequesterId": "727180483921", "Status": "in-use",
                "SubnetId": PRIVATE_SUBNETS[az], "VpcId": VPC_ID, "AvailabilityZone": AZS[az], "OwnerId": ACCOUNT,
                "Groups": [{"GroupId": VPCE_SG, "GroupName": "ml-prod-vpce"}], "SourceDestCheck": true,
                "PrivateIpAddress": ip(a), "PrivateDnsName": dns(a),
                "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": ip(a), "PrivateDnsName": dns(a)}], "TagSet": []}));
        }
    }
    let mut labels = Vec::new();
    for e in &w.enis {
        let r = &w.res[e.res];
        let desc = if r.kind == Kind::Notebook {
            format!("[Do not delete] Network Interface created to access resources in your VPC for SageMaker Notebook Instance {}", r.name)
        } else {
            // SageMaker leaves job and endpoint ENIs without a description.
            String::new()
        };
        enis.push(json!({"NetworkInterfaceId": e.id, "Description": desc, "InterfaceType": "interface",
            "RequesterManaged": true, "RequesterId": "AROAXJ2QB5R3SAGEMKR7:SageMaker", "Status": "in-use",
            "SubnetId": PRIVATE_SUBNETS[e.az], "VpcId": VPC_ID, "AvailabilityZone": AZS[e.az], "OwnerId": ACCOUNT,
            "Groups": [{"GroupId": r.sg, "GroupName": format!("{}-sg", r.family)}], "SourceDestCheck": true,
            "PrivateIpAddress": ip(e.ip), "PrivateDnsName": dns(e.ip),
            "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": ip(e.ip), "PrivateDnsName": dns(e.ip)}],
            "Attachment": {"AttachTime": cli_time(r.start * 1000 - 60_000), "AttachmentId": format!("ela-attach-0{:016x}", hash_str(&e.id, 7)),
                "DeleteOnTermination": false, "DeviceIndex": 1, "InstanceOwnerId": "502893829561", "Status": "attached"},
            "TagSet": []}));
        if r.kind != Kind::Notebook {
            labels.push(json!({"NetworkInterfaceId": e.id, "Kind": r.kind.as_str(), "Name": r.name, "Arn": r.arn(), "NetworkIsolation": false}));
        }
    }
    write_json(
        &ec2.join("network-interfaces.json"),
        &json!({ "NetworkInterfaces": enis }),
    )?;
    // Job and endpoint ENIs carry no description naming their resource, so an egresswatch ENI
    // label file states the attribution (the tool treats labels as exact).
    write_json(
        &dir.join("eni-labels.json"),
        &json!({ "EniLabels": labels }),
    )?;
    files += 2;

    let bucket = "s3://ml-prod-artifacts-111122223333";
    let image = |repo: &str| format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repo}:latest");
    for r in &w.res {
        let vpc = json!({"SecurityGroupIds": [r.sg], "Subnets": PRIVATE_SUBNETS});
        let path = sm.join(format!("{}-{}.json", r.kind.as_str(), r.name));
        match r.kind {
            Kind::Training => write_json(
                &path,
                &json!({
                    "TrainingJobName": r.name, "TrainingJobArn": r.arn(),
                    "ModelArtifacts": {"S3ModelArtifacts": format!("{bucket}/models/{}/output/model.tar.gz", r.name)},
                    "TrainingJobStatus": "Completed", "SecondaryStatus": "Completed",
                    "AlgorithmSpecification": {"TrainingImage": image(r.family), "TrainingInputMode": "File"},
                    "RoleArn": format!("arn:aws:iam::{ACCOUNT}:role/sagemaker-training"),
                    "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": format!("{bucket}/datasets/{}/train/", r.family), "S3DataDistributionType": "FullyReplicated"}}}],
                    "OutputDataConfig": {"KmsKeyId": "", "S3OutputPath": format!("{bucket}/models/")},
                    "ResourceConfig": {"InstanceType": r.instance_type, "InstanceCount": r.instances, "VolumeSizeInGB": 100},
                    "VpcConfig": vpc, "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
                    "CreationTime": cli_time(r.created_ms), "TrainingStartTime": cli_time(r.start * 1000),
                    "TrainingEndTime": cli_time(r.end * 1000), "LastModifiedTime": cli_time(r.end * 1000 + 2_000),
                    "TrainingTimeInSeconds": r.end - r.start, "BillableTimeInSeconds": r.end - r.start,
                    "EnableNetworkIsolation": false, "EnableInterContainerTrafficEncryption": r.instances > 1,
                    "EnableManagedSpotTraining": false,
                }),
            )?,
            Kind::Processing => write_json(
                &path,
                &json!({
                    "ProcessingJobName": r.name, "ProcessingJobArn": r.arn(), "ProcessingJobStatus": "Completed",
                    "ProcessingInputs": [{"InputName": "raw", "S3Input": {"S3Uri": format!("{bucket}/raw/"), "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
                    "ProcessingOutputConfig": {"Outputs": [{"OutputName": "features", "S3Output": {"S3Uri": format!("{bucket}/features/"), "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
                    "ProcessingResources": {"ClusterConfig": {"InstanceCount": r.instances, "InstanceType": r.instance_type, "VolumeSizeInGB": 30}},
                    "AppSpecification": {"ImageUri": image(r.family)},
                    "NetworkConfig": {"EnableInterContainerTrafficEncryption": false, "EnableNetworkIsolation": false, "VpcConfig": vpc},
                    "RoleArn": format!("arn:aws:iam::{ACCOUNT}:role/sagemaker-processing"),
                    "CreationTime": cli_time(r.created_ms), "ProcessingStartTime": cli_time(r.start * 1000),
                    "ProcessingEndTime": cli_time(r.end * 1000), "LastModifiedTime": cli_time(r.end * 1000 + 2_000),
                }),
            )?,
            Kind::Endpoint => {
                let model = format!("{}-model-v7", r.name);
                let cfgname = format!("{}-config-v7", r.name);
                write_json(
                    &sm.join(format!("model-{model}.json")),
                    &json!({
                        "ModelName": model, "ModelArn": format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/{model}"),
                        "PrimaryContainer": {"Image": image(r.family), "Mode": "SingleModel", "ModelDataUrl": format!("{bucket}/models/{}/model.tar.gz", r.family)},
                        "ExecutionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/sagemaker-inference"),
                        "VpcConfig": vpc, "EnableNetworkIsolation": false, "CreationTime": cli_time(r.created_ms - 600_000),
                    }),
                )?;
                write_json(
                    &sm.join(format!("endpoint-config-{cfgname}.json")),
                    &json!({
                        "EndpointConfigName": cfgname, "EndpointConfigArn": format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/{cfgname}"),
                        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": r.instances, "InstanceType": r.instance_type, "InitialVariantWeight": 1.0}],
                        "CreationTime": cli_time(r.created_ms - 300_000),
                    }),
                )?;
                write_json(
                    &path,
                    &json!({
                        "EndpointName": r.name, "EndpointArn": r.arn(), "EndpointConfigName": cfgname, "EndpointStatus": "InService",
                        "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": r.instances, "DesiredInstanceCount": r.instances, "CurrentWeight": 1.0, "DesiredWeight": 1.0}],
                        "CreationTime": cli_time(r.created_ms), "LastModifiedTime": cli_time(r.created_ms + 420_000),
                    }),
                )?;
                files += 2;
            }
            Kind::Notebook => write_json(
                &path,
                &json!({
                    "NotebookInstanceName": r.name, "NotebookInstanceArn": r.arn(), "NotebookInstanceStatus": "InService",
                    "InstanceType": r.instance_type, "SubnetId": PRIVATE_SUBNETS[w.enis[r.enis[0]].az], "SecurityGroups": [r.sg],
                    "RoleArn": format!("arn:aws:iam::{ACCOUNT}:role/sagemaker-notebooks"),
                    "NetworkInterfaceId": w.enis[r.enis[0]].id, "DirectInternetAccess": "Disabled", "RootAccess": "Disabled",
                    "VolumeSizeInGB": 50, "CreationTime": cli_time(r.created_ms), "LastModifiedTime": cli_time(r.created_ms + 3_600_000),
                }),
            )?,
        }
        files += 1;
    }

    // ip-ranges.json: every specific range is also listed under AMAZON, as in the real file.
    let mut prefixes = Vec::new();
    let groups: [(&[(u32, u8)], &str); 4] = [
        (S3_PREFIXES, "S3"),
        (AMAZON_PREFIXES, "AMAZON"),
        (DDB_PREFIXES, "DYNAMODB"),
        (EC2_PREFIXES, "EC2"),
    ];
    for (nets, svc) in groups {
        for &n in nets {
            prefixes.push(json!({"ip_prefix": cidr(n), "region": REGION, "service": "AMAZON", "network_border_group": REGION}));
            if svc != "AMAZON" {
                prefixes.push(json!({"ip_prefix": cidr(n), "region": REGION, "service": svc, "network_border_group": REGION}));
            }
        }
    }
    write_json(
        &dir.join("ip-ranges.json"),
        &json!({"syncToken": "1791072000", "createDate": "2026-10-04-00-00-00", "prefixes": prefixes, "ipv6_prefixes": []}),
    )?;
    files += 1;
    Ok(files)
}

// ---------------------------------------------------------------------------------------------
// Entry point

/// Generates the account under `out` (replacing `flowlogs/`, `flowlogs-parquet/`, `inventory/`
/// and `labels.json`) and returns the labels it also writes to `out/labels.json`.
pub fn generate(cfg: &Config, out: &Path) -> std::io::Result<Labels> {
    if cfg.weeks < 3 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "--weeks must be at least 3 (2 warm-up weeks and 1 injected week)",
        ));
    }
    if !(cfg.scale > 0.0 && cfg.scale.is_finite()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "--scale must be a positive number",
        ));
    }
    for sub in ["flowlogs", "flowlogs-parquet", "inventory"] {
        let d = out.join(sub);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
    }
    std::fs::create_dir_all(out)?;
    let built = build(cfg);
    let w = &built.world;
    let weeks = i64::from(cfg.weeks);
    let end = START + weeks * WEEK;
    let warm_until = START + 2 * WEEK;
    let inj = end - WEEK;

    let mut counts = Counts::default();
    let mut anomaly_records = vec![0u64; built.probes.len()];
    let mut active: BTreeSet<(usize, i64)> = BTreeSet::new();
    let mut recs: Vec<Rec> = Vec::new();
    let mut text = String::new();
    let text_root = out.join("flowlogs");
    let pq_root = out.join("flowlogs-parquet");
    for (h, segs) in built.plan.hours.iter().enumerate() {
        let t = START + h as i64 * HOUR;
        let mut rng = Rng::new(cfg.seed ^ 0x5eed_0f4e_c04d, h as u64);
        recs.clear();
        for s in segs {
            render_seg(w, s, cfg.scale, &mut rng, &mut recs);
        }
        if recs.is_empty() {
            continue;
        }
        recs.sort_by_key(|r| (r.start, r.eni, r.end));
        text.clear();
        text.push_str(HEADER);
        text.push('\n');
        for r in &recs {
            put_line(&mut text, w, r);
            if r.egress {
                counts.egress_records += 1;
                counts.egress_bytes += r.bytes;
                if t >= warm_until && t < inj {
                    active.insert((w.enis[r.eni].res, h as i64));
                }
                for (k, p) in built.probes.iter().enumerate() {
                    let hit = p.enis.contains(&r.eni)
                        && r.start >= p.t0
                        && r.start < p.t1
                        && match p.dst {
                            ProbeDst::S3 => r.svc == "S3",
                            ProbeDst::Net24(n) => r.dst & 0xffff_ff00 == n,
                            ProbeDst::Host(a, port) => r.dst == a && r.dport == port,
                        };
                    anomaly_records[k] += u64::from(hit);
                }
            } else {
                counts.ingress_records += 1;
                counts.ingress_bytes += r.bytes;
            }
        }
        counts.records += recs.len() as u64;
        let path = object_path(&text_root, t, "log.gz");
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        gz.write_all(text.as_bytes())?;
        gz.finish()?.flush()?;
        counts.objects += 1;
        if cfg.parquet {
            let path = object_path(&pq_root, t, "log.parquet");
            if let Some(d) = path.parent() {
                std::fs::create_dir_all(d)?;
            }
            write_parquet(&path, w, &recs)?;
            counts.parquet_objects += 1;
        }
    }
    counts.enis = w.enis.len() as u64;
    counts.inventory_files = write_inventory(&out.join("inventory"), w)?;

    let mut anomalies = built.anomalies.clone();
    for (a, n) in anomalies.iter_mut().zip(anomaly_records) {
        a.records = n;
    }
    // The new-port run's bytes are known only once rendered: sum them from the plan.
    for (a, p) in anomalies.iter_mut().zip(&built.probes) {
        if a.bytes == 0 {
            a.bytes = built
                .plan
                .hours
                .iter()
                .flatten()
                .filter(|s| {
                    p.enis.contains(&s.eni)
                        && s.t0 >= p.t0
                        && s.t0 < p.t1
                        && matches!((s.dst, p.dst), (Dst::Host(x), ProbeDst::Host(y, port)) if x == y && s.dport == port)
                })
                .map(|s| s.egress)
                .sum();
        }
    }
    let mut by_family: BTreeMap<String, u64> = BTreeMap::new();
    for &(r, _) in &active {
        *by_family.entry(w.res[r].family.to_string()).or_default() += 1;
    }
    let labels = Labels {
        generator: GENERATOR.into(),
        config: cfg.clone(),
        account: ACCOUNT.into(),
        region: REGION.into(),
        vpc_id: VPC_ID.into(),
        start: START,
        end,
        warm_until,
        benign: Window::new(warm_until, inj),
        injected: Window::new(inj, end),
        workload_hours: active.len() as u64,
        workload_hours_by_family: by_family,
        anomalies,
        novelties: built.novelties.clone(),
        resources: w
            .res
            .iter()
            .map(|r| Resource {
                kind: r.kind.as_str().into(),
                name: r.name.clone(),
                family: r.family.into(),
                arn: r.arn(),
                start: r.start,
                end: r.end,
                enis: r.enis.iter().map(|&e| w.enis[e].id.clone()).collect(),
            })
            .collect(),
        counts,
    };
    let mut text = serde_json::to_string_pretty(&labels).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(out.join("labels.json"), text)?;
    Ok(labels)
}

/// Day folders (`.../YYYY/MM/DD`) of a generated flow-log tree (`<out>/flowlogs`), in date
/// order: the tests split runs by them.
pub fn day_dirs(root: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        let mut e: Vec<PathBuf> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        e.sort();
        for p in e {
            if depth == 0 {
                out.push(p);
            } else {
                walk(&p, depth - 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &root.join("AWSLogs/111122223333/vpcflowlogs/us-east-1"),
        2,
        &mut out,
    );
    out
}
