//! Time-aware attribution on a generated account: jobs whose ENIs were created and deleted
//! before the inventory was taken, an address reused by a later job, parallel tuning children,
//! an endpoint whose ENI changed, a notebook, ENIs no source knows. CloudTrail files are
//! written by the test (moto keeps no CloudTrail events), shuffled, with a duplicate event, a
//! DryRun probe, a failed call, a digest file, an organisation-trail prefix, a file delivered
//! the next day and one outside the range. Local scans, the ledger, and a replay from moto S3.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::moto::{moto, Moto};

const ACCT: &str = "111122223333";
const ROLE: &str = "arn:aws:iam::111122223333:role/SageMakerExec";

fn t(hm: &str) -> i64 {
    egresswatch::time::parse_rfc3339(&format!("2026-10-03T{hm}:00Z")).unwrap()
}

fn iso(secs: i64) -> String {
    egresswatch::time::format_rfc3339(secs)
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn job(name: &str, created: &str, start: &str, end: &str, tuning: Option<&str>) -> Value {
    let mut j = json!({
        "TrainingJobName": name,
        "TrainingJobArn": format!("arn:aws:sagemaker:us-east-1:{ACCT}:training-job/{name}"),
        "TrainingJobStatus": "Completed",
        "RoleArn": ROLE,
        "CreationTime": iso(t(created)),
        "TrainingStartTime": iso(t(start)),
        "TrainingEndTime": iso(t(end)),
        "EnableNetworkIsolation": false,
        "ResourceConfig": {"InstanceCount": 1},
        "VpcConfig": {"Subnets": ["subnet-a"], "SecurityGroupIds": ["sg-1"]}
    });
    if let Some(p) = tuning {
        j["TuningJobArn"] = json!(format!(
            "arn:aws:sagemaker:us-east-1:{ACCT}:hyper-parameter-tuning-job/{p}"
        ));
    }
    j
}

fn eni_json(id: &str, subnet: &str, ip: &str, sg: &str, desc: &str, itype: &str) -> Value {
    json!({
        "NetworkInterfaceId": id, "SubnetId": subnet, "VpcId": "vpc-1",
        "AvailabilityZone": "us-east-1a", "Description": desc, "InterfaceType": itype,
        "RequesterManaged": itype == "interface" && desc.is_empty(),
        "PrivateIpAddress": ip, "PrivateIpAddresses": [{"PrivateIpAddress": ip}],
        "Groups": [{"GroupId": sg}], "OwnerId": ACCT
    })
}

/// ENIs that lived during the day: (id, subnet, ip, sg, created, deleted).
type Lived = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);
const LIVED: &[Lived] = &[
    (
        "eni-j1",
        "subnet-a",
        "10.0.1.10",
        "sg-1",
        "13:59",
        Some("14:32"),
    ),
    (
        "eni-j2",
        "subnet-a",
        "10.0.1.10",
        "sg-1",
        "14:59",
        Some("15:32"),
    ),
    (
        "eni-t1",
        "subnet-a",
        "10.0.1.21",
        "sg-1",
        "15:59",
        Some("16:32"),
    ),
    (
        "eni-t2",
        "subnet-a",
        "10.0.1.22",
        "sg-1",
        "15:59",
        Some("16:32"),
    ),
    (
        "eni-t3",
        "subnet-a",
        "10.0.1.23",
        "sg-1",
        "15:59",
        Some("16:32"),
    ),
    (
        "eni-e1",
        "subnet-c",
        "10.0.3.40",
        "sg-2",
        "08:00",
        Some("12:00"),
    ),
    ("eni-e2", "subnet-c", "10.0.3.41", "sg-2", "11:55", None),
];

const ALL_DELETED: &[&str] = &["eni-j1", "eni-j2", "eni-t1", "eni-t2", "eni-t3", "eni-e1"];

/// The inventory as `inventory collect` returns it at the end of the day: only live ENIs
/// (or, with `complete`, every ENI as if it had been listed while alive).
fn inventory(dir: &Path, extra: &[&str]) {
    let mut enis = vec![
        eni_json("eni-nat", "subnet-a", "10.0.1.5", "sg-0", "Interface for NAT Gateway nat-1", "nat_gateway"),
        eni_json("eni-nb", "subnet-a", "10.0.1.200", "sg-3", "[Do not delete] Network Interface created to access resources in your VPC for SageMaker Notebook Instance nb1", "interface"),
        eni_json("eni-e2", "subnet-c", "10.0.3.41", "sg-2", "", "interface"),
    ];
    for (id, subnet, ip, sg, _, _) in LIVED {
        if extra.contains(id) && *id != "eni-e2" {
            enis.push(eni_json(id, subnet, ip, sg, "", "interface"));
        }
    }
    write(
        &dir.join("ec2/network-interfaces.json"),
        json!({"NetworkInterfaces": enis}).to_string().as_bytes(),
    );
    write(
        &dir.join("ec2/vpcs.json"),
        json!({"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"}]})
            .to_string()
            .as_bytes(),
    );
    write(&dir.join("ec2/subnets.json"), json!({"Subnets": [
        {"SubnetId": "subnet-a", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "us-east-1a"},
        {"SubnetId": "subnet-b", "VpcId": "vpc-1", "CidrBlock": "10.0.2.0/24", "AvailabilityZone": "us-east-1a"},
        {"SubnetId": "subnet-c", "VpcId": "vpc-1", "CidrBlock": "10.0.3.0/24", "AvailabilityZone": "us-east-1b"}
    ]}).to_string().as_bytes());
    write(&dir.join("ec2/route-tables.json"), json!({"RouteTables": [{"RouteTableId": "rtb-1", "VpcId": "vpc-1",
        "Associations": [{"Main": true}, {"SubnetId": "subnet-a"}, {"SubnetId": "subnet-b"}, {"SubnetId": "subnet-c"}],
        "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"}, {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}]}]}).to_string().as_bytes());
    write(&dir.join("ec2/nat-gateways.json"), json!({"NatGateways": [{"NatGatewayId": "nat-1", "VpcId": "vpc-1", "SubnetId": "subnet-a",
        "NatGatewayAddresses": [{"NetworkInterfaceId": "eni-nat", "PrivateIp": "10.0.1.5", "PublicIp": "198.51.100.1"}]}]}).to_string().as_bytes());
    let sm = dir.join("sagemaker");
    write(
        &sm.join("job1.json"),
        job("fraud-xgb-2026-10-03-1400", "13:58", "14:00", "14:30", None)
            .to_string()
            .as_bytes(),
    );
    write(
        &sm.join("job2.json"),
        job("fraud-xgb-2026-10-03-1500", "14:58", "15:00", "15:30", None)
            .to_string()
            .as_bytes(),
    );
    for i in 1..=3 {
        write(
            &sm.join(format!("tune{i}.json")),
            job(
                &format!("tune-a-00{i}"),
                "15:58",
                "16:00",
                "16:30",
                Some("tune-a"),
            )
            .to_string()
            .as_bytes(),
        );
    }
    write(&sm.join("model.json"), json!({"ModelName": "m1", "ModelArn": format!("arn:aws:sagemaker:us-east-1:{ACCT}:model/m1"),
        "ExecutionRoleArn": ROLE, "VpcConfig": {"Subnets": ["subnet-c"], "SecurityGroupIds": ["sg-2"]}}).to_string().as_bytes());
    write(&sm.join("config.json"), json!({"EndpointConfigName": "c2", "EndpointConfigArn": "arn:c2", "ProductionVariants": [{"ModelName": "m1"}]}).to_string().as_bytes());
    write(&sm.join("endpoint.json"), json!({"EndpointName": "risk", "EndpointArn": format!("arn:aws:sagemaker:us-east-1:{ACCT}:endpoint/risk"), "EndpointConfigName": "c2"}).to_string().as_bytes());
    write(&sm.join("nb.json"), json!({"NotebookInstanceName": "nb1", "NotebookInstanceArn": format!("arn:aws:sagemaker:us-east-1:{ACCT}:notebook-instance/nb1"),
        "SubnetId": "subnet-a", "SecurityGroups": ["sg-3"], "NetworkInterfaceId": "eni-nb", "DirectInternetAccess": "Disabled"}).to_string().as_bytes());
}

