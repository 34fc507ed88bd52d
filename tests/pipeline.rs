//! End-to-end tests over the bundled samples: exact golden findings, the controls that hold
//! raising nothing, stable ids, and Parquet/text equivalence.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use egresswatch::decode::{DecodeOptions, Input};
use egresswatch::detect::{Finding, RuleSet, Scope};
use egresswatch::enrich::Inventory;
use egresswatch::scan::{Engine, ScanOptions, ScanResult};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn engine() -> Engine {
    let inv = Inventory::load(&root().join("samples/inventory")).expect("sample inventory loads");
    Engine::new(&inv, &RuleSet::builtin(), Scope::Sagemaker, None)
}

fn scan_paths(paths: &[&str], threads: usize) -> ScanResult {
    let inputs: Vec<Input> = paths.iter().map(|p| Input::Path(root().join(p))).collect();
    let opts = ScanOptions {
        threads,
        ..Default::default()
    };
    engine().scan(&inputs, &opts)
}

fn demo() -> ScanResult {
    let inv = egresswatch::demo::inventory().unwrap();
    let e = Engine::new(&inv, &RuleSet::builtin(), Scope::Sagemaker, None);
    e.scan(&egresswatch::demo::inputs(), &ScanOptions::default())
}

fn find<'a>(fs: &'a [Finding], category: &str, eni: &str, dst: &str) -> Vec<&'a Finding> {
    fs.iter()
        .filter(|f| f.category == category && f.eni == eni && f.dst_ip.as_deref() == Some(dst))
        .collect()
}

