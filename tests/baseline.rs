//! Behavioural baselines on a generated five-week account (`tests/common/account.rs`): two
//! warm-up weeks, two benign weeks with benign novelty (a new family, runs 2-3x bigger than
//! usual, growth, S3 address churn) and one week with injected anomalies of every category.
//! Asserted: every injected anomaly is found with its category on its resource; no anomaly
//! finding on the benign weeks (at most 1 per 1,000 workload-hours) nor while learning; text
//! and Parquet agree; a run split in two with `--state` gives the findings of one run; an
//! object scanned twice is counted once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::account::{self, Config, Labels};
use serde_json::Value;

fn scan(out: &Path, inputs: &[PathBuf], state: Option<&Path>, tag: &str) -> (Value, Vec<Value>) {
    let summary = out.join(format!("summary-{tag}.json"));
    let findings = out.join(format!("findings-{tag}.jsonl"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_egresswatch"));
    cmd.arg("scan")
        .arg("--inventory")
        .arg(out.join("inventory"))
        .args(inputs)
        .args(["--format", "jsonl", "--output"])
        .arg(&findings)
        .arg("--summary-json")
        .arg(&summary);
    if let Some(s) = state {
        cmd.arg("--state").arg(s);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "scan {tag}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    let f = std::fs::read_to_string(findings)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (s, f)
}

fn anomalies(f: &[Value]) -> Vec<&Value> {
    f.iter().filter(|x| !x["anomaly"].is_null()).collect()
}

fn t(v: &Value) -> i64 {
    let s = v.as_str().unwrap();
    egresswatch::time::parse_rfc3339(s).unwrap()
}

/// Final version of each anomaly id across runs (highest revision).
fn by_id<'a>(runs: &[&'a [Value]]) -> BTreeMap<String, &'a Value> {
    let mut m: BTreeMap<String, &Value> = BTreeMap::new();
    for f in runs.iter().flat_map(|r| r.iter()) {
        if f["anomaly"].is_null() {
            continue;
        }
        let id = f["id"].as_str().unwrap().to_string();
        let rev = f["revision"].as_u64().unwrap();
        if m.get(&id)
            .is_none_or(|o| o["revision"].as_u64().unwrap() <= rev)
        {
            m.insert(id, f);
        }
    }
    m
}