fn create_event(
    id: &str,
    eni: &str,
    subnet: &str,
    ip: &str,
    sg: &str,
    at: i64,
    invoked_by: &str,
) -> Value {
    json!({
        "eventVersion": "1.09", "eventSource": "ec2.amazonaws.com", "eventName": "CreateNetworkInterface",
        "eventTime": iso(at), "eventID": id, "eventType": "AwsApiCall", "awsRegion": "us-east-1",
        "recipientAccountId": ACCT, "sourceIPAddress": invoked_by, "userAgent": invoked_by,
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:SageMaker",
            "arn": format!("arn:aws:sts::{ACCT}:assumed-role/SageMakerExec/SageMaker"),
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": ROLE, "userName": "SageMakerExec"}},
            "invokedBy": invoked_by},
        "requestParameters": {"subnetId": subnet, "groupSet": {}, "privateIpAddressesSet": {}},
        "responseElements": {"requestId": "r", "networkInterface": {
            "networkInterfaceId": eni, "subnetId": subnet, "vpcId": "vpc-1", "availabilityZone": "us-east-1a",
            "ownerId": ACCT, "requesterId": "AROAEXAMPLE:SageMaker", "requesterManaged": false, "status": "pending",
            "privateIpAddress": ip, "groupSet": {"items": [{"groupId": sg, "groupName": "g"}]},
            "privateIpAddressesSet": {"item": [{"privateIpAddress": ip, "primary": true}]}, "tagSet": {}}}
    })
}

fn delete_event(id: &str, eni: &str, at: i64) -> Value {
    json!({"eventVersion": "1.09", "eventSource": "ec2.amazonaws.com", "eventName": "DeleteNetworkInterface",
        "eventTime": iso(at), "eventID": id, "awsRegion": "us-east-1", "recipientAccountId": ACCT,
        "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCT}:assumed-role/SageMakerExec/SageMaker")},
        "requestParameters": {"networkInterfaceId": eni}, "responseElements": {"requestId": "r", "_return": true}})
}

/// Trail objects: (key, gzip body). Keys use the organisation-trail layout.
fn trail() -> Vec<(String, Vec<u8>)> {
    let mut ev: Vec<Value> = Vec::new();
    for (i, (id, subnet, ip, sg, created, deleted)) in LIVED.iter().enumerate() {
        // Neither invokedBy value is assumed.
        let by = if i % 2 == 0 {
            "sagemaker.amazonaws.com"
        } else {
            "AWS Internal"
        };
        ev.push(create_event(
            &format!("c-{id}"),
            id,
            subnet,
            ip,
            sg,
            t(created),
            by,
        ));
        if let Some(d) = deleted {
            ev.push(delete_event(&format!("d-{id}"), id, t(d)));
        }
    }
    ev.push(json!({"eventSource": "ec2.amazonaws.com", "eventName": "CreateNetworkInterface", "eventID": "dry",
        "eventTime": iso(t("13:58")), "errorCode": "Client.DryRunOperation", "requestParameters": {"subnetId": "subnet-a", "dryRun": true}}));
    ev.push(json!({"eventSource": "ec2.amazonaws.com", "eventName": "CreateNetworkInterface", "eventID": "fail",
        "eventTime": iso(t("13:58")), "errorCode": "Client.UnauthorizedOperation",
        "responseElements": {"networkInterface": {"networkInterfaceId": "eni-bogus"}}}));
    ev.push(json!({"eventSource": "sagemaker.amazonaws.com", "eventName": "CreateTrainingJob", "eventID": "ctj",
        "eventTime": iso(t("13:58")), "requestParameters": {"trainingJobName": "fraud-xgb-2026-10-03-1400", "roleArn": ROLE,
        "vpcConfig": {"subnets": ["subnet-a"], "securityGroupIds": ["sg-1"]}}, "responseElements": {"trainingJobArn": "arn:j1"}}));
    ev.push(
        json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "eventID": "noise"}),
    );
    // Deterministic shuffle (order must not matter), a duplicate of one event in another file.
    let mut order: Vec<usize> = (0..ev.len()).collect();
    order.sort_by_key(|&i| (i * 7919) % 31);
    let dup = ev[0].clone();
    let mut files: Vec<Vec<Value>> = vec![Vec::new(), Vec::new(), Vec::new()];
    for (n, i) in order.into_iter().enumerate() {
        files[n % 3].push(ev[i].clone());
    }
    files[2].push(dup);
    let base = format!("trail/AWSLogs/o-abcd1234ef/{ACCT}/CloudTrail/us-east-1");
    let mut out = Vec::new();
    for (n, recs) in files.into_iter().enumerate() {
        // The third file is delivered the next day.
        let day = if n == 2 { "2026/10/04" } else { "2026/10/03" };
        let key = format!(
            "{base}/{day}/{ACCT}_CloudTrail_us-east-1_2026100{}T0015Z_abcdefgh{n:08}.json.gz",
            if n == 2 { 4 } else { 3 }
        );
        out.push((key, gz(json!({"Records": recs}).to_string().as_bytes())));
    }
    // Outside the range: must not be read.
    out.push((format!("{base}/2026/09/20/{ACCT}_CloudTrail_us-east-1_20260920T0015Z_old.json.gz"),
        gz(json!({"Records": [create_event("old", "eni-old", "subnet-a", "10.0.1.99", "sg-1", t("10:00") - 13 * 86400, "x")]}).to_string().as_bytes())));
    // Digest files are never events (this one would fail to parse as a log file).
    out.push((format!("trail/AWSLogs/o-abcd1234ef/{ACCT}/CloudTrail-Digest/us-east-1/2026/10/03/{ACCT}_CloudTrail-Digest_us-east-1_x.json.gz"),
        gz(b"{\"digestStartTime\":\"CreateNetworkInterface\"")));
    out
}

/// Default-format flow logs: (key, body).
fn flow_logs() -> Vec<(String, Vec<u8>)> {
    let rec = |eni: &str, src: &str, dst: &str, at: &str, bytes: u64| {
        format!(
            "2 {ACCT} {eni} {src} {dst} 40000 443 6 10 {bytes} {} {} ACCEPT OK\n",
            t(at),
            t(at) + 60
        )
    };
    let mut text = String::from("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n");
    text += &rec("eni-j1", "10.0.1.10", "203.0.113.1", "14:10", 1000);
    text += &rec("eni-j1", "10.0.1.10", "203.0.113.2", "15:05", 1100);
    text += &rec("eni-j2", "10.0.1.10", "203.0.113.3", "15:10", 1200);
    text += &rec("eni-nat", "10.0.1.10", "203.0.113.4", "15:12", 1300);
    for e in ["eni-t1", "eni-t2", "eni-t3"] {
        let ip = match e {
            "eni-t1" => "10.0.1.21",
            "eni-t2" => "10.0.1.22",
            _ => "10.0.1.23",
        };
        text += &rec(e, ip, "203.0.113.5", "16:10", 1400);
    }
    text += &rec("eni-e1", "10.0.3.40", "203.0.113.6", "10:00", 1500);
    text += &rec("eni-e2", "10.0.3.41", "203.0.113.6", "12:10", 1550);
    text += &rec("eni-nb", "10.0.1.200", "203.0.113.7", "10:00", 1600);
    text += &rec("eni-x", "10.0.1.77", "203.0.113.8", "17:10", 1700);
    text += &rec("eni-y", "10.0.1.78", "203.0.113.8", "14:15", 1800);
    text += &rec("eni-z", "10.0.2.9", "203.0.113.9", "14:20", 1900);
    vec![(
        format!("flow/AWSLogs/{ACCT}/vpcflowlogs/us-east-1/2026/10/03/{ACCT}_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261003T1400Z_0a1b2c3d.log.gz"),
        gz(text.as_bytes()),
    )]
}

struct Account {
    dir: tempfile::TempDir,
}

