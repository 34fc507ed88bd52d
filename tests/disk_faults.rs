//! Disk faults: the binary as a child process on a full disk (RLIMIT_FSIZE: a write past the
//! limit writes what fits, then fails with EFBIG, as ENOSPC does) and on a read-only folder
//! (run as `nobody`, since root ignores mode bits); see tests/common/proc.rs. For the delivery
//! spool, the file sink, `--state` (baselines, open windows), the replay checkpoint and the ENI
//! ledger, each case checks three things: a loud error (non-zero exit, the path named), nothing
//! acknowledged that was not written (spool and sink files cut back to their last whole record,
//! no state generation or checkpoint, SQS messages not deleted, no temporary file left), and
//! recovery once space returns (a rerun without the fault produces or delivers everything, each
//! finding id once). S3 and SQS are moto on 127.0.0.1.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

mod common;
use common::moto::{moto, notified_bucket, queue_depth, Moto};
use common::proc::{self, files_under, Fault};

const DAY: &str = "samples/flowlogs/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20";
const FILE1: &str =
    "111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T0900Z_5e2a9c1b.log.gz";
const FILE2: &str =
    "111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60702_20261120T1000Z_7c4d1e0f.log.gz";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sample(name: &str) -> String {
    root().join(DAY).join(name).display().to_string()
}

fn inventory() -> String {
    root().join("samples/inventory").display().to_string()
}

const AWS_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
];

/// A temporary folder an unprivileged child can enter (tempdir makes it 0700).
fn tmp() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    proc::open_to_all(d.path());
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ids_of_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            v["id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Finding ids of a plain `scan` of `files` (the reference: no fault, no delivery).
fn scan_ids(files: &[&str]) -> BTreeSet<String> {
    let mut args = vec!["scan", "--inventory"];
    let inv = inventory();
    args.push(&inv);
    let paths: Vec<String> = files.iter().map(|f| sample(f)).collect();
    args.extend(paths.iter().map(String::as_str));
    let o = proc::run(Fault::none(), &args, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ids: BTreeSet<String> = ids_of_lines(&String::from_utf8_lossy(&o.stdout))
        .into_iter()
        .collect();
    assert!(!ids.is_empty(), "the samples raise findings");
    ids
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
}

/// A routing file with one sink named `siem` whose spool is `spool/siem` under `dir`.
fn route_file(dir: &Path, name: &str, sink: &str) -> String {
    let p = dir.join(name);
    write(
        &p,
        &format!(
            "[spool]\ndir = \"{}\"\n\n[[sink]]\nname = \"siem\"\n{sink}\n",
            dir.join("spool").display()
        ),
    );
    p.display().to_string()
}

/// A webhook sink on a loopback port nothing listens on: findings stay spooled.
fn down_sink() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("type = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\ntimeout_secs = 1")
}

fn file_sink(path: &Path) -> String {
    format!("type = \"file\"\npath = \"{}\"", path.display())
}

fn segments(spool: &Path) -> Vec<PathBuf> {
    files_under(spool)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("seg-"))
        .collect()
}

fn scan_route(fault: Fault, route: &str, file: &str) -> Output {
    let s = sample(file);
    let inv = inventory();
    proc::run(
        fault,
        &[
            "scan",
            "--inventory",
            &inv,
            &s,
            "--route",
            route,
            "--deliver-timeout",
            "1s",
        ],
        &[],
    )
}

