//! Limits on untrusted input (README "Limits on untrusted input"): each oversized input is fed to
//! the real binary under an address-space limit a little above what a normal run of the same
//! command needs, and must end in a counted skip or a clear error naming the object, with the
//! other input still processed and a normal exit status (never an abort or an OOM kill).
//!
//! Inputs are generated here (gzip bombs are small on disk), never committed.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::memlimit::{self, MIB};
use flate2::write::GzEncoder;
use flate2::Compression;

const SAMPLE_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id flow-direction traffic-path pkt-srcaddr pkt-dstaddr pkt-dst-aws-service tcp-flags";

/// One egress record of the samples' training job ENI to `dst` (an internet address).
fn egress_line(dst: &str, start: i64) -> String {
    format!(
        "5 111122223333 eni-0f00000000000b101 10.20.1.21 {dst} 44400 443 6 24 31457 {start} {} ACCEPT OK vpc-0a1b2c3d4e5f60718 subnet-0b0000000000000b1 egress 1 10.20.1.21 {dst} - 2",
        start + 55
    )
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn inventory() -> String {
    root().join("samples/inventory").display().to_string()
}

/// A flow-log object path in the AWS layout, so history ranges and names look real.
fn flow_path(dir: &Path, n: u32) -> PathBuf {
    let d = dir.join("AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20");
    std::fs::create_dir_all(&d).unwrap();
    d.join(format!(
        "111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60702_20261120T10{n:02}Z_limits.log.gz"
    ))
}

/// Writes `parts` gzipped, each as its own gzip member (readers take concatenated members, as
/// AWS writes them); a `Repeat(byte, n)` part is one compressed MiB of the byte written n/MiB
/// times, so a 300 MiB bomb costs one MiB of compression.
enum Part<'a> {
    Text(&'a str),
    Repeat(u8, u64),
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn write_gz(path: &Path, parts: &[Part<'_>]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for p in parts {
        match p {
            Part::Text(t) => f.write_all(&gz(t.as_bytes())).unwrap(),
            Part::Repeat(b, n) => {
                assert_eq!(n % MIB, 0);
                let member = gz(&vec![*b; MIB as usize]);
                for _ in 0..n / MIB {
                    f.write_all(&member).unwrap();
                }
            }
        }
    }
    f.flush().unwrap();
}

fn good_lines(n: usize) -> String {
    let mut s = format!("{SAMPLE_HEADER}\n");
    for i in 0..n {
        s.push_str(&egress_line("203.0.113.50", 1_795_168_920 + i as i64));
        s.push('\n');
    }
    s
}

fn summary(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn scan_args<'a>(files: &'a [String], summary: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["scan", "--threads", "1", "--summary-json", summary];
    a.extend_from_slice(extra);
    a.extend(files.iter().map(String::as_str));
    a
}

/// The memory limit of the oversized runs: a normal scan (samples inventory, a small trail, one
/// flow-log file), measured once per test binary, plus 160 MiB: far less than any of the
/// oversized inputs would take if read whole (300 MiB and more).
fn limit() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let flows = flow_path(dir.path(), 0);
        write_gz(&flows, &[Part::Text(&good_lines(50))]);
        let trail = dir
            .path()
            .join("trail/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20");
        std::fs::create_dir_all(&trail).unwrap();
        write_gz(
            &trail.join("111122223333_CloudTrail_us-east-1_20261120T1000Z_small.json.gz"),
            &[Part::Text("{\"Records\":[]}")],
        );
        let sum = dir.path().join("summary.json").display().to_string();
        let trail_root = dir.path().join("trail").display().to_string();
        let inv = inventory();
        let files = vec![flows.display().to_string()];
        let args = scan_args(
            &files,
            &sum,
            &["--inventory", &inv, "--cloudtrail", &trail_root],
        );
        memlimit::limit_for(&args, &[], 160 * MIB)
    })
}

