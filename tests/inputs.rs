//! Flow logs where they really live: Security Lake OCSF Parquet, CloudWatch Logs envelopes
//! (subscription events, Kinesis records, Firehose-to-S3 objects) and Firehose's header-less
//! lines, each compared with the same records read as plain flow-log text.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{
    Int32Builder, Int64Builder, ListBuilder, MapBuilder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::{DataType, Field, Fields};
use egresswatch::decode::{self, DecodeOptions, FileStats, Input};
use egresswatch::detect::{Finding, RuleSet, Scope};
use egresswatch::enrich::Inventory;
use egresswatch::scan::{Engine, ScanOptions, ScanResult};
use serde_json::{json, Value};

mod common;
use common::moto::moto;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn engine() -> Engine {
    let inv = Inventory::load(&root().join("samples/inventory")).expect("sample inventory loads");
    Engine::new(&inv, &RuleSet::builtin(), Scope::Sagemaker, None)
}

fn scan(inputs: Vec<Input>) -> ScanResult {
    let opts = ScanOptions {
        threads: 1,
        ..Default::default()
    };
    engine().scan(&inputs, &opts)
}

fn mem(name: &str, data: Vec<u8>) -> Input {
    Input::Memory {
        name: name.into(),
        data: data.into(),
    }
}

/// What must be equal between two decodings of the same records.
#[allow(clippy::type_complexity)]
fn key(v: &[Finding]) -> Vec<(String, u64, u64, String, Option<String>, Option<String>)> {
    let mut k: Vec<_> = v
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                f.flows,
                f.bytes,
                f.path.clone(),
                f.first_seen.clone(),
                f.src_ip.clone(),
            )
        })
        .collect();
    k.sort();
    k
}

/// The sample flow-log texts (every format the demo uses), as (header fields, data lines).
fn sample_texts() -> Vec<(Vec<String>, Vec<String>)> {
    let mut files: Vec<PathBuf> = Vec::new();
    fn walk(p: &std::path::Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out)
            } else if p.extension().is_some_and(|x| x == "gz") {
                out.push(p)
            }
        }
    }
    walk(&root().join("samples/flowlogs"), &mut files);
    files.sort();
    let mut texts: Vec<String> = files
        .iter()
        .map(|p| {
            let mut s = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(p).unwrap())
                .read_to_string(&mut s)
                .unwrap();
            s
        })
        .collect();
    texts.push(std::fs::read_to_string(root().join("samples/parquet-source/v5-1100.txt")).unwrap());
    texts
        .into_iter()
        .map(|t| {
            let mut lines = t.lines();
            let header = lines
                .next()
                .unwrap()
                .split(' ')
                .map(|s| s.replace('-', "_"))
                .collect();
            (header, lines.map(str::to_string).collect())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Security Lake: OCSF 4001 Parquet written from the documented shapes.

/// The documented forward mapping (ocsf/examples AWS VPC Flowlogs), flow-log record -> OCSF
/// 4001 JSON, as Security Lake applies it; `v1` writes source version 1.0 (OCSF 1.0.0-rc.2).
fn to_ocsf(header: &[String], line: &str, v1: bool) -> Value {
    let vals: Vec<&str> = line.split(' ').collect();
    let get = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .map(|i| vals[i])
            .filter(|v| *v != "-")
    };
    let num = |n: &str| get(n).map(|v| v.parse::<i64>().unwrap());
    let dir = get("flow_direction");
    let endpoint = |addr: &str, pkt: &str, port: &str, svc: &str, local: bool| {
        let a = get(addr);
        let p = get(pkt).or(a);
        let mut e = json!({ "port": num(port), "svc_name": get(svc).unwrap_or("-") });
        if let Some(p) = p {
            e["ip"] = json!(p);
        }
        if a.is_some() && a != p {
            e["intermediate_ips"] = json!([a]);
        }
        if local {
            e["interface_uid"] = json!(get("interface_id"));
            e["vpc_uid"] = json!(get("vpc_id"));
            e["subnet_uid"] = json!(get("subnet_id"));
            e["instance_uid"] = json!(get("instance_id").unwrap_or("-"));
        }
        e
    };
    let ingress = dir == Some("ingress");
    let action = get("action");
    let mut v = json!({
        "class_uid": 4001,
        "metadata": { "product": { "version": get("version"), "name": "Amazon VPC" },
                      "version": if v1 { "1.0.0-rc.2" } else { "1.1.0" } },
        "cloud": { "region": get("region").unwrap_or("us-east-1"), "zone": get("az_id") },
        "src_endpoint": endpoint("srcaddr", "pkt_srcaddr", "srcport", "pkt_src_aws_service", !ingress),
        "dst_endpoint": endpoint("dstaddr", "pkt_dstaddr", "dstport", "pkt_dst_aws_service", ingress),
        "connection_info": {
            "protocol_num": num("protocol"), "tcp_flags": num("tcp_flags"),
            "protocol_ver": get("type"),
            "boundary_id": num("traffic_path").map_or(99, |t| t + 3),
            "direction_id": match dir { Some("ingress") => json!(1), Some("egress") => json!(2), _ => json!(0) },
        },
        "traffic": { "packets": num("packets"), "bytes": num("bytes") },
        "time": num("start").map(|s| s * 1000),
        "start_time": num("start").map(|s| s * 1000),
        "end_time": num("end").map(|s| s * 1000),
        "status_code": get("log_status"),
        "activity_id": match action { Some("ACCEPT") => json!(6), Some("REJECT") => json!(5), _ => json!(0) },
        "disposition_id": match action { Some("ACCEPT") => json!(1), Some("REJECT") => json!(2), _ => json!(0) },
        "unmapped": { "sublocation_id": "-", "sublocation_type": "-" },
    });
    if !v1 {
        v["action_id"] = v["disposition_id"].clone();
    }
    let account = get("account_id");
    if v1 {
        v["cloud"]["account_uid"] = json!(account);
    } else {
        v["cloud"]["account"] = json!({ "uid": account });
    }
    v
}

fn path<'a>(v: &'a Value, p: &str) -> &'a Value {
    p.split('.').fold(v, |v, k| &v[k])
}

