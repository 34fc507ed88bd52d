//! The S3 pipeline against a real S3 + SQS server on 127.0.0.1: moto in server mode, installed
//! by scripts/setup_moto.sh (scripts/test.sh exports EGRESSWATCH_MOTO_PYTHON) and started here.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

mod common;
use common::moto::{moto, queue_arn, sample_objects, Moto};

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

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn golden_ids() -> BTreeSet<String> {
    std::fs::read_to_string(root().join("tests/golden/samples.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn ids(stdout: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn egresswatch(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_egresswatch"));
    c.args(args);
    for (k, v) in env() {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn inventory() -> String {
    root().join("samples/inventory").display().to_string()
}

#[test]
fn replay_lists_every_layout_paginates_filters_by_time_and_resumes() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, _) = rt.block_on(clients(&m.url));
    rt.block_on(async {
        s3.create_bucket().bucket("flowlogs").send().await.unwrap();
        for (key, data) in sample_objects() {
            s3.put_object().bucket("flowlogs").key(format!("central/{key}")).body(ByteStream::from(data)).send().await.unwrap();
        }
        // 1100 empty objects in one hourly prefix (forces paginated listing) ...
        let empty = gz("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n");
        for i in 0..1100 {
            let key = format!(
                "central/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/05/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60799_20261120T05{:02}Z_{i:08x}.log.gz",
                (i % 12) * 5
            );
            s3.put_object().bucket("flowlogs").key(key).body(ByteStream::from(empty.clone())).send().await.unwrap();
        }
        // ... and objects outside the range, another account and another region, never read.
        for key in [
            "central/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/18/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261118T0900Z_aaaaaaaa.log.gz",
            "central/AWSLogs/999999999999/vpcflowlogs/us-east-1/2026/11/20/999999999999_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T0900Z_bbbbbbbb.log.gz",
            "central/AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/20/111122223333_vpcflowlogs_eu-west-1_fl-0a1b2c3d4e5f60701_20261120T0900Z_cccccccc.log.gz",
        ] {
            s3.put_object().bucket("flowlogs").key(key).body(ByteStream::from(b"not gzip".to_vec())).send().await.unwrap();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("s.json");
    let base = [
        "replay",
        "--endpoint-url",
        &m.url,
        "--bucket",
        "flowlogs",
        "--prefix",
        "central",
        "--account",
        "111122223333",
        "--region",
        "us-east-1",
        "--start",
        "2026-11-20T00:00:00Z",
        "--end",
        "2026-11-21T00:00:00Z",
        "--inventory",
    ];
    let mut args: Vec<&str> = base.to_vec();
    let inv = inventory();
    args.push(&inv);
    let s = summary.display().to_string();
    args.extend(["--summary-json", &s]);
    let out = egresswatch(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ids(&out.stdout), golden_ids());
    let sum: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(
        sum["files"], 1103,
        "3 samples + 1100 empty objects; out-of-range ones never read"
    );
    assert_eq!(sum["records"], 31);
    assert_eq!(sum["failed_files"], 0);

    // Resume: stop after a few objects, then the same command finishes with identical findings.
    let ck = dir.path().join("ck.json").display().to_string();
    let mut first = args.clone();
    first.extend([
        "--checkpoint",
        &ck,
        "--max-objects",
        "600",
        "--concurrency",
        "4",
    ]);
    let out1 = egresswatch(&first);
    assert!(
        out1.status.success(),
        "{}",
        String::from_utf8_lossy(&out1.stderr)
    );
    let mut second = args.clone();
    second.extend(["--checkpoint", &ck, "--concurrency", "4"]);
    let out2 = egresswatch(&second);
    assert!(
        out2.status.success(),
        "{}",
        String::from_utf8_lossy(&out2.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out2.stdout),
        String::from_utf8_lossy(&out.stdout),
        "resumed findings equal a single run's"
    );
    let sum2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(sum2["records"], 31, "no object counted twice");

    // kill -9 in the middle of a replay, then the same command: identical findings, each
    // object counted once.
    let ck2 = dir.path().join("ck2.json");
    let ck2s = ck2.display().to_string();
    let mut third = args.clone();
    third.extend(["--checkpoint", &ck2s, "--concurrency", "1"]);
    let mut c = Command::new(env!("CARGO_BIN_EXE_egresswatch"));
    c.args(&third)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in env() {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let t0 = Instant::now();
    while !ck2.exists() && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    let partial: serde_json::Value = serde_json::from_slice(&std::fs::read(&ck2).unwrap()).unwrap();
    let done = partial["done"].as_array().unwrap().len();
    assert!(
        done > 0 && done < 1103,
        "killed mid-run ({done} objects done)"
    );
    let out4 = egresswatch(&third);
    assert!(
        out4.status.success(),
        "{}",
        String::from_utf8_lossy(&out4.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out4.stdout),
        String::from_utf8_lossy(&out.stdout)
    );
    let sum4: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(sum4["records"], 31);
    assert_eq!(sum4["files"], 1103);

    // The checkpoint may live in S3 too.
    let mut fifth = args.clone();
    fifth.extend([
        "--checkpoint",
        "s3://flowlogs/checkpoints/replay-1.json",
        "--max-objects",
        "500",
    ]);
    assert!(egresswatch(&fifth).status.success());
    let mut sixth = args.clone();
    sixth.extend(["--checkpoint", "s3://flowlogs/checkpoints/replay-1.json"]);
    let out6 = egresswatch(&sixth);
    assert!(
        out6.status.success(),
        "{}",
        String::from_utf8_lossy(&out6.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out6.stdout),
        String::from_utf8_lossy(&out.stdout)
    );
    let sum6: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(sum6["files"], 1103);
}

#[test]
fn watch_handles_notifications_deletes_after_output_and_leaves_poison_to_redrive() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, sqs) = rt.block_on(clients(&m.url));
    let queue_url = rt.block_on(async {
        s3.create_bucket().bucket("logs").send().await.unwrap();
        let dlq = sqs.create_queue().queue_name("flowlog-events-dlq").send().await.unwrap();
        let dlq_url = dlq.queue_url().unwrap().to_string();
        let dlq_arn = queue_arn(&sqs, &dlq_url).await;
        let q = sqs
            .create_queue()
            .queue_name("flowlog-events")
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#),
            )
            .send()
            .await
            .unwrap();
        let url = q.queue_url().unwrap().to_string();
        let arn = queue_arn(&sqs, &url).await;
        let qc = aws_sdk_s3::types::QueueConfiguration::builder()
            .queue_arn(arn)
            .events(aws_sdk_s3::types::Event::S3ObjectCreated)
            .build()
            .unwrap();
        s3.put_bucket_notification_configuration()
            .bucket("logs")
            .notification_configuration(aws_sdk_s3::types::NotificationConfiguration::builder().queue_configurations(qc).build())
            .send()
            .await
            .unwrap();
        for (key, data) in sample_objects() {
            s3.put_object().bucket("logs").key(key).body(ByteStream::from(data)).send().await.unwrap();
        }
        // A truncated object (poison) and one deleted before it is read.
        let bad = gz("version srcaddr\n1 10.0.0.1\n");
        s3.put_object()
            .bucket("logs")
            .key("AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T1200Z_deadbeef.log.gz")
            .body(ByteStream::from(bad[..bad.len() - 6].to_vec()))
            .send()
            .await
            .unwrap();
        let gone = "AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T1300Z_0000gone.log.gz";
        s3.put_object().bucket("logs").key(gone).body(ByteStream::from(gz("x\n"))).send().await.unwrap();
        s3.delete_object().bucket("logs").key(gone).send().await.unwrap();
        url
    });
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("w.json").display().to_string();
    let inv = inventory();
    let out = egresswatch(&[
        "watch",
        "--endpoint-url",
        &m.url,
        "--queue-url",
        &queue_url,
        "--inventory",
        &inv,
        "--wait",
        "1",
        "--visibility",
        "3",
        "--max-receives",
        "2",
        "--idle-exit",
        "8s",
        "--max-messages",
        "30",
        "--summary-json",
        &summary,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let found = ids(&out.stdout);
    // The findings of all three sample objects, possibly over several batches (same ids).
    assert_eq!(found, golden_ids(), "{stderr}");
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert!(stats["test_events"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["missing_objects"], 1, "{stats}");
    assert!(
        stats["latency_event_to_emit_ms"]["count"].as_u64().unwrap() >= 3,
        "{stats}"
    );
    assert!(
        stats["latency_queue_wait_ms"]["count"].as_u64().unwrap() >= 5,
        "{stats}"
    );
    assert!(
        stats["latency_object_ms"]["count"].as_u64().unwrap() >= 3,
        "{stats}"
    );
    assert!(stats["poison_messages"].as_u64().unwrap() >= 1, "{stats}");
    assert!(stderr.contains("redrive policy"), "{stderr}");
    // Everything but the poison message was deleted.
    let left = rt.block_on(async {
        tokio::time::sleep(Duration::from_secs(4)).await;
        sqs.get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .send()
            .await
            .unwrap()
    });
    let a = left.attributes().unwrap();
    let n = |k| {
        a.get(&k)
            .and_then(|v: &String| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let remaining = n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        + n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible);
    assert_eq!(
        remaining, 0,
        "everything handled; the poison message went to the dead-letter queue"
    );
    let dead = rt.block_on(async {
        let dlq = sqs
            .get_queue_url()
            .queue_name("flowlog-events-dlq")
            .send()
            .await
            .unwrap();
        sqs.receive_message()
            .queue_url(dlq.queue_url().unwrap())
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
    });
    assert_eq!(dead.messages().len(), 1, "the poison message is in the DLQ");
    assert!(dead.messages()[0].body().unwrap().contains("deadbeef"));
    let _ = Path::new("");
}

#[test]
fn lambda_handler_reports_partial_batch_failures() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, _) = rt.block_on(clients(&m.url));
    let result = rt.block_on(async {
        s3.create_bucket().bucket("lambda-logs").send().await.unwrap();
        let mut records = Vec::new();
        let event = |key: &str| {
            serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                "eventTime": "2026-11-20T10:06:00.000Z",
                "s3": {"bucket": {"name": "lambda-logs"}, "object": {"key": key.replace('=', "%3D"), "size": 1}}}]})
            .to_string()
        };
        for (i, (key, data)) in sample_objects().into_iter().enumerate() {
            s3.put_object().bucket("lambda-logs").key(&key).body(ByteStream::from(data)).send().await.unwrap();
            records.push(serde_json::json!({"messageId": format!("ok-{i}"), "receiptHandle": "r", "body": event(&key), "eventSource": "aws:sqs"}));
        }
        let bad = "AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T1200Z_deadbeef.log.gz";
        let g = gz("version srcaddr\n1 10.0.0.1\n");
        s3.put_object().bucket("lambda-logs").key(bad).body(ByteStream::from(g[..g.len() - 6].to_vec())).send().await.unwrap();
        records.push(serde_json::json!({"messageId": "poison", "receiptHandle": "r", "body": event(bad), "eventSource": "aws:sqs"}));
        records.push(serde_json::json!({"messageId": "gone", "receiptHandle": "r", "body": event("AWSLogs/x/never-uploaded.log.gz"), "eventSource": "aws:sqs"}));
        records.push(serde_json::json!({"messageId": "test", "receiptHandle": "r", "body": r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#, "eventSource": "aws:sqs"}));
        let inv = egresswatch::lambda::load_inventory(&s3, &inventory()).await.unwrap();
        let engine = std::sync::Arc::new(egresswatch::scan::Engine::new(&inv, &egresswatch::detect::RuleSet::builtin(), egresswatch::detect::Scope::Sagemaker, None));
        let mut seen = Vec::new();
        let mut emit = |f: &[egresswatch::detect::Finding]| -> Result<(), String> {
            seen.extend(f.iter().map(|x| x.id.clone()));
            Ok(())
        };
        let out = egresswatch::lambda::handle(
            serde_json::json!({ "Records": records }),
            &s3,
            engine,
            &egresswatch::scan::ScanOptions::default(),
            &mut emit,
        )
        .await
        .unwrap();
        (out, seen)
    });
    let (out, seen) = result;
    assert_eq!(
        out["batchItemFailures"],
        serde_json::json!([{ "itemIdentifier": "poison" }]),
        "{out}"
    );
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), golden_ids());
}