#[test]
fn injected_anomalies_found_benign_weeks_quiet_text_parquet_and_split_runs_agree() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let labels: Labels = account::generate(
        &Config {
            parquet: true,
            ..Config::default()
        },
        out,
    )
    .unwrap();

    // One run over the five weeks, no state.
    let (s, f) = scan(out, &[out.join("flowlogs")], None, "all");
    let b = &s["baseline"];
    assert!(b["hours_closed"].as_u64().unwrap() >= 800, "{b}");
    let an = anomalies(&f);
    for a in &labels.anomalies {
        let hit = an.iter().find(|x| {
            x["category"] == a.category.as_str()
                && x["resource"]["name"] == a.resource_name.as_str()
                && t(&x["anomaly"]["window_end"]) > a.start
                && t(&x["window_start"]) <= a.end + 2 * 3600
        });
        let hit = hit.unwrap_or_else(|| {
            panic!(
                "{} ({} on {}) not found; anomalies: {:#?}",
                a.id,
                a.category,
                a.resource_name,
                an.iter().map(|x| &x["title"]).collect::<Vec<_>>()
            )
        });
        // Explainable: the family, the observed value against its threshold.
        assert!(
            hit["resource"]["family"]
                .as_str()
                .unwrap()
                .ends_with(&a.family),
            "{hit}"
        );
        let an = &hit["anomaly"];
        assert_eq!(an["learning"], false);
        assert!(an["score"].as_f64().unwrap() >= 1.0, "{an}");
        assert!(!hit["title"].as_str().unwrap().is_empty());
    }
    // Nothing outside the injected week: not while learning, not on the benign weeks.
    let stray: Vec<&&Value> = an
        .iter()
        .filter(|x| t(&x["window_start"]) < labels.injected.start - 3600)
        .collect();
    let benign_rate = stray.len() as f64 * 1000.0 / labels.workload_hours as f64;
    assert!(
        benign_rate <= 1.0,
        "{} anomaly findings before the injected week ({benign_rate:.2} per 1,000 workload-hours): {:#?}",
        stray.len(),
        stray.iter().map(|x| &x["title"]).collect::<Vec<_>>()
    );
    // Every anomaly finding belongs to a labelled anomaly's resource.
    for x in &an {
        assert!(
            labels
                .anomalies
                .iter()
                .any(|a| x["resource"]["name"] == a.resource_name.as_str()),
            "unexpected anomaly: {}",
            x["title"]
        );
    }
    // Class-level anomalies have no single destination address.
    assert!(an
        .iter()
        .any(|x| x["category"] == "volume-spike" && x["dst_ip"].is_null()));

    // Parquet: the same anomalies with the same values.
    let (_, fp) = scan(out, &[out.join("flowlogs-parquet")], None, "parquet");
    let text_ids = by_id(&[&f]);
    let pq_ids = by_id(&[&fp]);
    assert_eq!(
        text_ids.keys().collect::<Vec<_>>(),
        pq_ids.keys().collect::<Vec<_>>()
    );
    for (id, x) in &text_ids {
        assert_eq!(x["anomaly"]["observed"], pq_ids[id]["anomaly"]["observed"]);
    }

    // Weeks 1-2, then weeks 3-5, with one state: the anomalies of one run with a state.
    let days = account::day_dirs(&out.join("flowlogs"));
    assert_eq!(days.len(), 35);
    let st_split = out.join("state-split");
    let (s1, f1) = scan(out, &days[..14], Some(&st_split), "weeks12");
    assert!(anomalies(&f1).is_empty(), "warm-up weeks raise nothing");
    assert!(s1["baseline"]["profiles"].as_u64().unwrap() > 0);
    let (_, f2) = scan(out, &days[14..], Some(&st_split), "weeks345");
    let st_one = out.join("state-one");
    let (_, f_one) = scan(out, &days, Some(&st_one), "one-with-state");
    let split = by_id(&[&f1, &f2]);
    let one = by_id(&[&f_one]);
    assert_eq!(
        split.keys().collect::<BTreeSet<_>>(),
        one.keys().collect::<BTreeSet<_>>(),
        "split {:#?} one {:#?}",
        split.values().map(|x| &x["title"]).collect::<Vec<_>>(),
        one.values().map(|x| &x["title"]).collect::<Vec<_>>()
    );
    for (id, x) in &split {
        assert_eq!(
            x["anomaly"]["observed"], one[id]["anomaly"]["observed"],
            "{id}"
        );
    }
    // ... and the same as the stateless run over everything.
    assert_eq!(
        one.keys().collect::<BTreeSet<_>>(),
        text_ids.keys().collect::<BTreeSet<_>>()
    );

    // The state persisted as snapshot generations, bounded.
    let gens: Vec<_> = std::fs::read_dir(st_split.join("baseline"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".snap"))
        .collect();
    assert!(!gens.is_empty() && gens.len() <= 3, "{gens:?}");

    // Scanning week 5 again with the same state counts nothing twice and raises nothing new.
    let (s3, f3) = scan(out, &days[28..], Some(&st_split), "again");
    let objects = s3["files"].as_u64().unwrap();
    assert_eq!(
        s3["baseline"]["duplicate_objects"].as_u64().unwrap(),
        objects
    );
    assert!(anomalies(&f3).is_empty(), "{:#?}", anomalies(&f3));
}

