//! Deterministic benchmark corpus: `cargo run --release --example gen_bench_corpus -- --records N
//! --out DIR [--threads T] [--seed S]`.
//!
//! Writes, for one account (111122223333, us-east-1) with three VPCs and ~300 ENIs:
//! - `inventory/`: AWS-CLI-shaped `ec2 describe-*`, `sagemaker describe-*` and `ip-ranges.json`;
//! - `v2/`, `v5/`, `parquet/`: the same N records as default-format text, as a custom v5 text
//!   layout and as Parquet with AWS's schema, one object per VPC flow log and 5 minutes, under
//!   AWS's key layouts (daily; Hive-compatible for Parquet);
//! - `expected.tsv`: the distinct (ENI, destination) pairs egresswatch's `internet-egress` rule
//!   must report (SageMaker ENIs, accepted initiated egress to public non-AWS addresses through
//!   their subnet's NAT route), taken from the intent each record was generated with;
//! - `sagemaker-enis.tsv`: the attribution the peer engines are given precomputed (ENI, address,
//!   VPC, subnet, default route, resource);
//! - `corpus.json`: counts, sizes and the mix of record intents.
//!
//! Memory is bounded: each writer thread holds one object at a time. Output is byte-identical for
//! any thread count (every object has its own RNG stream).

mod inventory;
mod ranges;
mod rng;
mod traffic;
mod world;
mod write;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rng::Rng;
use traffic::Tag;
use world::{World, ACCT, REGION};

/// Bump when the corpus changes, so scripts/bench.sh regenerates stale corpora.
const GENERATOR_VERSION: &str = "gen_bench_corpus/5";
const DEFAULT_SEED: u64 = 0x2545_f491_4f6c_dd1d;
/// 2026-11-20T09:00:00Z.
const T_START: i64 = 1_795_165_200;

/// (year, month, day, hour, minute, second) of a Unix time (UTC).
pub fn civil(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
    )
}

struct Plan {
    index: usize,
    vpc: usize,
    t0: i64,
    records: usize,
}

/// What the objects written so far add up to; one per thread, merged at the end (keeping
/// anything per object would pin the heap between the per-object buffers).
#[derive(Default)]
struct Totals {
    objects: usize,
    bytes: [u64; 3],
    raw: [u64; 2],
    tags: [u64; traffic::TAGS.len()],
    expected: BTreeSet<(u16, u32)>,
}

fn add_into<const N: usize>(to: &mut [u64; N], from: [u64; N]) {
    for (t, n) in to.iter_mut().zip(from) {
        *t += n;
    }
}

impl Totals {
    fn add(&mut self, o: Totals) {
        self.objects += o.objects;
        add_into(&mut self.bytes, o.bytes);
        add_into(&mut self.raw, o.raw);
        add_into(&mut self.tags, o.tags);
        self.expected.extend(o.expected);
    }
}

fn object_paths(out: &Path, w: &World, p: &Plan, seed: u64) -> [PathBuf; 3] {
    let (y, mo, d, h, mi, _) = civil(p.t0);
    let stamp = format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}Z");
    let mut r = Rng::new(seed ^ 0x000b_1ec7, p.index as u64);
    let mut name = |fmt: usize, ext: &str| {
        format!(
            "{ACCT}_vpcflowlogs_{REGION}_{}_{stamp}_{:08x}.{ext}",
            w.vpcs[p.vpc].flow_logs[fmt],
            r.next() as u32
        )
    };
    let day = format!("{y:04}/{mo:02}/{d:02}");
    let hive = format!(
        "aws-account-id={ACCT}/aws-service=vpcflowlogs/aws-region={REGION}/year={y:04}/month={mo:02}/day={d:02}"
    );
    [
        out.join(format!("v2/AWSLogs/{ACCT}/vpcflowlogs/{REGION}/{day}"))
            .join(name(0, "log.gz")),
        out.join(format!("v5/AWSLogs/{ACCT}/vpcflowlogs/{REGION}/{day}"))
            .join(name(1, "log.gz")),
        out.join(format!("parquet/AWSLogs/{hive}"))
            .join(name(2, "log.parquet")),
    ]
}