fn strs(rows: &[Value], p: &str) -> ArrayRef {
    let mut b = StringBuilder::new();
    for r in rows {
        b.append_option(path(r, p).as_str());
    }
    Arc::new(b.finish())
}

fn i32s(rows: &[Value], p: &str) -> ArrayRef {
    let mut b = Int32Builder::new();
    for r in rows {
        b.append_option(path(r, p).as_i64().map(|v| v as i32));
    }
    Arc::new(b.finish())
}

fn i64s(rows: &[Value], p: &str) -> ArrayRef {
    let mut b = Int64Builder::new();
    for r in rows {
        b.append_option(path(r, p).as_i64());
    }
    Arc::new(b.finish())
}

fn strukt(cols: Vec<(&str, ArrayRef)>) -> ArrayRef {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    Arc::new(StructArray::new(
        Fields::from(fields),
        cols.into_iter().map(|(_, a)| a).collect(),
        None,
    ))
}

fn endpoint(rows: &[Value], side: &str) -> ArrayRef {
    let mut ips = ListBuilder::new(StringBuilder::new());
    for r in rows {
        match path(r, &format!("{side}.intermediate_ips")).as_array() {
            Some(a) => {
                for ip in a {
                    ips.values().append_option(ip.as_str());
                }
                ips.append(true);
            }
            None => ips.append(false),
        }
    }
    let f = |leaf: &str| format!("{side}.{leaf}");
    strukt(vec![
        ("ip", strs(rows, &f("ip"))),
        ("port", i32s(rows, &f("port"))),
        ("svc_name", strs(rows, &f("svc_name"))),
        ("interface_uid", strs(rows, &f("interface_uid"))),
        ("vpc_uid", strs(rows, &f("vpc_uid"))),
        ("subnet_uid", strs(rows, &f("subnet_uid"))),
        ("instance_uid", strs(rows, &f("instance_uid"))),
        ("intermediate_ips", Arc::new(ips.finish())),
    ])
}

/// OCSF JSON events -> Parquet with Security Lake's nested columns. Source version 2.0 files
/// store `time` as a Parquet timestamp; 1.0 files as integer milliseconds.
fn ocsf_parquet(rows: &[Value], timestamps: bool) -> Vec<u8> {
    let mut unmapped = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for r in rows {
        if let Some(m) = r["unmapped"].as_object() {
            for (k, v) in m {
                unmapped.keys().append_value(k);
                unmapped.values().append_option(v.as_str());
            }
        }
        unmapped.append(r["unmapped"].is_object()).unwrap();
    }
    let time: ArrayRef = if timestamps {
        let mut b = TimestampMillisecondBuilder::new().with_timezone("UTC");
        for r in rows {
            b.append_option(r["time"].as_i64());
        }
        Arc::new(b.finish())
    } else {
        i64s(rows, "time")
    };
    let cloud_account: ArrayRef = if rows.iter().any(|r| r["cloud"]["account_uid"].is_string()) {
        strs(rows, "cloud.account_uid")
    } else {
        strukt(vec![("uid", strs(rows, "cloud.account.uid"))])
    };
    let cloud_account_name = if cloud_account.data_type() == &DataType::Utf8 {
        "account_uid"
    } else {
        "account"
    };
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("class_uid", i32s(rows, "class_uid")),
        ("activity_id", i32s(rows, "activity_id")),
        ("action_id", i32s(rows, "action_id")),
        ("disposition_id", i32s(rows, "disposition_id")),
        ("status_code", strs(rows, "status_code")),
        ("time", time),
        ("start_time", i64s(rows, "start_time")),
        ("end_time", i64s(rows, "end_time")),
        ("time_dt", strs(rows, "time_dt")),
        ("end_time_dt", strs(rows, "end_time_dt")),
        (
            "metadata",
            strukt(vec![
                (
                    "product",
                    strukt(vec![
                        ("version", strs(rows, "metadata.product.version")),
                        ("name", strs(rows, "metadata.product.name")),
                    ]),
                ),
                ("version", strs(rows, "metadata.version")),
            ]),
        ),
        (
            "cloud",
            strukt(vec![
                (cloud_account_name, cloud_account),
                ("region", strs(rows, "cloud.region")),
                ("zone", strs(rows, "cloud.zone")),
                ("provider", strs(rows, "cloud.provider")),
            ]),
        ),
        ("src_endpoint", endpoint(rows, "src_endpoint")),
        ("dst_endpoint", endpoint(rows, "dst_endpoint")),
        (
            "connection_info",
            strukt(vec![
                ("protocol_num", i32s(rows, "connection_info.protocol_num")),
                ("tcp_flags", i32s(rows, "connection_info.tcp_flags")),
                ("protocol_ver", strs(rows, "connection_info.protocol_ver")),
                ("boundary_id", i32s(rows, "connection_info.boundary_id")),
                ("direction_id", i32s(rows, "connection_info.direction_id")),
            ]),
        ),
        (
            "traffic",
            strukt(vec![
                ("packets", i64s(rows, "traffic.packets")),
                ("bytes", i64s(rows, "traffic.bytes")),
            ]),
        ),
        ("unmapped", Arc::new(unmapped.finish())),
    ];
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let mut out = Vec::new();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::GZIP(Default::default()))
        .build();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

/// Every canonical cell of every decoded row, rendered, `line` left out (a text line counts the
/// header, a Parquet row does not).
fn decoded_cells(input: &Input) -> (Vec<Vec<String>>, FileStats) {
    let opts = DecodeOptions::default();
    let mut stats = FileStats::new(&opts);
    let mut rows = Vec::new();
    decode::decode_input(input, &opts, &mut stats, &mut |b: RecordBatch| {
        for r in 0..b.num_rows() {
            let mut row = Vec::new();
            for (c, field) in b.schema().fields().iter().enumerate() {
                if field.name() == "line" {
                    continue;
                }
                row.push(format!(
                    "{}={}",
                    field.name(),
                    cell(b.column(c).as_ref(), r)
                ));
            }
            rows.push(row);
        }
    })
    .unwrap();
    (rows, stats)
}

