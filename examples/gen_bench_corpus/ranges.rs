//! A synthetic `ip-ranges.json` of realistic size and shape (~7 000 IPv4 and ~2 000 IPv6
//! entries, the real subsets and regions, every specific range also listed under AMAZON) that
//! contains the AWS ranges the generated traffic uses and, by construction and by a final check,
//! none of the "internet" ranges.

use serde_json::{json, Value};

use crate::rng::Rng;

pub type Net4 = (u32, u8);

pub const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

pub fn size4(len: u8) -> u64 {
    1u64 << (32 - len as u32)
}

fn overlaps4(a: Net4, b: Net4) -> bool {
    let (a0, a1) = (a.0 as u64, a.0 as u64 + size4(a.1));
    let (b0, b1) = (b.0 as u64, b.0 as u64 + size4(b.1));
    a0 < b1 && b0 < a1
}

/// Ranges the traffic draws AWS destinations from. Real prefixes of the real subsets, so that a
/// reader who knows AWS recognises them (S3 us-east-1 52.216.0.0/15, ...).
pub const S3_USE1: &[Net4] = &[
    (v4(52, 216, 0, 0), 15),
    (v4(3, 5, 0, 0), 19),
    (v4(54, 231, 0, 0), 17),
    (v4(16, 182, 0, 0), 16),
];
pub const S3_EUW1: &[Net4] = &[(v4(52, 218, 0, 0), 17), (v4(3, 5, 64, 0), 21)];
pub const DDB_USE1: &[Net4] = &[(v4(3, 218, 180, 0), 22), (v4(52, 94, 0, 0), 22)];
/// Only in the AMAZON subset: the public SageMaker API / STS / ... endpoints live here.
pub const AMAZON_USE1: &[Net4] = &[
    (v4(54, 239, 0, 0), 17),
    (v4(52, 46, 0, 0), 18),
    (v4(52, 119, 160, 0), 20),
    (v4(52, 94, 224, 0), 20),
];
/// EC2 public addresses: Elastic IPs of the NAT gateways and public instances, other
/// customers' servers.
pub const EC2_USE1: &[Net4] = &[
    (v4(54, 144, 0, 0), 14),
    (v4(3, 80, 0, 0), 12),
    (v4(44, 192, 0, 0), 11),
    (v4(34, 192, 0, 0), 12),
];
pub const CLOUDFRONT: &[Net4] = &[
    (v4(13, 32, 0, 0), 15),
    (v4(13, 224, 0, 0), 14),
    (v4(99, 84, 0, 0), 16),
    (v4(18, 64, 0, 0), 14),
];

/// Public, non-AWS destinations: the documentation ranges (TEST-NET-1/2/3) and well-known
/// non-AWS services a training job or notebook reaches through a NAT gateway (PyPI/Fastly,
/// GitHub, Cloudflare, public DNS). None may ever be covered by the generated ip-ranges.json.
pub const INTERNET: &[Net4] = &[
    (v4(192, 0, 2, 0), 24),
    (v4(198, 51, 100, 0), 24),
    (v4(203, 0, 113, 0), 24),
    (v4(151, 101, 0, 0), 16),
    (v4(140, 82, 112, 0), 20),
    (v4(185, 199, 108, 0), 22),
    (v4(104, 16, 0, 0), 13),
    (v4(8, 8, 4, 0), 23),
    (v4(1, 0, 0, 0), 24),
    (v4(1, 1, 1, 0), 24),
];

/// Where synthetic AWS prefixes are carved from (blocks AWS really announces from).
const POOLS4: &[Net4] = &[
    (v4(3, 0, 0, 0), 8),
    (v4(13, 0, 0, 0), 8),
    (v4(15, 0, 0, 0), 8),
    (v4(16, 0, 0, 0), 8),
    (v4(18, 0, 0, 0), 8),
    (v4(35, 152, 0, 0), 13),
    (v4(44, 192, 0, 0), 10),
    (v4(50, 16, 0, 0), 14),
    (v4(52, 0, 0, 0), 8),
    (v4(54, 0, 0, 0), 8),
    (v4(99, 0, 0, 0), 8),
    (v4(107, 20, 0, 0), 14),
    (v4(176, 32, 64, 0), 19),
    (v4(184, 72, 0, 0), 15),
    (v4(204, 236, 128, 0), 17),
    (v4(205, 251, 192, 0), 18),
];
const POOLS6: &[(u128, u8)] = &[
    (0x2600_1f00 << 96, 24),
    (0x2a05_d000 << 96, 25),
    (0x2406_da00 << 96, 24),
    (0x2600_9000 << 96, 28),
    (0x2620_0107_3000 << 80, 44),
    (0x2a01_0578 << 96, 32),
    (0x2400_6500 << 96, 32),
];

