//! Network faults between egresswatch and S3/SQS: moto on 127.0.0.1 behind the fault proxy
//! (`tests/common/fault_proxy.rs`), which breaks what moto cannot (bodies, connections, clocks,
//! partial failures). Each test says what it checks: nothing lost (every finding of a clean run
//! is there), nothing duplicated beyond at-least-once (stable finding ids, messages deleted once
//! processed), or a clear error naming the object. The clean-run reference is
//! `tests/golden/samples.jsonl` (the three sample objects' findings) or a local `scan` of the
//! same files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
use common::moto::{moto, notified_bucket, queue_depth, sample_objects};
use fault_proxy::{Fault, FaultProxy, Request};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn inventory() -> String {
    root().join("samples/inventory").display().to_string()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Test-side clients straight to moto, with static keys (the test process's environment is
/// left alone: tests run in parallel threads).
fn clients(url: &str) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client) {
    let creds = aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test");
    let region = aws_sdk_s3::config::Region::new("us-east-1");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .credentials_provider(creds.clone())
            .region(region.clone())
            .endpoint_url(url)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version_latest()
            .credentials_provider(creds)
            .region(region)
            .endpoint_url(url)
            .build(),
    );
    (s3, sqs)
}

/// The distinctive part of a sample key (its hash), for matching requests.
fn tag(key: &str) -> String {
    key.rsplit('_').next().unwrap_or(key).to_string()
}

fn golden_ids() -> BTreeSet<String> {
    ids(&std::fs::read(root().join("tests/golden/samples.jsonl")).unwrap())
}