/// Uploads `copies` renamed copies of each sample object into `bucket` (notifications on).
async fn queue_with_objects(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    bucket: &str,
    queue: &str,
    copies: usize,
) -> (String, usize) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let q = sqs.create_queue().queue_name(queue).send().await.unwrap();
    let url = q.queue_url().unwrap().to_string();
    let arn = queue_arn(sqs, &url).await;
    let qc = aws_sdk_s3::types::QueueConfiguration::builder()
        .queue_arn(arn)
        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .queue_configurations(qc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut n = 0;
    for c in 0..copies {
        for (key, data) in sample_objects() {
            // Same records under another file name (hash part), as a second flow log would write.
            let key = key
                .replace("_5e2a9c1b.", &format!("_5e2a{c:04x}."))
                .replace("_7c4d1e0f.", &format!("_7c4d{c:04x}."))
                .replace("_9b3e6a2d.", &format!("_9b3e{c:04x}."));
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(data))
                .send()
                .await
                .unwrap();
            n += 1;
        }
    }
    (url, n)
}

/// `visibility` in seconds: short where a test wants a killed worker's messages back quickly;
/// long where it asserts exactly-once, which SQS only promises while no timeout expires (a loaded
/// CI machine can stall the queue server for seconds).
fn spawn_watch(m: &Moto, queue: &str, summary: &Path, out: &Path, visibility: &str) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_egresswatch"));
    c.args([
        "watch",
        "--endpoint-url",
        &m.url,
        "--queue-url",
        queue,
        "--inventory",
        &inventory(),
        "--wait",
        "1",
        "--visibility",
        visibility,
        "--idle-exit",
        "6s",
        "--summary-json",
    ])
    .arg(summary)
    .arg("--output")
    .arg(out)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    for (k, v) in env() {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

#[test]
fn three_workers_share_one_queue_exactly_once_and_survive_a_kill() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, sqs) = rt.block_on(clients(&m.url));
    let dir = tempfile::tempdir().unwrap();

    // No failures: every object processed exactly once across three workers.
    let (queue, n) = rt.block_on(queue_with_objects(&s3, &sqs, "shared", "shared-events", 8));
    let workers: Vec<(Child, PathBuf, PathBuf)> = (0..3)
        .map(|i| {
            let (s, o) = (
                dir.path().join(format!("s{i}.json")),
                dir.path().join(format!("o{i}.jsonl")),
            );
            (spawn_watch(&m, &queue, &s, &o, "60"), s, o)
        })
        .collect();
    let mut objects = 0;
    let mut found = BTreeSet::new();
    for (mut child, s, o) in workers {
        assert!(child.wait().unwrap().success());
        let st: serde_json::Value = serde_json::from_slice(&std::fs::read(&s).unwrap()).unwrap();
        objects += st["objects"].as_u64().unwrap();
        found.extend(ids(&std::fs::read(&o).unwrap_or_default()));
    }
    // Shared, not copied: three workers reading everything would read 3n. A standard queue
    // delivers at least once, and a loaded machine (moto included) now and then delivers a
    // message twice even with a long visibility timeout: a rare duplicate is allowed, and
    // harmless (stable finding ids).
    let objects = objects as usize;
    assert!(
        objects >= n && objects <= n + n / 8,
        "each object read once (rare at-least-once duplicates aside): {objects} reads of {n}"
    );
    assert_eq!(found, golden_ids());

    // One worker killed mid-run: its messages come back and the others finish them.
    let (queue, n) = rt.block_on(queue_with_objects(
        &s3,
        &sqs,
        "shared2",
        "shared2-events",
        8,
    ));
    let mut victim = spawn_watch(
        &m,
        &queue,
        &dir.path().join("v.json"),
        &dir.path().join("v.jsonl"),
        "4",
    );
    std::thread::sleep(Duration::from_millis(1500));
    victim.kill().unwrap(); // SIGKILL: no cleanup, no deletes
    victim.wait().unwrap();
    let survivors: Vec<(Child, PathBuf, PathBuf)> = (0..2)
        .map(|i| {
            let (s, o) = (
                dir.path().join(format!("k{i}.json")),
                dir.path().join(format!("k{i}.jsonl")),
            );
            (spawn_watch(&m, &queue, &s, &o, "4"), s, o)
        })
        .collect();
    let mut evidence = BTreeSet::new();
    let mut found = ids(&std::fs::read(dir.path().join("v.jsonl")).unwrap_or_default());
    for (mut child, s, o) in survivors {
        assert!(child.wait().unwrap().success());
        let _: serde_json::Value = serde_json::from_slice(&std::fs::read(&s).unwrap()).unwrap();
        let text = std::fs::read(&o).unwrap_or_default();
        found.extend(ids(&text));
        for l in String::from_utf8_lossy(&text).lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            for e in v["evidence"].as_array().unwrap() {
                evidence.insert(e["file"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(
        found,
        golden_ids(),
        "findings complete (ids de-duplicate re-deliveries)"
    );
    // Nothing left on the queue: every message was handled by a survivor or the victim.
    let left = rt.block_on(async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        sqs.receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
    });
    assert!(
        left.messages().is_empty(),
        "messages left: {}",
        left.messages().len()
    );
    assert!(evidence.len() <= n);
}

#[test]
fn watch_loads_and_reloads_its_inventory_from_s3() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, sqs) = rt.block_on(clients(&m.url));
    let (queue, _) = rt.block_on(async {
        s3.create_bucket().bucket("inventory").send().await.unwrap();
        for (name, text) in egresswatch::demo::INVENTORY {
            let key = name.replace("samples/inventory/", "inv/");
            s3.put_object()
                .bucket("inventory")
                .key(key)
                .body(ByteStream::from(text.as_bytes().to_vec()))
                .send()
                .await
                .unwrap();
        }
        queue_with_objects(&s3, &sqs, "reload-logs", "reload-events", 1).await
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let mut c = Command::new(env!("CARGO_BIN_EXE_egresswatch"));
    c.args([
        "watch",
        "--endpoint-url",
        &m.url,
        "--queue-url",
        &queue,
        "--inventory-url",
        "s3://inventory/inv/",
        "--inventory-reload",
        "1s",
        "--wait",
        "1",
        "--idle-exit",
        "4s",
        "--output",
    ])
    .arg(&out);
    for (k, v) in env() {
        c.env(k, v);
    }
    let res = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    assert_eq!(ids(&std::fs::read(&out).unwrap()), golden_ids(), "{stderr}");
}

#[test]
fn inventory_collect_writes_what_scan_reads() {
    let Some(m) = moto() else { return };
    let python = std::env::var("EGRESSWATCH_MOTO_PYTHON").unwrap();
    let script = r#"
import boto3, sys
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
ec2 = boto3.client("ec2", **kw)
sm = boto3.client("sagemaker", **kw)
vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
sg = ec2.create_security_group(GroupName="train", Description="t", VpcId=vpc)["GroupId"]
ec2.create_network_interface(SubnetId=sub, Groups=[sg], Description="training ENI")
rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
ec2.associate_route_table(RouteTableId=rt, SubnetId=sub)
ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", RouteTableIds=[rt], VpcEndpointType="Gateway")
role = "arn:aws:iam::123456789012:role/sm"
sm.create_training_job(TrainingJobName="collected-job", AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
    RoleArn=role, OutputDataConfig={"S3OutputPath": "s3://b/out"}, ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
    StoppingCondition={"MaxRuntimeInSeconds": 3600}, VpcConfig={"SecurityGroupIds": [sg], "Subnets": [sub]}, EnableNetworkIsolation=True)
sm.create_model(ModelName="collected-model", ExecutionRoleArn=role, PrimaryContainer={"Image": "img"}, VpcConfig={"SecurityGroupIds": [sg], "Subnets": [sub]})
sm.create_endpoint_config(EndpointConfigName="collected-config", ProductionVariants=[{"VariantName": "v", "ModelName": "collected-model", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
sm.create_endpoint(EndpointName="collected-endpoint", EndpointConfigName="collected-config")
sm.create_notebook_instance(NotebookInstanceName="collected-nb", InstanceType="ml.t3.medium", RoleArn=role, SubnetId=sub, SecurityGroupIds=[sg])
# The endpoint's earlier config (history) and a batch transform job on the VPC model.
sm.create_endpoint_config(EndpointConfigName="collected-config-old", ProductionVariants=[{"VariantName": "v", "ModelName": "collected-model", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
sm.create_transform_job(TransformJobName="collected-transform", ModelName="collected-model",
    TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}}},
    TransformOutput={"S3OutputPath": "s3://b/out"}, TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
print("ok")
"#;
    let made = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&m.url)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let inv_dir = dir.path().join("inv");
    let out = egresswatch(&[
        "inventory",
        "collect",
        "--endpoint-url",
        &m.url,
        "--region",
        "us-east-1",
        "--out",
        &inv_dir.display().to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        inv_dir
            .join("us-east-1/ec2/network-interfaces.json")
            .exists(),
        "one folder per region"
    );
    let inv = egresswatch::enrich::Inventory::load(&inv_dir).unwrap();
    assert!(inv.ignored.is_empty(), "{:?}", inv.ignored);
    assert!(inv
        .enis
        .iter()
        .any(|e| e.description.as_deref() == Some("training ENI")));
    assert!(inv
        .vpcs
        .iter()
        .any(|v| v.cidr_block.as_deref() == Some("10.30.0.0/16")));
    let rt = inv
        .route_tables
        .iter()
        .find(|r| r.associations.iter().any(|a| a.subnet_id.is_some()))
        .expect("associated route table");
    assert!(!rt.routes.is_empty());
    assert!(inv
        .vpc_endpoints
        .iter()
        .any(|e| e.service_name == "com.amazonaws.us-east-1.s3" && !e.route_table_ids.is_empty()));
    let job = inv
        .training_jobs
        .iter()
        .find(|j| j.training_job_name == "collected-job")
        .expect("training job");
    assert_eq!(job.vpc_config.as_ref().unwrap().subnets.len(), 1);
    assert_eq!(inv.endpoints.len(), 1);
    // Every config over the range, not only the endpoint's current one.
    assert_eq!(inv.endpoint_configs.len(), 2);
    // The transform job is a ledger fact pointing at its model (whose VpcConfig it runs in).
    let tj = inv
        .history
        .resources
        .get(&(
            "transform-job".to_string(),
            "collected-transform".to_string(),
        ))
        .expect("transform job kept as a ledger fact");
    assert_eq!(tj.parent.as_deref(), Some("collected-model"));
    assert_eq!(tj.evidence[0].source, "inventory");
    let model = egresswatch::enrich::Model::build(&inv, None);
    assert!(
        model
            .resources
            .iter()
            .any(|r| r.name.as_ref() == "collected-transform" && r.kind_str() == "transform-job"),
        "the transform job is a resource its ENIs can be attributed to"
    );
    assert_eq!(inv.models.len(), 1);
    assert_eq!(inv.notebooks.len(), 1);
    // The folder is a valid --inventory for scan.
    let scan = egresswatch(&[
        "scan",
        "--inventory",
        &inv_dir.display().to_string(),
        "--format",
        "jsonl",
        &root().join("samples/flowlogs").display().to_string(),
    ]);
    assert!(
        scan.status.success(),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
}

#[test]
fn watch_accepts_sns_and_eventbridge_duplicates_and_stops_on_sigterm() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, sqs) = rt.block_on(clients(&m.url));
    let queue = rt.block_on(async {
        s3.create_bucket().bucket("manual").send().await.unwrap();
        let url = sqs.create_queue().queue_name("manual-events").send().await.unwrap().queue_url().unwrap().to_string();
        let objects = sample_objects();
        for (key, data) in &objects {
            s3.put_object().bucket("manual").key(key).body(ByteStream::from(data.clone())).send().await.unwrap();
        }
        let direct = |key: &str| {
            serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                "eventTime": "2026-11-20T10:06:00.000Z",
                "s3": {"bucket": {"name": "manual"}, "object": {"key": key.replace('=', "%3D"), "size": 1}}}]})
            .to_string()
        };
        // Object 0 directly and again (a duplicate notification), object 1 through SNS, object 2
        // through EventBridge, plus a test event wrapped in SNS.
        let bodies = vec![
            direct(&objects[0].0),
            direct(&objects[0].0),
            serde_json::json!({"Type": "Notification", "MessageId": "n1", "Message": direct(&objects[1].0)}).to_string(),
            serde_json::json!({"version": "0", "detail-type": "Object Created", "source": "aws.s3", "time": "2026-11-20T11:06:00Z",
                "detail": {"bucket": {"name": "manual"}, "object": {"key": objects[2].0, "size": 1}}})
            .to_string(),
            serde_json::json!({"Type": "Notification", "Message": r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#}).to_string(),
        ];
        for b in bodies {
            sqs.send_message().queue_url(&url).message_body(b).send().await.unwrap();
        }
        url
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let summary = dir.path().join("s.json");
    let mut c = Command::new(env!("CARGO_BIN_EXE_egresswatch"));
    c.args([
        "watch",
        "--endpoint-url",
        &m.url,
        "--queue-url",
        &queue,
        "--inventory",
        &inventory(),
        "--wait",
        "1",
        "--shutdown-grace",
        "20s",
        "--output",
    ])
    .arg(&out)
    .arg("--summary-json")
    .arg(&summary)
    .stderr(std::process::Stdio::null());
    for (k, v) in env() {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    // No idle exit: it runs until SIGTERM. Wait for all five messages to be handled.
    let t0 = Instant::now();
    loop {
        let n = ids(&std::fs::read(&out).unwrap_or_default()).len();
        if n == golden_ids().len() || t0.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let t1 = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM ends the worker cleanly");
    assert!(t1.elapsed() < Duration::from_secs(25));
    assert_eq!(
        ids(&std::fs::read(&out).unwrap()),
        golden_ids(),
        "duplicates give the same ids"
    );
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(stats["test_events"], 1, "{stats}");
    assert_eq!(stats["deleted"], 5, "{stats}");
    assert_eq!(
        stats["objects"], 4,
        "the duplicate is read again (at-least-once): {stats}"
    );
}

/// A proxy in front of moto that answers the first `fail` object GETs with 503 SlowDown (what S3
/// says when throttling) and forwards everything else.
fn faulty_proxy(
    upstream: &str,
    fail: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = upstream.trim_start_matches("http://").to_string();
    let failed = std::sync::Arc::new(AtomicUsize::new(0));
    let f2 = failed.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (up, failed) = (up.clone(), f2.clone());
            std::thread::spawn(move || {
                let mut client = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                loop {
                    let mut head = Vec::new();
                    let mut len = 0usize;
                    let mut first = String::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if first.is_empty() {
                            first = line.clone();
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if line.to_ascii_lowercase().starts_with("connection:") {
                            continue;
                        }
                        if line == "\r\n" {
                            head.extend_from_slice(b"Connection: close\r\n\r\n");
                            break;
                        }
                        head.extend_from_slice(line.as_bytes());
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    let is_object_get = first.starts_with("GET ")
                        && first.contains(".log")
                        && !first.contains("list-type");
                    if is_object_get && failed.load(Ordering::SeqCst) < fail {
                        failed.fetch_add(1, Ordering::SeqCst);
                        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>r</RequestId></Error>";
                        let _ = write!(client, "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{xml}", xml.len());
                        continue;
                    }
                    let mut s = std::net::TcpStream::connect(&up).unwrap();
                    s.write_all(&head).unwrap();
                    s.write_all(&body).unwrap();
                    let mut resp = Vec::new();
                    let _ = s.read_to_end(&mut resp);
                    if client.write_all(&resp).is_err() {
                        return;
                    }
                    return; // the upstream closed; so do we
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), failed)
}

#[test]
fn replay_retries_503_slowdown_with_backoff() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, _) = rt.block_on(clients(&m.url));
    rt.block_on(async {
        s3.create_bucket().bucket("slow").send().await.unwrap();
        for (key, data) in sample_objects() {
            s3.put_object()
                .bucket("slow")
                .key(key)
                .body(ByteStream::from(data))
                .send()
                .await
                .unwrap();
        }
    });
    let (proxy, failed) = faulty_proxy(&m.url, 3);
    let inv = inventory();
    let out = egresswatch(&[
        "replay",
        "--endpoint-url",
        &proxy,
        "--bucket",
        "slow",
        "--account",
        "111122223333",
        "--region",
        "us-east-1",
        "--start",
        "2026-11-20T00:00:00Z",
        "--end",
        "2026-11-21T00:00:00Z",
        "--inventory",
        &inv,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        failed.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "the proxy injected its 503s"
    );
    assert_eq!(
        ids(&out.stdout),
        golden_ids(),
        "every object read despite the 503s"
    );
}

#[test]
fn heartbeat_keeps_more_than_ten_messages_hidden_past_their_timeout() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (_, sqs) = rt.block_on(clients(&m.url));
    rt.block_on(async {
        let queue = sqs
            .create_queue()
            .queue_name("heartbeat")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        for i in 0..12 {
            sqs.send_message()
                .queue_url(&queue)
                .message_body(format!("m{i}"))
                .send()
                .await
                .unwrap();
        }
        let mut receipts = Vec::new();
        while receipts.len() < 12 {
            let r = sqs
                .receive_message()
                .queue_url(&queue)
                .max_number_of_messages(10)
                .visibility_timeout(2)
                .send()
                .await
                .unwrap();
            assert!(
                !r.messages().is_empty(),
                "all 12 received before any timeout"
            );
            receipts.extend(
                r.messages()
                    .iter()
                    .filter_map(|m| m.receipt_handle().map(str::to_string)),
            );
        }
        // Two chunks (10 + 2): every message is extended.
        let n = egresswatch::watch::extend_visibility(&sqs, &queue, &receipts, 60).await;
        assert_eq!(n, 12);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let again = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        assert!(
            again.messages().is_empty(),
            "{} messages came back after their 2 s timeout despite the extension",
            again.messages().len()
        );
    });
}
