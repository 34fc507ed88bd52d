//! The scan pipeline: inputs are spread over worker threads; each worker streams its objects
//! through decode -> enrich -> detect with its own buffers and aggregates, and the aggregates are
//! merged once at the end. Nothing is shared in the hot path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::decode::{self, DecodeError, DecodeOptions, FileStats, Input, Skip};
use crate::detect::{self, CompiledRules, DetectOptions, Detector, Finding};
use crate::enrich::{EnrichConfig, Enricher, Model};
use crate::report::traffic::{Cell, CellKey, Traffic, TrafficAgg};
use crate::schema::F;

/// Fields the enricher and detector read: the projection of every scan (Parquet reads only
/// these columns; text stores only these and validates the rest).
pub const PROJECTION: &[F] = &[
    F::InterfaceId,
    F::SrcAddr,
    F::DstAddr,
    F::SrcPort,
    F::DstPort,
    F::Protocol,
    F::Packets,
    F::Bytes,
    F::Start,
    F::End,
    F::Action,
    F::LogStatus,
    F::TcpFlags,
    F::PktSrcAddr,
    F::PktDstAddr,
    F::Region,
    F::PktDstAwsService,
    F::FlowDirection,
    F::TrafficPath,
    F::EncryptionStatus,
    F::NextHopInterfaceType,
    // Flow-log context of ENIs no source knows (could they be SageMaker's?).
    F::SubnetId,
    F::InstanceId,
];

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub decode: DecodeOptions,
    pub detect: DetectOptions,
    pub threads: usize,
    /// The anomaly stage's observations: `None` off; `Some(skip)` on, except for inputs
    /// whose `skip[i]` is true (objects a persisted baseline already counted).
    pub baseline: Option<Vec<bool>>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            decode: DecodeOptions::default(),
            detect: DetectOptions::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            baseline: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct FileFailure {
    pub file: String,
    pub error: String,
}

/// The run's summary; `--summary-json` writes it as one object. Field names are a contract.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub files: u64,
    /// Data lines / rows decoded, NODATA and SKIPDATA included.
    pub records: u64,
    pub nodata: u64,
    pub skipdata: u64,
    /// Malformed lines or rows, skipped and counted.
    pub skipped: u64,
    pub failed_files: u64,
    pub findings: u64,
    pub rule_matches: u64,
    /// Records not tracked because a table reached its key limit (`EGRESSWATCH_MAX_KEYS` /
    /// `--max-keys`): rule aggregates, baseline cells, open windows. Each table warns once.
    pub over_limit: u64,
    pub bytes_read: u64,
    pub elapsed_ms: u64,
    pub errors: Vec<FileFailure>,
    pub skipped_samples: Vec<Skip>,
    /// Files that decoded without error to no record at all (every row skipped, or nothing in
    /// them), each warned with its name.
    pub empty_files: u64,
    /// Traffic of ENIs no source knows (README "Forensic replay of completed jobs").
    pub unattributed: Unattributed,
    /// Per unknown ENI, merged across workers and chunks; `unattributed` is derived from it.
    #[serde(skip)]
    pub unknown_enis: BTreeMap<String, UnknownAcc>,
    /// What reading CloudTrail and the ledger did (`--cloudtrail`, `--ledger`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<crate::inventory::history::HistoryReport>,
    /// What the behavioural baselines did (profiles, learning, anomalies), when they ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::baseline::BaselineSummary>,
}

/// Counters of one ENI no source knows.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct UnknownAcc {
    pub could_be_sagemaker: bool,
    pub subnet_id: Option<String>,
    pub records: u64,
    pub egress_records_nat_igw: u64,
    pub egress_bytes_nat_igw: u64,
}