#[test]
fn cli_scan_matches_golden_file_exactly() {
    let out = Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .current_dir(root())
        .args([
            "scan",
            "--inventory",
            "samples/inventory",
            "--format",
            "jsonl",
            "samples/flowlogs",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden = std::fs::read_to_string(root().join("tests/golden/samples.jsonl")).unwrap();
    let got = String::from_utf8(out.stdout).unwrap();
    assert_eq!(got.lines().count(), golden.lines().count());
    for (g, w) in got.lines().zip(golden.lines()) {
        assert_eq!(g, w);
    }
}

#[test]
fn demo_equals_scan_of_the_sample_folder() {
    let out = Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .current_dir(std::env::temp_dir())
        .args(["demo", "--format", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let golden = std::fs::read_to_string(root().join("tests/golden/samples.jsonl")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), golden);
    let text = Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .arg("demo")
        .output()
        .unwrap();
    let table = String::from_utf8(text.stdout).unwrap();
    assert!(table.starts_with("SEVERITY"), "{table}");
    assert!(table.contains("training-job/claims-isolated-train"));
}

#[test]
fn every_category_fires_on_the_samples_with_the_right_evidence() {
    let r = demo();
    let s = &r.summary;
    assert_eq!(
        (
            s.files,
            s.records,
            s.nodata,
            s.skipdata,
            s.skipped,
            s.failed_files
        ),
        (3, 31, 2, 1, 0, 0)
    );
    let f = &r.findings;
    let cats: BTreeSet<&str> = f.iter().map(|x| x.category.as_str()).collect();
    for c in [
        "isolation-violation",
        "internet-egress",
        "endpoint-bypass",
        "cross-region-s3",
        "plaintext-transit",
        "dns-egress",
        "blocked-egress-attempt",
    ] {
        assert!(cats.contains(c), "no {c} finding");
    }

    // Three flows to one host in one hour aggregate into one finding with summed counters.
    let exfil = find(
        f,
        "internet-egress",
        "eni-0f00000000000b101",
        "203.0.113.50",
    );
    let nine = exfil
        .iter()
        .find(|x| x.window_start.as_deref() == Some("2026-11-20T09:00:00Z"))
        .expect("09:00 window");
    assert_eq!(nine.flows, 3);
    assert_eq!(nine.bytes, 9_830_400 + 15_728_640 + 7_340_032);
    assert_eq!(nine.path, "nat-gateway");
    assert_eq!(nine.first_seen.as_deref(), Some("2026-11-20T09:01:00Z"));
    assert_eq!(nine.last_seen.as_deref(), Some("2026-11-20T09:05:58Z"));
    let lines: Vec<u64> = nine.evidence.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 4, 5]);
    let r = nine.resource.as_ref().unwrap();
    assert_eq!(
        (r.kind.as_str(), r.name.as_str(), r.network_isolation),
        ("training-job", "fraud-train-2026-11-20", Some(false))
    );
    // The same exfiltration shows up in all three hourly windows (text v2, text v5, Parquet).
    assert_eq!(exfil.len(), 3);

    // Isolation violation is attributed to the isolated job, endpoint-bypass names the service.
    let iso = find(
        f,
        "isolation-violation",
        "eni-0f00000000000b201",
        "198.51.100.77",
    );
    assert_eq!(iso.len(), 2);
    assert_eq!(iso[0].severity.as_str(), "critical");
    let bypass = find(
        f,
        "endpoint-bypass",
        "eni-0f00000000000b102",
        "3.218.180.10",
    );
    assert_eq!(bypass[0].dst_service.as_deref(), Some("DYNAMODB"));
    assert_eq!(bypass[0].dst_region.as_deref(), Some("us-east-1"));
    let xr = find(f, "cross-region-s3", "eni-0f00000000000b301", "52.218.5.6");
    assert_eq!(xr[0].dst_region.as_deref(), Some("eu-west-1"));
    let nb = find(
        f,
        "internet-egress",
        "eni-0f00000000000b501",
        "203.0.113.200",
    );
    assert_eq!(nb[0].path, "internet-gateway");
    assert_eq!(nb[0].resource.as_ref().unwrap().kind, "notebook-instance");
    let blocked = find(
        f,
        "blocked-egress-attempt",
        "eni-0f00000000000b401",
        "203.0.113.99",
    );
    assert_eq!(
        blocked[0].resource.as_ref().unwrap().name,
        "risk-scoring-prod"
    );
    assert_eq!(
        blocked[0].resource.as_ref().unwrap().network_isolation,
        Some(true)
    );

    // A record seen only on the NAT gateway's ENI is attributed to the processing job.
    let via_nat = find(
        f,
        "plaintext-transit",
        "eni-0f00000000000b301",
        "203.0.113.80",
    );
    let ten = via_nat
        .iter()
        .find(|x| x.window_start.as_deref() == Some("2026-11-20T10:00:00Z"))
        .expect("10:00 window");
    assert_eq!(ten.flows_seen_on_nat, 1);
}

#[test]
fn controls_that_hold_raise_nothing() {
    let f = demo().findings;
    // Not SageMaker: an EC2 instance and a Lambda ENI.
    assert!(f
        .iter()
        .all(|x| x.eni != "eni-0f00000000000c001" && x.eni != "eni-0f00000000000b601"));
    // S3 via the gateway endpoint, PrivateLink endpoints, training peers, return traffic, ingress.
    for dst in [
        "52.216.10.20",
        "52.216.10.21",
        "52.216.10.30",
        "52.216.10.40",
        "10.20.1.50",
        "10.20.1.51",
        "10.20.2.22",
        "203.0.113.9",
    ] {
        assert!(
            f.iter().all(|x| x.dst_ip.as_deref() != Some(dst)),
            "unexpected finding for {dst}"
        );
    }
    // The NAT gateway's own leg to the internet is not a workload's egress.
    assert!(f.iter().all(|x| x.eni != "eni-0f00000000000a001"));
}

#[test]
fn ids_are_stable_across_runs_and_thread_counts() {
    let paths = [
        "samples/flowlogs/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T0900Z_5e2a9c1b.log.gz",
        "samples/flowlogs/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60702_20261120T1000Z_7c4d1e0f.log.gz",
        "samples/flowlogs/AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60703_20261120T1100Z_9b3e6a2d.log.parquet",
    ];
    let one = scan_paths(&paths, 1).findings;
    let many = scan_paths(&paths, 3).findings;
    assert_eq!(one, many);
    let mut reversed = paths;
    reversed.reverse();
    let rev = scan_paths(&reversed, 2).findings;
    let ids = |v: &[Finding]| {
        v.iter()
            .map(|f| (f.id.clone(), f.flows, f.bytes))
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(ids(&one), ids(&rev));
    assert_eq!(
        one.iter().map(|f| &f.id).collect::<BTreeSet<_>>().len(),
        one.len()
    );
}

#[test]
fn parquet_and_its_text_source_give_the_same_findings() {
    let pq = scan_paths(
        &["samples/flowlogs/AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60703_20261120T1100Z_9b3e6a2d.log.parquet"],
        1,
    );
    let txt = scan_paths(&["samples/parquet-source/v5-1100.txt"], 1);
    assert_eq!(pq.summary.records, txt.summary.records);
    assert_eq!(pq.summary.nodata, 1);
    assert!(!pq.findings.is_empty());
    let key = |v: &[Finding]| {
        v.iter()
            .map(|f| {
                (
                    f.id.clone(),
                    f.flows,
                    f.bytes,
                    f.path.clone(),
                    f.first_seen.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&pq.findings), key(&txt.findings));
}

#[test]
fn parquet_projection_reads_only_the_requested_columns() {
    let input = Input::Path(root().join("samples/flowlogs/AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60703_20261120T1100Z_9b3e6a2d.log.parquet"));
    let mut batches = Vec::new();
    let opts = DecodeOptions {
        projection: Some(vec![
            egresswatch::schema::F::InterfaceId,
            egresswatch::schema::F::DstAddr,
        ]),
        ..Default::default()
    };
    let mut stats = egresswatch::decode::FileStats::new(&opts);
    egresswatch::decode::decode_input(&input, &opts, &mut stats, &mut |b| batches.push(b)).unwrap();
    let b = &batches[0];
    // Projected columns are populated, the others are all-null.
    assert_eq!(
        b.column(egresswatch::schema::F::DstAddr.index())
            .null_count(),
        1
    ); // the NODATA row
    assert_eq!(
        b.column(egresswatch::schema::F::SrcAddr.index())
            .null_count(),
        b.num_rows()
    );
}

#[test]
fn embedded_demo_files_are_exactly_the_sample_files() {
    fn walk(p: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p.strip_prefix(root()).unwrap().display().to_string());
            }
        }
    }
    let mut logs = Vec::new();
    walk(&root().join("samples/flowlogs"), &mut logs);
    logs.sort();
    let embedded: Vec<String> = egresswatch::demo::FLOW_LOGS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(logs, embedded);
    let mut inv = Vec::new();
    walk(&root().join("samples/inventory"), &mut inv);
    inv.sort();
    let embedded: Vec<String> = egresswatch::demo::INVENTORY
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(inv, embedded);
    for (name, bytes) in egresswatch::demo::FLOW_LOGS {
        assert_eq!(
            &std::fs::read(root().join(name)).unwrap()[..],
            *bytes,
            "{name} changed: rebuild"
        );
    }
}

/// On a NAT gateway's ENI the default format shows a workload's packet addressed to the NAT
/// itself: that record is the first leg of a flow the workload's own ENI logs with its real
/// destination, so it raises nothing; a leg that names the real destination (v3+
/// pkt-dstaddr) is attributed to the workload.
#[test]
fn nat_legs_addressed_to_the_nat_raise_nothing() {
    let text = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
        2 eni-0f00000000000a001 10.20.2.41 10.20.0.10 40000 53 17 1 80 1795172580 1795172600 ACCEPT OK\n\
        2 eni-0f00000000000a001 10.20.2.41 10.20.0.10 40001 80 6 1 80 1795172580 1795172600 ACCEPT OK\n";
    let input = Input::Memory {
        name: "nat.log".into(),
        data: bytes::Bytes::from(text.to_string()),
    };
    let r = engine().scan(&[input], &ScanOptions::default());
    assert_eq!(r.summary.records, 2);
    assert!(
        r.findings.is_empty(),
        "{:?}",
        r.findings.iter().map(|f| &f.category).collect::<Vec<_>>()
    );
    let text = "version interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr srcport dstport protocol packets bytes start end action log-status\n\
        3 eni-0f00000000000a001 10.20.2.41 10.20.0.10 10.20.2.41 192.0.2.53 40000 53 17 1 80 1795172580 1795172600 ACCEPT OK\n";
    let input = Input::Memory {
        name: "nat3.log".into(),
        data: bytes::Bytes::from(text.to_string()),
    };
    let r = engine().scan(&[input], &ScanOptions::default());
    let dns = find(
        &r.findings,
        "dns-egress",
        "eni-0f00000000000b301",
        "192.0.2.53",
    );
    assert_eq!(
        dns.len(),
        1,
        "{:?}",
        r.findings
            .iter()
            .map(|f| (&f.category, &f.eni, &f.dst_ip))
            .collect::<Vec<_>>()
    );
    assert_eq!(dns[0].flows_seen_on_nat, 1);
}

/// Scans flow-log text with the sample inventory; returns (category, dst_ip, dst_port) per
/// finding of the processing job's ENI, whose subnet routes to the internet through the NAT.
fn scan_text(name: &str, text: &str) -> Vec<(String, String, Option<u16>)> {
    let input = Input::Memory {
        name: name.into(),
        data: bytes::Bytes::from(text.to_string()),
    };
    let r = engine().scan(&[input], &ScanOptions::default());
    assert_eq!(r.summary.skipped, 0, "{name}: every line decodes");
    let mut v: Vec<_> = r
        .findings
        .iter()
        .map(|f| {
            assert_eq!(f.eni, "eni-0f00000000000b301");
            assert_eq!(f.path, "nat-gateway", "{} {}", f.category, f.dst());
            (f.category.clone(), f.dst().to_string(), f.dst_port)
        })
        .collect();
    v.sort();
    v
}

fn one(cat: &str, ip: &str, port: u16) -> (String, String, Option<u16>) {
    (cat.into(), ip.into(), Some(port))
}

/// DNS to an internet resolver through the NAT is one dns-egress finding, not also
/// internet-egress; a TLS-optional port (PostgreSQL) is plaintext only on encryption-status 0
/// evidence, a cleartext-by-definition port (FTP) on its port alone, and encryption-status
/// decides for every port when present.
#[test]
fn one_finding_per_flow_and_plaintext_needs_evidence_for_tls_optional_ports() {
    let v2 = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
        2 eni-0f00000000000b301 10.20.2.41 9.9.9.9 40000 53 17 1 80 1795172580 1795172600 ACCEPT OK\n\
        2 eni-0f00000000000b301 10.20.2.41 203.0.113.54 40001 5432 6 10 4000 1795172580 1795172600 ACCEPT OK\n\
        2 eni-0f00000000000b301 10.20.2.41 203.0.113.21 40002 21 6 10 4000 1795172580 1795172600 ACCEPT OK\n";
    assert_eq!(
        scan_text("v2.log", v2),
        [
            one("dns-egress", "9.9.9.9", 53),
            one("internet-egress", "203.0.113.21", 21),
            one("internet-egress", "203.0.113.54", 5432),
            one("plaintext-transit", "203.0.113.21", 21),
        ]
    );
    let v10 = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status encryption-status\n\
        10 eni-0f00000000000b301 10.20.2.41 9.9.9.9 40000 53 17 1 80 1795172580 1795172600 ACCEPT OK 0\n\
        10 eni-0f00000000000b301 10.20.2.41 203.0.113.55 40001 5432 6 10 4000 1795172580 1795172600 ACCEPT OK 0\n\
        10 eni-0f00000000000b301 10.20.2.41 203.0.113.56 40003 5432 6 10 4000 1795172580 1795172600 ACCEPT OK 1\n\
        10 eni-0f00000000000b301 10.20.2.41 203.0.113.43 40004 443 6 10 4000 1795172580 1795172600 ACCEPT OK 0\n\
        10 eni-0f00000000000b301 10.20.2.41 203.0.113.22 40005 21 6 10 4000 1795172580 1795172600 ACCEPT OK 1\n";
    assert_eq!(
        scan_text("v10.log", v10),
        [
            // DNS with encryption-status 0 is also plaintext: the field decides for every port.
            one("dns-egress", "9.9.9.9", 53),
            one("internet-egress", "203.0.113.22", 21),
            one("internet-egress", "203.0.113.43", 443),
            one("internet-egress", "203.0.113.55", 5432),
            one("internet-egress", "203.0.113.56", 5432),
            one("plaintext-transit", "203.0.113.43", 443),
            one("plaintext-transit", "203.0.113.55", 5432),
            one("plaintext-transit", "9.9.9.9", 53),
        ]
    );
}
