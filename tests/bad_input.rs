//! Bad input never crashes and is never silently dropped: each case is a clear per-file error or
//! a counted skip with the file and line number.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::RecordBatch;
use bytes::Bytes;
use egresswatch::decode::{decode_input, DecodeError, DecodeOptions, FileStats, Input, Layout};
use egresswatch::schema::F;

const V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
const GOOD: &str =
    "2 123456789012 eni-0a 10.0.0.5 203.0.113.5 40000 443 6 10 840 1700000000 1700000060 ACCEPT OK";

fn decode(
    data: Vec<u8>,
    opts: &DecodeOptions,
) -> (FileStats, Vec<RecordBatch>, Result<(), DecodeError>) {
    let input = Input::Memory {
        name: "mem.log".into(),
        data: Bytes::from(data),
    };
    let mut stats = FileStats::new(opts);
    let mut batches = Vec::new();
    let r = decode_input(&input, opts, &mut stats, &mut |b| batches.push(b));
    (stats, batches, r)
}

fn gz(text: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_egresswatch"))
}

#[test]
fn malformed_lines_are_skipped_and_counted_with_line_numbers() {
    let mut text = format!("{V2}\n{GOOD}\n").into_bytes();
    text.extend_from_slice(b"2 123456789012 eni-0a 10.0.0.5 203.0.113.5 4x000 443 6 10 840 1700000000 1700000060 ACCEPT OK\n");
    text.extend_from_slice(
        b"2 123456789012 eni-0a 10.0.0.5 203.0.113.5 40000 443 6 10 840 1700000000\n",
    );
    text.extend_from_slice(b"2 123456789012 eni-0a 10.0.0.999 203.0.113.5 40000 443 6 10 840 1700000000 1700000060 ACCEPT OK\n");
    text.extend_from_slice(b"2 123456789012 eni-0a 10.0.0.5 203.0.113.5 40000 443 6 10 840 1700000000 1700000060 MAYBE OK\n");
    text.extend_from_slice(b"2 123456789012 eni-\xff\xfe 10.0.0.5 203.0.113.5 40000 443 6 10 840 1700000000 1700000060 ACCEPT OK\n");
    text.extend_from_slice(b"2 123456789012 eni-0a 10.0.0.5 203.0.113.5 70000 443 6 10 840 1700000000 1700000060 ACCEPT OK\n");
    text.extend_from_slice(format!("{GOOD}\n").as_bytes());
    let (stats, batches, r) = decode(text, &DecodeOptions::default());
    r.unwrap();
    assert_eq!(stats.records, 2);
    assert_eq!(stats.skipped, 6);
    let lines: Vec<u64> = stats.samples.iter().map(|s| s.line).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8]);
    assert!(
        stats.samples[0].reason.contains("srcport"),
        "{:?}",
        stats.samples[0]
    );
    assert!(stats.samples[1]
        .reason
        .contains("expected 14 fields, found 11"));
    assert!(stats.samples[2].reason.contains("srcaddr"));
    assert!(stats.samples[3].reason.contains("action"));
    assert!(stats.samples[4].reason.contains("UTF-8"));
    assert!(stats.samples[5].reason.contains("out of range"));
    assert!(stats.samples.iter().all(|s| s.file == "mem.log"));
    let line_col = batches[0]
        .column(egresswatch::schema::COL_LINE)
        .as_primitive::<arrow_array::types::UInt64Type>();
    assert_eq!(line_col.values().to_vec(), [2, 9]);
}

#[test]
fn huge_line_is_skipped_without_growing_memory_and_the_next_line_decodes() {
    let mut text = format!("{V2}\n").into_bytes();
    text.extend(std::iter::repeat_n(b'x', 200_000));
    text.extend_from_slice(format!("\n{GOOD}\n").as_bytes());
    let (stats, _, r) = decode(text, &DecodeOptions::default());
    r.unwrap();
    assert_eq!((stats.records, stats.skipped), (1, 1));
    assert!(
        stats.samples[0].reason.contains("200000 bytes"),
        "{:?}",
        stats.samples[0]
    );
    assert_eq!(stats.samples[0].line, 2);
}

#[test]
fn truncated_gzip_is_a_file_error_naming_the_file_after_delivering_what_it_read() {
    let mut text = format!("{V2}\n").into_bytes();
    for _ in 0..2000 {
        text.extend_from_slice(format!("{GOOD}\n").as_bytes());
    }
    let full = gz(&text);
    let cut = full[..full.len() / 2].to_vec();
    let (stats, batches, r) = decode(cut, &DecodeOptions::default());
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("mem.log") && e.contains("truncated or corrupt gzip"),
        "{e}"
    );
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert!(rows > 0 && rows as u64 == stats.records && rows < 2000);
}

#[test]
fn multi_member_gzip_and_crlf_and_blank_lines_decode_fully() {
    let mut data = gz(format!("{V2}\r\n{GOOD}\r\n").as_bytes());
    data.extend(gz(format!("\n{GOOD}\n").as_bytes()));
    let (stats, _, r) = decode(data, &DecodeOptions::default());
    r.unwrap();
    assert_eq!((stats.records, stats.skipped), (2, 0));
}