impl Account {
    fn new() -> Account {
        let dir = tempfile::tempdir().unwrap();
        for (k, b) in trail().into_iter().chain(flow_logs()) {
            write(&dir.path().join(k), &b);
        }
        inventory(&dir.path().join("inv"), &[]);
        inventory(&dir.path().join("inv-complete"), ALL_DELETED);
        Account { dir }
    }
    fn p(&self, s: &str) -> String {
        self.dir.path().join(s).display().to_string()
    }
}

fn egresswatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap()
}

fn findings(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Internet-egress findings by destination: (eni, resource name, confidence, candidates).
type Attr = (String, String, String, Vec<String>);

fn by_dst(f: &[Value]) -> BTreeMap<String, Vec<Attr>> {
    let mut m: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for x in f.iter().filter(|x| x["category"] == "internet-egress") {
        let cands = x["attribution"]["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        m.entry(x["dst_ip"].as_str().unwrap().to_string())
            .or_default()
            .push((
                x["eni"].as_str().unwrap().to_string(),
                x["resource"]["name"].as_str().unwrap_or("-").to_string(),
                x["attribution"]["confidence"].as_str().unwrap().to_string(),
                cands,
            ));
    }
    for v in m.values_mut() {
        v.sort();
    }
    m
}

fn one(m: &BTreeMap<String, Vec<Attr>>, dst: &str) -> Attr {
    let v = m
        .get(dst)
        .unwrap_or_else(|| panic!("no finding to {dst}: {m:?}"));
    assert_eq!(v.len(), 1, "{dst}: {v:?}");
    v[0].clone()
}

fn check_with_trail(f: &[Value]) {
    let m = by_dst(f);
    assert_eq!(
        one(&m, "203.0.113.1"),
        (
            "eni-j1".into(),
            "fraud-xgb-2026-10-03-1400".into(),
            "strong".into(),
            vec![]
        )
    );
    // 33 minutes after the ENI was deleted (grace 20 min): nothing can say whose it was.
    assert_eq!(
        one(&m, "203.0.113.2"),
        ("eni-j1".into(), "unknown".into(), "unknown".into(), vec![])
    );
    // The address of the deleted ENI now belongs to the next job's ENI, also on the NAT's log.
    assert_eq!(
        one(&m, "203.0.113.3"),
        (
            "eni-j2".into(),
            "fraud-xgb-2026-10-03-1500".into(),
            "strong".into(),
            vec![]
        )
    );
    assert_eq!(
        one(&m, "203.0.113.4"),
        (
            "eni-j2".into(),
            "fraud-xgb-2026-10-03-1500".into(),
            "strong".into(),
            vec![]
        )
    );
    let tune = &m["203.0.113.5"];
    assert_eq!(tune.len(), 3);
    for (eni, name, conf, cands) in tune {
        assert!(eni.starts_with("eni-t"));
        assert_eq!((name.as_str(), conf.as_str()), ("tune-a", "group"));
        assert_eq!(cands, &["tune-a-001", "tune-a-002", "tune-a-003"]);
    }
    let ep = &m["203.0.113.6"];
    assert_eq!(ep.len(), 2, "{ep:?}");
    assert!(
        ep.iter().all(|(_, n, c, _)| n == "risk" && c == "strong"),
        "{ep:?}"
    );
    assert_eq!(
        one(&m, "203.0.113.7"),
        ("eni-nb".into(), "nb1".into(), "exact".into(), vec![])
    );
    let unknown = &m["203.0.113.8"];
    assert_eq!(unknown.len(), 2);
    assert_eq!(
        unknown[0],
        ("eni-x".into(), "unknown".into(), "unknown".into(), vec![])
    );
    assert_eq!(
        unknown[1],
        (
            "eni-y".into(),
            "fraud-xgb-2026-10-03-1400".into(),
            "inferred".into(),
            vec![]
        )
    );
    assert!(
        !m.contains_key("203.0.113.9"),
        "an unknown ENI outside SageMaker subnets raises nothing"
    );
    // Evidence of the attribution names the CloudTrail events.
    let j1 = f.iter().find(|x| x["dst_ip"] == "203.0.113.1").unwrap();
    let sources: Vec<&str> = j1["attribution"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        sources.contains(&"cloudtrail:c-eni-j1") && sources.contains(&"cloudtrail:d-eni-j1"),
        "{sources:?}"
    );
}

#[test]
fn cloudtrail_attributes_deleted_job_enis_and_equals_a_complete_inventory() {
    let a = Account::new();
    let flow = a.p("flow");
    let summary = a.p("summary.json");
    let out = egresswatch(&[
        "scan",
        "--inventory",
        &a.p("inv"),
        "--cloudtrail",
        &a.p("trail"),
        "--summary-json",
        &summary,
        &flow,
    ]);
    let with = findings(&out);
    check_with_trail(&with);
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let ct = &s["history"]["cloudtrail"];
    assert_eq!(ct["files"], 3, "{ct}");
    assert_eq!(
        ct["files_ignored"], 2,
        "digest and out-of-range files: {ct}"
    );
    assert_eq!(ct["duplicates"], 1);
    assert_eq!(ct["failed_or_dry_run"], 2);
    assert_eq!(ct["failed_files"], 0);
    assert_eq!(ct["events_kept"], 14);
    // Only eni-x, eni-y, eni-z are unknown to every source.
    assert_eq!(s["unattributed"]["enis"], 3, "{}", s["unattributed"]);
    assert_eq!(s["unattributed"]["could_be_sagemaker"]["enis"], 2);
    assert_eq!(s["unattributed"]["other"]["enis"], 1);

    // A complete inventory (every ENI listed while it lived) gives the same attribution for
    // the records inside the lifetimes.
    let full = findings(&egresswatch(&[
        "scan",
        "--inventory",
        &a.p("inv-complete"),
        &flow,
    ]));
    let key = |f: &[Value]| -> BTreeSet<(String, String, String)> {
        f.iter()
            .filter(|x| {
                ["203.0.113.1", "203.0.113.3", "203.0.113.6", "203.0.113.7"]
                    .contains(&x["dst_ip"].as_str().unwrap())
            })
            .map(|x| {
                (
                    x["id"].as_str().unwrap().into(),
                    x["eni"].as_str().unwrap().into(),
                    x["resource"]["name"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(key(&with), key(&full));
    assert_eq!(key(&with).len(), 5);
}

#[test]
fn without_history_no_could_be_sagemaker_egress_vanishes() {
    let a = Account::new();
    let summary = a.p("summary.json");
    let out = egresswatch(&[
        "scan",
        "--inventory",
        &a.p("inv"),
        "--summary-json",
        &summary,
        &a.p("flow"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let f = findings(&out);
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let u = &s["unattributed"];
    // eni-j1, j2, t1-3 (subnet-a), e1 (subnet-c), x, y: could be SageMaker; z: other.
    assert_eq!(u["enis"], 9, "{u}");
    assert_eq!(u["could_be_sagemaker"]["enis"], 8, "{u}");
    assert_eq!(u["other"]["enis"], 1);
    assert_eq!(u["other"]["egress_bytes_nat_igw"], 1900);
    assert!(u["top"].as_array().unwrap().len() <= 10);
    assert!(stderr.contains("no source attributes"), "{stderr}");
    assert!(stderr.contains("9 unattributed ENIs"), "{stderr}");
    // Every could-be-SageMaker ENI with NAT egress has a finding, with its confidence said.
    let enis: BTreeSet<&str> = f
        .iter()
        .filter(|x| x["category"] == "internet-egress")
        .map(|x| x["eni"].as_str().unwrap())
        .collect();
    for e in [
        "eni-j1", "eni-j2", "eni-t1", "eni-t2", "eni-t3", "eni-e1", "eni-x", "eni-y",
    ] {
        assert!(enis.contains(e), "{e} vanished: {enis:?}");
    }
    assert!(!enis.contains("eni-z"));
    for x in f
        .iter()
        .filter(|x| x["eni"] == "eni-t1" || x["eni"] == "eni-x")
    {
        let c = x["attribution"]["confidence"].as_str().unwrap();
        assert!(["inferred", "group", "unknown"].contains(&c), "{x}");
        assert!(x["attribution"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "flowlog-context"));
    }
    // Three tuning children running at once: attributed to their tuning job as a group.
    let t1 = f.iter().find(|x| x["eni"] == "eni-t1").unwrap();
    assert_eq!(t1["resource"]["name"], "tune-a");
    assert_eq!(t1["attribution"]["confidence"], "group");
}

#[test]
fn the_ledger_remembers_what_cloudtrail_taught() {
    let a = Account::new();
    let ledger = a.p("ledger");
    let first = findings(&egresswatch(&[
        "scan",
        "--inventory",
        &a.p("inv"),
        "--cloudtrail",
        &a.p("trail"),
        "--ledger",
        &ledger,
        &a.p("flow"),
    ]));
    check_with_trail(&first);
    // Later, without the trail: the ledger alone attributes the same.
    let second = findings(&egresswatch(&[
        "scan",
        "--inventory",
        &a.p("inv"),
        "--ledger",
        &ledger,
        &a.p("flow"),
    ]));
    let ids = |f: &[Value]| -> Vec<(String, String)> {
        f.iter()
            .map(|x| {
                (
                    x["id"].as_str().unwrap().into(),
                    x["resource"]["name"].as_str().unwrap_or("-").into(),
                )
            })
            .collect()
    };
    assert_eq!(ids(&first), ids(&second));
    // Reading the trail again adds nothing (every event is already in the ledger).
    let summary = a.p("s.json");
    let _ = findings(&egresswatch(&[
        "scan",
        "--inventory",
        &a.p("inv"),
        "--cloudtrail",
        &a.p("trail"),
        "--ledger",
        &ledger,
        "--summary-json",
        &summary,
        &a.p("flow"),
    ]));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["history"]["cloudtrail"]["events_kept"], 0);
    assert_eq!(s["history"]["cloudtrail"]["duplicates"], 15);
    assert!(s["history"]["segment_written"].is_null());
    let hist = egresswatch(&[
        "inventory",
        "history",
        "--ledger",
        &ledger,
        "--eni",
        "eni-j1",
        "--format",
        "jsonl",
    ]);
    assert!(hist.status.success());
    let l: Value =
        serde_json::from_slice(hist.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(l["created_at"], "2026-10-03T13:59:00Z");
    assert_eq!(l["deleted_at"], "2026-10-03T14:32:00Z");
    assert_eq!(l["created_by"]["session_issuer_arn"], ROLE);
    assert_eq!(l["private_ips"], json!(["10.0.1.10"]));
}

#[test]
fn inventory_snapshots_are_diffed_into_the_ledger() {
    use egresswatch::inventory::{history, ledger::Ledger, Inventory};
    let a = Account::new();
    let store = egresswatch::state::Store::local(&a.dir.path().join("ledger")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A snapshot taken while the first job ran lists its ENI.
    inventory(&a.dir.path().join("inv-1410"), &["eni-j1"]);
    let first = Inventory::load(&a.dir.path().join("inv-1410")).unwrap();
    rt.block_on(history::record_snapshot(
        &store,
        &first,
        t("14:10"),
        "inv-1410",
    ))
    .unwrap();
    let later = Inventory::load(&a.dir.path().join("inv")).unwrap();
    rt.block_on(history::record_snapshot(&store, &later, t("18:00"), "inv"))
        .unwrap();
    let led = rt.block_on(Ledger::load(&store)).unwrap();
    let j1 = &led.enis["eni-j1"];
    assert_eq!(
        (j1.first_seen, j1.last_seen, j1.gone_by),
        (Some(t("14:10")), Some(t("14:10")), Some(t("18:00")))
    );
    assert_eq!(j1.owner.as_ref().unwrap().name, "fraud-xgb-2026-10-03-1400");
    assert_eq!(led.enis["eni-e2"].gone_by, None);
    // A scan with only the ledger still knows eni-j1's owner from the snapshot, after the
    // job's Describe output is gone.
    let inv = a.dir.path().join("inv-nojobs");
    inventory(&inv, &[]);
    for f in ["job1", "job2", "tune1", "tune2", "tune3"] {
        std::fs::remove_file(inv.join(format!("sagemaker/{f}.json"))).unwrap();
    }
    let f = findings(&egresswatch(&[
        "scan",
        "--inventory",
        &inv.display().to_string(),
        "--ledger",
        &a.p("ledger"),
        &a.p("flow"),
    ]));
    let j1f = f.iter().find(|x| x["dst_ip"] == "203.0.113.1").unwrap();
    assert_eq!(j1f["resource"]["name"], "fraud-xgb-2026-10-03-1400");
    assert_eq!(j1f["attribution"]["confidence"], "strong");
    assert!(j1f["attribution"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "snapshot:inv-1410"));
}

// ---- moto ------------------------------------------------------------------------------

#[test]
fn replay_reads_the_trail_and_keeps_the_ledger_in_moto_s3() {
    let Some(m) = moto() else { return };
    let a = Account::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        let cfg = egresswatch::aws::sdk_config(Some(&m.url), Some("us-east-1")).await;
        let s3 = egresswatch::aws::s3_client(&cfg, true);
        for b in ["logs", "state"] {
            s3.create_bucket().bucket(b).send().await.unwrap();
        }
        for (k, body) in trail().into_iter().chain(flow_logs()) {
            s3.put_object()
                .bucket("logs")
                .key(k)
                .body(body.into())
                .send()
                .await
                .unwrap();
        }
        // Two writers of one ledger never overwrite each other.
        let store = egresswatch::state::Store::s3(s3.clone(), "state", "p");
        store.put_new("ledger/x.jsonl", b"{}\n").await.unwrap();
        assert!(matches!(
            store.put_new("ledger/x.jsonl", b"{}\n").await,
            Err(egresswatch::state::StoreError::Exists { .. })
        ));
    });
    let out = egresswatch(&[
        "replay",
        "--bucket",
        "logs",
        "--prefix",
        "flow",
        "--account",
        ACCT,
        "--region",
        "us-east-1",
        "--start",
        "2026-10-03T00:00:00Z",
        "--end",
        "2026-10-04T00:00:00Z",
        "--inventory",
        &a.p("inv"),
        "--cloudtrail",
        "s3://logs/trail/",
        "--ledger",
        "s3://state/p",
        "--endpoint-url",
        &m.url,
        "--aws-region",
        "us-east-1",
        "--report-json",
        &a.p("replay-report.json"),
    ]);
    let f = findings(&out);
    check_with_trail(&f);
    // The report of the replayed range: the same findings, and traffic totals from S3.
    let rep: Value =
        serde_json::from_str(&std::fs::read_to_string(a.p("replay-report.json")).unwrap()).unwrap();
    let ids = |v: &[Value]| -> BTreeSet<String> {
        v.iter()
            .filter(|x| x["category"] != "posture")
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(rep["findings"].as_array().unwrap()), ids(&f));
    let traffic = rep["traffic"].as_array().unwrap();
    let bytes: u64 = traffic
        .iter()
        .map(|r| r["bytes"].as_u64().unwrap_or(0))
        .sum();
    assert!(bytes > 0, "{traffic:?}");
    assert_eq!(rep["population"]["objects"], 1, "{}", rep["population"]);
    assert_eq!(rep["population"]["records"], 13, "{}", rep["population"]);
    let hist = egresswatch(&[
        "inventory",
        "history",
        "--ledger",
        "s3://state/p",
        "--format",
        "jsonl",
        "--endpoint-url",
        &m.url,
        "--aws-region",
        "us-east-1",
    ]);
    assert!(
        hist.status.success(),
        "{}",
        String::from_utf8_lossy(&hist.stderr)
    );
    let enis: BTreeSet<String> = String::from_utf8_lossy(&hist.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["eni"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        enis.contains("eni-t2") && !enis.contains("eni-old") && !enis.contains("eni-bogus"),
        "{enis:?}"
    );
    let _ = PathBuf::new();
}

/// Writes the generated account into `EGRESSWATCH_WRITE_ACCOUNT` (for looking at it by hand).
#[test]
fn write_account_when_asked() {
    let Some(dst) = std::env::var_os("EGRESSWATCH_WRITE_ACCOUNT") else {
        return;
    };
    let dst = PathBuf::from(dst);
    for (k, b) in trail().into_iter().chain(flow_logs()) {
        write(&dst.join(k), &b);
    }
    inventory(&dst.join("inv"), &[]);
    inventory(&dst.join("inv-complete"), ALL_DELETED);
}

/// Runs `python -c CODE` in the moto venv (boto3 comes with moto) against the server.
fn boto(m: &Moto, code: &str) -> String {
    let python = std::env::var("EGRESSWATCH_MOTO_PYTHON").unwrap();
    let prelude = format!(
        "import boto3, json\nkw = dict(endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\ns3 = boto3.client('s3', **kw)\nsqs = boto3.client('sqs', **kw)\nev = boto3.client('events', **kw)\n",
        m.url
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(prelude + code)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_for_lines(path: &Path, n: usize, child: &mut Child) -> Vec<Value> {
    let t0 = Instant::now();
    loop {
        let lines: Vec<Value> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if lines.len() >= n {
            return lines;
        }
        if t0.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("watch wrote {} of {n} findings", lines.len());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn watch_learns_enis_from_eventbridge_and_attributes_late_records_with_the_same_id() {
    let Some(m) = moto() else { return };
    let a = Account::new();
    // A job that lived 5 minutes between two inventory reloads: neither its Describe output
    // nor its ENI is in the inventory; EventBridge tells both.
    let flow = |eni: &str, ip: &str, at: &str| {
        let text = format!(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n2 {ACCT} {eni} {ip} 203.0.113.50 40000 443 6 10 5000 {} {} ACCEPT OK\n",
            t(at),
            t(at) + 60
        );
        gz(text.as_bytes())
    };
    std::fs::write(
        a.dir.path().join("q1.gz"),
        flow("eni-q1", "10.0.1.60", "14:02"),
    )
    .unwrap();
    std::fs::write(
        a.dir.path().join("q2.gz"),
        flow("eni-q2", "10.0.1.61", "14:03"),
    )
    .unwrap();
    let queue = boto(
        &m,
        &format!(
            r#"
s3.create_bucket(Bucket='logs')
q = sqs.create_queue(QueueName='events')['QueueUrl']
arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
ev.put_rule(Name='history', EventPattern=json.dumps({{'source': ['aws.ec2', 'aws.sagemaker']}}))
ev.put_targets(Rule='history', Targets=[{{'Id': 'q', 'Arn': arn}}])
for k in ['q1', 'q2']:
    s3.upload_file('{dir}/' + k + '.gz', 'logs', 'flow/' + k + '.log.gz')
print(q)
"#,
            dir = a.dir.path().display()
        ),
    );
    let put_event = |source: &str, detail_type: &str, detail: Value| {
        boto(&m, &format!(
            "r = ev.put_events(Entries=[{{'Source': '{source}', 'DetailType': '{detail_type}', 'Detail': json.dumps(json.loads({d:?}))}}])\nassert r['FailedEntryCount'] == 0, r",
            d = detail.to_string()
        ));
    };
    let notify = |key: &str| {
        boto(&m, &format!(
            "sqs.send_message(QueueUrl='{queue}', MessageBody=json.dumps({{'Records': [{{'eventSource': 'aws:s3', 'eventName': 'ObjectCreated:Put', 's3': {{'bucket': {{'name': 'logs'}}, 'object': {{'key': '{key}'}}}}}}]}}))"
        ));
    };
    // First the job and its ENI, then the object: attributed at once.
    put_event(
        "aws.sagemaker",
        "SageMaker Training Job State Change",
        json!({
        "TrainingJobName": "quick-job", "TrainingJobArn": format!("arn:aws:sagemaker:us-east-1:{ACCT}:training-job/quick-job"),
        "RoleArn": ROLE, "TrainingJobStatus": "Completed", "CreationTime": (t("13:58") * 1000).to_string(),
        "TrainingStartTime": t("14:00") * 1000, "TrainingEndTime": iso(t("14:05")),
        "VpcConfig": {"Subnets": ["subnet-a"], "SecurityGroupIds": ["sg-9"]}}),
    );
    put_event(
        "aws.ec2",
        "AWS API Call via CloudTrail",
        create_event(
            "ev-q1",
            "eni-q1",
            "subnet-a",
            "10.0.1.60",
            "sg-9",
            t("13:59"),
            "sagemaker.amazonaws.com",
        ),
    );
    notify("flow/q1.log.gz");
    let ledger = a.p("ledger");
    let out = a.dir.path().join("out.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .args([
            "watch",
            "--endpoint-url",
            &m.url,
            "--aws-region",
            "us-east-1",
            "--queue-url",
            &queue,
            "--inventory",
            &a.p("inv"),
            "--ledger",
            &ledger,
            "--wait",
            "1",
            "--idle-exit",
            "6s",
            "--output",
        ])
        .arg(&out)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let first = wait_for_lines(&out, 1, &mut child);
    assert_eq!(first[0]["eni"], "eni-q1");
    assert_eq!(first[0]["resource"]["name"], "quick-job");
    assert_eq!(first[0]["attribution"]["confidence"], "strong");
    // Now an object whose ENI's creation event arrives later (CloudTrail is ~5 min behind).
    notify("flow/q2.log.gz");
    let second = wait_for_lines(&out, 2, &mut child);
    assert_eq!(second[1]["eni"], "eni-q2");
    assert_ne!(second[1]["attribution"]["confidence"], "strong");
    put_event(
        "aws.ec2",
        "AWS API Call via CloudTrail",
        create_event(
            "ev-q2",
            "eni-q2",
            "subnet-a",
            "10.0.1.61",
            "sg-9",
            t("13:59"),
            "AWS Internal",
        ),
    );
    let third = wait_for_lines(&out, 3, &mut child);
    assert_eq!(
        third[2]["id"], second[1]["id"],
        "the late attribution updates the same finding"
    );
    assert_eq!(third[2]["resource"]["name"], "quick-job");
    assert_eq!(third[2]["attribution"]["confidence"], "strong");
    assert_eq!(third[2]["bytes"], second[1]["bytes"]);
    let res = child.wait_with_output().unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    // What the events taught is in the ledger for the next start.
    let hist = egresswatch(&[
        "inventory",
        "history",
        "--ledger",
        &ledger,
        "--format",
        "jsonl",
    ]);
    let enis: BTreeSet<String> = String::from_utf8_lossy(&hist.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["eni"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        enis.contains("eni-q1") && enis.contains("eni-q2"),
        "{enis:?}"
    );
}

async fn lambda_run(
    s3: &aws_sdk_s3::Client,
    records: Vec<Value>,
    h: Option<&mut egresswatch::lambda::LambdaHistory>,
    eng: &mut std::sync::Arc<egresswatch::scan::Engine>,
) -> (Value, Vec<egresswatch::detect::Finding>) {
    let mut seen: Vec<egresswatch::detect::Finding> = Vec::new();
    let mut emit = |f: &[egresswatch::detect::Finding]| -> Result<(), String> {
        seen.extend(f.iter().cloned());
        Ok(())
    };
    let out = egresswatch::lambda::handle_with_history(
        json!({ "Records": records }),
        s3,
        eng,
        h,
        &egresswatch::scan::ScanOptions::default(),
        &mut emit,
    )
    .await
    .unwrap();
    (out, seen)
}

/// The Lambda learns from the CloudTrail and SageMaker events on its queue: messages as
/// moto's EventBridge delivered them to SQS, the ledger in moto S3, a second warm instance
/// that merges the first one's segment, an instance without a ledger that counts the ENI as
/// unattributed, and a ledger that cannot be written failing only the events' messages.
#[test]
fn lambda_applies_queue_events_to_the_ledger_shared_by_its_instances() {
    use egresswatch::detect::{RuleSet, Scope};
    use egresswatch::lambda::LambdaHistory;
    let Some(m) = moto() else { return };
    let a = Account::new();
    let text = format!(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n2 {ACCT} eni-q1 10.0.1.60 203.0.113.50 40000 443 6 10 5000 {} {} ACCEPT OK\n",
        t("14:02"),
        t("14:03")
    );
    std::fs::write(a.dir.path().join("q1.gz"), gz(text.as_bytes())).unwrap();
    let bodies = boto(
        &m,
        &format!(
            r#"
s3.create_bucket(Bucket='logs')
s3.create_bucket(Bucket='state')
s3.upload_file('{dir}/q1.gz', 'logs', 'flow/q1.log.gz')
q = sqs.create_queue(QueueName='fn')['QueueUrl']
arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
ev.put_rule(Name='history', EventPattern=json.dumps({{'source': ['aws.ec2', 'aws.sagemaker']}}))
ev.put_targets(Rule='history', Targets=[{{'Id': 'q', 'Arn': arn}}])
for src, dt, d in json.loads({events:?}):
    r = ev.put_events(Entries=[{{'Source': src, 'DetailType': dt, 'Detail': json.dumps(d)}}])
    assert r['FailedEntryCount'] == 0, r
got = []
while len(got) < 2:
    got += sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10, WaitTimeSeconds=1).get('Messages', [])
print(json.dumps([{{'messageId': x['MessageId'], 'body': x['Body']}} for x in got]))
"#,
            dir = a.dir.path().display(),
            events = json!([
                ["aws.sagemaker", "SageMaker Training Job State Change", {
                    "TrainingJobName": "quick-job",
                    "TrainingJobArn": format!("arn:aws:sagemaker:us-east-1:{ACCT}:training-job/quick-job"),
                    "RoleArn": ROLE, "TrainingJobStatus": "Completed",
                    "CreationTime": (t("13:58") * 1000).to_string(),
                    "TrainingStartTime": t("14:00") * 1000, "TrainingEndTime": iso(t("14:05")),
                    "VpcConfig": {"Subnets": ["subnet-a"], "SecurityGroupIds": ["sg-9"]}}],
                ["aws.ec2", "AWS API Call via CloudTrail",
                    create_event("ev-q1", "eni-q1", "subnet-a", "10.0.1.60", "sg-9", t("13:59"), "sagemaker.amazonaws.com")]
            ])
            .to_string()
        ),
    );
    let delivered: Vec<Value> = serde_json::from_str(&bodies).unwrap();
    assert_eq!(delivered.len(), 2, "{bodies}");
    let sqs_record = |id: &str, body: &str| json!({"messageId": id, "receiptHandle": "r", "body": body, "eventSource": "aws:sqs"});
    let object = sqs_record(
        "obj",
        &json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "logs"}, "object": {"key": "flow/q1.log.gz", "size": 1}}}]})
        .to_string(),
    );
    let mut with_events: Vec<Value> = delivered
        .iter()
        .map(|d| {
            sqs_record(
                d["messageId"].as_str().unwrap(),
                d["body"].as_str().unwrap(),
            )
        })
        .collect();
    with_events.push(object.clone());
    let event_ids: BTreeSet<String> = delivered
        .iter()
        .map(|d| d["messageId"].as_str().unwrap().to_string())
        .collect();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        let cfg = egresswatch::aws::sdk_config(Some(&m.url), Some("us-east-1")).await;
        let s3 = egresswatch::aws::s3_client(&cfg, true);
        let inv = egresswatch::inventory::Inventory::load(&a.dir.path().join("inv")).unwrap();
        let open = |store: Option<egresswatch::state::Store>| {
            LambdaHistory::open(
                inv.clone(),
                store,
                RuleSet::builtin(),
                Scope::Sagemaker,
                Duration::ZERO,
            )
        };
        let ledger =
            || egresswatch::inventory::history::open_store("s3://state/ledger", Some(&s3)).unwrap();
        // Two warm instances, both started before anything was learned.
        let mut ha = open(Some(ledger())).await.unwrap();
        let mut hb = open(Some(ledger())).await.unwrap();
        let run = |r, h, e| lambda_run(&s3, r, h, e);
        let mut ea = std::sync::Arc::new(ha.engine());
        let (out, fa) = run(with_events.clone(), Some(&mut ha), &mut ea).await;
        assert_eq!(out["batchItemFailures"], json!([]), "{out}");
        assert_eq!(out["summary"]["history"]["events"], 2, "{out}");
        assert_eq!(out["summary"]["history"]["segments_written"], 1, "{out}");
        let q1: Vec<_> = fa.iter().filter(|f| f.eni == "eni-q1").collect();
        assert!(!q1.is_empty(), "no finding for eni-q1: {out}");
        let j = serde_json::to_value(q1[0]).unwrap();
        assert_eq!(j["resource"]["name"], "quick-job", "{j}");
        assert_eq!(j["attribution"]["confidence"], "strong", "{j}");

        // Instance B sees only the object; it merges A's segment first.
        let mut eb = std::sync::Arc::new(hb.engine());
        let (out, fb) = run(vec![object.clone()], Some(&mut hb), &mut eb).await;
        assert_eq!(out["summary"]["history"]["segments_merged"], 1, "{out}");
        let jb = serde_json::to_value(fb.iter().find(|f| f.eni == "eni-q1").unwrap()).unwrap();
        assert_eq!(jb["resource"]["name"], "quick-job", "{jb}");
        assert_eq!(jb["id"], j["id"], "same finding, same id");

        // Without a ledger: the events are acknowledged, the ENI is counted as unattributed.
        let mut ec = std::sync::Arc::new(egresswatch::scan::Engine::new(
            &inv,
            &RuleSet::builtin(),
            Scope::Sagemaker,
            None,
        ));
        let (out, fc) = run(with_events.clone(), None, &mut ec).await;
        assert_eq!(out["batchItemFailures"], json!([]), "{out}");
        assert_eq!(out["summary"]["history"]["events"], 2, "{out}");
        assert_eq!(out["summary"]["unattributed"]["enis"], 1, "{out}");
        let jc = serde_json::to_value(fc.iter().find(|f| f.eni == "eni-q1").unwrap()).unwrap();
        assert_ne!(jc["resource"]["name"], "quick-job", "{jc}");

        // A ledger that cannot be written: only the events' messages come back.
        let broken = a.dir.path().join("broken-ledger");
        let mut hd = open(Some(egresswatch::state::Store::local(&broken).unwrap()))
            .await
            .unwrap();
        std::fs::remove_dir_all(&broken).unwrap();
        std::fs::write(&broken, b"not a folder").unwrap();
        let mut ed = std::sync::Arc::new(hd.engine());
        let (out, _) = run(with_events.clone(), Some(&mut hd), &mut ed).await;
        let failed: BTreeSet<String> = out["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["itemIdentifier"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(failed, event_ids, "{out}");
        assert_eq!(out["summary"]["history"]["not_persisted"], 2, "{out}");
    });
}

/// A continuous reader (no flow-log range: watch, inventory collect) resumes the trail from
/// the ledger's checkpoint: a restart reads only the files delivered since (plus margin), the
/// ledger keeps what the earlier reads taught, and an ENI born and deleted while it was down
/// is learned from the files delivered meanwhile.
#[test]
fn a_restart_resumes_the_trail_from_the_ledger_checkpoint() {
    use egresswatch::inventory::history::{load, HistoryOptions};
    let a = Account::new();
    let opts = HistoryOptions {
        cloudtrail: Some(a.p("trail")),
        ledger: Some(a.p("ledger")),
        range: None,
        grace: None,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut inv = egresswatch::inventory::Inventory::default();
    let first = rt.block_on(load(&mut inv, &opts, None)).unwrap();
    let ct = first.cloudtrail.as_ref().unwrap();
    assert!(ct.files >= 3, "{first:?}");
    assert!(first.trail_resumed_from.is_none());
    let enis = inv.history.enis.len();
    assert!(inv.history.enis.contains_key("eni-j1"));

    // Down for a while; meanwhile a job's ENI was created and deleted (delivered today).
    let now = egresswatch::time::now_secs();
    let day = &egresswatch::time::format_rfc3339(now)[..10].replace('-', "/");
    let key = format!(
        "trail/AWSLogs/o-abcd1234ef/{ACCT}/CloudTrail/us-east-1/{day}/{ACCT}_CloudTrail_us-east-1_new.json.gz"
    );
    write(
        &a.dir.path().join(key),
        &gz(&json!({"Records": [
            create_event("while-down", "eni-down", "subnet-a", "10.0.1.77", "sg-1", now - 600, "sagemaker.amazonaws.com"),
            delete_event("while-down-del", "eni-down", now - 300)
        ]})
        .to_string()
        .into_bytes()[..]),
    );
    let mut inv = egresswatch::inventory::Inventory::default();
    let second = rt.block_on(load(&mut inv, &opts, None)).unwrap();
    assert!(second.trail_resumed_from.is_some(), "{second:?}");
    let ct = second.cloudtrail.as_ref().unwrap();
    assert_eq!(ct.files, 1, "only the file delivered since: {second:?}");
    assert_eq!(ct.events_kept, 2, "{second:?}");
    let down = &inv.history.enis["eni-down"];
    assert!(down.created_at.is_some() && down.deleted_at.is_some());
    assert_eq!(
        inv.history.enis.len(),
        enis + 1,
        "nothing learned before is lost"
    );

    // A flow-log range (scan, replay) always reads its own range, checkpoint or not.
    let ranged = HistoryOptions {
        range: Some((t("00:00"), t("23:59"))),
        ..opts.clone()
    };
    let mut inv = egresswatch::inventory::Inventory::default();
    let third = rt.block_on(load(&mut inv, &ranged, None)).unwrap();
    assert!(third.trail_resumed_from.is_none());
    assert!(third.cloudtrail.unwrap().files >= 3);
}

/// `report` takes the same history as `scan`: with the trail, the evidence attributes the
/// deleted jobs' egress as `scan` does; without it, those findings are `unknown`.
#[test]
fn report_attributes_completed_jobs_with_the_trail() {
    let a = Account::new();
    let scanned = findings(&egresswatch(&[
        "scan",
        "--inventory",
        &a.p("inv"),
        "--cloudtrail",
        &a.p("trail"),
        &a.p("flow"),
    ]));
    let report = |extra: &[&str], name: &str| -> Value {
        let out = a.dir.path().join(name);
        let mut args = vec!["report", "--inventory"];
        let inv = a.p("inv");
        args.push(&inv);
        args.extend_from_slice(extra);
        let o = out.display().to_string();
        let flow = a.p("flow");
        args.extend_from_slice(&["--json", &o, &flow]);
        let res = egresswatch(&args);
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
    };
    let trail = a.p("trail");
    let with = report(&["--cloudtrail", &trail], "with.json");
    let without = report(&[], "without.json");
    let owners = |v: &Value| -> BTreeMap<String, String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["category"] != "posture")
            .map(|f| {
                (
                    f["id"].as_str().unwrap().to_string(),
                    f["resource"]["name"].as_str().unwrap_or("-").to_string(),
                )
            })
            .collect()
    };
    let expect: BTreeMap<String, String> = scanned
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["resource"]["name"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    assert_eq!(owners(&with), expect);
    // The completed jobs' Describe outputs alone only infer the owner from the subnet and the
    // run window; the trail makes it strong (the ENI's creation by the job's role).
    let strong_jobs = |v: &Value| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["resource"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("fraud-xgb"))
                    && f["attribution"]["confidence"] == "strong"
            })
            .count()
    };
    assert!(strong_jobs(&with) >= 2, "{:?}", owners(&with));
    assert_eq!(strong_jobs(&without), 0, "{:?}", owners(&without));
}

/// One request the loopback CloudTrail server saw: (arrival, X-Amz-Target, signed, body).
type Seen = (Instant, String, bool, Value);

/// A loopback server for `inventory collect --history`: moto keeps no CloudTrail events, so
/// this one answers LookupEvents (paginated, one throttling answer first) and returns empty
/// EC2 and SageMaker listings for the rest of the collection.
fn lookup_server(events: Vec<Value>) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Seen>>>) {
    use std::io::{BufRead, BufReader, Read, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Seen>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut throttled = false;
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut len = 0usize;
            let (mut target, mut signed) = (String::new(), false);
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            loop {
                line.clear();
                r.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                let (k, v) = l.split_once(':').unwrap_or((l, ""));
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap(),
                    "x-amz-target" => target = v.trim().to_string(),
                    "authorization" => signed = v.contains("AWS4-HMAC-SHA256"),
                    _ => {}
                }
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            log.lock()
                .unwrap()
                .push((Instant::now(), target.clone(), signed, body.clone()));
            let (status, resp) = if target.ends_with("LookupEvents") {
                let attr = body["LookupAttributes"][0]["AttributeValue"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let mine: Vec<&Value> = events
                    .iter()
                    .filter(|e| {
                        e["eventName"] == attr.as_str() || e["eventSource"] == attr.as_str()
                    })
                    .collect();
                if !throttled {
                    throttled = true;
                    (
                        "400 Bad Request",
                        json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
                    )
                } else {
                    // One event per page, so every lookup with two events paginates.
                    let i: usize = body["NextToken"].as_str().map_or(0, |t| t.parse().unwrap());
                    let page: Vec<Value> = mine
                        .get(i)
                        .into_iter()
                        .map(|e| {
                            json!({
                        "EventId": e["eventID"], "EventName": e["eventName"],
                        "CloudTrailEvent": e.to_string()})
                        })
                        .collect();
                    let mut out = json!({"Events": page});
                    if i + 1 < mine.len() {
                        out["NextToken"] = json!((i + 1).to_string());
                    }
                    ("200 OK", out)
                }
            } else if target.starts_with("SageMaker.") {
                ("200 OK", json!({}))
            } else {
                ("200 OK", Value::Null)
            };
            let text = if resp.is_null() {
                "<Response><requestId>r</requestId></Response>".to_string()
            } else {
                resp.to_string()
            };
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, seen)
}

/// Without a trail bucket, `inventory collect --history 90d` reads LookupEvents: one attribute
/// per call, every page, 2 requests per second at most, a throttling answer retried, records
/// parsed as trail records (DryRun dropped), and the result kept in the ledger.
#[test]
fn collect_history_reads_lookup_events_into_the_ledger() {
    let now = egresswatch::time::now_secs();
    let mut dry = create_event(
        "dry",
        "eni-dry",
        "subnet-a",
        "10.0.1.90",
        "sg-1",
        now - 7200,
        "x",
    );
    dry["errorCode"] = json!("Client.DryRunOperation");
    let events = vec![
        create_event(
            "lk-1",
            "eni-lk1",
            "subnet-a",
            "10.0.1.91",
            "sg-1",
            now - 86_400,
            "sagemaker.amazonaws.com",
        ),
        create_event(
            "lk-2",
            "eni-lk2",
            "subnet-a",
            "10.0.1.92",
            "sg-1",
            now - 3600,
            "AWS Internal",
        ),
        delete_event("lk-3", "eni-lk1", now - 80_000),
        dry,
    ];
    let (url, seen) = lookup_server(events);
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger").display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .args(["inventory", "collect", "--out"])
        .arg(dir.path().join("inv"))
        .args([
            "--history",
            "90d",
            "--ledger",
            &ledger,
            "--endpoint-url",
            &url,
            "--aws-region",
            "us-east-1",
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = seen.lock().unwrap().clone();
    let lookups: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.1.ends_with("LookupEvents"))
        .collect();
    // 6 lookups, CreateNetworkInterface on 3 pages (lk-1, lk-2, dry), 1 throttled retry.
    assert_eq!(lookups.len(), 6 + 2 + 1, "{lookups:#?}");
    assert!(lookups.iter().all(|s| s.2), "every request is signed");
    for s in &lookups {
        let attrs = s.3["LookupAttributes"].as_array().unwrap();
        assert_eq!(attrs.len(), 1, "one attribute per call");
        let start = s.3["StartTime"].as_i64().unwrap();
        assert!(
            (now - 90 * 86_400 - start).abs() < 120,
            "90 days back: {start}"
        );
    }
    for w in lookups.windows(2) {
        assert!(
            w[1].0.duration_since(w[0].0) >= Duration::from_millis(450),
            "2 requests/s at most"
        );
    }
    let hist = egresswatch(&[
        "inventory",
        "history",
        "--ledger",
        &ledger,
        "--format",
        "jsonl",
    ]);
    let enis: BTreeMap<String, Value> = String::from_utf8_lossy(&hist.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["eni"].as_str().unwrap().to_string(), v)
        })
        .collect();
    assert!(enis.contains_key("eni-lk2"), "{enis:?}");
    assert!(!enis.contains_key("eni-dry"), "DryRun probes are not ENIs");
    assert!(
        !enis["eni-lk1"]["deleted_at"].is_null(),
        "{:?}",
        enis["eni-lk1"]
    );
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dst = to.join(p.file_name().unwrap());
        if p.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&p, &dst);
        } else {
            std::fs::create_dir_all(to).unwrap();
            std::fs::copy(&p, &dst).unwrap();
        }
    }
}

