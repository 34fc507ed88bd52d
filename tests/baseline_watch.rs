//! Behavioural baselines in `watch`, against a real S3 + SQS server on 127.0.0.1 (moto, from
//! scripts/setup_moto.sh via EGRESSWATCH_MOTO_PYTHON). A generated three-week account: the two
//! warm-up weeks are fed by `scan --state`, the injected week is delivered as S3 notifications
//! to `watch --state` with the same store. Asserted: every labelled anomaly is emitted by watch
//! with its category and resource; each anomaly id is emitted once as `new` revision 1, then
//! only as `update`s with higher revisions; the ids equal those of `scan --state` over the same
//! weeks (the deterministic result); the summary carries the baseline counters; `--no-baseline`
//! turns them off. Two concurrent Lambda instances lose no baseline update.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use common::account::{self, Config, Labels};
use common::moto::{moto, notified_bucket};
use serde_json::Value;

fn env() -> [(&'static str, &'static str); 3] {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ]
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn scan(out: &Path, inputs: &[PathBuf], state: &Path, tag: &str) -> Vec<Value> {
    let findings = out.join(format!("findings-{tag}.jsonl"));
    let o = Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .arg("scan")
        .arg("--inventory")
        .arg(out.join("inventory"))
        .args(inputs)
        .args(["--format", "jsonl", "--output"])
        .arg(&findings)
        .arg("--state")
        .arg(state)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "scan {tag}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    lines(&findings)
}

