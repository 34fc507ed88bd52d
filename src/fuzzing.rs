//! Fuzz invariants, one `pub fn <target>(data: &[u8])` per cargo-fuzz target in `fuzz/`.
//!
//! They live in the library (not in the fuzz crate) so that `tests/fuzz_corpus.rs` replays the
//! committed corpora and every crash input on stable, in the normal test suite. Each function
//! feeds the bytes to the real parser through the API the program uses and panics only when an
//! invariant is broken: a clean `Err`, a counted skip or an ignored message is a pass.
//!
//! Not part of the public API (hidden from the docs); nothing in the program calls it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use arrow_array::{Array, ArrayRef, RecordBatch};
use bytes::Bytes;

use crate::decode::{self, DecodeOptions, FileStats, Input, Layout};
use crate::detect::rules::{CompiledRules, RuleSet, Scope};
use crate::detect::Finding;
use crate::enrich::Model;
use crate::inventory::files::Inventory;
use crate::schema::F;

/// Headers the first byte of a `text_differential` input can put in front of its body: the
/// default v2 format, v3/v5 orders seen in the wild, every field, and one with an unknown
/// field (always the reference path).
const HEADERS: &[&str] = &[
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
    "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status",
    "account-id action az-id bytes dstaddr dstport end flow-direction instance-id interface-id log-status packets pkt-dst-aws-service pkt-dstaddr pkt-src-aws-service pkt-srcaddr protocol region srcaddr srcport start sublocation-id sublocation-type subnet-id tcp-flags traffic-path type version vpc-id",
    "srcaddr dstaddr bytes",
    "interface-id srcaddr dstaddr dstport protocol bytes start end action future-field log-status",
    "flow-direction traffic-path srcaddr dstaddr ecs-cluster-name reject-reason",
];

/// The same field orders for `--fields` (header-less text).
const FIELD_SPECS: &[&str] = &[
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
    "srcaddr dstaddr srcport dstport protocol bytes",
    "flow-direction traffic-path pkt-srcaddr pkt-dstaddr tcp-flags type",
];

const BATCH_SIZES: [usize; 8] = [1, 2, 3, 5, 8, 17, 64, 8192];

fn decode_all(data: &Bytes, opts: &DecodeOptions) -> (FileStats, Vec<RecordBatch>, bool) {
    let mut stats = FileStats::new(opts);
    let mut batches = Vec::new();
    let ok = decode::decode_input(
        &Input::Memory {
            name: "fuzz".into(),
            data: data.clone(),
        },
        opts,
        &mut stats,
        &mut |b| batches.push(b),
    )
    .is_ok();
    (stats, batches, ok)
}

/// A column with dictionaries expanded, so two paths that built their dictionaries in another
/// order still compare equal when their values are.
fn logical(a: &ArrayRef) -> ArrayRef {
    if let arrow_schema::DataType::Dictionary(_, value_type) = a.data_type() {
        if let Ok(plain) = arrow_select::take::take(
            a.as_any_dictionary().values(),
            a.as_any_dictionary().keys(),
            None,
        ) {
            debug_assert_eq!(plain.data_type(), value_type.as_ref());
            return plain;
        }
    }
    a.clone()
}

/// Every batch's rows, column by column, as plain arrays.
fn rows(batches: &[RecordBatch]) -> Vec<Vec<ArrayRef>> {
    batches
        .iter()
        .map(|b| b.columns().iter().map(logical).collect())
        .collect()
}

use arrow_array::cast::AsArray as _;