const REGIONS: &[(&str, u32)] = &[
    ("us-east-1", 20),
    ("us-west-2", 12),
    ("eu-west-1", 10),
    ("eu-central-1", 7),
    ("us-east-2", 6),
    ("ap-northeast-1", 6),
    ("ap-southeast-1", 5),
    ("ap-southeast-2", 4),
    ("ap-south-1", 4),
    ("eu-west-2", 4),
    ("us-west-1", 3),
    ("ca-central-1", 3),
    ("sa-east-1", 3),
    ("ap-northeast-2", 3),
    ("eu-north-1", 2),
    ("eu-west-3", 2),
    ("me-south-1", 1),
    ("af-south-1", 1),
];

/// (subset, weight, global?) for synthetic specific ranges, roughly the real file's mix.
const SERVICES4: &[(&str, u32, bool)] = &[
    ("EC2", 480, false),
    ("S3", 50, false),
    ("API_GATEWAY", 45, false),
    ("CLOUDFRONT", 40, true),
    ("GLOBALACCELERATOR", 35, true),
    ("DYNAMODB", 25, false),
    ("EBS", 25, false),
    ("ROUTE53_HEALTHCHECKS", 20, false),
    ("CLOUDFRONT_ORIGIN_FACING", 20, true),
    ("AMAZON_CONNECT", 20, false),
    ("CODEBUILD", 18, false),
    ("WORKSPACES_GATEWAYS", 15, false),
    ("EC2_INSTANCE_CONNECT", 12, false),
    ("CLOUD9", 12, false),
    ("EFS", 12, false),
    ("ROUTE53_RESOLVER", 12, false),
    ("CHIME_MEETINGS", 10, false),
    ("KINESIS_VIDEO_STREAMS", 10, false),
    ("AMAZON_APPFLOW", 10, false),
    ("CHIME_VOICECONNECTOR", 8, false),
    ("ROUTE53_HEALTHCHECKS_PUBLISHING", 8, false),
    ("IVS_REALTIME", 8, false),
    ("AURORA_DSQL", 6, false),
    ("ROUTE53", 5, true),
    ("IVS_LOW_LATENCY", 5, false),
    ("MEDIA_PACKAGE_V2", 5, false),
];
const SERVICES6: &[(&str, u32, bool)] = &[
    ("EC2", 350, false),
    ("S3", 100, false),
    ("API_GATEWAY", 50, false),
    ("CLOUDFRONT", 50, true),
    ("IOT_CORE", 40, false),
    ("ROUTE53_HEALTHCHECKS", 30, false),
    ("DYNAMODB", 30, false),
    ("EBS", 30, false),
    ("GLOBALACCELERATOR", 20, true),
];

/// Prefix lengths and weights, shaped like the real file (mostly /24 to /16, some tiny ones).
const LENS4: &[(u8, u32)] = &[
    (28, 40),
    (27, 20),
    (26, 20),
    (25, 15),
    (24, 330),
    (23, 70),
    (22, 120),
    (21, 80),
    (20, 80),
    (19, 50),
    (18, 45),
    (17, 40),
    (16, 60),
    (15, 20),
    (14, 10),
];
const LENS6: &[(u8, u32)] = &[
    (64, 10),
    (56, 30),
    (48, 15),
    (44, 10),
    (40, 20),
    (36, 10),
    (32, 5),
];

struct Entry {
    prefix: String,
    v6: bool,
    region: String,
    service: &'static str,
    border: String,
}

fn ip4(a: u32) -> String {
    let b = a.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn net6(base: u128, len: u8) -> String {
    format!("{}/{len}", std::net::Ipv6Addr::from(base))
}

fn border(region: &str, rng: &mut Rng) -> String {
    // A few us-east-1 ranges belong to Local Zones, as in the real file.
    if region == "us-east-1" && rng.chance(0.04) {
        (*rng.pick(&["us-east-1-bos-1", "us-east-1-atl-1", "us-east-1-mia-1"])).to_string()
    } else {
        region.to_string()
    }
}

fn pick_region(rng: &mut Rng, global: bool) -> &'static str {
    if global {
        return "GLOBAL";
    }
    let w: Vec<u32> = REGIONS.iter().map(|r| r.1).collect();
    REGIONS[rng.weighted(&w)].0
}