/// Per-thread buffers reused from object to object: allocating a fresh set of multi-megabyte
/// buffers per object makes glibc's heap grow with the corpus (freed, but never returned).
#[derive(Default)]
struct Scratch {
    recs: Vec<traffic::Rec>,
    text: Vec<u8>,
}

/// What every object is made from, shared read-only by the writer threads.
struct Ctx<'a> {
    out: &'a Path,
    w: &'a World,
    plans: &'a [traffic::VpcPlan],
    texts: &'a [write::EniText],
    seed: u64,
}

fn run_object(
    ctx: &Ctx<'_>,
    p: &Plan,
    scratch: &mut Scratch,
    totals: &mut Totals,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let Ctx {
        out,
        w,
        plans,
        texts,
        seed,
    } = *ctx;
    let recs = traffic::object(
        w,
        &plans[p.vpc],
        Rng::new(seed, p.index as u64),
        p.t0,
        p.records,
        std::mem::take(&mut scratch.recs),
    );
    if recs.len() != p.records {
        return Err(format!("generated {} records, planned {}", recs.len(), p.records).into());
    }
    for r in &recs {
        totals.tags[r.tag as usize] += 1;
        if r.tag == Tag::SmInternet {
            totals.expected.insert((r.eni, r.pdst));
        }
    }
    let paths = object_paths(out, w, p, seed);
    for path in &paths {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
    }
    let buf = &mut scratch.text;
    let (b2, r2) = write::write_text(
        &paths[0],
        write::V2_HEADER,
        &recs,
        texts,
        write::v2_line,
        buf,
    )?;
    let (b5, r5) = write::write_text(
        &paths[1],
        write::V5_HEADER,
        &recs,
        texts,
        write::v5_line,
        buf,
    )?;
    let bp = write::write_parquet(&paths[2], &recs, texts)?;
    totals.objects += 1;
    add_into(&mut totals.bytes, [b2, b5, bp]);
    add_into(&mut totals.raw, [r2, r5]);
    scratch.recs = recs;
    Ok(())
}