/// Text decoder, fast path against reference path on the same bytes: the same batches (rows,
/// values, line numbers), the same counters and the same skip samples (reasons and lines).
///
/// Byte 0 chooses the layout source (a header line in front, `--fields`, or the bytes alone),
/// byte 1 the batch size, projection and line limit; the rest is the object.
pub fn text_differential(data: &[u8]) {
    let (cfg, body) = match data {
        [a, b, rest @ ..] => ((*a, *b), rest),
        _ => return,
    };
    let mut text = Vec::with_capacity(body.len() + 400);
    let mut opts = DecodeOptions {
        batch_size: BATCH_SIZES[(cfg.1 & 7) as usize],
        max_skip_samples: 1000,
        max_skip_warnings: 0,
        ..DecodeOptions::default()
    };
    match cfg.0 % 4 {
        0 => {}
        1 | 2 => {
            text.extend_from_slice(HEADERS[(cfg.0 as usize / 4) % HEADERS.len()].as_bytes());
            text.extend_from_slice(if cfg.0 % 4 == 1 { b"\n" } else { b"\r\n" });
        }
        _ => {
            let spec = FIELD_SPECS[(cfg.0 as usize / 4) % FIELD_SPECS.len()];
            opts.fields = Layout::parse_spec(spec).ok();
        }
    }
    text.extend_from_slice(body);
    if cfg.1 & 8 != 0 {
        opts.projection = Some(vec![
            F::SrcAddr,
            F::DstAddr,
            F::Bytes,
            F::Action,
            F::DstPort,
        ]);
    }
    if cfg.1 & 16 != 0 {
        opts.max_line_len = 40 + usize::from(cfg.1 >> 5) * 16;
    }
    let text = Bytes::from(text);
    let (fs, fb, f_ok) = decode_all(&text, &opts);
    let reference = DecodeOptions {
        reference_only: true,
        ..opts.clone()
    };
    let (rs, rb, r_ok) = decode_all(&text, &reference);
    assert_eq!(f_ok, r_ok, "one path failed, the other did not");
    assert_eq!(
        (fs.records, fs.nodata, fs.skipdata, fs.skipped, fs.headers),
        (rs.records, rs.nodata, rs.skipdata, rs.skipped, rs.headers),
        "counters differ (fast, reference)"
    );
    assert_eq!(fs.samples, rs.samples, "skip samples differ");
    assert!(
        fb.iter().all(|b| b.num_rows() <= opts.batch_size),
        "a batch is larger than batch_size"
    );
    let rows_of = |bs: &[RecordBatch]| bs.iter().map(|b| b.num_rows()).sum::<usize>();
    assert_eq!(rows_of(&fb), rows_of(&rb), "row counts differ");
    // Same batches: both paths cut batches at the same rows, so batch by batch they are equal.
    assert_eq!(rows(&fb), rows(&rb), "batches differ");
    let data_rows = rows_of(&fb) as u64;
    assert!(
        data_rows <= fs.records,
        "more rows than records ({data_rows} > {})",
        fs.records
    );
}

/// The Parquet reader (plain flow-log columns, or OCSF from Security Lake) on arbitrary bytes:
/// an error is an error, never a panic; batches are never larger than the batch size and all
/// have the canonical schema.
pub fn parquet(data: &[u8]) {
    let (cfg, body) = match data {
        [a, rest @ ..] => (*a, rest),
        _ => return,
    };
    let opts = DecodeOptions {
        batch_size: BATCH_SIZES[(cfg & 7) as usize],
        projection: (cfg & 8 != 0).then(|| vec![F::SrcAddr, F::DstAddr, F::Bytes, F::Start]),
        max_skip_warnings: 0,
        ..DecodeOptions::default()
    };
    let mut stats = FileStats::new(&opts);
    let schema = crate::schema::canonical();
    let mut bad = None;
    let _ = decode::parquet::decode(
        Bytes::copy_from_slice(body),
        "fuzz.parquet",
        &opts,
        &mut stats,
        &mut |b| {
            if b.num_rows() > opts.batch_size || b.schema().fields() != schema.fields() {
                bad = Some((b.num_rows(), b.schema()));
            }
        },
    );
    assert!(bad.is_none(), "batch breaks the contract: {bad:?}");
}

/// SQS bodies (direct S3 notifications, SNS-wrapped, EventBridge, Security Lake, history
/// events) and Lambda events (SQS batches, direct S3, CloudWatch Logs subscriptions, Kinesis).
/// A CloudWatch Logs payload that yields an input is decoded too.
pub fn notification(data: &[u8]) {
    let body = String::from_utf8_lossy(data);
    if let Ok(crate::source::notification::Parsed::Objects(objs)) =
        crate::source::notification::parse_body(&body)
    {
        for o in &objs {
            assert!(!o.bucket.is_empty(), "object without a bucket: {o:?}");
        }
    }
    let _ = crate::source::events::parse(&body);
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
        return;
    };
    let _ = crate::source::securitylake::parse_notification(&v);
    if let Ok(crate::source::notification::LambdaEvent::Sqs(records)) =
        crate::source::notification::parse_lambda_event(&v)
    {
        for r in records {
            let _ = crate::source::notification::parse_body(&r.body);
            let _ = crate::source::events::parse(&r.body);
        }
    }
    if let Some(ev) = crate::source::cwlogs::parse_lambda_event(&v) {
        for (_, unit) in ev.units {
            if let Ok(Some(input)) = unit {
                let opts = DecodeOptions {
                    max_skip_warnings: 0,
                    ..DecodeOptions::default()
                };
                let mut stats = FileStats::new(&opts);
                let _ = decode::decode_input(&input, &opts, &mut stats, &mut |_| {});
            }
        }
    }
}