/// Builds the document. Returns it with its IPv4 and IPv6 entry counts.
pub fn build(rng: &mut Rng) -> (Value, usize, usize) {
    let mut entries: Vec<Entry> = Vec::new();
    let push4 =
        |entries: &mut Vec<Entry>, n: Net4, region: &str, service: &'static str, rng: &mut Rng| {
            let b = border(region, rng);
            for svc in if service == "AMAZON" {
                vec!["AMAZON"]
            } else {
                // The real file lists every specific range under AMAZON as well.
                vec!["AMAZON", service]
            } {
                entries.push(Entry {
                    prefix: format!("{}/{}", ip4(n.0), n.1),
                    v6: false,
                    region: region.to_string(),
                    service: svc,
                    border: b.clone(),
                });
            }
        };
    let fixed: Vec<(&[Net4], &str, &'static str)> = vec![
        (S3_USE1, "us-east-1", "S3"),
        (S3_EUW1, "eu-west-1", "S3"),
        (DDB_USE1, "us-east-1", "DYNAMODB"),
        (AMAZON_USE1, "us-east-1", "AMAZON"),
        (EC2_USE1, "us-east-1", "EC2"),
        (CLOUDFRONT, "GLOBAL", "CLOUDFRONT"),
    ];
    let mut taken: Vec<Net4> = Vec::new();
    for (nets, region, svc) in &fixed {
        for &n in *nets {
            push4(&mut entries, n, region, svc, rng);
            taken.push(n);
        }
    }

    // Synthetic IPv4: a bump allocator per pool, skipping the fixed ranges, so no two distinct
    // prefixes overlap and "which subset is this address in" has one answer.
    let mut cursor: Vec<u64> = POOLS4.iter().map(|p| p.0 as u64).collect();
    let pool_w: Vec<u32> = POOLS4.iter().map(|p| (size4(p.1) >> 16) as u32).collect();
    let len_w: Vec<u32> = LENS4.iter().map(|l| l.1).collect();
    let svc_w: Vec<u32> = SERVICES4.iter().map(|s| s.1).collect();
    let (amazon_only, specific) = (1050, 2960);
    for k in 0..amazon_only + specific {
        let len = LENS4[rng.weighted(&len_w)].0;
        let size = size4(len);
        let mut p = rng.weighted(&pool_w);
        let net = loop {
            let end = POOLS4[p].0 as u64 + size4(POOLS4[p].1);
            let base = cursor[p].div_ceil(size) * size;
            if base + size > end {
                p = (p + 1) % POOLS4.len();
                continue;
            }
            let cand = (base as u32, len);
            cursor[p] = base + size;
            if let Some(t) = taken.iter().find(|&&t| overlaps4(t, cand)) {
                cursor[p] = cursor[p].max(t.0 as u64 + size4(t.1));
                continue;
            }
            // Gaps between announcements, as in real address plans.
            cursor[p] += rng.below(size * 2 + 1);
            break cand;
        };
        taken.push(net);
        let (svc, global) = if k < amazon_only {
            ("AMAZON", false)
        } else {
            let s = SERVICES4[rng.weighted(&svc_w)];
            (s.0, s.2)
        };
        let region = pick_region(rng, global);
        push4(&mut entries, net, region, svc, rng);
    }
    for i in INTERNET {
        assert!(
            !taken.iter().any(|&t| overlaps4(t, *i)),
            "ip-ranges would cover internet range {}/{}",
            ip4(i.0),
            i.1
        );
    }

    let mut cursor6: Vec<u128> = POOLS6.iter().map(|p| p.0).collect();
    let len6_w: Vec<u32> = LENS6.iter().map(|l| l.1).collect();
    let svc6_w: Vec<u32> = SERVICES6.iter().map(|s| s.1).collect();
    let (amazon6, specific6) = (300, 850);
    for k in 0..amazon6 + specific6 {
        let len = LENS6[rng.weighted(&len6_w)].0;
        let size: u128 = 1u128 << (128 - len as u32);
        let mut p = rng.below(POOLS6.len() as u64) as usize;
        let base = loop {
            let end = POOLS6[p].0 + (1u128 << (128 - POOLS6[p].1 as u32));
            let base = cursor6[p].div_ceil(size) * size;
            if base + size > end {
                p = (p + 1) % POOLS6.len();
                continue;
            }
            cursor6[p] = base + size + size * rng.below(3) as u128;
            break base;
        };
        let (svc, global) = if k < amazon6 {
            ("AMAZON", false)
        } else {
            let s = SERVICES6[rng.weighted(&svc6_w)];
            (s.0, s.2)
        };
        let region = pick_region(rng, global);
        let b = border(region, rng);
        let svcs = if svc == "AMAZON" {
            vec!["AMAZON"]
        } else {
            vec!["AMAZON", svc]
        };
        for s in svcs {
            entries.push(Entry {
                prefix: net6(base, len),
                v6: true,
                region: region.to_string(),
                service: s,
                border: b.clone(),
            });
        }
    }

    let (mut p4, mut p6) = (Vec::new(), Vec::new());
    for e in &entries {
        if e.v6 {
            p6.push(json!({"ipv6_prefix": e.prefix, "region": e.region, "service": e.service, "network_border_group": e.border}));
        } else {
            p4.push(json!({"ip_prefix": e.prefix, "region": e.region, "service": e.service, "network_border_group": e.border}));
        }
    }
    let (n4, n6) = (p4.len(), p6.len());
    let doc = json!({
        "syncToken": "1795132800",
        "createDate": "2026-11-20-00-00-00",
        "prefixes": p4,
        "ipv6_prefixes": p6,
    });
    (doc, n4, n6)
}