fn cell(a: &dyn Array, r: usize) -> String {
    use arrow_array::types::*;
    if a.is_null(r) {
        return "null".into();
    }
    match a.data_type() {
        DataType::Dictionary(..) => {
            let d = a.as_dictionary::<Int32Type>();
            let k = d.keys().value(r) as usize;
            d.values().as_string::<i32>().value(k).to_string()
        }
        DataType::Utf8 => a.as_string::<i32>().value(r).to_string(),
        DataType::FixedSizeBinary(_) => format!("{:?}", a.as_fixed_size_binary().value(r)),
        DataType::UInt8 => a.as_primitive::<UInt8Type>().value(r).to_string(),
        DataType::UInt16 => a.as_primitive::<UInt16Type>().value(r).to_string(),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(r).to_string(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(r).to_string(),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(r).to_string(),
        t => panic!("unexpected type {t}"),
    }
}

/// The OCSF project's own pair (mappings/markdown/AWS/v1.5.0/VPC Flowlogs/samples): the raw
/// record and the 4001 event Security Lake's mapping makes of it.
const GOLDEN_RAW: &str = "account_id,action,az_id,bytes,dstaddr,dstport,end,flow_direction,instance_id,interface_id,log_status,packets,pkt_dst_aws_service,pkt_dstaddr,pkt_src_aws_service,pkt_srcaddr,protocol,region,reject_reason,srcaddr,srcport,start,sublocation_id,sublocation_type,subnet_id,tcp_flags,traffic_path,type,version,vpc_id,ecs_cluster_name,ecs_cluster_arn,ecs_container_instance_id,ecs_container_instance_arn,ecs_service_name,ecs_task_definition_arn,ecs_task_id,ecs_task_arn,ecs_container_id,ecs_second_container_id
123456789012,ACCEPT,use2-az2,38526,10.0.0.1,8864,1752247603,egress,-,eni-0000000000000000,OK,8,-,1.2.3.5,-,1.2.3.4,6,us-east-2,Accepted,1.2.3.4,8080,1752247584,-,-,subnet-04941e5249e5fb165,19,1,IPv4,8,vpc-00000000,HostingStack-servercluster001A1A00-VR6z36tUltC8,arn:aws:ecs:us-east-2:123456789012:cluster/HostingStack-servercluster001A1A00-VR6z36tUltC8,-,-,HostingStack-FargateServiceECC8084D-5sikMgI6TJV1,arn:aws:ecs:us-east-2:123456789012:task-definition/HostingStackocsfservertaskFFCA8C4A:236,k5ivh86ham2ic6vhiadec7190329gyov,arn:aws:ecs:us-east-2:123456789012:task/HostingStack-servercluster001A1A00-VR6z36tUltC8/k5ivh86ham2ic6vhiadec7190329gyov,k5ivh86ham2ic6vhiadec7190329gyov-2248247952,k5ivh86ham2ic6vhiadec7190329gyov-3192794795";

const GOLDEN_OCSF: &str = r#"{"action":"Allowed","action_id":1,"activity_id":6,"activity_name":"Traffic","category_name":"Network Activity","category_uid":4,"class_name":"Network Activity","class_uid":4001,
"cloud":{"account":{"uid":"123456789012"},"provider":"AWS","region":"us-east-2","zone":"use2-az2"},
"connection_info":{"boundary":"Same VPC","boundary_id":4,"direction":"Outbound","direction_id":2,"protocol_num":6,"protocol_ver":"IPv4","tcp_flags":19},
"disposition":"Allowed","dst_endpoint":{"intermediate_ips":["10.0.0.1"],"ip":"1.2.3.5","port":8864,"svc_name":"-"},
"end_time_dt":"2025-07-11 15:26:43+00:00",
"metadata":{"product":{"feature":{"name":"Flowlogs"},"name":"Amazon VPC","vendor_name":"AWS","version":"8"},"profiles":["cloud","security_control","datetime"],"version":"1.5.0"},
"severity":"Informational","severity_id":1,
"src_endpoint":{"instance_uid":"-","interface_uid":"eni-0000000000000000","ip":"1.2.3.4","port":8080,"subnet_uid":"subnet-04941e5249e5fb165","svc_name":"-","vpc_uid":"vpc-00000000"},
"start_time_dt":"2025-07-11 15:26:24+00:00","status_code":"OK","time":1752247584000,"time_dt":"2025-07-11 15:26:24+00:00",
"traffic":{"bytes":38526,"packets":8},"type_name":"Network Activity: Traffic","type_uid":400106,
"unmapped":{"ecs_cluster_arn":"arn:aws:ecs:us-east-2:123456789012:cluster/HostingStack-servercluster001A1A00-VR6z36tUltC8","ecs_cluster_name":"HostingStack-servercluster001A1A00-VR6z36tUltC8","ecs_container_id":"k5ivh86ham2ic6vhiadec7190329gyov-2248247952","ecs_container_instance_arn":"-","ecs_container_instance_id":"-","ecs_second_container_id":"k5ivh86ham2ic6vhiadec7190329gyov-3192794795","ecs_service_name":"HostingStack-FargateServiceECC8084D-5sikMgI6TJV1","ecs_task_arn":"arn:aws:ecs:us-east-2:123456789012:task/HostingStack-servercluster001A1A00-VR6z36tUltC8/k5ivh86ham2ic6vhiadec7190329gyov","ecs_task_definition_arn":"arn:aws:ecs:us-east-2:123456789012:task-definition/HostingStackocsfservertaskFFCA8C4A:236","ecs_task_id":"k5ivh86ham2ic6vhiadec7190329gyov","reject_reason":"Accepted","sublocation_id":"-","sublocation_type":"-"}}"#;

