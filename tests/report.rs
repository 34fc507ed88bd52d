//! `egresswatch report` end to end: the binary writes HTML, JSON, CSV and the manifest over the
//! bundled samples; Debian's headless chromium opens the HTML offline and its DOM must carry the
//! JSON's numbers, its net log must show no request, and a screenshot is kept under `target/`.
//! Hostile names (job names, ENI descriptions, tags) must come out as text, never markup.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_egresswatch"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chromium() -> PathBuf {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in ["/usr/bin", "/usr/local/bin", "/snap/bin"] {
            let p = Path::new(dir).join(c);
            if p.exists() {
                return p;
            }
        }
    }
    panic!("chromium not found: scripts/test.sh installs it (apt-get install -y chromium)");
}

/// Runs headless chromium offline on `html`: returns the serialized DOM and the net log text;
/// writes a screenshot to `png` when given.
fn browse(html: &Path, work: &Path, png: Option<&Path>) -> (String, String) {
    let profile = work.join("profile");
    let netlog = work.join("netlog.json");
    let url = format!("file://{}", html.display());
    let base = |c: &mut Command| {
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    };
    let mut c = Command::new(chromium());
    base(&mut c);
    c.arg(format!("--log-net-log={}", netlog.display()))
        .arg("--net-log-capture-mode=Everything")
        .arg("--dump-dom")
        .arg(&url);
    let out = c.output().expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8(out.stdout).expect("utf-8 DOM");
    let log = std::fs::read_to_string(&netlog).unwrap_or_default();
    if let Some(png) = png {
        let mut c = Command::new(chromium());
        base(&mut c);
        c.arg(format!("--screenshot={}", png.display()))
            .arg("--window-size=1280,3000")
            .arg(&url);
        let out = c.output().expect("run chromium for the screenshot");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(png).expect("screenshot written");
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    }
    (dom, log)
}