fn anomaly_ids(f: &[Value]) -> BTreeSet<String> {
    f.iter()
        .filter(|x| !x["anomaly"].is_null())
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

fn t(v: &Value) -> i64 {
    egresswatch::time::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

fn files(day: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(day)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn watch_raises_the_injected_anomalies_once_then_updates_them_like_scan_with_state() {
    let Some(m) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let labels: Labels = account::generate(
        &Config {
            weeks: 3,
            scale: 0.05,
            ..Default::default()
        },
        out,
    )
    .unwrap();
    let root = out.join("flowlogs");
    let days = account::day_dirs(&root);
    assert_eq!(days.len(), 21);

    // The reference: scan --state over weeks 1-2, then week 3, with a fresh local state.
    let reference = out.join("state-scan");
    let f1 = scan(out, &days[..14], &reference, "ref-weeks12");
    assert!(anomaly_ids(&f1).is_empty(), "warm-up weeks raise nothing");
    let f2 = scan(out, &days[14..], &reference, "ref-week3");
    let want = anomaly_ids(&f2);
    assert!(!want.is_empty());

    // Watch's store: weeks 1-2 by scan, week 3 through the queue.
    let state = out.join("state-watch");
    let _ = scan(out, &days[..14], &state, "weeks12");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (k, v) in env() {
        std::env::set_var(k, v);
    }
    let week3: Vec<PathBuf> = days[14..].iter().flat_map(|d| files(d)).collect();
    let queue = rt.block_on(async {
        let cfg = egresswatch::aws::sdk_config(Some(&m.url), Some("us-east-1")).await;
        let (s3, sqs) = (
            egresswatch::aws::s3_client(&cfg, true),
            egresswatch::aws::sqs_client(&cfg),
        );
        let q = notified_bucket(&s3, &sqs, "week3").await;
        // In event-time order, as flow logs are delivered.
        for p in &week3 {
            let key = p.strip_prefix(&root).unwrap().to_string_lossy().to_string();
            s3.put_object()
                .bucket("week3")
                .key(key)
                .body(ByteStream::from(std::fs::read(p).unwrap()))
                .send()
                .await
                .unwrap();
        }
        q
    });
    let (found_path, summary_path) = (out.join("watch.jsonl"), out.join("watch-summary.json"));
    let mut c = Command::new(env!("CARGO_BIN_EXE_egresswatch"));
    c.args(["watch", "--endpoint-url", &m.url, "--queue-url", &queue])
        .arg("--inventory")
        .arg(out.join("inventory"))
        .args(["--wait", "1", "--visibility", "120", "--batch", "10"])
        .args(["--idle-exit", "5s", "--format", "jsonl"])
        .arg("--state")
        .arg(&state)
        .arg("--output")
        .arg(&found_path)
        .arg("--summary-json")
        .arg(&summary_path);
    for (k, v) in env() {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let found = lines(&found_path);
    let an: Vec<&Value> = found.iter().filter(|x| !x["anomaly"].is_null()).collect();

    // Every labelled anomaly, with its category, on its resource.
    for a in &labels.anomalies {
        let hit = an.iter().any(|x| {
            x["category"] == a.category.as_str()
                && x["resource"]["name"] == a.resource_name.as_str()
                && t(&x["anomaly"]["window_end"]) > a.start
                && t(&x["window_start"]) <= a.end + 2 * 3600
        });
        assert!(
            hit,
            "{} ({} on {}) not emitted by watch; anomalies: {:#?}",
            a.id,
            a.category,
            a.resource_name,
            an.iter().map(|x| &x["title"]).collect::<Vec<_>>()
        );
    }
    // Once `new` revision 1, then only `update`s with higher revisions.
    let mut by_id: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for x in &an {
        by_id.entry(x["id"].as_str().unwrap()).or_default().push(x);
    }
    for (id, revs) in &by_id {
        assert_eq!(revs[0]["activity"], "new", "{id}: {revs:#?}");
        assert_eq!(revs[0]["revision"], 1, "{id}: {revs:#?}");
        for w in revs.windows(2) {
            assert_eq!(w[1]["activity"], "update", "{id}: {revs:#?}");
            assert!(
                w[1]["revision"].as_u64() > w[0]["revision"].as_u64(),
                "{id}: {revs:#?}"
            );
        }
    }
    let updates = an.iter().filter(|x| x["activity"] == "update").count();
    eprintln!(
        "week 3: {} objects, {} anomaly ids, {} anomaly findings ({updates} updates), {} labelled",
        week3.len(),
        by_id.len(),
        an.len(),
        labels.anomalies.len()
    );
    // The deterministic result: the ids of scan --state over the same weeks.
    let got: BTreeSet<String> = by_id.keys().map(|s| s.to_string()).collect();
    assert_eq!(got, want, "watch's anomaly ids against scan --state");
    // Counted in the summary, persisted beside the windows.
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary_path).unwrap()).unwrap();
    assert_eq!(s["objects"].as_u64().unwrap(), week3.len() as u64, "{s}");
    assert!(s["baseline"]["profiles"].as_u64().unwrap() > 0, "{s}");
    assert!(s["baseline_commits"].as_u64().unwrap() >= 1, "{s}");
    assert!(state.join("baseline").is_dir() && state.join("windows").is_dir());

    // --no-baseline: the rule windows only, nothing under baseline/.
    let queue = rt.block_on(async {
        let cfg = egresswatch::aws::sdk_config(Some(&m.url), Some("us-east-1")).await;
        let (s3, sqs) = (
            egresswatch::aws::s3_client(&cfg, true),
            egresswatch::aws::sqs_client(&cfg),
        );
        let q = notified_bucket(&s3, &sqs, "nobase").await;
        for p in week3.iter().take(12) {
            let key = p.strip_prefix(&root).unwrap().to_string_lossy().to_string();
            s3.put_object()
                .bucket("nobase")
                .key(key)
                .body(ByteStream::from(std::fs::read(p).unwrap()))
                .send()
                .await
                .unwrap();
        }
        q
    });
    let (nb_state, nb_out, nb_summary) = (
        out.join("state-nobase"),
        out.join("nobase.jsonl"),
        out.join("nobase.json"),
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_egresswatch"));
    c.args(["watch", "--endpoint-url", &m.url, "--queue-url", &queue])
        .arg("--inventory")
        .arg(out.join("inventory"))
        .args([
            "--wait",
            "1",
            "--batch",
            "10",
            "--idle-exit",
            "3s",
            "--no-baseline",
        ])
        .arg("--state")
        .arg(&nb_state)
        .arg("--output")
        .arg(&nb_out)
        .arg("--summary-json")
        .arg(&nb_summary);
    for (k, v) in env() {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(lines(&nb_out).iter().all(|x| x["anomaly"].is_null()));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&nb_summary).unwrap()).unwrap();
    assert_eq!(s["objects"], 12, "{s}");
    assert!(s["baseline"].is_null(), "{s}");
    assert!(!nb_state.join("baseline").exists());
}

/// A `.log.gz` flow log split alternately into two (header kept): two objects of one hour.
fn split_gz(path: &Path) -> [Vec<u8>; 2] {
    use std::io::{Read, Write};
    let mut text = String::new();
    flate2::read::GzDecoder::new(&std::fs::read(path).unwrap()[..])
        .read_to_string(&mut text)
        .unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let (mut a, mut b) = (format!("{header}\n"), format!("{header}\n"));
    for (i, l) in lines.enumerate() {
        let part = if i % 2 == 0 { &mut a } else { &mut b };
        part.push_str(l);
        part.push('\n');
    }
    [a, b].map(|t| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(t.as_bytes()).unwrap();
        e.finish().unwrap()
    })
}

type Instance = (
    Arc<egresswatch::scan::Engine>,
    egresswatch::state::windows::WindowStage,
    egresswatch::baseline::stage::ContinuousStage,
);

/// One invocation of a warm instance; what it emits is collected in `emitted`.
async fn invoke(
    inst: &mut Instance,
    ev: Value,
    s3: &aws_sdk_s3::Client,
    emitted: &Arc<Mutex<Vec<Value>>>,
) -> Result<Value, String> {
    let emitted = emitted.clone();
    let mut emit = move |f: &[egresswatch::detect::Finding]| -> Result<(), String> {
        let mut g = emitted.lock().unwrap();
        g.extend(f.iter().map(|x| serde_json::to_value(x).unwrap()));
        Ok(())
    };
    let (engine, windows, baseline) = inst;
    egresswatch::lambda::handle_with_stages(
        ev,
        s3,
        engine,
        None,
        Some(windows),
        Some(baseline),
        &egresswatch::scan::ScanOptions::default(),
        &mut emit,
    )
    .await
}

/// Checks: two Lambda instances (each its own warm handler state, both opened on the state
/// `scan --state` left after weeks 1-2) are invoked at the same time, hour after hour of the
/// injected week, each with one half of that hour's records. Every round one of them loses the
/// commit race and re-applies its object to the winner's baseline state: the final state counts
/// every object and holds the profiles and families of the same invocations made one after the
/// other; the anomaly ids emitted are those of `scan --state` over the same halves, each raised
/// once (`new` revision 1, then `update`s).
#[test]
fn concurrent_lambda_invocations_lose_no_baseline_update() {
    let Some(m) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    account::generate(
        &Config {
            weeks: 3,
            scale: 0.05,
            ..Default::default()
        },
        out,
    )
    .unwrap();
    let root = out.join("flowlogs");
    let days = account::day_dirs(&root);
    // Week 3 split in halves, written locally for the reference and to S3 for the Lambda.
    let halves_root = out.join("week3-halves");
    let mut hours: Vec<[String; 2]> = Vec::new();
    let mut bodies: Vec<(String, Vec<u8>)> = Vec::new();
    for p in days[14..].iter().flat_map(|d| files(d)) {
        let rel = p.strip_prefix(&root).unwrap().to_string_lossy().to_string();
        let pair = split_gz(&p);
        let keys = [0, 1].map(|i| rel.replace(".log.gz", &format!("-h{i}.log.gz")));
        for (k, body) in keys.iter().zip(pair) {
            let local = halves_root.join(k);
            std::fs::create_dir_all(local.parent().unwrap()).unwrap();
            std::fs::write(&local, &body).unwrap();
            bodies.push((k.clone(), body));
        }
        hours.push(keys);
    }
    let reference = out.join("state-scan");
    assert!(anomaly_ids(&scan(out, &days[..14], &reference, "ref12")).is_empty());
    let want = anomaly_ids(&scan(
        out,
        std::slice::from_ref(&halves_root),
        &reference,
        "ref3",
    ));
    assert!(!want.is_empty());
    let url = out.join("state-lambda");
    let _ = scan(out, &days[..14], &url, "weeks12");
    // The same invocations one after the other, on a state of its own.
    let seq_url = out.join("state-sequential");
    let _ = scan(out, &days[..14], &seq_url, "seq12");
    let seq_emitted: Arc<Mutex<Vec<Value>>> = Arc::default();

    for (k, v) in env() {
        std::env::set_var(k, v);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let inv = egresswatch::enrich::Inventory::load(&out.join("inventory")).unwrap();
    let rules = egresswatch::detect::RuleSet::builtin();
    let emitted: Arc<Mutex<Vec<Value>>> = Arc::default();
    let (sizes, mut commits_lost) = (bodies.len(), 0u64);
    let (final_state, seq_state) = rt.block_on(async {
        let cfg = egresswatch::aws::sdk_config(Some(&m.url), Some("us-east-1")).await;
        let s3 = egresswatch::aws::s3_client(&cfg, true);
        s3.create_bucket().bucket("lam3").send().await.unwrap();
        for (k, body) in &bodies {
            s3.put_object()
                .bucket("lam3")
                .key(k)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .unwrap();
        }
        let at = |p: &Path| egresswatch::state::Store::open(&p.display().to_string(), || None);
        let detect = egresswatch::detect::DetectOptions::default();
        let mut instances: Vec<Instance> = Vec::new();
        for i in 0..3 {
            let store = || at(if i == 2 { &seq_url } else { &url });
            instances.push((
                Arc::new(egresswatch::scan::Engine::new(
                    &inv,
                    &rules,
                    egresswatch::detect::Scope::Sagemaker,
                    None,
                )),
                egresswatch::state::windows::WindowStage::open(store().unwrap(), 900, detect)
                    .await
                    .unwrap(),
                egresswatch::baseline::stage::ContinuousStage::open(
                    store().unwrap(),
                    rules.baseline.clone(),
                )
                .await
                .unwrap(),
            ));
        }
        let event = |key: &str| {
            let body = serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put", "eventTime": "2026-11-20T10:06:00.000Z",
                "s3": {"bucket": {"name": "lam3"}, "object": {"key": key, "size": 1}}}]});
            serde_json::json!({"Records": [{"messageId": "m", "receiptHandle": "r",
                "body": body.to_string(), "eventSource": "aws:sqs"}]})
        };
        for keys in &hours {
            let [a, b, _] = &mut instances[..] else {
                unreachable!()
            };
            let before = [&a.2, &b.2].map(|s| s.engine.state.seen_objects.len());
            let (ra, rb) = tokio::join!(
                invoke(a, event(&keys[0]), &s3, &emitted),
                invoke(b, event(&keys[1]), &s3, &emitted)
            );
            for r in [ra, rb] {
                let r = r.unwrap();
                assert_eq!(r["batchItemFailures"], serde_json::json!([]), "{r}");
            }
            // The loser re-applied on the winner: its state has both objects of the hour.
            let after = [&a.2, &b.2].map(|s| s.engine.state.seen_objects.len());
            if after[0] >= before[0] + 2 || after[1] >= before[1] + 2 {
                commits_lost += 1;
            }
        }
        for keys in &hours {
            for k in keys {
                let r = invoke(&mut instances[2], event(k), &s3, &seq_emitted).await;
                assert_eq!(r.unwrap()["batchItemFailures"], serde_json::json!([]));
            }
        }
        let mut states = Vec::new();
        for p in [&url, &seq_url] {
            let snaps = egresswatch::baseline::persist::snapshots(at(p).unwrap());
            states.push(
                egresswatch::baseline::persist::load(&snaps)
                    .await
                    .unwrap()
                    .unwrap()
                    .1,
            );
        }
        let seq = states.pop().unwrap();
        (states.pop().unwrap(), seq)
    });
    assert!(commits_lost > 0, "the instances raced");
    // Every object counted once, the profiles of the reference scan.
    let counted = final_state
        .seen_objects
        .keys()
        .filter(|k| k.starts_with("s3://lam3/"))
        .count();
    assert_eq!(counted, sizes);
    assert_eq!(
        serde_json::to_value(&final_state.profiles).unwrap(),
        serde_json::to_value(&seq_state.profiles).unwrap(),
        "no update lost: the profiles of the same invocations one after the other"
    );
    assert_eq!(
        serde_json::to_value(&final_state.families).unwrap(),
        serde_json::to_value(&seq_state.families).unwrap(),
    );
    // One half-hour object per invocation: hours are closed (and open hours peeked at) one at a
    // time, and the anomalies are still the scan's (beaconing included: a peek once consumed
    // an open hour's callbacks).
    let seq_ids = anomaly_ids(&seq_emitted.lock().unwrap());
    assert_eq!(
        seq_ids, want,
        "sequential invocations raise the scan's anomalies"
    );
    // Emission order across the two instances is the commit order; the revisions say it.
    let mut an: Vec<Value> = emitted
        .lock()
        .unwrap()
        .iter()
        .filter(|x| !x["anomaly"].is_null())
        .cloned()
        .collect();
    an.sort_by_key(|x| x["revision"].as_u64());
    let mut by_id: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for x in &an {
        by_id
            .entry(x["id"].as_str().unwrap().to_string())
            .or_default()
            .push(x);
    }
    for (id, revs) in &by_id {
        assert_eq!(revs[0]["activity"], "new", "{id}: {revs:#?}");
        assert_eq!(revs[0]["revision"], 1, "{id}: {revs:#?}");
        for w in revs.windows(2) {
            assert_eq!(w[1]["activity"], "update", "{id}: {revs:#?}");
            assert!(
                w[1]["revision"].as_u64() > w[0]["revision"].as_u64(),
                "{id}"
            );
        }
    }
    assert_eq!(
        by_id.keys().cloned().collect::<BTreeSet<_>>(),
        want,
        "concurrent invocations raise the scan's anomalies"
    );
}