impl UnknownAcc {
    pub fn merge(&mut self, o: &UnknownAcc) {
        self.could_be_sagemaker |= o.could_be_sagemaker;
        if self.subnet_id.is_none() {
            self.subnet_id.clone_from(&o.subnet_id);
        }
        self.records += o.records;
        self.egress_records_nat_igw += o.egress_records_nat_igw;
        self.egress_bytes_nat_igw += o.egress_bytes_nat_igw;
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UnattributedPart {
    pub enis: u64,
    pub records: u64,
    pub egress_bytes_nat_igw: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnattributedEni {
    pub eni: String,
    pub subnet_id: Option<String>,
    pub could_be_sagemaker: bool,
    pub records: u64,
    pub egress_bytes_nat_igw: u64,
}

/// `--summary-json` `unattributed`: ENIs unknown to the inventory, the ledger and CloudTrail.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Unattributed {
    pub enis: u64,
    pub records: u64,
    pub egress_bytes_nat_igw: u64,
    /// No instance id, in a subnet some SageMaker VpcConfig uses.
    pub could_be_sagemaker: UnattributedPart,
    pub other: UnattributedPart,
    /// The 10 with the most NAT/IGW egress bytes (then records).
    pub top: Vec<UnattributedEni>,
}

#[derive(Debug)]
pub struct ScanResult {
    pub findings: Vec<Finding>,
    pub summary: Summary,
    /// The anomaly stage's observations, when `ScanOptions::baseline` asked for them.
    pub baseline: Option<crate::baseline::Observations>,
}

/// Expands files and folders (recursively) into inputs, in a stable order. In folders only
/// flow-log-looking names are taken (`.gz`, `.log`, `.parquet`, `.txt`); files named explicitly
/// are always taken. A path that does not exist is reported as a failed input.
pub fn collect_inputs(paths: &[PathBuf]) -> (Vec<Input>, Vec<FileFailure>) {
    let mut inputs = Vec::new();
    let mut failures = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            if let Err(e) = walk(p, &mut found) {
                failures.push(FileFailure {
                    file: p.display().to_string(),
                    error: format!("cannot list folder: {e}"),
                });
            }
            found.sort();
            inputs.extend(found.into_iter().map(Input::Path));
        } else if p.exists() {
            inputs.push(Input::Path(p.clone()));
        } else {
            failures.push(FileFailure {
                file: p.display().to_string(),
                error: "no such file or folder".into(),
            });
        }
    }
    (inputs, failures)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if [".gz", ".log", ".parquet", ".txt"]
                .iter()
                .any(|x| name.ends_with(x))
                // Firehose names its objects `<stream>-<version>-<time>-<id>`, no extension.
                || crate::decode::cwlogs::firehose_stream_name(name).is_some()
            {
                out.push(path);
            } else {
                tracing::debug!(file = %path.display(), "not a flow-log file name; skipped while walking the folder");
            }
        }
    }
    Ok(())
}