/// Attribute values of every element that starts with `open` (e.g. `<tr class="control"`).
fn rows_with<'a>(dom: &'a str, open: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(at) = rest.find(open) {
        let tail = &rest[at..];
        let end = tail.find('>').unwrap_or(tail.len());
        out.push(&tail[..end]);
        rest = &tail[end..];
    }
    out
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    let end = tag[at..].find('"')? + at;
    Some(
        tag[at..end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

/// Network requests the page started (URL_REQUEST_START_JOB events with an initiator origin).
/// Chromium's own background requests (time sync, account checks) are logged with the initiator
/// "not an origin" and are not the document's doing.
fn network_requests(netlog: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(netlog).expect("net log is JSON");
    let types = &v["constants"]["logEventTypes"];
    let start = types["URL_REQUEST_START_JOB"]
        .as_u64()
        .expect("event type known");
    v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"].as_u64() == Some(start))
        .filter(|e| e["params"]["initiator"].as_str() != Some("not an origin"))
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .collect()
}

#[test]
fn the_request_check_sees_a_page_request() {
    // Control: a page without the CSP that loads an image from loopback must be caught, so an
    // empty list for the report means something.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("leaky.html");
    std::fs::write(
        &page,
        r#"<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/pixel.png"></body></html>"#,
    )
    .unwrap();
    let (_, netlog) = browse(&page, dir.path(), None);
    let reqs = network_requests(&netlog);
    assert!(
        reqs.iter().any(|u| u.starts_with("http://127.0.0.1:9/")),
        "{reqs:?}"
    );
}

fn run_report(inventory: &Path, dir: &Path) -> serde_json::Value {
    let out = bin()
        .arg("report")
        .arg("--inventory")
        .arg(inventory)
        .arg("--out")
        .arg(dir.join("report.html"))
        .arg("--json")
        .arg(dir.join("report.json"))
        .arg("--csv")
        .arg(dir.join("csv"))
        .arg(root().join("samples/flowlogs"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

fn verify_manifest(dir: &Path) -> usize {
    let text = std::fs::read_to_string(dir.join("MANIFEST.sha256")).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let (hash, name) = line.split_once("  ").expect("sha256sum format");
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let got: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, hash, "{name}");
        n += 1;
    }
    n
}

#[test]
fn report_over_samples_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let json = run_report(&root().join("samples/inventory"), dir.path());
    // Manifest: the five outputs, each hash right; a changed byte breaks it.
    assert_eq!(verify_manifest(dir.path()), 5);
    let html_path = dir.path().join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("default-src 'none'"));
    assert!(!html.contains("<script"), "the report has no JavaScript");

    let shots = root().join("target/report-artefacts");
    std::fs::create_dir_all(&shots).unwrap();
    let (dom, netlog) = browse(
        &html_path,
        dir.path(),
        Some(&shots.join("report-samples.png")),
    );
    assert!(!netlog.is_empty(), "chromium wrote no net log");
    let requests = network_requests(&netlog);
    assert!(
        requests.is_empty(),
        "the report made requests: {requests:?}"
    );

    // Control rows in the DOM equal the JSON's, in order, with the same states and bytes.
    let rows = rows_with(&dom, "<tr class=\"control\"");
    let controls = json["controls"].as_array().unwrap();
    assert!(controls.len() >= 30, "{}", controls.len());
    assert_eq!(rows.len(), controls.len());
    for (row, c) in rows.iter().zip(controls) {
        assert_eq!(attr(row, "data-control").as_deref(), c["control"].as_str());
        assert_eq!(
            attr(row, "data-resource").as_deref(),
            c["resource"].as_str()
        );
        assert_eq!(attr(row, "data-state").as_deref(), c["state"].as_str());
        assert_eq!(
            attr(row, "data-bytes").and_then(|b| b.parse::<u64>().ok()),
            c["bytes"].as_u64()
        );
    }
    // The facts the samples were built to show.
    let find = |control: &str, resource: &str| {
        controls
            .iter()
            .find(|c| c["control"] == control && c["resource"] == resource)
            .unwrap_or_else(|| panic!("{control} {resource}"))
    };
    let s3 = find("gateway-endpoint", "training-job/fraud-train-2026-11-20");
    assert_eq!(s3["state"], "held");
    assert!(s3["evidence"]
        .as_str()
        .unwrap()
        .contains("all via vpce-0e00000000000b001"));
    assert!(s3["bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        find("gateway-endpoint", "processing-job/phi-preprocess")["state"],
        "violated"
    );
    assert_eq!(
        find("network-isolation", "training-job/claims-isolated-train")["state"],
        "violated"
    );
    assert_eq!(
        find("tls-in-transit", "processing-job/phi-preprocess")["state"],
        "violated"
    );
    let policy = find(
        "endpoint-policy",
        "vpc-endpoint/vpce-0e00000000000b001 (s3)",
    );
    assert_eq!(policy["state"], "violated");
    // Posture findings are in the findings with the normal shape, and appear in the DOM.
    let findings = json["findings"].as_array().unwrap();
    let posture: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["category"] == "posture")
        .collect();
    assert!(posture.iter().any(|f| f["rule"] == "EW-203"));
    assert!(posture.iter().any(|f| f["rule"] == "EW-205"));
    let dom_findings = rows_with(&dom, "<tr id=\"f-");
    assert_eq!(dom_findings.len(), findings.len());
    for (row, f) in dom_findings.iter().zip(findings) {
        assert_eq!(
            attr(row, "id").unwrap(),
            format!("f-{}", f["id"].as_str().unwrap())
        );
        assert_eq!(
            attr(row, "data-bytes").and_then(|b| b.parse().ok()),
            f["bytes"].as_u64()
        );
    }
    // Chart bars carry the same bytes as the JSON's egress per day.
    let bars = rows_with(&dom, "<rect class=\"bar\" data-day");
    let by_day = json["charts"]["egress_by_day"].as_array().unwrap();
    let bar_sum: u64 = bars
        .iter()
        .filter_map(|b| attr(b, "data-bytes")?.parse::<u64>().ok())
        .sum();
    let json_sum: u64 = by_day.iter().filter_map(|d| d["bytes"].as_u64()).sum();
    assert_eq!(bar_sum, json_sum);
    assert!(json_sum > 0);
    // Population in the header.
    let pop = rows_with(&dom, "<span id=\"population\"");
    assert_eq!(attr(pop[0], "data-records").as_deref(), Some("31"));

    // CSV agrees with the JSON (and so with the HTML).
    let mut rd = csv::Reader::from_path(dir.path().join("csv/controls.csv")).unwrap();
    let csv_rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(csv_rows.len(), controls.len());
    for (r, c) in csv_rows.iter().zip(controls) {
        assert_eq!(&r[0], c["control"].as_str().unwrap());
        assert_eq!(&r[4], c["state"].as_str().unwrap());
        assert_eq!(r[6].parse::<u64>().ok(), c["bytes"].as_u64());
    }
    let mut rd = csv::Reader::from_path(dir.path().join("csv/findings.csv")).unwrap();
    let ids: Vec<String> = rd.records().map(|r| r.unwrap()[0].to_string()).collect();
    let json_ids: Vec<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, json_ids);
    let mut rd = csv::Reader::from_path(dir.path().join("csv/traffic.csv")).unwrap();
    let csv_bytes: u64 = rd
        .records()
        .map(|r| r.unwrap()[8].parse::<u64>().unwrap())
        .sum();
    let json_bytes: u64 = json["traffic"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(csv_bytes, json_bytes);
    assert_eq!(
        csv_bytes, json_sum,
        "the chart and the traffic table count the same egress"
    );

    // Tampering is detected.
    std::fs::write(dir.path().join("csv/traffic.csv"), b"x").unwrap();
    let r = std::panic::catch_unwind(|| verify_manifest(dir.path()));
    assert!(r.is_err());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let t = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

const EVIL: &str = r#"<script>document.title='pwned'</script>"'</svg><img src=x onerror="document.title='pwned2'">"#;

#[test]
fn hostile_names_are_text_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inv");
    copy_dir(&root().join("samples/inventory"), &inv);
    // A job name, an ENI description and a tag, all hostile.
    let job = inv.join("sagemaker/training-job-claims-isolated.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&job).unwrap()).unwrap();
    v["TrainingJobName"] = EVIL.into();
    std::fs::write(&job, serde_json::to_vec(&v).unwrap()).unwrap();
    let enis = inv.join("ec2/network-interfaces.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&enis).unwrap()).unwrap();
    for e in v["NetworkInterfaces"].as_array_mut().unwrap() {
        e["Description"] = EVIL.into();
        e["TagSet"] = serde_json::json!([{"Key": EVIL, "Value": EVIL}]);
    }
    std::fs::write(&enis, serde_json::to_vec(&v).unwrap()).unwrap();
    let nb = inv.join("sagemaker/notebook-analyst-nb-01.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&nb).unwrap()).unwrap();
    v["NotebookInstanceName"] = format!("nb{EVIL}").into();
    std::fs::write(&nb, serde_json::to_vec(&v).unwrap()).unwrap();

    let out_dir = dir.path().join("out");
    let json = run_report(&inv, &out_dir);
    let controls = json["controls"].as_array().unwrap();
    assert!(controls
        .iter()
        .any(|c| c["resource"].as_str().unwrap().contains(EVIL)));
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(!html.contains("<script"), "raw <script> in the report");
    assert!(!html.contains("<img"), "raw <img> in the report");
    assert!(html.contains("&lt;/svg&gt;"));

    let shots = root().join("target/report-artefacts");
    std::fs::create_dir_all(&shots).unwrap();
    let (dom, netlog) = browse(
        &out_dir.join("report.html"),
        dir.path(),
        Some(&shots.join("report-hostile.png")),
    );
    // Nothing ran: no script or img element exists, the title is ours, no request (x) was made.
    assert!(!dom.contains("<script"), "a script element was created");
    assert!(!dom.contains("<img"), "an img element was created");
    assert!(!dom.contains("pwned</title>") && !dom.contains("pwned2</title>"));
    assert!(dom.contains("<title>SageMaker egress evidence report"));
    assert!(network_requests(&netlog).is_empty());
    // The names survived as text: the row's attribute round-trips to the raw name.
    let rows = rows_with(&dom, "<tr class=\"control\"");
    assert!(rows
        .iter()
        .any(|r| attr(r, "data-resource").as_deref() == Some(&format!("training-job/{EVIL}"))));
    // The charts are still whole SVGs: as many </svg> as <svg.
    assert_eq!(dom.matches("<svg").count(), dom.matches("</svg>").count());
    assert_eq!(dom.matches("<svg").count(), 3);
}

#[test]
fn ten_thousand_findings_stay_under_five_megabytes() {
    use egresswatch::detect::findings::{Evidence, Finding, FindingResource};
    use egresswatch::report::{
        self, posture::PosturePack, prices::PriceTable, requirements::RequirementTable,
    };
    let inv = egresswatch::demo::inventory().unwrap();
    let model = egresswatch::enrich::Model::build(&inv, None);
    let file: std::sync::Arc<str> = "AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T0900Z_5e2a9c1b.log.gz".into();
    let findings: Vec<Finding> = (0..10_000u64)
        .map(|i| Finding {
            id: format!("{i:032x}"),
            rule: "EW-002".into(),
            category: "internet-egress".into(),
            severity: egresswatch::detect::Severity::High,
            title: format!("training-job fraud-train-{i} sent data to internet address 203.0.113.{}:443 via nat-gateway", i % 250),
            description: "Accepted traffic from a SageMaker ENI to a public address.".into(),
            control: "no-direct-internet-access".into(),
            eni: format!("eni-{i:017x}"),
            vpc_id: Some("vpc-0a1b2c3d4e5f60718".into()),
            subnet_id: Some("subnet-0b0000000000000b1".into()),
            src_ip: Some("10.20.1.10".into()),
            dst_ip: Some(format!("203.0.113.{}", i % 250)),
            dst_port: Some(443),
            dst_ports: vec![443],
            protocol: 6,
            protocol_name: "tcp".into(),
            path: "nat-gateway".into(),
            dst_service: None,
            dst_region: None,
            resource: Some(FindingResource {
                kind: "training-job".into(),
                name: format!("fraud-train-{i}"),
                arn: None,
                network_isolation: Some(false),
                family: None,
            }),
            attribution: None,
            window_start: Some("2026-11-20T09:00:00Z".into()),
            first_seen: Some(format!("2026-11-{:02}T09:01:00Z", 1 + i % 28)),
            last_seen: Some("2026-11-20T09:05:00Z".into()),
            flows: 40,
            packets: 1000,
            bytes: 1_000_000 + i,
            flows_seen_on_nat: 0,
            evidence: (0..20).map(|l| Evidence { file: file.clone(), line: i * 20 + l }).collect(),
            evidence_omitted: 20,
            activity: Default::default(),
            revision: 1,
            dst_class: None,
            anomaly: None,
        })
        .collect();
    let r = report::build(report::ReportInput {
        command: vec!["egresswatch".into(), "report".into()],
        generated_at: 0,
        inventory: &inv,
        inventory_source: "test".into(),
        model: &model,
        findings,
        summary: None,
        traffic: None,
        objects: &[],
        packs: Vec::new(),
        posture: &PosturePack::builtin(),
        requirements: &RequirementTable::builtin(),
        prices: &PriceTable::builtin(),
    });
    let html = report::html::render(&r);
    assert!(html.len() < 5 * 1024 * 1024, "{} bytes", html.len());
    assert_eq!(html.matches("<tr id=\"f-").count(), r.findings.len());
    assert!(r.findings.len() >= 10_000);
}