fn objects_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut e: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    e.sort();
    for p in e {
        if p.is_dir() {
            objects_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn egresswatch_aws(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap()
}

/// `replay --state s3://...`: baselines learned from S3-resident logs persist in an S3 prefix
/// (moto on loopback); the second replay continues them and finds what a local scan with a
/// local state finds; replaying the same range again counts nothing twice.
#[test]
fn replay_keeps_baseline_state_on_s3_and_matches_a_local_scan() {
    let Some(m) = common::moto::moto() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let labels = account::generate(
        &Config {
            weeks: 3,
            scale: 0.05,
            ..Config::default()
        },
        out,
    )
    .unwrap();
    let mut files = Vec::new();
    objects_under(&out.join("flowlogs"), &mut files);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ] {
        std::env::set_var(k, v);
    }
    let s3 = rt.block_on(async {
        let cfg = egresswatch::aws::sdk_config(Some(&m.url), Some("us-east-1")).await;
        let s3 = egresswatch::aws::s3_client(&cfg, true);
        for b in ["flowlogs", "state"] {
            s3.create_bucket().bucket(b).send().await.unwrap();
        }
        for f in &files {
            let key = f
                .strip_prefix(out.join("flowlogs"))
                .unwrap()
                .display()
                .to_string();
            s3.put_object()
                .bucket("flowlogs")
                .key(key)
                .body(std::fs::read(f).unwrap().into())
                .send()
                .await
                .unwrap();
        }
        s3
    });
    let fmt = egresswatch::time::format_rfc3339;
    let replay = |start: i64, end: i64, tag: &str| -> (Value, Vec<Value>) {
        let summary = out.join(format!("replay-{tag}.json"));
        let findings = out.join(format!("replay-{tag}.jsonl"));
        let args: Vec<String> = [
            "replay",
            "--endpoint-url",
            &m.url,
            "--bucket",
            "flowlogs",
            "--account",
            "111122223333",
            "--region",
            "us-east-1",
            "--start",
            &fmt(start),
            "--end",
            &fmt(end),
            "--inventory",
            &out.join("inventory").display().to_string(),
            "--state",
            "s3://state/egresswatch",
            "--format",
            "jsonl",
            "--output",
            &findings.display().to_string(),
            "--summary-json",
            &summary.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = egresswatch_aws(&args);
        assert!(
            o.status.success(),
            "replay {tag}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let s: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
        let f = std::fs::read_to_string(findings)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (s, f)
    };
    let (s1, f1) = replay(labels.start, labels.warm_until, "warm");
    assert!(s1["baseline"]["profiles"].as_u64().unwrap() > 0, "{s1}");
    assert!(anomalies(&f1).is_empty());
    let snaps = rt.block_on(async {
        s3.list_objects_v2()
            .bucket("state")
            .prefix("egresswatch/baseline/")
            .send()
            .await
            .unwrap()
            .contents()
            .len()
    });
    assert!(snaps >= 1, "a snapshot generation on S3");
    let (s2, f2) = replay(labels.warm_until, labels.end, "rest");
    assert_eq!(s2["baseline"]["duplicate_objects"], 0);

    // The same with a local state and a local scan.
    let days = account::day_dirs(&out.join("flowlogs"));
    let st = out.join("state-local");
    let (_, l1) = scan(out, &days[..14], Some(&st), "local-warm");
    let (_, l2) = scan(out, &days[14..], Some(&st), "local-rest");
    let remote = by_id(&[&f1, &f2]);
    let local = by_id(&[&l1, &l2]);
    assert!(!local.is_empty(), "the injected week raises anomalies");
    // Evidence names differ (s3:// against paths); ids and values do not.
    assert_eq!(
        remote.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>()
    );
    for (id, x) in &remote {
        assert_eq!(x["anomaly"]["observed"], local[id]["anomaly"]["observed"]);
    }

    // Replaying the last week again: every object is known, nothing is counted twice.
    let (s3r, f3) = replay(labels.injected.start, labels.end, "again");
    assert_eq!(s3r["baseline"]["duplicate_objects"], s3r["files"], "{s3r}");
    assert!(anomalies(&f3).is_empty());
}