#[test]
fn a_300_mib_line_is_a_counted_skip_and_the_other_lines_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let normal = flow_path(dir.path(), 0);
    write_gz(&normal, &[Part::Text(&good_lines(50))]);
    let sum = dir.path().join("summary.json").display().to_string();
    let inv = inventory();
    let limit = limit();

    let big = flow_path(dir.path(), 1);
    let mut text = good_lines(10);
    let tail = good_lines(10);
    let tail = tail.split_once('\n').unwrap().1;
    text.push_str("5 111122223333 eni-0f00000000000b101 ");
    write_gz(
        &big,
        &[
            Part::Text(&text),
            Part::Repeat(b'9', 300 * MIB),
            Part::Text("\n"),
            Part::Text(tail),
        ],
    );
    let files = vec![big.display().to_string(), normal.display().to_string()];
    let run = memlimit::run(
        &scan_args(&files, &sum, &["--inventory", &inv]),
        &[],
        Some(limit),
    );
    assert!(run.exited_normally(), "{}", run.describe());
    assert_eq!(run.status.code(), Some(0), "{}", run.describe());
    let s = summary(Path::new(&sum));
    assert_eq!(s["skipped"], 1, "{s}");
    assert_eq!(
        s["records"], 70,
        "the 20 lines around the long one and the other file: {s}"
    );
    let reason = s["skipped_samples"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("over the 65536 byte limit"), "{reason}");
    assert!(
        s["skipped_samples"][0]["file"]
            .as_str()
            .unwrap()
            .ends_with("T1001Z_limits.log.gz"),
        "{s}"
    );
    assert!(s["findings"].as_u64().unwrap() > 0, "{s}");

    // The memory limit binds: raising the line limit past it makes the decoder allocate a
    // block for a whole 1 GiB line, which this address space cannot hold (an abort).
    let run = memlimit::run(
        &scan_args(
            &files,
            &sum,
            &["--inventory", &inv, "--max-line-bytes", "1GiB"],
        ),
        &[],
        Some(limit),
    );
    assert!(
        !run.status.success(),
        "the control run fits: {}",
        run.describe()
    );
    eprintln!(
        "control (1 GiB line limit) under the memory limit: {:?}",
        run.status
    );

    // The bound is configurable: a smaller limit skips the ordinary lines too.
    let run = memlimit::run(
        &scan_args(
            &files,
            &sum,
            &["--inventory", &inv, "--max-line-bytes", "64"],
        ),
        &[],
        Some(limit),
    );
    assert!(run.exited_normally(), "{}", run.describe());
    let s = summary(Path::new(&sum));
    assert_eq!(s["records"], 0, "every line is over 64 bytes: {s}");
    assert!(s["skipped"].as_u64().unwrap() >= 71, "{s}");
}

#[test]
fn a_gzip_cloudtrail_file_inflating_to_320_mib_fails_by_name_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let flows = flow_path(dir.path(), 0);
    write_gz(&flows, &[Part::Text(&good_lines(20))]);
    let trail = dir
        .path()
        .join("trail/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20");
    std::fs::create_dir_all(&trail).unwrap();
    let small = trail.join("111122223333_CloudTrail_us-east-1_20261120T1000Z_small.json.gz");
    write_gz(&small, &[Part::Text("{\"Records\":[]}")]);
    let trail_root = dir.path().join("trail").display().to_string();
    let sum = dir.path().join("summary.json").display().to_string();
    let inv = inventory();
    let files = vec![flows.display().to_string()];
    let args = scan_args(
        &files,
        &sum,
        &["--inventory", &inv, "--cloudtrail", &trail_root],
    );
    let env = [("EGRESSWATCH_MAX_JSON_BYTES", "32MiB")];
    let limit = limit();

    let bomb = trail.join("111122223333_CloudTrail_us-east-1_20261120T1005Z_bomb.json.gz");
    write_gz(
        &bomb,
        &[Part::Text("{\"Records\":["), Part::Repeat(b' ', 320 * MIB)],
    );
    assert!(std::fs::metadata(&bomb).unwrap().len() < 8 * MIB);
    let run = memlimit::run(&args, &env, Some(limit));
    assert!(run.exited_normally(), "{}", run.describe());
    let s = summary(Path::new(&sum));
    assert_eq!(s["records"], 20, "the flow logs are still scanned: {s}");
    let ct = &s["history"]["cloudtrail"];
    assert_eq!(ct["failed_files"], 1, "{s}");
    let err = ct["errors"][0].as_str().unwrap();
    assert!(
        err.contains("bomb.json.gz") && err.contains("EGRESSWATCH_MAX_JSON_BYTES"),
        "{err}"
    );
    assert!(
        run.stderr.contains("bomb.json.gz"),
        "logged with its name: {}",
        run.describe()
    );
}