/// A Security Lake source-version-1 (OCSF 1.0.0-rc.2) VPC record as Elastic's integration tests
/// carry it: inbound REJECT, the ENI on the destination endpoint, no traffic path.
const RC2_OCSF: &str = r#"{"metadata":{"product":{"version":"5","name":"Amazon VPC","feature":{"name":"Flowlogs"},"vendor_name":"AWS"},"profiles":["cloud","security_control"],"version":"1.0.0-rc.2"},"cloud":{"account":{"uid":"123456789012"},"region":"us-east-1","zone":"use1-az1","provider":"AWS"},"src_endpoint":{"port":56858,"svc_name":"-","ip":"1.128.0.0"},"dst_endpoint":{"port":39938,"svc_name":"-","ip":"172.31.2.52","interface_uid":"eni-000000000000000000","vpc_uid":"vpc-00000000","instance_uid":"i-000000000000000000","subnet_uid":"subnet-000000000000000000"},"connection_info":{"protocol_num":6,"tcp_flags":2,"protocol_ver":"IPv4","boundary_id":99,"boundary":"-","direction_id":1,"direction":"Inbound"},"traffic":{"packets":1,"bytes":40},"time":1649721732000,"start_time":1649721732000,"end_time":1649721788000,"status_code":"OK","severity_id":1,"severity":"Informational","class_name":"Network Activity","class_uid":4001,"category_name":"Network Activity","category_uid":4,"activity_name":"Refuse","activity_id":5,"disposition":"Blocked","disposition_id":2,"type_uid":400105,"type_name":"Network Activity: Refuse","unmapped":{"sublocation_id":"-","sublocation_type":"-"}}"#;

const RC2_RAW: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type region az-id sublocation-type sublocation-id flow-direction pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service
5 123456789012 eni-000000000000000000 1.128.0.0 172.31.2.52 56858 39938 6 1 40 1649721732 1649721788 REJECT OK vpc-00000000 subnet-000000000000000000 i-000000000000000000 2 IPv4 us-east-1 use1-az1 - - ingress 1.128.0.0 172.31.2.52 - -";

#[test]
fn ocsf_golden_pair_decodes_to_exactly_the_raw_record() {
    let event: Value = serde_json::from_str(GOLDEN_OCSF).unwrap();
    let pq = mem("golden.gz.parquet", ocsf_parquet(&[event], true));
    let (ocsf_rows, st) = decoded_cells(&pq);
    assert_eq!((st.records, st.skipped), (1, 0));
    let raw = mem("golden.txt", GOLDEN_RAW.replace(',', " ").into_bytes());
    let (raw_rows, st) = decoded_cells(&raw);
    assert_eq!((st.records, st.skipped), (1, 0));
    // Every one of the 54 documented fields (and `extra`) is equal, including the ECS fields
    // and reject-reason from `unmapped`, dstaddr from intermediate_ips, times from time_dt.
    assert_eq!(ocsf_rows, raw_rows);
    let row = &ocsf_rows[0];
    for want in [
        "interface_id=eni-0000000000000000",
        "traffic_path=1",
        "start=1752247584",
        "end=1752247603",
        "flow_direction=2",
        "reject_reason=Accepted",
        "instance_id=null",
    ] {
        assert!(row.iter().any(|c| c == want), "{want} in {row:?}");
    }
}

#[test]
fn ocsf_rc2_ingress_record_puts_the_eni_on_the_destination_endpoint() {
    let event: Value = serde_json::from_str(RC2_OCSF).unwrap();
    let pq = mem("rc2.gz.parquet", ocsf_parquet(&[event], false));
    let (ocsf_rows, _) = decoded_cells(&pq);
    let (raw_rows, _) = decoded_cells(&mem("rc2.txt", RC2_RAW.as_bytes().to_vec()));
    assert_eq!(ocsf_rows, raw_rows);
    assert!(ocsf_rows[0].contains(&"traffic_path=null".to_string()));
    assert!(ocsf_rows[0].contains(&"action=2".to_string()));
}

#[test]
fn security_lake_parquet_gives_the_findings_of_the_same_records_as_text() {
    for v1 in [true, false] {
        let mut text_inputs = Vec::new();
        let mut pq_inputs = Vec::new();
        let mut events = 0;
        for (i, (header, lines)) in sample_texts().into_iter().enumerate() {
            let rows: Vec<Value> = lines.iter().map(|l| to_ocsf(&header, l, v1)).collect();
            events += rows.len();
            pq_inputs.push(mem(&format!("sl-{i}.gz.parquet"), ocsf_parquet(&rows, !v1)));
            let text = format!("{}\n{}\n", header.join(" "), lines.join("\n"));
            text_inputs.push(mem(&format!("text-{i}.log"), text.into_bytes()));
        }
        let pq = scan(pq_inputs);
        let txt = scan(text_inputs);
        assert_eq!(pq.summary.records, events as u64);
        assert_eq!(pq.summary.records, txt.summary.records);
        assert_eq!(pq.summary.nodata, txt.summary.nodata);
        assert_eq!(pq.summary.skipped, 0, "{:?}", pq.summary.skipped_samples);
        assert!(pq.findings.len() >= 10, "{}", pq.findings.len());
        assert_eq!(key(&pq.findings), key(&txt.findings), "source v1: {v1}");
    }
}

#[test]
fn ocsf_rows_of_another_class_are_counted_skips() {
    let mut dns: Value = serde_json::from_str(RC2_OCSF).unwrap();
    dns["class_uid"] = json!(4003);
    let ok: Value = serde_json::from_str(RC2_OCSF).unwrap();
    let pq = mem("mixed.parquet", ocsf_parquet(&[ok, dns], false));
    let (rows, st) = decoded_cells(&pq);
    assert_eq!((rows.len(), st.records, st.skipped), (1, 1, 1));
    assert_eq!(st.samples[0].line, 2);
    assert!(
        st.samples[0].reason.contains("4001"),
        "{}",
        st.samples[0].reason
    );
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

// ---------------------------------------------------------------------------------------------
// CloudWatch Logs and Firehose.

use base64::Engine as _;
use egresswatch::decode::cwlogs::FieldSources;

fn scan_with(inputs: Vec<Input>, sources: FieldSources) -> ScanResult {
    let opts = ScanOptions {
        threads: 1,
        decode: DecodeOptions {
            sources: Some(Arc::new(sources)),
            ..Default::default()
        },
        ..Default::default()
    };
    engine().scan(&inputs, &opts)
}

/// The sample records as text files (their own headers): the reference scan.
fn text_scan() -> ScanResult {
    let inputs = sample_texts()
        .into_iter()
        .enumerate()
        .map(|(i, (h, lines))| {
            mem(
                &format!("text-{i}.log"),
                format!("{}\n{}\n", h.join(" "), lines.join("\n")).into_bytes(),
            )
        })
        .collect();
    scan(inputs)
}

/// A CloudWatch Logs subscription payload (as the documentation and a real VPC capture show it).
fn envelope(group: &str, stream: &str, first_id: u64, messages: &[String]) -> String {
    let events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("{}", first_id + i as u64), "timestamp": 1795165260000u64, "message": m}))
        .collect();
    json!({"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": group,
           "logStream": stream, "subscriptionFilters": ["egresswatch"], "logEvents": events})
    .to_string()
}

