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
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
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
                row.push(format!("{}={}", field.name(), cell(b.column(c).as_ref(), r)));
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
    assert!(st.samples[0].reason.contains("4001"), "{}", st.samples[0].reason);
}

#[allow(dead_code)]
fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}