#[test]
fn an_inventory_file_over_the_json_limit_is_refused_unread_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let flows = flow_path(dir.path(), 0);
    write_gz(&flows, &[Part::Text(&good_lines(5))]);
    let inv = dir.path().join("inventory");
    copy_dir(&root().join("samples/inventory"), &inv);
    let sum = dir.path().join("summary.json").display().to_string();
    let inv_s = inv.display().to_string();
    let files = vec![flows.display().to_string()];
    let args = scan_args(&files, &sum, &["--inventory", &inv_s]);
    let limit = limit();

    // 300 MiB that take no disk: a sparse file (reads as zeros).
    let huge = inv.join("ec2/huge-network-interfaces.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(300 * MIB)
        .unwrap();
    let run = memlimit::run(&args, &[], Some(limit));
    assert!(run.exited_normally(), "{}", run.describe());
    assert_eq!(run.status.code(), Some(2), "{}", run.describe());
    assert!(
        run.stderr.contains("huge-network-interfaces.json")
            && run.stderr.contains("byte limit on one JSON document"),
        "{}",
        run.describe()
    );
    // The bound is configurable, and a flag wins over the environment.
    std::fs::remove_file(&huge).unwrap();
    let env = [("EGRESSWATCH_MAX_JSON_BYTES", "1KiB")];
    let run = memlimit::run(&args, &env, Some(limit));
    assert_eq!(run.status.code(), Some(2), "{}", run.describe());
    assert!(run.stderr.contains("1024 byte limit"), "{}", run.describe());
    let run = memlimit::run(
        &scan_args(
            &files,
            &sum,
            &["--inventory", &inv_s, "--max-json-bytes", "64MiB"],
        ),
        &env,
        Some(limit),
    );
    assert_eq!(run.status.code(), Some(0), "{}", run.describe());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn distinct_destinations_over_the_key_limit_are_counted_not_tracked() {
    let dir = tempfile::tempdir().unwrap();
    let flows = flow_path(dir.path(), 0);
    let mut text = format!("{SAMPLE_HEADER}\n");
    // 5000 distinct internet destinations of one training job, then 20 more records to the first.
    for i in 0..5000u32 {
        let dst = format!("45.{}.{}.{}", 10 + i / 65536, (i / 256) % 256, i % 256);
        text.push_str(&egress_line(&dst, 1_795_168_920));
        text.push('\n');
    }
    for _ in 0..20 {
        text.push_str(&egress_line("45.10.0.0", 1_795_168_930));
        text.push('\n');
    }
    write_gz(&flows, &[Part::Text(&text)]);
    let sum = dir.path().join("summary.json").display().to_string();
    let inv = inventory();
    let files = vec![flows.display().to_string()];
    let out = dir.path().join("findings.jsonl").display().to_string();
    let base = [
        "--inventory",
        inv.as_str(),
        "--format",
        "jsonl",
        "-o",
        out.as_str(),
    ];

    let run = memlimit::run(&scan_args(&files, &sum, &base), &[], None);
    assert_eq!(run.status.code(), Some(0), "{}", run.describe());
    let unbounded = summary(Path::new(&sum));
    assert_eq!(unbounded["over_limit"], 0, "{unbounded}");
    let all = unbounded["findings"].as_u64().unwrap();
    assert!(
        all >= 5000,
        "one finding per destination at least: {unbounded}"
    );

    let run = memlimit::run(
        &scan_args(&files, &sum, &base),
        &[("EGRESSWATCH_MAX_KEYS", "1000")],
        None,
    );
    assert_eq!(run.status.code(), Some(0), "{}", run.describe());
    let s = summary(Path::new(&sum));
    assert_eq!(s["records"], 5020, "{s}");
    let kept = s["findings"].as_u64().unwrap();
    assert!(kept <= 1000 && kept > 0, "{s}");
    assert!(s["over_limit"].as_u64().unwrap() >= 4000, "{s}");
    // Logged once per table, not once per record.
    let warnings = run
        .stderr
        .matches("more distinct keys than the limit")
        .count();
    assert!((1..=3).contains(&warnings), "{}", run.describe());
    // The destination seen first keeps counting: its 21 records are all in its finding.
    let findings = std::fs::read_to_string(&out).unwrap();
    let first = findings
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|f| f["dst_ip"] == "45.10.0.0")
        .expect("the first destination's finding");
    assert_eq!(first["flows"], 21, "{first}");
}