const CONTROL: &str = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1680683189085,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;

/// The formats the samples use, plus a decoy of the same length as v2 with two fields swapped
/// (a line is told from it by token shape).
fn sample_layouts() -> Vec<String> {
    let mut v: Vec<String> = sample_texts()
        .into_iter()
        .map(|(h, _)| h.join(" "))
        .collect();
    v.push("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status action".into());
    v.sort();
    v.dedup();
    v
}

fn mixed_group_map(group: &str) -> FieldSources {
    let specs: Vec<String> = sample_layouts().iter().map(|s| format!("{s:?}")).collect();
    let toml = format!("[log_groups]\n{group:?} = [{}]\n", specs.join(", "));
    FieldSources::from_toml(&toml, "map.toml").unwrap()
}

#[test]
fn firehose_object_of_concatenated_envelopes_with_mixed_formats_gives_the_text_findings() {
    // Firehose writes each payload as its own gzip member, with no delimiter between them.
    let mut object = gzip(CONTROL.as_bytes());
    let mut events = 0;
    for (i, (_, lines)) in sample_texts().into_iter().enumerate() {
        for (k, chunk) in lines.chunks(3).enumerate() {
            let eni = chunk[0].split(' ').nth(2).unwrap();
            let body = envelope(
                "/vpc/mixed",
                &format!("{eni}-all"),
                (i * 100 + k * 3) as u64,
                chunk,
            );
            events += chunk.len();
            object.extend(gzip(body.as_bytes()));
        }
    }
    let got = scan_with(
        vec![mem(
            "s3://b/firehose/2026/11/20/09/cwl-1-2026-11-20-09-00-00-ab",
            object,
        )],
        mixed_group_map("/vpc/mixed"),
    );
    let want = text_scan();
    assert_eq!(got.summary.records, events as u64);
    assert_eq!(got.summary.records, want.summary.records);
    assert_eq!(got.summary.skipped, 0, "{:?}", got.summary.skipped_samples);
    assert!(got.findings.len() >= 10);
    assert_eq!(key(&got.findings), key(&want.findings));
    // Evidence: the object and the position of the log event in it (the control message is
    // not counted).
    let max = got
        .findings
        .iter()
        .flat_map(|f| &f.evidence)
        .map(|e| e.line)
        .max()
        .unwrap();
    assert!(max <= events as u64 && max > 1);
}

#[test]
fn a_record_fitting_no_format_or_several_is_a_counted_skip_not_a_guess() {
    let msgs = vec![
        "2 111122223333 eni-0f00000000000b101 10.20.1.21 203.0.113.50 44310 443 6 820 9830400 1795165260 1795165318 ACCEPT OK".to_string(),
        // Only dashes where the two 14-field formats differ: either could be meant.
        "2 111122223333 eni-0f00000000000b101 - - - - - - - 1795165260 1795165318 - -".to_string(),
        // Fits none: an address where a number must be.
        "2 111122223333 eni-0f00000000000b101 10.20.1.21 203.0.113.50 44310 443 6 820 10.0.0.1 1795165260 1795165318 ACCEPT OK".to_string(),
        "srcaddr dstaddr".to_string(),
    ];
    let mut body = envelope("/vpc/mixed", "eni-0f00000000000b101-all", 7, &msgs);
    // Another JSON object among the envelopes is a counted skip too.
    body.push_str(r#"{"hello":"world"}"#);
    let r = scan_with(
        vec![mem("cwl.json", body.into_bytes())],
        mixed_group_map("/vpc/mixed"),
    );
    assert_eq!((r.summary.records, r.summary.skipped), (1, 4));
    let reasons: Vec<(u64, &str)> = r
        .summary
        .skipped_samples
        .iter()
        .map(|s| (s.line, s.reason.as_str()))
        .collect();
    assert!(
        reasons[0].0 == 2 && reasons[0].1.contains("several"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].0 == 3 && reasons[1].1.contains("none"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].0 == 4 && reasons[2].1.contains("header"),
        "{reasons:?}"
    );
    assert!(reasons[1].1.contains("/vpc/mixed"));
    assert!(
        reasons[3].0 == 5 && reasons[3].1.contains("not a CloudWatch Logs payload"),
        "{reasons:?}"
    );
}

#[test]
fn inventory_log_format_gives_the_group_its_field_order() {
    let (header, lines) = sample_texts().into_iter().nth(1).unwrap();
    assert!(header.len() > 14, "a custom format");
    let format: String = header
        .iter()
        .map(|h| format!("${{{}}}", h.replace('_', "-")))
        .collect::<Vec<_>>()
        .join(" ");
    let inv = json!({"FlowLogs": [{"FlowLogId": "fl-1", "ResourceId": "vpc-0a1b2c3d4e5f60718", "LogDestinationType": "cloud-watch-logs",
        "LogGroupName": "/vpc/custom", "LogFormat": format, "TrafficType": "ALL"}]});
    let mut inventory = Inventory::default();
    inventory
        .add_json("flow-logs.json", &inv.to_string())
        .unwrap();
    assert_eq!(inventory.flow_logs.len(), 1);
    let mut sources = FieldSources::default();
    sources.add_flow_logs(&inventory.flow_logs);
    let body = envelope("/vpc/custom", "eni-x-all", 1, &lines);
    let got = scan_with(vec![mem("cwl.json", body.clone().into_bytes())], sources);
    let want = scan(vec![mem(
        "t.log",
        format!("{}\n{}\n", header.join(" "), lines.join("\n")).into_bytes(),
    )]);
    assert_eq!(got.summary.skipped, 0, "{:?}", got.summary.skipped_samples);
    assert_eq!(key(&got.findings), key(&want.findings));
    // Without any field source the default v2 layout cannot read these lines: every one is
    // skipped, and the file is reported as empty.
    let none = scan_with(
        vec![mem("cwl.json", body.into_bytes())],
        FieldSources::default(),
    );
    assert_eq!(none.summary.records, 0);
    assert_eq!(none.summary.skipped, lines.len() as u64);
    assert_eq!(none.summary.empty_files, 1);
}

#[test]
fn firehose_direct_objects_of_headerless_lines_use_the_delivery_stream_format() {
    let texts = sample_texts();
    let (header, lines) = &texts[1];
    let toml = format!(
        "[delivery_streams]\n\"vpc-flows\" = {:?}\n",
        header.join(" ")
    );
    let sources = FieldSources::from_toml(&toml, "map.toml").unwrap();
    let body = format!("{}\n", lines.join("\n"));
    let name = "s3://b/2026/11/20/09/vpc-flows-3-2026-11-20-09-05-00-1a2b3c4d";
    let got = scan_with(vec![mem(name, gzip(body.as_bytes()))], sources);
    let want = scan(vec![mem(
        "t.log",
        format!("{}\n{body}", header.join(" ")).into_bytes(),
    )]);
    assert_eq!(got.summary.records, lines.len() as u64);
    assert_eq!(got.summary.skipped, 0, "{:?}", got.summary.skipped_samples);
    assert_eq!(key(&got.findings), key(&want.findings));
    assert_eq!(
        egresswatch::decode::cwlogs::firehose_stream_name(
            "vpc-flows-3-2026-11-20-09-05-00-1a2b3c4d"
        ),
        Some("vpc-flows")
    );
    assert_eq!(
        egresswatch::decode::cwlogs::firehose_stream_name("x.log.gz"),
        None
    );
}

fn b64_gzip(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(gzip(s.as_bytes()))
}

fn offline_s3() -> aws_sdk_s3::Client {
    // Never called by these events (the records are in the payload); built without a network.
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build(),
    )
}

