//! SIEM wire formats (`egresswatch::sink::format`): OCSF validated against the official
//! OCSF 1.8.0 JSON schema (through scripts/ocsf_validate.py), CEF and RFC 5424 escaping and
//! framing, `_bulk` bodies and responses, HEC batches and acks, ASFF batches and limits, Slack and
//! webhook bodies.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

use egresswatch::detect::findings::Evidence;
use egresswatch::detect::{Finding, RuleSet, Scope, Severity};
use egresswatch::output::{self, Format};
use egresswatch::scan::{Engine, ScanOptions};
use egresswatch::sink::format::{
    asff, classify_http_status, ecs, hec, ocsf, slack, syslog, Delivery, FormatContext, FormatError,
};

/// 2026-11-21T00:00:00.250Z
const NOW_MS: i64 = 1_795_219_200_250;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn demo() -> &'static [Finding] {
    static F: OnceLock<Vec<Finding>> = OnceLock::new();
    F.get_or_init(|| {
        let inv = egresswatch::demo::inventory().expect("demo inventory");
        let e = Engine::new(&inv, &RuleSet::builtin(), Scope::Sagemaker, None);
        let r = e.scan(&egresswatch::demo::inputs(), &ScanOptions::default());
        assert!(r.findings.len() >= 7, "demo has findings");
        r.findings
    })
}

fn ctx() -> FormatContext {
    FormatContext::new("0.1.0", "ew-host-1", NOW_MS)
}

fn by_rule(rule: &str) -> Finding {
    demo()
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in the demo"))
        .clone()
}

/// EW-002 internet egress through the NAT gateway, 3 flows, resource with an ARN.
fn internet() -> Finding {
    let f = demo()
        .iter()
        .find(|f| f.rule == "EW-002" && f.flows == 3)
        .expect("the 3-flow EW-002 finding")
        .clone();
    assert_eq!(f.last_seen.as_deref(), Some("2026-11-20T09:05:58Z"));
    f
}

/// A finding with the characters every format must escape.
fn nasty() -> Finding {
    let mut f = internet();
    f.title = "pipe | back\\slash = eq \"quote\" ]bracket\nnewline <b>&amp;</b> ü".into();
    f.description = "line1\nline2\r\nline3 a=b c|d e\\f ]".into();
    f.eni = "eni-0f00000000000b101".into();
    f
}

fn no_resource() -> Finding {
    let mut f = internet();
    f.resource = None;
    f.first_seen = None;
    f.last_seen = None;
    f.window_start = None;
    f.src_ip = None;
    f.vpc_id = None;
    f.subnet_id = None;
    f.dst_port = None;
    f.evidence.clear();
    f
}

fn ipv6() -> Finding {
    let mut f = internet();
    f.src_ip = Some("2600:1f18:aaaa:bb01::21".into());
    f.dst_ip = Some("2001:db8::50".into());
    f
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

// ---------------------------------------------------------------------------------------------
// OCSF

#[test]
fn ocsf_identifiers_and_severity() {
    assert_eq!(ocsf::type_uid(ocsf::Activity::Create), 200_401);
    assert_eq!(ocsf::type_uid(ocsf::Activity::Update), 200_402);
    assert_eq!(ocsf::type_uid(ocsf::Activity::Close), 200_403);
    let c = ctx();
    for f in demo() {
        for a in [ocsf::Activity::Create, ocsf::Activity::Update] {
            let v = ocsf::to_value(f, &c, a);
            assert_eq!(v["class_uid"], 2004);
            assert_eq!(v["category_uid"], 2);
            assert_eq!(v["activity_id"], a.id());
            assert_eq!(v["type_uid"], 2004 * 100 + u64::from(a.id()));
            assert_eq!(v["finding_info"]["uid"], f.id.as_str());
            let want = match f.severity {
                Severity::Info => 1,
                Severity::Low => 2,
                Severity::Medium => 3,
                Severity::High => 4,
                Severity::Critical => 5,
            };
            assert_eq!(v["severity_id"], want, "{}", f.rule);
            let profiles = v["metadata"]["profiles"].as_array().unwrap();
            assert!(profiles.contains(&json!("cloud")));
            assert_eq!(v["cloud"]["provider"], "AWS");
        }
    }
}

#[test]
fn ocsf_maps_the_finding() {
    let f = internet();
    let v = ocsf::to_value(&f, &ctx(), ocsf::Activity::Create);
    // 2026-11-20T09:05:58Z and 09:01:00Z in ms.
    assert_eq!(v["time"], 1_795_165_558_000_i64);
    assert_eq!(v["finding_info"]["last_seen_time"], 1_795_165_558_000_i64);
    assert_eq!(v["finding_info"]["first_seen_time"], 1_795_165_260_000_i64);
    assert_eq!(v["start_time"], 1_795_165_260_000_i64);
    assert_eq!(v["count"], 3);
    assert_eq!(v["severity"], "High");
    assert_eq!(v["finding_info"]["title"], f.title.as_str());
    assert_eq!(v["finding_info"]["desc"], f.description.as_str());
    assert_eq!(v["finding_info"]["types"], json!(["internet-egress"]));
    assert_eq!(v["finding_info"]["analytic"]["uid"], "EW-002");
    assert!(v["finding_info"].get("modified_time").is_none());
    assert_eq!(
        v["metadata"]["product"],
        json!({"name": "egresswatch", "vendor_name": "egresswatch", "version": "0.1.0", "uid": "egresswatch"})
    );
    assert_eq!(v["metadata"]["version"], "1.8.0");
    assert_eq!(v["cloud"]["region"], "us-east-1");
    assert_eq!(v["cloud"]["account"]["uid"], "111122223333");
    let res = &v["resources"][0];
    assert_eq!(
        res["uid"],
        "arn:aws:sagemaker:us-east-1:111122223333:training-job/fraud-train-2026-11-20"
    );
    assert_eq!(res["name"], "fraud-train-2026-11-20");
    assert_eq!(res["type"], "AWS::SageMaker::TrainingJob");
    assert_eq!(v["resources"][1]["uid"], "eni-0f00000000000b101");
    let flow = &v["evidences"][0];
    assert_eq!(flow["src_endpoint"]["ip"], "10.20.1.21");
    assert_eq!(
        flow["src_endpoint"]["interface_uid"],
        "eni-0f00000000000b101"
    );
    assert_eq!(
        flow["src_endpoint"]["vpc_uid"],
        f.vpc_id.as_deref().unwrap()
    );
    assert_eq!(
        flow["src_endpoint"]["subnet_uid"],
        f.subnet_id.as_deref().unwrap()
    );
    assert_eq!(
        flow["dst_endpoint"],
        json!({"ip": "203.0.113.50", "port": 443})
    );
    assert_eq!(flow["connection_info"]["direction_id"], 2);
    assert_eq!(flow["connection_info"]["protocol_num"], 6);
    assert_eq!(flow["connection_info"]["boundary"], "NAT Gateway");
    let lines: Vec<u64> = v["evidences"].as_array().unwrap()[1..]
        .iter()
        .map(|e| e["data"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 4, 5]);
    assert_eq!(v["evidences"][1]["file"]["path"], &*f.evidence[0].file);
    assert!(f.evidence[0]
        .file
        .ends_with(v["evidences"][1]["file"]["name"].as_str().unwrap()));
    assert_eq!(v["unmapped"]["control"], "no-direct-internet-access");
    assert_eq!(v["unmapped"]["path"], "nat-gateway");
    assert_eq!(
        v["unmapped"]["traffic"],
        json!({"bytes": f.bytes, "packets": f.packets, "flows": 3})
    );
    assert_eq!(v["policy"]["uid"], "no-direct-internet-access");
    assert!(v["remediation"]["desc"].as_str().unwrap().len() > 20);
    // The attribution travels with the finding (the samples' training-job ENI: strong).
    assert_eq!(v["unmapped"]["attribution"]["confidence"], "strong");
    assert_eq!(
        v["unmapped"]["attribution"],
        serde_json::to_value(f.attribution.as_ref().unwrap()).unwrap()
    );

    // Context overrides the ARN's account and region.
    let c = ctx().with_account("444455556666").with_region("eu-west-1");
    let v = ocsf::to_value(&f, &c, ocsf::Activity::Create);
    assert_eq!(v["cloud"]["account"]["uid"], "444455556666");
    assert_eq!(v["cloud"]["region"], "eu-west-1");
}

#[test]
fn ocsf_is_deterministic_and_updates_keep_the_finding_uid() {
    let f = internet();
    let create = ocsf::to_json(&f, &ctx(), ocsf::Activity::Create);
    let later = FormatContext::new("0.1.0", "other-host", NOW_MS + 60_000);
    assert_eq!(create, ocsf::to_json(&f, &later, ocsf::Activity::Create));
    let c = parse(&create);
    let u = ocsf::to_value(&f, &ctx(), ocsf::Activity::Update);
    assert_eq!(c["finding_info"]["uid"], u["finding_info"]["uid"]);
    assert_ne!(c["metadata"]["uid"], u["metadata"]["uid"]);
    assert_eq!(u["activity_name"], "Update");
    assert_eq!(u["type_name"], "Detection Finding: Update");
    assert_eq!(u["finding_info"]["modified_time"], u["time"]);
    // A later last_seen is a new event of the same finding.
    let mut g = f.clone();
    g.last_seen = Some("2026-11-20T09:59:00Z".into());
    let u2 = ocsf::to_value(&g, &ctx(), ocsf::Activity::Update);
    assert_ne!(u2["metadata"]["uid"], u["metadata"]["uid"]);
    assert_eq!(u2["finding_info"]["uid"], u["finding_info"]["uid"]);
    let close = ocsf::to_value(&f, &ctx(), ocsf::Activity::Close);
    assert_eq!(close["is_alert"], false);
    // Without timestamps the time is the context's now.
    let v = ocsf::to_value(&no_resource(), &ctx(), ocsf::Activity::Create);
    assert_eq!(v["time"], NOW_MS);
    assert!(v["cloud"].get("account").is_none());
}

#[test]
fn output_format_ocsf_prints_one_detection_finding_per_line() {
    let mut out = Vec::new();
    output::write_findings_with(&mut out, demo(), Format::Ocsf, &ctx()).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), demo().len());
    for (line, f) in text.lines().zip(demo()) {
        let v = parse(line);
        assert_eq!(v["class_uid"], 2004);
        assert_eq!(v["type_uid"], 200_401);
        assert_eq!(v["finding_info"]["uid"], f.id.as_str());
    }
    let cli = Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .args(["demo", "--format", "ocsf"])
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(cli.stdout)
        .unwrap()
        .lines()
        .map(parse)
        .collect();
    assert_eq!(lines.len(), demo().len());
    assert!(lines.iter().all(|v| v["class_uid"] == 2004));
}