#[test]
fn a_parquet_row_group_over_the_limits_fails_that_file_by_name_before_reading() {
    use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let flows = flow_path(dir.path(), 0);
    write_gz(&flows, &[Part::Text(&good_lines(20))]);
    let n = 5000usize;
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("version", Arc::new(Int32Array::from(vec![5; n]))),
        (
            "account_id",
            Arc::new(StringArray::from(vec!["111122223333"; n])),
        ),
        (
            "interface_id",
            Arc::new(StringArray::from(vec!["eni-0f00000000000b101"; n])),
        ),
        (
            "srcaddr",
            Arc::new(StringArray::from(vec!["10.20.1.21"; n])),
        ),
        (
            "dstaddr",
            Arc::new(StringArray::from(vec!["203.0.113.50"; n])),
        ),
        ("srcport", Arc::new(Int32Array::from(vec![44400; n]))),
        ("dstport", Arc::new(Int32Array::from(vec![443; n]))),
        ("protocol", Arc::new(Int32Array::from(vec![6; n]))),
        ("packets", Arc::new(Int64Array::from(vec![24; n]))),
        ("bytes", Arc::new(Int64Array::from(vec![31457; n]))),
        ("start", Arc::new(Int64Array::from(vec![1_795_168_920; n]))),
        ("end", Arc::new(Int64Array::from(vec![1_795_168_975; n]))),
        ("action", Arc::new(StringArray::from(vec!["ACCEPT"; n]))),
        ("log_status", Arc::new(StringArray::from(vec!["OK"; n]))),
    ];
    let schema = Arc::new(arrow_schema::Schema::new(
        cols.iter()
            .map(|(name, a)| arrow_schema::Field::new(*name, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch =
        RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    let pq = flows.with_file_name(
        "111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60702_20261120T1100Z_limits.log.parquet",
    );
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&pq).unwrap(), schema, None)
            .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();

    let sum = dir.path().join("summary.json").display().to_string();
    let inv = inventory();
    let files = vec![pq.display().to_string(), flows.display().to_string()];
    let args = scan_args(&files, &sum, &["--inventory", &inv]);
    // Within the defaults the file is read.
    let run = memlimit::run(&args, &[], None);
    assert_eq!(run.status.code(), Some(0), "{}", run.describe());
    assert_eq!(summary(Path::new(&sum))["records"], 5020);

    for (env, flag, what) in [
        (
            Some(("EGRESSWATCH_MAX_ROW_GROUP_ROWS", "1000")),
            None,
            "5000 rows",
        ),
        (
            None,
            Some(["--max-row-group-bytes", "512"]),
            "bytes uncompressed",
        ),
    ] {
        let mut a = args.clone();
        if let Some(f) = flag {
            a.splice(1..1, f);
        }
        let envs: Vec<(&str, &str)> = env.into_iter().collect();
        let run = memlimit::run(&a, &envs, None);
        assert!(run.exited_normally(), "{}", run.describe());
        assert_eq!(
            run.status.code(),
            Some(1),
            "a file failed: {}",
            run.describe()
        );
        let s = summary(Path::new(&sum));
        assert_eq!(s["records"], 20, "the text file is still read: {s}");
        assert_eq!(s["failed_files"], 1, "{s}");
        let e = &s["errors"][0];
        assert!(
            e["file"]
                .as_str()
                .unwrap()
                .ends_with("T1100Z_limits.log.parquet"),
            "{s}"
        );
        let msg = e["error"].as_str().unwrap();
        assert!(
            msg.contains("row group 0 declares") && msg.contains(what),
            "{msg}"
        );
    }
}