/// Checks: findings spooled earlier (SIEM down) sit in a segment of S bytes; a second run on a
/// disk that fits only part of its batch exits 2 naming the segment, and the segment is cut
/// back to exactly its S bytes (no half record the next append would be glued to), the throttle
/// state is unchanged; once space returns, a run delivers both runs' findings, each id once.
#[test]
fn spool_on_a_full_disk_refuses_the_batch_whole_and_delivers_it_once_space_returns() {
    let d = tmp();
    let down = route_file(d.path(), "down.toml", &down_sink());
    let o = scan_route(Fault::none(), &down, FILE1);
    assert!(o.status.success(), "{}", stderr(&o));
    let segs = segments(&d.path().join("spool/siem"));
    assert_eq!(segs.len(), 1, "{}", stderr(&o));
    let before = std::fs::read(&segs[0]).unwrap();
    let state_before = std::fs::read(d.path().join("spool/state.json")).unwrap();

    // Room for 700 more bytes in any file: the next batch (several KiB) is cut in the middle.
    let limit = before.len() as u64 + 700;
    let o = scan_route(Fault::full_at(limit), &down, FILE2);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&segs[0].display().to_string()) && err.contains("write failed"),
        "the error names the segment: {err}"
    );
    assert_eq!(
        std::fs::read(&segs[0]).unwrap(),
        before,
        "the failed append was cut back to the last whole record"
    );
    assert_eq!(segments(&d.path().join("spool/siem")), segs);
    assert_eq!(
        std::fs::read(d.path().join("spool/state.json")).unwrap(),
        state_before,
        "nothing of the refused batch was recorded as sent"
    );

    // Space is back, and the SIEM: everything is delivered once.
    let out = d.path().join("delivered.jsonl");
    let up = route_file(d.path(), "up.toml", &file_sink(&out));
    let o = scan_route(Fault::none(), &up, FILE2);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = ids_of_lines(&std::fs::read_to_string(&out).unwrap());
    let want = scan_ids(&[FILE1])
        .union(&scan_ids(&[FILE2]))
        .cloned()
        .collect::<BTreeSet<_>>();
    assert_eq!(got.len(), want.len(), "each finding once: {got:?}");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    assert!(segments(&d.path().join("spool/siem")).is_empty());
}

/// Checks: a spool folder the process may not write (read-only for it) is a loud error (exit
/// 2, the folder named) that spools nothing and writes no throttle state; made writable, the
/// same run spools and delivers every finding once.
#[test]
fn spool_in_a_read_only_folder_is_an_error_and_a_rerun_delivers_everything() {
    if !proc::can_switch_user() {
        eprintln!("note: not root, cannot run the child as another user; read-only case skipped");
        return;
    }
    let d = tmp();
    let out_dir = d.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    proc::open_to_all(&out_dir);
    let out = out_dir.join("delivered.jsonl");
    let route = route_file(d.path(), "route.toml", &file_sink(&out));
    let spool = d.path().join("spool");
    std::fs::create_dir_all(spool.join("siem")).unwrap();
    proc::read_only(&spool);
    proc::read_only(&spool.join("siem"));
    let o = scan_route(Fault::unprivileged(), &route, FILE1);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&spool.join("siem").display().to_string()),
        "names the spool: {err}"
    );
    assert!(files_under(&spool).is_empty(), "nothing spooled");
    assert!(!out.exists(), "nothing delivered");

    proc::open_to_all(&spool);
    proc::open_to_all(&spool.join("siem"));
    let o = scan_route(Fault::none(), &route, FILE1);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = ids_of_lines(&std::fs::read_to_string(&out).unwrap());
    let want = scan_ids(&[FILE1]);
    assert_eq!(got.len(), want.len());
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
}