/// The venv python from scripts/setup_validators.sh, or `None` (with a note) outside CI.
fn validator_python() -> Option<String> {
    match std::env::var("EGRESSWATCH_VALIDATOR_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var_os("CI").is_some() => panic!(
            "EGRESSWATCH_VALIDATOR_PYTHON is not set; CI must run scripts/setup_validators.sh \
             and export its output (scripts/test.sh does)"
        ),
        _ => {
            eprintln!(
                "note: OCSF schema validation skipped: set EGRESSWATCH_VALIDATOR_PYTHON=$(bash scripts/setup_validators.sh)"
            );
            None
        }
    }
}

/// Runs scripts/ocsf_validate.py on JSON lines; returns (success, output).
fn validate(python: &str, docs: &[Value]) -> (bool, String) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for d in docs {
        writeln!(file, "{d}").unwrap();
    }
    file.flush().unwrap();
    let out = Command::new(python)
        .arg(root().join("scripts/ocsf_validate.py"))
        .args(["--expect-class", "2004", "--require-profile", "cloud"])
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => (true, text),
        Some(1) => (false, text),
        other => panic!("validator failed to run ({other:?}): {text}"),
    }
}

#[test]
fn ocsf_passes_the_official_schema_and_broken_documents_fail() {
    let Some(python) = validator_python() else {
        return;
    };
    let c = ctx();
    let mut docs: Vec<Value> = Vec::new();
    for f in demo() {
        docs.push(ocsf::to_value(f, &c, ocsf::Activity::Create));
        docs.push(ocsf::to_value(f, &c, ocsf::Activity::Update));
    }
    for f in [no_resource(), ipv6(), nasty()] {
        docs.push(ocsf::to_value(&f, &c, ocsf::Activity::Create));
    }
    docs.push(ocsf::to_value(&internet(), &c, ocsf::Activity::Close));
    let (ok, out) = validate(&python, &docs);
    assert!(ok, "valid documents were rejected:\n{out}");
    assert!(
        out.contains(&format!("{} valid, 0 invalid", docs.len())),
        "{out}"
    );

    let good = ocsf::to_value(&internet(), &c, ocsf::Activity::Create);
    type Break = fn(&mut Value);
    let broken: [(&str, Break, &str); 6] = [
        (
            "type_uid of another activity",
            |v| v["type_uid"] = json!(200_403),
            "type_uid 200403 != class_uid*100+activity_id = 200401",
        ),
        (
            "type_uid not in the class",
            |v| v["type_uid"] = json!(200_409),
            "type_uid",
        ),
        (
            "cloud object missing",
            |v| {
                v.as_object_mut().unwrap().remove("cloud");
            },
            "'cloud' is a required property",
        ),
        (
            "cloud profile and object missing",
            |v| {
                v.as_object_mut().unwrap().remove("cloud");
                v["metadata"]["profiles"] = json!(["security_control"]);
            },
            "required profile 'cloud'",
        ),
        (
            "wrong class",
            |v| {
                v["class_uid"] = json!(4001);
                v["type_uid"] = json!(400_101);
            },
            "class_uid is 4001, expected 2004",
        ),
        (
            "unknown attribute",
            |v| v["src_ip"] = json!("10.0.0.1"),
            "'src_ip' was unexpected",
        ),
    ];
    for (what, mutate, expect) in broken {
        let mut doc = good.clone();
        mutate(&mut doc);
        let (ok, out) = validate(&python, &[doc]);
        assert!(
            !ok,
            "{what}: the validator accepted a broken document:\n{out}"
        );
        assert!(
            out.contains(expect),
            "{what}: expected {expect:?} in:\n{out}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Syslog and CEF

/// Splits a CEF line into its 7 header fields (unescaped) and the raw extension.
fn cef_split(line: &str) -> (Vec<String>, String) {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.push(chars.next().expect("dangling escape in header")),
            '|' if fields.len() < 7 => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
        if fields.len() == 7 {
            break;
        }
    }
    (fields, chars.collect())
}

/// Parses a CEF extension into (key, unescaped value) pairs: a key starts after a space and
/// runs to an unescaped `=`.
fn cef_extension(ext: &str) -> Vec<(String, String)> {
    let b: Vec<char> = ext.chars().collect();
    // Positions of unescaped '='.
    let mut eqs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == '\\' {
            i += 2;
            continue;
        }
        if b[i] == '=' {
            eqs.push(i);
        }
        i += 1;
    }
    let mut out = Vec::new();
    let mut key_start = 0;
    for (n, &eq) in eqs.iter().enumerate() {
        let key: String = b[key_start..eq].iter().collect();
        let val_end = match eqs.get(n + 1) {
            Some(&next) => {
                let sp = (eq..next)
                    .rev()
                    .find(|&j| b[j] == ' ')
                    .expect("space before key");
                key_start = sp + 1;
                sp
            }
            None => b.len(),
        };
        let raw: String = b[eq + 1..val_end].iter().collect();
        let mut val = String::new();
        let mut it = raw.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                match it.next() {
                    Some('n') => val.push('\n'),
                    Some('r') => val.push('\r'),
                    Some(o) => val.push(o),
                    None => panic!("dangling escape in {raw:?}"),
                }
            } else {
                val.push(c);
            }
        }
        out.push((key, val));
    }
    out
}