pub fn input_len(i: &Input) -> u64 {
    match i {
        Input::Path(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
        Input::Memory { data, .. } => data.len() as u64,
    }
}

/// Runs decode -> enrich -> detect over `inputs` and returns findings and the summary.
pub fn run(
    inputs: &[Input],
    model: &Model,
    rules: &CompiledRules,
    enrich: &EnrichConfig,
    opts: &ScanOptions,
) -> ScanResult {
    run_with_traffic(inputs, model, rules, enrich, opts, false).0
}

/// [`run`], also returning the traffic totals (`src/report/traffic.rs`) when `traffic` is set.
pub fn run_with_traffic(
    inputs: &[Input],
    model: &Model,
    rules: &CompiledRules,
    enrich: &EnrichConfig,
    opts: &ScanOptions,
    traffic: bool,
) -> (ScanResult, Option<Traffic>) {
    let started = Instant::now();
    let names: Vec<String> = inputs.iter().map(Input::name).collect();
    let part = run_partial_with(inputs, 0, model, rules, enrich, opts, traffic);
    let mut summary = part.summary;
    let findings = detect::findings::build(part.aggregates, rules, model, &names);
    summary.findings = findings.len() as u64;
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    (
        ScanResult {
            findings,
            summary,
            baseline: part.baseline,
        },
        part.traffic,
    )
}

/// Aggregates of a set of inputs, before findings are built: several partials (chunks of a
/// replay, batches of a queue) merge with [`detect::merge`] and [`Summary::absorb`].
#[derive(Debug, Default)]
pub struct Partial {
    pub aggregates: std::collections::HashMap<detect::FindingKey, detect::Agg>,
    pub summary: Summary,
    /// Per input: whether it decoded without a file error.
    pub ok: Vec<bool>,
    /// Per input: milliseconds spent decoding, enriching and detecting it.
    pub millis: Vec<u64>,
    /// Traffic totals, when asked for ([`run_partial_with`]).
    pub traffic: Option<Traffic>,
    /// The anomaly stage's observations, when `ScanOptions::baseline` is set.
    pub baseline: Option<crate::baseline::Observations>,
}

impl Summary {
    /// Adds unknown-ENI counters and recomputes `unattributed`.
    pub fn add_unknown(&mut self, list: impl IntoIterator<Item = (String, UnknownAcc)>) {
        for (eni, a) in list {
            self.unknown_enis.entry(eni).or_default().merge(&a);
        }
        let mut u = Unattributed::default();
        for a in self.unknown_enis.values() {
            u.enis += 1;
            u.records += a.records;
            u.egress_bytes_nat_igw += a.egress_bytes_nat_igw;
            let part = if a.could_be_sagemaker {
                &mut u.could_be_sagemaker
            } else {
                &mut u.other
            };
            part.enis += 1;
            part.records += a.records;
            part.egress_bytes_nat_igw += a.egress_bytes_nat_igw;
        }
        let mut top: Vec<(&String, &UnknownAcc)> = self.unknown_enis.iter().collect();
        top.sort_by(|x, y| {
            (y.1.egress_bytes_nat_igw, y.1.records)
                .cmp(&(x.1.egress_bytes_nat_igw, x.1.records))
                .then(x.0.cmp(y.0))
        });
        u.top = top
            .into_iter()
            .take(10)
            .map(|(eni, a)| UnattributedEni {
                eni: eni.clone(),
                subnet_id: a.subnet_id.clone(),
                could_be_sagemaker: a.could_be_sagemaker,
                records: a.records,
                egress_bytes_nat_igw: a.egress_bytes_nat_igw,
            })
            .collect();
        self.unattributed = u;
    }

    /// One WARN line when egress of an ENI that could be SageMaker's left through NAT/IGW
    /// with no source able to say whose it was.
    pub fn warn_unattributed(&self) {
        let u = &self.unattributed;
        if u.could_be_sagemaker.egress_bytes_nat_igw > 0 {
            let top: Vec<&str> = u
                .top
                .iter()
                .filter(|t| t.could_be_sagemaker && t.egress_bytes_nat_igw > 0)
                .map(|t| t.eni.as_str())
                .collect();
            tracing::warn!(
                enis = u.could_be_sagemaker.enis,
                records = u.could_be_sagemaker.records,
                egress_bytes = u.could_be_sagemaker.egress_bytes_nat_igw,
                top = ?top,
                "egress through NAT/IGW from ENIs no source attributes, in subnets SageMaker uses (reported as resource `unknown`); pass --cloudtrail or --ledger to attribute them"
            );
        }
    }

    /// Adds another run's counters (findings are recounted when findings are built).
    pub fn absorb(&mut self, o: Summary) {
        self.add_unknown(o.unknown_enis);
        self.files += o.files;
        self.records += o.records;
        self.nodata += o.nodata;
        self.skipdata += o.skipdata;
        self.skipped += o.skipped;
        self.empty_files += o.empty_files;
        self.failed_files += o.failed_files;
        self.rule_matches += o.rule_matches;
        self.over_limit += o.over_limit;
        self.bytes_read += o.bytes_read;
        self.errors.extend(o.errors);
        let room = 100usize.saturating_sub(self.skipped_samples.len());
        self.skipped_samples
            .extend(o.skipped_samples.into_iter().take(room));
    }
}

/// Decodes, enriches and detects over `inputs`; evidence refers to input `i` as file index
/// `file_base + i`, so chunks of one long run can share a file-name table.
pub fn run_partial(
    inputs: &[Input],
    file_base: u32,
    model: &Model,
    rules: &CompiledRules,
    enrich: &EnrichConfig,
    opts: &ScanOptions,
) -> Partial {
    run_partial_with(inputs, file_base, model, rules, enrich, opts, false)
}

/// One [`Partial`] per input (in input order), scanned `opts.threads` at a time: continuous
/// modes count each object once in their open windows, so they need each object's aggregates
/// apart. Input `i`'s file indices are `i` (the batch's file-name table).
pub fn run_each(
    inputs: &[Input],
    model: &Model,
    rules: &CompiledRules,
    enrich: &EnrichConfig,
    opts: &ScanOptions,
) -> Vec<Partial> {
    let one = ScanOptions {
        threads: 1,
        ..opts.clone()
    };
    let next = AtomicUsize::new(0);
    let threads = opts.threads.clamp(1, inputs.len().max(1));
    let worker = || {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(input) = inputs.get(i) else { break };
            let mut o = one.clone();
            o.baseline = opts
                .baseline
                .as_ref()
                .map(|skip| vec![skip.get(i).copied().unwrap_or(false)]);
            out.push((
                i,
                run_partial(
                    std::slice::from_ref(input),
                    i as u32,
                    model,
                    rules,
                    enrich,
                    &o,
                ),
            ));
        }
        out
    };
    let mut all: Vec<(usize, Partial)> = if threads == 1 {
        worker()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, p)| p).collect()
}