/// Checks: a file sink whose file fills up in the middle of a batch: the file is cut back to
/// what it held (whole lines), the findings stay spooled (pending, the path named in the
/// retry warning); `egresswatch deliver` once space returns appends each finding once.
#[test]
fn file_sink_on_a_full_disk_is_cut_back_and_the_findings_stay_spooled() {
    let d = tmp();
    // How big the spool segment of FILE1's findings is (so the limit lets the spool through).
    let probe = tmp();
    let down = route_file(probe.path(), "down.toml", &down_sink());
    let o = scan_route(Fault::none(), &down, FILE1);
    assert!(o.status.success(), "{}", stderr(&o));
    let seg = std::fs::metadata(&segments(&probe.path().join("spool/siem"))[0])
        .unwrap()
        .len();

    let limit = seg + 2000;
    let out = d.path().join("delivered.jsonl");
    // Earlier deliveries: whole lines, 300 bytes short of the limit.
    let line = format!("{{\"id\":\"earlier\",\"pad\":\"{}\"}}\n", "x".repeat(60));
    let mut earlier = String::new();
    while earlier.len() + line.len() <= (limit - 300) as usize {
        earlier.push_str(&line);
    }
    write(&out, &earlier);
    let route = route_file(d.path(), "route.toml", &file_sink(&out));
    let o = scan_route(Fault::full_at(limit), &route, FILE1);
    let err = stderr(&o);
    // Not acknowledged by the sink: they stay spooled for `egresswatch deliver`.
    assert!(
        err.contains(&format!("{}: File too large", out.display())),
        "the retry names the file: {err}"
    );
    assert!(err.contains("stay spooled"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        earlier,
        "the torn write was cut back"
    );
    let want = scan_ids(&[FILE1]);
    let spooled: usize = segments(&d.path().join("spool/siem"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap().lines().count())
        .sum();
    assert_eq!(spooled, want.len(), "every finding still spooled");

    let o = proc::run(
        Fault::none(),
        &["deliver", "--route", &route, "--timeout", "5s"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with(&earlier));
    let got = ids_of_lines(&text[earlier.len()..]);
    assert_eq!(got.len(), want.len(), "each once");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
}

fn state_files(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let all = files_under(dir);
    let snaps = all
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "snap"))
        .cloned()
        .collect();
    let tmps = all
        .iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".tmp"))
        .cloned()
        .collect();
    (snaps, tmps)
}

fn scan_state(fault: Fault, state: &Path) -> Output {
    let (s, inv, st) = (sample(FILE1), inventory(), state.display().to_string());
    proc::run(
        fault,
        &["scan", "--inventory", &inv, &s, "--state", &st],
        &[],
    )
}

/// Checks: `scan --state` (behavioural baselines) on a full disk exits 2 naming the state
/// folder, prints no findings (nothing was handed on for a state that was not saved), leaves
/// no generation and no temporary file; the rerun saves generation 1 and prints the findings.
/// Read-only: the same, as an unprivileged user.
#[test]
fn baseline_state_on_a_full_or_read_only_disk_saves_nothing_and_a_rerun_does() {
    let d = tmp();
    let state = d.path().join("state");
    let o = scan_state(Fault::full_at(512), &state);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&state.display().to_string()), "{err}");
    assert!(o.stdout.is_empty(), "no findings for an unsaved state");
    let (snaps, tmps) = state_files(&state);
    assert!(snaps.is_empty() && tmps.is_empty(), "{snaps:?} {tmps:?}");

    let o = scan_state(Fault::none(), &state);
    assert!(o.status.success(), "{}", stderr(&o));
    let (snaps, _) = state_files(&state);
    assert_eq!(snaps.len(), 1);
    assert!(
        std::fs::metadata(&snaps[0]).unwrap().len() > 512,
        "the limit did bite"
    );
    let got: BTreeSet<String> = ids_of_lines(&String::from_utf8_lossy(&o.stdout))
        .into_iter()
        .collect();
    assert!(scan_ids(&[FILE1]).is_subset(&got));

    if !proc::can_switch_user() {
        eprintln!("note: not root; read-only case skipped");
        return;
    }
    let ro = d.path().join("ro-state");
    std::fs::create_dir_all(&ro).unwrap();
    proc::read_only(&ro);
    let o = scan_state(Fault::unprivileged(), &ro);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&ro.display().to_string()), "{err}");
    assert!(files_under(&ro).is_empty());
}