/// The network model of an empty account and the built-in rules compiled for it: what the state
/// targets need to emit findings.
fn empty_world() -> &'static (Model, CompiledRules) {
    static W: OnceLock<(Model, CompiledRules)> = OnceLock::new();
    W.get_or_init(|| {
        let model = Model::build(&Inventory::default(), None);
        let rules = CompiledRules::compile(&RuleSet::builtin(), &model, Scope::Sagemaker);
        (model, rules)
    })
}

/// Inventory JSON (AWS CLI describe-* output, recognised by keys): a clear error or an
/// inventory, and the network model builds from whatever was accepted.
///
/// The input is one or more documents separated by a 0 byte, as files of one inventory folder.
pub fn inventory(data: &[u8]) {
    let mut inv = Inventory::default();
    for (i, doc) in data.split(|&b| b == 0).enumerate().take(8) {
        let text = String::from_utf8_lossy(doc);
        let _ = inv.add_json(&format!("fuzz/{i}.json"), &text);
    }
    let _ = Model::build(&inv, Some("us-east-1"));
}

/// CloudTrail record files (gzip or not) and EventBridge CloudTrail events: no panic, each
/// event id at most once in the entries, entries merge into the ledger.
pub fn cloudtrail(data: &[u8]) {
    let mut reader = crate::inventory::cloudtrail::TrailReader::new();
    reader.read_file(
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/fuzz.json.gz",
        data,
    );
    // The same bytes again are all duplicates: nothing new may be learned, when every record
    // has an eventID (CloudTrail always writes one; records without cannot be told apart).
    let first = reader.entries.len();
    reader.read_file(
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/fuzz-again.json.gz",
        data,
    );
    if all_records_have_ids(data) {
        assert_eq!(
            reader.entries.len(),
            first,
            "the same records read twice gave new entries (dedupe by eventID broken)"
        );
    }
    reader.finish();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = crate::inventory::cloudtrail::event_time(&v);
        reader.event(&v, "eventbridge");
        if let (Some(dt), Some(detail)) = (
            v.get("detail-type").and_then(|d| d.as_str()),
            v.get("detail"),
        ) {
            let _ = crate::inventory::cloudtrail::state_change(dt, detail, "fuzz");
        }
    }
    let mut ledger = crate::inventory::ledger::Ledger::default();
    for e in std::mem::take(&mut reader.entries) {
        ledger.add(e);
    }
    let _ = ledger.alive_in_snapshots().count();
}