#[test]
fn corrupt_parquet_is_a_clear_error_never_a_panic() {
    let sample = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "samples/flowlogs/AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60703_20261120T1100Z_9b3e6a2d.log.parquet",
    ))
    .unwrap();
    let mut cases: Vec<Vec<u8>> = vec![
        b"PAR1 this is not parquet at all".to_vec(),
        sample[..sample.len() / 2].to_vec(),
        sample[..sample.len() - 3].to_vec(),
    ];
    // Garble bytes throughout the body (the footer stays valid, pages are corrupt).
    for step in [7usize, 13, 101] {
        let mut g = sample.clone();
        let end = g.len() - 300;
        for i in (8..end).step_by(step) {
            g[i] ^= 0x5a;
        }
        cases.push(g);
    }
    for (i, data) in cases.into_iter().enumerate() {
        let (_, _, r) = decode(data, &DecodeOptions::default());
        match r {
            Err(e) => assert!(e.to_string().contains("mem.log"), "case {i}: {e}"),
            // Truncated or non-Parquet bytes must be refused; garbled pages may decode rows.
            Ok(()) => assert!(i >= 3, "case {i} should have failed"),
        }
    }
}

#[test]
fn unknown_fields_are_kept_and_never_fatal() {
    let text = "version srcaddr future-field dstaddr another-new log-status\n2 10.0.0.1 abc 10.0.0.2 - OK\n2 10.0.0.1 - 10.0.0.2 q=1 NODATA\n"
        .to_string();
    let (stats, batches, r) = decode(text.into_bytes(), &DecodeOptions::default());
    r.unwrap();
    assert_eq!((stats.records, stats.nodata), (2, 1));
    let extra = batches[0]
        .column(egresswatch::schema::COL_EXTRA)
        .as_string::<i32>();
    assert_eq!(extra.value(0), "future-field=abc");
    assert_eq!(extra.value(1), "another-new=q=1");
}

#[test]
fn repeated_and_changing_headers_and_explicit_fields() {
    let text =
        format!("{V2}\n{GOOD}\n{V2}\n{GOOD}\nsrcaddr dstaddr action\n10.0.0.1 10.0.0.2 REJECT\n");
    let (stats, batches, r) = decode(text.into_bytes(), &DecodeOptions::default());
    r.unwrap();
    assert_eq!((stats.records, stats.skipped, stats.headers), (3, 0, 3));
    assert_eq!(batches.len(), 2);

    // No header: the default v2 layout, or the one named with --fields.
    let (stats, _, _) = decode(
        b"10.0.0.1 10.0.0.2 REJECT\n".to_vec(),
        &DecodeOptions::default(),
    );
    assert_eq!((stats.records, stats.skipped), (0, 1));
    assert!(stats.samples[0].reason.contains("--fields"));
    let opts = DecodeOptions {
        fields: Some(Layout::parse_spec("${srcaddr} ${dstaddr} ${action}").unwrap()),
        ..Default::default()
    };
    let (stats, batches, _) = decode(b"10.0.0.1 10.0.0.2 REJECT\n".to_vec(), &opts);
    assert_eq!((stats.records, stats.skipped), (1, 0));
    let action = batches[0]
        .column(F::Action.index())
        .as_primitive::<arrow_array::types::UInt8Type>();
    assert_eq!(action.value(0), egresswatch::schema::ACTION_REJECT);
}

#[test]
fn empty_and_header_only_files_are_fine() {
    for data in [Vec::new(), format!("{V2}\n").into_bytes(), gz(b"")] {
        let (stats, batches, r) = decode(data, &DecodeOptions::default());
        r.unwrap();
        assert_eq!((stats.records, stats.skipped), (0, 0));
        assert!(batches.is_empty());
    }
}

#[test]
fn cli_reports_a_failed_file_continues_with_the_others_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.log");
    std::fs::write(&good, format!("{V2}\n{GOOD}\n")).unwrap();
    let bad = dir.path().join("bad.log.gz");
    let full = gz(format!("{V2}\n{GOOD}\n{GOOD}\n").as_bytes());
    std::fs::write(&bad, &full[..full.len() - 12]).unwrap();
    let summary = dir.path().join("s.json");
    let out = bin()
        .args(["scan", "--summary-json"])
        .arg(&summary)
        .arg(dir.path())
        .arg(dir.path().join("missing.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.log.gz") && stderr.contains("missing.log"),
        "{stderr}"
    );
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(s["failed_files"], 2);
    assert_eq!(s["files"], 3);
    assert!(s["records"].as_u64().unwrap() >= 1);
}