fn run_lambda(event: Value) -> (Result<Value, String>, Vec<Finding>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = Arc::new(engine());
    let mut seen = Vec::new();
    let out = rt.block_on(async {
        let mut emit = |f: &[Finding]| -> Result<(), String> {
            seen.extend(f.iter().cloned());
            Ok(())
        };
        egresswatch::lambda::handle(
            event,
            &offline_s3(),
            engine,
            &ScanOptions {
                threads: 1,
                ..Default::default()
            },
            &mut emit,
        )
        .await
    });
    (out, seen)
}

#[test]
fn lambda_subscription_event_is_decoded_and_a_redelivery_keeps_the_ids() {
    let (_, lines) = sample_texts().into_iter().next().unwrap();
    let body = envelope(
        "/vpc/default",
        "eni-0f00000000000b101-all",
        37976342262953223u64,
        &lines,
    );
    let event = json!({"awslogs": {"data": b64_gzip(&body)}});
    let (out, first) = run_lambda(event.clone());
    let out = out.unwrap();
    assert_eq!(out["summary"]["records"], json!(lines.len()));
    assert!(!first.is_empty());
    let ev = &first[0].evidence[0];
    assert_eq!(
        &*ev.file,
        "/vpc/default/eni-0f00000000000b101-all#37976342262953223"
    );
    assert!(ev.line >= 1 && ev.line <= lines.len() as u64);
    let (_, again) = run_lambda(event);
    let ids = |v: &[Finding]| v.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&first), ids(&again));
    // The same records from a text file: the same findings.
    let want = text_scan();
    for f in &first {
        assert!(
            want.findings
                .iter()
                .any(|w| w.id == f.id && w.flows == f.flows),
            "{}",
            f.id
        );
    }
    // A control message is acknowledged with nothing to scan.
    let (out, none) = run_lambda(json!({"awslogs": {"data": b64_gzip(CONTROL)}}));
    assert_eq!(out.unwrap()["summary"]["control_messages"], json!(1));
    assert!(none.is_empty());
    // An unreadable payload fails the invocation (CloudWatch Logs retries it).
    assert!(run_lambda(json!({"awslogs": {"data": "not base64!"}}))
        .0
        .is_err());
}

#[test]
fn lambda_kinesis_batch_reports_only_the_unreadable_record() {
    let (_, lines) = sample_texts().into_iter().next().unwrap();
    let body = envelope("/vpc/default", "eni-0f00000000000b101-all", 1, &lines);
    let rec = |seq: &str, data: String| {
        json!({"eventSource": "aws:kinesis", "eventID": format!("shardId-000:{seq}"),
        "kinesis": {"sequenceNumber": seq, "partitionKey": "p", "data": data}})
    };
    let event = json!({"Records": [
        rec("1001", b64_gzip(&body)),
        rec("1002", base64::engine::general_purpose::STANDARD.encode(b"\x1f\x8b not gzip")),
        rec("1003", b64_gzip(CONTROL)),
    ]});
    let (out, seen) = run_lambda(event);
    let out = out.unwrap();
    assert_eq!(
        out["batchItemFailures"],
        json!([{"itemIdentifier": "1002"}]),
        "{out}"
    );
    assert_eq!(out["summary"]["records"], json!(lines.len()));
    assert!(!seen.is_empty());
}

