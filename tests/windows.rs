//! Open aggregation windows across batches, restarts and concurrent Lambda instances, against a
//! real S3 + SQS server on 127.0.0.1 (moto, from scripts/setup_moto.sh via
//! EGRESSWATCH_MOTO_PYTHON). One sample flow log is split into two objects of the same hour, so
//! each of its windows (rule, ENI, destination, hour) gets records from both.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

mod common;
use common::moto::{moto, moto_atomic_conditionals, notified_bucket, Moto};

const SAMPLE: &str = "samples/flowlogs/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T0900Z_5e2a9c1b.log.gz";
const PREFIX: &str = "AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T0900Z_";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env() -> [(&'static str, &'static str); 3] {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ]
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn clients(url: &str) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client) {
    for (k, v) in env() {
        std::env::set_var(k, v);
    }
    let cfg = egresswatch::aws::sdk_config(Some(url), Some("us-east-1")).await;
    (
        egresswatch::aws::s3_client(&cfg, true),
        egresswatch::aws::sqs_client(&cfg),
    )
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// The sample's records split alternately into two objects (keys, gzipped bodies).
fn halves() -> [(String, Vec<u8>); 2] {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&std::fs::read(root().join(SAMPLE)).unwrap()[..]),
        &mut text,
    )
    .unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let (mut a, mut b) = (format!("{header}\n"), format!("{header}\n"));
    for (i, l) in lines.enumerate() {
        let part = if i % 2 == 0 { &mut a } else { &mut b };
        part.push_str(l);
        part.push('\n');
    }
    [
        (format!("{PREFIX}aaaa0001.log.gz"), gz(&a)),
        (format!("{PREFIX}aaaa0002.log.gz"), gz(&b)),
    ]
}

fn engine() -> egresswatch::scan::Engine {
    let inv = egresswatch::enrich::Inventory::load(&root().join("samples/inventory")).unwrap();
    egresswatch::scan::Engine::new(
        &inv,
        &egresswatch::detect::RuleSet::builtin(),
        egresswatch::detect::Scope::Sagemaker,
        None,
    )
}

/// id -> (flows, bytes, packets) of a `scan` of both halves together (the reference).
fn scan_counters(bucket: &str) -> BTreeMap<String, (u64, u64, u64)> {
    let inputs: Vec<egresswatch::decode::Input> = halves()
        .into_iter()
        .map(|(k, data)| egresswatch::decode::Input::Memory {
            name: format!("s3://{bucket}/{k}"),
            data: data.into(),
        })
        .collect();
    let r = engine().scan(&inputs, &egresswatch::scan::ScanOptions::default());
    assert!(!r.findings.is_empty());
    r.findings
        .iter()
        .map(|f| (f.id.clone(), (f.flows, f.bytes, f.packets)))
        .collect()
}

/// Checks a stream of emitted findings (in emission order): per id exactly one `new`, first,
/// revision 1, then `update`s with revisions 2, 3, ...; the last revision's counters equal the
/// scan's, for exactly the scan's ids. Returns how many ids were updated.
fn check_stream(found: &[Value], scan: &BTreeMap<String, (u64, u64, u64)>) -> usize {
    let mut by_id: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for f in found {
        by_id
            .entry(f["id"].as_str().unwrap().to_string())
            .or_default()
            .push(f);
    }
    assert_eq!(
        by_id.keys().cloned().collect::<BTreeSet<_>>(),
        scan.keys().cloned().collect::<BTreeSet<_>>(),
        "the same windows as a scan"
    );
    let mut updated = 0;
    for (id, revs) in &by_id {
        for (i, f) in revs.iter().enumerate() {
            let want = if i == 0 { "new" } else { "update" };
            assert_eq!(f["activity"], want, "{id}: {revs:?}");
            assert_eq!(f["revision"], i as u64 + 1, "{id}: {revs:?}");
        }
        let last = revs.last().unwrap();
        let got = (
            last["flows"].as_u64().unwrap(),
            last["bytes"].as_u64().unwrap(),
            last["packets"].as_u64().unwrap(),
        );
        assert_eq!(got, scan[id], "{id}: final counters equal the scan's");
        if revs.len() > 1 {
            updated += 1;
            let first = revs[0]["flows"].as_u64().unwrap();
            assert!(first < got.0, "{id}: the first revision was partial");
        }
    }
    updated
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, obj: &(String, Vec<u8>)) {
    s3.put_object()
        .bucket(bucket)
        .key(&obj.0)
        .body(ByteStream::from(obj.1.clone()))
        .send()
        .await
        .unwrap();
}