fn ids(out: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The environment of every egresswatch run: static keys unless `creds_url` is given (then
/// container credentials from that loopback URL); no profile files, no instance metadata (no
/// traffic off the machine).
fn command(dir: &Path, creds_url: Option<&str>, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_egresswatch"));
    c.args(args)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
        .env("EGRESSWATCH_LOG", "info");
    match creds_url {
        None => {
            c.env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing");
        }
        Some(u) => {
            c.env_remove("AWS_ACCESS_KEY_ID")
                .env_remove("AWS_SECRET_ACCESS_KEY")
                .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", u);
        }
    }
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir, None, args).output().unwrap()
}

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `replay` of bucket `bucket` (the samples' account, region and day) through `endpoint`.
fn replay(dir: &Path, endpoint: &str, bucket: &str, extra: &[&str]) -> (Output, serde_json::Value) {
    let s = dir.join(format!("{bucket}-{}.json", extra.len()));
    let (inv, sp) = (inventory(), s.display().to_string());
    let mut args = vec![
        "replay",
        "--endpoint-url",
        endpoint,
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
        "--inventory",
        &inv,
        "--summary-json",
        &sp,
    ];
    args.extend_from_slice(extra);
    let out = run(dir, &args);
    let sum = if s.exists() {
        summary(&s)
    } else {
        serde_json::Value::Null
    };
    (out, sum)
}

async fn upload(s3: &aws_sdk_s3::Client, bucket: &str, objects: &[(String, Vec<u8>)]) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    for (key, data) in objects {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
    }
}

/// Findings ids and record count of a local scan of some sample objects: the clean result a
/// run that loses one object must equal exactly.
fn local_scan(dir: &Path, objects: &[(String, Vec<u8>)]) -> (BTreeSet<String>, u64) {
    let d = dir.join(format!("local-{}", objects.len()));
    let mut paths = Vec::new();
    for (key, data) in objects {
        let p = d.join(key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        paths.push(p.display().to_string());
    }
    let s = d.join("summary.json").display().to_string();
    let inv = inventory();
    let mut args = vec!["scan", "--inventory", &inv, "--summary-json", &s];
    args.extend(paths.iter().map(String::as_str));
    let out = run(dir, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sum = summary(Path::new(&s));
    (ids(&out.stdout), sum["records"].as_u64().unwrap())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A connection reset mid-body, a body shorter than its Content-Length, a close-delimited body
/// cut in half (HTTP alone cannot tell it from a whole one: only the listed size can), and a
/// body that stalls past the read timeout: each object is read again whole, and the run ends
/// with exactly the clean run's findings and records, nothing failed. Every GET carries
/// If-Match with the listed ETag, so the re-read is of the same version.
#[test]
fn broken_bodies_are_read_again_whole_and_give_the_clean_findings() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, _) = clients(&m.url);
    let objects = sample_objects();
    rt.block_on(upload(&s3, "bodies", &objects));
    let proxy = FaultProxy::start(&m.url);
    let (a, b, c) = (tag(&objects[0].0), tag(&objects[1].0), tag(&objects[2].0));
    let on = |t: &str| {
        let t = t.to_string();
        move |r: &Request| r.is_get_of(&t)
    };
    proxy.add(1, on(&a), Fault::ResetMidBody);
    proxy.add(1, on(&b), Fault::ShortBody);
    proxy.add(1, on(&b), Fault::UnframedShortBody);
    proxy.add(
        1,
        on(&c),
        Fault::StallMidBody {
            max: Duration::from_secs(40),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let (out, sum) = replay(dir.path(), &proxy.url, "bodies", &["--read-timeout", "2s"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(ids(&out.stdout), golden_ids(), "{err}");
    assert_eq!(sum["records"], 31, "{sum}");
    assert_eq!(sum["failed_files"], 0, "{sum}");
    for f in [
        "ResetMidBody",
        "ShortBody",
        "UnframedShortBody",
        "StallMidBody",
    ] {
        assert_eq!(proxy.faults(f), 1, "{f} injected once");
    }
    let log = proxy.log();
    let stalled = log
        .iter()
        .find(|e| e.fault == Some("StallMidBody"))
        .unwrap();
    assert!(
        stalled.client_gave_up,
        "the stalled body was abandoned by the client (read timeout), not waited out"
    );
    let gets: Vec<_> = log.iter().filter(|e| e.request.is_get_of(".log")).collect();
    assert_eq!(
        gets.len(),
        3 + 4,
        "one GET per object, one more per broken body"
    );
    assert!(
        gets.iter().all(|e| e.request.header("if-match").is_some()),
        "every GET pinned to the listed version"
    );
    assert!(err.contains("reading the object again"), "{err}");
}

/// An object whose body never arrives whole (every GET cut, close-delimited): the run fails
/// loudly naming it, and nothing of it is decoded (records and findings are exactly those of a
/// local scan of the other objects; a decoder fed the half gzip would add records or fail it
/// as a decode error after counting some).
#[test]
fn an_object_that_never_arrives_whole_fails_by_name_and_nothing_of_it_is_decoded() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, _) = clients(&m.url);
    let objects = sample_objects();
    rt.block_on(upload(&s3, "never", &objects));
    let proxy = FaultProxy::start(&m.url);
    let victim = objects[0].0.clone();
    let t = tag(&victim);
    proxy.add(
        usize::MAX,
        move |r: &Request| r.is_get_of(&t),
        Fault::UnframedShortBody,
    );
    let dir = tempfile::tempdir().unwrap();
    let (out, sum) = replay(dir.path(), &proxy.url, "never", &[]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed object fails the run: {err}"
    );
    assert!(err.contains(&victim), "the error names the object: {err}");
    assert_eq!(sum["failed_files"], 1, "{sum}");
    let e = &sum["errors"][0];
    assert_eq!(e["file"], format!("s3://never/{victim}"), "{sum}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("gave up after 4 reads"),
        "{sum}"
    );
    assert_eq!(proxy.faults("UnframedShortBody"), 4, "bounded re-reads");
    let (want_ids, want_records) = local_scan(dir.path(), &objects[1..]);
    assert_eq!(ids(&out.stdout), want_ids);
    assert_eq!(sum["records"], want_records, "{sum}");
}

/// 503 SlowDown and 500 InternalError bursts on ListObjectsV2 and GetObject: retried by the
/// SDK, same findings and records as a clean run, nothing failed.
#[test]
fn list_and_get_5xx_bursts_are_retried_to_the_same_findings() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, _) = clients(&m.url);
    rt.block_on(upload(&s3, "bursts", &sample_objects()));
    let proxy = FaultProxy::start(&m.url);
    proxy.add(
        1,
        |r: &Request| r.is_list(),
        Fault::Error {
            status: 503,
            code: "SlowDown",
        },
    );
    proxy.add(
        1,
        |r: &Request| r.is_list(),
        Fault::Error {
            status: 500,
            code: "InternalError",
        },
    );
    proxy.add(
        2,
        |r: &Request| r.is_get_of(".log"),
        Fault::Error {
            status: 503,
            code: "SlowDown",
        },
    );
    proxy.add(
        1,
        |r: &Request| r.is_get_of(".log"),
        Fault::Error {
            status: 500,
            code: "InternalError",
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let (out, sum) = replay(dir.path(), &proxy.url, "bursts", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(proxy.faults("Error"), 5, "every injected error was hit");
    assert_eq!(ids(&out.stdout), golden_ids());
    assert_eq!(sum["records"], 31, "{sum}");
    assert_eq!(sum["failed_files"], 0, "{sum}");
}

/// An object larger than `--max-object-bytes` fails by name before its body is read (the listed
/// size is checked, so it is never even requested); the other objects are read and the run
/// says a file failed. Objects are held whole in memory, so this is what bounds one object's cost.
#[test]
fn an_object_over_the_object_limit_fails_by_name_and_is_never_fetched() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, _) = clients(&m.url);
    let objects = sample_objects();
    rt.block_on(upload(&s3, "toolarge", &objects));
    let largest = objects.iter().map(|(_, d)| d.len()).max().unwrap();
    let over: Vec<&String> = objects
        .iter()
        .filter(|(_, d)| d.len() == largest)
        .map(|(k, _)| k)
        .collect();
    let proxy = FaultProxy::start(&m.url);
    let dir = tempfile::tempdir().unwrap();
    let limit = (largest - 1).to_string();
    let (out, sum) = replay(
        dir.path(),
        &proxy.url,
        "toolarge",
        &["--max-object-bytes", &limit],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(sum["failed_files"], over.len(), "{sum}");
    let errors = sum["errors"].as_array().unwrap();
    for key in &over {
        assert!(
            errors
                .iter()
                .any(|e| e["file"].as_str().unwrap().ends_with(key.as_str())
                    && e["error"]
                        .as_str()
                        .unwrap()
                        .contains("byte limit on one object")),
            "{sum}"
        );
        let t = tag(key);
        assert!(
            !proxy.log().iter().any(|x| x.request.is_get_of(&t)),
            "an object over the limit is never requested"
        );
    }
    assert!(
        sum["records"].as_u64().unwrap() > 0,
        "the other objects are read: {sum}"
    );
}

/// An object replaced between List and Get: the GET with If-Match on the listed ETag is
/// refused (412), and the object is read again, whole, as its new version: the findings and
/// records are exactly those of a scan of the new content, never a mix of the two versions.
#[test]
fn an_object_replaced_between_list_and_get_is_read_whole_as_its_new_version() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, _) = clients(&m.url);
    let mut objects = sample_objects();
    rt.block_on(upload(&s3, "replaced", &objects));
    let proxy = FaultProxy::start(&m.url);
    // The new version: the second sample's records under the first one's name.
    let victim = objects[0].0.clone();
    let new = objects[1].1.clone();
    let (t, key, s3b, body) = (tag(&victim), victim.clone(), s3.clone(), new.clone());
    proxy.add(
        1,
        move |r: &Request| r.is_get_of(&t),
        Fault::Before(Box::new(move |_| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(
                s3b.put_object()
                    .bucket("replaced")
                    .key(&key)
                    .body(ByteStream::from(body.clone()))
                    .send(),
            )
            .unwrap();
        })),
    );
    let dir = tempfile::tempdir().unwrap();
    let (out, sum) = replay(dir.path(), &proxy.url, "replaced", &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    objects[0].1 = new;
    let (want_ids, want_records) = local_scan(dir.path(), &objects);
    assert_eq!(ids(&out.stdout), want_ids, "{err}");
    assert_eq!(sum["records"], want_records, "{sum}");
    let t = tag(&victim);
    let gets: Vec<_> = proxy
        .log()
        .into_iter()
        .filter(|e| e.request.is_get_of(&t))
        .collect();
    assert_eq!(gets.len(), 2, "one refused GET, one of the new version");
    assert_eq!(gets[0].status, 412, "If-Match on the listed ETag refused");
    assert!(gets[0].request.header("if-match").is_some());
    assert_eq!(gets[1].status, 200);
    assert!(err.contains("replaced since it was listed"), "{err}");
}

/// A replay resumed from its checkpoint: an object the first run could not download is read
/// again and its old failure goes (the resumed run counts every object once and is clean of
/// it), while an object that was read but failed to decode keeps its failure (never dropped).
#[test]
fn a_resumed_replay_rereads_failed_downloads_and_keeps_decode_failures() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, _) = clients(&m.url);
    let mut objects = sample_objects();
    let poison = "AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T1200Z_deadbeef.log.gz";
    objects.push((poison.to_string(), b"\x1f\x8b\x08not really gzip".to_vec()));
    rt.block_on(upload(&s3, "resume", &objects));
    let proxy = FaultProxy::start(&m.url);
    let t = tag(&objects[0].0);
    // Not retried by the SDK: the first run fails the object at once.
    proxy.add(
        usize::MAX,
        move |r: &Request| r.is_get_of(&t),
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck.json").display().to_string();
    let (out1, sum1) = replay(dir.path(), &proxy.url, "resume", &["--checkpoint", &ck]);
    assert_eq!(out1.status.code(), Some(1), "{}", stderr(&out1));
    assert_eq!(
        sum1["failed_files"], 2,
        "the denied object and the poison: {sum1}"
    );
    // Access restored: the same command resumes straight against moto.
    let (out2, sum2) = replay(dir.path(), &m.url, "resume", &["--checkpoint", &ck, "-v"]);
    assert_eq!(
        out2.status.code(),
        Some(1),
        "the poison still fails: {}",
        stderr(&out2)
    );
    assert_eq!(sum2["failed_files"], 1, "{sum2}");
    assert_eq!(
        sum2["errors"][0]["file"],
        format!("s3://resume/{poison}"),
        "{sum2}"
    );
    assert_eq!(sum2["files"], 4, "each object counted once: {sum2}");
    assert_eq!(sum2["records"], 31, "{sum2}");
    assert_eq!(ids(&out2.stdout), golden_ids());
}

fn watch_args<'a>(endpoint: &'a str, queue: &'a str, inv: &'a str, sum: &'a str) -> Vec<&'a str> {
    vec![
        "watch",
        "--endpoint-url",
        endpoint,
        "--queue-url",
        queue,
        "--inventory",
        inv,
        "--wait",
        "1",
        "--visibility",
        "60",
        "--summary-json",
        sum,
    ]
}

/// `watch` against a throttling, erroring, partially failing SQS:
/// - ReceiveMessage fails (throttled) for longer than `--idle-exit`: failed receives are not
///   idleness, so watch keeps going and handles every message (all the clean findings);
/// - the first DeleteMessageBatch fails two entries on the queue's side: they are sent again
///   and deleted (the queue ends with only the message below; no redelivery, no re-read);
/// - one object's body never arrives whole: its message is never in a delete (at-least-once:
///   it stays on the queue for a later attempt or the dead-letter queue).
///
/// `AWS_MAX_ATTEMPTS=1` hands every SQS error to watch's own loop (the SDK would otherwise
/// absorb short bursts), which is what is under test here.
#[test]
fn watch_rides_out_receive_errors_retries_failed_deletes_and_keeps_unread_messages() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, sqs) = clients(&m.url);
    let queue = rt.block_on(notified_bucket(&s3, &sqs, "watched"));
    let objects = sample_objects();
    // A fourth object (the first sample's records under another name) that is never read whole.
    let broken = objects[0].0.replace("_5e2a9c1b.", "_0badb0d1.");
    rt.block_on(async {
        for (key, data) in objects
            .iter()
            .cloned()
            .chain([(broken.clone(), objects[0].1.clone())])
        {
            s3.put_object()
                .bucket("watched")
                .key(key)
                .body(ByteStream::from(data))
                .send()
                .await
                .unwrap();
        }
    });
    let proxy = FaultProxy::start(&m.url);
    proxy.add_for(
        Duration::from_secs(5),
        |r: &Request| r.sqs_action() == Some("ReceiveMessage"),
        Fault::Error {
            status: 400,
            code: "ThrottlingException",
        },
    );
    proxy.add(
        1,
        |r: &Request| r.sqs_action() == Some("DeleteMessageBatch"),
        Fault::FailDeleteEntries { fail: 2 },
    );
    let bt = tag(&broken);
    proxy.add(
        usize::MAX,
        move |r: &Request| r.is_get_of(&bt),
        Fault::UnframedShortBody,
    );
    let dir = tempfile::tempdir().unwrap();
    let (inv, s) = (inventory(), dir.path().join("w.json").display().to_string());
    let mut args = watch_args(&proxy.url, &queue, &inv, &s);
    args.extend(["--idle-exit", "3s"]);
    let out = command(dir.path(), None, &args)
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .unwrap();
    let err = stderr(&out);
    let stats = summary(Path::new(&s));
    assert!(stats["receive_errors"].as_u64().unwrap() >= 2, "{stats}");
    assert_eq!(
        ids(&out.stdout),
        golden_ids(),
        "every message handled: {err}"
    );
    assert_eq!(proxy.faults("FailDeleteEntries"), 1);
    assert_eq!(
        stats["duplicate_objects"], 0,
        "nothing redelivered: {stats}"
    );
    assert!(stats["failed_objects"].as_u64().unwrap() >= 1, "{stats}");

    // Receipt handles: those that failed to delete were sent again; the broken object's never.
    let log = proxy.log();
    let bodies = |action: &str| -> Vec<serde_json::Value> {
        log.iter()
            .filter(|e| e.request.sqs_action() == Some(action) && e.status == 200)
            .map(|e| serde_json::from_slice(&e.request.body).unwrap())
            .collect()
    };
    let deletes = bodies("DeleteMessageBatch");
    let first = log
        .iter()
        .find(|e| e.fault == Some("FailDeleteEntries"))
        .unwrap();
    let first: serde_json::Value = serde_json::from_slice(&first.request.body).unwrap();
    let handles = |v: &serde_json::Value| -> Vec<String> {
        v["Entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["ReceiptHandle"].as_str().unwrap().to_string())
            .collect()
    };
    let failed: Vec<String> = handles(&first).into_iter().take(2).collect();
    let later: BTreeSet<String> = deletes.iter().skip(1).flat_map(handles).collect();
    for h in &failed {
        assert!(later.contains(h), "a failed delete entry was sent again");
    }
    let mut broken_handles = Vec::new();
    for e in log
        .iter()
        .filter(|e| e.request.sqs_action() == Some("ReceiveMessage") && e.status == 200)
    {
        let v: serde_json::Value = serde_json::from_slice(&e.response_body).unwrap();
        for msg in v["Messages"].as_array().into_iter().flatten() {
            if msg["Body"].as_str().unwrap_or("").contains(&tag(&broken)) {
                broken_handles.push(msg["ReceiptHandle"].as_str().unwrap().to_string());
            }
        }
    }
    assert!(
        !broken_handles.is_empty(),
        "the broken object's message was received"
    );
    let all: BTreeSet<String> = deletes.iter().flat_map(handles).collect();
    for h in &broken_handles {
        assert!(
            !all.contains(h),
            "the unread object's message was never deleted"
        );
    }
    assert_eq!(
        rt.block_on(queue_depth(&sqs, &queue)),
        1,
        "only the unread object's message is left"
    );
}