/// A minimal CloudTrail file for the sample day: ENI creations (what the ledger learns).
fn trail(dir: &Path) -> PathBuf {
    let t = dir.join("trail/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20");
    std::fs::create_dir_all(&t).unwrap();
    let records: Vec<Value> = (0..8)
        .map(|i| {
            serde_json::json!({
                "eventVersion": "1.09", "eventSource": "ec2.amazonaws.com",
                "eventName": "CreateNetworkInterface", "eventTime": "2026-11-20T08:00:00Z",
                "eventID": format!("c-{i}"), "awsRegion": "us-east-1",
                "recipientAccountId": "111122223333",
                "requestParameters": {"subnetId": "subnet-x"},
                "responseElements": {"networkInterface": {
                    "networkInterfaceId": format!("eni-0ff{i:05}"), "subnetId": "subnet-x",
                    "vpcId": "vpc-x", "privateIpAddress": format!("10.99.0.{i}"),
                    "description": "an ENI the ledger learns from the trail"}}
            })
        })
        .collect();
    let f = t.join("111122223333_CloudTrail_us-east-1_20261120T0915Z_abcd.json");
    write(&f, &serde_json::json!({ "Records": records }).to_string());
    let mut p = dir.join("trail");
    proc::open_to_all(&p);
    for c in [
        "AWSLogs",
        "111122223333",
        "CloudTrail",
        "us-east-1",
        "2026",
        "11",
        "20",
    ] {
        p = p.join(c);
        proc::open_to_all(&p);
    }
    dir.join("trail")
}

fn scan_ledger(fault: Fault, trail: &Path, ledger: &Path) -> Output {
    let (s, inv) = (sample(FILE1), inventory());
    let (t, l) = (trail.display().to_string(), ledger.display().to_string());
    proc::run(
        fault,
        &[
            "scan",
            "--inventory",
            &inv,
            &s,
            "--no-baseline",
            "--cloudtrail",
            &t,
            "--ledger",
            &l,
            "--summary-json",
            "/dev/stderr",
        ],
        &[],
    )
}

/// Checks: the ENI ledger on a full disk and in a read-only folder: exit 2 naming the ledger,
/// no segment and no temporary file written; the rerun writes one segment, and a third run
/// keeps no event again (nothing duplicated: events are de-duplicated by id).
#[test]
fn ledger_on_a_full_or_read_only_disk_writes_no_segment_and_a_rerun_does_once() {
    let d = tmp();
    let trail = trail(d.path());
    let ledger = d.path().join("ledger");
    let o = scan_ledger(Fault::full_at(256), &trail, &ledger);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&ledger.display().to_string()), "{err}");
    assert!(
        files_under(&ledger).is_empty(),
        "{:?}",
        files_under(&ledger)
    );

    if proc::can_switch_user() {
        let ro = d.path().join("ro-ledger");
        std::fs::create_dir_all(&ro).unwrap();
        proc::read_only(&ro);
        let o = scan_ledger(Fault::unprivileged(), &trail, &ro);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(&ro.display().to_string()), "{err}");
        assert!(files_under(&ro).is_empty());
    } else {
        eprintln!("note: not root; read-only case skipped");
    }

    let o = scan_ledger(Fault::none(), &trail, &ledger);
    assert!(o.status.success(), "{}", stderr(&o));
    let segs = files_under(&ledger);
    assert_eq!(segs.len(), 1, "{segs:?}");
    assert!(
        std::fs::metadata(&segs[0]).unwrap().len() > 256,
        "the limit did bite"
    );
    let o = scan_ledger(Fault::none(), &trail, &ledger);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("\"events_kept\": 0"),
        "the second read adds nothing: {}",
        stderr(&o)
    );
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn clients(url: &str) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client) {
    for (k, v) in AWS_ENV {
        std::env::set_var(k, v);
    }
    let cfg = egresswatch::aws::sdk_config(Some(url), Some("us-east-1")).await;
    (
        egresswatch::aws::s3_client(&cfg, true),
        egresswatch::aws::sqs_client(&cfg),
    )
}

const KEY: &str = "AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/";

async fn put_sample(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(format!("{KEY}{FILE1}"))
        .body(ByteStream::from(std::fs::read(sample(FILE1)).unwrap()))
        .send()
        .await
        .unwrap();
}