/// Route tables change too: the S3 gateway endpoint of the samples was added after an earlier
/// snapshot. Records older than the change are routed with the snapshot in effect at their
/// time (their S3 traffic left through the NAT gateway), newer ones with the inventory.
#[test]
fn records_are_routed_with_the_snapshot_in_effect_at_their_time() {
    use egresswatch::inventory::history::record_snapshot;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let now_inv = dir.path().join("now");
    let before_inv = dir.path().join("before");
    copy_tree(&root.join("samples/inventory"), &now_inv);
    copy_tree(&root.join("samples/inventory"), &before_inv);
    // Before: no S3 gateway endpoint, no prefix-list route.
    let ep = before_inv.join("ec2/vpc-endpoints.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&ep).unwrap()).unwrap();
    v["VpcEndpoints"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["VpcEndpointType"] != "Gateway");
    std::fs::write(&ep, v.to_string()).unwrap();
    let rt_file = before_inv.join("ec2/route-tables.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&rt_file).unwrap()).unwrap();
    for t in v["RouteTables"].as_array_mut().unwrap() {
        t["Routes"]
            .as_array_mut()
            .unwrap()
            .retain(|r| r.get("DestinationPrefixListId").is_none());
    }
    std::fs::write(&rt_file, v.to_string()).unwrap();

    let day =
        |d: &str| egresswatch::time::parse_rfc3339(&format!("2026-11-{d}T00:00:00Z")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ledger = |name: &str, before_at: i64, now_at: i64| -> String {
        let loc = dir.path().join(name);
        let store = egresswatch::state::Store::local(&loc).unwrap();
        let b = egresswatch::inventory::Inventory::load(&before_inv).unwrap();
        let n = egresswatch::inventory::Inventory::load(&now_inv).unwrap();
        rt.block_on(record_snapshot(&store, &b, before_at, "before"))
            .unwrap();
        rt.block_on(record_snapshot(&store, &n, now_at, "now"))
            .unwrap();
        loc.display().to_string()
    };
    // A default-format (v2) record, so the path comes from the route table: the training
    // job's ENI in the subnet of rtb-0b... sending to S3 (us-east-1, in the samples' ip-ranges).
    let at = egresswatch::time::parse_rfc3339("2026-11-20T09:03:00Z").unwrap();
    let flow_file = dir.path().join("s3.log");
    std::fs::write(
        &flow_file,
        format!(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n2 111122223333 eni-0f00000000000b102 10.20.2.22 52.216.10.30 40300 443 6 800 1048576 {at} {} ACCEPT OK\n",
            at + 55
        ),
    )
    .unwrap();
    let flows = flow_file.display().to_string();
    let inv = now_inv.display().to_string();
    let scan = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec!["scan", "--inventory", &inv, "--format", "jsonl"];
        args.extend_from_slice(extra);
        args.push(&flows);
        findings(&egresswatch(&args))
    };
    let key = |f: &Value| format!("{} {} {} {}", f["rule"], f["eni"], f["dst_ip"], f["path"]);
    let plain: BTreeSet<String> = scan(&[]).iter().map(key).collect();
    assert!(
        plain.is_empty(),
        "S3 through the gateway endpoint raises nothing: {plain:?}"
    );
    // The record is of 2026-11-20: the endpoint-less snapshot (11-01) was in effect until the
    // one of 11-25.
    let l1 = ledger("l1", day("01"), day("25"));
    let rerouted: Vec<Value> = scan(&["--ledger", &l1]);
    let extra: Vec<&Value> = rerouted
        .iter()
        .filter(|f| !plain.contains(&key(f)))
        .collect();
    assert!(
        extra
            .iter()
            .any(|f| f["path"] == "nat-gateway" && f["dst_service"] == "S3"),
        "S3 traffic of before the endpoint went through the NAT gateway: {extra:#?}"
    );
    // Snapshots of 11-01 and 11-15: the records of 11-20 follow the newer one, as the inventory.
    let l2 = ledger("l2", day("01"), day("15"));
    let same: BTreeSet<String> = scan(&["--ledger", &l2]).iter().map(key).collect();
    assert_eq!(same, plain);
    // `inventory history` lists both route snapshots.
    let hist = egresswatch(&["inventory", "history", "--ledger", &l1]);
    let text = String::from_utf8_lossy(&hist.stdout);
    let routes: Vec<&str> = text.lines().filter(|l| l.starts_with("routes ")).collect();
    assert_eq!(routes.len(), 2, "{text}");
    assert!(
        routes[0].contains("2026-11-01") && routes[0].contains("before"),
        "{text}"
    );
}

/// The ENI count cross-checks the job-to-ENI join: two isolated one-instance training jobs on
/// one role, subnet and group; the first job's only ENI is created before the second job
/// exists, so an ENI created while both run belongs to the second (strong, `eni-count`).
/// Without instance counts it stays a group of both.
#[test]
fn eni_count_resolves_a_tie_between_jobs_sharing_a_vpc_config() {
    let build = |with_count: bool| {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inv");
        inventory(&inv, &[]);
        for (name, created, end) in [("iso-a", "10:00", "11:00"), ("iso-b", "10:30", "11:30")] {
            let mut j = job(name, created, created, end, None);
            j["EnableNetworkIsolation"] = json!(true);
            j["VpcConfig"] = json!({"Subnets": ["subnet-b"], "SecurityGroupIds": ["sg-7"]});
            if !with_count {
                j.as_object_mut().unwrap().remove("ResourceConfig");
            }
            write(
                &inv.join(format!("sagemaker/{name}.json")),
                j.to_string().as_bytes(),
            );
        }
        let ledger = dir.path().join("ledger");
        let seg: String = [("eni-a1", "10.0.2.11", "10:01"), ("eni-x", "10.0.2.12", "10:31")]
            .iter()
            .map(|(eni, ip, at)| {
                json!({"type": "eni", "eni": eni, "vpc_id": "vpc-1", "subnet_id": "subnet-b",
                    "private_ips": [ip], "security_groups": ["sg-7"], "requester_managed": true,
                    "created_at": iso(t(at)), "evidence": [{"source": "cloudtrail", "id": format!("c-{eni}")}]})
                .to_string()
                    + "\n"
            })
            .collect();
        write(&ledger.join("ledger/seg.jsonl"), seg.as_bytes());
        let mut inv = egresswatch::inventory::Inventory::load(&inv).unwrap();
        let opts = egresswatch::inventory::history::HistoryOptions {
            ledger: Some(ledger.display().to_string()),
            ..Default::default()
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(egresswatch::inventory::history::load(&mut inv, &opts, None))
            .unwrap();
        egresswatch::enrich::Model::build(&inv, None)
    };
    let names = |m: &egresswatch::enrich::Model, eni: &str| -> (Vec<String>, Vec<String>) {
        let e = &m.enis[m.eni_by_id[eni] as usize];
        (
            e.resources
                .iter()
                .map(|&r| m.resources[r as usize].name.to_string())
                .collect(),
            e.sources.iter().map(|s| s.to_string()).collect(),
        )
    };
    let m = build(true);
    assert_eq!(names(&m, "eni-a1").0, ["iso-a"]);
    let (owners, sources) = names(&m, "eni-x");
    assert_eq!(owners, ["iso-b"], "{sources:?}");
    assert!(sources.iter().any(|s| s == "eni-count"), "{sources:?}");
    let m = build(false);
    let (owners, _) = names(&m, "eni-x");
    assert_eq!(owners.len(), 2, "no counts, no resolution: {owners:?}");
}