/// Whether `data` (gzip or not) is a trail file whose records all have a non-empty eventID.
fn all_records_have_ids(data: &[u8]) -> bool {
    use std::io::Read;
    let mut plain = Vec::new();
    let text: &[u8] = if data.starts_with(&[0x1f, 0x8b]) {
        if flate2::read::MultiGzDecoder::new(data)
            .read_to_end(&mut plain)
            .is_err()
        {
            return false;
        }
        &plain
    } else {
        data
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(text) else {
        return false;
    };
    v.get("Records")
        .and_then(|r| r.as_array())
        .is_some_and(|rs| {
            rs.iter().all(|r| {
                r.get("eventID")
                    .and_then(|i| i.as_str())
                    .is_some_and(|i| !i.is_empty())
            })
        })
}

/// Rule packs, routing TOML and fields maps: a clear error or a config that validates,
/// compiles and (for rules) round-trips through the compiler.
///
/// Byte 0 chooses: rule pack (added after the built-in one, or alone), routing, fields map.
pub fn rules_toml(data: &[u8]) {
    let (cfg, body) = match data {
        [a, rest @ ..] => (*a, rest),
        _ => return,
    };
    let text = String::from_utf8_lossy(body);
    match cfg % 4 {
        0 | 1 => {
            let mut set = if cfg % 4 == 0 {
                RuleSet::default()
            } else {
                RuleSet::builtin()
            };
            if set.add_text("fuzz.toml", &text).is_ok() {
                let (model, _) = empty_world();
                let _ = CompiledRules::compile(&set, model, Scope::Sagemaker);
                let _ = CompiledRules::compile(&set, model, Scope::All);
                let _ = set.baseline.validate();
            }
        }
        2 => {
            if let Ok(cfg) = crate::deliver::config::RouteConfig::parse(&text) {
                for s in &cfg.suppressions {
                    let _ = crate::deliver::route::Suppressor::new(s);
                }
            }
        }
        _ => {
            let _ = crate::decode::cwlogs::FieldSources::from_toml(&text, "fuzz.toml");
        }
    }
}

/// A fresh empty folder for one run, on tmpfs when there is one (the spool fsyncs every push).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicU64 = AtomicU64::new(0);
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "egresswatch-fuzz-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("scratch {}: {e}", dir.display()));
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample_finding(id: &str) -> Finding {
    static F: OnceLock<Finding> = OnceLock::new();
    let mut f = F
        .get_or_init(|| {
            let line = include_str!("../tests/golden/samples.jsonl")
                .lines()
                .next()
                .unwrap_or_default();
            serde_json::from_str(line).unwrap_or_else(|e| panic!("golden finding: {e}"))
        })
        .clone();
    f.id = id.to_string();
    f
}

/// The delivery spool after a crash. Records are pushed through the real API (acknowledged =
/// `push` returned `Ok`), some delivered (`ack`), then the disk is damaged the way a crash or a
/// bad copy can: bytes appended to the newest segment (a torn tail), a new segment holding the
/// bytes, or the bytes as the `acked` file. Reopening never panics, and every spooled record not
/// delivered before the damage is read back exactly once, in order, before anything else; a push
/// after the reopen is read back too.
///
/// Byte 0: records pushed (low 3 bits + 1), delivered (next 3 bits, at most pushed), damage
/// mode (top 2 bits). The rest is the damage.
pub fn spool(data: &[u8]) {
    use crate::deliver::spool::Spool;
    let (cfg, damage) = match data {
        [a, rest @ ..] => (*a, rest),
        _ => return,
    };
    let pushed = usize::from(cfg & 7) + 1;
    let delivered = usize::from((cfg >> 3) & 7).min(pushed);
    let mode = cfg >> 6;
    let scratch = Scratch::new("spool");
    let dir = scratch.0.join("sink");
    let max = 1 << 30;
    let ids: Vec<String> = (0..pushed).map(|i| format!("fuzz-{i}")).collect();
    let mut s = Spool::open(&dir, max).unwrap_or_else(|e| panic!("fresh spool: {e}"));
    // Two pushes, so a segment holds more than one write.
    let (a, b) = ids.split_at(pushed / 2);
    for part in [a, b] {
        let items: Vec<(u8, Finding)> = part.iter().map(|id| (1, sample_finding(id))).collect();
        s.push(&items)
            .unwrap_or_else(|e| panic!("push to a fresh spool: {e}"));
    }
    let head = s.peek(pushed).unwrap_or_else(|e| panic!("peek: {e}"));
    assert_eq!(head.len(), pushed);
    if delivered > 0 {
        s.ack(head[delivered - 1].seq)
            .unwrap_or_else(|e| panic!("ack: {e}"));
    }
    let next_seq = head[pushed - 1].seq + 1;
    drop(s);
    let newest_segment = || {
        std::fs::read_dir(&dir)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("seg-"))
            })
            .max()
    };
    let acked_damaged = match mode {
        0 => {
            // Torn tail: a crash in the middle of a write appends part of a line.
            if let Some(seg) = newest_segment() {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&seg)
                    .unwrap_or_else(|e| panic!("open segment: {e}"));
                f.write_all(damage)
                    .unwrap_or_else(|e| panic!("damage segment: {e}"));
            }
            false
        }
        1 => {
            // A crash after the segment for the next push was created.
            let seg = dir.join(format!("seg-{next_seq:020}.ndjson"));
            std::fs::write(&seg, damage).unwrap_or_else(|e| panic!("write segment: {e}"));
            false
        }
        _ => {
            std::fs::write(dir.join("acked"), damage).unwrap_or_else(|e| panic!("acked: {e}"));
            true
        }
    };
    let mut s = match Spool::open(&dir, max) {
        Ok(s) => s,
        // A loud error on open is allowed (nothing is lost: the files are still there).
        Err(_) => return,
    };
    let mut seen: Vec<crate::deliver::spool::Entry> = Vec::new();
    loop {
        let Ok(batch) = s.peek(16) else { return };
        let Some(last) = batch.last() else { break };
        let last = last.seq;
        seen.extend(batch);
        if s.ack(last).is_err() {
            return;
        }
        if seen.len() > 10_000 {
            break;
        }
    }
    let ours: Vec<&str> = seen
        .iter()
        // Ours by id and sequence number: damage bytes may hold whole entries of their own.
        .filter(|e| e.seq <= pushed as u64 && ids.contains(&e.finding.id))
        .map(|e| e.finding.id.as_str())
        .collect();
    let want: Vec<&str> = ids[delivered..].iter().map(String::as_str).collect();
    if acked_damaged {
        // The spool trusts a number in `acked` (a crash between writing it and deleting the
        // segments leaves exactly that); anything else reads as 0: delivered again (at least
        // once). Either way what it delivers is a suffix of what was spooled, each once, and
        // everything spooled after the larger of the two cursors.
        let n = std::str::from_utf8(damage)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let from = delivered.max(usize::try_from(n).unwrap_or(usize::MAX).min(pushed));
        let all: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert!(
            all.ends_with(&ours),
            "not a suffix of what was spooled: {ours:?}"
        );
        assert!(
            ours.ends_with(&all[from..]),
            "spooled records lost: {ours:?}"
        );
    } else {
        assert_eq!(ours, want, "spooled records lost or repeated");
        // They come first: damage after them never reorders the queue.
        let first: Vec<&str> = seen
            .iter()
            .take(want.len())
            .map(|e| e.finding.id.as_str())
            .collect();
        assert_eq!(first, want, "damage was delivered before spooled records");
    }
    for w in seen.windows(2) {
        assert!(w[0].seq < w[1].seq, "sequence numbers not increasing");
    }
    // The spool still accepts and returns new records.
    if s.push(&[(1, sample_finding("after"))]).is_ok() {
        let Ok(batch) = s.peek(16) else { return };
        assert!(
            batch.iter().any(|e| e.finding.id == "after"),
            "a record pushed after recovery is not read back: {:?}",
            batch.iter().map(|e| &e.finding.id).collect::<Vec<_>>()
        );
    }
}