#[test]
fn cli_rejects_a_malformed_inventory_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("enis.json"),
        "{\"NetworkInterfaces\": [ {\"NetworkInterfaceId\": ",
    )
    .unwrap();
    let log = dir.path().join("x.log");
    std::fs::write(&log, format!("{V2}\n{GOOD}\n")).unwrap();
    let out = bin()
        .args(["scan", "--inventory"])
        .arg(dir.path())
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("enis.json") && stderr.contains("malformed JSON"),
        "{stderr}"
    );

    // Right JSON, wrong shape.
    std::fs::write(
        dir.path().join("enis.json"),
        "{\"NetworkInterfaces\": {\"oops\": 1}}",
    )
    .unwrap();
    let out = bin()
        .args(["scan", "--inventory"])
        .arg(dir.path())
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("describe-network-interfaces"));

    // Nothing recognisable at all.
    std::fs::write(dir.path().join("enis.json"), "{\"hello\": 1}").unwrap();
    let out = bin()
        .args(["scan", "--inventory"])
        .arg(dir.path())
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no recognised"));
}

#[test]
fn cli_rejects_invalid_rules_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mine.toml");
    std::fs::write(&rules, "schema = 1\npack = \"p\"\nversion = \"1\"\n[[rule]]\nid = \"X\"\ncategory = \"c\"\nseverity = \"low\"\ntitle = \"t\"\ncontrol = \"c\"\n[rule.match]\ndirection = [\"sideways\"]\n").unwrap();
    let out = bin().args(["rules", "check"]).arg(&rules).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mine.toml") && stderr.contains("line 11") && stderr.contains("sideways"),
        "{stderr}"
    );
}

/// Parquet values that cannot be read are counted skips naming the row and column; the other
/// rows of the batch decode, whatever the column's encoding (dictionary or plain, int32 or
/// int64, numbers stored as strings).
#[test]
fn unreadable_parquet_values_are_counted_skips_with_row_and_column() {
    use arrow_array::{ArrayRef, Int32Array, Int64Array, StringArray};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;
    let n = 40usize;
    let addr = |i: usize| match i {
        3 => "10.0.0.999".to_string(),
        4 => "-".to_string(),
        _ => format!("10.0.0.{}", i % 7),
    };
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "interface_id",
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("eni-{}", i % 3)),
            )),
        ),
        (
            "srcaddr",
            Arc::new(StringArray::from_iter_values((0..n).map(addr))),
        ),
        (
            "dstport",
            Arc::new(Int32Array::from_iter_values((0..n).map(|i| {
                if i == 7 {
                    70000
                } else {
                    443
                }
            }))),
        ),
        (
            "protocol",
            Arc::new(Int64Array::from_iter_values((0..n).map(|i| {
                if i == 9 {
                    -1
                } else {
                    6
                }
            }))),
        ),
        (
            "srcport",
            Arc::new(StringArray::from_iter_values((0..n).map(|i| {
                if i == 11 {
                    "x".to_string()
                } else {
                    "40000".to_string()
                }
            }))),
        ),
        (
            "action",
            Arc::new(StringArray::from_iter_values((0..n).map(|i| {
                if i == 13 {
                    "MAYBE"
                } else {
                    "ACCEPT"
                }
            }))),
        ),
        (
            "log_status",
            Arc::new(StringArray::from_iter_values((0..n).map(|i| {
                if i == 5 {
                    "NODATA"
                } else {
                    "OK"
                }
            }))),
        ),
    ];
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch =
        RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    for dictionary in [true, false] {
        let props = parquet::file::properties::WriterProperties::builder()
            .set_dictionary_enabled(dictionary)
            .build();
        let mut out = Vec::new();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(&mut out, schema.clone(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let (stats, batches, r) = decode(
            out,
            &DecodeOptions {
                batch_size: 16,
                ..Default::default()
            },
        );
        r.unwrap();
        let skipped: Vec<(u64, String)> = stats
            .samples
            .iter()
            .map(|s| (s.line, s.reason.clone()))
            .collect();
        assert_eq!(
            skipped.iter().map(|s| s.0).collect::<Vec<_>>(),
            [4, 8, 10, 12, 14],
            "dictionary {dictionary}: {skipped:?}"
        );
        assert!(
            skipped[0].1.contains("srcaddr") && skipped[1].1.contains("dstport"),
            "{skipped:?}"
        );
        assert!(
            skipped[2].1.contains("protocol") && skipped[3].1.contains("srcport"),
            "{skipped:?}"
        );
        assert_eq!(
            (stats.records, stats.skipped, stats.nodata),
            (n as u64 - 5, 5, 1)
        );
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, n - 5);
        // `-` is null, as in text logs; rows keep their 1-based numbers.
        let all: Vec<(u64, bool)> = batches
            .iter()
            .flat_map(|b| {
                let line = b
                    .column(egresswatch::schema::COL_LINE)
                    .as_primitive::<arrow_array::types::UInt64Type>()
                    .clone();
                let src = b.column(F::SrcAddr.index()).clone();
                (0..b.num_rows())
                    .map(move |i| (line.value(i), src.is_null(i)))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(all.contains(&(5, true)) && all.contains(&(1, false)));
        assert!(!all.iter().any(|&(l, _)| [4, 8, 10, 12, 14].contains(&l)));
    }
}