/// [`run_partial`], with the report's traffic totals aggregated beside the detector when
/// `traffic` is set (off otherwise: no cost to scans that do not report).
pub fn run_partial_with(
    inputs: &[Input],
    file_base: u32,
    model: &Model,
    rules: &CompiledRules,
    enrich: &EnrichConfig,
    opts: &ScanOptions,
    traffic: bool,
) -> Partial {
    let names: Vec<String> = inputs.iter().map(Input::name).collect();
    let next = AtomicUsize::new(0);
    let threads = opts.threads.clamp(1, inputs.len().max(1));

    type WorkerOut = (
        Vec<(detect::FindingKey, detect::Agg)>,
        Vec<(usize, FileStats, Option<DecodeError>, u64)>,
        (u64, u64),
        Vec<(String, UnknownAcc)>,
        Vec<(CellKey, Cell)>,
        Option<crate::baseline::Observations>,
    );
    let worker = || -> WorkerOut {
        let mut enricher = Enricher::new(model, enrich);
        let mut detector = Detector::new(rules, opts.detect);
        let mut totals = traffic.then(TrafficAgg::new);
        let mut observer = opts
            .baseline
            .as_ref()
            .map(|_| crate::baseline::Observer::new(model));
        let mut stats_out = Vec::new();
        loop {
            let idx = next.fetch_add(1, Ordering::Relaxed);
            let Some(input) = inputs.get(idx) else { break };
            let _span = tracing::info_span!("file", file = %names[idx]).entered();
            let mut stats = FileStats::new(&opts.decode);
            let file_started = Instant::now();
            let observe = opts
                .baseline
                .as_ref()
                .is_some_and(|skip| !skip.get(idx).copied().unwrap_or(false));
            let result = decode::decode_input(input, &opts.decode, &mut stats, &mut |batch| {
                enricher.enrich(&batch);
                detector.observe(&batch, &enricher.out, model, file_base + idx as u32);
                if let Some(t) = totals.as_mut() {
                    t.observe(&batch, &enricher.out, model);
                }
                if let (true, Some(o)) = (observe, observer.as_mut()) {
                    o.observe(&batch, &enricher.out, model, file_base + idx as u32);
                }
            });
            if stats.skipped > opts.decode.max_skip_warnings as u64 {
                tracing::warn!(
                    file = %names[idx],
                    skipped = stats.skipped,
                    "more malformed records were skipped than logged; all are counted in the summary"
                );
            }
            if let Err(e) = &result {
                tracing::error!(file = %names[idx], "file failed: {e}");
            } else if stats.records == 0 {
                // Usually the wrong field order (`--fields`, `--fields-map`) or not a flow log.
                tracing::warn!(
                    file = %names[idx],
                    skipped = stats.skipped,
                    "file decoded to no record at all{}",
                    if stats.skipped > 0 { ": every row was skipped" } else { "" }
                );
            }
            stats_out.push((
                idx,
                stats,
                result.err(),
                file_started.elapsed().as_millis() as u64,
            ));
        }
        let matches = (detector.matches, detector.over_limit());
        let unknown: Vec<(String, UnknownAcc)> = enricher
            .unknown
            .iter()
            .enumerate()
            .filter(|(_, u)| u.records > 0)
            .filter_map(|(i, u)| {
                let name = enricher.eni_name(model.enis.len() as u32 + i as u32)?;
                Some((
                    name.to_string(),
                    UnknownAcc {
                        could_be_sagemaker: u.could_be_sagemaker,
                        subnet_id: model
                            .subnets
                            .get(u.subnet as usize)
                            .map(|s| s.id.to_string()),
                        records: u.records,
                        egress_records_nat_igw: u.egress_records,
                        egress_bytes_nat_igw: u.egress_bytes,
                    },
                ))
            })
            .collect();
        let cells = totals.map_or_else(Vec::new, |t| t.finish(&enricher));
        (
            detector.finish(&enricher),
            stats_out,
            matches,
            unknown,
            cells,
            observer.map(crate::baseline::Observer::finish),
        )
    };
    let outs: Vec<WorkerOut> = if threads == 1 {
        vec![worker()]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };

    let mut summary = Summary {
        files: inputs.len() as u64,
        bytes_read: inputs.iter().map(input_len).sum(),
        ..Default::default()
    };
    let mut per_file: Vec<(usize, FileStats, Option<DecodeError>, u64)> = Vec::new();
    let mut parts = Vec::new();
    let mut merged_traffic = traffic.then(Traffic::default);
    let mut observations: Option<crate::baseline::Observations> = None;
    for (agg, stats, matches, unknown, cells, obs) in outs {
        if let Some(o) = obs {
            summary.over_limit += o.over_limit;
            match observations.as_mut() {
                Some(m) => m.merge(o),
                None => observations = Some(o),
            }
        }
        if let Some(t) = merged_traffic.as_mut() {
            t.absorb(cells);
        }
        parts.push(agg);
        per_file.extend(stats);
        summary.rule_matches += matches.0;
        summary.over_limit += matches.1;
        summary.add_unknown(unknown);
    }
    per_file.sort_by_key(|(i, ..)| *i);
    let mut ok = vec![true; inputs.len()];
    let mut millis = vec![0; inputs.len()];
    for (idx, st, err, ms) in per_file {
        millis[idx] = ms;
        summary.records += st.records;
        summary.nodata += st.nodata;
        summary.skipdata += st.skipdata;
        summary.skipped += st.skipped;
        if err.is_none() && st.records == 0 {
            summary.empty_files += 1;
        }
        if summary.skipped_samples.len() < 100 {
            summary.skipped_samples.extend(st.samples);
            summary.skipped_samples.truncate(100);
        }
        if let Some(e) = err {
            ok[idx] = false;
            summary.failed_files += 1;
            summary.errors.push(FileFailure {
                file: names[idx].clone(),
                error: e.to_string(),
            });
        }
    }
    Partial {
        aggregates: detect::merge(parts, opts.detect.max_evidence),
        summary,
        ok,
        millis,
        traffic: merged_traffic,
        baseline: observations,
    }
}

/// The built model, compiled rules and enrichment settings a scan runs with.
pub struct Engine {
    pub model: Model,
    pub rules: CompiledRules,
    pub enrich: EnrichConfig,
}

impl Engine {
    pub fn new(
        inventory: &crate::enrich::Inventory,
        rules: &crate::detect::RuleSet,
        scope: crate::detect::Scope,
        default_region: Option<&str>,
    ) -> Engine {
        let model = Model::build(inventory, default_region);
        for w in &model.warnings {
            tracing::warn!("inventory: {w}");
        }
        let compiled = CompiledRules::compile(rules, &model, scope);
        Engine {
            enrich: EnrichConfig {
                internet_services: rules.classify.internet_services.clone(),
                all_enis: compiled.any_scope_all(),
                classify_return: compiled.any_matches_return(),
            },
            rules: compiled,
            model,
        }
    }

    pub fn scan(&self, inputs: &[Input], opts: &ScanOptions) -> ScanResult {
        run(inputs, &self.model, &self.rules, &self.enrich, opts)
    }
}