/// Checks (no server): `scan --state` fed one object at a time (each run closes the hours its
/// object passed and peeks at the open ones) raises the anomalies of one `scan --state` over the
/// same day, beaconing included: a peek at an open hour once consumed its callbacks.
#[test]
fn scan_state_one_object_at_a_time_finds_the_beaconing_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let labels: Labels = account::generate(
        &Config {
            weeks: 3,
            scale: 0.05,
            ..Default::default()
        },
        out,
    )
    .unwrap();
    let beacon = labels
        .anomalies
        .iter()
        .find(|a| a.category == "beaconing")
        .expect("a labelled beaconing");
    let days = account::day_dirs(&out.join("flowlogs"));
    // The day of the beaconing and the days before it.
    let day = egresswatch::time::format_rfc3339(beacon.start)[..10].replace('-', "/");
    let at = days
        .iter()
        .position(|d| d.to_string_lossy().ends_with(&day))
        .unwrap();
    let (one, each) = (out.join("state-one"), out.join("state-each"));
    for st in [&one, &each] {
        let _ = scan(out, &days[..at], st, "before");
    }
    let want = anomaly_ids(&scan(out, &days[at..=at], &one, "day"));
    let mut got = BTreeSet::new();
    for (i, f) in files(&days[at]).iter().enumerate() {
        got.extend(anomaly_ids(&scan(
            out,
            std::slice::from_ref(f),
            &each,
            &format!("o{i}"),
        )));
    }
    assert!(!want.is_empty());
    assert_eq!(got, want, "one object at a time against one run");
}