async fn messages_left(sqs: &aws_sdk_sqs::Client, queue: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let r = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let a = r.attributes().unwrap();
    [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|k| a.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0))
    .sum()
}

/// `watch --batch 1 --state STATE`: one message per receive, so each object is its own batch.
fn watch(m: &Moto, queue: &str, state: &Path, out: &Path, idle_exit: Option<&str>) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_egresswatch"));
    c.args([
        "watch",
        "--endpoint-url",
        &m.url,
        "--queue-url",
        queue,
        "--inventory",
        &root().join("samples/inventory").display().to_string(),
        "--wait",
        "1",
        "--visibility",
        "60",
        "--batch",
        "1",
        "--state",
    ])
    .arg(state)
    .arg("--output")
    .arg(out)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped());
    if let Some(i) = idle_exit {
        c.args(["--idle-exit", i]);
    }
    for (k, v) in env() {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

fn generations(state: &Path) -> usize {
    std::fs::read_dir(state.join("windows"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".snap"))
                .count()
        })
        .unwrap_or(0)
}

/// Checks: a window split across two batches (two objects, two messages, two receives) is
/// emitted once as `new` revision 1 and then as `update` revision 2 with the same id, and the
/// final counters of every window equal a `scan` of the same two objects.
#[test]
fn watch_emits_a_split_window_once_then_updates_it_to_the_scan_counters() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, sqs) = rt.block_on(clients(&m.url));
    let queue = rt.block_on(async {
        let q = notified_bucket(&s3, &sqs, "split").await;
        for o in &halves() {
            put(&s3, "split", o).await;
        }
        q
    });
    let dir = tempfile::tempdir().unwrap();
    let (state, out) = (dir.path().join("state"), dir.path().join("out.jsonl"));
    let child = watch(&m, &queue, &state, &out, Some("6s"));
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let found = lines(&out);
    let updated = check_stream(&found, &scan_counters("split"));
    assert!(
        updated >= 1,
        "a window was split across the batches: {found:?}"
    );
    assert!(
        generations(&state) >= 2,
        "the state was committed once per batch"
    );
}