/// Credentials that expire mid-run: container credentials served from a loopback endpoint
/// with a short Expiration. The SDK fetches them again before they expire (endpoint hit again),
/// requests after that are signed with the new access key id (seen in Authorization through
/// the proxy), and the run completes with every finding.
#[test]
fn expiring_credentials_are_refreshed_mid_run() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, sqs) = clients(&m.url);
    let queue = rt.block_on(notified_bucket(&s3, &sqs, "creds"));
    let objects = sample_objects();
    rt.block_on(async {
        s3.put_object()
            .bucket("creds")
            .key(&objects[0].0)
            .body(ByteStream::from(objects[0].1.clone()))
            .send()
            .await
            .unwrap();
    });
    let proxy = FaultProxy::start(&m.url);
    // Valid for 12 s: the SDK refreshes 10-15 s before expiry, so within 2 s of a fetch.
    let creds = fault_proxy::CredentialServer::start(Duration::from_secs(12));
    let dir = tempfile::tempdir().unwrap();
    let (inv, s) = (inventory(), dir.path().join("c.json").display().to_string());
    let out_path = dir.path().join("c.jsonl");
    let mut args = watch_args(&proxy.url, &queue, &inv, &s);
    let op = out_path.display().to_string();
    args.extend(["--idle-exit", "8s", "--output", &op]);
    let mut child = command(dir.path(), Some(&creds.url), &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while creds.hits() < 2 {
        if t0.elapsed() > Duration::from_secs(40) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "credentials fetched {} times, not refreshed: {}",
                creds.hits(),
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Objects that arrive after the refresh are read with the new credentials.
    rt.block_on(async {
        for (key, data) in &objects[1..] {
            s3.put_object()
                .bucket("creds")
                .key(key)
                .body(ByteStream::from(data.clone()))
                .send()
                .await
                .unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        ids(&std::fs::read(&out_path).unwrap_or_default()),
        golden_ids(),
        "{err}"
    );
    let log = proxy.log();
    let keys: BTreeSet<String> = log.iter().filter_map(|e| e.request.access_key()).collect();
    assert!(keys.len() >= 2, "a new access key id was used: {keys:?}");
    let first_key = creds.key(1);
    for (key, _) in &objects[1..] {
        let t = tag(key);
        let get = log
            .iter()
            .find(|e| e.request.is_get_of(&t) && e.status == 200)
            .unwrap();
        assert_ne!(
            get.request.access_key().as_deref(),
            Some(first_key.as_str()),
            "objects after the refresh are read with the refreshed credentials"
        );
    }
}

/// A server clock 2 hours ahead: the first request is refused with 403 RequestTimeTooSkewed
/// and a `Date` header of the server's time; the SDK learns the skew from it, signs later
/// requests with the server's time, and the run recovers with every finding (the decision:
/// recover, not fail; a clock so wrong that no retry helps ends in the SDK's error naming
/// RequestTimeTooSkewed).
#[test]
fn clock_skew_is_learned_from_the_server_and_the_run_recovers() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, _) = clients(&m.url);
    rt.block_on(upload(&s3, "skewed", &sample_objects()));
    let proxy = FaultProxy::start(&m.url);
    proxy.set_skew(2 * 3600);
    let dir = tempfile::tempdir().unwrap();
    let (out, sum) = replay(dir.path(), &proxy.url, "skewed", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        proxy.faults("RequestTimeTooSkewed") >= 1,
        "the skew was hit"
    );
    assert_eq!(ids(&out.stdout), golden_ids());
    assert_eq!(sum["records"], 31, "{sum}");
    let ok_gets = proxy
        .log()
        .iter()
        .filter(|e| e.request.is_get_of(".log") && e.status == 200)
        .count();
    assert_eq!(ok_gets, 3, "every object read with the corrected clock");
}