#[test]
fn cef_escaping_exact() {
    let mut s = String::new();
    syslog::escape_cef_header(&mut s, r"a|b\c=d");
    assert_eq!(s, r"a\|b\\c=d");
    let mut s = String::new();
    syslog::escape_cef_header(&mut s, "x\ny\r\nz");
    assert_eq!(s, "x y  z");
    let mut s = String::new();
    syslog::escape_cef_value(&mut s, "a|b\\c=d\ne\r\nf\rg");
    assert_eq!(s, r"a|b\\c\=d\ne\nf\rg");
    let mut s = String::new();
    syslog::escape_cef_value(&mut s, r"\=");
    assert_eq!(s, r"\\\=");
}

#[test]
fn cef_line_round_trips() {
    let f = nasty();
    let line = syslog::cef(&f, &ctx());
    assert!(
        line.starts_with("CEF:0|egresswatch|egresswatch|0.1.0|EW-002|pipe \\| back\\\\slash = eq"),
        "{line}"
    );
    assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
    let (header, ext) = cef_split(&line);
    assert_eq!(header.len(), 7);
    assert_eq!(header[0], "CEF:0");
    assert_eq!(header[4], "EW-002");
    assert_eq!(header[5], f.title.replace('\n', " "));
    assert_eq!(header[6], "8");
    let kv = cef_extension(&ext);
    let get = |k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {k} in {ext}"))
    };
    assert_eq!(get("src"), "10.20.1.21");
    assert_eq!(get("dst"), "203.0.113.50");
    assert_eq!(get("dpt"), "443");
    assert_eq!(get("proto"), "TCP");
    assert_eq!(get("out"), f.bytes.to_string());
    assert_eq!(get("cnt"), "3");
    assert_eq!(get("cs1Label"), "eni");
    assert_eq!(get("cs1"), "eni-0f00000000000b101");
    assert_eq!(
        get("cs2"),
        f.resource.as_ref().unwrap().arn.as_deref().unwrap()
    );
    assert_eq!(get("cs3"), "no-direct-internet-access");
    assert_eq!(get("cs4"), "nat-gateway");
    assert_eq!(get("externalId"), f.id);
    assert_eq!(get("rt"), "1795165558000");
    assert_eq!(get("start"), "1795165260000");
    assert_eq!(get("end"), "1795165558000");
    assert_eq!(get("dvchost"), "ew-host-1");
    // CR LF is folded into one \n, as escape_cef_value documents.
    assert_eq!(get("msg"), f.description.replace("\r\n", "\n"));
    assert_eq!(get("msg"), "line1\nline2\nline3 a=b c|d e\\f ]");

    // Severity mapping and IPv6 keys.
    assert_eq!(syslog::cef_severity(Severity::Critical), 10);
    assert_eq!(syslog::cef_severity(Severity::Info), 1);
    let (_, ext6) = cef_split(&syslog::cef(&ipv6(), &ctx()));
    let kv6 = cef_extension(&ext6);
    assert!(kv6.iter().any(|(k, v)| k == "c6a3" && v == "2001:db8::50"));
    assert!(!kv6.iter().any(|(k, _)| k == "dst" || k == "src"));
}