/// One aggregate as a scan produces it, for the state targets and `examples/fuzz_seeds.rs`.
#[doc(hidden)]
pub fn seed_aggregate() -> (crate::detect::FindingKey, crate::detect::Agg) {
    let key = crate::detect::FindingKey {
        rule: 0,
        eni: "eni-0f00000000000b101".into(),
        dst: crate::net::ip::parse(b"203.0.113.50").unwrap_or_default(),
        window: 1_795_165_200,
    };
    let agg = serde_json::from_value(serde_json::json!({
        "first_seen": 1_795_165_260i64, "last_seen": 1_795_165_318i64, "flows": 2, "packets": 10,
        "bytes": 9_830_400, "attributed": 0, "ports": [[443, 2]], "evidence": [[0, 2], [0, 3]],
        "rep": {"start": 1_795_165_260i64, "file": 0, "line": 2, "src": 0, "path": 1, "proto": 6,
                "resource": u32::MAX, "svc": u16::MAX, "dst_region": u16::MAX, "conf": 0}
    }))
    .unwrap_or_else(|e| panic!("seed aggregate: {e}"));
    (key, agg)
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static R: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    R.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
    })
}

/// State recovery: arbitrary bytes as an on-disk file after a crash. Opening never panics; the
/// result is a clear error, a counted skip, or a fallback to the previous intact generation.
///
/// Byte 0 chooses the file: a snapshot generation newer than an intact one (load must fall back
/// to the intact one, byte for byte), the window state body, the baseline state body, an ENI
/// ledger segment, a replay checkpoint, the delivery throttle `state.json`.
pub fn state(data: &[u8]) {
    let (cfg, body) = match data {
        [a, rest @ ..] => (*a, rest),
        _ => return,
    };
    match cfg % 6 {
        0 => {
            use crate::state::snapshot::Snapshots;
            use crate::state::Store;
            let scratch = Scratch::new("snap");
            let Ok(store) = Store::local(&scratch.0) else {
                return;
            };
            let snaps = Snapshots::new(store, "baseline");
            let good = b"{\"intact\":true}".to_vec();
            runtime().block_on(async {
                let g = snaps
                    .commit(None, &good)
                    .await
                    .unwrap_or_else(|e| panic!("first commit: {e}"));
                // The crash (or a bad copy) leaves generation 2 holding the bytes.
                std::fs::write(
                    scratch
                        .0
                        .join("baseline")
                        .join(format!("{:020}.snap", g + 1)),
                    body,
                )
                .unwrap_or_else(|e| panic!("write generation: {e}"));
                match snaps.load().await {
                    Ok(Some(l)) if l.generation == g => assert_eq!(l.body, good),
                    // Only an intact envelope (right length and SHA-256) may win.
                    Ok(Some(l)) => assert_eq!(l.generation, g + 1),
                    Ok(None) => panic!("the intact generation was lost"),
                    Err(e) => panic!("load failed instead of falling back: {e}"),
                }
                // Recovery continues after the damaged generation, never into it.
                let next = snaps
                    .update(3, |_| Ok(b"{}".to_vec()))
                    .await
                    .unwrap_or_else(|e| panic!("update after damage: {e}"));
                assert_eq!(next, g + 2);
            });
        }
        1 => {
            use crate::state::windows::OpenWindows;
            if let Ok(mut w) = OpenWindows::from_json(body) {
                let again = OpenWindows::from_json(&w.to_json())
                    .unwrap_or_else(|e| panic!("window state does not round-trip: {e}"));
                assert_eq!(again.open_len(), w.open_len());
                assert_eq!(again.closed_len(), w.closed_len());
                let (model, rules) = empty_world();
                let _ = w.findings(rules, model);
                // The next object after the restart: its aggregate lands in a window the state
                // may already hold (the seeds' key), so persisted counters are merged.
                let (key, agg) = seed_aggregate();
                let absorbed = w.absorb("fuzz-object#1", [(key, agg)], &["fuzz.log".into()], 20);
                let _ = w.emit(&absorbed, rules, model);
                let _ = w.close(3600, 900);
                let _ = OpenWindows::from_json(&w.to_json()).unwrap_or_else(|e| {
                    panic!("window state after an object does not round-trip: {e}")
                });
            }
        }
        2 => {
            use crate::baseline::engine::{Engine, State};
            if let Ok(st) = serde_json::from_slice::<State>(body) {
                if let Ok(mut e) = Engine::new(crate::baseline::BaselineConfig::default(), Some(st))
                {
                    let (model, _) = empty_world();
                    let _ = e.advance(false, model);
                    let _ = e.advance(true, model);
                    let _ = serde_json::to_vec(&e.to_state());
                }
            }
        }
        3 => {
            let mut l = crate::inventory::ledger::Ledger::default();
            l.add_segment("fuzz.jsonl", &String::from_utf8_lossy(body));
            let _ = l.alive_in_snapshots().count();
            let inv = Inventory {
                history: l,
                ..Inventory::default()
            };
            let _ = Model::build(&inv, None);
        }
        4 => {
            // The identity is checked before anything else; a fuzzer cannot guess it, so the
            // checkpoint names it when it says `"identity":"fuzz"`.
            let (model, rules) = empty_world();
            let _ = crate::drivers::replay::resume_from_bytes(body, "fuzz", rules, model);
        }
        _ => {
            let scratch = Scratch::new("throttle");
            let path = scratch.0.join("state.json");
            std::fs::write(&path, body).unwrap_or_else(|e| panic!("write state.json: {e}"));
            let Ok(mut t) = crate::deliver::route::ThrottleState::load(&path) else {
                return;
            };
            let f = sample_finding("fuzz-0");
            let _ = t.decide(&f, 1_800_000_000, 3600);
            t.record(&f, 1_800_000_000);
            t.save(1_800_000_000, 86_400)
                .unwrap_or_else(|e| panic!("throttle state not saved: {e}"));
            let back = crate::deliver::route::ThrottleState::load(&path)
                .unwrap_or_else(|e| panic!("reload: {e}"));
            assert!(back.sent.contains_key("fuzz-0"), "recorded id lost");
        }
    }
}