#[test]
fn scan_recognises_each_input_by_content_in_a_synced_folder() {
    let dir = tempfile::tempdir().unwrap();
    let texts = sample_texts();
    // Security Lake object, CloudWatch Logs via Firehose (no extension), plain text.
    let sl = dir
        .path()
        .join("aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=20261120");
    std::fs::create_dir_all(&sl).unwrap();
    let rows: Vec<Value> = texts[2]
        .1
        .iter()
        .map(|l| to_ocsf(&texts[2].0, l, false))
        .collect();
    std::fs::write(sl.join("0123abcd.gz.parquet"), ocsf_parquet(&rows, true)).unwrap();
    let fh = dir.path().join("firehose/2026/11/20/09");
    std::fs::create_dir_all(&fh).unwrap();
    let mut cw = Vec::new();
    for (h, lines) in &texts[..2] {
        let _ = h;
        cw.extend(gzip(envelope("/vpc/mixed", "eni-all", 1, lines).as_bytes()));
    }
    std::fs::write(fh.join("cwl-stream-1-2026-11-20-09-00-00-0a1b2c3d"), cw).unwrap();
    let map = dir.path().join("fields.toml");
    let specs: Vec<String> = sample_layouts().iter().map(|s| format!("{s:?}")).collect();
    std::fs::write(
        &map,
        format!("[log_groups]\n\"/vpc/mixed\" = [{}]\n", specs.join(", ")),
    )
    .unwrap();
    let inv = root().join("samples/inventory");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .args(["scan", "--inventory"])
        .arg(&inv)
        .args(["--format", "jsonl", "--fields-map"])
        .arg(&map)
        .arg("--summary-json")
        .arg(dir.path().join("summary.json"))
        .arg(dir.path().join("aws"))
        .arg(dir.path().join("firehose"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["files"], json!(2));
    assert_eq!(summary["skipped"], json!(0), "{summary}");
    let want = text_scan();
    assert_eq!(summary["records"], json!(want.summary.records));
    let got: std::collections::BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let want: std::collections::BTreeSet<String> =
        want.findings.iter().map(|f| f.id.clone()).collect();
    assert_eq!(got, want);

    // A header-less file nothing describes: loudly reported, counted in the summary.
    std::fs::write(
        dir.path().join("orphan.log"),
        format!("{}\n", texts[1].1.join("\n")),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .args(["scan", "--inventory"])
        .arg(&inv)
        .arg("--summary-json")
        .arg(dir.path().join("s2.json"))
        .arg(dir.path().join("orphan.log"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WARN")
            && stderr.contains("no record at all")
            && stderr.contains("orphan.log"),
        "{stderr}"
    );
    assert!(stderr.contains("1 files with no record"), "{stderr}");
    let s2: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("s2.json")).unwrap()).unwrap();
    assert_eq!(s2["empty_files"], json!(1));
}

// ---------------------------------------------------------------------------------------------
// replay --layout security-lake against a real S3 API (moto on loopback).

#[test]
fn replay_security_lake_layout_lists_both_source_versions_by_event_day() {
    let Some(m) = moto() else { return };
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    for (k, v) in env {
        std::env::set_var(k, v);
    }
    let texts = sample_texts();
    let bucket = "aws-security-data-lake-us-east-1-k8vs";
    let day = "region=us-east-1/accountId=111122223333/eventDay=20261120";
    let objects: Vec<(String, Vec<u8>)> = vec![
        // Source 1.0 holds the first two sample files, 2.0 the third.
        (format!("aws/VPC_FLOW/1.0/{day}/6c45d7f53d0d2915485d6b75e054fcd0.gz.parquet"), {
            let rows: Vec<Value> = texts[..2].iter().flat_map(|(h, ls)| ls.iter().map(|l| to_ocsf(h, l, true))).collect();
            ocsf_parquet(&rows, false)
        }),
        (format!("aws/VPC_FLOW/2.0/{day}/a6c45d7f53d0d2915485d6b75e054fcd.gz.parquet"), {
            let rows: Vec<Value> = texts[2].1.iter().map(|l| to_ocsf(&texts[2].0, l, false)).collect();
            ocsf_parquet(&rows, true)
        }),
        // Outside the range, another account, another source: never listed.
        ("aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=20261101/old.gz.parquet".into(), b"not read".to_vec()),
        ("aws/VPC_FLOW/2.0/region=us-east-1/accountId=999999999999/eventDay=20261120/other.gz.parquet".into(), b"not read".to_vec()),
        (format!("aws/ROUTE53/2.0/{day}/dns.gz.parquet"), b"not read".to_vec()),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cfg = egresswatch::aws::sdk_config(Some(&m.url), Some("us-east-1")).await;
        let s3 = egresswatch::aws::s3_client(&cfg, true);
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        for (k, v) in objects {
            s3.put_object()
                .bucket(bucket)
                .key(k)
                .body(v.into())
                .send()
                .await
                .unwrap();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .envs(env)
        .args([
            "replay",
            "--bucket",
            bucket,
            "--account",
            "111122223333",
            "--region",
            "us-east-1",
            "--start",
            "2026-11-20T00:00:00Z",
            "--end",
            "2026-11-21T00:00:00Z",
            "--layout",
            "security-lake",
            "--endpoint-url",
            &m.url,
            "--format",
            "jsonl",
            "--inventory",
        ])
        .arg(root().join("samples/inventory"))
        .arg("--summary-json")
        .arg(dir.path().join("s.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(summary["files"], json!(2), "{summary}");
    assert_eq!(summary["failed_files"], json!(0), "{summary}");
    let want = text_scan();
    assert_eq!(summary["records"], json!(want.summary.records));
    let got: std::collections::BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(got, want.findings.iter().map(|f| f.id.clone()).collect());
}

#[test]
fn watch_reads_security_lake_subscriber_messages_and_warns_on_unrecognised_ones() {
    let Some(m) = moto() else { return };
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    for (k, v) in env {
        std::env::set_var(k, v);
    }
    let texts = sample_texts();
    let bucket = "aws-security-data-lake-us-east-1-w4tc";
    let key = "aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=20261120/5e2a9c1b5e2a9c1b5e2a9c1b5e2a9c1b.gz.parquet";
    let rows: Vec<Value> = texts
        .iter()
        .flat_map(|(h, ls)| ls.iter().map(|l| to_ocsf(h, l, false)))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let queue_url = rt.block_on(async {
        let cfg = egresswatch::aws::sdk_config(Some(&m.url), Some("us-east-1")).await;
        let s3 = egresswatch::aws::s3_client(&cfg, true);
        let sqs = egresswatch::aws::sqs_client(&cfg);
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        s3.put_object().bucket(bucket).key(key).body(ocsf_parquet(&rows, true).into()).send().await.unwrap();
        let q = sqs.create_queue().queue_name("AmazonSecurityLake-abc-Main-Queue").send().await.unwrap();
        let url = q.queue_url().unwrap().to_string();
        // The subscriber message shape (no detail-type), then one that is nothing known.
        let sl = json!({"source": "aws.s3", "time": "2026-11-20T10:07:00Z", "account": "123456789012", "region": "us-east-1",
            "resources": ["arn"], "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1},
            "request-id": "r", "requester": "securitylake.amazonaws.com"}});
        sqs.send_message().queue_url(&url).message_body(sl.to_string()).send().await.unwrap();
        let odd = sqs.send_message().queue_url(&url).message_body(r#"{"hello":"world"}"#).send().await.unwrap();
        (url, odd.message_id().unwrap().to_string())
    });
    let (queue_url, odd_id) = queue_url;
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .envs(env)
        .args([
            "watch",
            "--endpoint-url",
            &m.url,
            "--queue-url",
            &queue_url,
            "--wait",
            "1",
            "--idle-exit",
            "3s",
            "--format",
            "jsonl",
            "--inventory",
        ])
        .arg(root().join("samples/inventory"))
        .arg("--summary-json")
        .arg(dir.path().join("s.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stats: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(stats["unrecognised"], json!(1), "{stats}");
    assert_eq!(stats["objects"], json!(1), "{stats}");
    assert!(
        stderr.lines().any(|l| l.contains("WARN")
            && l.contains(&odd_id)
            && l.contains("recognised as nothing")),
        "{stderr}"
    );
    let got: std::collections::BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let want = text_scan();
    assert_eq!(got, want.findings.iter().map(|f| f.id.clone()).collect());
}

#[test]
fn replay_firehose_layout_reads_cloudwatch_logs_envelopes_by_delivery_hour() {
    let Some(m) = moto() else { return };
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    for (k, v) in env {
        std::env::set_var(k, v);
    }
    let mut object = gzip(CONTROL.as_bytes());
    for (i, (_, lines)) in sample_texts().into_iter().enumerate() {
        object.extend(gzip(
            envelope("/vpc/mixed", "eni-all", i as u64 * 100, &lines).as_bytes(),
        ));
    }
    let bucket = "cwl-firehose";
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cfg = egresswatch::aws::sdk_config(Some(&m.url), Some("us-east-1")).await;
        let s3 = egresswatch::aws::s3_client(&cfg, true);
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        for (k, v) in [
            (
                "cwl/2026/11/20/09/cwl-to-s3-1-2026-11-20-09-10-00-0f1e2d3c",
                object.clone(),
            ),
            (
                "cwl/2026/11/19/00/cwl-to-s3-1-2026-11-19-00-10-00-0f1e2d3c",
                b"not read".to_vec(),
            ),
        ] {
            s3.put_object()
                .bucket(bucket)
                .key(k)
                .body(v.into())
                .send()
                .await
                .unwrap();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("fields.toml");
    let specs: Vec<String> = sample_layouts().iter().map(|s| format!("{s:?}")).collect();
    std::fs::write(
        &map,
        format!("[log_groups]\n\"/vpc/mixed\" = [{}]\n", specs.join(", ")),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .envs(env)
        .args([
            "replay",
            "--bucket",
            bucket,
            "--prefix",
            "cwl",
            "--account",
            "111122223333",
            "--region",
            "us-east-1",
            "--start",
            "2026-11-20T09:00:00Z",
            "--end",
            "2026-11-20T10:00:00Z",
            "--layout",
            "firehose",
            "--endpoint-url",
            &m.url,
            "--format",
            "jsonl",
            "--fields-map",
        ])
        .arg(&map)
        .arg("--inventory")
        .arg(root().join("samples/inventory"))
        .arg("--summary-json")
        .arg(dir.path().join("s.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(summary["files"], json!(1), "{summary}");
    assert_eq!(summary["skipped"], json!(0), "{summary}");
    let want = text_scan();
    assert_eq!(summary["records"], json!(want.summary.records));
    let got: std::collections::BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(got, want.findings.iter().map(|f| f.id.clone()).collect());
}

#[test]
fn lambda_counts_an_sqs_message_recognised_as_nothing() {
    let event = json!({"Records": [
        {"messageId": "m-odd", "receiptHandle": "r", "body": "{\"hello\":1}", "eventSource": "aws:sqs"},
    ]});
    let (out, seen) = run_lambda(event);
    let out = out.unwrap();
    assert_eq!(out["summary"]["unrecognised_messages"], json!(1), "{out}");
    assert_eq!(out["batchItemFailures"], json!([]));
    assert!(seen.is_empty());
}

/// Throughput of each input against plain text of the same records (run with `--ignored
/// --nocapture`, in release for meaningful numbers).
#[test]
#[ignore]
fn throughput_of_each_input() {
    let (header, lines) = sample_texts().into_iter().nth(1).unwrap();
    let n = 200_000;
    let many: Vec<String> = (0..n).map(|i| lines[i % lines.len()].clone()).collect();
    let text = format!("{}\n{}\n", header.join(" "), many.join("\n")).into_bytes();
    let rows: Vec<Value> = many.iter().map(|l| to_ocsf(&header, l, false)).collect();
    let pq = ocsf_parquet(&rows, true);
    let mut cw = Vec::new();
    for (k, chunk) in many.chunks(5000).enumerate() {
        cw.extend(gzip(
            envelope("/g", "eni-all", k as u64 * 5000, chunk).as_bytes(),
        ));
    }
    let sources = FieldSources::from_toml(
        &format!("[log_groups]\n\"/g\" = {:?}\n", header.join(" ")),
        "m",
    )
    .unwrap();
    let opts = DecodeOptions {
        sources: Some(Arc::new(sources)),
        projection: Some(egresswatch::scan::PROJECTION.to_vec()),
        ..Default::default()
    };
    for (what, input) in [
        ("text", mem("t.log", text)),
        ("ocsf parquet", mem("p.parquet", pq)),
        ("cloudwatch envelopes (gzip)", mem("c", cw)),
    ] {
        let mut stats = FileStats::new(&opts);
        let t0 = std::time::Instant::now();
        decode::decode_input(&input, &opts, &mut stats, &mut |_| {}).unwrap();
        let s = t0.elapsed().as_secs_f64();
        assert_eq!(stats.records, n as u64, "{what}");
        eprintln!(
            "{what}: {n} records in {s:.3}s = {:.2} M records/s",
            n as f64 / s / 1e6
        );
    }
}