/// Checks: `kill -9` of watch after the first batch was committed and its message deleted, then
/// a restart with the same `--state` that consumes the second object: the split windows are
/// raised once (`new` before the kill) and updated after the restart (revision 2), with final
/// counters equal to a `scan` of both objects.
#[test]
fn watch_killed_between_batches_resumes_its_windows_from_the_state() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, sqs) = rt.block_on(clients(&m.url));
    let [a, b] = halves();
    let queue = rt.block_on(async {
        let q = notified_bucket(&s3, &sqs, "killed").await;
        put(&s3, "killed", &a).await;
        q
    });
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (out1, out2) = (dir.path().join("o1.jsonl"), dir.path().join("o2.jsonl"));
    let mut first = watch(&m, &queue, &state, &out1, None);
    // Wait until the first object's findings are out, its state committed and every message
    // (the test event too) deleted; then SIGKILL, no cleanup.
    let t0 = Instant::now();
    loop {
        let done = !lines(&out1).is_empty()
            && generations(&state) >= 1
            && rt.block_on(messages_left(&sqs, &queue)) == 0;
        if done {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the first batch was not handled"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    // The dead worker's last long poll (--wait 1) may still be open on the server: let it end,
    // or it would take the next message and hide it for the visibility timeout.
    std::thread::sleep(Duration::from_secs(2));
    let before = lines(&out1);
    assert!(before.iter().all(|f| f["activity"] == "new"), "{before:?}");
    rt.block_on(put(&s3, "killed", &b));
    let second = watch(&m, &queue, &state, &out2, Some("6s"));
    let o = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let mut all = before;
    let after = lines(&out2);
    assert!(!after.is_empty(), "{stderr}");
    all.extend(after);
    let updated = check_stream(&all, &scan_counters("killed"));
    assert!(updated >= 1, "{all:?}");
}

/// Checks: two Lambda invocations (two instances: each its own handler state, both started on
/// an empty store) run at the same time on different objects of the same windows, with the
/// state on S3. The loser of the commit race re-reads the winner and re-applies its object, so
/// the final state holds the sum of both (no lost update) and equals a `scan` of both objects;
/// the emitted revisions of each id are one `new` then `update`s, with equal ids.
#[test]
fn concurrent_lambda_invocations_lose_no_window_update() {
    let Some(m) = moto_atomic_conditionals() else {
        return;
    };
    let rt = rt();
    let (s3, _) = rt.block_on(clients(&m.url));
    let halves = halves();
    rt.block_on(async {
        s3.create_bucket().bucket("lam").send().await.unwrap();
        for o in &halves {
            put(&s3, "lam", o).await;
        }
    });
    let event = |i: usize, key: &str| {
        let body = serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put", "eventTime": "2026-11-20T10:06:00.000Z",
            "s3": {"bucket": {"name": "lam"}, "object": {"key": key, "size": 1}}}]});
        serde_json::json!({"Records": [{"messageId": format!("m{i}"), "receiptHandle": "r",
            "body": body.to_string(), "eventSource": "aws:sqs"}]})
    };
    let emitted: Arc<Mutex<Vec<Value>>> = Arc::default();
    let detect = egresswatch::detect::DetectOptions::default();
    let url = "s3://lam/state";
    let results = rt.block_on(async {
        // Both instances open the (empty) state before either commits.
        let mut stages = Vec::new();
        for _ in 0..2 {
            let store = egresswatch::state::Store::open(url, || Some(s3.clone())).unwrap();
            stages.push(
                egresswatch::state::windows::WindowStage::open(store, 900, detect)
                    .await
                    .unwrap(),
            );
        }
        let mut tasks = Vec::new();
        for (i, mut stage) in stages.into_iter().enumerate() {
            let (s3, emitted, ev) = (s3.clone(), emitted.clone(), event(i, &halves[i].0));
            tasks.push(tokio::spawn(async move {
                let mut engine = Arc::new(engine());
                let mut emit = |f: &[egresswatch::detect::Finding]| -> Result<(), String> {
                    let mut g = emitted.lock().unwrap();
                    g.extend(f.iter().map(|x| serde_json::to_value(x).unwrap()));
                    Ok(())
                };
                egresswatch::lambda::handle_with_state(
                    ev,
                    &s3,
                    &mut engine,
                    None,
                    Some(&mut stage),
                    &egresswatch::scan::ScanOptions::default(),
                    &mut emit,
                )
                .await
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    for r in &results {
        assert_eq!(r["batchItemFailures"], serde_json::json!([]), "{r}");
    }
    let scan = scan_counters("lam");
    // The state both committed holds the sum, for the scan's windows exactly.
    let final_state = rt.block_on(async {
        let store = egresswatch::state::Store::open(url, || Some(s3.clone())).unwrap();
        egresswatch::state::windows::WindowStage::open(store, 900, detect)
            .await
            .unwrap()
    });
    let model = engine();
    let mut keys_checked = 0;
    for f in final_state.windows.findings(&model.rules, &model.model) {
        assert_eq!(
            Some(&(f.flows, f.bytes, f.packets)),
            scan.get(&f.id),
            "{}: the stored window holds both objects' counts",
            f.id
        );
        keys_checked += 1;
    }
    assert_eq!(keys_checked, scan.len());
    assert!(final_state
        .windows
        .counted(&egresswatch::baseline::persist::object_id(
            &format!("s3://lam/{}", halves[0].0),
            &halves[0].1.len().to_string()
        )));
    // Emission order across the two instances is the commit order: new, then update.
    // Each instance hands its findings on after its own commit, so the two lists may arrive in
    // either order; the revisions say which came first.
    let mut emitted = emitted.lock().unwrap().clone();
    emitted.sort_by_key(|f| f["revision"].as_u64());
    let updated = check_stream(&emitted, &scan);
    assert!(updated >= 1, "{emitted:?}");
}