fn replay(m: &Moto, fault: Fault, checkpoint: &Path) -> Output {
    let (inv, cp) = (inventory(), checkpoint.display().to_string());
    proc::run(
        fault,
        &[
            "replay",
            "--endpoint-url",
            &m.url,
            "--bucket",
            "replay",
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
            "--no-baseline",
            "--checkpoint",
            &cp,
        ],
        &AWS_ENV,
    )
}

/// Checks: a replay whose checkpoint cannot be written (full disk) exits 2 naming it, prints
/// no findings, and leaves neither the checkpoint nor its temporary file (the object is not
/// recorded as done); the rerun finishes with the same findings as a scan of the object.
#[test]
fn replay_checkpoint_on_a_full_disk_is_not_advanced_and_the_rerun_finishes() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, _) = rt.block_on(clients(&m.url));
    rt.block_on(async {
        s3.create_bucket().bucket("replay").send().await.unwrap();
        put_sample(&s3, "replay").await;
    });
    let d = tmp();
    let cp = d.path().join("replay.checkpoint");
    let o = replay(&m, Fault::full_at(1024), &cp);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&cp.display().to_string()), "{err}");
    assert!(o.stdout.is_empty(), "no findings from an unfinished replay");
    assert!(
        files_under(d.path()).is_empty(),
        "{:?}",
        files_under(d.path())
    );

    let o = replay(&m, Fault::none(), &cp);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::metadata(&cp).unwrap().len() > 1024,
        "the limit did bite"
    );
    let got: BTreeSet<String> = ids_of_lines(&String::from_utf8_lossy(&o.stdout))
        .into_iter()
        .collect();
    assert_eq!(got, scan_ids(&[FILE1]));
}

