//! The labelled account generator (`tests/common/account.rs`): deterministic, its labels
//! cover every anomaly category, and egresswatch itself reads all of it (every record
//! decoded and attributed, exactly, in text and in Parquet).

mod common;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::process::Command;

use common::account::{self, Config, Labels};
use sha2::{Digest, Sha256};

fn hashes(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let h = Sha256::digest(std::fs::read(&p).unwrap());
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, format!("{h:x}"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Runs `egresswatch scan` and returns its summary and findings.
fn scan(out: &Path, input: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
    let summary = out.join(format!("summary-{input}.json"));
    let findings = out.join(format!("findings-{input}.jsonl"));
    let st = Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .arg("scan")
        .arg("--inventory")
        .arg(out.join("inventory"))
        .arg(out.join(input))
        .arg("--format")
        .arg("jsonl")
        .arg("--output")
        .arg(&findings)
        .arg("--summary-json")
        .arg(&summary)
        .status()
        .unwrap();
    assert!(st.success(), "scan of {input} exited {st}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    let f = std::fs::read_to_string(findings)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (s, f)
}

fn text_lines(root: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    let mut files: Vec<String> = hashes(root).into_keys().collect();
    files.sort();
    for f in files {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(root.join(&f)).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        let mut it = s.lines();
        assert_eq!(it.next(), Some(account::HEADER), "{f}");
        lines.extend(it.map(str::to_string));
    }
    lines
}

#[test]
fn deterministic_and_bytes_independent_of_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = Config {
        weeks: 3,
        scale: 0.1,
        parquet: true,
        ..Config::default()
    };
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let la = account::generate(&cfg, &a).unwrap();
    let lb = account::generate(&cfg, &b).unwrap();
    assert_eq!(la, lb);
    let (ha, hb) = (hashes(&a), hashes(&b));
    assert!(ha.len() > 2 * 21 * 24, "{} files", ha.len());
    assert_eq!(ha, hb, "same seed, different files");
    let on_disk: Labels =
        serde_json::from_str(&std::fs::read_to_string(a.join("labels.json")).unwrap()).unwrap();
    assert_eq!(on_disk, la);

    // Another seed changes the traffic.
    let c = tmp.path().join("c");
    let lc = account::generate(
        &Config {
            seed: 7,
            ..cfg.clone()
        },
        &c,
    )
    .unwrap();
    assert_ne!(lc.counts.egress_bytes, la.counts.egress_bytes);

    // Scale changes the record count, never the bytes or the labels' windows.
    let d = tmp.path().join("d");
    let ld = account::generate(
        &Config {
            scale: 0.3,
            parquet: false,
            ..cfg.clone()
        },
        &d,
    )
    .unwrap();
    assert_eq!(ld.counts.egress_bytes, la.counts.egress_bytes);
    assert_eq!(ld.counts.ingress_bytes, la.counts.ingress_bytes);
    assert_eq!(ld.workload_hours, la.workload_hours);
    assert!(ld.counts.records > 2 * la.counts.records);
    for (x, y) in ld.anomalies.iter().zip(&la.anomalies) {
        assert_eq!(
            (&x.id, x.start, x.end, x.bytes),
            (&y.id, y.start, y.end, y.bytes)
        );
    }

    // The injected destinations and port are never seen before the injected week, and every
    // record lies in its object's hour.
    let injected_dsts = ["192.0.2.", "203.0.113.22", "44.210.77.13"];
    let lines = text_lines(&a.join("flowlogs"));
    assert_eq!(lines.len() as u64, la.counts.records);
    let mut injected_seen = 0;
    for l in &lines {
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f.len(), 22, "{l}");
        let start: i64 = f[10].parse().unwrap();
        let end: i64 = f[11].parse().unwrap();
        assert!(start <= end && start / 3600 == end / 3600, "{l}");
        let hit = injected_dsts.iter().any(|d| f[4].starts_with(d)) || f[6] == "22";
        if hit {
            assert!(
                start >= la.injected.start,
                "injected traffic before week 3: {l}"
            );
            injected_seen += 1;
        }
        assert!(start >= la.start && end < la.end);
    }
    assert!(injected_seen >= 300, "{injected_seen}");
}

#[test]
fn default_account_is_fully_read_and_attributed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let cfg = Config {
        parquet: true,
        ..Config::default()
    };
    let labels = account::generate(&cfg, out).unwrap();
    let c = &labels.counts;
    assert!(
        (150_000..=250_000).contains(&c.records),
        "{} records",
        c.records
    );
    assert_eq!(c.objects, 5 * 7 * 24);
    assert_eq!(c.parquet_objects, c.objects);
    assert_eq!(c.records, c.egress_records + c.ingress_records);

    // Labels: all five categories, inside the injected week, on known resources and ENIs.
    let mut cats: Vec<&str> = labels
        .anomalies
        .iter()
        .map(|a| a.category.as_str())
        .collect();
    cats.sort_unstable();
    cats.dedup();
    assert_eq!(
        cats,
        [
            "beaconing",
            "new-destination",
            "new-port",
            "sustained-egress",
            "volume-spike"
        ]
    );
    assert_eq!(labels.warm_until, labels.benign.start);
    assert_eq!(labels.benign.end, labels.injected.start);
    for a in &labels.anomalies {
        assert!(
            a.start >= labels.injected.start && a.end <= labels.injected.end,
            "{a:?}"
        );
        assert!(a.records > 0 && a.bytes > 0, "{a:?}");
        let r = labels
            .resources
            .iter()
            .find(|r| r.name == a.resource_name)
            .unwrap_or_else(|| panic!("no resource {}", a.resource_name));
        assert_eq!(r.kind, a.resource_kind);
        assert!(a.enis.iter().all(|e| r.enis.contains(e)), "{a:?}");
    }
    let beacon = labels
        .anomalies
        .iter()
        .find(|a| a.category == "beaconing")
        .unwrap();
    assert!((300..=450).contains(&beacon.records), "{beacon:?}");
    // Benign novelty: ltv-model starts with the benign weeks, some fraud-xgb runs are bigger.
    let first_ltv = labels
        .resources
        .iter()
        .filter(|r| r.family == "ltv-model")
        .map(|r| r.start)
        .min()
        .unwrap();
    assert!(first_ltv >= labels.benign.start && first_ltv < labels.benign.start + 86_400);
    assert!(labels.novelties.iter().any(|n| n.kind == "bigger-run"));
    assert!(labels.workload_hours > 300, "{}", labels.workload_hours);
    assert_eq!(
        labels.workload_hours,
        labels.workload_hours_by_family.values().sum::<u64>()
    );
    // Every job run has its own ENIs (two per training instance).
    let mut seen = std::collections::BTreeSet::new();
    for r in &labels.resources {
        for e in &r.enis {
            assert!(seen.insert(e.clone()), "ENI {e} reused");
        }
        if r.family == "churn-train" {
            assert_eq!(r.enis.len(), 4);
        }
    }

    // egresswatch reads every record of both encodings and knows every ENI.
    for input in ["flowlogs", "flowlogs-parquet"] {
        let (s, findings) = scan(out, input);
        assert_eq!(s["records"], c.records, "{input}: {s}");
        assert_eq!(s["files"], c.objects, "{input}");
        assert_eq!(s["skipped"], 0, "{input}");
        assert_eq!(s["failed_files"], 0, "{input}");
        assert_eq!(s["unattributed"]["enis"], 0, "{input}: {s}");
        // Only NAT-gateway traffic raises rule findings, each on a labelled resource, exactly.
        assert!(!findings.is_empty());
        for f in &findings {
            let name = f["resource"]["name"].as_str().unwrap();
            let r = labels
                .resources
                .iter()
                .find(|r| r.name == name)
                .unwrap_or_else(|| panic!("{input}: finding on unknown resource {f}"));
            assert_eq!(f["resource"]["kind"], r.kind.as_str(), "{f}");
            assert_eq!(f["attribution"]["confidence"], "exact", "{f}");
            // Behavioural anomalies (tests/baseline.rs) may be on any path.
            if f["anomaly"].is_null() {
                assert_eq!(f["path"], "nat-gateway", "{f}");
            }
        }
    }
}