#[test]
fn syslog_sd_escaping_exact() {
    let mut s = String::new();
    syslog::escape_sd_value(&mut s, r#"a"b\c]d[e=f"#);
    assert_eq!(s, r#"a\"b\\c\]d[e=f"#);
    let mut s = String::new();
    syslog::push_sd_element(&mut s, "x@32473", &[("k", "v\"]"), ("bad name", "1")]);
    assert_eq!(s, r#"[x@32473 k="v\"\]" bad_name="1"]"#);
}

#[test]
fn syslog_rfc5424_message_and_octet_counting() {
    let mut f = nasty();
    f.eni = "eni-\"quoted]\\".into();
    let opts = syslog::SyslogOptions {
        procid: Some("4242".into()),
        ..Default::default()
    };
    let msg = syslog::message(&f, &ctx(), &opts);
    // local4 (20) * 8 + err (3) for a high finding.
    let head =
        "<163>1 2026-11-21T00:00:00.250Z ew-host-1 egresswatch 4242 FINDING [egresswatch@32473 ";
    assert!(msg.starts_with(head), "{msg}");
    assert!(msg.contains(&format!(r#" id="{}""#, f.id)), "{msg}");
    assert!(msg.contains(r#" eni="eni-\"quoted\]\\""#), "{msg}");
    assert!(msg.contains(r#" rule="EW-002" severity="high""#), "{msg}");
    // MSG after the SD element is the finding JSON, which reads back as the same finding.
    let sd_end = msg.find("] {").expect("SD then JSON MSG") + 2;
    let back: Finding = serde_json::from_str(&msg[sd_end..]).unwrap();
    assert_eq!(back, f);

    let framed = syslog::frame(&msg);
    let (len, rest) = framed.split_once(' ').unwrap();
    assert_eq!(len.parse::<usize>().unwrap(), rest.len());
    assert_eq!(rest, msg);
    // Octets, not characters: the title has a multi-byte character.
    assert!(msg.len() > msg.chars().count());
    assert_eq!(syslog::framed(&f, &ctx(), &opts), framed);
    assert_eq!(syslog::frame("ü"), "2 ü");

    // CEF payload; PRI for every severity; NILVALUE and header sanitising.
    let cef_opts = syslog::SyslogOptions {
        payload: syslog::Payload::Cef,
        facility: syslog::facility::AUTHPRIV,
        msgid: String::new(),
        ..Default::default()
    };
    let mut c = ctx();
    c.hostname = "bad host\n".into();
    let m = syslog::message(&internet(), &c, &cef_opts);
    assert!(
        m.starts_with(
            "<83>1 2026-11-21T00:00:00.250Z bad_host_ egresswatch - - [egresswatch@32473 "
        ),
        "{m}"
    );
    assert!(m.contains("] CEF:0|egresswatch|"), "{m}");
    assert_eq!(
        syslog::prival(20, syslog::syslog_severity(Severity::Critical)),
        162
    );
    assert_eq!(
        syslog::prival(16, syslog::syslog_severity(Severity::Info)),
        134
    );
    assert_eq!(syslog::prival(99, 9), 23 * 8 + 7);
    let bom = syslog::SyslogOptions {
        bom: true,
        ..Default::default()
    };
    assert!(syslog::message(&internet(), &ctx(), &bom).contains("] \u{feff}{"));
}

// ---------------------------------------------------------------------------------------------
// Elasticsearch

#[test]
fn ecs_document_fields() {
    let f = internet();
    let v = parse(&ecs::to_json(&f, &ctx()));
    assert_eq!(v["@timestamp"], "2026-11-20T09:05:58.000Z");
    assert_eq!(v["message"], f.title.as_str());
    assert_eq!(v["event"]["kind"], "alert");
    assert_eq!(v["event"]["category"], json!(["network"]));
    assert_eq!(v["event"]["type"], json!(["connection", "info"]));
    assert_eq!(v["event"]["id"], f.id.as_str());
    assert_eq!(v["event"]["severity"], 4);
    assert_eq!(v["event"]["start"], "2026-11-20T09:01:00.000Z");
    assert_eq!(v["source"]["ip"], "10.20.1.21");
    assert_eq!(v["destination"], json!({"ip": "203.0.113.50", "port": 443}));
    assert_eq!(v["network"]["direction"], "egress");
    assert_eq!(v["network"]["transport"], "tcp");
    assert_eq!(v["network"]["iana_number"], "6");
    assert_eq!(v["network"]["bytes"], f.bytes);
    assert_eq!(v["network"]["packets"], f.packets);
    assert_eq!(v["cloud"]["provider"], "aws");
    assert_eq!(v["cloud"]["region"], "us-east-1");
    assert_eq!(v["cloud"]["account"]["id"], "111122223333");
    assert_eq!(v["rule"]["id"], "EW-002");
    assert_eq!(v["rule"]["name"], "internet-egress");
    assert_eq!(v["egresswatch"]["control"], "no-direct-internet-access");
    assert_eq!(v["egresswatch"]["path"], "nat-gateway");
    assert_eq!(v["egresswatch"]["evidence"][2]["line"], 5);
    assert_eq!(
        v["egresswatch"]["resource"]["name"],
        "fraud-train-2026-11-20"
    );
    let blocked = parse(&ecs::to_json(&by_rule("EW-007"), &ctx()));
    assert_eq!(blocked["event"]["type"], json!(["connection", "denied"]));
}

#[test]
fn ecs_bulk_body_structure() {
    let fs = demo();
    let body = ecs::bulk_body(fs, "egresswatch-findings", ecs::BulkAction::Index, &ctx());
    assert!(body.ends_with('\n'));
    let lines: Vec<&str> = body.split_terminator('\n').collect();
    assert_eq!(lines.len(), fs.len() * 2);
    for (pair, f) in lines.chunks(2).zip(fs) {
        assert_eq!(
            parse(pair[0]),
            json!({"index": {"_index": "egresswatch-findings", "_id": f.id}})
        );
        let doc = parse(pair[1]);
        assert_eq!(doc["event"]["id"], f.id.as_str());
    }
    // Re-sending the same findings gives the same body (idempotent by _id).
    assert_eq!(
        body,
        ecs::bulk_body(fs, "egresswatch-findings", ecs::BulkAction::Index, &ctx())
    );
    let create = ecs::bulk_body(&fs[..1], "alerts-egress", ecs::BulkAction::Create, &ctx());
    assert!(create.starts_with(&format!(
        "{{\"create\":{{\"_index\":\"alerts-egress\",\"_id\":\"{}\"}}}}\n",
        fs[0].id
    )));
    assert_eq!(ecs::bulk_body(&[], "x", ecs::BulkAction::Index, &ctx()), "");
}

#[test]
fn ecs_bulk_response_classification() {
    let body = br#"{"took":30,"errors":true,"items":[
        {"index":{"_index":"i","_id":"a","status":201,"result":"created"}},
        {"index":{"_index":"i","_id":"b","status":200,"result":"updated"}},
        {"create":{"_index":"i","_id":"c","status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},
        {"index":{"_index":"i","_id":"d","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [source.ip]"}}},
        {"index":{"_index":"i","_id":"e","status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
        {"index":{"_index":"i","_id":"f","status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}},
        {"index":{"_index":"i","_id":"g","status":404,"error":{"type":"index_not_found_exception","reason":"no such index"}}},
        {"index":{"_index":"i","_id":"h","status":500,"error":{"type":"es_rejected_execution_exception","reason":"rejected"}}}
    ]}"#;
    let items = ecs::parse_bulk_response(body).unwrap();
    let got: Vec<(&str, u16, Delivery)> = items
        .iter()
        .map(|i| (i.id.as_deref().unwrap(), i.status, i.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("a", 201, Delivery::Ok),
            ("b", 200, Delivery::Ok),
            ("c", 409, Delivery::Ok),
            ("d", 400, Delivery::Permanent),
            ("e", 429, Delivery::Retryable),
            ("f", 503, Delivery::Retryable),
            ("g", 404, Delivery::Permanent),
            ("h", 500, Delivery::Retryable),
        ]
    );
    assert_eq!(
        items[3].error_type.as_deref(),
        Some("mapper_parsing_exception")
    );
    assert_eq!(
        items[3].reason.as_deref(),
        Some("failed to parse field [source.ip]")
    );
    assert_eq!(
        ecs::classify_bulk_item(400, Some("es_rejected_execution_exception")),
        Delivery::Retryable
    );
    assert!(ecs::parse_bulk_response(b"not json").is_err());
    assert!(matches!(
        ecs::parse_bulk_response(br#"{"items":[{}]}"#),
        Err(FormatError::Shape(_))
    ));
    assert!(ecs::parse_bulk_response(br#"{"errors":false,"items":[]}"#)
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// Splunk HEC

#[test]
fn hec_batch_envelopes() {
    let fs = &demo()[..3];
    let opts = hec::HecOptions {
        index: Some("security".into()),
        ..Default::default()
    };
    let body = hec::batch(fs, &ctx(), &opts);
    let envs: Vec<Value> = serde_json::Deserializer::from_str(&body)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(envs.len(), 3);
    for (e, f) in envs.iter().zip(fs) {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [
                "event",
                "fields",
                "host",
                "index",
                "source",
                "sourcetype",
                "time"
            ]
        );
        assert_eq!(e["host"], "ew-host-1");
        assert_eq!(e["source"], "egresswatch");
        assert_eq!(e["sourcetype"], "egresswatch:finding");
        assert_eq!(e["index"], "security");
        assert_eq!(e["fields"]["finding_id"], f.id.as_str());
        let back: Finding = serde_json::from_value(e["event"].clone()).unwrap();
        assert_eq!(&back, f);
    }
    // time: epoch seconds with milliseconds, from last seen.
    let first = body.lines().next().unwrap();
    let secs = fs[0]
        .last_seen
        .as_deref()
        .and_then(egresswatch::time::parse_rfc3339)
        .unwrap();
    assert!(
        first.starts_with(&format!("{{\"time\":{secs}.000,\"host\":")),
        "{first}"
    );
    assert_eq!(hec::epoch_seconds(1_795_219_200_250), "1795219200.250");
    assert_eq!(hec::epoch_seconds(5), "0.005");

    // OCSF payload, no index.
    let o = hec::event(
        &internet(),
        &ctx(),
        &hec::HecOptions {
            payload: hec::EventPayload::Ocsf(ocsf::Activity::Update),
            ..Default::default()
        },
    );
    let v = parse(&o);
    assert!(v.get("index").is_none());
    assert_eq!(v["sourcetype"], "ocsf:detection_finding");
    assert_eq!(v["event"]["class_uid"], 2004);
    assert_eq!(v["event"]["type_uid"], 200_402);
}

#[test]
fn hec_responses_and_acks() {
    let ok = hec::parse_response(br#"{"text":"Success","code":0,"ackId":7}"#).unwrap();
    assert!(ok.is_success());
    assert_eq!(ok.ack_id, Some(7));
    let plain = hec::parse_response(br#"{"text":"Success","code":0}"#).unwrap();
    assert_eq!(plain.ack_id, None);
    let bad =
        hec::parse_response(br#"{"text":"Invalid data format","code":6,"invalid-event-number":2}"#)
            .unwrap();
    assert!(!bad.is_success());
    assert_eq!(bad.invalid_event_number, Some(2));
    assert!(hec::parse_response(b"<html>").is_err());

    assert_eq!(hec::classify(200, Some(0)), Delivery::Ok);
    assert_eq!(hec::classify(400, Some(6)), Delivery::Permanent);
    assert_eq!(hec::classify(403, Some(4)), Delivery::Permanent);
    assert_eq!(hec::classify(400, Some(7)), Delivery::Permanent);
    assert_eq!(hec::classify(503, Some(9)), Delivery::Retryable);
    assert_eq!(hec::classify(500, Some(8)), Delivery::Retryable);
    assert_eq!(hec::classify(503, Some(18)), Delivery::Retryable);
    assert_eq!(hec::classify(429, None), Delivery::Retryable);
    assert_eq!(hec::classify(502, None), Delivery::Retryable);
    assert_eq!(hec::classify(501, None), Delivery::Permanent);
    assert_eq!(hec::classify(401, Some(2)), Delivery::Permanent);

    assert_eq!(hec::ack_request(&[0, 1, 2]), r#"{"acks":[0,1,2]}"#);
    let acks = hec::parse_ack_response(br#"{"acks":{"0":true,"1":false,"12":true}}"#).unwrap();
    assert_eq!(
        acks.into_iter().collect::<Vec<_>>(),
        [(0, true), (1, false), (12, true)]
    );
    assert!(hec::parse_ack_response(br#"{"acks":{"x":true}}"#).is_err());
    assert!(hec::parse_ack_response(br#"{"text":"ACK is disabled","code":14}"#).is_err());
}

// ---------------------------------------------------------------------------------------------
// AWS Security Hub (ASFF)

fn many(n: usize) -> Vec<Finding> {
    (0..n)
        .map(|i| {
            let mut f = demo()[i % demo().len()].clone();
            f.id = format!("{i:032x}");
            f
        })
        .collect()
}

#[test]
fn asff_finding_fields() {
    let f = internet();
    let v = serde_json::to_value(asff::finding(&f, &ctx()).unwrap()).unwrap();
    assert_eq!(v["SchemaVersion"], "2018-10-08");
    assert_eq!(v["Id"], f.id.as_str());
    assert_eq!(
        v["ProductArn"],
        "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default"
    );
    assert_eq!(v["GeneratorId"], "EW-002");
    assert_eq!(v["AwsAccountId"], "111122223333");
    assert_eq!(
        v["Types"],
        json!([
            "Unusual Behaviors/Network Flow",
            "Effects/Data Exfiltration"
        ])
    );
    assert_eq!(v["FindingProviderFields"]["Types"], v["Types"]);
    assert_eq!(v["CreatedAt"], "2026-11-20T09:01:00.000Z");
    assert_eq!(v["FirstObservedAt"], "2026-11-20T09:01:00.000Z");
    assert_eq!(v["LastObservedAt"], "2026-11-20T09:05:58.000Z");
    assert_eq!(v["UpdatedAt"], "2026-11-21T00:00:00.250Z");
    assert_eq!(v["Severity"]["Label"], "HIGH");
    assert_eq!(v["FindingProviderFields"]["Severity"]["Label"], "HIGH");
    assert_eq!(v["Title"], f.title.as_str());
    assert_eq!(v["Description"], f.description.as_str());
    assert_eq!(
        v["Network"],
        json!({"Direction": "OUT", "Protocol": "TCP", "SourceIpV4": "10.20.1.21",
               "DestinationIpV4": "203.0.113.50", "DestinationPort": 443})
    );
    assert_eq!(v["Resources"][0]["Type"], "AwsEc2NetworkInterface");
    assert_eq!(
        v["Resources"][0]["Id"],
        "arn:aws:ec2:us-east-1:111122223333:network-interface/eni-0f00000000000b101"
    );
    assert_eq!(
        v["Resources"][0]["Details"]["AwsEc2NetworkInterface"]["NetworkInterfaceId"],
        "eni-0f00000000000b101"
    );
    assert_eq!(v["Resources"][1]["Type"], "Other");
    assert_eq!(
        v["Resources"][1]["Id"],
        "arn:aws:sagemaker:us-east-1:111122223333:training-job/fraud-train-2026-11-20"
    );
    assert_eq!(
        v["Resources"][1]["Details"]["Other"]["Kind"],
        "training-job"
    );
    assert_eq!(v["ProductFields"]["egresswatch/RuleId"], "EW-002");
    assert_eq!(
        v["ProductFields"]["egresswatch/Control"],
        "no-direct-internet-access"
    );
    assert_eq!(v["RecordState"], "ACTIVE");
    // ProductFields and Details.Other are string maps.
    assert!(v["ProductFields"]
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_string));
    assert!(v["Resources"][1]["Details"]["Other"]
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_string));

    // UpdatedAt advances with "now"; everything else is stable.
    let later = FormatContext::new("0.1.0", "ew-host-1", NOW_MS + 1000);
    let w = serde_json::to_value(asff::finding(&f, &later).unwrap()).unwrap();
    assert_eq!(w["UpdatedAt"], "2026-11-21T00:00:01.250Z");
    assert_eq!(w["CreatedAt"], v["CreatedAt"]);
    assert_eq!(w["Id"], v["Id"]);

    // Every category has Types starting with Unusual Behaviors; IPv6 goes to the V6 fields.
    for f in demo() {
        let v = serde_json::to_value(asff::finding(f, &ctx()).unwrap()).unwrap();
        assert_eq!(v["Types"][0], "Unusual Behaviors/Network Flow");
        assert!(v["Types"].as_array().unwrap().len() <= 50);
    }
    let v6 = serde_json::to_value(asff::finding(&ipv6(), &ctx()).unwrap()).unwrap();
    assert_eq!(v6["Network"]["DestinationIpV6"], "2001:db8::50");
    assert!(v6["Network"].get("DestinationIpV4").is_none());
}

#[test]
fn asff_field_limits() {
    let mut f = internet();
    f.title = "T".repeat(300);
    f.description = "é".repeat(2000);
    f.evidence = (1..=30)
        .map(|line| Evidence {
            file: "s3://bucket/key.log.gz".into(),
            line,
        })
        .collect();
    let v = serde_json::to_value(asff::finding(&f, &ctx()).unwrap()).unwrap();
    assert_eq!(v["Title"].as_str().unwrap().chars().count(), 256);
    assert!(v["Title"].as_str().unwrap().ends_with('…'));
    assert_eq!(v["Description"].as_str().unwrap().chars().count(), 1024);
    let pf = v["ProductFields"].as_object().unwrap();
    assert!(pf.len() <= 50, "{} ProductFields", pf.len());
    assert_eq!(pf["egresswatch/Evidence/0"], "s3://bucket/key.log.gz:1");
    assert!(pf.contains_key("egresswatch/Evidence/19"));
    assert!(!pf.contains_key("egresswatch/Evidence/20"));
    assert_eq!(pf["egresswatch/EvidenceOmitted"], "10");
    assert!(v.to_string().len() < 240 * 1024);
    // Empty description: the title stands in (Description is required, min length 1).
    f.description = String::new();
    let v = serde_json::to_value(asff::finding(&f, &ctx()).unwrap()).unwrap();
    assert!(!v["Description"].as_str().unwrap().is_empty());
}

#[test]
fn asff_needs_account_and_region() {
    let f = no_resource();
    assert!(matches!(
        asff::finding(&f, &ctx()),
        Err(FormatError::Missing(_))
    ));
    let c = ctx().with_account("444455556666");
    assert!(matches!(
        asff::finding(&f, &c),
        Err(FormatError::Missing(_))
    ));
    let c = c.with_region("eu-west-1");
    let v = serde_json::to_value(asff::finding(&f, &c).unwrap()).unwrap();
    assert_eq!(
        v["ProductArn"],
        "arn:aws:securityhub:eu-west-1:444455556666:product/444455556666/default"
    );
    assert_eq!(v["Resources"].as_array().unwrap().len(), 1);
    assert_eq!(v["CreatedAt"], "2026-11-21T00:00:00.250Z");
    assert!(asff::batch_import_bodies(&[internet(), f], &ctx()).is_err());
}

#[test]
fn asff_batches_chunk_at_100() {
    for (n, want) in [
        (0usize, vec![]),
        (1, vec![1]),
        (100, vec![100]),
        (101, vec![100, 1]),
        (250, vec![100, 100, 50]),
    ] {
        let fs = many(n);
        let bodies = asff::batch_import_bodies(&fs, &ctx()).unwrap();
        let sizes: Vec<usize> = bodies
            .iter()
            .map(|b| {
                let v = parse(b);
                assert_eq!(v.as_object().unwrap().len(), 1, "only Findings");
                v["Findings"].as_array().unwrap().len()
            })
            .collect();
        assert_eq!(sizes, want, "{n} findings");
        let ids: Vec<String> = bodies
            .iter()
            .flat_map(|b| {
                parse(b)["Findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["Id"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let want_ids: Vec<String> = fs.iter().map(|f| f.id.clone()).collect();
        assert_eq!(ids, want_ids);
    }
}

#[test]
fn asff_response_parsing() {
    let r = asff::parse_batch_import_response(
        br#"{"FailedCount":2,"SuccessCount":98,"FailedFindings":[
            {"Id":"a","ErrorCode":"InvalidInput","ErrorMessage":"Finding must contain at least one resource"},
            {"Id":"b","ErrorCode":"ThrottlingException","ErrorMessage":"Rate exceeded"}]}"#,
    )
    .unwrap();
    assert_eq!((r.failed_count, r.success_count), (2, 98));
    assert_eq!(r.failed_findings[0].id, "a");
    assert_eq!(r.failed_findings[0].error_code, "InvalidInput");
    assert_eq!(r.failed_findings[0].delivery(), Delivery::Permanent);
    assert_eq!(r.failed_findings[1].delivery(), Delivery::Retryable);
    let ok = asff::parse_batch_import_response(
        br#"{"FailedCount":0,"SuccessCount":1,"FailedFindings":[]}"#,
    )
    .unwrap();
    assert!(ok.failed_findings.is_empty());
    let ok = asff::parse_batch_import_response(br#"{"FailedCount":0,"SuccessCount":1}"#).unwrap();
    assert_eq!(ok.success_count, 1);
    assert!(asff::parse_batch_import_response(br#"{"message":"denied"}"#).is_err());
}

// ---------------------------------------------------------------------------------------------
// Slack and generic webhooks

#[test]
fn slack_and_webhook_bodies() {
    let f = internet();
    let v = parse(&slack::slack_body(&f));
    assert_eq!(v.as_object().unwrap().len(), 1);
    let text = v["text"].as_str().unwrap();
    for want in [
        "*HIGH* EW-002 internet-egress",
        "training-job fraud-train-2026-11-20",
        "eni-0f00000000000b101",
        "203.0.113.50:443",
        "31.4 MiB in 3 flows",
        "via nat-gateway",
        "between 2026-11-20T09:01:00Z and 2026-11-20T09:05:58Z",
        "no-direct-internet-access",
        f.id.as_str(),
    ] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    assert!(!text.contains('\n'), "one paragraph: {text}");
    let n = parse(&slack::slack_body(&nasty()));
    let t = n["text"].as_str().unwrap();
    assert!(t.contains("&lt;b&gt;&amp;amp;&lt;/b&gt;"), "{t}");
    assert!(!t.contains("<b>"));

    let back: Finding = serde_json::from_str(&slack::webhook_body(&f)).unwrap();
    assert_eq!(back, f);
    let batch = parse(&slack::webhook_batch_body(demo()));
    assert_eq!(batch["findings"].as_array().unwrap().len(), demo().len());
    assert_eq!(batch["findings"][0]["id"], demo()[0].id.as_str());
}

#[test]
fn whole_request_http_triage() {
    assert_eq!(classify_http_status(204), Delivery::Ok);
    assert_eq!(classify_http_status(408), Delivery::Retryable);
    assert_eq!(classify_http_status(413), Delivery::Permanent);
    assert_eq!(classify_http_status(504), Delivery::Retryable);
}

// ---------------------------------------------------------------------------------------------
// Anomaly findings (behavioural baselines) and revisions

/// A class-level EW-101 volume spike to S3 through the gateway endpoint: no destination
/// address, third revision of the same finding id.
fn anomaly() -> Finding {
    let mut f = internet();
    f.id = "5a1b2c3d4e5f60718293a4b5c6d7e8f9".into();
    f.rule = "EW-101".into();
    f.category = "volume-spike".into();
    f.severity = Severity::Medium;
    f.control = "behavioural-baseline".into();
    f.title =
        "training-job fraud-train-2026-11-20 sent 9.3 GiB to S3 (gateway endpoint) in an hour"
            .into();
    f.description = "Hourly bytes to a destination class far above the profile's baseline.".into();
    f.dst_ip = None;
    f.dst_port = None;
    f.dst_ports = Vec::new();
    f.path = "gateway-endpoint".into();
    f.dst_class = Some("s3-gateway".into());
    if let Some(r) = f.resource.as_mut() {
        r.family = Some("training-job/fraud-train".into());
    }
    f.activity = egresswatch::detect::findings::Activity::Update;
    f.revision = 3;
    f.anomaly = Some(egresswatch::baseline::Anomaly {
        observed: 10_000_000_000.0,
        baseline: 250_000_000.0,
        unit: "bytes".into(),
        score: 4.5,
        threshold: 2_222_222_222.5,
        p95: Some(400_000_000.0),
        profile: "training-job/fraud-train".into(),
        profile_age_hours: 336.0,
        learning: false,
        window_start: "2026-11-20T09:00:00Z".into(),
        window_end: "2026-11-20T10:00:00Z".into(),
        dst_class: "s3-gateway".into(),
        samples: 14,
    });
    f
}

fn anomaly_new() -> Finding {
    let mut f = anomaly();
    f.activity = egresswatch::detect::findings::Activity::New;
    f.revision = 1;
    f
}

#[test]
fn ocsf_anomaly_finding_maps_revision_analytic_and_analysis() {
    let f = anomaly();
    // The finding's own activity wins over a caller that reports it as new.
    let v = ocsf::to_value(&f, &ctx(), ocsf::Activity::Create);
    assert_eq!(v["activity_id"], 2);
    assert_eq!(v["activity_name"], "Update");
    assert_eq!(v["type_uid"], 200_402);
    assert_eq!(v["finding_info"]["uid"], f.id.as_str());
    assert_eq!(v["finding_info"]["modified_time"], v["time"]);
    assert_eq!(v["unmapped"]["revision"], 3);
    let an = &v["finding_info"]["analytic"];
    assert_eq!(an["type_id"], 2);
    assert_eq!(an["type"], "Behavioral");
    assert_eq!(an["uid"], "EW-101");
    assert_eq!(an["name"], "volume-spike");
    let aa = &v["anomaly_analyses"][0];
    assert_eq!(
        aa["analysis_targets"],
        json!([{"name": "training-job/fraud-train", "type": "Baseline Profile"}])
    );
    let anomaly = &aa["anomalies"][0];
    assert_eq!(anomaly["observation_parameter"], "bytes to s3-gateway");
    assert_eq!(anomaly["observation_type"], "Volume Analysis");
    assert_eq!(anomaly["observed_pattern"], "SURGE");
    assert_eq!(anomaly["observations"][0]["value"], "10000000000");
    // 2026-11-20T09:00Z .. 10:00Z
    assert_eq!(
        anomaly["observations"][0]["timespan"],
        json!({"start_time": 1_795_165_200_000_i64, "end_time": 1_795_168_800_000_i64,
               "duration": 3_600_000, "type_id": 9, "type": "Time Interval"})
    );
    let baseline = &aa["baselines"][0];
    assert_eq!(baseline["observation_parameter"], "bytes to s3-gateway");
    assert_eq!(baseline["observations"][0]["value"], "250000000");
    assert_eq!(baseline["observations"][0]["count"], 14);
    let um = &v["unmapped"]["anomaly"];
    assert_eq!(um["threshold"], 2_222_222_222.5);
    assert_eq!(um["unit"], "bytes");
    assert_eq!(um["p95"], 400_000_000.0);
    assert_eq!(um["profile_age_hours"], 336.0);
    assert_eq!(v["unmapped"]["dst_class"], "s3-gateway");
    assert_eq!(v["unmapped"]["family"], "training-job/fraud-train");
    // No address: dst_endpoint names the class, no ip, no destination observable.
    let dst = &v["evidences"][0]["dst_endpoint"];
    assert_eq!(*dst, json!({"name": "s3-gateway"}));
    let text = v.to_string();
    assert!(
        !text.contains("\"ip\":\"\"") && !text.contains("\"ip\":null"),
        "{text}"
    );
    assert!(v["observables"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["name"] != "evidences[].dst_endpoint.ip"));
    // The address family comes from the source address, not from the class name.
    assert_eq!(v["evidences"][0]["connection_info"]["protocol_ver_id"], 4);

    // The first revision is a Create of the same finding uid.
    let n = ocsf::to_value(&anomaly_new(), &ctx(), ocsf::Activity::Create);
    assert_eq!(n["activity_id"], 1);
    assert_eq!(n["type_uid"], 200_401);
    assert_eq!(n["finding_info"]["uid"], v["finding_info"]["uid"]);
    assert_eq!(n["unmapped"]["revision"], 1);
    assert!(n["finding_info"].get("modified_time").is_none());

    // Rule findings keep analytic Rule, no anomaly analysis, revision 1.
    let r = ocsf::to_value(&internet(), &ctx(), ocsf::Activity::Create);
    assert_eq!(r["finding_info"]["analytic"]["type_id"], 1);
    assert!(r.get("anomaly_analyses").is_none());
    assert_eq!(r["unmapped"]["revision"], 1);
    assert!(r["unmapped"].get("anomaly").is_none());
}

#[test]
fn ocsf_anomaly_findings_pass_the_official_schema() {
    let Some(python) = validator_python() else {
        return;
    };
    let c = ctx();
    let mut docs = Vec::new();
    for f in [anomaly(), anomaly_new()] {
        docs.push(ocsf::to_value(&f, &c, ocsf::Activity::Create));
        docs.push(ocsf::to_value(&f, &c, ocsf::Activity::Update));
    }
    // Every detector's category, with and without an address, and without an ENI.
    for (rule, cat, unit) in [
        ("EW-102", "sustained-egress", "bytes"),
        ("EW-103", "new-destination", "bytes"),
        ("EW-104", "new-port", "flows"),
        ("EW-105", "beaconing", "score"),
    ] {
        let mut f = anomaly();
        f.rule = rule.into();
        f.category = cat.into();
        if let Some(a) = f.anomaly.as_mut() {
            a.unit = unit.into();
            a.p95 = None;
        }
        f.dst_ip = Some("203.0.113.50".into());
        f.dst_port = Some(443);
        docs.push(ocsf::to_value(&f, &c, ocsf::Activity::Create));
        f.dst_ip = None;
        f.dst_class = None;
        f.eni = "-".into();
        f.src_ip = None;
        docs.push(ocsf::to_value(&f, &c, ocsf::Activity::Create));
    }
    let (ok, out) = validate(&python, &docs);
    assert!(ok, "anomaly documents were rejected:\n{out}");
    assert!(
        out.contains(&format!("{} valid, 0 invalid", docs.len())),
        "{out}"
    );
    // The validator does check the anomaly objects: a required attribute missing fails.
    let mut broken = ocsf::to_value(&anomaly(), &c, ocsf::Activity::Create);
    broken["anomaly_analyses"][0]
        .as_object_mut()
        .unwrap()
        .remove("analysis_targets");
    let (ok, out) = validate(&python, &[broken]);
    assert!(!ok, "a broken anomaly analysis was accepted:\n{out}");
    assert!(out.contains("analysis_targets"), "{out}");
}

#[test]
fn ecs_anomaly_finding_carries_revision_and_no_empty_destination() {
    let f = anomaly();
    let v = parse(&ecs::to_json(&f, &ctx()));
    assert_eq!(v["event"]["id"], f.id.as_str());
    assert_eq!(v["egresswatch"]["activity"], "update");
    assert_eq!(v["egresswatch"]["revision"], 3);
    assert_eq!(v["egresswatch"]["dst_class"], "s3-gateway");
    assert_eq!(v["egresswatch"]["anomaly"]["observed"], 10_000_000_000.0);
    assert_eq!(v["egresswatch"]["anomaly"]["baseline"], 250_000_000.0);
    assert_eq!(
        v["egresswatch"]["anomaly"]["window_end"],
        "2026-11-20T10:00:00Z"
    );
    assert_eq!(
        v["egresswatch"]["resource"]["family"],
        "training-job/fraud-train"
    );
    assert_eq!(v["destination"], json!({}));
    assert_eq!(v["network"]["type"], "ipv4");
    let r = parse(&ecs::to_json(&internet(), &ctx()));
    assert_eq!(r["egresswatch"]["revision"], 1);
    assert_eq!(r["egresswatch"]["activity"], "new");
    assert!(r["egresswatch"].get("anomaly").is_none());
}

#[test]
fn asff_anomaly_finding_keeps_the_id_and_carries_revision_and_values() {
    let f = anomaly();
    let v = serde_json::to_value(asff::finding(&f, &ctx()).unwrap()).unwrap();
    let n = serde_json::to_value(asff::finding(&anomaly_new(), &ctx()).unwrap()).unwrap();
    assert_eq!(v["Id"], f.id.as_str());
    assert_eq!(v["Id"], n["Id"]);
    assert_eq!(v["RecordState"], "ACTIVE");
    assert_eq!(v["UpdatedAt"], "2026-11-21T00:00:00.250Z");
    assert_eq!(v["Severity"]["Label"], "MEDIUM");
    assert_eq!(
        v["Types"],
        json!([
            "Unusual Behaviors/Network Flow",
            "Effects/Data Exfiltration"
        ])
    );
    let pf = &v["ProductFields"];
    assert_eq!(pf["egresswatch/Revision"], "3");
    assert_eq!(n["ProductFields"]["egresswatch/Revision"], "1");
    assert_eq!(pf["egresswatch/Activity"], "update");
    assert_eq!(pf["egresswatch/DstClass"], "s3-gateway");
    assert_eq!(pf["egresswatch/Anomaly/Observed"], "10000000000");
    assert_eq!(pf["egresswatch/Anomaly/Baseline"], "250000000");
    assert_eq!(pf["egresswatch/Anomaly/Unit"], "bytes");
    assert_eq!(pf["egresswatch/Anomaly/Threshold"], "2222222222.5");
    assert!(pf.as_object().unwrap().len() <= asff::MAX_PRODUCT_FIELDS);
    assert!(pf.as_object().unwrap().values().all(Value::is_string));
    assert!(v["Network"].get("DestinationIpV4").is_none());
    assert!(v["Network"].get("DestinationIpV6").is_none());
    assert!(v["Network"].get("DestinationPort").is_none());

    // Many evidence records: ProductFields stays within 50 keys.
    let mut big = anomaly();
    big.evidence = (0..20)
        .map(|i| Evidence {
            file: "s3://bucket/flow.log.gz".into(),
            line: i,
        })
        .collect();
    let b = serde_json::to_value(asff::finding(&big, &ctx()).unwrap()).unwrap();
    let keys = b["ProductFields"].as_object().unwrap();
    assert!(keys.len() <= asff::MAX_PRODUCT_FIELDS, "{}", keys.len());
    let listed = keys.keys().filter(|k| k.contains("/Evidence/")).count() as u64;
    assert_eq!(
        keys["egresswatch/EvidenceOmitted"],
        (big.evidence_omitted + 20 - listed).to_string()
    );

    // No ENI: the resource alone.
    let mut no_eni = anomaly();
    no_eni.eni = "-".into();
    let e = serde_json::to_value(asff::finding(&no_eni, &ctx()).unwrap()).unwrap();
    assert_eq!(e["Resources"].as_array().unwrap().len(), 1);
    assert_eq!(e["Resources"][0]["Type"], "Other");
}

#[test]
fn cef_and_syslog_anomaly_finding_carry_revision_and_no_empty_destination() {
    let f = anomaly();
    let line = syslog::cef(&f, &ctx());
    let (_, ext) = cef_split(&line);
    let kv = cef_extension(&ext);
    let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(get("cn1Label"), Some("revision"));
    assert_eq!(get("cn1"), Some("3"));
    assert_eq!(get("flexString1"), Some("update"));
    assert_eq!(get("flexString2Label"), Some("dstClass"));
    assert_eq!(get("flexString2"), Some("s3-gateway"));
    assert_eq!(get("cfp1Label"), Some("observed bytes"));
    assert_eq!(get("cfp1"), Some("10000000000"));
    assert_eq!(get("cfp2"), Some("250000000"));
    assert_eq!(get("cfp3"), Some("2222222222.5"));
    assert_eq!(get("cfp4"), Some("4.5"));
    assert_eq!(get("externalId"), Some(f.id.as_str()));
    for k in ["dst", "c6a3", "dpt"] {
        assert!(get(k).is_none(), "{k} in {line}");
    }
    assert!(!line.contains(" dst="), "{line}");

    let msg = syslog::message(&f, &ctx(), &syslog::SyslogOptions::default());
    assert!(msg.contains(" revision=\"3\""), "{msg}");
    assert!(msg.contains(" activity=\"update\""), "{msg}");
    assert!(msg.contains(" dst=\"s3-gateway\""), "{msg}");
    let r = syslog::cef(&internet(), &ctx());
    assert!(r.contains(" cn1=1 ") && !r.contains("cfp1"), "{r}");
}

#[test]
fn hec_and_slack_anomaly_finding() {
    let f = anomaly();
    let ev = parse(&hec::event(&f, &ctx(), &hec::HecOptions::default()));
    assert_eq!(ev["fields"]["finding_id"], f.id.as_str());
    assert_eq!(ev["fields"]["revision"], 3);
    assert_eq!(ev["event"]["revision"], 3);
    assert!(ev["event"]["dst_ip"].is_null());
    assert_eq!(ev["event"]["anomaly"]["unit"], "bytes");
    let o = parse(&hec::event(
        &f,
        &ctx(),
        &hec::HecOptions {
            payload: hec::EventPayload::Ocsf(ocsf::Activity::Create),
            ..Default::default()
        },
    ));
    assert_eq!(o["event"]["activity_id"], 2);
    let s = slack::summary(&f);
    assert!(s.contains(" to s3-gateway via gateway-endpoint"), "{s}");
    assert!(s.contains("(revision 3)"), "{s}");
    let mut g = anomaly();
    g.dst_class = Some("internet:203.0.113.0/24".into());
    g.dst_port = Some(443);
    let s = slack::summary(&g);
    assert!(s.contains(" to internet:203.0.113.0/24:443 "), "{s}");
}