fn ip(a: u32) -> String {
    let b = a.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().collect();
    let mut records: u64 = 5_000_000;
    let mut out = PathBuf::from("target/bench-corpus");
    let mut seed = DEFAULT_SEED;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut i = 1;
    while i < args.len() {
        let val = || args.get(i + 1).ok_or(format!("{} needs a value", args[i]));
        match args[i].as_str() {
            "--records" => records = val()?.parse()?,
            "--out" => out = val()?.into(),
            "--seed" => seed = val()?.parse()?,
            "--threads" => threads = val()?.parse::<usize>()?.max(1),
            "--version" => {
                println!("{GENERATOR_VERSION}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
        i += 2;
    }
    let started = std::time::Instant::now();

    // The objects: every 5 minutes, one per VPC flow log, until N records.
    let volumes = world::volumes();
    let mut objects = Vec::new();
    let mut left = records;
    let mut interval = 0i64;
    while left > 0 {
        for (vpc, &v) in volumes.iter().enumerate() {
            let n = v.min(left);
            if n == 0 {
                break;
            }
            objects.push(Plan {
                index: objects.len(),
                vpc,
                t0: T_START + interval * 300,
                records: n as usize,
            });
            left -= n;
        }
        interval += 1;
    }
    let t_end = T_START + interval * 300;

    // A stale corpus must not leak into this one.
    for sub in ["v2", "v5", "parquet", "inventory"] {
        let d = out.join(sub);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
    }
    for f in ["expected.tsv", "sagemaker-enis.tsv", "corpus.json"] {
        let _ = std::fs::remove_file(out.join(f));
    }
    std::fs::create_dir_all(&out)?;

    let w = world::build(seed, T_START, t_end);
    let inv = inventory::write_all(&out.join("inventory"), &w, seed)?;
    let plans = traffic::plans(&w);
    let texts = write::eni_texts(&w);

    let ctx = Ctx {
        out: &out,
        w: &w,
        plans: &plans,
        texts: &texts,
        seed,
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Totals> = Mutex::new(Totals::default());
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.min(objects.len().max(1)) {
            s.spawn(|| {
                let mut scratch = Scratch::default();
                let mut totals = Totals::default();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = objects.get(k) else { break };
                    if let Err(e) = run_object(&ctx, p, &mut scratch, &mut totals) {
                        *failure.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some(format!("object {}: {e}", p.index));
                        next.store(objects.len(), Ordering::Relaxed);
                        break;
                    }
                }
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .add(totals);
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or(None) {
        return Err(e.into());
    }
    let totals = results.into_inner().unwrap_or_default();
    let (tags, bytes, raw) = (totals.tags, totals.bytes, totals.raw);
    let expected: BTreeSet<(String, String)> = totals
        .expected
        .iter()
        .map(|&(e, d)| (w.enis[e as usize].id.clone(), ip(d)))
        .collect();
    let mut f = std::io::BufWriter::new(std::fs::File::create(out.join("expected.tsv"))?);
    for (eni, dst) in &expected {
        writeln!(f, "{eni}\t{dst}")?;
    }
    f.flush()?;

    // The join table the peers use: one row per SageMaker ENI address.
    let mut f = std::io::BufWriter::new(std::fs::File::create(out.join("sagemaker-enis.tsv"))?);
    writeln!(
        f,
        "eni\tip\tvpc_id\tsubnet_id\troute\tkind\tname\tnetwork_isolation"
    )?;
    let mut sagemaker_enis = 0;
    for (e, eni) in w.enis.iter().enumerate() {
        let world::Role::Sm { res, .. } = eni.role else {
            continue;
        };
        sagemaker_enis += 1;
        let r = &w.resources[res];
        let name = match r.kind {
            world::ResKind::BatchModel => inventory::model_name(r),
            _ => r.name.clone(),
        };
        for a in std::iter::once(eni.ip).chain(eni.secondary.iter().copied()) {
            writeln!(
                f,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                eni.id,
                ip(a),
                w.vpcs[w.vpc_of(e)].id,
                w.subnets[eni.subnet].id,
                w.route_name(e),
                r.kind.label(),
                name,
                r.isolation
            )?;
        }
    }
    f.flush()?;

    let tag = |t: Tag| tags[t as usize];
    let matching =
        tag(Tag::SmInternet) + tag(Tag::SmReject) + tag(Tag::SmBypass) + tag(Tag::SmCrossRegion);
    let manifest = serde_json::json!({
        "generator": GENERATOR_VERSION,
        "seed": seed,
        "records": records,
        "objects": {"v2": totals.objects, "v5": totals.objects, "parquet": totals.objects},
        "bytes": {"v2_gz": bytes[0], "v5_gz": bytes[1], "parquet": bytes[2], "v2_raw": raw[0], "v5_raw": raw[1]},
        "start": T_START,
        "end": t_end,
        "enis": w.enis.len(),
        "sagemaker_enis": sagemaker_enis,
        "resources": w.resources.len(),
        "inventory_files": inv.files,
        "ip_ranges": {"ipv4": inv.ipv4_prefixes, "ipv6": inv.ipv6_prefixes},
        "expected_pairs": expected.len(),
        "intended_rule_matching_records": matching,
        "intended_rule_matching_fraction": matching as f64 / records.max(1) as f64,
        "records_by_intent": traffic::TAGS.iter().map(|(n, t)| (n.to_string(), serde_json::json!(tag(*t)))).collect::<serde_json::Map<_, _>>(),
        "generation_seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "threads": threads,
    });
    std::fs::write(
        out.join("corpus.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    eprintln!(
        "{records} records in {} objects per format under {} ({} ENIs, {} SageMaker; {} expected pairs; {:.2}% intended rule matches) in {:.1}s",
        totals.objects,
        out.display(),
        w.enis.len(),
        sagemaker_enis,
        expected.len(),
        100.0 * matching as f64 / records.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