/// Receives and deletes what is on the queue (the `s3:TestEvent` S3 sends when the
/// notification is configured), so each watch run below sees only the object's message.
async fn drain(sqs: &aws_sdk_sqs::Client, queue: &str) {
    loop {
        let r = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if r.messages().is_empty() {
            return;
        }
        for m in r.messages() {
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn watch(m: &Moto, fault: Fault, queue: &str, extra: &[&str]) -> Output {
    let inv = inventory();
    let mut args = vec![
        "watch",
        "--endpoint-url",
        &m.url,
        "--queue-url",
        queue,
        "--inventory",
        &inv,
        "--wait",
        "1",
        "--visibility",
        "1",
        "--batch",
        "1",
        "--no-baseline",
    ];
    args.extend_from_slice(extra);
    proc::run(fault, &args, &AWS_ENV)
}

/// Checks: `watch --state` on a full disk: the window state cannot be committed, so the batch
/// is not finished: exit 2 naming the state, the SQS message not deleted, no finding written,
/// no generation; the rerun with space commits, writes every window of the object once
/// (`new`, revision 1) and deletes the message. Then the same with the spool full instead
/// (findings cannot be handed on): the message stays, exit 2; space back, it is delivered.
#[test]
fn watch_on_a_full_disk_keeps_its_messages_and_exits_2_then_finishes_them() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, sqs) = rt.block_on(clients(&m.url));
    let queue = rt.block_on(async {
        let q = notified_bucket(&s3, &sqs, "watched").await;
        drain(&sqs, &q).await;
        put_sample(&s3, "watched").await;
        q
    });
    let d = tmp();
    let state = d.path().join("state");
    let out = d.path().join("out.jsonl");
    let (st, o_) = (state.display().to_string(), out.display().to_string());
    let o = watch(
        &m,
        Fault::full_at(512),
        &queue,
        &["--state", &st, "--output", &o_, "--max-messages", "1"],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&st) && err.contains("not committed"), "{err}");
    assert!(err.contains("\"unfinished_messages\":1"), "{err}");
    assert_eq!(rt.block_on(queue_depth(&sqs, &queue)), 1, "not deleted");
    assert_eq!(std::fs::read_to_string(&out).unwrap_or_default(), "");
    assert!(state_files(&state).0.is_empty() && state_files(&state).1.is_empty());

    let o = watch(
        &m,
        Fault::none(),
        &queue,
        &["--state", &st, "--output", &o_, "--idle-exit", "3s"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        rt.block_on(queue_depth(&sqs, &queue)),
        0,
        "deleted once done"
    );
    let emitted: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = emitted.iter().map(|f| f["id"].as_str().unwrap()).collect();
    let want = scan_ids(&[FILE1]);
    assert_eq!(ids.len(), want.len(), "each window once: {ids:?}");
    assert_eq!(
        ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(),
        want
    );
    assert!(emitted
        .iter()
        .all(|f| f["revision"] == 1 && f["activity"] == "new"));
    assert!(state_files(&state)
        .0
        .iter()
        .any(|p| std::fs::metadata(p).unwrap().len() > 512));

    // The spool this time (state in memory): the findings cannot be handed on.
    rt.block_on(put_sample(&s3, "watched"));
    let delivered = d.path().join("delivered.jsonl");
    let route = route_file(d.path(), "route.toml", &file_sink(&delivered));
    let o = watch(
        &m,
        Fault::full_at(1024),
        &queue,
        &["--route", &route, "--max-messages", "1"],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&d.path().join("spool/siem").display().to_string()),
        "{err}"
    );
    assert_eq!(rt.block_on(queue_depth(&sqs, &queue)), 1, "not deleted");
    assert!(segments(&d.path().join("spool/siem")).is_empty());
    let o = watch(
        &m,
        Fault::none(),
        &queue,
        &["--route", &route, "--idle-exit", "3s"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(rt.block_on(queue_depth(&sqs, &queue)), 0);
    let got = ids_of_lines(&std::fs::read_to_string(&delivered).unwrap());
    assert_eq!(got.len(), want.len());
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
}

/// Checks: space returning while watch runs. The spool's first append fails half-way (1 KiB
/// left), the message is kept; the limit is then lifted in the running process, the message is
/// redelivered and spooled: every finding is delivered exactly once (a half-written record left
/// in the segment would have been glued to the first record of the retry, which would then be
/// unreadable and lost), the message is deleted, and watch exits 0 (nothing left unfinished).
#[test]
fn watch_recovers_in_process_when_space_returns_and_loses_no_spooled_finding() {
    let Some(m) = moto() else { return };
    let rt = rt();
    let (s3, sqs) = rt.block_on(clients(&m.url));
    let queue = rt.block_on(async {
        let q = notified_bucket(&s3, &sqs, "recovers").await;
        drain(&sqs, &q).await;
        put_sample(&s3, "recovers").await;
        q
    });
    let d = tmp();
    let delivered = d.path().join("delivered.jsonl");
    let route = route_file(d.path(), "route.toml", &file_sink(&delivered));
    let inv = inventory();
    let mut c = proc::command(Fault::full_at(1024));
    c.args([
        "watch",
        "--endpoint-url",
        &m.url,
        "--queue-url",
        &queue,
        "--inventory",
        &inv,
        "--wait",
        "1",
        "--visibility",
        "1",
        "--batch",
        "1",
        "--no-baseline",
        "--idle-exit",
        "3s",
        "--route",
        &route,
    ])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped());
    for (k, v) in AWS_ENV {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let pid = child.id();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    // Wait for the failed batch (the child blocks on nothing else: it retries every second).
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut err, &mut line).unwrap();
        assert!(n > 0, "watch ended before the spool failed: {log}");
        log.push_str(&line);
        if line.contains("findings could not be handed on") {
            break;
        }
    }
    assert!(log.contains("write failed"), "{log}");
    proc::set_fsize(pid, None);
    std::io::Read::read_to_string(&mut err, &mut log).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("\"unfinished_messages\":0"), "{log}");
    assert_eq!(
        rt.block_on(queue_depth(&sqs, &queue)),
        0,
        "deleted once spooled"
    );
    let got = ids_of_lines(&std::fs::read_to_string(&delivered).unwrap());
    let want = scan_ids(&[FILE1]);
    assert_eq!(
        got.len(),
        want.len(),
        "each finding once, none lost: {got:?}"
    );
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
}
